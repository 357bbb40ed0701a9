/**
 * `npm run bench:async` — an asynchronous processor (processAsync) whose call takes a fixed latency (default 20 ms,
 * a timer: no network), by concurrency, against the same work in a synchronous processor, which cannot overlap
 * (it blocks the thread for the latency, as a synchronous client call would). Exactly-once, one worker, in this
 * process; the time is from worker.start() until the group has committed the end of the input (start-up
 * included). See bench/README.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { map } from "rxjs";
import { appendFileSync } from "node:fs";
import {
  Serdes,
  TopologyBuilder,
  Worker,
  jsonLogger,
  silentLogger,
  type Topology,
} from "../topology/index.js";
import {
  DEFAULT_BROKERS,
  adminClient,
  committedOffsets,
  createTopic,
  deleteTopics,
  endOffsets,
  load,
  log,
  now,
  parseFlags,
  printTable,
  reached,
  runId,
  sleep,
  writeResults,
  type Row,
} from "./lib.js";

const HELP = `usage: npm run bench:async -- [flags]
  --brokers host:port   (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --records N           input records per run (default 20000; the synchronous run reads --sync-records)
  --sync-records N      input records of the synchronous run (default 500: it does one call at a time)
  --latency-ms N        each call's latency (default 20)
  --concurrency LIST    comma-separated concurrencies (default 1,16,128)
  --partitions N        input partitions (default 4)
  --keys N              distinct keys (default 10000)
  --commit-interval-ms N  (default 100, the worker's exactly-once default)
  --worker-log FILE     append the workers' log lines to FILE
  --no-results          do not write bench/results/async-<date>.json`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    brokers: DEFAULT_BROKERS,
    records: 20_000,
    syncRecords: 500,
    latencyMs: 20,
    concurrency: "1,16,128",
    partitions: 4,
    keys: 10_000,
    commitIntervalMs: 100,
    workerLog: "",
    noResults: false,
  },
  HELP,
);

const admin = adminClient(flags.brokers);
const s = Serdes.string();
const blocker = new Int32Array(new SharedArrayBuffer(4));

function topology(app: string, input: string, concurrency: number | "sync"): Topology {
  const b = new TopologyBuilder(app);
  const stream = b.stream(input, { key: s, value: s });
  const called =
    concurrency === "sync"
      ? stream.process("call", () =>
          map((r) => {
            Atomics.wait(blocker, 0, 0, flags.latencyMs); // a synchronous call: the thread waits
            return { key: r.key, value: r.value };
          }),
        )
      : stream.processAsync(
          "call",
          async (r) => {
            await sleep(flags.latencyMs);
            return { key: r.key, value: r.value };
          },
          { concurrency, timeoutMs: 10_000 },
        );
  called.to(`${app}-out`, { key: s, value: s });
  return b.build();
}

async function run(concurrency: number | "sync"): Promise<Row> {
  const app = `bench-async-${runId}-${concurrency}`;
  const input = `${app}-in`;
  const records = concurrency === "sync" ? flags.syncRecords : flags.records;
  await createTopic(admin, input, flags.partitions);
  await createTopic(admin, `${app}-out`, flags.partitions);
  await load(flags.brokers, input, records, (i) => ({
    key: Buffer.from(`k${i % flags.keys}`),
    value: Buffer.from(String(i)),
  }));
  const ends = await endOffsets(admin, input, flags.partitions);
  const stateDir = mkdtempSync(join(tmpdir(), "weir-bench-async-"));
  const worker = new Worker(topology(app, input, concurrency), {
    brokers: flags.brokers,
    stateDir,
    logger: flags.workerLog
      ? jsonLogger((line) => appendFileSync(String(flags.workerLog), line), "info")
      : silentLogger,
    commitIntervalMs: flags.commitIntervalMs,
  });
  const started = now();
  await worker.start();
  while (!reached(await committedOffsets(admin, app, input, flags.partitions), ends)) await sleep(50);
  const seconds = (now() - started) / 1000;
  await worker.stop("bench done");
  rmSync(stateDir, { recursive: true, force: true });
  await deleteTopics(admin, [input, `${app}-out`]);
  const perSecond = records / seconds;
  log(`${concurrency}: ${records} records in ${seconds.toFixed(1)} s = ${perSecond.toFixed(0)}/s`);
  return {
    processor: concurrency === "sync" ? "synchronous" : `processAsync, concurrency ${concurrency}`,
    records,
    seconds: Math.round(seconds * 10) / 10,
    "records/s": Math.round(perSecond),
    "ideal records/s": Math.round(
      ((concurrency === "sync" ? 1 : concurrency * flags.partitions) * 1000) / flags.latencyMs,
    ),
  };
}

const rows: Row[] = [];
rows.push(await run("sync"));
for (const c of String(flags.concurrency).split(",").map(Number)) rows.push(await run(c));
admin.disconnect();
const table = printTable(rows, ["processor", "records", "seconds", "records/s", "ideal records/s"]);
console.log(table);
if (!flags.noResults)
  log(`results: ${writeResults("async", { flags: { ...flags }, rows, at: new Date().toISOString() })}`);
