/**
 * `weir topics create|describe`: the topics of a topology, as the runtime needs them.
 *
 * create — inputs and outputs with --partitions; internal topics (repartition, changelog) with the partition count
 * the runtime derives from the inputs (Topology.resolvePartitions) and their cleanup policy (changelog: compact;
 * window changelog: compact,delete); the dead-letter topic. Idempotent. Topics that exist with another partition
 * count or cleanup policy are reported, never altered: exit 1 with what to do.
 */
import type { Topology } from "../topology/index.js";
import {
  ensureTopics,
  partitionCounts,
  watermarks,
  committed,
  type IAdminClient,
  type Producer,
} from "../topology/kafka.js";
import { loadTopology } from "./app.js";
import { UsageError, parse, renderHelp, runCommand, type CommandHelp } from "./args.js";
import { cliClientConfig, kafkaStep, withAdmin, withConsumer, withProducer } from "./cli-clients.js";
import type { Command } from "./command.js";
import { sharedFlags } from "./command-flags.js";
import { loadConfig, type WeirConfig } from "./config.js";
import { printJson, table } from "./output.js";
import { describeTopicConfigs } from "./topic-configs.js";

export type TopicRole =
  "input" | "output" | "global" | "repartition" | "changelog" | "dead-letter" | "members";

export interface PlannedTopic {
  name: string;
  role: TopicRole;
  /** Partitions required; undefined = any (the dead-letter topic). */
  partitions: number | undefined;
  /** Partitions to create it with when missing. */
  createPartitions: number;
  config: Record<string, string>;
}

const DEAD_LETTER_PARTITIONS = 1; // as the worker creates it

/**
 * Every topic of the topology with the partitions it needs, given the partition counts of topics that exist.
 * External topics that do not exist are planned with `partitions`; internal topics follow resolvePartitions.
 */
export function planTopics(
  topology: Topology,
  existing: ReadonlyMap<string, number>,
  partitions: number,
): PlannedTopic[] {
  const internal = new Set(topology.internalTopics.map((t) => t.name));
  const planned: PlannedTopic[] = [];
  const seen = new Set<string>();
  const configs = topology.topicConfigs;
  // A table whose changelog is its source topic needs that topic compacted, as a changelog is.
  for (const def of topology.stores.values())
    if (def.sourceTopic !== undefined)
      configs.set(def.sourceTopic, {
        ...configs.get(def.sourceTopic),
        "cleanup.policy": "compact",
      });
  for (const [role, names] of [
    ["input", topology.inputTopics],
    ["output", topology.outputTopics],
  ] as const)
    for (const name of names) {
      if (seen.has(name) || internal.has(name)) continue;
      seen.add(name);
      planned.push({
        name,
        role,
        partitions,
        createPartitions: partitions,
        config: { ...configs.get(name) },
      });
    }
  // A global table's topic holds the table: compacted, so that every worker can rebuild it from the topic alone.
  for (const { topic } of topology.globalStores)
    if (!seen.has(topic)) {
      seen.add(topic);
      planned.push({
        name: topic,
        role: "global",
        partitions: undefined,
        createPartitions: partitions,
        config: { "cleanup.policy": "compact" },
      });
    }
  const projected = (t: string) => (internal.has(t) ? undefined : (existing.get(t) ?? partitions));
  const partitionsOf = topology.resolvePartitions(projected);
  for (const t of topology.internalTopics) {
    const n = partitionsOf.get(t.partitionsOf)!;
    planned.push({ name: t.name, role: t.kind, partitions: n, createPartitions: n, config: { ...t.config } });
  }
  planned.push({
    name: topology.deadLetterTopic,
    role: "dead-letter",
    partitions: undefined,
    createPartitions: DEAD_LETTER_PARTITIONS,
    config: {},
  });
  planned.push({
    name: topology.membersTopic,
    role: "members",
    partitions: 1,
    createPartitions: 1,
    config: { "cleanup.policy": "compact" },
  });
  return planned;
}

const samePolicy = (a: string | null | undefined, b: string | undefined): boolean =>
  (a ?? "")
    .split(",")
    .map((s) => s.trim())
    .sort()
    .join(",") ===
  (b ?? "")
    .split(",")
    .map((s) => s.trim())
    .sort()
    .join(",");

