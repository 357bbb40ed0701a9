/**
 * Sliding windows (Kafka Streams' SlidingWindows, SlidingWindowedKStream and KStreamSlidingWindowAggregate): windows
 * of a fixed length that are not aligned to the epoch but defined by the records. Every window is [start, start + d],
 * both ends inclusive, where d is the time difference: two records of a key are in a common window when their times
 * are at most d apart. Only windows whose contents differ exist: one ending at each record (its "left" window) and
 * one starting just after each record, while another record falls in it (its "right" window).
 */
import { merge, mergeMap } from "rxjs";
import type { ProcessorFactory, TopologyBuilder } from "../builder.js";
import { Stores } from "../builder.js";
import { TopologyError } from "../errors.js";
import type { Emit } from "../record.js";
import { Serdes, type Serde } from "../serdes.js";
import type { WindowStore } from "../../state/types.js";
import type { Change } from "./change.js";
import type { KStream } from "./kstream.js";
import type { KTable } from "./ktable.js";
import { emitting } from "./processors.js";
import { requireMs } from "./checks.js";
import { StreamAggregations } from "./stream-aggregations.js";
import {
  UNTIL_EMITTED_MS,
  windowedChecks,
  windowedTable,
  type EmitStrategy,
  type Windowed,
  type WindowedAggregateOptions,
} from "./windows.js";

/**
 * Sliding windows (Kafka Streams' SlidingWindows): a window holds the records of a key at most `timeDifferenceMs`
 * apart, bounds inclusive. A window is closed when stream time > its end + grace; a record that only belongs to closed
 * windows is dropped and counted (`expired-window`).
 *
 * Example, time difference 5000, records of one key at 8000, 9200 and 12400: the windows are [3000, 8000] {8000},
 * [4200, 9200] {8000, 9200}, [7400, 12400] {8000, 9200, 12400}, [8001, 13001] {9200, 12400} and [9201, 14201] {12400}.
 *
 * @example
 * ```ts
 * import { Serdes, SlidingWindows, TopologyBuilder } from "weir";
 *
 * // Payments of a card within any 10 minutes of each other.
 * const app = new TopologyBuilder("fraud");
 * app
 *   .stream("payments", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() }) // keyed by card
 *   .groupByKey("payments-by-card")
 *   .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10 * 60_000, 30_000))
 *   .count("payments-in-10m");
 * ```
 */
export class SlidingWindows {
  private constructor(
    /** The window length: the largest time difference (inclusive) between two records of one window. */
    readonly timeDifferenceMs: number,
    /** How long after a window's end (in stream time) it still accepts records, ms. */
    readonly graceMs: number,
  ) {}

  /** Windows of `timeDifferenceMs` with no grace: out-of-order records for a window past its end are dropped. */
  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): SlidingWindows {
    return SlidingWindows.ofTimeDifferenceAndGrace(timeDifferenceMs, 0);
  }

  /**
   * Windows of `timeDifferenceMs` (0 or more, as Kafka Streams: 0 groups records of the same millisecond) that accept
   * out-of-order records until stream time passes their end + `graceMs`.
   */
  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): SlidingWindows {
    requireMs(timeDifferenceMs, "sliding window time difference", { zero: true });
    requireMs(graceMs, "sliding window grace", { zero: true });
    return new SlidingWindows(timeDifferenceMs, graceMs);
  }
}

/**
 * What the store keeps for a window (Kafka Streams' ValueAndTimestamp): the aggregate and the largest record time in
 * the window, which tells the algorithm whether the window holds records after a given time.
 */
export interface SlidingWindowValue<VA> {
  value: VA;
  maxTimestamp: number;
}

/** The store value serde: the record time (8 bytes, big-endian) ‖ the aggregate. */
export function slidingValueSerde<VA>(value: Serde<VA>): Serde<SlidingWindowValue<VA>> {
  return {
    name: `sliding(${value.name})`,
    serialize: (v) => {
      const bytes = value.serialize(v.value);
      const out = Buffer.allocUnsafe(8 + bytes.length);
      out.writeBigInt64BE(BigInt(v.maxTimestamp), 0);
      bytes.copy(out, 8);
      return out;
    },
    deserialize: (bytes) => {
      if (bytes.length < 8) throw new RangeError("a sliding window store value needs 8 bytes of record time");
      return { maxTimestamp: Number(bytes.readBigInt64BE(0)), value: value.deserialize(bytes.subarray(8)) };
    },
  };
}

