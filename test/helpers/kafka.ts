/**
 * Promise-based helpers for tests that talk to a real Kafka broker through @confluentinc/kafka-javascript
 * (its node-rdkafka-style API) and Debian's kcat. Generic on purpose: no test logic lives here.
 *
 * Every helper that opens a client closes it before it settles, and every wait is bounded by a timeout that
 * fails with a message saying what was being waited for and how far it got.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

import Kafka from "@confluentinc/kafka-javascript";
import type {
  ConsumerGlobalConfig,
  ConsumerTopicConfig,
  DeliveryReport,
  GroupResults,
  IAdminClient,
  KafkaConsumer,
  LibrdKafkaError,
  Message,
  MessageHeader,
  Producer,
  ProducerGlobalConfig,
  ProducerTopicConfig,
  TopicDescription,
} from "@confluentinc/kafka-javascript";
import { topicEndOffsets } from "../../topology/kafka.js";

/** librdkafka error codes the helpers react to (see CODES.ERRORS in the client). */
const ERR_UNKNOWN_TOPIC_OR_PART = 3;
const ERR__QUEUE_FULL = -184;
const ERR_UNSTABLE_OFFSET_COMMIT = 88;

const DEFAULT_ADMIN_TIMEOUT_MS = 10_000;

/**
 * Client config as librdkafka takes it: global properties plus topic-level ones (`partitioner`,
 * `auto.offset.reset`, ...), which librdkafka applies to the default topic config when set globally.
 */
export type ProducerConfig = Partial<ProducerGlobalConfig> & Partial<ProducerTopicConfig>;
export type ConsumerConfig = Partial<ConsumerGlobalConfig> & Partial<ConsumerTopicConfig>;

// ---------------------------------------------------------------------------------------------------------------
// Basics
// ---------------------------------------------------------------------------------------------------------------

let brokersOverride: string | undefined;

/**
 * Points every helper of this module at `address` instead of KAFKA_BROKERS, for a test file that runs a cluster of
 * its own (test/helpers/cluster.ts); `undefined` goes back to KAFKA_BROKERS. process.env is left alone, so child
 * processes (workers) get their cluster only where the test passes it.
 */
export function useBrokers(address: string | undefined): void {
  brokersOverride = address;
}

/** The bootstrap servers of the test cluster (KAFKA_BROKERS, set by the integration global setup, or useBrokers). */
export function brokers(): string {
  const value = brokersOverride ?? process.env.KAFKA_BROKERS;
  if (!value) {
    throw new Error(
      "KAFKA_BROKERS is not set: run integration tests through `vitest --project integration` (its global setup " +
        "starts the local broker and sets it) or export KAFKA_BROKERS=host:port",
    );
  }
  return value;
}

let nameCounter = 0;

