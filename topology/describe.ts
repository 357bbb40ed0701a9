import { changelogTopic, type Topology, type TopologyNode } from "./builder.js";

/**
 * A topology as plain JSON (Kafka Streams' `TopologyDescription`): sub-topologies with their nodes and edges,
 * stores with their changelogs, and topics by role. What `weir describe --json` prints.
 *
 * @example
 * ```ts
 * import { describeJson, type Topology, type TopologyDescription } from "weir";
 *
 * declare const topology: Topology;
 * const d: TopologyDescription = describeJson(topology);
 * for (const s of d.stores) console.log(s.name, s.kind, s.changelog ?? "no changelog");
 * console.log("inputs:", d.topics.inputs, "dead letters:", d.topics.deadLetter);
 * ```
 */
export interface TopologyDescription {
  /** The application id. */
  appId: string;
  /** The sub-topologies, by id. */
  subtopologies: Array<{
    /** The sub-topology's id. */
    id: number;
    /** The topics it reads. */
    sourceTopics: string[];
    /** The topics it writes. */
    sinkTopics: string[];
    /** The stores its processors use. */
    stores: string[];
    /** Its nodes, parents before children. */
    nodes: Array<{
      /** The node's name. */
      name: string;
      /** The node's kind. */
      type: TopologyNode["type"];
      /** Sources and sinks: the topic. */
      topic?: string;
      /** Processors: the stores they use. */
      stores?: string[];
      /** An asynchronous processor (processAsync): its limits. */
      async?: {
        /** Calls in flight per task. */
        concurrency: number;
        /** In which order calls run and emit. */
        ordering: string;
        /** One call's time limit, ms. */
        timeoutMs: number;
        /** Calls per record. */
        attempts: number;
      };
      /** The nodes that process its output. */
      children: string[];
      /** The nodes whose output it processes. */
      parents: string[];
    }>;
  }>;
  /** The declared stores. */
  stores: Array<{
    /** The store's name. */
    name: string;
    /** `key-value` or `window`. */
    kind: string;
    /** Its changelog topic, or null when it has none of its own. */
    changelog: string | null;
    /** Window stores: the retention, ms. */
    retentionMs?: number;
    /** Key-value stores with a TTL: the TTL, ms. */
    ttlMs?: number;
    /** A global table's store: the topic every worker reads in full into it (subtopology is -1). */
    globalTopic?: string;
    /** A table's store whose changelog is this source topic. */
    sourceTopic?: string;
    /** The sub-topology whose tasks hold it (-1 for a global table's store). */
    subtopology: number;
  }>;
  /** The topics, by role. */
  topics: {
    /** Topics read and written by nobody in the topology: the application's inputs. */
    inputs: string[];
    /** Topics written that are not internal: the application's outputs. */
    outputs: string[];
    /** Repartition topics and changelogs. */
    internal: Array<{
      /** The topic's name. */
      name: string;
      /** `repartition` or `changelog`. */
      kind: string;
      /** The configs it is created with. */
      config: Record<string, string>;
    }>;
    /** Topics read in full by every worker into global tables. */
    global: string[];
    /** The dead-letter topic. */
    deadLetter: string;
  };
}

/**
 * The topology as a {@link TopologyDescription}: plain JSON, for tools and `weir describe --json`.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, describeJson } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * const serdes = { key: Serdes.string(), value: Serdes.json() };
 * app.stream("orders", serdes).to("orders-copy", serdes);
 * console.log(JSON.stringify(describeJson(app.build()), null, 2));
 * ```
 */
export function describeJson(topology: Topology): TopologyDescription {
  const children = new Map<string, string[]>();
  for (const s of topology.subtopologies)
    for (const n of s.nodes)
      if ("parents" in n)
        for (const p of n.parents) {
          if (!children.has(p)) children.set(p, []);
          children.get(p)!.push(n.name);
        }
  return {
    appId: topology.appId,
    subtopologies: topology.subtopologies.map((s) => ({
      id: s.id,
      sourceTopics: [...s.sourceTopics],
      sinkTopics: [...s.sinkTopics],
      stores: [...s.stores],
      nodes: s.nodes.map((n) => ({
        name: n.name,
        type: n.type,
        ...(n.type === "source" || n.type === "sink" ? { topic: n.topic } : {}),
        ...(n.type === "processor" ? { stores: [...n.stores] } : {}),
        ...(n.type === "processor" && n.async
          ? {
              async: {
                concurrency: n.async.concurrency,
                ordering: n.async.ordering,
                timeoutMs: n.async.timeoutMs,
                attempts: n.async.attempts,
              },
            }
          : {}),
        parents: "parents" in n ? [...n.parents] : [],
        children: children.get(n.name) ?? [],
      })),
    })),
    stores: [...topology.stores].map(([name, def]) => ({
      name,
      kind: def.kind,
      changelog: def.changelog ? changelogTopic(topology.appId, name) : null,
      ...(def.retentionMs !== undefined ? { retentionMs: def.retentionMs } : {}),
      ...(def.ttlMs !== undefined ? { ttlMs: def.ttlMs } : {}),
      ...(def.globalTopic !== undefined ? { globalTopic: def.globalTopic } : {}),
      ...(def.sourceTopic !== undefined ? { sourceTopic: def.sourceTopic } : {}),
      subtopology: topology.subtopologies.find((s) => s.stores.includes(name))?.id ?? -1,
    })),
    topics: {
      inputs: topology.inputTopics,
      outputs: topology.outputTopics,
      internal: topology.internalTopics.map((t) => ({ name: t.name, kind: t.kind, config: { ...t.config } })),
      global: topology.globalStores.map((g) => g.topic),
      deadLetter: topology.deadLetterTopic,
    },
  };
}

