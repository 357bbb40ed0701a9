/**
 * `npm run bench:rebalance` — how long partitions stop producing output when the group changes. Three workers of the
 * per-key count run as child processes under a steady load; a fourth joins, leaves cleanly (SIGTERM), and one of the
 * three is SIGKILLed and replaced. A read_committed observer assigned every output partition records when output
 * arrives; the pause of an event is the longest gap between arrivals on any partition around it. Contenders: weir
 * with the classic and the consumer (KIP-848) protocol, Kafka Streams 4.4 with the classic and its streams
 * (KIP-1071) protocol. Prints a table and writes bench/results/rebalance-<date>.json. See bench/README.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, type WriteStream } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import {
  Kafka,
  Offset,
  RdKafka,
  connect,
  consumeBatch,
  disconnect,
  extras,
  baseClientConfig,
  type IAdminClient,
  type KafkaConsumer,
  type Producer,
} from "../topology/kafka.js";
import {
  DEFAULT_BROKERS,
  KS_CLASSPATH,
  REPO_DIR,
  adminClient,
  brokerVersion,
  asError,
  buildKafkaStreams,
  createTopic,
  deleteTopics,
  log,
  now,
  parseFlags,
  printTable,
  runId,
  sleep,
  writeResults,
  type Row,
} from "./lib.js";

const CONTENDERS = ["weir-classic", "weir-consumer", "kstreams-classic", "kstreams-streams"] as const;
type Contender = (typeof CONTENDERS)[number];
const EVENTS = ["join", "leave", "kill", "replace"] as const;
type EventKind = (typeof EVENTS)[number];

const HELP = `usage: npm run bench:rebalance -- [flags]
  --brokers host:port      (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --contenders a,b         subset of ${CONTENDERS.join(",")} (default: all)
  --rounds N               join / leave / kill+replace rounds per contender (default 3)
  --rate N                 records/s produced to the input, all partitions together (default 1500)
  --keys N                 distinct keys, round-robin (default 3000)
  --partitions N           input and output partitions (default 6)
  --window-s N             seconds observed after each event (default 20); longer while a partition is still silent
  --baseline-s N           quiet seconds observed before the first event: the noise floor (default 10)
  --quick                  1 round, 15 s windows, 6 s baseline (for development)
  --kstreams-leave-group   the Kafka Streams peer closes with LEAVE_GROUP on SIGTERM (default: close(Duration),
                           Kafka Streams' default, which under the classic protocol stays in the group)
  --echo                   echo the workers' log lines to stderr
  --keep                   keep the topics
  --no-results             do not write bench/results/rebalance-<date>.json`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    brokers: DEFAULT_BROKERS,
    contenders: CONTENDERS.join(","),
    rounds: 3,
    rate: 1500,
    keys: 3000,
    partitions: 6,
    windowS: 20,
    baselineS: 10,
    quick: false,
    kstreamsLeaveGroup: false,
    echo: false,
    keep: false,
    noResults: false,
  },
  HELP,
);
if (flags.quick) {
  flags.rounds = 1;
  flags.windowS = Math.min(flags.windowS, 15);
  flags.baselineS = Math.min(flags.baselineS, 6);
}
const contenders = flags.contenders.split(",").map((c) => c.trim()) as Contender[];
for (const c of contenders) if (!CONTENDERS.includes(c)) throw new Error(`unknown contender '${c}'\n${HELP}`);

/** Silence on a partition longer than this at the end of a window extends the window (up to EXTEND_MS). */
const SILENT_MS = 1000;
const EXTEND_MS = 60_000;
/** The pause window starts this long before the event. */
const BEFORE_MS = 1000;
/** Quiet time between the end of one event's window and the next event. */
const SEPARATION_MS = 2000;
const READY_TIMEOUT_MS = 120_000;
const LOG_DIR = join(REPO_DIR, ".weir", "bench", "logs", `rebalance-${runId}`);

const admin = adminClient(flags.brokers);

// ---- members: one worker process each ---------------------------------------------------------------------------