/** A topic / group / transactional id unique to this run: `<prefix>-<time>-<pid>-<counter>-<random>`. */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${nameCounter}-${randomBytes(3).toString("hex")}`;
}

/** Turns a node-style callback API into a promise: `await fromCallback((done) => producer.flush(5000, done))`. */
export function fromCallback<T = void>(
  start: (done: (err: LibrdKafkaError | Error | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => (err ? reject(toError(err)) : resolve(value as T)));
  });
}

/** librdkafka errors are plain objects, not Errors: wrap them so stacks and messages survive in test output. */
export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (err && typeof err === "object" && "message" in err) {
    const e = err as LibrdKafkaError;
    const wrapped = new Error(`${e.message} (librdkafka code ${e.code})`);
    Object.assign(wrapped, {
      code: e.code,
      origin: e.origin,
      isFatal: e.isFatal,
      isRetriable: e.isRetriable,
    });
    return wrapped;
  }
  return new Error(String(err));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown from a `waitFor` check to stop polling at once and reject with `cause`. */
export class FatalError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, or fails after `timeoutMs` with `what`
 * and the last value or error seen. An error thrown by `check` counts as "not yet", except a FatalError.
 * For conditions that have no event to wait on.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      if (err instanceof FatalError) throw err.cause;
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await delay(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------------------------

/** Runs `fn` with a fresh AdminClient and disconnects it afterwards. */
export async function withAdmin<T>(fn: (admin: IAdminClient) => Promise<T>): Promise<T> {
  const admin = Kafka.AdminClient.create({ "bootstrap.servers": brokers(), "client.id": "weir-test-admin" });
  try {
    return await fn(admin);
  } finally {
    admin.disconnect();
  }
}

/** A connected Producer (bootstrap.servers filled in). Set `dr_cb: true` in `config` to get delivery reports. */
export async function connectProducer(config: ProducerConfig = {}): Promise<Producer> {
  const producer = new Kafka.Producer({ "bootstrap.servers": brokers(), ...config } as ProducerGlobalConfig);
  await fromCallback((done) => producer.connect({ timeout: 10_000 }, (err) => done(err)));
  return producer;
}

/** A connected KafkaConsumer (bootstrap.servers filled in; `group.id` is required by the client). */
export async function connectConsumer(
  config: ConsumerConfig & { "group.id": string },
  topicConfig: ConsumerTopicConfig = {},
): Promise<KafkaConsumer> {
  const consumer = new Kafka.KafkaConsumer(
    { "bootstrap.servers": brokers(), ...config } as ConsumerGlobalConfig,
    topicConfig,
  );
  await fromCallback((done) => consumer.connect({ timeout: 10_000 }, (err) => done(err)));
  return consumer;
}

/** Disconnects a producer or consumer; resolves when the client reports it is closed. Safe on closed clients. */
export async function disconnect(client: Producer | KafkaConsumer | undefined): Promise<void> {
  if (!client || !client.isConnected()) return;
  await fromCallback((done) => client.disconnect((err: unknown) => done(err ? toError(err) : null)));
}

// ---------------------------------------------------------------------------------------------------------------
// Topics and offsets (AdminClient)
// ---------------------------------------------------------------------------------------------------------------

/** Partition ids of a topic whose partitions all have a leader, or `undefined` if not (yet) so. */
async function describeLeaders(admin: IAdminClient, topic: string): Promise<number[] | undefined> {
  const [description] = await fromCallback<TopicDescription[]>((done) =>
    admin.describeTopics([topic], { timeout: 5_000 }, (err, result) => done(err, result)),
  );
  if (!description || description.error || description.partitions.length === 0) return undefined;
  if (description.partitions.some((p) => !p.leader || p.leader.id < 0)) return undefined;
  return description.partitions.map((p) => p.partition).sort((a, b) => a - b);
}

/** The partition ids of an existing topic (fails if the topic does not exist or a partition has no leader). */
export async function topicPartitions(topic: string): Promise<number[]> {
  return withAdmin(async (admin) => {
    const partitions = await describeLeaders(admin, topic);
    if (!partitions) throw new Error(`topic ${topic} does not exist or has partitions without a leader`);
    return partitions;
  });
}

/**
 * Creates a topic (replication factor 1 unless `replicationFactor` says otherwise; -1 is the broker's
 * default.replication.factor) and waits until its metadata shows every partition with a leader.
 * `config` holds topic configs, e.g. `{ "cleanup.policy": "compact" }`.
 */
export async function createTopic(
  name: string,
  partitions = 1,
  config: Record<string, string> = {},
  { timeoutMs = 30_000, replicationFactor = 1 }: { timeoutMs?: number; replicationFactor?: number } = {},
): Promise<void> {
  await withAdmin(async (admin) => {
    await fromCallback((done) =>
      admin.createTopic(
        { topic: name, num_partitions: partitions, replication_factor: replicationFactor, config },
        DEFAULT_ADMIN_TIMEOUT_MS,
        (err) => done(err),
      ),
    );
    await waitFor(
      `topic ${name} to have ${partitions} partition(s) with leaders`,
      async () => (await describeLeaders(admin, name))?.length === partitions,
      { timeoutMs },
    );
  });
}

/** Deletes a topic and waits until the cluster no longer lists it. A topic that does not exist is not an error. */
export async function deleteTopic(
  name: string,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  await withAdmin(async (admin) => {
    try {
      await fromCallback((done) => admin.deleteTopic(name, DEFAULT_ADMIN_TIMEOUT_MS, (err) => done(err)));
    } catch (err) {
      if ((err as { code?: number }).code === ERR_UNKNOWN_TOPIC_OR_PART) return;
      throw err;
    }
    await waitFor(
      `topic ${name} to disappear after deletion`,
      async () => {
        const topics = await fromCallback<string[]>((done) =>
          admin.listTopics({ timeout: 5_000 }, (err, list) => done(err, list)),
        );
        return !topics.includes(name);
      },
      { timeoutMs },
    );
  });
}

/**
 * The committed offsets of `groupId` on `topic`, partition → offset (the next offset to consume), via the
 * AdminClient. Partitions without a committed offset are absent.
 *
 * Asks for stable offsets for each partition of the topic by name: the broker then answers
 * UNSTABLE_OFFSET_COMMIT for a partition whose offset sits in a transaction that is committed but whose marker
 * is not applied yet, and this retries until it is. (Asking for "all partitions of the group" instead skips
 * partitions that have no materialized offset yet, so right after the group's first transactional commit the
 * answer can be empty even though commitTransaction already returned.)
 */
export async function committedOffsets(
  groupId: string,
  topic: string,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<Map<number, number>> {
  const partitions = await topicPartitions(topic);
  return withAdmin((admin) =>
    waitFor(
      `stable committed offsets of group ${groupId} on ${topic}`,
      async () => {
        const [group] = await fromCallback<GroupResults[]>((done) =>
          admin.listConsumerGroupOffsets(
            [{ groupId, partitions: partitions.map((partition) => ({ topic, partition })) }],
            { timeout: DEFAULT_ADMIN_TIMEOUT_MS, requireStableOffsets: true },
            (err, result) => done(err, result),
          ),
        );
        if (!group) throw new Error(`listConsumerGroupOffsets returned nothing for group ${groupId}`);
        if (group.error) throw toError(group.error);
        const offsets = new Map<number, number>();
        for (const p of group.partitions) {
          if (p.error?.code === ERR_UNSTABLE_OFFSET_COMMIT) return undefined; // poll again
          if (p.error) throw new FatalError(toError(p.error));
          if (p.topic === topic && p.offset >= 0) offsets.set(p.partition, p.offset);
        }
        return offsets;
      },
      { timeoutMs },
    ),
  );
}

/**
 * The end offset of every partition of `topic`, partition → offset. With `read_uncommitted` that is the high
 * watermark; with `read_committed` it is the last stable offset (it stays behind while a transaction is open or its
 * markers are not written yet).
 */
export async function endOffsets(
  topic: string,
  isolation: "read_committed" | "read_uncommitted" = "read_uncommitted",
): Promise<Map<number, number>> {
  return withAdmin(async (admin) => {
    const partitions = await describeLeaders(admin, topic);
    if (!partitions) throw new Error(`topic ${topic} does not exist or has partitions without a leader`);
    return topicEndOffsets(admin, topic, partitions.length, isolation);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Producing
// ---------------------------------------------------------------------------------------------------------------

export type HeaderValue = string | Buffer;

export interface ProduceRecord {
  key: string | Buffer | null;
  value: string | Buffer | null;
  /** Explicit partition; otherwise the client's partitioner (by key) decides. */
  partition?: number;
  /** An object, or a list of pairs when a header name repeats or order matters. */
  headers?: Record<string, HeaderValue> | Array<[string, HeaderValue]>;
  /** Create time in ms since the epoch; otherwise the client stamps the time of produce(). */
  timestamp?: number;
}

export interface ProduceOptions {
  /**
   * Produce through this already connected producer (for example a transactional one, inside a transaction)
   * instead of a fresh one; it must have `dr_cb: true` and be polled (setPollInterval). It is not flushed
   * or disconnected.
   */
  producer?: Producer;
  /** Extra config for the fresh producer. Defaults: idempotence on (acks=all, ordered retries), linger 5 ms. */
  config?: ProducerConfig;
  /** Fails if the delivery reports are not all in by then. Default 60 s. */
  timeoutMs?: number;
}

function toMessageHeaders(headers: ProduceRecord["headers"]): MessageHeader[] | undefined {
  if (!headers) return undefined;
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.map(([name, value]) => ({ [name]: value }));
}

function toBuffer(value: string | Buffer | null): Buffer | null {
  return value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value, "utf8");
}

/**
 * Produces `records` to `topic` in order and resolves with their delivery reports (same order as `records`)
 * once every one has arrived without error; rejects on the first failed delivery or after `timeoutMs`.
 */
export async function produceAll(
  topic: string,
  records: readonly ProduceRecord[],
  opts: ProduceOptions = {},
): Promise<DeliveryReport[]> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const own = opts.producer === undefined;
  const producer =
    opts.producer ??
    (await connectProducer({
      "enable.idempotence": true,
      "linger.ms": 5,
      ...opts.config,
      dr_cb: true,
    }));
  // Delivery reports of this call carry this token in `opaque`, so a shared producer's other reports are ignored.
  const token = { call: Symbol("produceAll") };
  const reports: Array<DeliveryReport | undefined> = new Array(records.length);
  let delivered = 0;
  let onReport!: (err: LibrdKafkaError | null, report: DeliveryReport) => void;
  try {
    if (own) producer.setPollInterval(10);
    const allDelivered = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `produceAll(${topic}): ${delivered} of ${records.length} delivery report(s) after ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      onReport = (err, report) => {
        const opaque = report?.opaque as { token?: unknown; index?: number } | undefined;
        if (opaque?.token !== token || opaque.index === undefined) return;
        if (err) {
          clearTimeout(timer);
          reject(
            new Error(
              `produceAll(${topic}): delivery of record ${opaque.index} failed: ${toError(err).message}`,
            ),
          );
          return;
        }
        reports[opaque.index] = report;
        delivered += 1;
        if (delivered === records.length) {
          clearTimeout(timer);
          resolve();
        }
      };
      if (records.length === 0) {
        clearTimeout(timer);
        resolve();
      }
    });
    allDelivered.catch(() => undefined); // observed below; avoids an unhandled rejection while still producing
    producer.on("delivery-report", onReport);

    for (let index = 0; index < records.length; index++) {
      const r = records[index]!;
      for (;;) {
        try {
          producer.produce(
            topic,
            r.partition ?? null,
            toBuffer(r.value),
            toBuffer(r.key),
            r.timestamp ?? null,
            { token, index },
            toMessageHeaders(r.headers),
          );
          break;
        } catch (err) {
          // The local queue is full: let delivery reports drain it, then retry this record.
          if ((err as { code?: number }).code !== ERR__QUEUE_FULL) throw toError(err);
          producer.poll();
          await delay(5);
        }
      }
    }
    await fromCallback((done) => producer.flush(timeoutMs, (err) => done(err)));
    await allDelivered;
    return reports as DeliveryReport[];
  } finally {
    if (onReport) producer.removeListener("delivery-report", onReport);
    if (own) await disconnect(producer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Consuming
// ---------------------------------------------------------------------------------------------------------------

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  /** Key / value decoded as UTF-8 (null when absent). */
  key: string | null;
  value: string | null;
  /** The raw bytes. */
  keyBytes: Buffer | null;
  valueBytes: Buffer | null;
  /** Headers as an object of UTF-8 strings; the last value wins when a name repeats (see headerList). */
  headers: Record<string, string>;
  /** Headers in wire order, repeats kept, raw bytes. */
  headerList: Array<[string, Buffer]>;
  timestamp: number | undefined;
}

/** Normalizes a client message. The client delivers headers as `[{ name: Buffer }, ...]`, one object per header. */
export function toConsumedRecord(message: Message): ConsumedRecord {
  const keyBytes = message.key === undefined || message.key === null ? null : toBuffer(message.key);
  const headerList: Array<[string, Buffer]> = [];
  for (const header of message.headers ?? []) {
    for (const [name, value] of Object.entries(header)) {
      headerList.push([name, Buffer.isBuffer(value) ? value : Buffer.from(value, "utf8")]);
    }
  }
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: keyBytes?.toString("utf8") ?? null,
    value: message.value?.toString("utf8") ?? null,
    keyBytes,
    valueBytes: message.value,
    headers: Object.fromEntries(headerList.map(([name, value]) => [name, value.toString("utf8")])),
    headerList,
    timestamp: message.timestamp,
  };
}

