import type { Observable, OperatorFunction } from "rxjs";
import type { KeyValueStore, WindowStore } from "../state/types.js";
import { TopologyError } from "./errors.js";
import { Topology, repartitionTopic } from "./topology.js";
import { KStream } from "./dsl/kstream.js";
import { GlobalKTable, KTable } from "./dsl/ktable.js";
import { storeGetter, tableSource } from "./dsl/processors.js";
import type { Emit, StreamRecord } from "./record.js";
import type { Serde } from "./serdes.js";

/**
 * What a processor is given when its pipeline is built for a task (Kafka Streams' `ProcessorContext`): the task's
 * identity, its state stores, stream and wall-clock time, punctuation, the record being processed, application
 * counters and a way to report dropped records.
 *
 * @example
 * ```ts
 * import { map } from "rxjs";
 * import type { ProcessorFactory } from "weir";
 *
 * // Count orders per customer in the store "order-counts" (declared with builder.store and listed in process()).
 * const countOrders: ProcessorFactory<string, { amount: number }, string, number> = (ctx) => {
 *   const counts = ctx.keyValueStore<string, number>("order-counts");
 *   const byStatus = ctx.counter("shop_orders_total", "Orders seen", ["partition"]);
 *   return map((r) => {
 *     const n = (counts.get(r.key) ?? 0) + 1;
 *     counts.put(r.key, n);
 *     byStatus.inc({ partition: String(ctx.partition) });
 *     return { key: r.key, value: n };
 *   });
 * };
 * ```
 */
export interface ProcessorContext {
  /** The application id (the consumer group, and the prefix of internal topics). */
  readonly appId: string;
  /** `<subtopology>_<partition>`, as Kafka Streams' task ids. */
  readonly taskId: string;
  /** The partition this task processes (of each of its sub-topology's source topics). */
  readonly partition: number;
  /** This processor's node name. */
  readonly processor: string;
  /**
   * The task's key-value store `name` (it must be declared with {@link TopologyBuilder.store} and listed in the
   * processor's `stores`). Writes are buffered and committed with the task's Kafka transaction.
   */
  keyValueStore<K, V>(name: string): KeyValueStore<K, V>;
  /** The task's window store `name` (declared and listed as for {@link ProcessorContext.keyValueStore}). */
  windowStore<K, V>(name: string): WindowStore<K, V>;
  /** The largest record timestamp this task has seen (stream time). -1 before the first record. */
  streamTime(): number;
  /** Wall-clock time as the runtime sees it (the test driver controls it). */
  wallClockTime(): number;
  /**
   * Punctuation: emits the current time each time stream time (or wall-clock time) has advanced by at least
   * `intervalMs` since the last emission. Emissions happen synchronously inside the runtime's processing, so what a
   * processor emits in response is committed with the records that advanced the clock.
   */
  punctuate(kind: PunctuationKind, intervalMs: number): Observable<number>;
  /** The input record currently being processed (undefined during punctuation). */
  currentRecord(): StreamRecord | undefined;
  /**
   * A counter of the application's own, e.g. orders by final status: a Prometheus counter on the worker's registry
   * (created on first use, shared by every task; keep label values bounded), a no-op in the test driver. The name
   * and labels are the application's; the framework knows none of them.
   */
  counter(name: string, help: string, labelNames?: readonly string[]): AppCounter;
  /**
   * Count a record this processor discards on purpose (a null key in an aggregation, a late record) in
   * `weir_dropped_records_total{reason,node}`; the test driver lists them (`droppedRecords()`). `deadLetter`: true
   * sends the current input record to the dead-letter topic too, false never does (the drop is not that record's,
   * e.g. a buffered record that a later one closed), unset follows the worker's `droppedRecords` option.
   */
  dropped(reason: string, options?: { deadLetter?: boolean }): void;
}

/**
 * The clock a punctuation follows (Kafka Streams' `PunctuationType`): `stream-time`, the largest record timestamp
 * the task has seen, moved only by records; `wall-clock`, system time, checked as the worker's loop turns.
 *
 * @example
 * ```ts
 * import { mergeMap } from "rxjs";
 * import type { ProcessorFactory, PunctuationKind } from "weir";
 *
 * const kind: PunctuationKind = "wall-clock";
 * const heartbeat: ProcessorFactory<string, string, string, number> = (ctx) => () =>
 *   ctx.punctuate(kind, 60_000).pipe(mergeMap((now) => [{ key: "heartbeat", value: now }]));
 * ```
 */
export type PunctuationKind = "stream-time" | "wall-clock";

/**
 * An application counter (see {@link ProcessorContext.counter}): a Prometheus counter on the worker's registry.
 *
 * @example
 * ```ts
 * import { map } from "rxjs";
 * import type { ProcessorFactory } from "weir";
 *
 * const countStatuses: ProcessorFactory<string, string, string, string> = (ctx) => {
 *   const statuses = ctx.counter("shop_order_status_total", "Final order statuses", ["status"]);
 *   return map((r) => (statuses.inc({ status: r.value }), { key: r.key, value: r.value }));
 * };
 * ```
 */
