/**
 * Windowed aggregation (Kafka Streams' TimeWindows and TimeWindowedKStream): tumbling and hopping windows with a
 * grace period, counted, reduced or aggregated per key and window into a window store, with results emitted on
 * every update (Kafka Streams' default) or once, when the window closes (its `emitStrategy(onWindowClose)` /
 * `suppress(untilWindowCloses)`).
 */
import { merge, mergeMap } from "rxjs";
import type { ProcessorFactory, TopologyBuilder } from "../builder.js";
import { TopologyError } from "../errors.js";
import type { Emit } from "../record.js";
import { Serdes, type Serde } from "../serdes.js";
import { Stores } from "../builder.js";
import type { Change } from "./change.js";
import type { KStream } from "./kstream.js";
import { KTable } from "./ktable.js";
import { emitting } from "./processors.js";
import { requireFunctions, requireMs, requireValueSerde } from "./checks.js";
import { StreamAggregations } from "./stream-aggregations.js";
import { sessionStore, sessionValueSerde, type SessionValue } from "../../state/session-store.js";

/**
 * A key and the window it was aggregated in: [start, end), epoch milliseconds (Kafka Streams' `Windowed<K>`): the
 * key of a windowed aggregation's table. Session windows are [start, end] with both ends inclusive.
 *
 * @example
 * ```ts
 * import { Serdes, TimeWindows, TopologyBuilder, type Windowed } from "weir";
 *
 * const label = (w: Windowed<string>) => `${w.key}@${new Date(w.start).toISOString()}`;
 * const app = new TopologyBuilder("analytics");
 * app
 *   .stream("clicks", { key: Serdes.string(), value: Serdes.json() })
 *   .groupByKey("clicks-by-user")
 *   .windowedBy(TimeWindows.ofSizeWithNoGrace(60_000))
 *   .count("clicks-per-minute")
 *   .toStream("minute-counts")
 *   .map("label", (r) => ({ key: label(r.key), value: r.value }))
 *   .to("clicks-per-minute", { key: Serdes.string(), value: Serdes.json<number | null>() });
 * ```
 */
export interface Windowed<K> {
  /** The record key. */
  readonly key: K;
  /** The window's start, epoch ms (inclusive). */
  readonly start: number;
  /** The window's end, epoch ms (exclusive for time windows, inclusive for sessions). */
  readonly end: number;
}

/**
 * Fixed-size windows aligned to the epoch (Kafka Streams' TimeWindows): tumbling (`advance` = size, the default) or
 * hopping (`advanceBy`). A record at time t belongs to every window with start ≤ t < start + size. A record for a
 * window whose end + grace is at or behind stream time is too late: dropped and counted (`expired-window`).
 *
 * @example
 * ```ts
 * import { TimeWindows } from "weir";
 *
 * const tumbling = TimeWindows.ofSizeWithNoGrace(60_000); // [0, 60000), [60000, 120000), ...
 * const hopping = TimeWindows.ofSizeAndGrace(300_000, 10_000).advanceBy(60_000); // 5-minute windows every minute
 * hopping.windowsFor(420_000); // [180000, 240000, 300000, 360000, 420000]
 * ```
 */
export class TimeWindows {
  private constructor(
    /** The window size, ms. */
    readonly sizeMs: number,
    /** How far each window starts after the previous one, ms (the size, for tumbling windows). */
    readonly advanceMs: number,
    /** How long after its end a window still accepts records, ms of stream time. */
    readonly graceMs: number,
  ) {}

  /** Tumbling windows of `sizeMs`, no grace: a window closes as soon as stream time reaches its end. */
  static ofSizeWithNoGrace(sizeMs: number): TimeWindows {
    return TimeWindows.ofSizeAndGrace(sizeMs, 0);
  }

  /** Tumbling windows of `sizeMs` that accept records up to `graceMs` after their end (in stream time). */
  static ofSizeAndGrace(sizeMs: number, graceMs: number): TimeWindows {
    requireMs(sizeMs, "window size");
    requireMs(graceMs, "window grace", { zero: true });
    return new TimeWindows(sizeMs, sizeMs, graceMs);
  }

