/**
 * `npm run bench [-- --quick]` — every contender (weir and its peers) on the same pre-loaded inputs, one at a time,
 * each as a child process following the contract of bench/peers/README.md. Per workload and contender: records/s,
 * the ratio to a raw consume of the same topic run just before, CPU seconds per million records and peak RSS of the
 * contender's process tree, whether its output is right, and (count, exactly-once) the p50/p99 end-to-end latency at
 * a fixed sub-maximal rate. Writes a table, bench/results/suite-<date>.json and an SVG chart beside it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import {
  Kafka,
  RdKafka,
  baseClientConfig,
  connect,
  consumeBatch,
  disconnect,
  extras,
  type KafkaConsumer,
  type Producer,
} from "../topology/kafka.js";
import {
  DEFAULT_BROKERS,
  KS_CLASSPATH,
  REPO_DIR,
  adminClient,
  asError,
  brokerVersion,
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
  rawAssignConsume,
  rawGroupConsume,
  reached,
  round2,
  runId,
  sleep,
  writeResults,
  type Row,
  type Timing,
} from "./lib.js";
import { DEFAULT_ORDERS, runOrders } from "./orders.js";
import { JoinCheck, RESTORE_CHANGELOGS, restoredCount, tableRecord } from "./suite-workloads.js";

const HELP = `usage: npm run bench -- [flags]
  --quick                    100,000 records and a 10 s latency run (default: 1,000,000 and 30 s)
  --brokers host:port        (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --records N                records per input (overrides --quick)
  --keys N                   distinct keys of the count input (default 100000)
  --window-keys N            distinct keys of the windowed-count input (default 1000)
  --partitions N             partitions of every input and output (default 6)
  --contenders a,b           of: ${"weir,kafka-streams,quix,faust,kafkats"} (default: all)
  --workloads a,b            of: count-eos,count-alos,windowed-count-eos,orders,join-eos,restore (default: all)
                             join-eos: the count input joined with a table of --keys rows; restore: a store of
                             --records keys rebuilt from its changelog (bench/peers/README.md)
  --orders N                 orders of the orders workload (default ${DEFAULT_ORDERS}, ÷ 5 with --quick; not --records:
                             an order is about 20 records through a pipeline that calls a service per order)
  --processes 1,2            also run weir's count-eos through 'weir worker --processes N' for each N (scaling)
  --latency-rate N           records/s of the latency run (default 2000)
  --latency-seconds N        length of the latency run (default 30, 10 with --quick)
  --no-latency               skip the latency runs
  --no-baseline              skip the raw consume runs
  --timeout-s N              stop one run after N s and report its rate so far (default 300, 60 with --quick)
  --keep                     keep the topics this run created
  --no-results               do not write bench/results/suite-<date>.{json,svg}`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    quick: false,
    brokers: DEFAULT_BROKERS,
    records: 0,
    keys: 100_000,
    windowKeys: 1_000,
    partitions: 6,
    valueBytes: 100,
    contenders: "weir,kafka-streams,quix,faust,kafkats",
    workloads: "count-eos,count-alos,windowed-count-eos,orders,join-eos,restore",
    orders: 0,
    processes: "",
    latencyRate: 2000,
    latencySeconds: 0,
    noLatency: false,
    noBaseline: false,
    timeoutS: 0,
    keep: false,
    noResults: false,
  },
  HELP,
);
const RECORDS = flags.records || (flags.quick ? 100_000 : 1_000_000);
// Not --records: the count's 500,000 records as orders made a backlog whose risk calls (served by this process,
// busy reading the statuses) outlived weir's 10 s transaction timeout.
const ORDERS = flags.orders || (flags.quick ? DEFAULT_ORDERS / 5 : DEFAULT_ORDERS);
const LATENCY_SECONDS = flags.latencySeconds || (flags.quick ? 10 : 30);
/** A contender slower than records ÷ this is reported with its rate so far (partial) rather than waited for. */
const TIMEOUT_S = flags.timeoutS || (flags.quick ? 60 : 300);
const WINDOW_MS = 10_000;
const COMMAND = `npm run bench${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`;

// ---- contenders ----------------------------------------------------------------------------------------------

interface Contender {
  name: string;
  /** Installs or builds what the contender needs; throws when it cannot. */
  setup: () => void;
  /** The contender's version, for the record. */
  version: () => string;
  /** The command line, the contract's flags appended. */
  command: (contract: string[]) => { cmd: string; argv: string[]; env?: Record<string, string> };
}