export interface AppCounter {
  /** Add `value` (default 1) to the series with these label values. */
  inc(labels?: Readonly<Record<string, string>>, value?: number): void;
}

/**
 * A processor: a pure factory returning an RxJS operator over record envelopes. Per-subscription state lives in
 * the closure; durable state lives in stores. Operators must be synchronous (map, filter, mergeMap over arrays,
 * scan, ...): the runtime attributes every output to the input record being processed. The Processor API's
 * counterpart of Kafka Streams' `ProcessorSupplier`; pass it to {@link KStream.process}.
 *
 * @example
 * ```ts
 * import { filter, map, pipe } from "rxjs";
 * import { Serdes, Stores, TopologyBuilder, type ProcessorFactory } from "weir";
 *
 * // Forward a reading only when it changed since the last one of its sensor.
 * const changesOnly: ProcessorFactory<string, number, string, number> = (ctx) => {
 *   const last = ctx.keyValueStore<string, number>("last-reading");
 *   return pipe(
 *     filter((r) => last.get(r.key) !== r.value),
 *     map((r) => (last.put(r.key, r.value), { key: r.key, value: r.value })),
 *   );
 * };
 *
 * const app = new TopologyBuilder("sensors");
 * app.store("last-reading", Stores.keyValue(Serdes.string(), Serdes.number()));
 * app
 *   .stream("readings", { key: Serdes.string(), value: Serdes.number() })
 *   .process("changes-only", changesOnly, { stores: ["last-reading"] })
 *   .to("reading-changes", { key: Serdes.string(), value: Serdes.number() });
 * ```
 */
export type ProcessorFactory<KI, VI, KO, VO> = (
  context: ProcessorContext,
) => OperatorFunction<StreamRecord<KI, VI>, Emit<KO, VO>>;

/**
 * A state store's definition (Kafka Streams' `StoreBuilder`): its kind, serdes, retention or TTL, and whether a
 * changelog topic backs it. Make one with {@link Stores} and declare it with {@link TopologyBuilder.store}.
 *
 * @example
 * ```ts
 * import { Serdes, Stores, type StoreDefinition } from "weir";
 *
 * const sessions: StoreDefinition<string, number> = Stores.keyValue(Serdes.string(), Serdes.number(), {
 *   ttlMs: 30 * 60_000,
 * });
 * console.log(sessions.kind, sessions.changelog); // "key-value" true
 * ```
 */
export interface StoreDefinition<K = unknown, V = unknown> {
  /** A key-value store or a window store (values by key and timestamp). */
  readonly kind: "key-value" | "window";
  /** The serde of the store's keys. */
  readonly keySerde: Serde<K>;
  /** The serde of the store's values. */
  readonly valueSerde: Serde<V>;
  /** Window stores: how much stream time of entries is kept behind the newest. */
  readonly retentionMs?: number;
  /** Back the store with a changelog topic (default true). Without one, state is lost with the machine. */
  readonly changelog: boolean;
  /**
   * Key-value stores only: an entry is deleted once stream time has passed its last write by this much. Deletions go
   * through the write buffer and the changelog like any other, so a restored store equals the live one.
   */
  readonly ttlMs?: number;
  /**
   * The DSL node whose table this store materializes: an entry that expires (ttlMs) is forwarded from it as a
   * deletion. Absent for stores of the Processor API, whose expiry is silent.
   */
  readonly changeNode?: string;
  /** A global table's store: filled from every partition of this topic on every worker, read-only to processors. */
  readonly globalTopic?: string;
  /**
   * A table's store whose changelog is the table's source topic (`builder.table(topic, { sourceChangelog: true })`):
   * no changelog topic of its own; restored from the source topic up to the group's committed offset.
   */
  readonly sourceTopic?: string;
}

/**
 * Factories of {@link StoreDefinition}s (Kafka Streams' `Stores`): key-value stores and window stores, changelogged
 * by default. Declare the result with {@link TopologyBuilder.store}.
 *
 * @example
 * ```ts
 * import { Serdes, Stores, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app.store("reservations", Stores.keyValue(Serdes.string(), Serdes.int32()));
 * app.store("recent-logins", Stores.window(Serdes.string(), Serdes.string(), { retentionMs: 3_600_000 }));
 * app.store("scratch", Stores.keyValue(Serdes.string(), Serdes.json(), { changelog: false }));
 * ```
 */
