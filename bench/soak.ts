/**
 * `npm run soak` — a long run of one `weir worker` child process (exactly-once) through millions of records, with
 * its memory and event-loop lag sampled from its own `/metrics` (prom-client's default metrics) every few seconds.
 * The input is pre-loaded with the benchmarks' idempotent loader, then the worker runs until the group's stable
 * committed offsets reach the input's end, and gets SIGTERM (it must exit 0). Writes
 * bench/results/soak-<date>.json and an SVG chart (RSS, heap, event-loop lag p99 against records processed,
 * docs/reliability/soak.svg by default) and prints a summary. See bench/README.md and docs/reliability.md.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { Kafka } from "../topology/kafka.js";
import {
  DEFAULT_BROKERS,
  REPO_DIR,
  adminClient,
  brokerVersion,
  committedOffsets,
  deleteTopics,
  endOffsets,
  load,
  log,
  now,
  padded,
  parseFlags,
  reached,
  round2,
  runId,
  sleep,
  writeResults,
} from "./lib.js";

const HELP = `usage: npm run soak -- [flags]
  --brokers host:port   (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --records N           records pre-loaded into the input topic (default 10000000)
  --keys K              distinct keys, round-robin (count: record keys; orders: customers) (default 100000)
  --value-bytes N       value size (default 100)
  --partitions N        partitions of every topic the run creates (default 3)
  --sample-ms S         sampling interval of the worker's /metrics (default 5000)
  --app count|orders    count: test/apps/count.ts (per-key count, one output and one store update per input);
                        orders: test/apps/customer-orders.ts (the customer-orders DSL example: repartition, table
                        join, global table, two aggregations), N orders over K customers in 5 regions (default count)
  --commit-interval-ms N  the worker's commit interval (default: weir's, 100 ms under exactly-once)
  --timeout-min M       give up (and fail) when the input is not processed after M minutes (default 120)
  --svg FILE            where the chart goes (default docs/reliability/soak.svg)
  --keep                keep the topics this run created
  --no-results          do not write bench/results/soak-<date>.json nor the chart`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    brokers: DEFAULT_BROKERS,
    records: 10_000_000,
    keys: 100_000,
    valueBytes: 100,
    partitions: 3,
    sampleMs: 5000,
    app: "count",
    commitIntervalMs: 0,
    timeoutMin: 120,
    svg: join("docs", "reliability", "soak.svg"),
    keep: false,
    noResults: false,
  },
  HELP,
);
if (flags.app !== "count" && flags.app !== "orders") throw new Error(`--app is count or orders\n${HELP}`);
if (flags.keys < 1 || flags.records < 1) throw new Error("--records and --keys must be at least 1");

const MiB = 1024 * 1024;
const command = `npm run soak${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`;
const prefix = flags.app === "count" ? `soak-${runId}` : `soak-${runId}-`;
const appModule = flags.app === "count" ? "test/apps/count.ts" : "test/apps/customer-orders.ts";
/** The group id (= application id) of the app module under WEIR_TEST_PREFIX. */
const group = flags.app === "count" ? `${prefix}-app` : `${prefix}app`;
/** The topic whose records the run counts as "processed". */
const input = flags.app === "count" ? `${prefix}-input` : `${prefix}orders`;
const LOG_DIR = join(REPO_DIR, ".weir", "bench", "logs");
const logFile = join(LOG_DIR, `soak-${runId}.log`);
const childEnv = { ...process.env, KAFKA_BROKERS: flags.brokers, WEIR_TEST_PREFIX: prefix };

/** One reading of the worker's /metrics and of the group's committed offsets. */
interface Sample {
  /** Seconds since the worker was spawned. */
  t: number;
  /** Stable committed offsets of the group on the input, summed over partitions. */
  committed: number;
  /** weir_records_consumed_total on the input (the worker's own counter; may run ahead of `committed`). */
  consumed: number;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  /** prom-client's event-loop lag percentiles over the interval since the previous scrape, in ms. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** weir_store_bytes summed: the LMDB files' size. */
  storeMiB: number;
  /** The machine's 1-minute load average (2 cores are shared with other work: lag spikes may be theirs). */
  load1: number;
}

