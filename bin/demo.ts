/**
 * `weir demo`: the whole order pipeline on a real broker, end to end, in about a minute.
 *
 * Topic names and the application id are fixed (the order pipeline's own: `weir-orders`, `orders`, ...), so each run
 * starts from nothing: the demo deletes the application's topics and consumer group, creates every topic afresh
 * (inputs, outputs, internal, dead letters) and gives each worker a fresh state directory. Do not run it against a
 * cluster where someone else's `weir-orders` lives.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Kafka, RdKafka, connect, disconnect, type Message } from "../topology/kafka.js";
import { APP_ID, TOPIC_CONFIGS, Topics, createTopology } from "../processors/app.js";
import { FINAL_STATUSES } from "../processors/orders.js";
import { startRiskService, type RiskService } from "../processors/risk-service.js";
import {
  MAX_TIMER_MS,
  intFlag,
  latencyRange,
  numberFlag,
  parse,
  renderHelp,
  runCommand,
  type CommandHelp,
} from "./args.js";
import { packageRoot, type Command } from "./command.js";
import { progressReporter, produceWorkload, workloadOptions } from "./generate.js";
import { verifyOnKafka } from "./verify.js";
import { createTopics, deleteGroup, deleteTopics, endOffsets, topicPartitions } from "./workload-kafka.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A sleep that does not keep the process alive (for the losing side of a race). */
const unrefSleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
const here = dirname(fileURLToPath(import.meta.url));

function startLocalBroker(log: (line: string) => void): string {
  log("starting the local broker (scripts/broker.sh start) ...");
  const root = packageRoot();
  // Installed from npm, the package folder is node_modules/weir: the broker's jars and data go to ./.weir instead.
  const installed = root.split(/[\\/]/).includes("node_modules");
  const out = execFileSync("bash", [join(root, "scripts", "broker.sh"), "start"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env:
      installed && !process.env.WEIR_HOME
        ? { ...process.env, WEIR_HOME: join(process.cwd(), ".weir") }
        : process.env,
  });
  const address = out.trim().split("\n").pop();
  if (!address) throw new Error("scripts/broker.sh start printed no address");
  return address;
}

/** A worker process of the demo (and the chaos run): its log goes to `<runDir>/worker-<index>.<generation>.log`. */
export interface WorkerProcess {
  index: number;
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<number | null>;
  stateDir: string;
}

/** Every topic of the order pipeline (inputs, outputs, internal, dead letters), each with `partitions` partitions. */
export function orderPipelineTopics(
  partitions: number,
): Array<{ name: string; partitions: number; config: Record<string, string> }> {
  const topology = createTopology({ partitions });
  return [
    ...[
      Topics.orders,
      Topics.payments,
      Topics.restocks,
      Topics.ordersValidated,
      Topics.ordersPaid,
      Topics.orderStatus,
      Topics.stockLevels,
    ].map((name) => ({ name, partitions, config: { ...(TOPIC_CONFIGS[name] ?? {}) } })),
    ...topology.internalTopics.map((t) => ({ name: t.name, partitions, config: { ...t.config } })),
    { name: topology.deadLetterTopic, partitions: 1, config: {} },
    // Where workers advertise their interactive-query URLs: one left from an earlier run names workers long gone.
    { name: topology.membersTopic, partitions: 1, config: { "cleanup.policy": "compact" } },
  ];
}

/** Start `weir worker` with the runtime this process runs on (node + its flags, e.g. tsx's loader). */
export function spawnWorker(
  index: number,
  brokers: string,
  partitions: number,
  runDir: string,
  generation: number,
  riskUrl: string,
): WorkerProcess {
  const stateDir = join(runDir, `worker-${index}`);
  const script = join(here, `weir${extname(fileURLToPath(import.meta.url))}`);
  // Under tsx (npm start) its loader is in execArgv; from a host that compiles TypeScript itself (vitest, for the
  // chaos test) it is not, and a .ts entry point needs it.
  const runtime =
    script.endsWith(".ts") && !process.execArgv.some((a) => a.includes("tsx"))
      ? ["--import", "tsx"]
      : process.execArgv;
  const args = [
    ...runtime,
    script,
    "worker",
    "--brokers",
    brokers,
    "--state-dir",
    stateDir,
    "--http-port",
    "0",
    "--partitions",
    String(partitions),
    "--risk-url",
    riskUrl,
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "ignore", "pipe"],
    // As the Dockerfile: the client's blocking calls run on libuv's pool, one thread per client at least (README).
    env: { UV_THREADPOOL_SIZE: "16", ...process.env },
  });
  const logFile = createWriteStream(join(runDir, `worker-${index}.${generation}.log`));
  child.stderr!.pipe(logFile);
  const url = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (line) => {
      if (!line.includes("http server listening")) return;
      try {
        resolve(String((JSON.parse(line) as { url: string }).url));
      } catch {
        // not JSON: keep looking
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`worker ${index} exited (${code}) before serving HTTP; see ${logFile.path}`)),
    );
  });
  url.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { index, child, url, exited, stateDir };
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, body: await res.text() };
}