export const Stores = {
  /**
   * A key-value store. `ttlMs`: entries expire that long (in stream time) after their last write — a feature Kafka
   * Streams does not have; expiry is a delete through the changelog, decided when a record moves stream time.
   * `changelog: false` keeps the store local only (lost with the machine). Throws a TopologyError for a `ttlMs`
   * that is not a positive integer.
   */
  keyValue<K, V>(
    key: Serde<K>,
    value: Serde<V>,
    options: { changelog?: boolean; ttlMs?: number } = {},
  ): StoreDefinition<K, V> {
    if (options.ttlMs !== undefined && !(Number.isSafeInteger(options.ttlMs) && options.ttlMs > 0))
      throw new TopologyError(
        `a key-value store's ttlMs must be a positive integer, got ${String(options.ttlMs)}`,
      );
    return {
      kind: "key-value",
      keySerde: key,
      valueSerde: value,
      changelog: options.changelog ?? true,
      ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
    };
  },
  /**
   * A window store: values by (key, timestamp), entries kept for `retentionMs` of stream time behind the newest.
   * Its changelog is compacted and deleted after the retention plus a day.
   */
  window<K, V>(
    key: Serde<K>,
    value: Serde<V>,
    options: { retentionMs: number; changelog?: boolean },
  ): StoreDefinition<K, V> {
    if (!(options.retentionMs > 0)) throw new TopologyError("a window store needs retentionMs > 0");
    return {
      kind: "window",
      keySerde: key,
      valueSerde: value,
      retentionMs: options.retentionMs,
      changelog: options.changelog ?? true,
    };
  },
} as const;

/**
 * Where a source starts reading a partition for which the application's group has **no committed offset at all**
 * (Kafka Streams' `Consumed.withOffsetResetPolicy`): its first record (`earliest`), the records written from now
 * on (`latest`), or not at all — the worker stops and says so (`none`). A committed offset that is no longer in the
 * partition (deleted by retention, or a recreated topic) is never reset silently: the worker logs it as an error,
 * counts it, and applies the same policy.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, type OffsetResetPolicy } from "weir";
 *
 * const offsetReset: OffsetResetPolicy = "latest"; // only clicks from now on
 * const app = new TopologyBuilder("live-dashboard");
 * app.stream("clicks", { key: Serdes.string(), value: Serdes.json(), offsetReset });
 * ```
 */
export type OffsetResetPolicy = "earliest" | "latest" | "none";

/**
 * A source node of a built topology: reads one topic (Kafka Streams' `SourceNode`), made by
 * {@link TopologyBuilder.stream}, {@link TopologyBuilder.table} and repartitions.
 *
 * @example
 * ```ts
 * import type { Topology } from "weir";
 *
 * declare const topology: Topology;
 * const source = topology.node("orders-source");
 * if (source?.type === "source") console.log(source.topic, source.offsetReset, source.keySerde.name);
 * ```
 */
export interface SourceNode {
  /** The node's kind. */
  readonly type: "source";
  /** The node's name, unique in the topology. */
  readonly name: string;
  /** The topic it reads. */
  readonly topic: string;
  /** The serde its records' keys are decoded with. */
  readonly keySerde: Serde<unknown>;
  /** The serde its records' values are decoded with. */
  readonly valueSerde: Serde<unknown>;
  /** Whether it reads an internal (repartition) topic. */
  readonly internal: boolean;
  /** Where it starts without a committed offset. */
  readonly offsetReset: OffsetResetPolicy;
  /** Event time of a record (default: the record's Kafka timestamp). */
  readonly timestampExtractor?: TimestampExtractor<unknown, unknown>;
  /** Records stamped further ahead of wall-clock time are dead-lettered (Infinity: no bound). */
  readonly maxFutureSkewMs: number;
  /** Configs `weir topics create` gives the topic when it creates it. */
  readonly topicConfig?: Readonly<Record<string, string>>;
}

/**
 * Event time from a decoded record (Kafka Streams' TimestampExtractor): e.g. `(r) => r.value.createdAt`; the
 * record's `timestamp` is its Kafka timestamp. A result that is not a non-negative integer, or a throw, sends the
 * record to the dead-letter topic.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, type TimestampExtractor } from "weir";
 *
 * type Order = { id: string; createdAt: string };
 * const createdAt: TimestampExtractor<string, Order> = (r) => Date.parse(r.value.createdAt);
 *
 * const app = new TopologyBuilder("shop");
 * app.stream("orders", { key: Serdes.string(), value: Serdes.json<Order>(), timestampExtractor: createdAt });
 * ```
 */
export type TimestampExtractor<K, V> = (record: StreamRecord<K, V>) => number;

/**
 * How far ahead of wall-clock time an event time may be before the record is refused (dead-lettered as an
 * InvalidTimestampError, its offset passed, stream time and stores untouched): one record from a clock set to the
 * next year would otherwise move stream time a year ahead and make every later record "late". One hour covers clock
 * drift and time zones mistaken for UTC; pass `maxFutureSkewMs: Infinity` to turn it off.
 */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 3_600_000;

/**
 * How {@link TopologyBuilder.stream} and {@link TopologyBuilder.table} read a topic (Kafka Streams' `Consumed`):
 * the serdes, the node name, the offset reset policy, event time and topic configs.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, type SourceOptions } from "weir";
 *
 * type Click = { page: string; at: number };
 * const clicks: SourceOptions<string, Click> = {
 *   key: Serdes.string(),
 *   value: Serdes.json<Click>(),
 *   name: "clicks-in",
 *   offsetReset: "latest",
 *   timestamp: (r) => r.value.at,
 *   maxFutureSkewMs: 60_000,
 * };
 * new TopologyBuilder("analytics").stream("clicks", clicks);
 * ```
 */
