import type { Observable, OperatorFunction } from "rxjs";
import type { KeyValueStore, WindowStore } from "../state/types.js";
import { TopologyError } from "./errors.js";
import { Topology, repartitionTopic } from "./topology.js";
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
}

export const Stores = {
  keyValue<K, V>(
    key: Serde<K>,
    value: Serde<V>,
    options: { changelog?: boolean } = {},
  ): StoreDefinition<K, V> {
    return { kind: "key-value", keySerde: key, valueSerde: value, changelog: options.changelog ?? true };
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
}
export interface ProcessorNode {
  readonly type: "processor";
  readonly name: string;
  readonly parents: readonly string[];
  readonly factory: ProcessorFactory<unknown, unknown, unknown, unknown>;
  readonly stores: readonly string[];
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
    this.#add({
      type: "source",
      name,
      topic,
      keySerde: serdes.key as Serde<unknown>,
      valueSerde: serdes.value as Serde<unknown>,
      internal,
      offsetReset,
      maxFutureSkewMs,
      ...(serdes.timestampExtractor
        ? { timestampExtractor: serdes.timestampExtractor as TimestampExtractor<unknown, unknown> }
        : {}),
    });
    this.#sourcedTopics.set(topic, name);
    return new KStream<K, V>(this, name);
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

export class KStream<K, V> {
  constructor(
    private readonly builder: TopologyBuilder,
    /** The node whose output this stream is. */
    readonly node: string,
  ) {}

  /** Run records through a processor (an RxJS operator factory) that may use the named stores. */
  process<KO, VO>(
    name: string,
    factory: ProcessorFactory<K, V, KO, VO>,
    options: { stores?: string[] } = {},
  ): KStream<KO, VO> {
    if (typeof factory !== "function")
      throw new TopologyError(`processor '${name}' needs a factory function (context) => OperatorFunction`, {
        node: name,
      });
    this.builder.add({
      type: "processor",
      name,
      parents: [this.node],
      factory: factory as ProcessorFactory<unknown, unknown, unknown, unknown>,
      stores: options.stores ?? [],
    });
    return new KStream<KO, VO>(this.builder, name);
  }

  /** Records for which `predicate` is false are dropped. */
  filter(name: string, predicate: (record: StreamRecord<K, V>) => boolean): KStream<K, V> {
    this.builder.add({
      type: "branch",
      name,
      parents: [this.node],
      predicate: predicate as (r: StreamRecord) => boolean,
    });
    return new KStream<K, V>(this.builder, name);
  }

  /**
   * Split the stream: each record goes to the first branch whose predicate matches (records matching none are
   * dropped). Branch nodes are named `<name>-<branch>`.
   */
  branch<B extends string>(
    name: string,
    predicates: Record<B, (record: StreamRecord<K, V>) => boolean>,
  ): Record<B, KStream<K, V>> {
    const entries = Object.entries(predicates) as Array<[B, (record: StreamRecord<K, V>) => boolean]>;
    if (entries.length === 0) throw new TopologyError(`branch '${name}' has no branches`, { node: name });
    const out = {} as Record<B, KStream<K, V>>;
    entries.forEach(([branch, predicate], i) => {
      const earlier = entries.slice(0, i).map(([, p]) => p);
      const first = (r: StreamRecord) =>
        predicate(r as StreamRecord<K, V>) && !earlier.some((p) => p(r as StreamRecord<K, V>));
      this.builder.add({ type: "branch", name: `${name}-${branch}`, parents: [this.node], predicate: first });
      out[branch] = new KStream<K, V>(this.builder, `${name}-${branch}`);
    });
    return out;
  }

  /** One stream of the records of this stream and the others, in processing order. */
  merge(name: string, ...others: KStream<K, V>[]): KStream<K, V> {
    this.builder.add({ type: "merge", name, parents: [this.node, ...others.map((o) => o.node)] });
    return new KStream<K, V>(this.builder, name);
  }

  /**
   * Write to a topic. The sink node is named `<topic>-sink` unless `name` is given. `feedback: true` declares an
   * intended loop to a topic read upstream (e.g. compensation records); any other loop is a TopologyError.
   */
  to(
    topic: string,
    serdes: {
      key: Serde<K>;
      value: Serde<V>;
      name?: string;
      feedback?: boolean;
      /** Configs for creating the topic (`weir topics create`), e.g. `{ "cleanup.policy": "compact" }`. */
      topicConfig?: Record<string, string>;
    },
  ): void {
    const name = serdes?.name ?? `${topic}-sink`;
    if (!serdes?.key || !serdes?.value)
      throw new TopologyError(
        `sink '${name}' (topic ${topic}) is missing a key or value serde; pass { key, value }`,
        { node: name, topic },
      );
    this.builder.add({
      type: "sink",
      name,
      parents: [this.node],
      topic,
      keySerde: serdes.key as Serde<unknown>,
      valueSerde: serdes.value as Serde<unknown>,
      internal: false,
      feedback: serdes.feedback ?? false,
      ...(serdes.topicConfig ? { topicConfig: Object.freeze({ ...serdes.topicConfig }) } : {}),
    });
  }

  /**
   * Re-key through the internal topic `<app>-<name>-repartition`: records are written partitioned by their
   * (new) key and read back by a new sub-topology, so that all records of a key meet in one task.
   */
  repartition(name: string, serdes: { key: Serde<K>; value: Serde<V> }): KStream<K, V> {
    const topic = repartitionTopic(this.builder.appId, name);
    if (!serdes?.key || !serdes?.value)
      throw new TopologyError(`repartition '${name}' is missing a key or value serde; pass { key, value }`, {
        node: name,
      });
    this.builder.add({
      type: "sink",
      name: `${name}-repartition-sink`,
      parents: [this.node],
      topic,
      keySerde: serdes.key as Serde<unknown>,
      valueSerde: serdes.value as Serde<unknown>,
      internal: true,
      feedback: false,
    });
    return this.builder.repartitionSource<K, V>(name, serdes);
  }
}
