import type { Observable, OperatorFunction } from "rxjs";
import type { KeyValueStore, WindowStore } from "../state/types.js";
import { TopologyError } from "./errors.js";
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

export const changelogTopic = (appId: string, store: string): string => `${appId}-${store}-changelog`;
export const repartitionTopic = (appId: string, name: string): string => `${appId}-${name}-repartition`;
export const deadLetterTopic = (appId: string): string => `${appId}-dlq`;

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
  stream<K, V>(
    topic: string,
    serdes: { key: Serde<K>; value: Serde<V>; name?: string; offsetReset?: OffsetResetPolicy },
  ): KStream<K, V> {
    return this.#source(topic, serdes, false);
  }

  #source<K, V>(
    topic: string,
    serdes: { key: Serde<K>; value: Serde<V>; name?: string; offsetReset?: OffsetResetPolicy },
    internal: boolean,
  ): KStream<K, V> {
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

/** A validated, immutable topology. */
export class Topology {
  readonly subtopologies: readonly SubTopology[];
  readonly internalTopics: readonly InternalTopic[];
  readonly deadLetterTopic: string;
  readonly #nodes: Map<string, TopologyNode>;
  readonly #subtopologyOfTopic = new Map<string, number>();

  constructor(
    readonly appId: string,
    nodes: TopologyNode[],
    readonly stores: ReadonlyMap<string, StoreDefinition>,
  ) {
    this.#nodes = new Map(nodes.map((n) => [n.name, n]));
    this.deadLetterTopic = deadLetterTopic(appId);
    this.#checkStores(nodes);
    this.subtopologies = this.#split(nodes);
    for (const s of this.subtopologies) for (const t of s.sourceTopics) this.#subtopologyOfTopic.set(t, s.id);
    this.#checkCycles();
    this.internalTopics = this.#internalTopics();
    Object.freeze(this);
  }

  node(name: string): TopologyNode | undefined {
    return this.#nodes.get(name);
  }

  subtopologyOf(topic: string): SubTopology | undefined {
    const id = this.#subtopologyOfTopic.get(topic);
    return id === undefined ? undefined : this.subtopologies[id];
  }

  /** The offset reset policy of the source reading `topic` (internal topics: earliest). */
  offsetResetOf(topic: string): OffsetResetPolicy {
    for (const n of this.#nodes.values()) if (n.type === "source" && n.topic === topic) return n.offsetReset;
    return "earliest";
  }

  /** Every topic the application reads (inputs and internal). */
  get sourceTopics(): string[] {
    return this.subtopologies.flatMap((s) => [...s.sourceTopics]);
  }

  /** Topics read but written by nobody in the topology: the application's inputs. */
  get inputTopics(): string[] {
    const written = new Set(this.subtopologies.flatMap((s) => s.sinkTopics));
    return this.sourceTopics.filter((t) => !written.has(t));
  }

  /** Topics written that are not internal: the application's outputs (dead-letter topic excluded). */
  get outputTopics(): string[] {
    const internal = new Set(this.internalTopics.map((t) => t.name));
    return [...new Set(this.subtopologies.flatMap((s) => s.sinkTopics))].filter((t) => !internal.has(t));
  }

  /** Topic configs declared by sinks (`.to(topic, { topicConfig })`), by output topic. */
  get outputTopicConfigs(): Map<string, Readonly<Record<string, string>>> {
    const configs = new Map<string, Readonly<Record<string, string>>>();
    for (const s of this.subtopologies)
      for (const n of s.nodes)
        if (n.type === "sink" && n.topicConfig)
          configs.set(n.topic, { ...configs.get(n.topic), ...n.topicConfig });
    return configs;
  }

  /**
   * Checks that need the broker: the sources of one sub-topology must be co-partitioned (same partition count),
   * since task `<s>_<p>` reads partition p of each of them.
   */
  checkPartitionCounts(partitionsOf: (topic: string) => number | undefined): void {
    for (const s of this.subtopologies) {
      const counts = s.sourceTopics.map((t) => [t, partitionsOf(t)] as const);
      const missing = counts.filter(([, n]) => n === undefined).map(([t]) => t);
      if (missing.length > 0)
        throw new TopologyError(
          `sub-topology ${s.id} reads topics that do not exist: ${missing.join(", ")}; create them (weir topics create) before starting`,
          { topic: missing[0] },
        );
      const distinct = new Set(counts.map(([, n]) => n));
      if (distinct.size > 1)
        throw new TopologyError(
          `sub-topology ${s.id} joins topics that are not co-partitioned: ${counts.map(([t, n]) => `${t}=${n}`).join(", ")}; ` +
            `give them the same partition count (or repartition one side)`,
          { topic: counts[0]?.[0] },
        );
    }
  }

  /**
   * The partition count of every sub-topology: that of its external source topics (which `checkPartitionCounts`
   * requires to agree); a sub-topology that reads only internal topics takes the count of the sub-topology that
   * writes them. Internal topics get the count of the sub-topology that reads them (see `partitionsOf`).
   */
  resolvePartitions(partitionsOfTopic: (topic: string) => number | undefined): Map<number, number> {
    const internal = new Set(this.internalTopics.map((t) => t.name));
    const result = new Map<number, number>();
    for (
      let round = 0;
      round <= this.subtopologies.length && result.size < this.subtopologies.length;
      round++
    ) {
      for (const s of this.subtopologies) {
        if (result.has(s.id)) continue;
        const external = s.sourceTopics.filter((t) => !internal.has(t)).map(partitionsOfTopic);
        if (external.length > 0) {
          const known = external.filter((n): n is number => n !== undefined);
          if (known.length > 0) result.set(s.id, Math.max(...known));
          continue;
        }
        const writers = this.subtopologies.filter((w) =>
          w.sinkTopics.some((t) => s.sourceTopics.includes(t)),
        );
        const counts = writers.map((w) => result.get(w.id));
        if (counts.length > 0 && counts.every((n) => n !== undefined))
          result.set(s.id, Math.max(...(counts as number[])));
      }
    }
    for (const s of this.subtopologies)
      if (!result.has(s.id))
        throw new TopologyError(
          `cannot tell how many partitions sub-topology ${s.id} has: its source topics do not exist`,
          {
            topic: s.sourceTopics[0],
          },
        );
    return result;
  }

  #checkStores(nodes: TopologyNode[]): void {
    for (const n of nodes) {
      if (n.type !== "processor") continue;
      for (const s of n.stores)
        if (!this.stores.has(s))
          throw new TopologyError(
            `processor '${n.name}' uses unknown store '${s}'; declare it with builder.store('${s}', Stores.keyValue(...))`,
            { node: n.name, store: s },
          );
    }
  }

  #split(nodes: TopologyNode[]): SubTopology[] {
    // Union-find over parent edges and shared stores: a connected component is a sub-topology.
    const parent = new Map<string, string>(nodes.map((n) => [n.name, n.name]));
    const find = (x: string): string => {
      let r = x;
      while (parent.get(r) !== r) r = parent.get(r)!;
      parent.set(x, r);
      return r;
    };
    const union = (a: string, b: string) => parent.set(find(a), find(b));
    for (const n of nodes) if ("parents" in n) for (const p of n.parents) union(n.name, p);

    const groups = new Map<string, TopologyNode[]>();
    for (const n of nodes) {
      const root = find(n.name);
      if (!groups.has(root)) groups.set(root, []);
      groups.get(root)!.push(n);
    }
    const storeOwner = new Map<string, { group: string; node: string }>();
    for (const [root, members] of groups)
      for (const n of members)
        if (n.type === "processor")
          for (const s of n.stores) {
            const owner = storeOwner.get(s);
            if (owner && owner.group !== root)
              throw new TopologyError(
                `store '${s}' is used by '${owner.node}' and '${n.name}', which are in different sub-topologies ` +
                  `(connected only through a topic); a store belongs to one sub-topology — use one store per side, ` +
                  `or connect them without a topic`,
                { node: n.name, store: s },
              );
            storeOwner.set(s, { group: root, node: n.name });
          }

    const subtopologies: SubTopology[] = [];
    for (const members of groups.values()) {
      const sources = members.filter((n): n is SourceNode => n.type === "source");
      if (sources.length === 0)
        throw new TopologyError(`node '${members[0]!.name}' is not connected to any source`, {
          node: members[0]!.name,
        });
      const stores = new Set<string>();
      for (const n of members) if (n.type === "processor") n.stores.forEach((s) => stores.add(s));
      subtopologies.push({
        id: subtopologies.length,
        nodes: members,
        sourceTopics: sources.map((s) => s.topic),
        sinkTopics: [...new Set(members.filter((n): n is SinkNode => n.type === "sink").map((s) => s.topic))],
        stores: [...stores],
      });
    }
    return subtopologies;
  }

  #checkCycles(): void {
    // Sub-topology s → t when s writes a topic that t reads. Any cycle loops records forever.
    const edges = new Map<number, number[]>();
    for (const s of this.subtopologies)
      edges.set(
        s.id,
        s.nodes
          .filter((n): n is SinkNode => n.type === "sink" && !n.feedback)
          .map((n) => this.#subtopologyOfTopic.get(n.topic))
          .filter((x): x is number => x !== undefined),
      );
    const state = new Map<number, "visiting" | "done">();
    const visit = (id: number, path: number[]): void => {
      if (state.get(id) === "done") return;
      if (state.get(id) === "visiting") {
        const cycle = [...path.slice(path.indexOf(id)), id];
        const sink = this.subtopologies[path[path.length - 1]!]!.nodes.find(
          (n) => n.type === "sink" && this.#subtopologyOfTopic.get(n.topic) === id,
        );
        throw new TopologyError(
          `cycle: sub-topologies ${cycle.join(" → ")} feed each other through topics` +
            (sink ? ` (sink '${sink.name}' writes '${(sink as SinkNode).topic}')` : "") +
            `; records would loop forever — write to a different topic, or, if the loop is intended (compensation), ` +
            `declare the sink with { feedback: true }`,
          { node: sink?.name },
        );
      }
      state.set(id, "visiting");
      for (const next of edges.get(id) ?? []) visit(next, [...path, id]);
      state.set(id, "done");
    };
    for (const s of this.subtopologies) visit(s.id, []);
  }

  #internalTopics(): InternalTopic[] {
    const topics: InternalTopic[] = [];
    for (const s of this.subtopologies) {
      for (const n of s.nodes)
        if (n.type === "source" && n.internal) {
          const writer = this.subtopologies
            .flatMap((x) => x.nodes)
            .find((m) => m.type === "sink" && m.topic === n.topic);
          topics.push({
            name: n.topic,
            kind: "repartition",
            owner: writer?.name ?? n.name,
            partitionsOf: s.id,
            // Kept until consumed: records carry event time, which may be older than any time-based retention.
            // Workers purge what their group has committed (deleteRecords).
            config: { "cleanup.policy": "delete", "retention.ms": "-1" },
          });
        }
      for (const store of s.stores) {
        const def = this.stores.get(store)!;
        if (!def.changelog) continue;
        topics.push({
          name: changelogTopic(this.appId, store),
          kind: "changelog",
          owner: store,
          partitionsOf: s.id,
          config:
            def.kind === "window"
              ? {
                  "cleanup.policy": "compact,delete",
                  "retention.ms": String(def.retentionMs! + 24 * 3600 * 1000),
                }
              : { "cleanup.policy": "compact" },
        });
      }
    }
    return topics;
  }
}