export interface SourceOptions<K, V> {
  /** The serde of the topic's keys. */
  key: Serde<K>;
  /** The serde of the topic's values. */
  value: Serde<V>;
  /** Source node name. @default `<topic>-source` */
  name?: string;
  /** Where to start without a committed offset (Kafka Streams' Consumed policy). @default "earliest" */
  offsetReset?: OffsetResetPolicy;
  /** Event time from the record. @default the record's Kafka timestamp */
  timestampExtractor?: TimestampExtractor<K, V>;
  /**
   * Records whose event time is further ahead of wall-clock time are dead-lettered (an InvalidTimestampError).
   * @default 3600000 (one hour); Infinity turns the guard off
   */
  maxFutureSkewMs?: number;
  /** Event time from a field of the record: the same as `timestampExtractor`. */
  timestamp?: TimestampExtractor<K, V>;
  /** Topic configs `weir topics create` gives this topic when it creates it (existing topics are not altered). */
  topicConfig?: Record<string, string>;
}
/**
 * A processor node of a built topology: a {@link ProcessorFactory} (or an asynchronous function) and the stores it
 * uses. Every DSL method that transforms records adds one.
 *
 * @example
 * ```ts
 * import type { Topology } from "weir";
 *
 * declare const topology: Topology;
 * for (const s of topology.subtopologies)
 *   for (const n of s.nodes) if (n.type === "processor") console.log(n.name, n.stores, n.async ? "async" : "sync");
 * ```
 */
export interface ProcessorNode {
  /** The node's kind. */
  readonly type: "processor";
  /** The node's name, unique in the topology. */
  readonly name: string;
  /** The nodes whose outputs it processes. */
  readonly parents: readonly string[];
  /** Builds the node's RxJS operator for a task. */
  readonly factory: ProcessorFactory<unknown, unknown, unknown, unknown>;
  /** The stores it uses. */
  readonly stores: readonly string[];
  /** An asynchronous processor (KStream.processAsync): its function replaces the factory. */
  readonly async?: AsyncProcessorSpec;
}

/**
 * In which order an asynchronous processor's calls run and emit:
 * - `per-key`: one call at a time per key, each key's outputs in offset order; different keys overlap;
 * - `per-partition`: one call at a time per task (no overlap): the order of the input;
 * - `in-order`: calls overlap freely, and their outputs go downstream in the input's order (a slow call holds back
 *   the results after it): the order of the input at the throughput of overlapping calls — what a later stage that
 *   needs its input in time order (a windowed join, whose grace a reordering can exceed) wants;
 * - `none`: calls overlap freely and emit as they complete.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, type AsyncOrdering } from "weir";
 *
 * const ordering: AsyncOrdering = "none"; // enrichment calls are independent of each other
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ customer: string }>() })
 *   .processAsync("enrich", async (r) => ({ key: r.key, value: { ...r.value, enriched: true } }), { ordering });
 * ```
 */
export type AsyncOrdering = "per-key" | "per-partition" | "in-order" | "none";

/**
 * What an asynchronous processor's function ({@link AsyncProcessorFunction}) is given besides the record: an abort
 * signal, the attempt number and the task's identity.
 *
 * @example
 * ```ts
 * import type { AsyncProcessorFunction } from "weir";
 *
 * const score: AsyncProcessorFunction<string, { customer: string }, string, number> = async (r, ctx) => {
 *   const res = await fetch(`http://risk:8080/risk?customer=${r.value.customer}`, { signal: ctx.signal });
 *   if (!res.ok) throw new Error(`risk service: ${res.status} (attempt ${ctx.attempt}, task ${ctx.taskId})`);
 *   return { key: r.key, value: ((await res.json()) as { score: number }).score };
 * };
 * ```
 */
export interface AsyncCallContext {
  /** Aborted when the call times out or its task closes (a rebalance, an abort): pass it to fetch and friends. */
  readonly signal: AbortSignal;
  /** 1 for the first call of a record, 2 for its first retry, … */
  readonly attempt: number;
  /** The task's id, `<subtopology>_<partition>`. */
  readonly taskId: string;
  /** The task's partition. */
  readonly partition: number;
  /** The asynchronous processor's node name. */
  readonly processor: string;
}

/**
 * Zero or more outputs of an asynchronous call: one record, a list, or nothing (null/undefined).
 *
 * @example
 * ```ts
 * import type { AsyncResult } from "weir";
 *
 * function outputs(orderId: string, lines: string[]): AsyncResult<string, string> {
 *   if (lines.length === 0) return null; // nothing to emit
 *   return lines.map((line) => ({ key: orderId, value: line }));
 * }
 * ```
 */
export type AsyncResult<K, V> = Emit<K, V> | readonly Emit<K, V>[] | null | undefined | void;