/** Resolves when every worker's /readyz answers 200. */
export async function waitReady(workers: WorkerProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const w of workers) {
    const url = await Promise.race([
      w.url,
      unrefSleep(timeoutMs).then(() =>
        Promise.reject(new Error(`worker ${w.index}: no HTTP after ${timeoutMs} ms`)),
      ),
    ]);
    for (;;) {
      const ready = await httpGet(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline)
        throw new Error(`worker ${w.index} not ready after ${timeoutMs} ms (${url}/readyz)`);
      await sleep(250);
    }
  }
}

/** Sum of `weir_orders_total` by status over the workers' /metrics. */
async function scrapeOrderCounts(urls: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const url of urls) {
    const text = await httpGet(`${url}/metrics`).then(
      (r) => r.body,
      () => "",
    );
    for (const m of text.matchAll(/^weir_orders_total\{[^}]*status="([^"]+)"[^}]*\} ([0-9.e+]+)$/gm))
      counts[m[1]!] = (counts[m[1]!] ?? 0) + Number(m[2]);
  }
  return counts;
}

/** Reads order-status (read_committed) from the beginning as it grows; `onStatus` for each record, with its value. */
export async function watchStatuses(
  brokers: string,
  partitions: number,
  onStatus: (orderId: string, value: Buffer | null) => void,
) {
  const consumer = new Kafka.KafkaConsumer(
    {
      [RdKafka.bootstrapServers]: brokers,
      [RdKafka.groupId]: `weir-demo-watch-${process.pid}`,
      [RdKafka.enableAutoCommit]: false,
      [RdKafka.isolationLevel]: "read_committed",
      // Assigned from offset 0; a head deleted by retention is skipped to what remains, never to the end.
      [RdKafka.autoOffsetReset]: "earliest",
    } as never,
    {},
  );
  await connect(consumer);
  // A batch returns what has arrived within 100 ms: with the client's default (1 s per message) statuses came in
  // bursts of 1,000 and the progress line lagged behind the pipeline.
  consumer.setDefaultConsumeTimeout(100);
  consumer.assign(
    Array.from({ length: partitions }, (_, partition) => ({
      topic: Topics.orderStatus,
      partition,
      offset: 0,
    })),
  );
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const batch = await new Promise<Message[]>((resolve) =>
        consumer.consume(1000, (err, messages) => resolve(err ? [] : (messages ?? []))),
      );
      for (const m of batch) if (m.key) onStatus(m.key.toString(), m.value ?? null);
      if (batch.length === 0) await sleep(50);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await disconnect(consumer);
    },
  };
}