/**
 * How much stream time a sliding window store keeps (Kafka Streams' minimum: 2 × difference + grace, plus 1 ms): a
 * record that can still open a window reads the windows of up to 2 × difference before it to build its own.
 */
const retentionOf = ({ timeDifferenceMs, graceMs }: SlidingWindows): number =>
  2 * timeDifferenceMs + graceMs + 1;

/**
 * A grouped stream cut into sliding windows (Kafka Streams' SlidingWindowedKStream): `count`, `reduce` and
 * `aggregate` per key and window. Made by {@link KGroupedStream.windowedBy} with {@link SlidingWindows};
 * `closeIdleAfterMs` is not supported.
 *
 * @example
 * ```ts
 * import { Serdes, SlidingWindows, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("fraud");
 * app
 *   .stream("payments", { key: Serdes.string(), value: Serdes.number() }) // amount, keyed by card
 *   .groupByKey("payments-by-card")
 *   .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(60_000))
 *   .reduce("spend-per-minute", (sum, amount) => sum + amount, { emit: "onWindowClose" });
 * ```
 */
export class SlidingWindowedKStream<K, V> extends StreamAggregations<
  K,
  V,
  Windowed<K>,
  WindowedAggregateOptions
> {
  /** @internal made by KGroupedStream.windowedBy */
  constructor(
    private readonly builder: TopologyBuilder,
    stream: KStream<K, V>,
    private readonly key: Serde<K> | undefined,
    /** The sliding windows records are cut into. */
    readonly windows: SlidingWindows,
  ) {
    super(stream);
  }

  protected fold<VA>(
    name: string,
    value: Serde<VA>,
    first: (key: K, value: V) => VA,
    update: (key: K, value: V, aggregate: VA) => VA,
    options: WindowedAggregateOptions,
  ): KTable<Windowed<K>, VA> {
    const { key, emit } = windowedChecks(name, this.key, options);
    if (options.closeIdleAfterMs !== undefined)
      throw new TopologyError(
        `'${name}': closeIdleAfterMs is only supported for TimeWindows, not sliding windows`,
        {
          node: name,
        },
      );
    const store = options.store ?? name;
    this.builder.store(store, {
      kind: "window",
      keySerde: key,
      valueSerde: slidingValueSerde(value),
      retentionMs: emit === "onWindowClose" ? UNTIL_EMITTED_MS : retentionOf(this.windows),
      changelog: true,
    });
    const stores = [store];
    if (emit === "onWindowClose") {
      this.builder.store(`${store}-emitted`, Stores.keyValue(Serdes.string(), Serdes.number()));
      stores.push(`${store}-emitted`);
    }
    this.builder.add({
      type: "processor",
      name,
      parents: [this.stream.node],
      factory: slidingWindowAggregate(store, this.windows, emit, first, update) as never,
      stores,
    });
    return windowedTable(this.builder, name, store);
  }
}

/**
 * KStreamSlidingWindowAggregate. For a record at t (stream time st, close time ct = st − grace; a window [s, s + d]
 * is open while s + d ≥ ct):
 *
 * - t + d < ct: every window it could belong to is closed; dropped and counted (`expired-window`).
 * - The key's windows starting in [t − 2d, t + 1] are read. Each one holding t is updated. The window that ends just
 *   before t (the latest starting before t − d) gives the previous record's time p (its largest record time) and,
 *   when p ≥ t − d, the contents of t's left window.
 * - The previous record's right window [p + 1, p + 1 + d] is created (holding t) if it does not exist and t is in it.
 * - t's left window [t − d, t] is created if it does not exist: the previous window's aggregate plus t when p is in
 *   it, else t alone.
 * - t's right window [t + 1, t + 1 + d] is created if it does not exist and records after t fall in it: it gets the
 *   aggregate of the latest window holding t as it was before t (those records exactly).
 * - Records before d (0 ≤ t < d), whose left window would start before 0, all go into the window [0, d] instead, as in
 *   Kafka Streams, and their right windows are created as above.
 *
 * Each stored window keeps its largest record time. On update, each changed window is forwarded (the old aggregate,
 * null for a new window), stamped with that largest record time; windows past 2d + grace + 1 of stream time are
 * deleted. With `onWindowClose`, nothing is forwarded on update; after each advance of stream time, every window it
 * closed (end < st − grace) is forwarded once (old value null, stamped with its largest record time); the greatest
 * window start emitted is kept in the `<store>-emitted` store, in the same commit, so a restart never emits a window
 * twice. Closed windows stay readable (later records build on them) until past 2d + grace + 1, then are deleted.
 */
