import { filter, map, mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, StreamRecord } from "./record.js";

/**
 * Record-level RxJS operators for processors. Each keeps the record envelope (timestamp, headers) and is
 * synchronous, as the runtime requires.
 */

/**
 * An RxJS operator for a processor (see {@link ProcessorFactory}) that changes each record's value and keeps its
 * key, timestamp and headers (the Processor API's counterpart of {@link KStream.mapValues}).
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, mapValues } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
 *   .process("amount-in-cents", () => mapValues((order: { amount: number }) => Math.round(order.amount * 100)));
 * ```
 */
export function mapValues<K, V, VO>(
  fn: (value: V, record: StreamRecord<K, V>) => VO,
): OperatorFunction<StreamRecord<K, V>, Emit<K, VO>> {
  return map((r) => ({ key: r.key, value: fn(r.value, r), timestamp: r.timestamp, headers: r.headers }));
}

/**
 * An RxJS operator for a processor that changes each record's key (e.g. before a repartition) and keeps its value,
 * timestamp and headers (the Processor API's counterpart of {@link KStream.selectKey}).
 *
 * @example
 * ```ts
 * import { selectKey, type ProcessorFactory, type StreamRecord } from "weir";
 *
 * type Order = { customer: string; amount: number };
 * const byCustomer: ProcessorFactory<string, Order, string, Order> = () =>
 *   selectKey((r: StreamRecord<string, Order>) => r.value.customer);
 * ```
 */
export function selectKey<K, V, KO>(
  fn: (record: StreamRecord<K, V>) => KO,
): OperatorFunction<StreamRecord<K, V>, Emit<KO, V>> {
  return map((r) => ({ key: fn(r), value: r.value, timestamp: r.timestamp, headers: r.headers }));
}

/**
 * An RxJS operator for a processor that keeps the records matching the predicate, as {@link Emit} envelopes with
 * their timestamp and headers (the Processor API's counterpart of {@link KStream.filter}).
 *
 * @example
 * ```ts
 * import { filterRecords, type ProcessorFactory, type StreamRecord } from "weir";
 *
 * const nonEmpty: ProcessorFactory<string, string, string, string> = () =>
 *   filterRecords((r: StreamRecord<string, string>) => r.value.length > 0);
 * ```
 */
export function filterRecords<K, V>(
  predicate: (record: StreamRecord<K, V>) => boolean,
): OperatorFunction<StreamRecord<K, V>, Emit<K, V>> {
  return (source) =>
    source.pipe(
      filter(predicate),
      map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers })),
    );
}

/**
 * An RxJS operator for a processor that turns each record into zero or more outputs, emitted synchronously in
 * order; an output without a timestamp or headers takes the input's (the Processor API's counterpart of
 * {@link KStream.flatMap}).
 *
 * @example
 * ```ts
 * import { flatMapRecords, type ProcessorFactory, type StreamRecord } from "weir";
 *
 * type Order = { id: string; items: string[] };
 * const itemsOf: ProcessorFactory<string, Order, string, string> = () =>
 *   flatMapRecords((r: StreamRecord<string, Order>) =>
 *     r.value.items.map((item) => ({ key: item, value: r.value.id })),
 *   );
 * ```
 */
export function flatMapRecords<K, V, KO, VO>(
  fn: (record: StreamRecord<K, V>) => Iterable<Emit<KO, VO>>,
): OperatorFunction<StreamRecord<K, V>, Emit<KO, VO>> {
  return mergeMap((r) => Array.from(fn(r), (e) => ({ timestamp: r.timestamp, headers: r.headers, ...e })));
}