const VENV_PYTHON = join(REPO_DIR, ".weir", "bench", "venv", "bin", "python");
const runScript = (script: string) => {
  const r = spawnSync("bash", [join(REPO_DIR, script)], {
    stdio: ["ignore", "inherit", "inherit"],
    cwd: REPO_DIR,
  });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status})`);
};
const pinned = (file: string, name: string): string => {
  const text = existsSync(join(REPO_DIR, file)) ? readFileSync(join(REPO_DIR, file), "utf8") : "";
  const m = new RegExp(`${name.replace(/[/@.]/g, "\\$&")}"?\\s*(?:==|:\\s*")\\s*([\\w.-]+)`).exec(text);
  return m ? `${name} ${m[1]}` : name;
};

/** A peer in bench/peers/python, run by the venv that setup.sh makes; its version pinned in requirements.txt. */
function pythonPeer(name: string, script: string, pkg: string): Contender {
  return {
    name,
    setup: () => runScript("bench/peers/python/setup.sh"),
    version: () => pinned("bench/peers/python/requirements.txt", pkg),
    command: (contract) => ({
      cmd: VENV_PYTHON,
      argv: [join(REPO_DIR, "bench", "peers", "python", script), ...contract],
    }),
  };
}

const CONTENDERS: Contender[] = [
  {
    name: "weir",
    setup: () => undefined,
    version: () =>
      `weir ${(JSON.parse(readFileSync(join(REPO_DIR, "package.json"), "utf8")) as { version: string }).version}`,
    command: (contract) => ({
      cmd: process.execPath,
      argv: ["--import", "tsx", join(REPO_DIR, "bench", "peers", "weir-peer.ts"), ...contract],
    }),
  },
  {
    name: "kafka-streams",
    setup: buildKafkaStreams,
    version: () =>
      `kafka-streams ${/<kafka.version>([^<]+)</.exec(readFileSync(join(REPO_DIR, "bench/peers/kafka-streams/pom.xml"), "utf8"))?.[1] ?? "?"}`,
    command: (contract) => ({
      cmd: "java",
      argv: [
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-cp",
        KS_CLASSPATH,
        "dev.weir.bench.Peer",
        ...contract,
      ],
    }),
  },
  pythonPeer("quix", "quix_peer.py", "quixstreams"),
  pythonPeer("faust", "faust_peer.py", "faust-streaming"),
  {
    name: "kafkats",
    setup: () => runScript("bench/peers/kafkats/setup.sh"),
    version: () => pinned("bench/peers/kafkats/package.json", "@kafkats/flow"),
    command: (contract) => ({
      cmd: process.execPath,
      argv: [join(REPO_DIR, "bench", "peers", "kafkats", "peer.mjs"), ...contract],
    }),
  },
];

/** weir through its CLI with `--processes N` (the scaling table); count only. */
function weirProcesses(n: number): Contender {
  return {
    name: `weir --processes ${n}`,
    setup: () => undefined,
    version: CONTENDERS[0]!.version,
    command: (contract) => {
      const get = (flag: string) => contract[contract.indexOf(flag) + 1]!;
      return {
        cmd: process.execPath,
        argv: [
          "--import",
          "tsx",
          join(REPO_DIR, "bin", "weir.ts"),
          "worker",
          "--app",
          join(REPO_DIR, "bench", "count-app.ts"),
          "--processes",
          String(n),
          "--brokers",
          get("--brokers"),
          "--state-dir",
          get("--state-dir"),
          "--guarantee",
          get("--guarantee"),
          "--commit-interval-ms",
          get("--commit-interval-ms"),
          "--http-port",
          "0",
          "--log-level",
          "warn",
        ],
        env: {
          WEIR_BENCH_APP_ID: get("--app-id"),
          WEIR_BENCH_INPUT: get("--input"),
          WEIR_BENCH_OUTPUT: get("--output"),
        },
      };
    },
  };
}

// ---- workloads -----------------------------------------------------------------------------------------------

interface Workload {
  name: string;
  workload: "count" | "windowed-count" | "orders" | "join" | "restore";
  guarantee: "exactly_once" | "at_least_once";
}
const WORKLOADS: Workload[] = [
  { name: "count-eos", workload: "count", guarantee: "exactly_once" },
  { name: "count-alos", workload: "count", guarantee: "at_least_once" },
  { name: "windowed-count-eos", workload: "windowed-count", guarantee: "exactly_once" },
  // weir's order pipeline against each peer's (bench/orders.ts); its own topics, input and check.
  { name: "orders", workload: "orders", guarantee: "exactly_once" },
  { name: "join-eos", workload: "join", guarantee: "exactly_once" },
  { name: "restore", workload: "restore", guarantee: "exactly_once" },
];

const pick = <T extends { name: string }>(all: T[], list: string, what: string): T[] =>
  list.split(",").map((s) => {
    const found = all.find((x) => x.name === s.trim());
    if (!found) throw new Error(`unknown ${what} '${s}'\n${HELP}`);
    return found;
  });
const contenders = pick(CONTENDERS, flags.contenders, "contender");
const workloads = pick(WORKLOADS, flags.workloads, "workload");
const processCounts = flags.processes
  ? flags.processes.split(",").map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`--processes takes a list of positive integers, got '${s}'`);
      return n;
    })
  : [];

// ---- process-tree sampling (Linux /proc) ---------------------------------------------------------------------

const TICKS_PER_SECOND = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

interface ProcSample {
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  ticks: number;
  rssKiB: number;
}

function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    return { ppid: Number(rest[1]), ticks, rssKiB: rss ? Number(rss[1]) : 0 };
  } catch {
    return undefined; // gone
  }
}

/** CPU and memory of a process and its descendants, sampled; a descendant's last sample counts after it exits. */
class TreeSampler {
  #ticks = new Map<number, number>();
  /** Every process seen in the tree. */
  readonly pids = new Set<number>();
  peakRssKiB = 0;
  #timer: NodeJS.Timeout;

  constructor(private readonly root: number) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), 250);
  }

  sample(): void {
    const all = new Map<number, ProcSample>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const s = readProc(Number(entry));
      if (s) all.set(Number(entry), s);
    }
    const tree = new Set([this.root]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [pid, s] of all)
        if (!tree.has(pid) && tree.has(s.ppid)) {
          tree.add(pid);
          grew = true;
        }
    }
    let rss = 0;
    for (const pid of tree) if (pid !== this.root) this.pids.add(pid);
    for (const pid of tree) {
      const s = all.get(pid);
      if (!s) continue;
      rss += s.rssKiB;
      this.#ticks.set(pid, Math.max(this.#ticks.get(pid) ?? 0, s.ticks));
    }
    this.peakRssKiB = Math.max(this.peakRssKiB, rss);
  }

  cpuSeconds(): number {
    return [...this.#ticks.values()].reduce((a, b) => a + b, 0) / TICKS_PER_SECOND;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

// ---- running one contender -----------------------------------------------------------------------------------

const admin = adminClient(flags.brokers);
const createdTopics = new Set<string>();
let runCounter = 0;
const LOG_DIR = join(REPO_DIR, ".weir", "bench", "logs");

interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail: () => string;
  logFile: string;
  sampler: TreeSampler;
  appId: string;
  output: string;
  stateDir: string;
  /** `restore`: the contender's `restored <records> <ms>` stderr line, and when it came. */
  restored?: { records: number; ms: number; at: number };
  spawnedAt: number;
}

/**
 * `extra`: flags after the contract's (join: `--table`); `prepare`: called with the app id before the spawn
 * (restore: the changelog); `fixedOutput`: an output topic that exists already and is not the run's (orders).
 */
async function startContender(
  c: Contender,
  w: Workload,
  input: string,
  opts: { extra?: string[]; prepare?: (appId: string) => Promise<void>; fixedOutput?: string } = {},
): Promise<Started> {
  const { extra = [], prepare, fixedOutput } = opts;
  const appId = `bench-${c.name.replace(/[^a-z0-9]+/g, "-")}-${w.name}-${runId}-${++runCounter}`;
  const output = fixedOutput ?? `${appId}-out`;
  if (fixedOutput === undefined) {
    await createTopic(admin, output, flags.partitions);
    createdTopics.add(output);
  }
  await prepare?.(appId);
  const stateDir = mkdtempSync(join(tmpdir(), "weir-bench-suite-"));
  const contract = [
    "--brokers",
    flags.brokers,
    "--input",
    input,
    "--output",
    output,
    "--app-id",
    appId,
    "--workload",
    w.workload,
    "--guarantee",
    w.guarantee,
    "--commit-interval-ms",
    String(w.guarantee === "exactly_once" ? 100 : 1000),
    "--state-dir",
    stateDir,
    ...extra,
  ];
  const { cmd, argv, env } = c.command(contract);
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${appId}.log`);
  const child = spawn(cmd, argv, {
    cwd: REPO_DIR,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  child.once("error", (err) => log(`${c.name}: ${err.message}`));
  let tail = "";
  const file = createWriteStream(logFile);
  const started: Started = {
    child,
    exited,
    stderrTail: () => tail,
    logFile,
    sampler: new TreeSampler(child.pid ?? -1),
    appId,
    output,
    stateDir,
    spawnedAt: now(),
  };
  child.stderr!.on("data", (d: Buffer) => {
    file.write(d);
    tail = (tail + d.toString()).slice(-4000);
    const m = started.restored ? null : /^restored (\d+) (\d+)$/m.exec(tail);
    if (m) started.restored = { records: Number(m[1]), ms: Number(m[2]), at: now() };
  });
  child.once("exit", () => file.end());
  return started;
}

async function stopContender(s: Started): Promise<void> {
  s.sampler.stop();
  if (s.child.exitCode === null && s.child.signalCode === null) {
    s.child.kill("SIGTERM");
    const done = await Promise.race([s.exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!done) {
      log(`  did not exit 30 s after SIGTERM: SIGKILL`);
      s.child.kill("SIGKILL");
      await s.exited;
    }
  }
  // The child's own children (weir's --processes members, a Python helper) must not outlive the run.
  for (const pid of s.sampler.pids)
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  rmSync(s.stateDir, { recursive: true, force: true });
  // The contender's internal topics (changelogs, repartition, dead letters) carry its app id.
  const topics = await new Promise<string[]>((resolve) =>
    admin.listTopics({ timeout: 10_000 }, (err, list) => resolve(err ? [] : (list ?? []))),
  );
  for (const t of topics.filter((name) => name.includes(s.appId))) createdTopics.add(t);
}

/** Why a contender exited early: its `unsupported:` line (status 3) or its status and log tail. */
function exitReason(
  s: Started,
  code: number | null,
  signal: string | null,
): { unsupported?: string; failed?: string } {
  const line = /unsupported:\s*(.*)/.exec(s.stderrTail());
  if (code === 3 && line) return { unsupported: line[1]!.trim() };
  return {
    failed: `exited ${code ?? signal} — log ${s.logFile}: ${s.stderrTail().trim().split("\n").slice(-3).join(" | ").slice(0, 400)}`,
  };
}

interface RunResult {
  timing?: Timing;
  cpuSeconds?: number;
  peakRssMiB?: number;
  unsupported?: string;
  failed?: string;
  output?: { ok: boolean; detail: string };
  /** Set when the run timed out: the figures cover the records committed until then. */
  partial?: string;
}

async function runThroughput(
  c: Contender,
  w: Workload,
  input: string,
  ends: Map<number, number>,
  extra: string[] = [],
): Promise<RunResult> {
  const records = [...ends.values()].reduce((a, b) => a + b, 0);
  const started = now();
  const s = await startContender(c, w, input, { extra });
  let first: number | undefined;
  try {
    for (;;) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        const { code, signal } = await s.exited;
        return exitReason(s, code, signal);
      }
      if (first === undefined) {
        const out = await endOffsets(admin, s.output, flags.partitions).catch(() => undefined);
        const committed = out ? [...out.values()].reduce((a, b) => a + b, 0) : 0;
        if (committed > 0) first = now();
      }
      if (
        reached(await committedOffsets(admin, s.appId, input, flags.partitions).catch(() => undefined), ends)
      )
        break;
      if (now() - started > TIMEOUT_S * 1000) {
        // A contender too slow for the input: its rate so far (committed records ÷ time), marked as partial.
        s.sampler.sample();
        const committed = await committedOffsets(admin, s.appId, input, flags.partitions).catch(
          () => undefined,
        );
        const done = committed ? [...committed.values()].reduce((a, b) => a + Math.max(0, b), 0) : 0;
        return {
          timing: { records: done, seconds: (now() - started) / 1000, firstRecordSeconds: undefined },
          cpuSeconds: s.sampler.cpuSeconds(),
          peakRssMiB: s.sampler.peakRssKiB / 1024,
          partial: `timed out after ${TIMEOUT_S} s with ${done} of ${records} records committed: the rate is over those`,
        };
      }
      await sleep(100);
    }
    const end = now();
    s.sampler.sample();
    const cpuSeconds = s.sampler.cpuSeconds();
    const timing: Timing = {
      records,
      seconds: (end - started) / 1000,
      firstRecordSeconds: first === undefined ? undefined : (first - started) / 1000,
    };
    const output = await verifySettled(w, s.output, records);
    return { timing, cpuSeconds, peakRssMiB: s.sampler.peakRssKiB / 1024, output };
  } finally {
    await stopContender(s);
  }
}

