/**
 * `npm run bench:engine` — weir's processing rate next to the raw consume rate of the same client, same topic, same
 * run. Loads N records into a fresh input topic once, then for each scenario runs, interleaved: a raw consume of
 * the whole topic (the baseline) and the scenario, timed from start until the group's committed offsets reach the
 * end of the input. Prints a table and writes bench/results/engine-<date>.json. See bench/README.md.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Worker, jsonLogger, type ProcessingGuarantee } from "../topology/index.js";
import { countTopology, dslCountTopology, passthroughTopology } from "./apps.js";
import { installTrace, resetTrace, traceReport } from "./trace.js";
import {
  DEFAULT_BROKERS,
  KS_CLASSPATH,
  REPO_DIR,
  adminClient,
  buildKafkaStreams,
  committedOffsets,
  createTopic,
  deleteTopics,
  endOffsets,
  load,
  log,
  now,
  padded,
  parseFlags,
  printTable,
  rate,
  rawGroupConsume,
  reached,
  round2,
  runId,
  sleep,
  steadyRate,
  writeResults,
  type Row,
  type Timing,
} from "./lib.js";

const HELP = `usage: npm run bench:engine -- [flags]
  --brokers host:port        (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --records N                records loaded into the input topic (default 1000000)
  --keys N                   distinct keys, round-robin (default 100000)
  --partitions N             input partitions (default 3)
  --value-bytes N            value size (default 100)
  --rounds N                 repeat every scenario (default 1)
  --scenarios a,b            subset of: passthrough-eos,passthrough-alos,count-eos,count-alos (default: these four),
                             dsl-count-eos,dsl-count-alos (the count written with groupByKey().count()),
                             kstreams-count-eos,kstreams-count-alos
  --with-kafka-streams       add the Kafka Streams peer's scenarios (built with Maven from bench/peers/kafka-streams)
  --commit-interval-ms N     commit interval of weir and of the peer (default: weir's, 100 ms EOS / 1000 ms ALOS)
  --max-poll-records N       weir's maxPollRecords (default: weir's, 2000)
  --no-baseline              skip the raw consume runs (for profiling one scenario)
  --input topic              reuse an existing, already loaded input topic (not deleted afterwards)
  --trace                    print where each weir run's wall-clock time went (consume waits, transaction calls,
                             flush, produce) — measured by wrapping client methods, see bench/trace.ts
  --keep                     keep the topics this run created
  --no-results               do not write bench/results/engine-<date>.json`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    brokers: DEFAULT_BROKERS,
    records: 1_000_000,
    keys: 100_000,
    partitions: 3,
    valueBytes: 100,
    rounds: 1,
    scenarios: "passthrough-eos,passthrough-alos,count-eos,count-alos",
    withKafkaStreams: false,
    noBaseline: false,
    input: "",
    commitIntervalMs: 0,
    maxPollRecords: 0,
    trace: false,
    keep: false,
    noResults: false,
  },
  HELP,
);

type Scenario = {
  name: string;
  engine: "weir" | "kafka-streams";
  topology: "passthrough" | "count" | "dsl-count";
  guarantee: ProcessingGuarantee;
};
const WEIR_SCENARIOS: Scenario[] = [
  { name: "passthrough-eos", engine: "weir", topology: "passthrough", guarantee: "exactly_once" },
  { name: "passthrough-alos", engine: "weir", topology: "passthrough", guarantee: "at_least_once" },
  { name: "count-eos", engine: "weir", topology: "count", guarantee: "exactly_once" },
  { name: "count-alos", engine: "weir", topology: "count", guarantee: "at_least_once" },
  { name: "dsl-count-eos", engine: "weir", topology: "dsl-count", guarantee: "exactly_once" },
  { name: "dsl-count-alos", engine: "weir", topology: "dsl-count", guarantee: "at_least_once" },
];
const KS_SCENARIOS: Scenario[] = [
  { name: "kstreams-count-eos", engine: "kafka-streams", topology: "count", guarantee: "exactly_once" },
  { name: "kstreams-count-alos", engine: "kafka-streams", topology: "count", guarantee: "at_least_once" },
];

const ALL_SCENARIOS = [...WEIR_SCENARIOS, ...KS_SCENARIOS];
const selected = [
  ...flags.scenarios.split(",").map((s) => s.trim()),
  ...(flags.withKafkaStreams ? KS_SCENARIOS.map((s) => s.name) : []),
];
for (const s of selected)
  if (!ALL_SCENARIOS.some((w) => w.name === s)) throw new Error(`unknown scenario '${s}'\n${HELP}`);
const scenarios = [...new Set(selected)].map((name) => ALL_SCENARIOS.find((s) => s.name === name)!);

const admin = adminClient(flags.brokers);
const createdTopics = new Set<string>();
let runCounter = 0;

const traces: Record<string, unknown> = {};

async function main(): Promise<void> {
  if (flags.trace) installTrace();
  if (scenarios.some((s) => s.engine === "kafka-streams")) buildKafkaStreams();

  const input = flags.input || `bench-engine-input-${runId}`;
  let loaded: { records: number; seconds: number } | undefined;
  if (!flags.input) {
    await createTopic(admin, input, flags.partitions);
    createdTopics.add(input);
    log(
      `loading ${flags.records} records (${flags.keys} keys, ${flags.valueBytes}-byte values) into ${input} (${flags.partitions} partitions)`,
    );
    const seq = new Map<number, number>();
    loaded = await load(flags.brokers, input, flags.records, (i) => {
      const k = i % flags.keys;
      const n = (seq.get(k) ?? 0) + 1;
      seq.set(k, n);
      const key = `k${k}`;
      return { key: Buffer.from(key), value: padded(`${key}#${n}#`, flags.valueBytes) };
    });
    log(
      `loaded in ${loaded.seconds.toFixed(1)} s (${Math.round(loaded.records / loaded.seconds)} records/s)`,
    );
  }
  const ends = await endOffsets(admin, input, flags.partitions);
  const records = [...ends.values()].reduce((a, b) => a + b, 0);
  if (!flags.input && records !== flags.records)
    throw new Error(`input holds ${records} records, expected ${flags.records}`);

  const runs: Array<Record<string, unknown>> = [];
  const rows: Row[] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    for (const scenario of scenarios) {
      let baseline: Timing | undefined;
      if (!flags.noBaseline) {
        log(`round ${round}: raw consume of ${records} records`);
        baseline = await rawGroupConsume(flags.brokers, input, records, 2000);
        log(`  raw: ${Math.round(rate(baseline))} records/s`);
        runs.push({ round, scenario: "raw-consume", ...timingFields(baseline) });
        rows.push(row(round, "raw consume (baseline)", baseline, baseline));
      }
      log(`round ${round}: ${scenario.name} (${scenario.engine})`);
      const timing =
        scenario.engine === "weir"
          ? await runWeir(scenario, input, ends)
          : await runKafkaStreams(scenario, input);
      log(`  ${scenario.name}: ${Math.round(rate(timing))} records/s (${timing.seconds.toFixed(1)} s)`);
      runs.push({
        round,
        scenario: scenario.name,
        engine: scenario.engine,
        topology: scenario.topology,
        guarantee: scenario.guarantee,
        ...timingFields(timing),
        ...(baseline
          ? { baselineRate: Math.round(rate(baseline)), ratio: round2(rate(timing) / rate(baseline)) }
          : {}),
        ...(baseline && steadyRate(timing) && steadyRate(baseline)
          ? { steadyRatio: round2(steadyRate(timing)! / steadyRate(baseline)!) }
          : {}),
      });
      rows.push(
        row(round, `${scenario.engine} ${scenario.topology} ${scenario.guarantee}`, timing, baseline),
      );
    }
  }

  const columns = ["round", "scenario", "seconds", "records/s", "ratio", "steady records/s", "steady ratio"];
  const table = printTable(rows, columns);
  console.log(
    `\nengine benchmark: ${records.toLocaleString("en-US")} records, ${flags.keys.toLocaleString("en-US")} keys, ${flags.partitions} partitions, ${flags.valueBytes}-byte values`,
  );
  console.log(
    `command: npm run bench:engine${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`,
  );
  console.log(
    "ratio = records/s ÷ records/s of the raw consume run just before; steady = from the first record on\n",
  );
  console.log(table);

  if (!flags.noResults) {
    const file = writeResults("engine", {
      benchmark: "engine",
      date: new Date().toISOString(),
      command: `npm run bench:engine${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`,
      host: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      config: { ...flags, records },
      load: loaded
        ? {
            records: loaded.records,
            seconds: round2(loaded.seconds),
            recordsPerSecond: Math.round(loaded.records / loaded.seconds),
          }
        : undefined,
      runs,
      table,
      ...(flags.trace ? { traces } : {}),
    });
    console.log(`\nresults: ${file}`);
  }
}

function timingFields(t: Timing) {
  return {
    records: t.records,
    seconds: round2(t.seconds),
    firstRecordSeconds: round2(t.firstRecordSeconds),
    recordsPerSecond: Math.round(rate(t)),
    steadyRecordsPerSecond: steadyRate(t) === undefined ? undefined : Math.round(steadyRate(t)!),
  };
}

function row(round: number, scenario: string, t: Timing, baseline: Timing | undefined): Row {
  const steady = steadyRate(t);
  const baseSteady = baseline ? steadyRate(baseline) : undefined;
  return {
    round,
    scenario,
    seconds: t.seconds,
    "records/s": Math.round(rate(t)),
    ratio: baseline ? (rate(t) / rate(baseline)).toFixed(2) : undefined,
    "steady records/s": steady === undefined ? undefined : Math.round(steady),
    "steady ratio":
      steady !== undefined && baseSteady !== undefined ? (steady / baseSteady).toFixed(2) : undefined,
  };
}

/** One weir worker in this process, from `start()` until its committed offsets reach the input's end. */
async function runWeir(scenario: Scenario, input: string, ends: Map<number, number>): Promise<Timing> {
  const appId = `bench-${scenario.name}-${runId}-${++runCounter}`;
  const output = `${appId}-out`;
  await createTopic(admin, output, flags.partitions);
  for (const t of [output, `${appId}-counts-changelog`, `${appId}-dlq`]) createdTopics.add(t);
  const stateDir = mkdtempSync(join(tmpdir(), "weir-bench-"));
  const topology =
    scenario.topology === "count"
      ? countTopology(appId, input, output)
      : scenario.topology === "dsl-count"
        ? dslCountTopology(appId, input, output)
        : passthroughTopology(appId, input, output);
  const worker = new Worker(topology, {
    brokers: flags.brokers,
    stateDir,
    guarantee: scenario.guarantee,
    ...(flags.commitIntervalMs ? { commitIntervalMs: flags.commitIntervalMs } : {}),
    ...(flags.maxPollRecords ? { maxPollRecords: flags.maxPollRecords } : {}),
    logger: jsonLogger((l) => process.stderr.write(l), "warn"),
  });
  const records = [...ends.values()].reduce((a, b) => a + b, 0);
  resetTrace();
  const started = now();
  let first: number | undefined;
  try {
    await worker.start();
    for (;;) {
      if (worker.state === "failed" || worker.state === "stopped") {
        await worker.done;
        throw new Error(`worker ${worker.state}`);
      }
      if (first === undefined && worker.tasks().some((t) => t.processedRecords > 0)) first = now();
      if (reached(await committedOffsets(admin, appId, input, flags.partitions).catch(() => undefined), ends))
        break;
      if (now() - started > 900_000)
        throw new Error(`${scenario.name}: input end not committed after 15 min`);
      await sleep(50);
    }
    const end = now();
    const processed = worker.tasks().reduce((a, t) => a + t.processedRecords, 0);
    if (processed < records) log(`  warning: ${scenario.name} processed ${processed} < ${records} records`);
    if (flags.trace) {
      const report = traceReport(end - started);
      traces[appId] = { scenario: scenario.name, wallMs: Math.round(end - started), phases: report };
      console.log(`\ntrace of ${scenario.name} (${Math.round(end - started)} ms wall, start-up included):`);
      console.log(
        printTable(report as unknown as Row[], ["phase", "calls", "ms", "share", "perCallMs", "items"]),
      );
    }
    return {
      records,
      seconds: (end - started) / 1000,
      firstRecordSeconds: first === undefined ? undefined : (first - started) / 1000,
    };
  } finally {
    await worker.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The Kafka Streams peer in its own JVM; it times itself from KafkaStreams.start() to committed end offsets. */
async function runKafkaStreams(scenario: Scenario, input: string): Promise<Timing> {
  const appId = `bench-${scenario.name}-${runId}-${++runCounter}`;
  const output = `${appId}-out`;
  await createTopic(admin, output, flags.partitions);
  for (const t of [output, `${appId}-counts-changelog`]) createdTopics.add(t);
  const stateDir = mkdtempSync(join(tmpdir(), "weir-bench-ks-"));
  const logDir = join(REPO_DIR, ".weir", "bench", "logs");
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${appId}.log`);
  const args = [
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-cp",
    KS_CLASSPATH,
    "dev.weir.bench.CountBench",
    flags.brokers,
    input,
    output,
    appId,
    scenario.guarantee,
    stateDir,
    ...(flags.commitIntervalMs ? [String(flags.commitIntervalMs)] : []),
  ];
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn("java", args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.pipe(createWriteStream(logFile));
      child.on("error", reject);
      child.on("exit", (code) =>
        code === 0
          ? resolve(out)
          : reject(new Error(`Kafka Streams peer exited with ${code}; log: ${logFile}`)),
      );
    });
    const line = stdout.trim().split("\n").pop() ?? "";
    const result = JSON.parse(line) as { records: number; seconds: number; firstRecordSeconds: number };
    return {
      records: result.records,
      seconds: result.seconds,
      firstRecordSeconds: result.firstRecordSeconds || undefined,
    };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

try {
  await main();
} finally {
  if (!flags.keep) await deleteTopics(admin, createdTopics);
  admin.disconnect();
}