/**
 * The function of an asynchronous processor ({@link KStream.processAsync}): called once per record (again on a
 * retry), it resolves to the record's outputs. Kafka Streams has no counterpart; it is what one would otherwise
 * build with a blocking call inside a Processor.
 *
 * @example
 * ```ts
 * import type { AsyncProcessorFunction } from "weir";
 *
 * type Order = { customer: string; amount: number };
 * const checkRisk: AsyncProcessorFunction<string, Order, string, Order & { score: number }> = async (r, ctx) => {
 *   const url = `http://risk:8080/risk?customer=${r.value.customer}&amount=${r.value.amount}`;
 *   const { score } = (await (await fetch(url, { signal: ctx.signal })).json()) as { score: number };
 *   return { key: r.key, value: { ...r.value, score } };
 * };
 * ```
 */
export type AsyncProcessorFunction<KI, VI, KO, VO> = (
  record: StreamRecord<KI, VI>,
  context: AsyncCallContext,
) => Promise<AsyncResult<KO, VO>>;

/**
 * Options of {@link KStream.processAsync}: how many calls run at once per task, in which order, how long one may
 * take, and how failures are retried.
 *
 * @example
 * ```ts
 * import type { AsyncProcessorOptions } from "weir";
 *
 * const options: AsyncProcessorOptions = {
 *   concurrency: 32,
 *   ordering: "per-key",
 *   timeoutMs: 2000,
 *   retry: { attempts: 8, backoffMs: 100, when: (e) => !(e instanceof TypeError) },
 * };
 * ```
 */
export interface AsyncProcessorOptions {
  /** Calls in flight per task; a task with this many records in the processor takes no new ones. @default 16 */
  concurrency?: number;
  /** In which order calls run and emit (see {@link AsyncOrdering}). @default "per-key" */
  ordering?: AsyncOrdering;
  /** One call's time limit; a call past it fails (and is retried, if attempts remain). @default 30000 */
  timeoutMs?: number;
  /**
   * Calls per record before it goes to the dead-letter topic (the processing handler), the first back-off between
   * them (doubled each time), and which failures are worth another call (`when`, given the error: a timeout is an
   * error whose message says "timed out after N ms"). weir's own ConfigError is never retried.
   * @default { attempts: 1, backoffMs: 100, when: () => true }
   */
  retry?: {
    /** Calls per record, the first included. @default 1 */
    attempts?: number;
    /** The first back-off between calls, doubled each time. @default 100 */
    backoffMs?: number;
    /** Whether a failure is worth another call. @default () => true */
    when?: (error: unknown) => boolean;
  };
}

/**
 * An asynchronous processor as a built topology holds it: {@link AsyncProcessorOptions} with their defaults
 * applied, and the function.
 *
 * @example
 * ```ts
 * import type { Topology } from "weir";
 *
 * declare const topology: Topology;
 * const node = topology.node("risk-check");
 * if (node?.type === "processor" && node.async)
 *   console.log(`${node.async.concurrency} calls, ${node.async.ordering}, ${node.async.attempts} attempts`);
 * ```
 */
export interface AsyncProcessorSpec {
  /** The function called per record. */
  readonly fn: AsyncProcessorFunction<unknown, unknown, unknown, unknown>;
  /** Calls in flight per task. */
  readonly concurrency: number;
  /** In which order calls run and emit. */
  readonly ordering: AsyncOrdering;
  /** One call's time limit, ms. */
  readonly timeoutMs: number;
  /** Calls per record, the first included. */
  readonly attempts: number;
  /** The first back-off between calls, ms (doubled each time). */
  readonly backoffMs: number;
  /** Whether a failure is worth another call. */
  readonly retryWhen: (error: unknown) => boolean;
}

/**
 * A branch node of a built topology: passes on the records its predicate accepts. {@link KStream.filter} adds one,
 * and {@link KStream.branch} one per branch.
 *
 * @example
 * ```ts
 * import type { StreamRecord, Topology } from "weir";
 *
 * declare const topology: Topology;
 * declare const record: StreamRecord;
 * const node = topology.node("large-orders");
 * if (node?.type === "branch") console.log(node.predicate(record));
 * ```
 */
export interface BranchNode {
  /** The node's kind. */
  readonly type: "branch";
  /** The node's name, unique in the topology. */
  readonly name: string;
  /** The nodes whose outputs it filters. */
  readonly parents: readonly string[];
  /** First matching predicate wins; a record matching none is dropped. */
  readonly predicate: (record: StreamRecord) => boolean;
}
/**
 * A merge node of a built topology: the records of all its parents, in processing order ({@link KStream.merge},
 * and the two sides of a join).
 *
 * @example
 * ```ts
 * import type { Topology } from "weir";
 *
 * declare const topology: Topology;
 * const node = topology.node("all-events");
 * if (node?.type === "merge") console.log(`merges ${node.parents.join(", ")}`);
 * ```
 */
export interface MergeNode {
  /** The node's kind. */
  readonly type: "merge";
  /** The node's name, unique in the topology. */
  readonly name: string;
  /** The nodes whose outputs it merges. */
  readonly parents: readonly string[];
}