// ---- inputs and output checks --------------------------------------------------------------------------------

/** The count input: value `<key>#<seq>#<sent ms>#xxx…`; key i % keys; timestamps T0 + i ms. */
const T0 = Math.floor((Date.now() - 3_600_000 - 10 * RECORDS) / WINDOW_MS) * WINDOW_MS;

async function loadInput(topic: string, keys: number): Promise<void> {
  await createTopic(admin, topic, flags.partitions);
  createdTopics.add(topic);
  const seq = new Map<number, number>();
  log(`loading ${RECORDS.toLocaleString("en-US")} records (${keys} keys) into ${topic}`);
  const loaded = await load(flags.brokers, topic, RECORDS, (i) => {
    const k = i % keys;
    const n = (seq.get(k) ?? 0) + 1;
    seq.set(k, n);
    const key = `k${k}`;
    return {
      key: Buffer.from(key),
      value: padded(`${key}#${n}#${T0 + i}#`, flags.valueBytes),
      timestamp: T0 + i,
    };
  });
  log(`  loaded in ${loaded.seconds.toFixed(1)} s`);
}

/** Every committed record of `topic`, read from the beginning to the end offsets as they are now. */
async function readAll(topic: string, onRecord: (key: string, value: string) => void): Promise<number> {
  const ends = await endOffsets(admin, topic, flags.partitions);
  const consumer: KafkaConsumer = new Kafka.KafkaConsumer({
    ...baseClientConfig(flags.brokers, `weir-bench-check-${process.pid}`),
    [RdKafka.groupId]: `weir-bench-check-${runId}`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.isolationLevel]: "read_committed",
  } as never);
  await connect(consumer);
  consumer.setDefaultConsumeTimeout(500);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  let read = 0;
  try {
    consumer.assign([...ends.keys()].map((partition) => ({ topic, partition, offset: 0 })));
    const positions = new Map<number, number>();
    const done = () => [...ends].every(([p, end]) => end === 0 || (positions.get(p) ?? 0) >= end);
    const deadline = Date.now() + 300_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`reading ${topic}: not at its end after 300 s`);
      for (const m of await consumeBatch(consumer, 10_000)) {
        positions.set(m.partition, m.offset + 1);
        if (m.offset >= (ends.get(m.partition) ?? 0)) continue;
        read++;
        onRecord(m.key?.toString() ?? "", m.value?.toString() ?? "");
      }
      // Transaction markers take offsets: a partition whose last records are markers is at its end too.
      for (const [p, end] of ends) {
        if ((positions.get(p) ?? 0) >= end) continue;
        const pos = consumer.position([{ topic, partition: p }])[0]?.offset;
        if (pos !== undefined && pos >= end) positions.set(p, pos);
      }
    }
  } finally {
    await disconnect(consumer);
  }
  return read;
}

