import { changelogTopic, type Topology, type TopologyNode } from "./builder.js";

export interface TopologyDescription {
  appId: string;
  subtopologies: Array<{
    id: number;
    sourceTopics: string[];
    sinkTopics: string[];
    stores: string[];
    nodes: Array<{
      name: string;
      type: TopologyNode["type"];
      topic?: string;
      stores?: string[];
      /** An asynchronous processor (processAsync): its limits. */
      async?: { concurrency: number; ordering: string; timeoutMs: number; attempts: number };
      children: string[];
      parents: string[];
    }>;
  }>;
  stores: Array<{
    name: string;
    kind: string;
    changelog: string | null;
    retentionMs?: number;
    ttlMs?: number;
    /** A global table's store: the topic every worker reads in full into it (subtopology is -1). */
    globalTopic?: string;
    /** A table's store whose changelog is this source topic. */
    sourceTopic?: string;
    subtopology: number;
  }>;
  topics: {
    inputs: string[];
    outputs: string[];
    internal: Array<{ name: string; kind: string; config: Record<string, string> }>;
    /** Topics read in full by every worker into global tables. */
    global: string[];
    deadLetter: string;
  };
}

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

/** Text in the spirit of Kafka Streams' TopologyDescription. */
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

/** A Mermaid flowchart: one subgraph per sub-topology, topics as stadium shapes, stores as cylinders. */
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