  /** Hopping windows: a new window every `advanceMs` (0 < advance ≤ size). */
  advanceBy(advanceMs: number): TimeWindows {
    requireMs(advanceMs, "window advance");
    if (advanceMs > this.sizeMs)
      throw new TopologyError(`window advance ${advanceMs} must not exceed the window size ${this.sizeMs}`);
    return new TimeWindows(this.sizeMs, advanceMs, this.graceMs);
  }

  /** Start times of the windows a record at `timestamp` belongs to, oldest first. */
  windowsFor(timestamp: number): number[] {
    const starts: number[] = [];
    let start =
      Math.floor(Math.max(0, timestamp - this.sizeMs + this.advanceMs) / this.advanceMs) * this.advanceMs;
    for (; start <= timestamp; start += this.advanceMs) starts.push(start);
    return starts;
  }
}

/**
 * When a windowed aggregation forwards its results (Kafka Streams' `EmitStrategy`): on every update, or once when
 * the window closes (Kafka Streams' `suppress(untilWindowCloses)`).
 *
 * @example
 * ```ts
 * import { Serdes, TimeWindows, TopologyBuilder, type EmitStrategy } from "weir";
 *
 * const emit: EmitStrategy = "onWindowClose"; // one final count per window
 * const app = new TopologyBuilder("analytics");
 * app
 *   .stream("clicks", { key: Serdes.string(), value: Serdes.json() })
 *   .groupByKey("clicks-by-user")
 *   .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 5_000))
 *   .count("clicks-per-minute", { emit });
 * ```
 */
export type EmitStrategy = "onUpdate" | "onWindowClose";

/**
 * Options of a windowed aggregation (time, session or sliding windows): its window store, its emit strategy, and
 * for time windows closing idle windows on wall-clock time.
 *
 * @example
 * ```ts
 * import { Serdes, TimeWindows, TopologyBuilder, type WindowedAggregateOptions } from "weir";
 *
 * const options: WindowedAggregateOptions = {
 *   store: "hourly-sales",
 *   emit: "onWindowClose",
 *   closeIdleAfterMs: 60_000,
 * };
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("sales", { key: Serdes.string(), value: Serdes.number() })
 *   .groupByKey("sales-by-store")
 *   .windowedBy(TimeWindows.ofSizeWithNoGrace(3_600_000))
 *   .reduce("hourly-sales", (sum, amount) => sum + amount, options);
 * ```
 */
export interface WindowedAggregateOptions {
  /** The window store. @default the aggregation's name */
  store?: string;
  /**
   * `onUpdate` (default, as Kafka Streams): every update of a window's aggregate. `onWindowClose`: only its final
   * value, once, when stream time reaches the window's end + grace; the window is then deleted from the store, in
   * the same commit as the result, so a restart never emits it again.
   */
  emit?: EmitStrategy;
  /**
   * With `emit: "onWindowClose"` on time windows: when the task has had no record for this long (wall-clock time),
   * close every window it holds and forward their results, instead of waiting for stream time to move (a key or a
   * partition gone quiet would otherwise hold its last windows back indefinitely). The trade-off: windows up to
   * the latest one closed this way are closed for every key, and a record arriving for one of them later goes to
   * the dead-letter topic with `weir.drop.reason: late`. Off by default.
   */
  closeIdleAfterMs?: number;
}

/** Long enough that no window waiting for its close expires first, however far stream time jumps. */
export const UNTIL_EMITTED_MS = 100 * 365 * 24 * 3_600_000;

/** The checks every windowed aggregation makes of its arguments: its store's key serde and the emit strategy. */
export function windowedChecks<K>(
  name: string,
  key: Serde<K> | undefined,
  options: WindowedAggregateOptions,
): { key: Serde<K>; emit: EmitStrategy } {
  if (!key)
    throw new TopologyError(
      `'${name}' needs the key serde of its store; pass { key } to groupByKey or groupBy`,
      {
        node: name,
      },
    );
  const emit = options.emit ?? "onUpdate";
  if (emit !== "onUpdate" && emit !== "onWindowClose")
    throw new TopologyError(`'${name}': emit must be "onUpdate" or "onWindowClose", got ${String(emit)}`, {
      node: name,
    });
  return { key, emit };
}