/** Every member process started and not yet seen to exit: killed on any way out of this process. */
const live = new Set<Member>();

abstract class Member {
  readonly stateDir = mkdtempSync(join(tmpdir(), "weir-bench-rebalance-"));
  readonly logFile: string;
  protected child: ChildProcess | undefined;
  #log: WriteStream;
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  exitedAt: number | undefined;
  /** Set when SIGTERM/SIGKILL was sent by the harness: an exit after it is expected. */
  stopping = false;
  startedAt = 0;
  readyAt: number | undefined;

  constructor(readonly name: string) {
    mkdirSync(LOG_DIR, { recursive: true });
    this.logFile = join(LOG_DIR, `${name}.log`);
    this.#log = createWriteStream(this.logFile);
  }

  protected abstract command(): { command: string; args: string[]; env?: Record<string, string> };
  /** A line of the process's stdout or stderr. */
  protected abstract line(stream: "stdout" | "stderr", line: string): void;
  abstract waitReady(deadline: number): Promise<void>;

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.exitedAt === undefined;
  }

  start(): this {
    const { command, args, env } = this.command();
    this.startedAt = now();
    const child = spawn(command, args, {
      cwd: REPO_DIR,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    live.add(this);
    this.#exit = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exitedAt = now();
        live.delete(this);
        this.#log.write(`[harness] exited: code ${code} signal ${signal}\n`);
        if (!this.stopping) log(`  ${this.name} exited on its own: code ${code} signal ${signal}`);
        resolve({ code, signal });
      }),
    );
    child.on("error", (err) => this.#log.write(`[harness] spawn error: ${err.message}\n`));
    for (const stream of ["stdout", "stderr"] as const) {
      let buffered = "";
      child[stream]!.setEncoding("utf8");
      child[stream]!.on("data", (chunk: string) => {
        this.#log.write(chunk);
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (flags.echo) process.stderr.write(`[${this.name}] ${line}\n`);
          this.line(stream, line);
        }
      });
    }
    this.#log.write(`[harness] pid ${child.pid}: ${command} ${args.join(" ")}\n`);
    return this;
  }

  signal(signal: NodeJS.Signals): void {
    this.stopping = true;
    if (this.alive) this.child!.kill(signal);
  }

  /** Resolves when the process exited; rejects after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<void> {
    if (!this.#exit) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#exit,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. Safe on an exited member. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.alive) return;
    this.signal("SIGTERM");
    try {
      await this.exited(timeoutMs);
    } catch {
      log(`  ${this.name} did not stop within ${timeoutMs} ms: SIGKILL`);
      this.signal("SIGKILL");
      await this.exited(10_000).catch(() => undefined);
    }
  }

  /** The end of the member's log, for error messages. */
  tail(lines = 15): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  cleanup(): void {
    this.#log.end();
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  protected failIfExited(what: string): void {
    if (this.exitedAt !== undefined)
      throw new Error(`${this.name} exited while waiting for ${what}; log ${this.logFile}:\n${this.tail()}`);
  }
}

/** `weir worker --app test/apps/count.ts`, run with node and tsx directly: a signal reaches the worker itself. */
class WeirMember extends Member {
  #url: string | undefined;

  constructor(
    name: string,
    private readonly prefix: string,
    private readonly protocol: "classic" | "consumer",
  ) {
    super(name);
  }

