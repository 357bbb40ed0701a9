/**
 * `npm run bench:restore` — how fast a worker rebuilds a store from its changelog, next to the raw consume rate of
 * the same changelog with the same client (configured as weir's restore consumer) in the same run.
 *
 * Builds `<app>-counts-changelog` (compacted) with N distinct keys written with the count topology's serdes, then,
 * per round: a raw consume of the changelog from the beginning (assign, no group), and a worker running the count
 * topology on a fresh state directory, restoring the changelog from nothing. Restore time is taken from the
 * worker's own "restoring store" → "store restored" log events (summed over partitions, which restore one after
 * the other); time to `ready` (start-up and group join included) is reported too. See bench/README.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Worker, changelogTopic } from "../topology/index.js";
import { COUNT_STORE, countStoreSerdes, countTopology } from "./apps.js";
import {
  DEFAULT_BROKERS,
  adminClient,
  createTopic,
  deleteTopics,
  endOffsets,
  load,
  log,
  now,
  parseFlags,
  printTable,
  rate,
  rawAssignConsume,
  round2,
  runId,
  sleep,
  writeResults,
  type Row,
  type Timing,
} from "./lib.js";
import { recordingLogger, restoreSpans, type RestoreEvent } from "./restore-timing.js";

const HELP = `usage: npm run bench:restore -- [flags]
  --brokers host:port   (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --records N           distinct keys written to the changelog (default 1000000)
  --partitions N        changelog (and input) partitions (default 1)
  --rounds N            repeat baseline + restore (default 1)
  --no-baseline         skip the raw consume runs (for profiling)
  --keep                keep the topics this run created
  --no-results          do not write bench/results/restore-<date>.json`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    brokers: DEFAULT_BROKERS,
    records: 1_000_000,
    partitions: 1,
    rounds: 1,
    noBaseline: false,
    keep: false,
    noResults: false,
  },
  HELP,
);

const appId = `bench-restore-${runId}`;
const input = `${appId}-input`;
const output = `${appId}-out`;
const changelog = changelogTopic(appId, COUNT_STORE);
const admin = adminClient(flags.brokers);
const created = new Set<string>();

async function restoreOnce(): Promise<
  Timing & { readySeconds: number; restored: number; reportedRate: number }
> {
  const stateDir = mkdtempSync(join(tmpdir(), "weir-bench-restore-"));
  const events: RestoreEvent[] = [];
  const worker = new Worker(countTopology(appId, input, output), {
    brokers: flags.brokers,
    stateDir,
    logger: recordingLogger(events),
  });
  const started = now();
  try {
    await worker.start();
    while (!worker.ready) {
      if (worker.state === "failed") await worker.done;
      if (now() - started > 900_000) throw new Error("worker not ready after 15 min");
      await sleep(5);
    }
    const ready = now();
    const restored = [...worker.restoredRecords.values()].reduce((a, b) => a + b, 0);
    // Partitions restore one after another: the sum of each "restoring store" → "store restored" span.
    const spans = restoreSpans(events);
    const restoreMs = spans.sumMs;
    const reported = spans.reportedSeconds;
    if (restored !== flags.records) log(`  warning: restored ${restored} records, expected ${flags.records}`);
    return {
      records: restored,
      seconds: restoreMs / 1000,
      readySeconds: (ready - started) / 1000,
      restored,
      reportedRate: reported > 0 ? restored / reported : 0,
    };
  } finally {
    await worker.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await createTopic(admin, input, flags.partitions);
  await createTopic(admin, output, flags.partitions);
  await createTopic(admin, changelog, flags.partitions, { "cleanup.policy": "compact" });
  for (const t of [input, output, changelog, `${appId}-dlq`]) created.add(t);
  log(`writing ${flags.records} distinct keys to ${changelog} (${flags.partitions} partitions, compacted)`);
  const loaded = await load(flags.brokers, changelog, flags.records, (i) => ({
    key: countStoreSerdes.key.serialize(`key-${i}`),
    value: countStoreSerdes.value.serialize((i % 1000) + 1),
  }));
  log(`loaded in ${loaded.seconds.toFixed(1)} s`);
  const ends = await endOffsets(admin, changelog, flags.partitions);
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  if (total !== flags.records) throw new Error(`changelog holds ${total} records, expected ${flags.records}`);

  const rows: Row[] = [];
  const runs: Array<Record<string, unknown>> = [];
  for (let round = 1; round <= flags.rounds; round++) {
    let baseline: Timing | undefined;
    if (!flags.noBaseline) {
      log(`round ${round}: raw consume of the changelog`);
      baseline = await rawAssignConsume(flags.brokers, changelog, flags.partitions, total, 10_000);
      log(`  raw: ${Math.round(rate(baseline))} records/s`);
      runs.push({
        round,
        scenario: "raw-consume",
        records: baseline.records,
        seconds: round2(baseline.seconds),
        recordsPerSecond: Math.round(rate(baseline)),
      });
      rows.push({
        round,
        scenario: "raw consume (baseline)",
        records: baseline.records,
        seconds: baseline.seconds,
        "records/s": Math.round(rate(baseline)),
        ratio: "1.00",
      });
    }
    log(`round ${round}: weir restore from nothing`);
    const r = await restoreOnce();
    log(
      `  restore: ${Math.round(rate(r))} records/s (${r.seconds.toFixed(1)} s; ready after ${r.readySeconds.toFixed(1)} s)`,
    );
    runs.push({
      round,
      scenario: "weir-restore",
      records: r.records,
      seconds: round2(r.seconds),
      recordsPerSecond: Math.round(rate(r)),
      workerReportedRecordsPerSecond: Math.round(r.reportedRate),
      readySeconds: round2(r.readySeconds),
      ...(baseline
        ? { baselineRate: Math.round(rate(baseline)), ratio: round2(rate(r) / rate(baseline)) }
        : {}),
    });
    rows.push({
      round,
      scenario: "weir restore",
      records: r.records,
      seconds: r.seconds,
      "records/s": Math.round(rate(r)),
      ratio: baseline ? (rate(r) / rate(baseline)).toFixed(2) : undefined,
      "ready after s": r.readySeconds,
    });
  }

  const command = `npm run bench:restore${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`;
  const table = printTable(rows, [
    "round",
    "scenario",
    "records",
    "seconds",
    "records/s",
    "ratio",
    "ready after s",
  ]);
  console.log(
    `\nrestore benchmark: ${total.toLocaleString("en-US")} changelog records (distinct keys), ${flags.partitions} partition(s)`,
  );
  console.log(`command: ${command}`);
  console.log(
    "restore seconds = the worker's 'restoring store' → 'store restored' spans; ratio = records/s ÷ raw consume records/s of the same round\n",
  );
  console.log(table);
  if (!flags.noResults) {
    const file = writeResults("restore", {
      benchmark: "restore",
      date: new Date().toISOString(),
      command,
      host: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      config: flags,
      load: { records: loaded.records, seconds: round2(loaded.seconds) },
      runs,
      table,
    });
    console.log(`\nresults: ${file}`);
  }
}

try {
  await main();
} finally {
  if (!flags.keep) await deleteTopics(admin, created);
  admin.disconnect();
}
