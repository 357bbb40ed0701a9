import { filter, map, mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, StreamRecord } from "./record.js";

/**
 * Record-level RxJS operators for processors. Each keeps the record envelope (timestamp, headers) and is
 * synchronous, as the runtime requires.
 */

/** Change the value, keep the key. */
export function mapValues<K, V, VO>(
  fn: (value: V, record: StreamRecord<K, V>) => VO,
): OperatorFunction<StreamRecord<K, V>, Emit<K, VO>> {
  return map((r) => ({ key: r.key, value: fn(r.value, r), timestamp: r.timestamp, headers: r.headers }));
}

/** Change the key (e.g. before a repartition), keep the value. */
export function selectKey<K, V, KO>(
  fn: (record: StreamRecord<K, V>) => KO,
): OperatorFunction<StreamRecord<K, V>, Emit<KO, V>> {
  return map((r) => ({ key: fn(r), value: r.value, timestamp: r.timestamp, headers: r.headers }));
}

/** Keep the records matching the predicate, as envelopes. */
export function filterRecords<K, V>(
  predicate: (record: StreamRecord<K, V>) => boolean,
): OperatorFunction<StreamRecord<K, V>, Emit<K, V>> {
  return (source) =>
    source.pipe(
      filter(predicate),
      map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers })),
    );
}

/** Zero or more outputs per input, emitted synchronously in order. */
export function flatMapRecords<K, V, KO, VO>(
  fn: (record: StreamRecord<K, V>) => Iterable<Emit<KO, VO>>,
): OperatorFunction<StreamRecord<K, V>, Emit<KO, VO>> {
  return mergeMap((r) => Array.from(fn(r), (e) => ({ timestamp: r.timestamp, headers: r.headers, ...e })));
}
