/**
 * Shared plumbing of the benchmarks: flags, topics and offsets through the AdminClient, a fast idempotent loader,
 * the raw-consume baselines, and the result table / JSON file. Only @confluentinc/kafka-javascript and weir's own
 * librdkafka wrappers (topology/kafka.ts) are used, so baseline and engine read through the same client.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GroupResults, TopicDescription } from "@confluentinc/kafka-javascript";
import {
  ErrorCode,
  Kafka,
  Offset,
  RdKafka,
  connect,
  consumeBatch,
  disconnect,
  extras,
  baseClientConfig,
  produceInOrder,
  topicEndOffsets,
  type IAdminClient,
  type KafkaConfig,
  type KafkaConsumer,
  type LibrdKafkaError,
  type Producer,
} from "../topology/kafka.js";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = dirname(BENCH_DIR);
/** `--brokers` when not given: KAFKA_BROKERS (as the CLI and the tests), else the local broker's default port. */
export const DEFAULT_BROKERS = process.env.KAFKA_BROKERS || "127.0.0.1:9092";

// ---- the Kafka Streams peer ----------------------------------------------------------------------------------

export const KS_DIR = join(REPO_DIR, "bench", "peers", "kafka-streams");
/** Where Maven builds the peer (git-ignored): classes/ and lib/ (the dependency jars). */
export const KS_OUT = join(REPO_DIR, ".weir", "bench", "kafka-streams");
export const KS_CLASSPATH = [join(KS_OUT, "classes"), join(KS_OUT, "lib", "*")].join(":");

/**
 * Build the peer with `mvn -q package`. lib/ is emptied first: copy-dependencies only adds jars, and jars of an
 * earlier kafka-streams version left there would share the `lib/*` classpath with the current ones.
 */
export function buildKafkaStreams(): void {
  log(`building the Kafka Streams peer (mvn -q package) into ${KS_OUT}`);
  rmSync(join(KS_OUT, "lib"), { recursive: true, force: true });
  const result = spawnSync(
    "mvn",
    ["-q", "-B", "-f", join(KS_DIR, "pom.xml"), `-Dbench.out=${KS_OUT}`, "package"],
    { stdio: "inherit" },
  );
  if (result.status !== 0) throw new Error(`mvn package failed (exit ${result.status})`);
}

// ---- flags ---------------------------------------------------------------------------------------------------

export type FlagValue = string | number | boolean;

/** `--name value`, `--name=value` and bare `--flag` (true). Numbers accept `1e6` and `1_000_000`. */
export function parseFlags<T extends Record<string, FlagValue>>(
  argv: string[],
  defaults: T,
  help: string,
): T {
  const out: Record<string, FlagValue> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      console.log(help);
      process.exit(0);
    }
    if (!arg.startsWith("--")) throw new Error(`unexpected argument '${arg}'\n${help}`);
    const eq = arg.indexOf("=");
    const name = camel(eq < 0 ? arg.slice(2) : arg.slice(2, eq));
    if (!(name in defaults)) throw new Error(`unknown flag '${arg}'\n${help}`);
    const kind = typeof defaults[name];
    let raw: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (raw === undefined && kind !== "boolean") raw = argv[++i];
    if (kind === "boolean") out[name] = raw === undefined ? true : raw !== "false";
    else if (kind === "number") {
      const n = Number(String(raw).replace(/_/g, ""));
      if (!Number.isFinite(n) || n < 0)
        throw new Error(`flag --${name} needs a non-negative number, got '${raw}'`);
      out[name] = n;
    } else out[name] = String(raw);
  }
  return out as T;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

// ---- small utilities -----------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const now = () => performance.now();
/** A name unique to this run. */
export const runId = `${Date.now().toString(36)}-${process.pid}`;

