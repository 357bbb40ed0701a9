/**
 * `weir reset`: start the application over, as Kafka Streams' application reset tool does. With the consumer
 * group (= application id) empty: move the group's input-topic offsets to the earliest offsets (or --to-datetime),
 * delete the internal topics (repartition, changelog) and the local state directory of the application.
 *
 * The offsets are moved without joining the group: a KafkaConsumer with group.id = app id commits explicit offsets
 * (commitSync) without subscribe() or assign(); the broker accepts such a "simple" commit only while the group has
 * no members, and reset checks that first (and again right before changing anything).
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { join, resolve } from "node:path";
import type { GroupDescriptions } from "@confluentinc/kafka-javascript";
import {
  committed,
  offsetsForTimes,
  partitionCounts,
  watermarks,
  deleteTopic,
  type IAdminClient,
} from "../topology/kafka.js";
import { loadTopology } from "./app.js";
import { MAX_DATE_MS, UsageError, intFlag, parse, renderHelp, runCommand, type CommandHelp } from "./args.js";
import { cliClientConfig, kafkaStep, pollUntil, withAdmin, withConsumer } from "./cli-clients.js";
import type { Command } from "./command.js";
import { sharedFlags } from "./command-flags.js";
import { loadConfig } from "./config.js";
import { inspectLock, lockedMessage } from "../topology/runtime/state-directory.js";
import { parsePosition } from "./offset-range.js";
import { printJson, table } from "./output.js";

const common = sharedFlags(["brokers", "app", "state-dir", "kafka", "config", "partitions"]);
const spec = {
  ...common.spec,
  "to-datetime": { type: "string" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  json: { type: "boolean" },
} as const;

const help: CommandHelp = {
  usage: "weir reset [--to-datetime ISO|ms] [--dry-run] [--yes] [options]",
  summary:
    "Reset the application so that it reprocesses its inputs from the start (or from --to-datetime): moves the\n" +
    "input-topic offsets of its consumer group (the application id), deletes its internal topics (repartition and\n" +
    "changelog; the workers recreate them) and its local state directories (<state-dir>/<app id>, and\n" +
    "<state-dir>/process-<i>/<app id> of weir worker --processes N). Output topics and\n" +
    "the dead-letter topic are left alone. Refuses while any worker is a member of the group (stop all workers\n" +
    "first). Asks for confirmation on a terminal; elsewhere pass --yes.\n" +
    "Exit status: 0 reset (or dry run), 1 refused or failed (nothing or not everything changed), 2 bad usage or\n" +
    "no confirmation possible.",
  flags: [
    ["--to-datetime T", "move offsets to the first record at/after T (ISO date or ms); default: earliest"],
    ["--dry-run", "show the plan, change nothing"],
    ["-y, --yes", "do not ask for confirmation"],
    ["--json", "print the plan and result as JSON"],
    ...common.help,
  ],
  examples: [
    "weir reset --dry-run",
    "weir reset --yes --state-dir /var/lib/weir",
    "weir reset --to-datetime 2024-05-01T00:00:00Z --app ./my-topology.js",
  ],
};

export const resetCommand: Command = {
  name: "reset",
  summary: "reset the application: offsets to earliest, internal topics and local state deleted",
  run: (argv) => runCommand("reset", help, () => reset(argv)),
};

export function parseDatetime(text: string): number {
  if (/^[-+]?\d+$/.test(text.trim())) return intFlag("to-datetime", text, 0, 0, MAX_DATE_MS);
  const p = parsePosition("to-datetime", text);
  if (p.kind !== "timestamp")
    throw new UsageError(`--to-datetime expects an ISO date or ms since the epoch, got '${text}'`);
  return p.ms;
}

interface OffsetMove {
  topic: string;
  partition: number;
  current: number | null;
  target: number;
}

async function describeGroup(admin: IAdminClient, group: string) {
  const result = await kafkaStep(
    `cannot describe consumer group ${group}`,
    () =>
      new Promise<GroupDescriptions>((res, rej) =>
        admin.describeGroups([group], { timeout: 10_000 }, (err, r) => (err ? rej(err) : res(r))),
      ),
  );
  const g = result.groups.find((x) => x.groupId === group);
  if (g?.error) throw new Error(`cannot describe consumer group ${group}: ${g.error.message}`);
  return g;
}

/**
 * Static members (weir's default, `--static-membership`) do not leave the group when their worker stops: the broker
 * removes them when their session times out. A group whose members are all static may be stopped workers: wait that
 * long for it to empty before refusing.
 */