/**
 * `verify`, read again (up to 5 times, 2 s apart) while outputs are only missing, under exactly-once: a transaction's
 * markers are written partition by partition, so the group's committed offsets can be visible before the last
 * output partitions' records are (seen: 490 of 1,000 restore probes missing at the first read, all there later).
 */
async function verifySettled(
  w: Workload,
  output: string,
  records: number,
): Promise<{ ok: boolean; detail: string }> {
  let result = await verify(w, output, records);
  for (let i = 1; i <= 5 && !result.ok && w.guarantee === "exactly_once"; i++) {
    if (!/ 0 duplicated, 0 wrong$/.test(result.detail)) break;
    await sleep(2000);
    result = await verify(w, output, records);
    if (result.ok) result.detail += ` (read ${i + 1} times: the last transaction's markers came late)`;
  }
  return result;
}

/** Is the output what the workload asks for (bench/peers/README.md)? */
async function verify(
  w: Workload,
  output: string,
  records: number,
): Promise<{ ok: boolean; detail: string }> {
  if (w.workload === "join") {
    const check = new JoinCheck();
    await readAll(output, (key, value) => check.add(key, value));
    return check.result(records);
  }
  if (w.workload === "count" || w.workload === "restore") {
    const seen = new Map<string, Set<number>>();
    let wrong = 0;
    let dup = 0;
    const read = await readAll(output, (key, value) => {
      const m = /^([^#]+)#(\d+)#.*:(\d+)$/.exec(value);
      if (!m || m[1] !== key || m[2] !== m[3]) {
        wrong++;
        return;
      }
      const set = seen.get(key) ?? new Set<number>();
      if (set.has(Number(m[3]))) dup++;
      set.add(Number(m[3]));
      seen.set(key, set);
    });
    const unique = [...seen.values()].reduce((a, s) => a + s.size, 0);
    const missing = records - unique;
    const ok = wrong === 0 && dup === 0 && missing === 0;
    return { ok, detail: `${read} outputs; ${missing} missing, ${dup} duplicated, ${wrong} wrong` };
  }
  // windowed-count: each output `<key>@<start>` = the input's count of that key in [start, start + 10 s); each
  // window that ended 1 s or more before the last record's timestamp is there exactly once.
  const expected = new Map<string, number>();
  for (let i = 0; i < records; i++) {
    const id = `k${i % flags.windowKeys}@${Math.floor((T0 + i) / WINDOW_MS) * WINDOW_MS}`;
    expected.set(id, (expected.get(id) ?? 0) + 1);
  }
  const lastClosed = T0 + records - 1 - 1000;
  const got = new Map<string, number>();
  let wrong = 0;
  let dup = 0;
  const read = await readAll(output, (key, value) => {
    if (got.has(key)) dup++;
    got.set(key, Number(value));
    if (expected.get(key) !== Number(value)) wrong++;
  });
  let missing = 0;
  for (const id of expected.keys()) {
    const start = Number(id.slice(id.indexOf("@") + 1));
    if (start + WINDOW_MS <= lastClosed && !got.has(id)) missing++;
  }
  return {
    ok: wrong === 0 && dup === 0 && missing === 0,
    detail: `${read} windows; ${missing} missing, ${dup} duplicated, ${wrong} wrong`,
  };
}

// ---- join and restore (bench/suite-workloads.ts) ---------------------------------------------------------------

let joinTableTopic: string | undefined;
/** The join's table topic (compacted), one record per key, every one older than the stream; loaded once. */
async function joinTable(): Promise<string> {
  if (joinTableTopic) return joinTableTopic;
  const topic = `bench-suite-join-table-${runId}`;
  await createTopic(admin, topic, flags.partitions, { "cleanup.policy": "compact" });
  createdTopics.add(topic);
  log(`loading ${flags.keys.toLocaleString("en-US")} table rows into ${topic}`);
  await load(flags.brokers, topic, flags.keys, (i) => tableRecord(i, flags.keys, T0));
  return (joinTableTopic = topic);
}

/**
 * `restore`: the contender's count-store changelog filled with RECORDS keys in its own format (RESTORE_CHANGELOGS; a
 * contender without one is started anyway and says why not), a raw consume of it, then the contender on an empty
 * state dir and input, timed by its `restored <records> <ms>` line; then probe records, one per sampled key, whose
 * outputs must carry the restored count + 1.
 */
async function runRestore(c: Contender, w: Workload, row: ResultRow): Promise<void> {
  const format = RESTORE_CHANGELOGS[c.name];
  const input = `bench-suite-restore-input-${runId}-${++runCounter}`;
  await createTopic(admin, input, flags.partitions);
  createdTopics.add(input);
  let baseline: Timing | undefined;
  const prepare = async (appId: string) => {
    if (!format) return;
    const changelog = format.topic(appId);
    await createTopic(admin, changelog, flags.partitions, { "cleanup.policy": "compact" });
    createdTopics.add(changelog);
    log(`writing ${RECORDS.toLocaleString("en-US")} keys to ${changelog}`);
    await load(flags.brokers, changelog, RECORDS, (i) => ({
      key: format.key(i),
      value: format.value(restoredCount(i)),
    }));
    if (!flags.noBaseline) {
      baseline = await rawAssignConsume(flags.brokers, changelog, flags.partitions, RECORDS, 10_000);
      row.baselineRecordsPerSecond = Math.round(rate(baseline));
    }
  };
  log(`${w.name}: ${c.name}`);
  const s = await startContender(c, w, input, { prepare });
  try {
    while (!s.restored) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        const { code, signal } = await s.exited;
        const why = exitReason(s, code, signal);
        row.note = why.unsupported ? `unsupported: ${why.unsupported}` : `failed: ${why.failed}`;
        log(`  ${row.note}`);
        return;
      }
      if (now() - s.spawnedAt > TIMEOUT_S * 1000) {
        row.note = `failed: no 'restored' line ${TIMEOUT_S} s after the start (log ${s.logFile})`;
        log(`  ${row.note}`);
        return;
      }
      await sleep(20);
    }
    const { records, ms, at } = s.restored;
    s.sampler.sample();
    row.records = records;
    row.seconds = round2(ms / 1000);
    row.recordsPerSecond = ms > 0 ? Math.round(records / (ms / 1000)) : undefined;
    row.ratioToRaw = baseline && ms > 0 ? round2(records / (ms / 1000) / rate(baseline)) : undefined;
    row.cpuSecondsPerMillion = round2((s.sampler.cpuSeconds() / Math.max(1, records)) * 1e6);
    row.peakRssMiB = Math.round(s.sampler.peakRssKiB / 1024);
    row.note = `ready ${((at - s.spawnedAt) / 1000).toFixed(1)} s after the spawn`;
    if (records !== RECORDS) row.note += `; restored ${records} records of ${RECORDS}`;
    // Probes: one record for each of `probes` keys; the count's output must be the restored count + 1.
    const probes = Math.min(1000, RECORDS);
    const id = (j: number) => Math.floor((j * RECORDS) / probes);
    await load(flags.brokers, input, probes, (j) => ({
      key: Buffer.from(`k${id(j)}`),
      value: padded(`k${id(j)}#${restoredCount(id(j)) + 1}#0#`, flags.valueBytes),
    }));
    const ends = await endOffsets(admin, input, flags.partitions);
    const by = now() + 120_000;
    while (
      !reached(await committedOffsets(admin, s.appId, input, flags.partitions).catch(() => undefined), ends)
    ) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        row.note += `; exited (${s.child.exitCode ?? s.child.signalCode}) before its probes were committed`;
        break;
      }
      if (now() > by) {
        row.note += "; probes not committed 120 s after they were written";
        break;
      }
      await sleep(100);
    }
    const out = await verifySettled(WORKLOADS[0]!, s.output, probes);
    row.output = `${out.ok ? "right" : "WRONG"}: ${probes} probes after the restore: ${out.detail}`;
    log(`  ${row.recordsPerSecond} records/s (${row.note}), ${row.output}`);
  } finally {
    await stopContender(s);
  }
}