const help: CommandHelp = {
  usage:
    "weir demo [--orders N] [--workers W] [--partitions P] [--seed S] [--bad-input N] [--kill-after SECONDS]\n" +
    "          [--risk-latency-ms MIN,MAX] [--risk-failure-rate F]",
  summary:
    "Run the order pipeline end to end: use KAFKA_BROKERS or start the local broker, recreate the application's\n" +
    "topics (fixed names: the run deletes and recreates them, and the consumer group), start the risk service\n" +
    "(HTTP on loopback, random latency, a share of 503s) and W worker processes calling it (fresh state\n" +
    "directories, HTTP on free ports), produce a generated workload, wait until every order has a status and the\n" +
    "pipeline is idle, verify, print a summary with the risk service's calls and failures, stop the workers\n" +
    "(SIGTERM) and the service.\n" +
    "Exit status: the verifier's (0 all checks pass, 1 differences), 2 usage error.",
  flags: [
    ["--orders N", "orders to generate (default 20000)"],
    ["--workers W", "worker processes (default 2)"],
    ["--partitions P", "partitions of every topic (default 4)"],
    ["--seed S", "workload seed (default 1)"],
    ["--rate R", "orders per second of simulated time (default 200)"],
    ["--skus K", "distinct skus (default 40)"],
    ["--scarce F", "share of orders competing for scarce stock (default 0.2)"],
    [
      "--bad-input N",
      "also N bad records among the orders, payments and restocks (processors/hostile.ts); the verifier checks each one's outcome per category (default 0)",
    ],
    ["--kill-after S", "chaos: SIGKILL worker 0 S seconds after producing starts, restart it 2 s later"],
    [
      "--risk-latency-ms MIN,MAX",
      "the risk service's latency per call, uniform in [MIN, MAX] ms (default 1,20)",
    ],
    [
      "--risk-failure-rate F",
      "share of risk calls answered 503, 0..1, retried by the pipeline (default 0.01)",
    ],
    ["--timeout S", "give up waiting for the statuses after S seconds (default 300)"],
    ["--brokers LIST", "Kafka bootstrap servers (env KAFKA_BROKERS; default: start the local broker)"],
    ["--json", "print the final summary as one JSON object on stdout"],
  ],
  examples: [
    "weir demo                                  # npm start",
    "weir demo --orders 20000 --workers 2",
    "weir demo --orders 20000 --kill-after 8    # a worker crashes mid-run and restarts",
    "weir demo --orders 5000 --bad-input 10000  # ten thousand bad records among them",
    "weir demo --risk-latency-ms 5,50 --risk-failure-rate 0.05",
  ],
};

export const demoCommand: Command = {
  name: "demo",
  summary: "run the order pipeline end to end on a real broker and verify it",
  run: (argv) =>
    runCommand("demo", help, async () => {
      const { values } = parse(argv, {
        orders: { type: "string" },
        workers: { type: "string" },
        partitions: { type: "string" },
        seed: { type: "string" },
        rate: { type: "string" },
        skus: { type: "string" },
        scarce: { type: "string" },
        "bad-input": { type: "string" },
        "kill-after": { type: "string" },
        timeout: { type: "string" },
        brokers: { type: "string" },
        "risk-latency-ms": { type: "string" },
        "risk-failure-rate": { type: "string" },
        json: { type: "boolean" },
      });
      if (values.help) {
        process.stdout.write(renderHelp(help));
        return 0;
      }
      const options = {
        ...workloadOptions(values, { orders: 20_000 }),
        startMs: Math.floor(Date.now() / 1000) * 1000,
      };
      // Every worker is a process on this machine.
      const workerCount = intFlag("workers", values.workers as string | undefined, 2, 1, 64);
      const partitions = intFlag("partitions", values.partitions as string | undefined, 4, 1, 1000);
      const maxSeconds = Math.floor(MAX_TIMER_MS / 1000);
      const killAfter =
        values["kill-after"] === undefined
          ? undefined
          : numberFlag("kill-after", values["kill-after"] as string, 0, 0, maxSeconds);
      const timeoutMs =
        numberFlag("timeout", values.timeout as string | undefined, 300, 1, maxSeconds) * 1000;
      const json = values.json === true;
      const riskLatencyMs = latencyRange("risk-latency-ms", values["risk-latency-ms"] as string | undefined);
      const riskFailureRate = numberFlag(
        "risk-failure-rate",
        values["risk-failure-rate"] as string | undefined,
        0.01,
        0,
        1,
      );
      const say = (line: string) => process.stderr.write(line + "\n");
      return runDemo({
        options,
        workerCount,
        partitions,
        killAfter,
        timeoutMs,
        json,
        say,
        riskLatencyMs,
        riskFailureRate,
        brokersFlag: values.brokers as string | undefined,
      });
    }),
};

interface DemoSettings {
  options: ReturnType<typeof workloadOptions>;
  workerCount: number;
  partitions: number;
  killAfter: number | undefined;
  timeoutMs: number;
  json: boolean;
  say: (line: string) => void;
  riskLatencyMs: [number, number];
  riskFailureRate: number;
  brokersFlag: string | undefined;
}