  protected command() {
    return {
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        join(REPO_DIR, "bin", "weir.ts"),
        "worker",
        "--app",
        "test/apps/count.ts",
        "--state-dir",
        this.stateDir,
        "--http-port",
        "0",
        "--commit-interval-ms",
        "100",
        ...(this.protocol === "consumer" ? ["--group-protocol", "consumer"] : []),
      ],
      env: { KAFKA_BROKERS: flags.brokers, WEIR_TEST_PREFIX: this.prefix },
    };
  }

  protected line(stream: "stdout" | "stderr", line: string): void {
    if (stream !== "stderr" || this.#url || !line.includes("http server listening")) return;
    try {
      this.#url = String((JSON.parse(line) as { url?: unknown }).url);
    } catch {
      // not a JSON log line
    }
  }

  /** `/readyz` 200: assigned tasks restored and running. */
  async waitReady(deadline: number): Promise<void> {
    for (;;) {
      this.failIfExited("/readyz");
      if (this.#url) {
        const res = await fetch(`${this.#url}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(
          () => undefined,
        );
        if (res?.status === 200) {
          this.readyAt ??= now();
          return;
        }
      }
      if (now() > deadline)
        throw new Error(`${this.name} not ready in time; log ${this.logFile}:\n${this.tail()}`);
      await sleep(100);
    }
  }
}

/** The Kafka Streams peer's CountServe in its own JVM; prints {"state":"RUNNING"} on stdout when running. */
class KafkaStreamsMember extends Member {
  #running = false;

  constructor(
    name: string,
    private readonly prefix: string,
    private readonly protocol: "classic" | "streams",
  ) {
    super(name);
  }

  protected command() {
    return {
      command: "java",
      args: [
        "-Xmx384m",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ",
        "-cp",
        KS_CLASSPATH,
        "dev.weir.bench.CountServe",
        flags.brokers,
        `${this.prefix}-input`,
        `${this.prefix}-counts`,
        `${this.prefix}-app`,
        this.stateDir,
        this.protocol,
        "100",
        flags.kstreamsLeaveGroup ? "leave" : "default",
      ],
    };
  }

  protected line(stream: "stdout" | "stderr", line: string): void {
    if (stream !== "stdout") return;
    if (line.includes('"state":"RUNNING"')) this.#running = true;
    else if (line.includes('"state":')) this.#running = false;
  }

  /** State RUNNING (it goes back to REBALANCING while the group rebalances). */
  async waitReady(deadline: number): Promise<void> {
    for (;;) {
      this.failIfExited("state RUNNING");
      if (this.#running) {
        this.readyAt ??= now();
        return;
      }
      if (now() > deadline)
        throw new Error(`${this.name} not RUNNING in time; log ${this.logFile}:\n${this.tail()}`);
      await sleep(100);
    }
  }
}

function member(contender: Contender, prefix: string, name: string): Member {
  switch (contender) {
    case "weir-classic":
      return new WeirMember(name, prefix, "classic");
    case "weir-consumer":
      return new WeirMember(name, prefix, "consumer");
    case "kstreams-classic":
      return new KafkaStreamsMember(name, prefix, "classic");
    case "kstreams-streams":
      return new KafkaStreamsMember(name, prefix, "streams");
  }
}

/** Last resort on every way out: no worker process outlives the harness. */
function killAll(): void {
  for (const m of live) m.signal("SIGKILL");
}
process.on("exit", killAll);
/** Rejects the running contender's waits when the harness is interrupted. */
let abort: ((err: Error) => void) | undefined;
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    if (interrupted) {
      killAll();
      process.exit(130);
    }
    interrupted = true;
    log(`${sig}: stopping the workers and deleting the topics (again to kill at once)`);
    abort?.(new Error(`interrupted by ${sig}`));
  });

// ---- load and observation ----------------------------------------------------------------------------------------

/** A producer at a fixed rate, round-robin keys, murmur2 partitioning as weir's and Kafka Streams' producers. */
class Load {
  #producer: Producer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #started = 0;
  errors = 0;

  constructor(
    private readonly topic: string,
    private readonly rate: number,
    private readonly keys: number,
  ) {}

  get sent(): number {
    return this.#sent;
  }

  async start(): Promise<void> {
    const producer: Producer = new Kafka.Producer({
      ...baseClientConfig(flags.brokers, `weir-bench-rebalance-load-${process.pid}`),
      [RdKafka.enableIdempotence]: true,
      [RdKafka.acks]: "all",
      [RdKafka.lingerMs]: 5,
      [RdKafka.partitioner]: "murmur2_random",
    } as never);
    producer.on("event.error", (err) => {
      this.errors++;
      log(`load producer: ${asError(err).message}`);
    });
    await connect(producer);
    producer.setPollInBackground(true);
    this.#producer = producer;
    this.#started = now();
    // Catch up to rate × elapsed on every tick: the rate holds even when a tick comes late.
    this.#timer = setInterval(() => {
      const due = Math.floor(((now() - this.#started) / 1000) * this.rate);
      for (; this.#sent < due; this.#sent++) {
        const k = this.#sent % this.keys;
        try {
          producer.produce(this.topic, null, Buffer.from(`v${this.#sent}`), `k${k}`, Date.now());
        } catch (err) {
          this.errors++;
          log(`load producer: ${asError(err).message}`);
          break; // queue full: try again next tick
        }
      }
    }, 10);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer) await disconnect(producer, 10_000);
  }
}