export function slidingWindowAggregate<K, V, VA>(
  store: string,
  windows: SlidingWindows,
  emit: EmitStrategy,
  first: (key: K, value: V) => VA,
  update: (key: K, value: V, aggregate: VA) => VA,
): ProcessorFactory<K, V, Windowed<K>, Change<VA>> {
  const { timeDifferenceMs: d, graceMs } = windows;
  const retentionMs = retentionOf(windows);
  return (ctx) => {
    const s = ctx.windowStore<K, SlidingWindowValue<VA>>(store);
    const records = emitting<K, V, Windowed<K>, Change<VA>>((r) => {
      if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) {
        ctx.dropped(r.key === null || r.key === undefined ? "null-key" : "null-value");
        return [];
      }
      const closeTime = ctx.streamTime() - graceMs;
      if (r.timestamp + d < closeTime) {
        ctx.dropped("expired-window");
        return [];
      }
      const step = new SlidingStep(s, r.key, r.value, r.timestamp, d, closeTime, first, update, emit);
      if (r.timestamp < d) step.early();
      else step.regular();
      // Some windows held the record but were closed already (e.g. its left window): it counts only if none took it.
      if (!step.applied) ctx.dropped("expired-window");
      return step.out;
    });
    if (emit === "onUpdate") {
      // Windows past retention are invisible; delete them (through the changelog) once per time difference.
      const expiry = ctx
        .punctuate("stream-time", Math.max(1, d))
        .pipe(mergeMap((now) => (s.expire(now - retentionMs), [] as Array<Emit<Windowed<K>, Change<VA>>>)));
      return (source) => merge(records(source), expiry);
    }
    const emitted = ctx.keyValueStore<string, number>(`${store}-emitted`);
    let expiredAt = -Infinity;
    const closes = ctx.punctuate("stream-time", 1).pipe(
      mergeMap((now) => {
        const lastClosed = now - graceMs - d - 1; // windows starting at or before this end before now − grace
        const from = (emitted.get("horizon") ?? -1) + 1;
        if (lastClosed < from) return [];
        const closed = [...s.fetchAll(from, lastClosed)];
        emitted.put("horizon", lastClosed);
        // No record can read windows this old any more; all of them are among those emitted now or before.
        if (now - expiredAt >= Math.max(1, d)) {
          s.expire(now - retentionMs);
          expiredAt = now;
        }
        return closed.map((e): Emit<Windowed<K>, Change<VA>> => ({
          key: { key: e.key, start: e.timestamp, end: e.timestamp + d },
          value: { newValue: e.value.value, oldValue: null },
          timestamp: e.value.maxTimestamp,
        }));
      }),
    );
    return (source) => merge(records(source), closes);
  };
}

/** One record's pass over its key's sliding windows (see slidingWindowAggregate). */
class SlidingStep<K, V, VA> {
  readonly out: Array<Emit<Windowed<K>, Change<VA>>> = [];
  /** Whether the record went into at least one (open) window. */
  applied = false;

  constructor(
    private readonly s: WindowStore<K, SlidingWindowValue<VA>>,
    private readonly key: K,
    private readonly value: V,
    private readonly t: number,
    private readonly d: number,
    private readonly closeTime: number,
    private readonly first: (key: K, value: V) => VA,
    private readonly update: (key: K, value: V, aggregate: VA) => VA,
    private readonly emit: EmitStrategy,
  ) {}