/**
 * A sink node of a built topology: writes records to a topic (Kafka Streams' `SinkNode`), made by
 * {@link KStream.to} and repartitions.
 *
 * @example
 * ```ts
 * import type { Topology } from "weir";
 *
 * declare const topology: Topology;
 * for (const s of topology.subtopologies)
 *   for (const n of s.nodes) if (n.type === "sink" && !n.internal) console.log(`${n.name} → ${n.topic}`);
 * ```
 */
export interface SinkNode {
  /** The node's kind. */
  readonly type: "sink";
  /** The node's name, unique in the topology. */
  readonly name: string;
  /** The nodes whose outputs it writes. */
  readonly parents: readonly string[];
  /** The topic it writes. */
  readonly topic: string;
  /** The serde its records' keys are written with. */
  readonly keySerde: Serde<unknown>;
  /** The serde its records' values are written with. */
  readonly valueSerde: Serde<unknown>;
  /** Whether it writes an internal (repartition) topic. */
  readonly internal: boolean;
  /** An intended loop back to an upstream sub-topology (e.g. a saga's compensation); exempt from the cycle check. */
  readonly feedback: boolean;
  /** Topic configs the output topic should be created with (e.g. `cleanup.policy: compact`). */
  readonly topicConfig?: Readonly<Record<string, string>>;
}

/**
 * A node of a built topology, told apart by `type`.
 *
 * @example
 * ```ts
 * import type { TopologyNode } from "weir";
 *
 * const label = (n: TopologyNode): string =>
 *   n.type === "source" || n.type === "sink" ? `${n.type} ${n.name} (${n.topic})` : `${n.type} ${n.name}`;
 * ```
 */
export type TopologyNode = SourceNode | ProcessorNode | BranchNode | MergeNode | SinkNode;

/**
 * A sub-topology (Kafka Streams' sub-topology, or node group): nodes connected by parent edges or shared stores.
 * It is the unit of partitioning: task `<id>_<p>` runs it for partition p of each of its source topics.
 *
 * @example
 * ```ts
 * import type { Topology } from "weir";
 *
 * declare const topology: Topology;
 * for (const s of topology.subtopologies)
 *   console.log(`sub-topology ${s.id}: ${s.sourceTopics} → ${s.sinkTopics}, stores ${s.stores}`);
 * ```
 */
export interface SubTopology {
  /** Its id, 0, 1, …; the first part of its task ids. */
  readonly id: number;
  /** Nodes in creation order (parents before children). */
  readonly nodes: readonly TopologyNode[];
  /** The topics it reads (inputs and internal topics). */
  readonly sourceTopics: readonly string[];
  /** The topics it writes. */
  readonly sinkTopics: readonly string[];
  /** The stores its processors use (global tables' stores excluded). */
  readonly stores: readonly string[];
}

/**
 * A topic the application owns (Kafka Streams' internal topics): a repartition topic `<app>-<name>-repartition`
 * or a store's changelog `<app>-<store>-changelog`, with the configs weir creates it with.
 *
 * @example
 * ```ts
 * import type { Topology } from "weir";
 *
 * declare const topology: Topology;
 * for (const t of topology.internalTopics) console.log(t.kind, t.name, t.config["cleanup.policy"]);
 * ```
 */
export interface InternalTopic {
  /** The topic's name. */
  readonly name: string;
  /** What it is for. */
  readonly kind: "repartition" | "changelog";
  /** For changelogs: the store; for repartitions: the node that writes it. */
  readonly owner: string;
  /** The sub-topology whose partition count this topic must have. */
  readonly partitionsOf: number;
  /** The topic configs it is created with (`cleanup.policy`, `retention.ms`). */
  readonly config: Readonly<Record<string, string>>;
}

export { Topology, changelogTopic, deadLetterTopic, repartitionTopic } from "./topology.js";
export { KStream } from "./dsl/kstream.js";
export { KTable, GlobalKTable } from "./dsl/ktable.js";
export { KGroupedStream, KGroupedTable } from "./dsl/grouped.js";
export {
  TimeWindows,
  TimeWindowedKStream,
  SessionWindows,
  SessionWindowedKStream,
  type Windowed,
  type EmitStrategy,
} from "./dsl/windows.js";
export { JoinWindows } from "./dsl/stream-join.js";

const NAME = /^[A-Za-z0-9._-]+$/;

/**
 * Builds a topology with the DSL (Kafka Streams' `StreamsBuilder`): streams and tables from topics, state stores,
 * then {@link TopologyBuilder.build} to validate and freeze it. Every node and store gets a name, which stays a
 * stable identifier of the application (it names internal topics, stores and metrics).
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const key = Serdes.string();
 * const app = new TopologyBuilder("shop");
 * const users = app.table("users", { key, value: Serdes.json<{ country: string }>(), store: "users" });
 * app
 *   .stream("clicks", { key, value: Serdes.json<{ page: string }>() })
 *   .join("click-user", users, (click, user) => ({ ...click, country: user.country }))
 *   .groupBy("by-country", (r) => r.value.country, { key, value: Serdes.json<{ page: string; country: string }>() })
 *   .count("clicks-per-country")
 *   .toStream("count-updates")
 *   .to("clicks-per-country", { key, value: Serdes.json<number | null>() });
 * export const topology = app.build();
 * ```
 */