export interface TopicStatus {
  name: string;
  role: TopicRole;
  status: "created" | "exists" | "would-create" | "mismatch";
  partitions: number;
  requiredPartitions?: number;
  cleanupPolicy?: string | null;
  requiredCleanupPolicy?: string;
  problems: string[];
}

const help: Record<"create" | "describe" | "top", CommandHelp> = {
  top: {
    usage: "weir topics <create|describe> [options]",
    summary:
      "Create or inspect the topics of the application (inputs, outputs, internal topics, dead-letter topic).",
    flags: [],
    examples: ["weir topics create", "weir topics describe --json", "weir topics create --help"],
  },
  create: {
    usage: "weir topics create [options]",
    summary:
      "Create every topic of the topology that does not exist: inputs and outputs with --partitions, internal\n" +
      "repartition and changelog topics with the partition count the runtime derives from the inputs (changelogs\n" +
      "compacted; window-store changelogs compact,delete), and the dead-letter topic <app>-dlq. Idempotent.\n" +
      "Existing topics are never altered: one with another partition count or cleanup policy than required is\n" +
      "reported and the exit status is 1.",
    flags: [],
    examples: [
      "weir topics create                                  # the order pipeline, 3 partitions per input/output",
      "weir topics create --partitions 6 --dry-run         # show what would be created",
      "weir topics create --app ./my-topology.js --json",
    ],
  },
  describe: {
    usage: "weir topics describe [options]",
    summary:
      "For each topic of the topology: whether it exists, its partitions (and the required count), its cleanup\n" +
      "policy, and for inputs the end offsets, the committed offsets of the application's consumer group and the lag.",
    flags: [],
    examples: [
      "weir topics describe",
      "weir topics describe --app ./my-topology.js --json | jq '.topics[] | select(.exists == false)'",
    ],
  },
};

const common = sharedFlags(["brokers", "app", "partitions", "kafka", "config"]);
const createSpec = { ...common.spec, json: { type: "boolean" }, "dry-run": { type: "boolean" } } as const;
const describeSpec = { ...common.spec, json: { type: "boolean" } } as const;
help.create.flags = [
  ...common.help,
  ["--dry-run", "show what would be created, create nothing"],
  ["--json", "print the result as JSON"],
];
help.describe.flags = [
  ...common.help.filter(([f]) => !f.startsWith("--partitions")),
  ["--json", "print the result as JSON"],
];
help.top.flags = [];

export const topicsCommand: Command = {
  name: "topics",
  summary: "create or describe the application's topics",
  run: async (argv) => {
    const [sub, ...rest] = argv;
    if (sub === "create") return runCommand("topics create", help.create, () => create(rest));
    if (sub === "describe") return runCommand("topics describe", help.describe, () => describe(rest));
    return runCommand("topics", help.top, async () => {
      if (sub === undefined || sub === "-h" || sub === "--help") {
        process.stdout.write(renderHelp(help.top));
        return sub === undefined ? 2 : 0;
      }
      throw new UsageError(`unknown subcommand '${sub}': expected 'create' or 'describe'`);
    });
  },
};