// ---- latency at a fixed rate ---------------------------------------------------------------------------------

async function runLatency(
  c: Contender,
): Promise<{ p50?: number; p99?: number; records?: number; failed?: string; unsupported?: string }> {
  const w = WORKLOADS[0]!; // count-eos
  const input = `bench-suite-latency-${runId}-${++runCounter}`;
  await createTopic(admin, input, flags.partitions);
  createdTopics.add(input);
  const s = await startContender(c, w, input);
  const producer: Producer = new Kafka.Producer({
    ...baseClientConfig(flags.brokers, `weir-bench-latency-${process.pid}`),
    [RdKafka.enableIdempotence]: true,
    [RdKafka.lingerMs]: 1,
    [RdKafka.partitioner]: "murmur2_random",
  } as never);
  await connect(producer);
  producer.setPollInterval(100);
  const consumer: KafkaConsumer = new Kafka.KafkaConsumer({
    ...baseClientConfig(flags.brokers, `weir-bench-latency-reader-${process.pid}`),
    [RdKafka.groupId]: `weir-bench-latency-${runId}-${runCounter}`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.isolationLevel]: "read_committed",
    [RdKafka.fetchWaitMaxMs]: 10,
  } as never);
  await connect(consumer);
  consumer.assign(
    Array.from({ length: flags.partitions }, (_, partition) => ({ topic: s.output, partition, offset: 0 })),
  );
  const latencies: number[] = [];
  let measuring = false;
  let reading = true;
  let seen = 0;
  const reader = (async () => {
    // kafka-javascript's consume(n) waits up to its timeout for *each* message by default: records trickling in
    // faster than the timeout would hold a batch back until n arrived. Wait for the first only, as weir does.
    consumer.setDefaultConsumeTimeout(100);
    extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
    while (reading) {
      for (const m of await consumeBatch(consumer, 1000)) {
        seen++;
        const sent = Number(/^[^#]+#\d+#(\d+)#/.exec(m.value?.toString() ?? "")?.[1]);
        if (measuring && Number.isFinite(sent) && sent > 0) latencies.push(Date.now() - sent);
      }
    }
  })();
  let i = 0;
  const produce = (measured: boolean) => {
    const key = `k${i % flags.keys}`;
    const sent = measured ? Date.now() : 0;
    producer.produce(input, null, padded(`${key}#${++i}#${sent}#`, flags.valueBytes), Buffer.from(key));
  };
  try {
    // Up: probes every 500 ms until one comes out (start-up, group join, restore are not latency).
    const upBy = now() + 180_000;
    while (seen === 0) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        const { code, signal } = await s.exited;
        return exitReason(s, code, signal);
      }
      if (now() > upBy) return { failed: `no output 180 s after start (log ${s.logFile})` };
      produce(false);
      await sleep(500);
    }
    await sleep(2000);
    measuring = true;
    const perTick = Math.max(1, Math.round(flags.latencyRate / 100));
    const until = now() + LATENCY_SECONDS * 1000;
    let next = now();
    while (now() < until) {
      for (let k = 0; k < perTick; k++) produce(true);
      next += 10;
      await sleep(Math.max(0, next - now()));
    }
    const sentMeasured = perTick * Math.round((LATENCY_SECONDS * 1000) / 10);
    const drainBy = now() + 60_000;
    while (latencies.length < sentMeasured && now() < drainBy) await sleep(100);
    if (latencies.length === 0) return { failed: "no measured record came out" };
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    return { p50: q(0.5), p99: q(0.99), records: latencies.length };
  } finally {
    reading = false;
    await reader.catch(() => undefined);
    await disconnect(consumer);
    await disconnect(producer);
    await stopContender(s);
  }
}