function callback<T>(
  start: (done: (err: LibrdKafkaError | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    start((err, value) => (err ? reject(asError(err)) : resolve(value as T))),
  );
}

export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  const e = err as LibrdKafkaError;
  return new Error(`${e?.message ?? String(err)} (librdkafka code ${e?.code})`);
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---- admin ---------------------------------------------------------------------------------------------------

export function adminClient(brokers: string): IAdminClient {
  return Kafka.AdminClient.create(baseClientConfig(brokers, `weir-bench-admin-${process.pid}`) as never);
}

/** Create a topic and wait until every partition has a leader. */
export async function createTopic(
  admin: IAdminClient,
  name: string,
  partitions: number,
  config: Record<string, string> = {},
): Promise<void> {
  await callback<void>((done) =>
    admin.createTopic(
      { topic: name, num_partitions: partitions, replication_factor: 1, config },
      15_000,
      (err) => done(err && err.code !== ErrorCode.TOPIC_ALREADY_EXISTS ? err : null),
    ),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [d] = await callback<TopicDescription[]>((done) =>
      admin.describeTopics([name], { timeout: 5000 }, done),
    ).catch(() => []);
    if (
      d &&
      !d.error &&
      d.partitions.length === partitions &&
      d.partitions.every((p) => p.leader && p.leader.id >= 0)
    )
      return;
    if (Date.now() > deadline) throw new Error(`topic ${name} has no leader for every partition after 30 s`);
    await sleep(100);
  }
}

export async function deleteTopics(admin: IAdminClient, names: Iterable<string>): Promise<void> {
  for (const name of names)
    await callback<void>((done) =>
      admin.deleteTopic(name, 15_000, (err) =>
        done(err && err.code !== ErrorCode.UNKNOWN_TOPIC_OR_PART ? err : null),
      ),
    ).catch((err: unknown) => log(`could not delete topic ${name}: ${asError(err).message}`));
}

/** End offsets (read_committed: the last stable offset) per partition. */
export function endOffsets(
  admin: IAdminClient,
  topic: string,
  partitions: number,
): Promise<Map<number, number>> {
  return topicEndOffsets(admin, topic, partitions, "read_committed");
}

/** The group's stable committed offsets on `topic`; undefined while a transactional commit is in flight. */
export async function committedOffsets(
  admin: IAdminClient,
  group: string,
  topic: string,
  partitions: number,
): Promise<Map<number, number> | undefined> {
  const [result] = await callback<GroupResults[]>((done) =>
    admin.listConsumerGroupOffsets(
      [
        {
          groupId: group,
          partitions: Array.from({ length: partitions }, (_, partition) => ({ topic, partition })),
        },
      ],
      { timeout: 10_000, requireStableOffsets: true },
      done,
    ),
  );
  if (!result || result.error) return undefined;
  const out = new Map<number, number>();
  for (const p of result.partitions) {
    if (p.error) return undefined; // UNSTABLE_OFFSET_COMMIT: poll again
    out.set(p.partition, p.offset);
  }
  return out;
}

export const reached = (committed: Map<number, number> | undefined, ends: Map<number, number>): boolean =>
  // An empty partition is never committed (no record advanced it): it counts as reached.
  committed !== undefined && [...ends].every(([p, end]) => end === 0 || (committed.get(p) ?? -1) >= end);

// ---- loading -------------------------------------------------------------------------------------------------

/**
 * Produce `count` records as fast as the client allows: idempotent, big batches, lz4-free (the engine's producers
 * do not compress either), murmur2 partitioning as weir's producers. Returns the load rate.
 */
export async function load(
  brokers: string,
  topic: string,
  count: number,
  record: (i: number) => { key: Buffer; value: Buffer; partition?: number; timestamp?: number },
): Promise<{ records: number; seconds: number }> {
  const producer: Producer = new Kafka.Producer({
    ...baseClientConfig(brokers, `weir-bench-loader-${process.pid}`),
    [RdKafka.enableIdempotence]: true,
    [RdKafka.acks]: "all",
    [RdKafka.lingerMs]: 20,
    [RdKafka.batchNumMessages]: 100_000,
    // Under the broker's default message.max.bytes (1 MB): a bigger batch is rejected as a whole.
    "batch.size": 900_000,
    [RdKafka.queueBufferingMaxMessages]: 1_000_000,
    [RdKafka.queueBufferingMaxKbytes]: 2_097_151,
    [RdKafka.partitioner]: "murmur2_random",
    [RdKafka.deliveryReports]: true,
  } as never);
  producer.on("event.error", (err) => log(`loader: ${asError(err).message}`));
  await connect(producer);
  producer.setPollInBackground(true);
  const started = now();
  try {
    await produceInOrder(producer, count, (i) => ({ topic, ...record(i) }));
  } finally {
    await disconnect(producer, 10_000);
  }
  return { records: count, seconds: (now() - started) / 1000 };
}

/** A value of exactly `size` bytes starting with `prefix` (padded with 'x'). */
export function padded(prefix: string, size: number): Buffer {
  const b = Buffer.alloc(Math.max(size, prefix.length), "x");
  b.write(prefix, 0, "latin1");
  return b;
}

// ---- raw consume baselines -----------------------------------------------------------------------------------

export interface Timing {
  records: number;
  /** From the start (client creation / worker.start()) until the end was reached (committed, for engines). */
  seconds: number;
  /** When the first record was seen, relative to the start; undefined if not observable. */
  firstRecordSeconds?: number;
}

export const rate = (t: Timing) => t.records / t.seconds;
/** Records per second from the first record on: start-up (connect, group join, restore) excluded. */
export const steadyRate = (t: Timing) =>
  t.firstRecordSeconds === undefined ? undefined : t.records / (t.seconds - t.firstRecordSeconds);

/**
 * The baseline of the engine benchmark: a plain KafkaConsumer configured as weir's own consumer (read_committed,
 * a fresh consumer group with the same assignor, fetch.wait.max.ms 50, consume timeout 100 ms for the first
 * message only) reading `expected` records in batches of `batch` with `consume(n)`, and doing nothing with them.
 */
export async function rawGroupConsume(
  brokers: string,
  topic: string,
  expected: number,
  batch: number,
  config: KafkaConfig = {},
): Promise<Timing> {
  const started = now();
  const consumer: KafkaConsumer = new Kafka.KafkaConsumer({
    [RdKafka.bootstrapServers]: brokers,
    [RdKafka.clientId]: `weir-bench-raw-${process.pid}`,
    [RdKafka.groupId]: `weir-bench-raw-${runId}-${Math.random().toString(36).slice(2, 8)}`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.enableAutoOffsetStore]: false,
    [RdKafka.isolationLevel]: "read_committed",
    [RdKafka.autoOffsetReset]: "earliest",
    [RdKafka.assignmentStrategy]: "cooperative-sticky",
    [RdKafka.fetchWaitMaxMs]: 50,
    ...config,
  } as never);
  consumer.setDefaultConsumeTimeout(100);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  await connect(consumer);
  consumer.subscribe([topic]);
  return drain(consumer, expected, batch, started, 300_000);
}