const admin = adminClient(flags.brokers);
const createdTopics = new Set<string>();
let child: ChildProcess | undefined;

// ---- set-up --------------------------------------------------------------------------------------------------

/** `weir topics create --app <module>`: every topic of the app, on the run's own prefix. Returns their names. */
function createTopics(): string[] {
  const result = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO_DIR, "bin", "weir.ts"),
      "topics",
      "create",
      "--app",
      appModule,
      "--partitions",
      String(flags.partitions),
    ],
    { cwd: REPO_DIR, env: childEnv, encoding: "utf8" },
  );
  if (result.status !== 0)
    throw new Error(`weir topics create failed (exit ${result.status}):\n${result.stderr}${result.stdout}`);
  const names = [...result.stdout.matchAll(/\S+/g)].map((m) => m[0]).filter((w) => w.startsWith(prefix));
  for (const name of names) createdTopics.add(name);
  if (!createdTopics.has(input))
    throw new Error(`weir topics create did not list ${input}:\n${result.stdout}`);
  return [...createdTopics];
}

async function loadInput(): Promise<{ records: number; seconds: number }> {
  log(
    `loading ${flags.records} records (${flags.keys} keys, ${flags.valueBytes}-byte values) into ${input} (${flags.partitions} partitions)`,
  );
  if (flags.app === "count") {
    const seq = new Uint32Array(flags.keys);
    return load(flags.brokers, input, flags.records, (i) => {
      const k = i % flags.keys;
      const key = `k${k}`;
      return { key: Buffer.from(key), value: padded(`${key}#${++seq[k]!}#`, flags.valueBytes) };
    });
  }
  const regions = ["eu", "us", "apac", "latam", "mea"];
  await load(flags.brokers, `${prefix}regions`, regions.length, (i) => ({
    key: Buffer.from(regions[i]!),
    value: Buffer.from(JSON.stringify({ name: regions[i]!.toUpperCase() })),
  }));
  await load(flags.brokers, `${prefix}customers`, flags.keys, (i) => ({
    key: Buffer.from(`c${i}`),
    value: Buffer.from(JSON.stringify({ name: `customer ${i}`, region: regions[i % regions.length] })),
  }));
  return load(flags.brokers, input, flags.records, (i) => {
    const order = { orderId: `o${i}`, customerId: `c${i % flags.keys}`, amount: (i % 997) + 0.5 };
    const json = JSON.stringify({ ...order, note: "" });
    const note = "x".repeat(Math.max(0, flags.valueBytes - json.length));
    return { key: Buffer.from(order.orderId), value: Buffer.from(JSON.stringify({ ...order, note })) };
  });
}

// ---- the worker ----------------------------------------------------------------------------------------------

/** Spawn `weir worker` (node + tsx directly, so that SIGTERM reaches the worker) and resolve its HTTP URL. */
function spawnWorker(stateDir: string): { url: Promise<string>; exit: Promise<number | null> } {
  mkdirSync(LOG_DIR, { recursive: true });
  const out = createWriteStream(logFile);
  const args = [
    "--import",
    "tsx",
    join(REPO_DIR, "bin", "weir.ts"),
    "worker",
    "--app",
    appModule,
    "--state-dir",
    stateDir,
    "--http-port",
    "0",
    "--guarantee",
    "exactly_once",
    ...(flags.commitIntervalMs ? ["--commit-interval-ms", String(flags.commitIntervalMs)] : []),
  ];
  const proc = spawn(process.execPath, args, {
    cwd: REPO_DIR,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  out.write(`[soak] pid ${proc.pid}: ${process.execPath} ${args.join(" ")}\n`);
  let resolveUrl: (url: string) => void;
  let rejectUrl: (err: Error) => void;
  const url = new Promise<string>((res, rej) => ((resolveUrl = res), (rejectUrl = rej)));
  let buffered = "";
  proc.stdout!.pipe(out, { end: false });
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (chunk: string) => {
    out.write(chunk);
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.includes("http server listening")) continue;
      try {
        resolveUrl(String((JSON.parse(line) as { url?: unknown }).url));
      } catch {
        // not a JSON log line
      }
    }
  });
  const exit = new Promise<number | null>((resolve) =>
    proc.once("exit", (code, signal) => {
      out.end(`[soak] exited: code ${code} signal ${signal}\n`);
      rejectUrl(new Error(`worker exited (code ${code}) before its HTTP server listened; log ${logFile}`));
      resolve(code);
    }),
  );
  return { url, exit };
}