const STATIC_MEMBER_WAIT_MS = 20_000;

async function requireEmptyGroup(admin: IAdminClient, group: string): Promise<void> {
  let g = await describeGroup(admin, group);
  let members = g?.members ?? [];
  const deadline = Date.now() + STATIC_MEMBER_WAIT_MS;
  let said = false;
  while (members.length > 0 && members.every((m) => m.groupInstanceId) && Date.now() < deadline) {
    if (!said)
      process.stderr.write(
        `weir reset: consumer group ${group} still has ${members.length} static member(s) ` +
          `(${members.map((m) => m.groupInstanceId).join(", ")}); stopped workers leave when their session times ` +
          `out: waiting up to ${STATIC_MEMBER_WAIT_MS / 1000} s\n`,
      );
    said = true;
    await new Promise((r) => setTimeout(r, 1000));
    g = await describeGroup(admin, group);
    members = g?.members ?? [];
  }
  if (members.length > 0)
    throw new Error(
      `consumer group ${group} has ${members.length} active member(s): ` +
        members.map((m) => `${m.clientId} on ${m.clientHost} (member ${m.memberId})`).join(", ") +
        `. Stop every worker of ${group} first (SIGTERM; a killed worker stays a member until its session times out, ~10 s), then run weir reset again.`,
    );
}

/**
 * The local state directory is not deleted under a live worker: one whose lock names a running process (it may be a
 * worker of another Kafka cluster, or one not in the group yet, which the group check does not see).
 */
function requireUnlockedStateDir(stateDir: string): void {
  const lock = inspectLock(stateDir);
  if (lock.kind === "held")
    throw new Error(
      `${lockedMessage(stateDir, lock).replace(/; give each worker.*$/, "")}: stop it before resetting (nothing changed)`,
    );
}

/**
 * The state directories of `weir worker --processes N` under `root` (`<root>/process-<i>/<app id>`) that exist: a
 * reset deletes them with the single worker's.
 */
export function processStateDirs(root: string, appId: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^process-\d+$/.test(n))
    .sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))
    .map((n) => resolve(join(root, n, appId)))
    .filter((dir) => existsSync(dir));
}