// ---- the run -------------------------------------------------------------------------------------------------

interface ResultRow {
  workload: string;
  contender: string;
  version: string;
  records?: number;
  seconds?: number;
  recordsPerSecond?: number;
  baselineRecordsPerSecond?: number;
  ratioToRaw?: number;
  steadyRecordsPerSecond?: number;
  cpuSecondsPerMillion?: number;
  peakRssMiB?: number;
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  latencyRecords?: number;
  output?: string;
  note?: string;
}

function commandOutput(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "";
}

async function main(): Promise<void> {
  const ready = new Map<string, string | undefined>(); // contender → setup failure
  for (const c of contenders) {
    try {
      log(`setting up ${c.name}`);
      c.setup();
      ready.set(c.name, undefined);
    } catch (err) {
      ready.set(c.name, asError(err).message);
      log(`  ${c.name}: set-up failed: ${asError(err).message}`);
    }
  }
  const inputs = new Map<string, { topic: string; ends: Map<number, number> }>();
  const inputFor = async (w: Workload) => {
    const kind = w.workload === "windowed-count" ? "windowed" : "count"; // join: the count input is the stream
    let found = inputs.get(kind);
    if (!found) {
      const topic = `bench-suite-${kind}-input-${runId}`;
      await loadInput(topic, kind === "count" ? flags.keys : flags.windowKeys);
      found = { topic, ends: await endOffsets(admin, topic, flags.partitions) };
      inputs.set(kind, found);
    }
    return found;
  };

  const results: ResultRow[] = [];
  const runOne = async (c: Contender, w: Workload) => {
    const row: ResultRow = { workload: w.name, contender: c.name, version: c.version() };
    results.push(row);
    const setupFailure = ready.get(c.name);
    if (setupFailure !== undefined && !c.name.startsWith("weir --processes")) {
      row.note = `set-up failed: ${setupFailure}`;
      return;
    }
    if (w.workload === "restore") return runRestore(c, w, row);
    const { topic, ends } = await inputFor(w);
    const extra = w.workload === "join" ? ["--table", await joinTable()] : [];
    const records = [...ends.values()].reduce((a, b) => a + b, 0);
    let baseline: Timing | undefined;
    if (!flags.noBaseline) {
      baseline = await rawGroupConsume(flags.brokers, topic, records, 2000);
      row.baselineRecordsPerSecond = Math.round(rate(baseline));
    }
    log(`${w.name}: ${c.name}`);
    const r = await runThroughput(c, w, topic, ends, extra);
    if (r.unsupported) row.note = `unsupported: ${r.unsupported}`;
    if (r.failed) row.note = `failed: ${r.failed}`;
    if (r.partial) row.note = r.partial;
    if (r.timing) {
      row.records = r.timing.records;
      row.seconds = round2(r.timing.seconds);
      row.recordsPerSecond = Math.round(rate(r.timing));
      row.ratioToRaw = baseline ? round2(rate(r.timing) / rate(baseline)) : undefined;
      row.steadyRecordsPerSecond =
        r.timing.firstRecordSeconds === undefined
          ? undefined
          : Math.round(r.timing.records / (r.timing.seconds - r.timing.firstRecordSeconds));
      row.cpuSecondsPerMillion = round2(((r.cpuSeconds ?? 0) / r.timing.records) * 1e6);
      row.peakRssMiB = Math.round(r.peakRssMiB ?? 0);
      row.output = r.output ? `${r.output.ok ? "right" : "WRONG"}: ${r.output.detail}` : "not checked";
      log(`  ${row.recordsPerSecond} records/s, ${row.output}`);
    } else log(`  ${row.note}`);
    const latencyWanted =
      w.name === "count-eos" && !flags.noLatency && !c.name.startsWith("weir --processes") && r.output?.ok;
    // A fixed rate is only sub-maximal for a contender that does at least twice as much.
    const subMaximal = (row.steadyRecordsPerSecond ?? row.recordsPerSecond ?? 0) >= 2 * flags.latencyRate;
    if (latencyWanted && !r.partial && !subMaximal)
      row.note = `latency not measured: ${flags.latencyRate} records/s is more than half its rate`;
    if (latencyWanted && !r.partial && subMaximal) {
      log(`latency at ${flags.latencyRate} records/s for ${LATENCY_SECONDS} s: ${c.name}`);
      const l = await runLatency(c);
      if (l.p50 !== undefined) {
        row.latencyP50Ms = l.p50;
        row.latencyP99Ms = l.p99;
        row.latencyRecords = l.records;
        log(`  p50 ${l.p50} ms, p99 ${l.p99} ms`);
      } else row.note = [row.note, `latency: ${l.failed ?? l.unsupported}`].filter(Boolean).join("; ");
    }
  };
  for (const w of workloads) {
    if (w.workload === "orders") {
      const rows = await runOrders(
        {
          brokers: flags.brokers,
          partitions: flags.partitions,
          orders: ORDERS,
          timeoutS: flags.timeoutS || 300, // --quick's 60 s is short for a pipeline's start-up and drain
          start: (name, input, output) =>
            startContender(
              contenders.find((c) => c.name === name)!,
              w,
              input,
              {
                fixedOutput: output,
              },
            ),
          stop: stopContender,
          exitReason,
          keep: flags.keep,
          unavailable: (name) => {
            const failure = ready.get(name);
            return failure === undefined ? undefined : `set-up failed: ${failure}`;
          },
        },
        contenders.map((c) => c.name),
      );
      for (const r of rows) {
        const c = contenders.find((x) => x.name === r.contender)!;
        results.push({
          workload: w.name,
          contender: c.name,
          version: c.version(),
          records: r.orders,
          seconds: r.seconds,
          recordsPerSecond: r.ordersPerSecond,
          steadyRecordsPerSecond: r.steadyOrdersPerSecond,
          cpuSecondsPerMillion: r.cpuSecondsPerMillion,
          peakRssMiB: r.peakRssMiB,
          output: r.output,
          note: r.note ?? (r.output ? "records/s = orders/s (bench/orders.ts)" : undefined),
        });
      }
      continue;
    }
    for (const c of contenders) await runOne(c, w);
  }
  for (const n of processCounts) await runOne(weirProcesses(n), WORKLOADS[0]!);

  const rows: Row[] = results.map((r) => ({
    workload: r.workload,
    contender: r.contender,
    "records/s": r.recordsPerSecond,
    "× raw": r.ratioToRaw,
    "steady rec/s": r.steadyRecordsPerSecond,
    "CPU s/M": r.cpuSecondsPerMillion,
    "peak RSS MiB": r.peakRssMiB,
    "p50 ms": r.latencyP50Ms,
    "p99 ms": r.latencyP99Ms,
    output: r.output?.split(":")[0],
    note: r.note,
  }));
  const table = printTable(rows, [
    "workload",
    "contender",
    "records/s",
    "× raw",
    "steady rec/s",
    "CPU s/M",
    "peak RSS MiB",
    "p50 ms",
    "p99 ms",
    "output",
    "note",
  ]);
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    java: commandOutput("java", ["-version"]),
    python: existsSync(VENV_PYTHON) ? commandOutput(VENV_PYTHON, ["--version"]) : undefined,
    broker: brokerVersion(flags.brokers),
  };
  const settings = {
    records: RECORDS,
    keys: flags.keys,
    windowKeys: flags.windowKeys,
    orders: ORDERS,
    partitions: flags.partitions,
    valueBytes: flags.valueBytes,
    commitIntervalMs: { exactly_once: 100, at_least_once: 1000 },
    latencyRate: flags.latencyRate,
    latencySeconds: LATENCY_SECONDS,
  };
  console.log(`\nweir benchmark suite: ${COMMAND}`);
  console.log(`machine: ${JSON.stringify(machine)}`);
  console.log(`settings: ${JSON.stringify(settings)}`);
  console.log(
    "records/s from spawn until the group's committed offsets reach the input's end (start-up included); × raw = ÷ a raw consume of the same topic just before; CPU s/M = CPU seconds of the process tree per million records" +
      (workloads.some((w) => w.workload === "restore")
        ? "; restore: records ÷ the contender's own first-restore-start → last-restore-end, × raw = ÷ a raw consume of its changelog (CPU s/M from spawn to restored)"
        : "") +
      "\n",
  );
  console.log(table);
  if (!flags.noResults) {
    const file = writeResults("suite", {
      benchmark: "suite",
      date: new Date().toISOString(),
      command: COMMAND,
      machine,
      settings,
      results,
      table,
    });
    const svg = file.replace(/\.json$/, ".svg");
    writeFileSync(svg, chart(results, machine.cpu ?? "", COMMAND));
    console.log(`\nresults: ${file}\nchart: ${svg}`);
  }
}