/** Parse the Prometheus text format into `name{labels}` → value, summing nothing. */
function parseMetrics(text: string): Array<{ name: string; labels: string; value: number }> {
  const out: Array<{ name: string; labels: string; value: number }> = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) out.push({ name: m[1]!, labels: m[2] ?? "", value: Number(m[3]) });
  }
  return out;
}

async function sample(url: string, started: number): Promise<Sample> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const metrics = parseMetrics(await res.text());
  const t = (now() - started) / 1000;
  const one = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
  const sum = (name: string, labelPart = "") =>
    metrics.filter((m) => m.name === name && m.labels.includes(labelPart)).reduce((a, m) => a + m.value, 0);
  const committed = await stableCommitted();
  return {
    t: round2(t)!,
    committed,
    consumed: sum("weir_records_consumed_total", `topic="${input}"`),
    rssMiB: round2(one("process_resident_memory_bytes") / MiB)!,
    heapUsedMiB: round2(one("nodejs_heap_size_used_bytes") / MiB)!,
    heapTotalMiB: round2(one("nodejs_heap_size_total_bytes") / MiB)!,
    externalMiB: round2(one("nodejs_external_memory_bytes") / MiB)!,
    lagP99Ms: round2(one("nodejs_eventloop_lag_p99_seconds") * 1000)!,
    lagMaxMs: round2(one("nodejs_eventloop_lag_max_seconds") * 1000)!,
    storeMiB: round2(sum("weir_store_bytes") / MiB)!,
    load1: round2(loadavg()[0])!,
  };
}

/**
 * The group's stable committed offsets on the input, summed; -1 if none could be read within 3 s. Under
 * exactly-once a transactional commit is in flight most of the time (UNSTABLE_OFFSET_COMMIT), so poll until one
 * is not.
 */
async function stableCommitted(): Promise<number> {
  const deadline = now() + 3000;
  while (now() < deadline) {
    const committed = await committedOffsets(admin, group, input, flags.partitions).catch(() => undefined);
    if (committed) return [...committed.values()].reduce((a, b) => a + Math.max(0, b), 0);
    await sleep(20);
  }
  return -1;
}

/** Every source topic of the group is committed up to its (read_committed) end: input and repartition topics. */
async function allProcessed(ends: Map<number, number>, repartition: string[]): Promise<boolean> {
  const committed = await committedOffsets(admin, group, input, flags.partitions).catch(() => undefined);
  if (!reached(committed, ends)) return false;
  for (const topic of repartition) {
    // Only transactions write a repartition topic: its last offset is a commit marker, never consumed.
    const topicEnds = await endOffsets(admin, topic, flags.partitions);
    const c = await committedOffsets(admin, group, topic, flags.partitions).catch(() => undefined);
    if (!reached(c, new Map([...topicEnds].map(([p, end]) => [p, Math.max(0, end - 1)])))) return false;
  }
  return true;
}

// ---- the summary ---------------------------------------------------------------------------------------------

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  return points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
}

/** The first sample at or past `share` of the records (the last one for 100 %). */
const at = (samples: Sample[], total: number, share: number) =>
  samples.find((s) => s.committed >= share * total) ?? samples[samples.length - 1];