/** A windowed aggregation's result: read through its store by window, not by key, so it has no value getter. */
export function windowedTable<K, VA>(
  builder: TopologyBuilder,
  name: string,
  store: string,
): KTable<Windowed<K>, VA> {
  return new KTable<Windowed<K>, VA>(builder, name, {
    getter: {
      stores: [store],
      make: () => () => {
        throw new TopologyError(`windowed table '${name}' cannot be joined by key`, { node: name });
      },
    },
  });
}

/**
 * A grouped stream cut into windows (Kafka Streams' TimeWindowedKStream): `count`, `reduce` and `aggregate` per key
 * and window, into a window store; the result is a table keyed by {@link Windowed} keys. Made by
 * {@link KGroupedStream.windowedBy} with {@link TimeWindows}.
 *
 * @example
 * ```ts
 * import { Serdes, TimeWindows, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
 *   .groupByKey("orders-by-customer")
 *   .windowedBy(TimeWindows.ofSizeAndGrace(3_600_000, 60_000))
 *   .aggregate(
 *     "hourly-spend",
 *     { initializer: () => 0, aggregator: (_customer, order, total) => total + order.amount },
 *     { value: Serdes.number(), emit: "onWindowClose" },
 *   );
 * ```
 */
export class TimeWindowedKStream<K, V> extends StreamAggregations<
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
    /** The windows records are cut into. */
    readonly windows: TimeWindows,
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
    const store = options.store ?? name;
    const { sizeMs, graceMs } = this.windows;
    const retentionMs = emit === "onWindowClose" ? UNTIL_EMITTED_MS : sizeMs + graceMs;
    this.builder.store(store, {
      kind: "window",
      keySerde: key,
      valueSerde: value,
      retentionMs,
      changelog: true,
    });
    const idle = options.closeIdleAfterMs;
    if (idle !== undefined) {
      if (emit !== "onWindowClose")
        throw new TopologyError(`'${name}': closeIdleAfterMs needs emit: "onWindowClose"`, { node: name });
      requireMs(idle, "closeIdleAfterMs");
      this.builder.store(`${store}-closed`, Stores.keyValue(Serdes.string(), Serdes.number()));
    }
    this.builder.add({
      type: "processor",
      name,
      parents: [this.stream.node],
      factory: windowAggregate(store, this.windows, emit, first, update, idle) as never,
      stores: idle === undefined ? [store] : [store, `${store}-closed`],
    });
    return windowedTable(this.builder, name, store);
  }
}

/**
 * KStreamWindowAggregate: each record updates the aggregate of every window it belongs to that is not closed
 * (window end + grace > stream time); a record only for closed windows is dropped and counted. With `onWindowClose`
 * nothing is forwarded on update; after each advance of stream time, every window it closed is forwarded once
 * (new value its aggregate, old value null, at the window's last millisecond) and deleted.
 */