// ---- the chart -----------------------------------------------------------------------------------------------

const COLOURS: Record<string, string> = {
  weir: "#1f6feb",
  "kafka-streams": "#e67e22",
  quix: "#8e44ad",
  faust: "#27ae60",
  kafkats: "#c0392b",
};

/** Horizontal bars: records/s per contender, grouped by workload; a contender without a figure says why. */
function chart(results: ResultRow[], cpu: string, command: string): string {
  const groups = [...new Set(results.map((r) => r.workload))];
  const W = 960;
  const barH = 18;
  const left = 190;
  const right = 170;
  // One scale per workload: a restore's records/s (a changelog read) dwarfs a processing rate.
  const max = (group: string) =>
    Math.max(1, ...results.filter((r) => r.workload === group).map((r) => r.recordsPerSecond ?? 0));
  const parts: string[] = [];
  let y = 60;
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${esc(g)}</text>`);
    y += 24;
    for (const r of results.filter((x) => x.workload === g)) {
      parts.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${esc(r.contender)}</text>`);
      if (r.recordsPerSecond) {
        const w = ((W - left - right) * r.recordsPerSecond) / max(g);
        const colour = COLOURS[r.contender] ?? COLOURS.weir!;
        parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colour}"/>`);
        const label = `${r.recordsPerSecond.toLocaleString("en-US")}/s${r.ratioToRaw ? ` (${r.ratioToRaw}× raw)` : ""}${r.output?.startsWith("WRONG") ? " WRONG OUTPUT" : ""}`;
        parts.push(`<text x="${left + w + 6}" y="${y + 13}">${esc(label)}</text>`);
      } else
        parts.push(
          `<text x="${left + 6}" y="${y + 13}" fill="#666">${esc((r.note ?? "no figure").slice(0, 110))}</text>`,
        );
      y += barH + 6;
    }
    y += 12;
  }
  const H = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">records/s (one scale per workload), same input and broker, one contender at a time</text>`,
    `<text x="${W / 2}" y="42" text-anchor="middle" fill="#444">${esc(`${command} — ${cpu}`)}</text>`,
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

try {
  await main();
} finally {
  if (!flags.keep) await deleteTopics(admin, createdTopics);
  admin.disconnect();
}
