import type { Observable, OperatorFunction } from "rxjs";
import type { KeyValueStore, WindowStore } from "../state/types.js";
import { TopologyError } from "./errors.js";
import { Topology, repartitionTopic } from "./topology.js";
import { KStream } from "./dsl/kstream.js";
import { GlobalKTable, KTable } from "./dsl/ktable.js";
import { storeGetter, tableSource } from "./dsl/processors.js";
import type { Emit, Headers, StreamRecord } from "./record.js";
import type { Serde } from "./serdes.js";

/** What a processor is given when its pipeline is built for a task. */
export interface ProcessorContext {
  readonly appId: string;
  /** `<subtopology>_<partition>`, as Kafka Streams' task ids. */
  readonly taskId: string;
  readonly partition: number;
  /** This processor's node name. */
  readonly processor: string;
  keyValueStore<K, V>(name: string): KeyValueStore<K, V>;
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

export type PunctuationKind = "stream-time" | "wall-clock";

/** An application counter (see ProcessorContext.counter). */
export interface AppCounter {
  inc(labels?: Readonly<Record<string, string>>, value?: number): void;
}

/**
 * A processor: a pure factory returning an RxJS operator over record envelopes. Per-subscription state lives in
 * the closure; durable state lives in stores. Operators must be synchronous (map, filter, mergeMap over arrays,
 * scan, ...): the runtime attributes every output to the input record being processed.
 */
export type ProcessorFactory<KI, VI, KO, VO> = (
  context: ProcessorContext,
) => OperatorFunction<StreamRecord<KI, VI>, Emit<KO, VO>>;

export interface StoreDefinition<K = unknown, V = unknown> {
  readonly kind: "key-value" | "window";
  readonly keySerde: Serde<K>;
  readonly valueSerde: Serde<V>;
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

export const Stores = {
  /**
   * A key-value store. `ttlMs`: entries expire that long (in stream time) after their last write — a feature Kafka
   * Streams does not have; expiry is a delete through the changelog, decided when a record moves stream time.
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
 */
export type OffsetResetPolicy = "earliest" | "latest" | "none";

export interface SourceNode {
  readonly type: "source";
  readonly name: string;
  readonly topic: string;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly internal: boolean;
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
 */
export type TimestampExtractor<K, V> = (record: StreamRecord<K, V>) => number;

/**
 * How far ahead of wall-clock time an event time may be before the record is refused (dead-lettered as an
 * InvalidTimestampError, its offset passed, stream time and stores untouched): one record from a clock set to the
 * next year would otherwise move stream time a year ahead and make every later record "late". One hour covers clock
 * drift and time zones mistaken for UTC; pass `maxFutureSkewMs: Infinity` to turn it off.
 */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 3_600_000;

export interface SourceOptions<K, V> {
  key: Serde<K>;
  value: Serde<V>;
  /** Source node name. @default `<topic>-source` */
  name?: string;
  /** Where to start without a committed offset (Kafka Streams' Consumed policy). @default "earliest" */
  offsetReset?: OffsetResetPolicy;
  /** Event time from the record. @default the record's Kafka timestamp */
  timestampExtractor?: TimestampExtractor<K, V>;
  /** @default DEFAULT_MAX_FUTURE_SKEW_MS (one hour); Infinity turns the guard off */
  maxFutureSkewMs?: number;
  /** Event time from a field of the record: the same as `timestampExtractor`. */
  timestamp?: TimestampExtractor<K, V>;
  /** Topic configs `weir topics create` gives this topic when it creates it (existing topics are not altered). */
  topicConfig?: Record<string, string>;
}
export interface ProcessorNode {
  readonly type: "processor";
  readonly name: string;
  readonly parents: readonly string[];
  readonly factory: ProcessorFactory<unknown, unknown, unknown, unknown>;
  readonly stores: readonly string[];
  /** An asynchronous processor (KStream.processAsync): its function replaces the factory. */
  readonly async?: AsyncProcessorSpec;
}

/**
 * In which order an asynchronous processor's calls run and emit:
 * - `per-key`: one call at a time per key, each key's outputs in offset order; different keys overlap;
 * - `per-partition`: one call at a time per task (no overlap): the order of the input;
 * - `none`: calls overlap freely and emit as they complete.
 */
export type AsyncOrdering = "per-key" | "per-partition" | "none";

/** What an asynchronous processor's function is given besides the record. */
export interface AsyncCallContext {
  /** Aborted when the call times out or its task closes (a rebalance, an abort): pass it to fetch and friends. */
  readonly signal: AbortSignal;
  /** 1 for the first call of a record, 2 for its first retry, … */
  readonly attempt: number;
  readonly taskId: string;
  readonly partition: number;
  readonly processor: string;
}

/** Zero or more outputs of an asynchronous call: one record, a list, or nothing (null/undefined). */
export type AsyncResult<K, V> = Emit<K, V> | readonly Emit<K, V>[] | null | undefined | void;

export type AsyncProcessorFunction<KI, VI, KO, VO> = (
  record: StreamRecord<KI, VI>,
  context: AsyncCallContext,
) => Promise<AsyncResult<KO, VO>>;

export interface AsyncProcessorOptions {
  /** Calls in flight per task; a task with this many records in the processor takes no new ones. @default 16 */
  concurrency?: number;
  /** @default "per-key" */
  ordering?: AsyncOrdering;
  /** One call's time limit; a call past it fails (and is retried, if attempts remain). @default 30000 */
  timeoutMs?: number;
  /**
   * Calls per record before it goes to the dead-letter topic (the processing handler), the first back-off between
   * them (doubled each time), and which failures are worth another call (`when`, given the error: a timeout is an
   * error whose message says "timed out after N ms"). weir's own ConfigError is never retried.
   * @default { attempts: 1, backoffMs: 100, when: () => true }
   */
  retry?: { attempts?: number; backoffMs?: number; when?: (error: unknown) => boolean };
}

export interface AsyncProcessorSpec {
  readonly fn: AsyncProcessorFunction<unknown, unknown, unknown, unknown>;
  readonly concurrency: number;
  readonly ordering: AsyncOrdering;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly retryWhen: (error: unknown) => boolean;
}
export interface BranchNode {
  readonly type: "branch";
  readonly name: string;
  readonly parents: readonly string[];
  /** First matching predicate wins; a record matching none is dropped. */
  readonly predicate: (record: StreamRecord) => boolean;
}
export interface MergeNode {
  readonly type: "merge";
  readonly name: string;
  readonly parents: readonly string[];
}
export interface SinkNode {
  readonly type: "sink";
  readonly name: string;
  readonly parents: readonly string[];
  readonly topic: string;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly internal: boolean;
  /** An intended loop back to an upstream sub-topology (e.g. a saga's compensation); exempt from the cycle check. */
  readonly feedback: boolean;
  /** Topic configs the output topic should be created with (e.g. `cleanup.policy: compact`). */
  readonly topicConfig?: Readonly<Record<string, string>>;
  readonly headers?: Headers;
}
export type TopologyNode = SourceNode | ProcessorNode | BranchNode | MergeNode | SinkNode;

export interface SubTopology {
  readonly id: number;
  /** Nodes in creation order (parents before children). */
  readonly nodes: readonly TopologyNode[];
  readonly sourceTopics: readonly string[];
  readonly sinkTopics: readonly string[];
  readonly stores: readonly string[];
}

export interface InternalTopic {
  readonly name: string;
  readonly kind: "repartition" | "changelog";
  /** For changelogs: the store; for repartitions: the node that writes it. */
  readonly owner: string;
  /** The sub-topology whose partition count this topic must have. */
  readonly partitionsOf: number;
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

export class TopologyBuilder {
  readonly #appId: string;
  readonly #nodes = new Map<string, TopologyNode>();
  readonly #stores = new Map<string, StoreDefinition>();
  readonly #sourcedTopics = new Map<string, string>();

  constructor(appId: string) {
    if (!NAME.test(appId))
      throw new TopologyError(`application id '${appId}' must match ${NAME} (it names topics)`);
    this.#appId = appId;
  }

  get appId(): string {
    return this.#appId;
  }

  /** Declare a state store. Processors name the stores they use. */
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

  /** A stream from a topic. The source node is named `<topic>-source` unless `name` is given. */
  stream<K, V>(topic: string, serdes: SourceOptions<K, V>): KStream<K, V> {
    return this.#source(topic, serdes, false);
  }

  /**
   * A table from a topic (Kafka Streams' builder.table): the latest value per key, materialized in store
   * `options.store` (default `<topic>-table`) with its own changelog; a null value (tombstone) deletes the row.
   * Updates flow downstream as changes. The table node is named like the store.
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

  /** Validate and freeze. Throws TopologyError naming the node at fault. */
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