/** Reads every output partition (read_committed, no group) and keeps, per partition, when output arrived. */
class Observer {
  readonly arrivals: number[][];
  readonly records: number[];
  #consumer: KafkaConsumer | undefined;
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly topic: string,
    private readonly partitions: number,
  ) {
    this.arrivals = Array.from({ length: partitions }, () => []);
    this.records = new Array<number>(partitions).fill(0);
  }

  async start(): Promise<void> {
    const consumer: KafkaConsumer = new Kafka.KafkaConsumer({
      ...baseClientConfig(flags.brokers, `weir-bench-rebalance-observer-${process.pid}`),
      [RdKafka.groupId]: `weir-bench-rebalance-observer-${runId}`,
      [RdKafka.enableAutoCommit]: false,
      [RdKafka.enableAutoOffsetStore]: false,
      [RdKafka.isolationLevel]: "read_committed",
      [RdKafka.fetchWaitMaxMs]: 10,
    } as never);
    consumer.setDefaultConsumeTimeout(50);
    extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
    await connect(consumer);
    consumer.assign(
      Array.from({ length: this.partitions }, (_, partition) => ({
        topic: this.topic,
        partition,
        offset: Offset.BEGINNING,
      })),
    );
    this.#consumer = consumer;
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        const messages = await consumeBatch(consumer, 5000).catch((err: unknown) => {
          log(`observer: ${asError(err).message}`);
          return [];
        });
        if (messages.length === 0) continue;
        const t = now();
        const seen = new Set<number>();
        for (const m of messages) {
          this.records[m.partition]! += 1;
          seen.add(m.partition);
        }
        for (const p of seen) this.arrivals[p]!.push(t);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    if (this.#consumer) await disconnect(this.#consumer);
  }

  /** Output records read so far. */
  total(): number {
    return this.records.reduce((a, b) => a + b, 0);
  }

  /** The last arrival on each partition (undefined: none yet). */
  last(): Array<number | undefined> {
    return this.arrivals.map((a) => a.at(-1));
  }

  /** Every partition has had output within the last `ms`. */
  allRecent(ms: number): boolean {
    const t = now();
    return this.last().every((l) => l !== undefined && t - l <= ms);
  }

  /**
   * Per partition, the longest gap between consecutive arrivals in [from, to]; a gap open at `from` counts from
   * `from`, one open at `to` up to `to`.
   */
  gaps(from: number, to: number): Array<{ partition: number; gapMs: number; fromMs: number; toMs: number }> {
    return this.arrivals.map((all, partition) => {
      let prev: number | undefined;
      let best = { gapMs: 0, start: from, end: from };
      for (const t of all) {
        if (t <= from) {
          prev = t;
          continue;
        }
        if (t > to) break;
        const start = Math.max(prev ?? from, from);
        if (t - start > best.gapMs) best = { gapMs: t - start, start, end: t };
        prev = t;
      }
      const start = Math.max(prev ?? from, from);
      if (to - start > best.gapMs) best = { gapMs: to - start, start, end: to };
      return {
        partition,
        gapMs: Math.round(best.gapMs),
        fromMs: Math.round(best.start - from),
        toMs: Math.round(best.end - from),
      };
    });
  }
}

// ---- one contender ---------------------------------------------------------------------------------------------