export function windowAggregate<K, V, VA>(
  store: string,
  windows: TimeWindows,
  emit: EmitStrategy,
  first: (key: K, value: V) => VA,
  update: (key: K, value: V, aggregate: VA) => VA,
  closeIdleAfterMs?: number,
): ProcessorFactory<K, V, Windowed<K>, Change<VA>> {
  const { sizeMs, advanceMs, graceMs } = windows;
  return (ctx) => {
    const s = ctx.windowStore<K, VA>(store);
    // Idle close: the latest window start closed by it (persisted, so a restart keeps those windows closed).
    const closed =
      closeIdleAfterMs === undefined ? undefined : ctx.keyValueStore<string, number>(`${store}-closed`);
    const horizon = () => closed?.get("horizon") ?? -Infinity;
    let lastRecordAt = ctx.wallClockTime();
    /** No window starts before this (unknown after a restart: the first close check scans). */
    let earliestOpen = -Infinity;
    const final = (e: { key: K; timestamp: number; value: VA }): Emit<Windowed<K>, Change<VA>> => ({
      key: { key: e.key, start: e.timestamp, end: e.timestamp + sizeMs },
      value: { newValue: e.value, oldValue: null },
      timestamp: e.timestamp + sizeMs - 1,
    });
    const records = emitting<K, V, Windowed<K>, Change<VA>>((r) => {
      if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) {
        ctx.dropped(r.key === null || r.key === undefined ? "null-key" : "null-value");
        return [];
      }
      lastRecordAt = ctx.wallClockTime();
      const closeTime = ctx.streamTime() - graceMs;
      const closedUpTo = horizon();
      const out: Array<Emit<Windowed<K>, Change<VA>>> = [];
      let late = true;
      let closedIdle = false;
      for (const start of windows.windowsFor(r.timestamp)) {
        const end = start + sizeMs;
        if (end <= closeTime) continue;
        if (start <= closedUpTo) {
          closedIdle = true;
          continue;
        }
        late = false;
        const old = s.get(r.key, start) ?? null;
        const next = old === null ? first(r.key, r.value) : update(r.key, r.value, old);
        s.put(r.key, next, start);
        if (start < earliestOpen) earliestOpen = start;
        if (emit === "onUpdate")
          out.push({ key: { key: r.key, start, end }, value: { newValue: next, oldValue: old } });
      }
      if (late) {
        if (closedIdle) ctx.dropped("late", { deadLetter: true });
        else ctx.dropped("expired-window");
      }
      return out;
    });
    if (emit === "onUpdate") {
      // Windows past retention are invisible; delete them (through the changelog) once per window size.
      const retention = sizeMs + graceMs;
      const expiry = ctx
        .punctuate("stream-time", sizeMs)
        .pipe(mergeMap((now) => (s.expire(now - retention), [] as Array<Emit<Windowed<K>, Change<VA>>>)));
      return (source) => merge(records(source), expiry);
    }
    const idleCloses =
      closeIdleAfterMs === undefined
        ? []
        : ctx.punctuate("wall-clock", Math.max(1, Math.min(closeIdleAfterMs, 1000))).pipe(
            mergeMap((now) => {
              if (now - lastRecordAt < closeIdleAfterMs) return [];
              lastRecordAt = now;
              const open = [...s.fetchAll(0, Number.MAX_SAFE_INTEGER)];
              if (open.length === 0) return [];
              for (const e of open) s.delete(e.key, e.timestamp);
              let latest = horizon();
              for (const e of open) if (e.timestamp > latest) latest = e.timestamp;
              closed!.put("horizon", latest);
              return open.map(final);
            }),
          );
    const closes = ctx.punctuate("stream-time", 1).pipe(
      mergeMap((now) => {
        const lastStart = now - graceMs - sizeMs; // windows with start + size <= now - grace are closed
        // Scan the store only when a window can have closed since the last scan.
        if (lastStart < 0 || lastStart < earliestOpen) return [];
        const ended = [...s.fetchAll(0, lastStart)];
        // Window starts are multiples of the advance: none closes before stream time reaches the next one's end
        // (fetchAll reads the whole store, so scanning on every record would cost records × store size).
        earliestOpen = (Math.floor(lastStart / advanceMs) + 1) * advanceMs;
        for (const e of ended) s.delete(e.key, e.timestamp);
        return ended.map(final);
      }),
    );
    return (source) => merge(records(source), closes, idleCloses);
  };
}

/**
 * Session windows (Kafka Streams' SessionWindows): a key's records closer than `gap` to each other form one
 * session [first record time, last record time]; a record that falls between two sessions merges them. A record
 * whose session would end before stream time − grace is too late: dropped and counted.
 *
 * @example
 * ```ts
 * import { Serdes, SessionWindows, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("analytics");
 * app
 *   .stream("page-views", { key: Serdes.string(), value: Serdes.json() }) // keyed by user
 *   .groupByKey("views-by-user")
 *   .windowedBy(SessionWindows.ofInactivityGapAndGrace(30 * 60_000, 60_000))
 *   .count("views-per-session");
 * ```
 */