/**
 * Reads from an already subscribed/assigned consumer until `until(records)` holds, in batches of up to
 * `batchSize`; fails after `timeoutMs` saying how many records arrived. The consumer stays connected.
 */
export async function pollRecords(
  consumer: KafkaConsumer,
  {
    until,
    timeoutMs,
    batchSize = 500,
  }: { until: (records: readonly ConsumedRecord[]) => boolean; timeoutMs: number; batchSize?: number },
): Promise<ConsumedRecord[]> {
  const records: ConsumedRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  consumer.setDefaultConsumeTimeout(100);
  while (!until(records)) {
    if (Date.now() >= deadline) {
      throw new Error(
        `pollRecords: condition not met after ${timeoutMs} ms; ${records.length} record(s) arrived`,
      );
    }
    const batch = await fromCallback<Message[]>((done) =>
      consumer.consume(batchSize, (err, msgs) => done(err, msgs)),
    );
    records.push(...batch.map(toConsumedRecord));
  }
  return records;
}

export interface ConsumeAllOptions {
  /** Stop once this many records arrived. Without it: stop when every partition of the topic reached its end. */
  expected?: number;
  /** Fail after this long, saying how many records arrived and which partitions reached their end. */
  timeoutMs: number;
  /** Default read_uncommitted (librdkafka's default is read_committed; state it in tests that care). */
  isolation?: "read_committed" | "read_uncommitted";
  /** Consumer group; default a fresh unique one. The consumer never commits offsets unless `config` says so. */
  groupId?: string;
  /** Start at the earliest offset when the group has no committed offset (default true), else at the end. */
  fromBeginning?: boolean;
  /** Extra consumer config. */
  config?: ConsumerConfig;
}