export class TopologyBuilder {
  readonly #appId: string;
  readonly #nodes = new Map<string, TopologyNode>();
  readonly #stores = new Map<string, StoreDefinition>();
  readonly #sourcedTopics = new Map<string, string>();

  /**
   * A builder for the application `appId` (a TopologyError if the id has other characters).
   *
   * @param appId the application id (Kafka Streams' `application.id`): the consumer group, the prefix of internal
   *   topics and the transactional ids. Letters, digits, `.`, `_` and `-` only.
   */
  constructor(appId: string) {
    if (!NAME.test(appId))
      throw new TopologyError(`application id '${appId}' must match ${NAME} (it names topics)`);
    this.#appId = appId;
  }

  /** The application id given to the constructor. */
  get appId(): string {
    return this.#appId;
  }

  /**
   * Declare a state store (Kafka Streams' `addStateStore`). Processors of the Processor API name the stores they use
   * ({@link KStream.process}'s `stores`).
   *
   * @example
   * ```ts
   * import { Serdes, Stores, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app.store("stock", Stores.keyValue(Serdes.string(), Serdes.int32()));
   * ```
   */
  store<K, V>(name: string, definition: StoreDefinition<K, V>): this {
    checkName(name, "store");
    if (this.#stores.has(name))
      throw new TopologyError(`store '${name}' is declared twice; give each store its own name`);
    if (!definition?.keySerde || !definition?.valueSerde)
      throw new TopologyError(
        `store '${name}' has no key or value serde; pass both to Stores.keyValue/window`,
        { store: name },
      );
    this.#stores.set(name, definition as StoreDefinition);
    return this;
  }

  /**
   * A stream from a topic (Kafka Streams' `builder.stream`). The source node is named `<topic>-source` unless
   * `name` is given. A topic can be read by one source only.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const orders = app.stream("orders", {
   *   key: Serdes.string(),
   *   value: Serdes.json<{ customer: string; amount: number }>(),
   *   offsetReset: "earliest",
   * });
   * ```
   */
  stream<K, V>(topic: string, serdes: SourceOptions<K, V>): KStream<K, V> {
    return this.#source(topic, serdes, false);
  }

  /**
   * A table from a topic (Kafka Streams' builder.table): the latest value per key, materialized in store
   * `options.store` (default `<topic>-table`) with its own changelog; a null value (tombstone) deletes the row.
   * Updates flow downstream as changes. The table node is named like the store.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const customers = app.table("customers", {
   *   key: Serdes.string(),
   *   value: Serdes.json<{ name: string; tier: "gold" | "basic" }>(),
   *   store: "customers",
   *   sourceChangelog: true, // the compacted topic is the store's changelog
   * });
   * ```
   */
  table<K, V>(
    topic: string,
    options: SourceOptions<K, V> & {
      store?: string;
      /**
       * Use the topic itself as the store's changelog (Kafka Streams' source-topic optimization): no second copy of
       * the table in a changelog topic. The topic must be compacted (`weir topics create` makes it so), and only
       * the table writes the store.
       */
      sourceChangelog?: boolean;
    },
  ): KTable<K, V> {
    const store = options?.store ?? `${topic}-table`;
    const source = this.#source(topic, options, false);
    if (options.sourceChangelog)
      this.store(store, {
        kind: "key-value",
        keySerde: options.key,
        valueSerde: options.value,
        changelog: false,
        sourceTopic: topic,
      });
    else this.dslStore(store, options.key, options.value, undefined, store);
    this.#add({
      type: "processor",
      name: store,
      parents: [source.node],
      factory: tableSource<K, V>(store) as ProcessorFactory<unknown, unknown, unknown, unknown>,
      stores: [store],
    });
    return new KTable<K, V>(this, store, {
      key: options.key,
      value: options.value,
      getter: storeGetter(store),
      store,
    });
  }

  /**
   * A global table (Kafka Streams' builder.globalTable): every worker reads all partitions of `topic` into store
   * `options.store` (default `<topic>-global`) without a consumer group, before it is ready and then continuously.
   * The topic itself is the store's changelog. Streams join it with a key selector, without co-partitioning.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const products = app.globalTable("products", { key: Serdes.string(), value: Serdes.json<{ price: number }>() });
   * app
   *   .stream("order-lines", { key: Serdes.string(), value: Serdes.json<{ sku: string; qty: number }>() })
   *   .join("priced", products, (r) => r.value.sku, (line, p) => ({ ...line, total: line.qty * p.price }));
   * ```
   */
  globalTable<K, V>(
    topic: string,
    options: { key: Serde<K>; value: Serde<V>; store?: string },
  ): GlobalKTable<K, V> {
    const store = options?.store ?? `${topic}-global`;
    if (!options?.key || !options?.value)
      throw new TopologyError(
        `global table of topic ${topic} is missing a key or value serde; pass { key, value }`,
        {
          topic,
        },
      );
    const earlier = this.#sourcedTopics.get(topic);
    if (earlier)
      throw new TopologyError(
        `topic '${topic}' is already read by '${earlier}'; a global table needs a topic of its own`,
        {
          topic,
        },
      );
    this.store(store, {
      kind: "key-value",
      keySerde: options.key,
      valueSerde: options.value,
      changelog: false,
      globalTopic: topic,
    });
    this.#sourcedTopics.set(topic, `global table '${store}'`);
    return new GlobalKTable<K, V>(topic, store, { key: options.key, value: options.value });
  }

  /** @internal a store the DSL declares for a method (aggregation, table) whose node is `node`. */
  dslStore<K, V>(
    name: string,
    key: Serde<K>,
    value: Serde<V>,
    ttlMs: number | undefined,
    node: string,
  ): void {
    if (ttlMs === undefined) this.store(name, Stores.keyValue(key, value));
    else this.store(name, { ...Stores.keyValue(key, value, { ttlMs }), changeNode: node });
  }

  #source<K, V>(topic: string, serdes: SourceOptions<K, V>, internal: boolean): KStream<K, V> {
    const maxFutureSkewMs = internal ? Infinity : (serdes?.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
    if (typeof maxFutureSkewMs !== "number" || Number.isNaN(maxFutureSkewMs) || maxFutureSkewMs < 0)
      throw new TopologyError(
        `source of topic ${topic}: maxFutureSkewMs must be a non-negative number or Infinity, got ${String(maxFutureSkewMs)}`,
        { topic },
      );
    const offsetReset = serdes?.offsetReset ?? "earliest";
    if (!["earliest", "latest", "none"].includes(offsetReset))
      throw new TopologyError(
        `source of topic ${topic}: offsetReset must be "earliest", "latest" or "none", got ${String(offsetReset)}`,
        { topic },
      );
    const name = serdes?.name ?? `${topic}-source`;
    if (!serdes?.key || !serdes?.value)
      throw new TopologyError(
        `source '${name}' (topic ${topic}) is missing a key or value serde; pass { key, value }`,
        {
          node: name,
          topic,
        },
      );
    const earlier = this.#sourcedTopics.get(topic);
    if (earlier)
      throw new TopologyError(
        `topic '${topic}' is already read by source '${earlier}'; read it once and branch or share the stream`,
        {
          node: name,
          topic,
        },
      );
    const timestampExtractor = serdes.timestampExtractor ?? serdes.timestamp;
    if (timestampExtractor !== undefined && typeof timestampExtractor !== "function")
      throw new TopologyError(`source '${name}': timestamp must be a function (record) => ms`, {
        node: name,
        topic,
      });
    this.#add({
      type: "source",
      name,
      topic,
      keySerde: serdes.key as Serde<unknown>,
      valueSerde: serdes.value as Serde<unknown>,
      internal,
      offsetReset,
      maxFutureSkewMs,
      ...(timestampExtractor
        ? { timestampExtractor: timestampExtractor as TimestampExtractor<unknown, unknown> }
        : {}),
      ...(serdes.topicConfig ? { topicConfig: Object.freeze({ ...serdes.topicConfig }) } : {}),
    });
    this.#sourcedTopics.set(topic, name);
    return new KStream<K, V>(this, name, { key: serdes.key, value: serdes.value });
  }

  /** @internal used by KStream */
  add(node: TopologyNode): void {
    this.#add(node);
  }

  /** @internal used by KStream */
  repartitionSource<K, V>(name: string, serdes: { key: Serde<K>; value: Serde<V> }): KStream<K, V> {
    return this.#source(
      repartitionTopic(this.#appId, name),
      { ...serdes, name: `${name}-repartition-source` },
      true,
    );
  }

  #add(node: TopologyNode): void {
    checkName(node.name, "node");
    if (this.#nodes.has(node.name))
      throw new TopologyError(
        `node name '${node.name}' is used twice; every node needs its own stable name`,
        { node: node.name },
      );
    if ("parents" in node)
      for (const p of node.parents)
        if (!this.#nodes.has(p)) throw new TopologyError(`unknown parent '${p}'`, { node: node.name });
    this.#nodes.set(node.name, node);
  }

  /**
   * Validate and freeze (Kafka Streams' `StreamsBuilder.build`): splits the nodes into sub-topologies, names the
   * internal topics, and checks stores and cycles. Throws a TopologyError naming the node at fault.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder, describeText } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const serdes = { key: Serdes.string(), value: Serdes.json() };
   * app.stream("orders", serdes).to("orders-copy", serdes);
   * const topology = app.build();
   * console.log(describeText(topology));
   * ```
   */
  build(): Topology {
    return new Topology(this.#appId, [...this.#nodes.values()], new Map(this.#stores));
  }
}

function checkName(name: string, what: string): void {
  if (typeof name !== "string" || !NAME.test(name))
    throw new TopologyError(
      `${what} name '${String(name)}' must be non-empty and match ${NAME}: it names topics and metrics`,
    );
}