export class SessionWindows {
  private constructor(
    /** The inactivity gap that separates sessions, ms. */
    readonly gapMs: number,
    /** How long after a session's end (in stream time) records may still extend it, ms. */
    readonly graceMs: number,
  ) {}

  /** Sessions separated by `gapMs` of inactivity, no grace. */
  static ofInactivityGapWithNoGrace(gapMs: number): SessionWindows {
    return SessionWindows.ofInactivityGapAndGrace(gapMs, 0);
  }

  /** Sessions separated by `gapMs` of inactivity that accept records up to `graceMs` late (in stream time). */
  static ofInactivityGapAndGrace(gapMs: number, graceMs: number): SessionWindows {
    requireMs(gapMs, "session inactivity gap");
    requireMs(graceMs, "session grace", { zero: true });
    return new SessionWindows(gapMs, graceMs);
  }
}

/**
 * A grouped stream cut into sessions (Kafka Streams' SessionWindowedKStream): `count`, `reduce` and `aggregate`
 * per key and session; merging sessions combine their aggregates. Made by {@link KGroupedStream.windowedBy} with
 * {@link SessionWindows}.
 *
 * @example
 * ```ts
 * import { Serdes, SessionWindows, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("analytics");
 * app
 *   .stream("page-views", { key: Serdes.string(), value: Serdes.json<{ page: string }>() })
 *   .groupByKey("views-by-user")
 *   .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(30 * 60_000))
 *   .aggregate(
 *     "session-pages",
 *     {
 *       initializer: (): string[] => [],
 *       aggregator: (_user, view, pages) => [...pages, view.page],
 *       merger: (_user, a, b) => [...a, ...b],
 *     },
 *     { value: Serdes.json<string[]>(), emit: "onWindowClose" },
 *   );
 * ```
 */
export class SessionWindowedKStream<K, V> {
  /** @internal made by KGroupedStream.windowedBy */
  constructor(
    private readonly builder: TopologyBuilder,
    private readonly stream: KStream<K, V>,
    private readonly key: Serde<K> | undefined,
    /** The session windows records are cut into. */
    readonly windows: SessionWindows,
  ) {}

  /** The number of records per key and session (merged sessions add up). */
  count(name: string, options: WindowedAggregateOptions = {}): KTable<Windowed<K>, number> {
    return this.#aggregate(
      name,
      Serdes.number(),
      () => 0,
      (_k, _v, n) => n + 1,
      (_k, a, b) => a + b,
      options,
    );
  }

  /** Combine a session's values with `reducer`, which also combines two sessions that merge. */
  reduce(
    name: string,
    reducer: (aggregate: V, value: V) => V,
    options: WindowedAggregateOptions & { value?: Serde<V> } = {},
  ): KTable<Windowed<K>, V> {
    requireFunctions(name, { reducer }, ["reducer"]);
    const value = requireValueSerde(name, options.value ?? this.stream.meta.value);
    const none = Symbol("none");
    return this.#aggregate(
      name,
      value,
      () => none as unknown as V,
      (_k, v, a) => (a === (none as unknown) ? v : reducer(a, v)),
      (_k, a, b) => (a === (none as unknown) ? b : b === (none as unknown) ? a : reducer(a, b)),
      options,
    );
  }

  /** Fold a session's values from `initializer()`; `merger` combines the aggregates of two sessions that merge. */
  aggregate<VA>(
    name: string,
    fns: {
      initializer: () => VA;
      aggregator: (key: K, value: V, aggregate: VA) => VA;
      merger: (key: K, left: VA, right: VA) => VA;
    },
    options: WindowedAggregateOptions & { value: Serde<VA> },
  ): KTable<Windowed<K>, VA> {
    requireFunctions(name, fns, ["initializer", "aggregator", "merger"]);
    requireValueSerde(name, options?.value);
    return this.#aggregate(name, options.value, fns.initializer, fns.aggregator, fns.merger, options);
  }

  #aggregate<VA>(
    name: string,
    value: Serde<VA>,
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, left: VA, right: VA) => VA,
    options: WindowedAggregateOptions,
  ): KTable<Windowed<K>, VA> {
    const { key, emit } = windowedChecks(name, this.key, options);
    const store = options.store ?? name;
    this.builder.store(store, {
      kind: "window",
      keySerde: key,
      valueSerde: sessionValueSerde(value),
      retentionMs: UNTIL_EMITTED_MS,
      changelog: true,
    });
    this.builder.add({
      type: "processor",
      name,
      parents: [this.stream.node],
      factory: sessionAggregate(store, this.windows, emit, initializer, aggregator, merger) as never,
      stores: [store],
    });
    return windowedTable(this.builder, name, store);
  }
}