/**
 * The baseline of the restore benchmark: a KafkaConsumer configured as weir's restore consumer (read_committed,
 * partition EOF, fetch.wait.max.ms 10, queued.min.messages 200000, consume(10000)), assigned the partitions from
 * the beginning without a group, reading `expected` records. Timed from assign(), as weir's restore is.
 */
export async function rawAssignConsume(
  brokers: string,
  topic: string,
  partitions: number,
  expected: number,
  batch: number,
): Promise<Timing> {
  const consumer: KafkaConsumer = new Kafka.KafkaConsumer({
    [RdKafka.bootstrapServers]: brokers,
    [RdKafka.clientId]: `weir-bench-raw-restore-${process.pid}`,
    [RdKafka.groupId]: `weir-bench-raw-restore-${runId}`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.enableAutoOffsetStore]: false,
    [RdKafka.isolationLevel]: "read_committed",
    [RdKafka.enablePartitionEof]: true,
    [RdKafka.fetchWaitMaxMs]: 10,
    [RdKafka.queuedMinMessages]: 200_000,
    [RdKafka.queuedMaxMessagesKbytes]: 262_144,
  } as never);
  consumer.setDefaultConsumeTimeout(200);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  await connect(consumer);
  const started = now();
  consumer.assign(
    Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: Offset.BEGINNING })),
  );
  return drain(consumer, expected, batch, started, 300_000);
}

async function drain(
  consumer: KafkaConsumer,
  expected: number,
  batch: number,
  started: number,
  timeoutMs: number,
): Promise<Timing> {
  let records = 0;
  let bytes = 0;
  let first: number | undefined;
  try {
    while (records < expected) {
      if (now() - started > timeoutMs)
        throw new Error(`raw consume: ${records}/${expected} records after ${timeoutMs} ms`);
      const messages = await consumeBatch(consumer, batch);
      if (messages.length > 0 && first === undefined) first = now();
      records += messages.length;
      for (const m of messages) bytes += m.size; // touch every message, as any consumer would
    }
    const seconds = (now() - started) / 1000;
    return {
      records,
      seconds,
      firstRecordSeconds: first === undefined ? undefined : (first - started) / 1000,
    };
  } finally {
    consumer.unsubscribe();
    await disconnect(consumer);
    void bytes;
  }
}

// ---- results -------------------------------------------------------------------------------------------------

export interface Row {
  [column: string]: string | number | undefined;
}

export function printTable(rows: Row[], columns: string[]): string {
  const cell = (v: string | number | undefined) =>
    v === undefined
      ? "-"
      : typeof v === "number"
        ? Number.isInteger(v)
          ? v.toLocaleString("en-US")
          : v.toFixed(2)
        : v;
  const left = columns.map((c) =>
    rows.some((r) => typeof r[c] === "string" && !/^[\d.,-]+$/.test(r[c] as string)),
  );
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    "| " + vals.map((v, i) => (left[i] ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(" | ") + " |";
  const out = [
    line(columns),
    "|" + widths.map((w, i) => (left[i] ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|",
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ];
  return out.join("\n");
}

/** Write `bench/results/<name>-<date>.json` and return its path. */
/**
 * The version of the local broker at `brokers` (its first address), as scripts/broker.sh recorded it in its run
 * folder under .weir or WEIR_HOME; "unknown" for a broker it did not start.
 */
export function brokerVersion(brokers: string): string {
  const port = /:(\d+)$/.exec(brokers.split(",")[0]!)?.[1];
  const homes = [join(REPO_DIR, ".weir"), ...(process.env.WEIR_HOME ? [process.env.WEIR_HOME] : [])];
  for (const home of homes) {
    const file = join(home, `broker-${port}`, "version");
    if (existsSync(file)) return `Apache Kafka ${readFileSync(file, "utf8").trim()}`;
  }
  return "unknown";
}

export function writeResults(name: string, data: unknown): string {
  const dir = join(BENCH_DIR, "results");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z");
  const file = join(dir, `${name}-${stamp}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + "\n");
  return file;
}

export const round2 = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 100) / 100);