async function create(argv: string[]): Promise<number> {
  const { values } = parse(argv, createSpec);
  if (values.help) {
    process.stdout.write(renderHelp(help.create));
    return 0;
  }
  const config = loadConfig(values);
  const topology = await loadTopology(config.app, { partitions: config.partitions });
  const dryRun = values["dry-run"] === true;
  const statuses = await withProducer(cliClientConfig(config, "topics"), async (producer) => {
    const existing = await kafkaStep("cannot read the topic metadata", () => partitionCounts(producer));
    const plan = planTopics(topology, existing, config.partitions);
    const statuses: TopicStatus[] = [];
    const missing = plan.filter((t) => !existing.has(t.name));
    if (!dryRun && missing.length > 0)
      await withAdmin(cliClientConfig(config, "topics-admin"), (admin: IAdminClient) =>
        kafkaStep("cannot create topics", () =>
          ensureTopics(
            admin,
            existing,
            missing.map((t) => ({ name: t.name, partitions: t.createPartitions, config: t.config })),
          ),
        ),
      );
    const policies = await describeTopicConfigs(
      config.brokers,
      config.kafka,
      plan
        .filter((t) => existing.has(t.name) && t.role !== "input" && t.role !== "output")
        .map((t) => t.name),
      ["cleanup.policy"],
    );
    for (const t of plan) {
      const have = existing.get(t.name);
      if (have === undefined) {
        statuses.push({
          name: t.name,
          role: t.role,
          status: dryRun ? "would-create" : "created",
          partitions: t.createPartitions,
          ...(t.config["cleanup.policy"] ? { cleanupPolicy: t.config["cleanup.policy"] } : {}),
          problems: [],
        });
        continue;
      }
      const problems: string[] = [];
      if (t.partitions !== undefined && have !== t.partitions)
        problems.push(`has ${have} partitions, needs ${t.partitions}`);
      const policy = policies?.get(t.name)?.get("cleanup.policy");
      const required = t.config["cleanup.policy"];
      if (required && policy !== undefined && !samePolicy(policy, required))
        problems.push(`cleanup.policy is ${policy ?? "(unset)"}, needs ${required}`);
      statuses.push({
        name: t.name,
        role: t.role,
        status: problems.length > 0 ? "mismatch" : "exists",
        partitions: have,
        ...(t.partitions !== undefined ? { requiredPartitions: t.partitions } : {}),
        ...(policy !== undefined ? { cleanupPolicy: policy } : {}),
        ...(required ? { requiredCleanupPolicy: required } : {}),
        problems,
      });
    }
    return statuses;
  });
  const mismatched = statuses.filter((s) => s.status === "mismatch");
  const advice = adviceFor(mismatched, topology, config);
  if (values.json)
    printJson({ app: topology.appId, dryRun, ok: mismatched.length === 0, topics: statuses, advice });
  else {
    process.stdout.write(
      table([
        ["TOPIC", "ROLE", "PARTITIONS", "CLEANUP", "STATUS"],
        ...statuses.map((s) => [
          s.name,
          s.role,
          String(s.partitions),
          s.cleanupPolicy ??
            (s.role === "input" || s.role === "output" || s.role === "dead-letter" ? "-" : "?"),
          s.status === "mismatch" ? `MISMATCH: ${s.problems.join("; ")}` : s.status,
        ]),
      ]),
    );
    const created = statuses.filter((s) => s.status === "created" || s.status === "would-create").length;
    process.stdout.write(
      `${dryRun ? "dry run: would create" : "created"} ${created} topic(s), ${statuses.length - created} already existed` +
        (mismatched.length ? `, ${mismatched.length} mismatched` : "") +
        "\n",
    );
    if (advice.length) process.stderr.write(advice.map((a) => `weir topics create: ${a}`).join("\n") + "\n");
  }
  return mismatched.length > 0 ? 1 : 0;
}

function adviceFor(mismatched: TopicStatus[], topology: Topology, config: WeirConfig): string[] {
  const advice: string[] = [];
  const external = mismatched.filter((s) => s.role === "input" || s.role === "output");
  const internal = mismatched.filter((s) => s.role === "repartition" || s.role === "changelog");
  if (external.length > 0)
    advice.push(
      `${external.map((s) => s.name).join(", ")} exist(s) with another partition count than --partitions ${config.partitions}: ` +
        `pass --partitions ${external[0]!.partitions} to match the existing topics, or delete and recreate them ` +
        `(their data is partitioned by key for the old count)`,
    );
  if (internal.length > 0)
    advice.push(
      `internal topics ${internal.map((s) => s.name).join(", ")} do not fit the topology: stop the workers and run ` +
        `'weir reset${config.app ? ` --app ${config.app}` : ""}' (deletes internal topics and local state of ${topology.appId}; ` +
        `they are rebuilt), then 'weir topics create' again`,
    );
  return advice;
}

interface DescribedTopic {
  name: string;
  role: TopicRole;
  exists: boolean;
  partitions?: number;
  requiredPartitions?: number;
  cleanupPolicy?: string | null;
  /** For inputs: per partition low/high watermark, committed offset of the application's group, lag. */
  offsets?: Array<{
    partition: number;
    low: number;
    high: number;
    committed: number | null;
    lag: number | null;
  }>;
  records?: number;
}