/**
 * Consumes `topic` with a fresh group member (subscribe, so committed offsets of `groupId` apply) and resolves
 * with the records in consumption order. Assumes it is the only member of its group: "end of every partition"
 * means every partition of the topic reported end-of-partition with no record after it, at an offset no lower
 * than the broker's end offset for the isolation level (high watermark; for read_committed the last stable
 * offset) queried at that moment.
 */
export async function consumeAll(topic: string, opts: ConsumeAllOptions): Promise<ConsumedRecord[]> {
  const { expected, timeoutMs } = opts;
  const started = Date.now();
  const partitions = await topicPartitions(topic);
  const consumer = await connectConsumer(
    {
      "group.id": opts.groupId ?? uniqueName("weir-test-consume-all"),
      "enable.auto.commit": false,
      "enable.partition.eof": true,
      "isolation.level": opts.isolation ?? "read_uncommitted",
      ...opts.config,
    },
    { "auto.offset.reset": opts.fromBeginning === false ? "latest" : "earliest" },
  );
  const isolation = opts.isolation ?? "read_uncommitted";
  const records: ConsumedRecord[] = [];
  // partition → offset of its latest end-of-partition event not followed by a record of that partition.
  const atEnd = new Map<number, number>();
  // End-of-partition events that the broker's end offsets contradicted (see below), for the error message.
  const earlyEofs: string[] = [];
  // 'data' and 'partition.eof' are emitted in the order librdkafka delivered them, so a record that arrives on
  // a partition after its end-of-partition event takes that partition out of `atEnd` again.
  // partition → offsets read. This reader commits nothing, so a rebalance of its own group (a coordinator that
  // moved or was still loading, a broker just restarted) starts its partitions at the earliest offset again and
  // delivers what it already read: that is not a second record on the topic. Such re-deliveries are dropped and
  // counted; a duplicate output of the code under test has an offset of its own and is kept.
  const read = new Map<number, Set<number>>();
  let redelivered = 0;
  const onData = (message: Message): void => {
    atEnd.delete(message.partition);
    let offsets = read.get(message.partition);
    if (!offsets) read.set(message.partition, (offsets = new Set()));
    if (offsets.has(message.offset)) {
      redelivered++;
      return;
    }
    offsets.add(message.offset);
    records.push(toConsumedRecord(message));
  };
  const onEof = (eof: { topic: string; partition: number; offset: number }): void => {
    if (eof.topic === topic) atEnd.set(eof.partition, eof.offset);
  };
  const describeProgress = (): string => {
    let positions: Array<{ partition: number; offset: number }> = [];
    try {
      positions = consumer.position();
    } catch {
      // not assigned (yet): leave empty
    }
    return (
      `${records.length} record(s)` +
      (expected !== undefined ? ` of ${expected} expected` : "") +
      `; end-of-partition offsets: {${[...atEnd].map(([p, o]) => `${p}: ${o}`).join(", ")}} of partitions ` +
      `[${partitions.join(", ")}]; positions: {${positions.map((tp) => `${tp.partition}: ${tp.offset}`).join(", ")}}` +
      (earlyEofs.length > 0 ? `; end-of-partition events before the end offset: ${earlyEofs.join("; ")}` : "")
    );
  };
  /**
   * Every partition reported its end. Cross-checked against the broker's end offsets for this isolation level:
   * an end-of-partition event below the end offset (all records were produced before this read started, but the
   * event came before them) does not count; the partition must report its end again.
   */
  const reachedEveryEnd = async (): Promise<boolean> => {
    if (!partitions.every((p) => atEnd.has(p))) return false;
    const ends = await endOffsets(topic, isolation);
    let complete = true;
    for (const p of partitions) {
      const eofOffset = atEnd.get(p) ?? -1;
      const end = ends.get(p) ?? 0;
      if (eofOffset < end) {
        earlyEofs.push(`partition ${p} reported its end at ${eofOffset}, end offset ${end}`);
        atEnd.delete(p);
        complete = false;
      }
    }
    return complete;
  };
  try {
    consumer.on("data", onData);
    consumer.on("partition.eof", onEof);
    consumer.setDefaultConsumeTimeout(100);
    consumer.subscribe([topic]);
    const deadline = started + timeoutMs;
    for (;;) {
      if (expected !== undefined ? records.length >= expected : await reachedEveryEnd()) break;
      if (Date.now() >= deadline) {
        throw new Error(`consumeAll(${topic}): timed out after ${timeoutMs} ms with ${describeProgress()}`);
      }
      await fromCallback<Message[]>((cb) => consumer.consume(1000, (err, msgs) => cb(err, msgs)));
    }
    if (earlyEofs.length > 0) {
      // Not a failure of the read (it recovered), but a client behaviour worth seeing in the test log.
      console.warn(`consumeAll(${topic}): ${earlyEofs.join("; ")}`);
    }
    if (redelivered > 0)
      console.warn(
        `consumeAll(${topic}): ${redelivered} record(s) delivered again to this reader, read once`,
      );
    return records;
  } finally {
    consumer.removeListener("data", onData);
    consumer.removeListener("partition.eof", onEof);
    await disconnect(consumer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// kcat
// ---------------------------------------------------------------------------------------------------------------

/**
 * Runs Debian's kcat against the test cluster (`kcat -b <brokers> ...args`), feeding `input` on stdin, and
 * returns its stdout; throws with the exit status and stderr on failure. Bounded by a 30 s timeout.
 */
export function kcat(args: readonly string[], input?: string | Buffer): string {
  const result = spawnSync("kcat", ["-b", brokers(), ...args], {
    input: input ?? "",
    encoding: "utf8",
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`kcat ${args.join(" ")}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `kcat ${args.join(" ")} exited with ${result.status ?? result.signal}: ${result.stderr.trim() || "(no stderr)"}`,
    );
  }
  return result.stdout;
}

/**
 * Changes a topic config with Kafka's own ConfigCommand (the client has no AlterConfigs), run from the jars
 * scripts/broker.sh provisioned: `kafka-configs.sh --alter --add-config k=v`.
 */
/** What scripts/broker.sh says about the local broker: its Kafka `version`, or the folder of its `libs`. */
function askBrokerScript(what: "version" | "libs"): string {
  const script = join(import.meta.dirname, "../../scripts/broker.sh");
  return execFileSync("bash", [script, what], { encoding: "utf8" }).trim();
}

/**
 * Whether the brokers speak KIP-848's consumer group protocol (Apache Kafka 4.0+): the tests' broker is the local
 * one of WEIR_BROKER_VERSION (default 4.4.0); 3.x has the protocol only as an early-access preview, off.
 */
export function consumerProtocolSupported(): boolean {
  return !askBrokerScript("version").startsWith("3.");
}

export function alterTopicConfig(topic: string, config: Record<string, string>): void {
  const version = askBrokerScript("version");
  const libs = askBrokerScript("libs");
  execFileSync(
    "java",
    [
      "-cp",
      `${libs}/*`,
      // Kafka 4 moved ConfigCommand from core to kafka-tools.
      version.startsWith("3.") ? "kafka.admin.ConfigCommand" : "org.apache.kafka.tools.ConfigCommand",
      "--bootstrap-server",
      brokers(),
      "--alter",
      "--entity-type",
      "topics",
      "--entity-name",
      topic,
      "--add-config",
      Object.entries(config)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    ],
    { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 },
  );
}

/**
 * Waits until `group` has committed every partition of `topic` up to its end offset now (every input processed
 * and committed); returns those end offsets.
 */
export async function waitAllCommitted(
  group: string,
  topic: string,
  { timeoutMs = 90_000 }: { timeoutMs?: number } = {},
): Promise<Map<number, number>> {
  const ends = await endOffsets(topic);
  await waitFor(
    `group ${group} to commit every record of ${topic}`,
    async () => {
      const committed = await committedOffsets(group, topic);
      const behind = [...ends]
        .filter(([partition, end]) => committed.get(partition) !== end)
        .map(
          ([partition, end]) =>
            `partition ${partition} committed ${committed.get(partition) ?? "none"} of ${end}`,
        );
      // Thrown (not returned) so that a timeout says which partitions lag and where.
      if (behind.length > 0) throw new Error(behind.join(", "));
      return true;
    },
    { timeoutMs, intervalMs: 500 },
  );
  return ends;
}