interface EventResult {
  round: number;
  event: EventKind;
  member: string;
  /** The longest gap on any partition in the event's window (ms). */
  pauseMs: number;
  /** Partitions whose gap exceeded 1 s, with the gap's bounds relative to the event. */
  paused: Array<{ partition: number; gapMs: number; fromMs: number; toMs: number }>;
  /** The window observed after the event (ms); longer than --window-s when a partition stayed silent. */
  windowMs: number;
  /** join / replace: from spawn to ready (weir /readyz 200, Kafka Streams RUNNING). */
  readyAfterMs?: number;
  /** leave: from SIGTERM to the process's exit. */
  exitAfterMs?: number;
}

interface ContenderResult {
  contender: Contender;
  status: "ok" | "skipped" | "failed";
  reason?: string;
  baselineMs?: number;
  baselinePerPartitionMs?: number[];
  events: EventResult[];
  /** Records the load produced, and output records read after it stopped (equal under exactly-once). */
  produced?: number;
  observed?: number;
  logs: string;
}

async function runContender(contender: Contender): Promise<ContenderResult> {
  const prefix = `rb-${runId}-${contender}`;
  const input = `${prefix}-input`;
  const output = `${prefix}-counts`;
  const result: ContenderResult = { contender, status: "ok", events: [], logs: LOG_DIR };
  const members: Member[] = [];
  let serial = 0;
  const spawnMember = () => {
    const m = member(contender, prefix, `${contender}-${++serial}`).start();
    members.push(m);
    log(`  started ${m.name} (pid ${m.pid})`);
    return m;
  };
  const interruptedPromise = new Promise<never>((_, reject) => (abort = reject));
  interruptedPromise.catch(() => undefined);
  const guard = <T>(p: Promise<T>) => Promise.race([p, interruptedPromise]);
  /** A member that was not asked to stop has exited: the contender cannot be measured. */
  const checkAlive = () => {
    const dead = members.find((m) => !m.stopping && m.exitedAt !== undefined);
    if (dead) throw new Error(`${dead.name} exited unexpectedly; log ${dead.logFile}:\n${dead.tail()}`);
  };
  const wait = async (ms: number) => {
    const until = now() + ms;
    while (now() < until) {
      checkAlive();
      await guard(sleep(Math.min(250, until - now())));
    }
  };

  await createTopic(admin, input, flags.partitions);
  await createTopic(admin, output, flags.partitions);
  const load = new Load(input, flags.rate, flags.keys);
  const observer = new Observer(output, flags.partitions);
  try {
    await observer.start();
    await load.start();
    log(`  load: ${flags.rate} records/s into ${input}`);
    const original = [spawnMember(), spawnMember(), spawnMember()];
    const deadline = now() + READY_TIMEOUT_MS;
    try {
      await guard(Promise.all(original.map((m) => m.waitReady(deadline))));
    } catch (err) {
      if (interrupted) throw err;
      // The first start of a contender is where a protocol the broker does not offer shows: skip, with the reason.
      result.status = "skipped";
      result.reason = `the first three workers did not all become ready: ${asError(err).message}`;
      return result;
    }
    log(`  3 workers ready; waiting for output on every partition`);
    const steadyBy = now() + 60_000;
    while (!observer.allRecent(500)) {
      if (now() > steadyBy)
        throw new Error("no steady output on every partition 60 s after the workers were ready");
      await wait(200);
    }
    await wait(3000);
    const baselineFrom = now();
    await wait(flags.baselineS * 1000);
    const base = observer.gaps(baselineFrom, now());
    result.baselineMs = Math.max(...base.map((g) => g.gapMs));
    result.baselinePerPartitionMs = base.map((g) => g.gapMs);
    log(`  baseline: longest gap ${result.baselineMs} ms over ${flags.baselineS} s`);

    /** Observe one event from `t0` for the window; extended while a partition is silent. */
    const observe = async (
      round: number,
      event: EventKind,
      who: Member,
      t0: number,
      extra: Partial<EventResult> = {},
    ): Promise<EventResult> => {
      await wait(Math.max(0, t0 + flags.windowS * 1000 - now()));
      const extendUntil = now() + EXTEND_MS;
      while (!observer.allRecent(SILENT_MS) && now() < extendUntil) await wait(100);
      const end = now();
      const gaps = observer.gaps(t0 - BEFORE_MS, end);
      // The next event's window (which starts BEFORE_MS before it) must not reach into this one.
      await wait(SEPARATION_MS);
      const pauseMs = Math.max(...gaps.map((g) => g.gapMs));
      const paused = gaps
        .filter((g) => g.gapMs > 1000)
        .map((g) => ({ ...g, fromMs: g.fromMs - BEFORE_MS, toMs: g.toMs - BEFORE_MS }));
      const r: EventResult = {
        round,
        event,
        member: who.name,
        pauseMs,
        paused,
        windowMs: Math.round(end - t0),
        ...extra,
      };
      log(
        `  round ${round} ${event} (${who.name}): pause ${pauseMs} ms` +
          (paused.length
            ? `; partitions > 1 s: ${paused.map((g) => `p${g.partition} ${g.gapMs} ms [${g.fromMs}..${g.toMs}]`).join(", ")}`
            : "") +
          (extra.readyAfterMs !== undefined ? `; ready after ${extra.readyAfterMs} ms` : "") +
          (extra.exitAfterMs !== undefined ? `; exited after ${extra.exitAfterMs} ms` : ""),
      );
      return r;
    };
    const readyAfter = async (m: Member) => {
      await guard(m.waitReady(now() + READY_TIMEOUT_MS));
      return Math.round(m.readyAt! - m.startedAt);
    };

    const core = [...original];
    for (let round = 1; round <= flags.rounds; round++) {
      // join: a fourth worker with a fresh state directory
      let t0 = now();
      const fourth = spawnMember();
      const joinReady = await readyAfter(fourth);
      result.events.push(await observe(round, "join", fourth, t0, { readyAfterMs: joinReady }));

      // leave: SIGTERM, a clean shutdown
      t0 = now();
      fourth.signal("SIGTERM");
      await guard(fourth.exited(60_000));
      const exitAfterMs = Math.round(fourth.exitedAt! - t0);
      result.events.push(await observe(round, "leave", fourth, t0, { exitAfterMs }));

      // kill: SIGKILL one of the three, a crash
      const index = (round - 1) % core.length;
      const victim = core[index]!;
      t0 = now();
      victim.signal("SIGKILL");
      result.events.push(await observe(round, "kill", victim, t0));

      // replace: a new worker with a fresh state directory takes the dead one's place
      t0 = now();
      const replacement = spawnMember();
      core[index] = replacement;
      const replaceReady = await readyAfter(replacement);
      result.events.push(await observe(round, "replace", replacement, t0, { readyAfterMs: replaceReady }));
    }
    // Exactly-once, observable: once the load stops, the output holds one record per input, no more, no less.
    await load.stop();
    result.produced = load.sent;
    const drainBy = now() + 30_000;
    while (observer.total() < load.sent && now() < drainBy) await wait(200);
    result.observed = observer.total();
    if (result.observed !== result.produced)
      log(`  warning: ${result.observed} output records for ${result.produced} inputs`);
  } catch (err) {
    if (interrupted) throw err;
    result.status = "failed";
    result.reason = asError(err).message;
    log(`  ${contender} failed: ${result.reason}`);
  } finally {
    abort = undefined;
    await Promise.all(members.map((m) => m.stop()));
    await load.stop();
    await observer.stop();
    for (const m of members) m.cleanup();
    if (!flags.keep) await deleteTopics(admin, await topicsWithPrefix(admin, prefix));
  }
  return result;
}