function summarize(samples: Sample[], total: number, seconds: number, firstSeconds: number | undefined) {
  const lastHalf = samples.filter((s) => s.committed >= total / 2);
  const perMillion = (pick: (s: Sample) => number) =>
    round2(slope(lastHalf.map((s) => [s.committed / 1e6, pick(s)])));
  const rss = (share: number) => at(samples, total, share)?.rssMiB;
  return {
    records: total,
    seconds: round2(seconds),
    recordsPerSecond: Math.round(total / seconds),
    steadyRecordsPerSecond:
      firstSeconds === undefined ? undefined : Math.round(total / (seconds - firstSeconds)),
    rssMiBAt10: rss(0.1),
    rssMiBAt50: rss(0.5),
    rssMiBAt100: rss(1),
    rssMiBMax: Math.max(...samples.map((s) => s.rssMiB)),
    heapUsedMiBAt10: at(samples, total, 0.1)?.heapUsedMiB,
    heapUsedMiBAt50: at(samples, total, 0.5)?.heapUsedMiB,
    heapUsedMiBAt100: at(samples, total, 1)?.heapUsedMiB,
    rssSlopeLastHalfMiBPerMillion: perMillion((s) => s.rssMiB),
    heapUsedSlopeLastHalfMiBPerMillion: perMillion((s) => s.heapUsedMiB),
    lastHalfSamples: lastHalf.length,
    maxEventLoopLagP99Ms: Math.max(...samples.map((s) => s.lagP99Ms).filter(Number.isFinite)),
    maxEventLoopLagMaxMs: Math.max(...samples.map((s) => s.lagMaxMs).filter(Number.isFinite)),
  };
}

// ---- the chart -----------------------------------------------------------------------------------------------

