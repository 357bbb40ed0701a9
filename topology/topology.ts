/**
 * A validated, immutable topology: sub-topologies (the unit of partitioning and of tasks), internal topics
 * (changelogs, repartition topics) and their names, co-partitioning and cycle checks.
 */
import type {
  InternalTopic,
  OffsetResetPolicy,
  SinkNode,
  SourceNode,
  StoreDefinition,
  SubTopology,
  TopologyNode,
} from "./builder.js";
import { TopologyError } from "./errors.js";

/**
 * The name of a store's changelog topic, `<appId>-<store>-changelog` (as Kafka Streams names them).
 *
 * @example
 * ```ts
 * import { changelogTopic } from "weir";
 *
 * changelogTopic("shop", "stock"); // "shop-stock-changelog"
 * ```
 */
export const changelogTopic = (appId: string, store: string): string => `${appId}-${store}-changelog`;

/**
 * The name of a repartition topic, `<appId>-<name>-repartition`, where `name` is the node that repartitions (as
 * Kafka Streams names them).
 *
 * @example
 * ```ts
 * import { repartitionTopic } from "weir";
 *
 * repartitionTopic("shop", "by-country"); // "shop-by-country-repartition"
 * ```
 */
export const repartitionTopic = (appId: string, name: string): string => `${appId}-${name}-repartition`;

/**
 * The name of the application's dead-letter topic, `<appId>-dlq`: records that failed to deserialize or process,
 * with headers naming the error and the source ({@link DeadLetterHeader}).
 *
 * @example
 * ```ts
 * import { deadLetterTopic } from "weir";
 *
 * deadLetterTopic("shop"); // "shop-dlq"
 * ```
 */
export const deadLetterTopic = (appId: string): string => `${appId}-dlq`;

/**
 * A validated, immutable topology (Kafka Streams' `Topology`), made by {@link TopologyBuilder.build}: its
 * sub-topologies, stores, internal topics and their names. Give it to a {@link Worker} to run it, or to a
 * {@link TopologyTestDriver} to test it.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ customer: string }>() })
 *   .groupBy("by-customer", (r) => r.value.customer, {
 *     key: Serdes.string(),
 *     value: Serdes.json<{ customer: string }>(),
 *   })
 *   .count("orders-per-customer");
 * const topology = app.build();
 * console.log(topology.inputTopics); // ["orders"]
 * console.log(topology.internalTopics.map((t) => t.name)); // the repartition topic and the count's changelog
 * ```
 */
export class Topology {
  /** The sub-topologies, by id. */
  readonly subtopologies: readonly SubTopology[];
  /** The repartition and changelog topics the application owns. */
  readonly internalTopics: readonly InternalTopic[];
  /** The dead-letter topic, `<appId>-dlq`. */
  readonly deadLetterTopic: string;
  /**
   * The members topic, `<appId>-members` (compacted, one partition): each worker's id and the URL it answers
   * interactive queries on, so that any worker can forward a query to the worker that holds the key.
   */
  readonly membersTopic: string;
  readonly #nodes: Map<string, TopologyNode>;
  readonly #subtopologyOfTopic = new Map<string, number>();

  /**
   * Validates the nodes and stores (throws a TopologyError naming the node at fault). Use
   * {@link TopologyBuilder.build} rather than calling this.
   *
   * @param appId the application id
   * @param nodes every node, parents before children
   * @param stores the declared stores, by name
   */
  constructor(
    /** The application id. */
    readonly appId: string,
    nodes: TopologyNode[],
    /** The declared stores, by name. */
    readonly stores: ReadonlyMap<string, StoreDefinition>,
  ) {
    this.#nodes = new Map(nodes.map((n) => [n.name, n]));
    this.deadLetterTopic = deadLetterTopic(appId);
    this.membersTopic = `${appId}-members`;
    this.#checkStores(nodes);
    this.subtopologies = this.#split(nodes);
    for (const s of this.subtopologies) for (const t of s.sourceTopics) this.#subtopologyOfTopic.set(t, s.id);
    this.#checkCycles();
    this.internalTopics = this.#internalTopics();
    Object.freeze(this);
  }

  /** The node named `name`, if there is one. */
  node(name: string): TopologyNode | undefined {
    return this.#nodes.get(name);
  }

  /** The sub-topology that reads `topic`, if any. */
  subtopologyOf(topic: string): SubTopology | undefined {
    const id = this.#subtopologyOfTopic.get(topic);
    return id === undefined ? undefined : this.subtopologies[id];
  }

  /** The offset reset policy of the source reading `topic` (internal topics: earliest). */
  offsetResetOf(topic: string): OffsetResetPolicy {
    for (const n of this.#nodes.values()) if (n.type === "source" && n.topic === topic) return n.offsetReset;
    return "earliest";
  }

  /** Global tables: store name and the topic every worker reads in full into it. */
  get globalStores(): Array<{
    /** The global table's store. */
    store: string;
    /** The topic read in full into it. */
    topic: string;
    /** The store's definition. */
    definition: StoreDefinition;
  }> {
    return [...this.stores]
      .filter(([, d]) => d.globalTopic !== undefined)
      .map(([store, definition]) => ({ store, topic: definition.globalTopic!, definition }));
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

  /** Topic configs declared by sources and sinks (`{ topicConfig }`), by topic: what `weir topics create` sets. */
  get topicConfigs(): Map<string, Readonly<Record<string, string>>> {
    const configs = new Map<string, Readonly<Record<string, string>>>();
    for (const s of this.subtopologies)
      for (const n of s.nodes)
        if ((n.type === "sink" || n.type === "source") && n.topicConfig)
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
    // Processors sharing a store run in one task, so they are one sub-topology (as Kafka Streams' node groups): a
    // stream joined with a table reads the store the table's node writes. Global stores belong to no sub-topology.
    const firstUser = new Map<string, string>();
    const shared: Array<{ store: string; first: string; second: string }> = [];
    for (const n of nodes)
      if (n.type === "processor")
        for (const s of n.stores) {
          if (this.stores.get(s)?.globalTopic !== undefined) continue;
          const user = firstUser.get(s);
          if (user === undefined) firstUser.set(s, n.name);
          else {
            union(n.name, user);
            shared.push({ store: s, first: user, second: n.name });
          }
        }

    const groups = new Map<string, TopologyNode[]>();
    for (const n of nodes) {
      const root = find(n.name);
      if (!groups.has(root)) groups.set(root, []);
      groups.get(root)!.push(n);
    }

    // Sharing a store must not fold a topic back into the task that writes it.
    for (const { store, first, second } of shared) {
      const members = groups.get(find(first))!;
      const read = new Set(members.filter((n): n is SourceNode => n.type === "source").map((n) => n.topic));
      const loop = members.find((n): n is SinkNode => n.type === "sink" && !n.feedback && read.has(n.topic));
      if (loop)
        throw new TopologyError(
          `store '${store}' is used by '${first}' and '${second}', which are in different sub-topologies ` +
            `(connected only through topic '${loop.topic}'); a store belongs to one sub-topology — use one store per ` +
            `side, or connect them without a topic`,
          { node: second, store },
        );
    }

    const subtopologies: SubTopology[] = [];
    for (const members of groups.values()) {
      const sources = members.filter((n): n is SourceNode => n.type === "source");
      if (sources.length === 0)
        throw new TopologyError(`node '${members[0]!.name}' is not connected to any source`, {
          node: members[0]!.name,
        });
      const stores = new Set<string>();
      for (const n of members)
        if (n.type === "processor")
          for (const st of n.stores) if (this.stores.get(st)?.globalTopic === undefined) stores.add(st);
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