function topicsWithPrefix(client: IAdminClient, prefix: string): Promise<string[]> {
  return new Promise((resolve) =>
    client.listTopics({ timeout: 10_000 }, (err, topics) =>
      resolve(err ? [`${prefix}-input`, `${prefix}-counts`] : topics.filter((t) => t.startsWith(prefix))),
    ),
  );
}

// ---- the run -----------------------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? undefined
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The local broker's version, when it is the one scripts/broker.sh started on that port. */
function localBrokerVersion(): string {
  const version = brokerVersion(flags.brokers);
  return version === "unknown" ? version : `${version} (scripts/broker.sh)`;
}

async function main(): Promise<void> {
  if (contenders.some((c) => c.startsWith("kstreams"))) buildKafkaStreams();
  const command = `npm run bench:rebalance${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`;
  log(`logs of the workers: ${LOG_DIR}`);
  const results: ContenderResult[] = [];
  for (const contender of contenders) {
    if (interrupted) throw new Error("interrupted");
    log(`${contender}: 3 workers, ${flags.rounds} round(s) of join / leave / kill + replace`);
    results.push(await runContender(contender));
  }

  const rows: Row[] = [];
  for (const r of results) {
    if (r.status !== "ok") {
      rows.push({ contender: r.contender, event: `${r.status}: see below` });
      continue;
    }
    for (const event of EVENTS) {
      const pauses = r.events.filter((e) => e.event === event).map((e) => e.pauseMs);
      if (pauses.length === 0) continue;
      rows.push({
        contender: r.contender,
        event,
        n: pauses.length,
        "median pause ms": Math.round(median(pauses)!),
        "worst pause ms": Math.max(...pauses),
        "baseline ms": r.baselineMs,
      });
    }
  }
  const table = printTable(rows, [
    "contender",
    "event",
    "n",
    "median pause ms",
    "worst pause ms",
    "baseline ms",
  ]);
  console.log(
    `\nrebalance benchmark: ${flags.rate} records/s, ${flags.partitions} partitions, ${flags.rounds} round(s), ` +
      `windows ${flags.windowS} s, 3 workers (+1 joining)`,
  );
  console.log(`command: ${command}`);
  console.log(
    "pause = the longest gap between output arrivals on any partition, from 1 s before the event to the end of its window\n" +
      "baseline = the same over a quiet window before the first event (commits every 100 ms)\n",
  );
  console.log(table + "\n");
  for (const r of results.filter((r) => r.status === "ok"))
    console.log(
      `${r.contender}: ${r.produced} records produced, ${r.observed} output records read` +
        (r.produced === r.observed ? " (one per input)" : " (NOT one per input)"),
    );
  for (const r of results.filter((r) => r.status !== "ok"))
    console.log(`\n${r.contender} ${r.status}: ${r.reason}`);

  if (!flags.noResults) {
    const file = writeResults("rebalance", {
      benchmark: "rebalance",
      date: new Date().toISOString(),
      command,
      host: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      broker: { address: flags.brokers, version: localBrokerVersion() },
      settings: {
        ...flags,
        workers: 3,
        beforeMs: BEFORE_MS,
        silentMs: SILENT_MS,
        separationMs: SEPARATION_MS,
        commitIntervalMs: 100,
        guarantee: "exactly_once",
        sessionTimeouts: {
          "weir-classic":
            "session.timeout.ms 10000 (weir's default), heartbeat 2000, cooperative-sticky assignor",
          "weir-consumer":
            "the broker's group.consumer.session.timeout.ms / heartbeat.interval.ms (scripts/broker.sh: 10000 / 2000)",
          "kstreams-classic": "session.timeout.ms 10000, heartbeat.interval.ms 2000, Kafka Streams' assignor",
          "kstreams-streams":
            "the broker's group.streams.session.timeout.ms / heartbeat.interval.ms (scripts/broker.sh: 10000 / 2000)",
        },
        kafkaStreamsClose: flags.kstreamsLeaveGroup ? "close(CloseOptions LEAVE_GROUP)" : "close(Duration)",
      },
      results,
      table,
    });
    console.log(`\nresults: ${file}`);
  }
}

try {
  await main();
} catch (err) {
  if (!interrupted) throw err;
  log("interrupted: workers stopped, topics deleted");
  process.exitCode = 130;
} finally {
  killAll();
  admin.disconnect();
}
