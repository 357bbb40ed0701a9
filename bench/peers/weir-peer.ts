/**
 * weir's contender of `npm run bench`, following bench/peers/README.md: one {@link Worker} in this process runs the
 * workload's topology (bench/apps.ts) from the earliest offset until SIGTERM (or SIGINT), then stops gracefully
 * (`worker.stop()`: finish and commit in-flight work, close the stores, leave the group) and exits 0.
 *
 *   node --import tsx bench/peers/weir-peer.ts --brokers host:port --input TOPIC --output TOPIC --app-id ID
 *     --workload count|windowed-count|orders|join|restore --guarantee exactly_once|at_least_once
 *     --commit-interval-ms N --state-dir DIR [--table TOPIC]
 *
 * `join` needs `--table` (bench/apps.ts joinTopology). `restore` runs `count` and, once the worker is ready (its
 * stores restored from their changelog), writes `restored <records> <ms>` to stderr: the records restored and the
 * first "restoring store" to the last "store restored" of its own log (bench/restore-timing.ts). `orders` runs the
 * order pipeline (bench/orders.ts) on its own topics.
 *
 * Exit status: 0 after a graceful stop; 1 when the worker fails (its reason on stderr) or a second signal cuts the
 * stop short; 2 on bad flags. The worker's warnings and errors go to stderr (JSON lines); nothing goes to stdout.
 */
import { Worker, jsonLogger, type ProcessingGuarantee, type Topology } from "../../topology/index.js";
import { countTopology, joinTopology, windowedCountTopology } from "../apps.js";
import { createTopology as orderPipeline } from "../../processors/app.js";
import { parseFlags, sleep } from "../lib.js";
import { recordingLogger, restoreSpans, type RestoreEvent } from "../restore-timing.js";

const HELP = `usage: node --import tsx bench/peers/weir-peer.ts --brokers host:port --input TOPIC --output TOPIC
  --app-id ID --workload count|windowed-count|orders|join|restore --guarantee exactly_once|at_least_once
  --commit-interval-ms N --state-dir DIR [--table TOPIC]   (every flag but --table is required, --table is for
  join; the contract is bench/peers/README.md)`;

const WORKLOADS: Record<string, (appId: string, input: string, output: string, table: string) => Topology> = {
  count: countTopology,
  "windowed-count": windowedCountTopology,
  // The order pipeline (bench/orders.ts) on its own topics (--input orders --output order-status; app id
  // weir-orders), calling the risk service at WEIR_BENCH_RISK_URL.
  orders: () => orderPipeline({ partitions: 0, riskUrl: process.env.WEIR_BENCH_RISK_URL }),
  join: joinTopology,
  restore: countTopology,
};
const GUARANTEES: readonly string[] = ["exactly_once", "at_least_once"] satisfies ProcessingGuarantee[];

/** The contract's flags, every one required. */
function readFlags(argv: string[]) {
  const flags = parseFlags(
    argv,
    {
      brokers: "",
      input: "",
      output: "",
      appId: "",
      workload: "",
      guarantee: "",
      commitIntervalMs: -1,
      stateDir: "",
      table: "",
    },
    HELP,
  );
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const missing = Object.entries(flags)
    .filter(([name, v]) => name !== "table" && (v === "" || v === -1))
    .map(([name]) => `--${kebab(name)}`);
  if (missing.length > 0) throw new Error(`missing flags: ${missing.join(", ")}\n${HELP}`);
  if (!(flags.workload in WORKLOADS))
    throw new Error(
      `--workload must be count, windowed-count, orders, join or restore, got '${flags.workload}'`,
    );
  if (flags.workload === "orders" && (flags.input !== "orders" || flags.output !== "order-status"))
    throw new Error(
      "--workload orders reads the pipeline's own topics: --input orders --output order-status",
    );
  if (flags.workload === "orders" && !process.env.WEIR_BENCH_RISK_URL)
    throw new Error("--workload orders needs WEIR_BENCH_RISK_URL (the risk service)");
  if (flags.workload === "join" && flags.table === "")
    throw new Error(`--workload join needs --table\n${HELP}`);
  if (!GUARANTEES.includes(flags.guarantee))
    throw new Error(`--guarantee must be exactly_once or at_least_once, got '${flags.guarantee}'`);
  return { ...flags, guarantee: flags.guarantee as ProcessingGuarantee };
}

let flags: ReturnType<typeof readFlags>;
try {
  flags = readFlags(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

const restoreEvents: RestoreEvent[] = [];
const worker = new Worker(WORKLOADS[flags.workload]!(flags.appId, flags.input, flags.output, flags.table), {
  brokers: flags.brokers,
  stateDir: flags.stateDir,
  guarantee: flags.guarantee,
  commitIntervalMs: flags.commitIntervalMs,
  logger:
    flags.workload === "restore"
      ? recordingLogger(restoreEvents)
      : jsonLogger((line) => process.stderr.write(line), "warn"),
});

/** `restore`: the line the harness waits for, once the worker is ready (its stores restored). */
async function reportRestore(): Promise<void> {
  while (!worker.ready) {
    if (worker.state === "failed" || worker.state === "stopped") return;
    await sleep(5);
  }
  const restored = [...worker.restoredRecords.values()].reduce((a, b) => a + b, 0);
  const { wallMs } = restoreSpans(restoreEvents);
  process.stderr.write(`restored ${restored} ${Math.round(wallMs)}\n`);
  // Later events still accumulate, until the harness stops the peer after its probes (a few seconds).
  restoreEvents.length = 0;
}

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals > 1) {
    process.stderr.write(`weir-peer: second signal (${signal}): exiting without finishing the stop\n`);
    process.exit(1);
  }
  void worker.stop(signal);
};
process.on("SIGTERM", onSignal);
process.on("SIGINT", onSignal);

try {
  await worker.start();
  if (flags.workload === "restore") void reportRestore().catch(() => undefined);
  await worker.done;
} catch (err) {
  process.stderr.write(`weir-peer: worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.exit(0);