async function describe(argv: string[]): Promise<number> {
  const { values } = parse(argv, describeSpec);
  if (values.help) {
    process.stdout.write(renderHelp(help.describe));
    return 0;
  }
  const config = loadConfig(values);
  const topology = await loadTopology(config.app, { partitions: config.partitions });
  const described = await withProducer(cliClientConfig(config, "topics"), async (producer: Producer) => {
    const existing = await kafkaStep("cannot read the topic metadata", () => partitionCounts(producer));
    let plan: PlannedTopic[];
    try {
      plan = planTopics(topology, existing, config.partitions);
    } catch {
      plan = planTopics(topology, new Map(), config.partitions).map((t) => ({ ...t, partitions: undefined }));
    }
    const policies = await describeTopicConfigs(
      config.brokers,
      config.kafka,
      plan.filter((t) => existing.has(t.name)).map((t) => t.name),
      ["cleanup.policy"],
    );
    const inputs = plan.filter((t) => t.role === "input" && existing.has(t.name));
    const committedOffsets = new Map<string, number>();
    if (inputs.length > 0)
      await withConsumer(
        { ...cliClientConfig(config, "topics"), "group.id": topology.appId, "enable.auto.commit": false },
        async (c) => {
          const tps = inputs.flatMap((t) =>
            Array.from({ length: existing.get(t.name)! }, (_, partition) => ({ topic: t.name, partition })),
          );
          const result = await kafkaStep(`cannot read the committed offsets of group ${topology.appId}`, () =>
            committed(c, tps),
          );
          for (const r of result)
            if (r.offset >= 0) committedOffsets.set(`${r.topic}/${r.partition}`, r.offset);
        },
      );
    const out: DescribedTopic[] = [];
    for (const t of plan) {
      const n = existing.get(t.name);
      const d: DescribedTopic = { name: t.name, role: t.role, exists: n !== undefined };
      if (
        t.partitions !== undefined &&
        (t.role === "repartition" || t.role === "changelog" || n !== undefined)
      )
        d.requiredPartitions = t.partitions;
      if (n !== undefined) {
        d.partitions = n;
        const policy = policies?.get(t.name)?.get("cleanup.policy");
        if (policy !== undefined) d.cleanupPolicy = policy;
        const offsets: NonNullable<DescribedTopic["offsets"]> = [];
        for (let p = 0; p < n; p++) {
          const w = await kafkaStep(`cannot read the offsets of ${t.name}/${p}`, () =>
            watermarks(producer, t.name, p),
          );
          const c = committedOffsets.get(`${t.name}/${p}`);
          offsets.push({
            partition: p,
            low: w.lowOffset,
            high: w.highOffset,
            committed: t.role === "input" ? (c ?? null) : null,
            lag: t.role === "input" ? w.highOffset - (c ?? w.lowOffset) : null,
          });
        }
        d.records = offsets.reduce((sum, o) => sum + o.high - o.low, 0);
        if (t.role === "input") d.offsets = offsets;
      }
      out.push(d);
    }
    return out;
  });
  if (values.json) {
    printJson({ app: topology.appId, group: topology.appId, topics: described });
    return 0;
  }
  process.stdout.write(
    table([
      ["TOPIC", "ROLE", "EXISTS", "PARTITIONS", "CLEANUP", "RECORDS"],
      ...described.map((d) => [
        d.name,
        d.role,
        d.exists ? "yes" : "NO",
        d.exists
          ? `${d.partitions}${d.requiredPartitions !== undefined && d.requiredPartitions !== d.partitions ? ` (needs ${d.requiredPartitions})` : ""}`
          : "-",
        d.cleanupPolicy ?? "-",
        d.records === undefined ? "-" : String(d.records),
      ]),
    ]),
  );
  const inputs = described.filter((d) => d.offsets);
  if (inputs.length > 0) {
    process.stdout.write(`\nInput offsets (consumer group ${topology.appId}):\n`);
    process.stdout.write(
      table([
        ["TOPIC", "PARTITION", "LOG-START", "END-OFFSET", "COMMITTED", "LAG"],
        ...inputs.flatMap((d) =>
          d.offsets!.map((o) => [
            d.name,
            String(o.partition),
            String(o.low),
            String(o.high),
            o.committed === null ? "-" : String(o.committed),
            String(o.lag),
          ]),
        ),
      ]),
    );
  }
  const missing = described.filter((d) => !d.exists);
  if (missing.length > 0)
    process.stdout.write(`\n${missing.length} topic(s) missing: run 'weir topics create' to create them\n`);
  return 0;
}
