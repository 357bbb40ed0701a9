/**
 * Produces docs/prometheus-demo.png: a worker runs the order pipeline on a generated workload while Debian's
 * Prometheus scrapes it; headless Chromium captures Prometheus' graph of weir's throughput.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx scripts/screenshot-metrics.ts [--orders N]
 *
 * Needs the broker, `prometheus` and `chromium` (apt-get install prometheus chromium).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { APP_ID, createTopology } from "../processors/app.js";
import { startRiskService } from "../processors/risk-service.js";
import { deleteGroup, deleteTopics } from "../bin/workload-kafka.js";
import { PrometheusServer } from "../test/helpers/prometheus.js";
import { REPO, WorkerProcess, weirCommand } from "../test/helpers/worker-process.js";

const orders = Number(process.argv[process.argv.indexOf("--orders") + 1] || 30000);
const brokers = process.env.KAFKA_BROKERS ?? "127.0.0.1:9092";
const weir = (args: string[]) => {
  const { command, argv } = weirCommand(args);
  const r = spawnSync(command, argv, {
    cwd: REPO,
    stdio: "inherit",
    env: { ...process.env, KAFKA_BROKERS: brokers },
  });
  if (r.status !== 0) throw new Error(`weir ${args.join(" ")} exited ${r.status}`);
};

const topology = createTopology({ partitions: 2 });
await deleteTopics(brokers, [
  ...new Set([
    ...topology.sourceTopics,
    ...topology.outputTopics,
    ...topology.internalTopics.map((t) => t.name),
    topology.deadLetterTopic,
  ]),
]);
await deleteGroup(brokers, APP_ID);
weir(["topics", "create", "--partitions", "2"]);
const risk = await startRiskService();
const worker = new WorkerProcess({ env: { KAFKA_BROKERS: brokers, WEIR_RISK_URL: risk.url } }).start();
await worker.waitReady();
const prometheus = await new PrometheusServer().start([new URL(worker.url).host]);
try {
  await new Promise((r) => setTimeout(r, 5000));
  // One generated workload (order ids are the same for every seed: a second run would be all duplicates).
  weir(["generate", "--orders", String(orders), "--seed", "21", "--start", "now"]);
  await new Promise((r) => setTimeout(r, 30_000));
  const expr = "sum by (topic) (rate(weir_records_consumed_total[5s]))";
  const url = `${prometheus.url}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=1m&g0.stacked=0`;
  const out = join(REPO, "docs/prometheus-demo.png");
  const shot = spawnSync(
    "chromium",
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${join(worker.stateDir, "chromium")}`,
      "--window-size=1400,900",
      "--virtual-time-budget=15000",
      `--screenshot=${out}`,
      url,
    ],
    { stdio: "inherit" },
  );
  if (shot.status !== 0) throw new Error(`chromium exited ${shot.status}`);
  console.log(`wrote ${out}`);
} finally {
  await worker.stop();
  await prometheus.stop();
  await risk.close();
}