  /** t ≥ d: windows from t − 2d (where the window before t's left window can start) to t + 1 (t's right window). */
  regular(): void {
    const { t, d } = this;
    const starts = new Set<number>();
    let before: SlidingWindowValue<VA> | undefined; // the latest window ending before t
    let after: SlidingWindowValue<VA> | undefined; // the latest window holding t (and later records), as it was
    let previous: number | undefined; // the time of the key's latest record before t
    let leftExists = false;
    let rightExists = false;
    for (const { timestamp: start, value: w } of this.s.fetch(this.key, Math.max(0, t - 2 * d), t + 1)) {
      starts.add(start);
      const end = start + d;
      if (end < t) {
        before = w;
        previous = w.maxTimestamp;
      } else if (end === t) {
        leftExists = true;
        if (w.maxTimestamp < t) previous = w.maxTimestamp;
        this.#add(start, w);
      } else if (start <= t) {
        after = w;
        this.#add(start, w);
      } else {
        rightExists = true; // start === t + 1
      }
    }
    if (previous !== undefined) {
      const start = previous + 1;
      // t is in it when start + d ≥ t; at equality it is t's left window [t − d, t], created just below (Kafka
      // Streams creates and forwards it twice, the same value both times).
      if (!starts.has(start) && start + d > t) this.#create(start, undefined);
    }
    if (!leftExists)
      this.#create(t - d, previous !== undefined && previous >= t - d ? before?.value : undefined);
    if (!rightExists && after !== undefined && after.maxTimestamp > t) this.#copy(t + 1, after);
  }

  /** 0 ≤ t < d: the record goes into [0, d], which stands for the left windows of all records before d. */
  early(): void {
    const { t } = this;
    const starts = new Set<number>();
    let combined: SlidingWindowValue<VA> | undefined;
    let after: SlidingWindowValue<VA> | undefined;
    let previous: number | undefined;
    let rightExists = false;
    for (const { timestamp: start, value: w } of this.s.fetch(this.key, 0, t + 1)) {
      starts.add(start);
      if (start === 0) {
        combined = w;
        // A previous record at or after t already created the right window it would need.
        if (w.maxTimestamp < t) previous = w.maxTimestamp;
      } else if (start <= t) {
        after = w;
        this.#add(start, w);
      } else {
        rightExists = true; // start === t + 1
      }
    }
    // No window holds t but [0, d]: records after t in it are exactly those of t's right window.
    if (after === undefined && combined !== undefined && combined.maxTimestamp > t) after = combined;
    if (!rightExists && after !== undefined && after.maxTimestamp > t) this.#copy(t + 1, after);
    if (previous !== undefined && !starts.has(previous + 1)) this.#create(previous + 1, undefined);
    if (combined === undefined) this.#create(0, undefined);
    else this.#add(0, combined);
  }

  /** Add the record to an existing window, if it is open. */
  #add(start: number, w: SlidingWindowValue<VA>): void {
    if (start + this.d < this.closeTime) return;
    this.#write(start, this.update(this.key, this.value, w.value), Math.max(this.t, w.maxTimestamp), w);
  }

  /** A new window holding the record: alone, or added to `base`, the aggregate of the window's earlier records. */
  #create(start: number, base: VA | undefined): void {
    if (start + this.d < this.closeTime) return;
    const aggregate =
      base === undefined ? this.first(this.key, this.value) : this.update(this.key, this.value, base);
    this.#write(start, aggregate, this.t, undefined);
  }

  /** t's right window: a copy of the records after t (not t itself). Always open: it ends after t + d ≥ close time. */
  #copy(start: number, w: SlidingWindowValue<VA>): void {
    this.s.put(this.key, w, start);
    this.#forward(start, w.value, w.maxTimestamp, undefined);
  }

  #write(start: number, aggregate: VA, maxTimestamp: number, old: SlidingWindowValue<VA> | undefined): void {
    this.s.put(this.key, { value: aggregate, maxTimestamp }, start);
    this.applied = true;
    this.#forward(start, aggregate, maxTimestamp, old);
  }

  #forward(
    start: number,
    aggregate: VA,
    maxTimestamp: number,
    old: SlidingWindowValue<VA> | undefined,
  ): void {
    if (this.emit !== "onUpdate") return;
    this.out.push({
      key: { key: this.key, start, end: start + this.d },
      value: { newValue: aggregate, oldValue: old === undefined ? null : old.value },
      timestamp: maxTimestamp,
    });
  }
}