/**
 * The topology as text in the spirit of Kafka Streams' `TopologyDescription.toString()`: sub-topologies with their
 * nodes and edges, stores, and topics. What `weir describe` prints.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, describeText } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * const serdes = { key: Serdes.string(), value: Serdes.json() };
 * app.stream("orders", serdes).to("orders-copy", serdes);
 * process.stdout.write(describeText(app.build()));
 * // Topology: shop
 * //   Sub-topology: 0  (tasks 0_<partition>, one per partition of orders)
 * //     Source: orders-source (topic: orders)
 * //       --> orders-copy-sink
 * // ...
 * ```
 */
export function describeText(topology: Topology): string {
  const d = describeJson(topology);
  const lines = [`Topology: ${d.appId}`];
  for (const s of d.subtopologies) {
    lines.push(
      `  Sub-topology: ${s.id}  (tasks ${s.id}_<partition>, one per partition of ${s.sourceTopics.join(", ")})`,
    );
    for (const n of s.nodes) {
      const label = n.type[0]!.toUpperCase() + n.type.slice(1);
      const extra = n.topic
        ? ` (topic: ${n.topic})`
        : n.async
          ? ` (async: concurrency ${n.async.concurrency}, ${n.async.ordering}, timeout ${n.async.timeoutMs} ms, ${n.async.attempts} attempt(s))`
          : n.stores?.length
            ? ` (stores: [${n.stores.join(", ")}])`
            : "";
      lines.push(`    ${label}: ${n.name}${extra}`);
      if (n.children.length) lines.push(`      --> ${n.children.join(", ")}`);
      if (n.parents.length) lines.push(`      <-- ${n.parents.join(", ")}`);
    }
  }
  if (d.stores.length) {
    lines.push("  Stores:");
    for (const s of d.stores)
      lines.push(
        s.globalTopic !== undefined
          ? `    ${s.name}: global table of ${s.globalTopic} (every worker, all partitions; the topic is its changelog)`
          : `    ${s.name}: ${s.kind}${s.retentionMs ? `, retention ${s.retentionMs} ms` : ""}${s.ttlMs ? `, ttl ${s.ttlMs} ms` : ""}, sub-topology ${s.subtopology}, changelog ${s.changelog ?? (s.sourceTopic ? `${s.sourceTopic} (its source topic)` : "none")}`,
      );
  }
  lines.push("  Topics:");
  lines.push(`    inputs:      ${d.topics.inputs.join(", ") || "-"}`);
  lines.push(`    outputs:     ${d.topics.outputs.join(", ") || "-"}`);
  if (d.topics.global.length) lines.push(`    global:      ${d.topics.global.join(", ")}`);
  for (const t of d.topics.internal)
    lines.push(`    ${t.kind.padEnd(12)} ${t.name} (${t.config["cleanup.policy"]})`);
  lines.push(`    dead letter: ${d.topics.deadLetter}`);
  return lines.join("\n") + "\n";
}

/**
 * The topology as a Mermaid flowchart: one subgraph per sub-topology, topics as stadium shapes, stores as
 * cylinders. Put it in a Markdown code block of language `mermaid` to draw the topology.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { describeMermaid, type Topology } from "weir";
 *
 * declare const topology: Topology;
 * writeFileSync("topology.md", `~~~mermaid\n${describeMermaid(topology)}~~~\n`);
 * ```
 */
export function describeMermaid(topology: Topology): string {
  const d = describeJson(topology);
  const id = (kind: string, name: string) => `${kind}_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const lines = ["flowchart LR"];
  const topics = new Set<string>();
  for (const s of d.subtopologies) {
    lines.push(`  subgraph ST${s.id}["sub-topology ${s.id}"]`);
    for (const n of s.nodes) lines.push(`    ${id("n", n.name)}["${n.name}<br/><small>${n.type}</small>"]`);
    lines.push("  end");
    for (const n of s.nodes) {
      for (const c of n.children) lines.push(`  ${id("n", n.name)} --> ${id("n", c)}`);
      if (n.type === "source" && n.topic) {
        topics.add(n.topic);
        lines.push(`  ${id("t", n.topic)} --> ${id("n", n.name)}`);
      }
      if (n.type === "sink" && n.topic) {
        topics.add(n.topic);
        lines.push(`  ${id("n", n.name)} --> ${id("t", n.topic)}`);
      }
      for (const store of n.stores ?? []) lines.push(`  ${id("n", n.name)} -.- ${id("s", store)}`);
    }
  }
  for (const t of topics) lines.push(`  ${id("t", t)}(["${t}"])`);
  for (const s of d.stores) lines.push(`  ${id("s", s.name)}[("${s.name}")]`);
  return lines.join("\n") + "\n";
}
