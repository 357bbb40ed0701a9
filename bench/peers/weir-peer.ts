/**
 * weir's contender of `npm run bench`, following bench/peers/README.md: one {@link Worker} in this process runs the
 * workload's topology (bench/apps.ts) from the earliest offset until SIGTERM (or SIGINT), then stops gracefully
 * (`worker.stop()`: finish and commit in-flight work, close the stores, leave the group) and exits 0.
 *
 *   node --import tsx bench/peers/weir-peer.ts --brokers host:port --input TOPIC --output TOPIC --app-id ID
 *     --workload count|windowed-count|orders --guarantee exactly_once|at_least_once --commit-interval-ms N --state-dir DIR
 *
 * Exit status: 0 after a graceful stop; 1 when the worker fails (its reason on stderr) or a second signal cuts the
 * stop short; 2 on bad flags. The worker's warnings and errors go to stderr (JSON lines); nothing goes to stdout.
 */
import { Worker, jsonLogger, type ProcessingGuarantee, type Topology } from "../../topology/index.js";
import { countTopology, windowedCountTopology } from "../apps.js";
import { createTopology as orderPipeline } from "../../processors/app.js";
import { parseFlags } from "../lib.js";

const HELP = `usage: node --import tsx bench/peers/weir-peer.ts --brokers host:port --input TOPIC --output TOPIC
  --app-id ID --workload count|windowed-count|orders --guarantee exactly_once|at_least_once --commit-interval-ms N
  --state-dir DIR   (every flag is required; the contract is bench/peers/README.md)`;

const WORKLOADS: Record<string, (appId: string, input: string, output: string) => Topology> = {
  count: countTopology,
  "windowed-count": windowedCountTopology,
  // The order pipeline (bench/orders.ts) on its own topics (--input orders --output order-status; app id
  // weir-orders), calling the risk service at WEIR_BENCH_RISK_URL.
  orders: () => orderPipeline({ partitions: 0, riskUrl: process.env.WEIR_BENCH_RISK_URL }),
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
    },
    HELP,
  );
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const missing = Object.entries(flags)
    .filter(([, v]) => v === "" || v === -1)
    .map(([name]) => `--${kebab(name)}`);
  if (missing.length > 0) throw new Error(`missing flags: ${missing.join(", ")}\n${HELP}`);
  if (!(flags.workload in WORKLOADS))
    throw new Error(`--workload must be count, windowed-count or orders, got '${flags.workload}'`);
  if (flags.workload === "orders" && (flags.input !== "orders" || flags.output !== "order-status"))
    throw new Error(
      "--workload orders reads the pipeline's own topics: --input orders --output order-status",
    );
  if (flags.workload === "orders" && !process.env.WEIR_BENCH_RISK_URL)
    throw new Error("--workload orders needs WEIR_BENCH_RISK_URL (the risk service)");
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

const worker = new Worker(WORKLOADS[flags.workload]!(flags.appId, flags.input, flags.output), {
  brokers: flags.brokers,
  stateDir: flags.stateDir,
  guarantee: flags.guarantee,
  commitIntervalMs: flags.commitIntervalMs,
  logger: jsonLogger((line) => process.stderr.write(line), "warn"),
});

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
  await worker.done;
} catch (err) {
  process.stderr.write(`weir-peer: worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.exit(0);