async function reset(argv: string[]): Promise<number> {
  const { values } = parse(argv, spec);
  if (values.help) {
    process.stdout.write(renderHelp(help));
    return 0;
  }
  const toDatetime =
    values["to-datetime"] === undefined ? undefined : parseDatetime(values["to-datetime"] as string);
  const dryRun = values["dry-run"] === true;
  const json = values.json === true;
  const config = loadConfig(values);
  const topology = await loadTopology(config.app, { partitions: config.partitions });
  const group = topology.appId;
  const stateDir = resolve(join(config.stateDir, topology.appId));
  const processDirs = processStateDirs(config.stateDir, topology.appId);
  // The members topic too: the URLs of workers that are gone with the application.
  const internal = [...topology.internalTopics.map((t) => t.name), topology.membersTopic];

  return withAdmin(cliClientConfig(config, "reset-admin"), async (admin) => {
    await requireEmptyGroup(admin, group);
    for (const dir of [stateDir, ...processDirs]) requireUnlockedStateDir(dir);
    return withConsumer(
      {
        ...cliClientConfig(config, "reset"),
        "group.id": group,
        "enable.auto.commit": false,
        "isolation.level": "read_committed",
      },
      async (consumer) => {
        const topics = await kafkaStep("cannot read the topic metadata", () => partitionCounts(consumer));
        const moves: OffsetMove[] = [];
        const missingInputs = topology.inputTopics.filter((t) => !topics.has(t));
        for (const topic of topology.inputTopics) {
          const n = topics.get(topic);
          if (n === undefined) continue;
          const tps = Array.from({ length: n }, (_, partition) => ({ topic, partition }));
          const current = await kafkaStep(`cannot read the committed offsets of ${group}`, () =>
            committed(consumer, tps),
          );
          const byTime =
            toDatetime === undefined
              ? undefined
              : await kafkaStep(`cannot look up offsets by time on ${topic}`, () =>
                  offsetsForTimes(
                    consumer,
                    tps.map((tp) => ({ ...tp, offset: toDatetime })),
                  ),
                );
          for (const { partition } of tps) {
            const w = await kafkaStep(`cannot read the offsets of ${topic}/${partition}`, () =>
              watermarks(consumer, topic, partition),
            );
            const t = byTime?.find((r) => r.partition === partition)?.offset;
            const c = current.find((r) => r.partition === partition)?.offset ?? -1;
            moves.push({
              topic,
              partition,
              current: c >= 0 ? c : null,
              target: toDatetime === undefined ? w.lowOffset : t === undefined || t < 0 ? w.highOffset : t,
            });
          }
        }
        const deleteTopics = internal.filter((t) => topics.has(t));
        const deleteState = existsSync(stateDir);
        const plan = {
          app: topology.appId,
          group,
          to: toDatetime === undefined ? "earliest" : new Date(toDatetime).toISOString(),
          offsets: moves,
          missingInputs,
          deleteTopics,
          stateDir,
          deleteStateDir: deleteState,
          processStateDirs: processDirs,
          dryRun,
        };
        if (!json) printPlan(plan);
        if (dryRun) {
          if (json) printJson({ ...plan, done: false });
          else process.stdout.write("dry run: nothing changed\n");
          return 0;
        }
        if (values.yes !== true) {
          if (!process.stdin.isTTY)
            throw new UsageError(
              "reset changes offsets and deletes topics and state: confirm with --yes (stdin is not a terminal)",
            );
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`Reset application ${group}? This cannot be undone. [y/N] `);
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) {
            process.stderr.write("weir reset: not confirmed; nothing changed\n");
            return 1;
          }
        }
        await requireEmptyGroup(admin, group); // again: a worker may have started meanwhile
        for (const dir of [stateDir, ...processDirs]) requireUnlockedStateDir(dir);
        if (moves.length > 0)
          await kafkaStep(`cannot commit the offsets of group ${group} (did a worker join it?)`, async () => {
            consumer.commitSync(
              moves.map((m) => ({ topic: m.topic, partition: m.partition, offset: m.target })),
            );
          });
        for (const t of deleteTopics)
          await kafkaStep(`cannot delete topic ${t}`, () => deleteTopic(admin, t));
        const gone = await pollUntil(async () => {
          const now = await partitionCounts(consumer);
          return deleteTopics.every((t) => !now.has(t));
        }, 30_000);
        if (!gone)
          process.stderr.write(
            "weir reset: warning: the broker still lists some deleted topics after 30 s; wait before starting workers\n",
          );
        if (deleteState) rmSync(stateDir, { recursive: true, force: true });
        for (const dir of processDirs) rmSync(dir, { recursive: true, force: true });
        if (json) printJson({ ...plan, done: true });
        else
          process.stdout.write(
            `reset ${group}: ${moves.length} offset(s) moved, ${deleteTopics.length} internal topic(s) deleted` +
              `${deleteState ? `, ${stateDir} deleted` : ""}` +
              `${processDirs.length > 0 ? `, ${processDirs.join(", ")} (--processes) deleted` : ""}. Other machines' state directories of ${group} must be deleted ` +
              `there (or they are wiped on start when their checkpoints are ahead of the new changelogs).\n`,
          );
        return 0;
      },
    );
  });
}

function printPlan(plan: {
  group: string;
  to: string;
  offsets: OffsetMove[];
  missingInputs: string[];
  deleteTopics: string[];
  stateDir: string;
  deleteStateDir: boolean;
  processStateDirs: string[];
}): void {
  const out: string[] = [`Reset plan for consumer group ${plan.group} (offsets to ${plan.to}):`];
  if (plan.offsets.length)
    out.push(
      table([
        ["TOPIC", "PARTITION", "CURRENT", "NEW"],
        ...plan.offsets.map((m) => [
          m.topic,
          String(m.partition),
          m.current === null ? "-" : String(m.current),
          String(m.target),
        ]),
      ]).trimEnd(),
    );
  if (plan.missingInputs.length)
    out.push(`input topics that do not exist (skipped): ${plan.missingInputs.join(", ")}`);
  out.push(
    `delete internal topics: ${plan.deleteTopics.length ? plan.deleteTopics.join(", ") : "(none exist)"}`,
  );
  out.push(
    `delete local state: ${plan.deleteStateDir ? plan.stateDir : `(${plan.stateDir} does not exist)`}`,
  );
  for (const dir of plan.processStateDirs) out.push(`delete local state (--processes): ${dir}`);
  process.stdout.write(out.join("\n") + "\n");
}