/** A "nice" axis maximum and step (1, 2 or 5 × 10^n) for `max`, about `ticks` steps. */
function niceAxis(max: number, ticks: number): { top: number; step: number } {
  const raw = Math.max(max, 1e-9) / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step || step, step };
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** RSS, heap used and heap total (MiB, left axis) and event-loop lag p99 (ms, right axis) against records. */
function chart(samples: Sample[], total: number, title: string, subtitle: string): string {
  const W = 960;
  const H = 540;
  const m = { left: 70, right: 70, top: 70, bottom: 60 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const pts = samples.filter((s) => s.committed >= 0);
  const xMax = niceAxis(total / 1e6, 10);
  const yMiB = niceAxis(Math.max(...pts.map((s) => Math.max(s.rssMiB, s.heapTotalMiB))), 8);
  const yMs = niceAxis(Math.max(...pts.map((s) => s.lagP99Ms).filter(Number.isFinite), 1), 8);
  const x = (records: number) => m.left + (records / 1e6 / xMax.top) * pw;
  const yl = (mib: number) => m.top + ph - (mib / yMiB.top) * ph;
  const yr = (ms: number) => m.top + ph - (ms / yMs.top) * ph;
  const line = (pick: (s: Sample) => number, y: (v: number) => number, color: string, dash = "") =>
    `<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""} points="${pts
      .filter((s) => Number.isFinite(pick(s)))
      .map((s) => `${x(s.committed).toFixed(1)},${y(pick(s)).toFixed(1)}`)
      .join(" ")}"/>`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`,
  ];
  for (let v = 0; v <= yMiB.top + 1e-9; v += yMiB.step) {
    parts.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${yl(v).toFixed(1)}" y2="${yl(v).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 8}" y="${(yl(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  for (let v = 0; v <= yMs.top + 1e-9; v += yMs.step)
    parts.push(`<text x="${m.left + pw + 8}" y="${(yr(v) + 4).toFixed(1)}" fill="#c0392b">${fmt(v)}</text>`);
  for (let v = 0; v <= xMax.top + 1e-9; v += xMax.step)
    parts.push(
      `<line x1="${x(v * 1e6).toFixed(1)}" x2="${x(v * 1e6).toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`,
      `<text x="${x(v * 1e6).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(v)}</text>`,
    );
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 18}" text-anchor="middle">records processed (millions, committed)</text>`,
    `<text transform="translate(20 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">MiB</text>`,
    `<text transform="translate(${W - 16} ${m.top + ph / 2}) rotate(90)" text-anchor="middle" fill="#c0392b">event-loop lag p99 (ms)</text>`,
    line((s) => s.lagP99Ms, yr, "#c0392b", "4 3"),
    line((s) => s.heapTotalMiB, yl, "#7fb3d5", "6 4"),
    line((s) => s.heapUsedMiB, yl, "#2471a3"),
    line((s) => s.rssMiB, yl, "#111"),
  );
  const legend: Array<[string, string, string]> = [
    ["RSS (MiB)", "#111", ""],
    ["heap used (MiB)", "#2471a3", ""],
    ["heap total (MiB)", "#7fb3d5", "6 4"],
    ["event-loop lag p99 (ms, right)", "#c0392b", "4 3"],
  ];
  legend.forEach(([label, color, dash], i) => {
    const lx = m.left + 10 + i * 200;
    parts.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${m.top - 12}" y2="${m.top - 12}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
      `<text x="${lx + 30}" y="${m.top - 8}">${esc(label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

// ---- versions ------------------------------------------------------------------------------------------------

const packageVersion = (path: string) =>
  (JSON.parse(readFileSync(join(REPO_DIR, path), "utf8")) as { version: string }).version;

// ---- main ----------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const topics = createTopics();
  const repartition = topics.filter((t) => t.endsWith("-repartition"));
  const loaded = await loadInput();
  log(`loaded in ${loaded.seconds.toFixed(1)} s (${Math.round(loaded.records / loaded.seconds)} records/s)`);
  const ends = await endOffsets(admin, input, flags.partitions);
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  if (total !== flags.records) throw new Error(`input holds ${total} records, expected ${flags.records}`);

  const stateDir = mkdtempSync(join(tmpdir(), "weir-soak-"));
  const started = now();
  const worker = spawnWorker(stateDir);
  let exited: number | null | undefined;
  void worker.exit.then((code) => (exited = code));
  const samples: Sample[] = [];
  let firstSeconds: number | undefined;
  let endSeconds: number | undefined;
  try {
    const url = await worker.url;
    log(`worker pid ${child!.pid} at ${url}; log ${logFile}; sampling every ${flags.sampleMs} ms`);
    let nextSample = now();
    for (;;) {
      if (exited !== undefined)
        throw new Error(`the worker exited (code ${exited}) before the end; log ${logFile}`);
      if (now() >= nextSample) {
        nextSample += flags.sampleMs;
        const s = await sample(url, started).catch((err: unknown) => {
          log(`sample failed: ${(err as Error).message}`);
          return undefined;
        });
        if (s) {
          samples.push(s);
          if (firstSeconds === undefined && s.consumed > 0) firstSeconds = s.t;
          log(
            `${s.t.toFixed(0)} s: ${s.committed.toLocaleString("en-US")} committed, RSS ${s.rssMiB} MiB, heap ${s.heapUsedMiB}/${s.heapTotalMiB} MiB, lag p99 ${s.lagP99Ms} ms`,
          );
        }
      }
      if (await allProcessed(ends, repartition).catch(() => false)) {
        endSeconds = (now() - started) / 1000;
        break;
      }
      if (now() - started > flags.timeoutMin * 60_000)
        throw new Error(`input not processed after ${flags.timeoutMin} min; log ${logFile}`);
      await sleep(Math.min(500, Math.max(50, nextSample - now())));
    }
    const last = await sample(url, started);
    samples.push(last);
    log(`all ${total.toLocaleString("en-US")} records processed after ${endSeconds.toFixed(1)} s: SIGTERM`);
  } finally {
    if (exited === undefined) child?.kill("SIGTERM");
  }
  const stopStarted = now();
  const code = await Promise.race([worker.exit, sleep(60_000).then(() => "timeout" as const)]);
  if (code === "timeout") {
    child?.kill("SIGKILL");
    throw new Error(`the worker did not exit within 60 s of SIGTERM; log ${logFile}`);
  }
  const stopSeconds = (now() - stopStarted) / 1000;
  rmSync(stateDir, { recursive: true, force: true });
  if (code !== 0)
    throw new Error(`the worker exited with ${code} after SIGTERM (expected 0); log ${logFile}`);
  log(`worker exited 0, ${stopSeconds.toFixed(1)} s after SIGTERM`);

  const summary = { ...summarize(samples, total, endSeconds!, firstSeconds), exitCode: code, stopSeconds };
  const rpsLine = `${summary.recordsPerSecond.toLocaleString("en-US")} records/s (${summary.steadyRecordsPerSecond?.toLocaleString("en-US") ?? "-"} from the first record on)`;
  console.log(
    `\nsoak: ${total.toLocaleString("en-US")} records through one weir worker (${flags.app}, exactly-once)`,
  );
  console.log(`command: ${command}`);
  console.log(`time: ${summary.seconds} s, ${rpsLine}`);
  console.log(
    `RSS at 10 % / 50 % / 100 %: ${summary.rssMiBAt10} / ${summary.rssMiBAt50} / ${summary.rssMiBAt100} MiB (max ${summary.rssMiBMax})`,
  );
  console.log(
    `heap used at 10 % / 50 % / 100 %: ${summary.heapUsedMiBAt10} / ${summary.heapUsedMiBAt50} / ${summary.heapUsedMiBAt100} MiB`,
  );
  console.log(
    `slope over the last half (${summary.lastHalfSamples} samples): RSS ${summary.rssSlopeLastHalfMiBPerMillion} MiB per million records, heap used ${summary.heapUsedSlopeLastHalfMiBPerMillion}`,
  );
  console.log(
    `max event-loop lag: p99 ${summary.maxEventLoopLagP99Ms} ms, max ${summary.maxEventLoopLagMaxMs} ms`,
  );
  console.log(`exit after SIGTERM: ${code} in ${stopSeconds.toFixed(1)} s`);

  if (flags.noResults) return;
  const date = new Date().toISOString();
  const file = writeResults("soak", {
    benchmark: "soak",
    date,
    command,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memoryMiB: Math.round(totalmem() / MiB),
      kernel: release(),
    },
    versions: {
      node: process.version,
      weir: packageVersion("package.json"),
      kafkaJavascript: packageVersion("node_modules/@confluentinc/kafka-javascript/package.json"),
      librdkafka: (Kafka as unknown as { librdkafkaVersion?: string }).librdkafkaVersion,
      broker: `${brokerVersion(flags.brokers)} at ${flags.brokers}`,
    },
    settings: {
      ...flags,
      appModule,
      guarantee: "exactly_once",
      input,
      group,
      workerLog: relative(REPO_DIR, logFile),
    },
    load: {
      mode: "pre-loaded before the worker started",
      records: loaded.records,
      seconds: round2(loaded.seconds),
      recordsPerSecond: Math.round(loaded.records / loaded.seconds),
    },
    summary,
    samples,
  });
  const svgFile = join(REPO_DIR, flags.svg);
  mkdirSync(dirname(svgFile), { recursive: true });
  writeFileSync(
    svgFile,
    chart(
      samples,
      total,
      `weir soak: ${(total / 1e6).toLocaleString("en-US")}M records, one worker (${flags.app}, exactly-once)`,
      `${date.slice(0, 16).replace("T", " ")} UTC · ${summary.recordsPerSecond.toLocaleString("en-US")} records/s · RSS slope over the last half ${summary.rssSlopeLastHalfMiBPerMillion} MiB per million records`,
    ),
  );
  console.log(`\nresults: ${file}\nchart: ${svgFile}`);
}

let stopping = false;
process.on("SIGINT", () => {
  if (stopping) process.exit(130);
  stopping = true;
  log("interrupted: stopping the worker");
  child?.kill("SIGTERM");
});

try {
  await main();
} finally {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (!flags.keep) await deleteTopics(admin, createdTopics);
  admin.disconnect();
}