/**
 * KStreamSessionWindowAggregate: a record finds the key's sessions within `gap` of it, merges them with itself into
 * one session (the merger combines their aggregates, then the aggregator adds the record), removes the merged ones
 * and stores the new one. On update it forwards a deletion for each merged session and the new session's value.
 * A session is final once stream time − grace passes its end + gap (no record can extend it any more): then it is
 * removed from the store — forwarded once first, with emit onWindowClose.
 */
export function sessionAggregate<K, V, VA>(
  store: string,
  windows: SessionWindows,
  emit: EmitStrategy,
  initializer: () => VA,
  aggregator: (key: K, value: V, aggregate: VA) => VA,
  merger: (key: K, left: VA, right: VA) => VA,
): ProcessorFactory<K, V, Windowed<K>, Change<VA>> {
  const { gapMs, graceMs } = windows;
  return (ctx) => {
    const sessions = sessionStore(ctx.windowStore<K, SessionValue<VA>>(store));
    /** No session ends before this (unknown after a restart: the first close check scans). */
    let earliestEnd = -Infinity;
    const records = emitting<K, V, Windowed<K>, Change<VA>>((r) => {
      if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) {
        ctx.dropped(r.key === null || r.key === undefined ? "null-key" : "null-value");
        return [];
      }
      const t = r.timestamp;
      const merged = sessions.findSessions(r.key, t - gapMs, t + gapMs);
      const start = Math.min(t, ...merged.map((s) => s.start));
      const end = Math.max(t, ...merged.map((s) => s.end));
      if (end < ctx.streamTime() - graceMs) {
        ctx.dropped("expired-window");
        return [];
      }
      let aggregate = initializer();
      for (const s of merged) aggregate = merger(r.key, aggregate, s.value);
      aggregate = aggregator(r.key, r.value, aggregate);
      const out: Array<Emit<Windowed<K>, Change<VA>>> = [];
      for (const s of merged) {
        sessions.remove(r.key, s.start, s.end);
        if (emit === "onUpdate")
          out.push({
            key: { key: r.key, start: s.start, end: s.end },
            value: { newValue: null, oldValue: s.value },
          });
      }
      sessions.put(r.key, start, end, aggregate);
      if (end < earliestEnd) earliestEnd = end;
      if (emit === "onUpdate")
        out.push({ key: { key: r.key, start, end }, value: { newValue: aggregate, oldValue: null } });
      return out;
    });
    // Closed sessions leave the store (and, with onWindowClose, are forwarded once). Checked as stream time moves.
    const closes = ctx.punctuate("stream-time", emit === "onWindowClose" ? 1 : gapMs).pipe(
      mergeMap((now) => {
        const latestEnd = now - graceMs - gapMs - 1;
        // Scan only when a session can have closed since the last scan.
        if (latestEnd < earliestEnd) return [];
        const closed = sessions.endedBy(latestEnd);
        earliestEnd = latestEnd + 1;
        for (const s of closed) sessions.remove(s.key, s.start, s.end);
        if (emit === "onUpdate") return [];
        return closed.map((s): Emit<Windowed<K>, Change<VA>> => ({
          key: { key: s.key, start: s.start, end: s.end },
          value: { newValue: s.value, oldValue: null },
          timestamp: s.end,
        }));
      }),
    );
    return (source) => merge(records(source), closes);
  };
}