async function runDemo(s: DemoSettings): Promise<number> {
  const { options, say } = s;
  const started = Date.now();
  const brokers = s.brokersFlag ?? process.env.KAFKA_BROKERS ?? startLocalBroker(say);
  say(
    `weir demo: ${options.orders} orders, ${s.workerCount} workers, ${s.partitions} partitions, broker ${brokers}`,
  );

  // 1. Topics, from nothing.
  const specs = orderPipelineTopics(s.partitions);
  await deleteTopics(
    brokers,
    specs.map((t) => t.name),
  );
  await deleteGroup(brokers, APP_ID);
  await createTopics(brokers, specs);
  say(
    `(${((Date.now() - started) / 1000).toFixed(1)} s) created ${specs.length} topics (fresh): ${specs.map((t) => t.name).join(", ")}`,
  );

  // 2. The risk service, then the workers that call it.
  const risk: RiskService = await startRiskService({
    latencyMs: s.riskLatencyMs,
    failureRate: s.riskFailureRate,
  });
  say(
    `risk service ${risk.url}/risk (latency ${s.riskLatencyMs[0]}-${s.riskLatencyMs[1]} ms, ${(s.riskFailureRate * 100).toFixed(1)} % answered 503)`,
  );
  const runDir = mkdtempSync(join(tmpdir(), "weir-demo-"));
  const workers: WorkerProcess[] = [];
  let generation = 0;
  const stopAll = async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGTERM");
    await Promise.race([Promise.all(workers.map((w) => w.exited)), unrefSleep(40_000)]);
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  };
  const onSignal = () => {
    void stopAll()
      .then(() => risk.close())
      .then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (let i = 0; i < s.workerCount; i++)
      workers.push(spawnWorker(i, brokers, s.partitions, runDir, generation, risk.url));
    await waitReady(workers, 60_000);
    const urls = await Promise.all(workers.map((w) => w.url));
    say(
      `workers ready (${((Date.now() - started) / 1000).toFixed(1)} s): ${urls.map((u) => `${u}/metrics`).join("  ")}  logs: ${runDir}`,
    );

    // 3. Produce, and watch statuses arrive.
    // Every key with a status; the bar counts the generated orders (bad input's statuses come on top).
    const seen = new Set<string>();
    let seenOrders = 0;
    const statusBar = progressReporter("statuses ", options.orders);
    const watcher = await watchStatuses(brokers, s.partitions, (id) => {
      if (seen.has(id)) return;
      seen.add(id);
      if (id.startsWith("order-")) seenOrders++;
    });
    const produceStarted = Date.now();
    let chaos: Promise<void> | undefined;
    if (s.killAfter !== undefined)
      chaos = sleep(s.killAfter * 1000).then(async () => {
        const victim = workers[0]!;
        say(`chaos: SIGKILL worker 0 (pid ${victim.child.pid}) after ${s.killAfter} s`);
        victim.child.kill("SIGKILL");
        await victim.exited;
        await sleep(2000);
        generation++;
        workers[0] = spawnWorker(0, brokers, s.partitions, runDir, generation, risk.url);
        say(`chaos: worker 0 restarted (pid ${workers[0].child.pid}), same state directory`);
      });
    const { workload, seconds: produceSeconds } = await produceWorkload(brokers, options, true);
    const expectedIds = workload.orders.map((o) => o.orderId);
    const withoutStatus = () => expectedIds.filter((id) => !seen.has(id)).length;
    say(`produced ${workload.records.length} records in ${produceSeconds.toFixed(1)} s`);

    // 4. Drain: every order has a status, then the topics stop moving.
    const deadline = Date.now() + s.timeoutMs;
    while (withoutStatus() > 0) {
      statusBar.update(seenOrders);
      if (Date.now() > deadline) break;
      await sleep(200);
    }
    statusBar.update(seenOrders);
    statusBar.done();
    const processedSeconds = (Date.now() - produceStarted) / 1000;
    await chaos;
    await watcher.stop();
    if (withoutStatus() > 0) say(`timed out: ${withoutStatus()} orders without a status`);
    else
      await waitIdle(
        brokers,
        specs.map((t) => t.name),
        Math.max(5000, deadline - Date.now()),
        () => Promise.all(workers.map((w) => w.url)),
      );
    say(`(${((Date.now() - started) / 1000).toFixed(1)} s) pipeline idle; verifying`);

    // 5. Verify and report. A worker that exited by itself (not the chaos victim, which was replaced) crashed.
    const workersRunningAtEnd = workers.filter(
      (w) => w.child.exitCode === null && w.child.signalCode === null,
    ).length;
    const report = await verifyOnKafka(brokers, options);
    const metrics = await scrapeOrderCounts(await Promise.all(workers.map((w) => w.url)));
    const finalUrls = await Promise.all(workers.map((w) => w.url));
    const elapsed = (Date.now() - started) / 1000;
    const riskStats = risk.stats();
    const summary = {
      ok: report.ok,
      orders: options.orders,
      statuses: report.statuses,
      metricsOrdersTotal: metrics,
      checks: report.checks,
      riskService: {
        url: risk.url,
        latencyMs: s.riskLatencyMs,
        failureRate: s.riskFailureRate,
        calls: riskStats.calls,
        failures: riskStats.failures,
        badRequests: riskStats.badRequests,
      },
      workersRunningAtEnd,
      throughputOrdersPerSecond: Math.round(options.orders / processedSeconds),
      producedRecords: workload.records.length,
      processingSeconds: Number(processedSeconds.toFixed(1)),
      elapsedSeconds: Number(elapsed.toFixed(1)),
      metrics: finalUrls.map((u) => `${u}/metrics`),
      logs: runDir,
    };
    if (s.json) process.stdout.write(JSON.stringify(summary) + "\n");
    else {
      process.stdout.write(renderSummary(summary));
      if (!report.ok) process.stdout.write(JSON.stringify(report.checks, null, 2) + "\n");
    }
    return report.ok ? 0 : 1;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    const stopping = Date.now();
    await stopAll();
    await risk.close();
    say(`workers stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
  }
}

/**
 * Idle: every worker ready (not rebalancing or restoring: a worker restarted by the chaos option may still be taking
 * partitions back) and the end offsets of every application topic unchanged over 2 s (nothing in flight, no release
 * pending).
 */
/** Resolves when the topics' end offsets stopped moving for 2 s and every worker is ready (or at the timeout). */
export async function waitIdle(
  brokers: string,
  topics: string[],
  timeoutMs: number,
  workerUrls: () => Promise<string[]>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const allReady = async () => {
    for (const url of await workerUrls()) {
      const ready = await httpGet(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (!ready) return false;
    }
    return true;
  };
  const counts = await topicPartitions(brokers);
  const snapshot = async () => {
    const parts: string[] = [];
    for (const t of topics)
      parts.push(`${t}:${[...(await endOffsets(brokers, t, counts.get(t) ?? 1)).values()].join(",")}`);
    return parts.join(" ");
  };
  let previous = await snapshot();
  while (Date.now() < deadline) {
    await sleep(2000);
    const now = await snapshot();
    if (now === previous && (await allReady())) return;
    previous = now;
  }
}

function renderSummary(s: {
  ok: boolean;
  orders: number;
  statuses: Record<string, number>;
  metricsOrdersTotal: Record<string, number>;
  checks: Record<string, { ok: boolean }>;
  riskService: {
    calls: number;
    failures: number;
    badRequests: number;
    latencyMs: number[];
    failureRate: number;
  };
  throughputOrdersPerSecond: number;
  producedRecords: number;
  processingSeconds: number;
  elapsedSeconds: number;
  metrics: string[];
  logs: string;
}): string {
  const count = (n: number | undefined) => String(n ?? 0).padStart(8);
  const lines = [
    "",
    "order pipeline demo",
    "-------------------",
    `  ${"status".padEnd(20)} ${"orders".padStart(8)} ${"metrics".padStart(8)}   (order-status topic; weir_orders_total)`,
    ...FINAL_STATUSES.map(
      (status) =>
        `  ${status.padEnd(20)} ${count(s.statuses[status])} ${count(s.metricsOrdersTotal[status])}`,
    ),
    `  ${"DUPLICATE_DROPPED".padEnd(20)} ${"".padStart(8)} ${count(s.metricsOrdersTotal.DUPLICATE_DROPPED)}`,
    `  ${"total".padEnd(20)} ${count(Object.values(s.statuses).reduce((a, b) => a + b, 0))} of ${s.orders} orders`,
    "",
    `  records produced     ${s.producedRecords}`,
    `  risk service         ${s.riskService.calls} calls, ${s.riskService.failures} answered 503 (retried)${s.riskService.badRequests ? `, ${s.riskService.badRequests} answered 400` : ""}; latency ${s.riskService.latencyMs.join("-")} ms`,
    `  throughput           ${s.throughputOrdersPerSecond} orders/s (produce start -> last status: ${s.processingSeconds} s)`,
    `  elapsed              ${s.elapsedSeconds} s`,
    `  checks               ${Object.entries(s.checks)
      .map(([k, c]) => `${k} ${c.ok ? "ok" : "FAILED"}`)
      .join(", ")}`,
    `  metrics              ${s.metrics.join("  ")} (workers stopped at exit)`,
    `  worker logs          ${s.logs}`,
    "",
    s.ok ? "verify: PASSED" : "verify: FAILED (run with --json for details)",
    "",
  ];
  return lines.join("\n");
}
