/**
 * The librdkafka boundary, and the one place with Kafka plumbing: configuration keys as named constants, client
 * configuration, promise wrappers around the callback API of @confluentinc/kafka-javascript (its node-rdkafka-style
 * API: batch consume, rebalance callbacks, transactions), in-order produce with back-off, offsets, topics. Public as
 * `weir/kafka` for tools built on weir; `bin/` and `bench/` use it. The test helpers keep an independent client path
 * on purpose: they check weir's behaviour with code that is not weir's, as kcat does.
 */
import Kafka from "@confluentinc/kafka-javascript";
import type {
  IAdminClient,
  KafkaConsumer,
  LibrdKafkaError,
  Message,
  MessageHeader,
  Producer,
  TopicPartition,
  TopicPartitionOffset,
  WatermarkOffsets,
} from "@confluentinc/kafka-javascript";
import { TopologyError } from "./errors.js";
import type { Headers, RawRecord } from "./record.js";

export { Kafka };
export type {
  IAdminClient,
  KafkaConsumer,
  LibrdKafkaError,
  Message,
  Producer,
  TopicPartition,
  TopicPartitionOffset,
};

export type KafkaConfig = Record<string, string | number | boolean>;

/** librdkafka configuration keys weir sets (see librdkafka's CONFIGURATION.md). */
export const RdKafka = {
  bootstrapServers: "bootstrap.servers",
  clientId: "client.id",
  groupId: "group.id",
  enableAutoCommit: "enable.auto.commit",
  enableAutoOffsetStore: "enable.auto.offset.store",
  isolationLevel: "isolation.level",
  autoOffsetReset: "auto.offset.reset",
  assignmentStrategy: "partition.assignment.strategy",
  sessionTimeoutMs: "session.timeout.ms",
  heartbeatIntervalMs: "heartbeat.interval.ms",
  groupProtocol: "group.protocol",
  groupRemoteAssignor: "group.remote.assignor",
  maxPollIntervalMs: "max.poll.interval.ms",
  enablePartitionEof: "enable.partition.eof",
  fetchWaitMaxMs: "fetch.wait.max.ms",
  fetchMinBytes: "fetch.min.bytes",
  queuedMinMessages: "queued.min.messages",
  queuedMaxMessagesKbytes: "queued.max.messages.kbytes",
  transactionalId: "transactional.id",
  transactionTimeoutMs: "transaction.timeout.ms",
  enableIdempotence: "enable.idempotence",
  acks: "acks",
  lingerMs: "linger.ms",
  messageMaxBytes: "message.max.bytes",
  batchNumMessages: "batch.num.messages",
  queueBufferingMaxMessages: "queue.buffering.max.messages",
  queueBufferingMaxKbytes: "queue.buffering.max.kbytes",
  partitioner: "partitioner",
  statisticsIntervalMs: "statistics.interval.ms",
  socketKeepalive: "socket.keepalive.enable",
  reconnectBackoffMs: "reconnect.backoff.ms",
  reconnectBackoffMaxMs: "reconnect.backoff.max.ms",
  allowAutoCreateTopics: "allow.auto.create.topics",
  deliveryReports: "dr_cb",
  rebalanceCallback: "rebalance_cb",
} as const;

/** librdkafka error codes weir reacts to. */
export const ErrorCode = {
  ASSIGN_PARTITIONS: -175,
  REVOKE_PARTITIONS: -174,
  TIMED_OUT: -185,
  FATAL: -150,
  QUEUE_FULL: -184,
  PARTITION_EOF: -191,
  TRANSPORT: -195,
  ALL_BROKERS_DOWN: -187,
  UNKNOWN_TOPIC_OR_PART: 3,
  TOPIC_ALREADY_EXISTS: 36,
  UNKNOWN_TOPIC: -188,
  /** The client's state does not allow the call (e.g. seeking a partition whose fetcher stopped). */
  STATE: -172,
  /** `auto.offset.reset=error` met a partition without a valid offset. */
  AUTO_OFFSET_RESET: -140,
} as const;

/** librdkafka's per-record overhead beyond key, value and headers (MessageV2 varints and attributes, rounded up). */
export const RECORD_OVERHEAD_BYTES = 64;

/** The bytes a record takes against `message.max.bytes`, as librdkafka counts them (an upper bound). */
export function recordBytes(key: Buffer | null, value: Buffer | null, headers: Headers | undefined): number {
  let size = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
  if (headers) for (const k in headers) size += 10 + Buffer.byteLength(k) + Buffer.byteLength(headers[k]!);
  return size;
}

/** The back-off wait of the retry loops around Kafka calls. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `promise`, or a rejection once `ms` passed without it settling: for a client call whose callback may never come.
 * The timer does not keep the process alive.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Whether `promise` settled (resolved or rejected) within `ms`. */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withDeadline(
    promise.then(
      () => true,
      () => true,
    ),
    ms,
  ).catch(() => false);
}

/** A topic-partition as a map key, `<topic>/<partition>` (topic names may not contain '/'). */
export const tpKey = (topic: string, partition: number): string => `${topic}/${partition}`;

/** The topic and partition of a `tpKey`. */
export function splitTp(key: string): [string, number] {
  const i = key.lastIndexOf("/");
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

/** Offsets of librdkafka's logical positions. */
export const Offset = { BEGINNING: -2, END: -1, STORED: -1000, INVALID: -1001 } as const;

/** The settings every client weir creates starts from: where Kafka is, who is asking, then the user's overrides. */
export function baseClientConfig(brokers: string, clientId: string, extra: KafkaConfig = {}): KafkaConfig {
  return {
    [RdKafka.bootstrapServers]: brokers,
    [RdKafka.clientId]: clientId,
    ...extra,
  };
}

export interface RecordToProduce {
  topic: string;
  partition?: number | null;
  key: Buffer | null;
  value: Buffer | null;
  timestamp?: number;
}

/**
 * Produce records in order through a connected producer that has delivery reports on and is polled (in the
 * background or on an interval). A full local queue is waited out with a short back-off, never dropped. Resolves
 * once every delivery report arrived; rejects on the first failed delivery or after `timeoutMs`.
 */
export async function produceInOrder(
  producer: Producer,
  count: number,
  record: (i: number) => RecordToProduce,
  options: { timeoutMs?: number; onProgress?: (delivered: number) => void } = {},
): Promise<void> {
  let delivered = 0;
  let failure: LibrdKafkaError | undefined;
  const onReport = (err: LibrdKafkaError | null | undefined) => {
    if (err) failure ??= err;
    delivered++;
  };
  const fail = (e: LibrdKafkaError) => new Error(`delivery failed: ${e.message} (code ${e.code})`);
  producer.on("delivery-report", onReport);
  let lastReported = -1;
  const report = () => {
    if (delivered !== lastReported) options.onProgress?.((lastReported = delivered));
  };
  try {
    for (let i = 0; i < count; i++) {
      const r = record(i);
      for (;;) {
        if (failure) throw fail(failure);
        try {
          producer.produce(r.topic, r.partition ?? null, r.value, r.key, r.timestamp);
          break;
        } catch (err) {
          if ((err as LibrdKafkaError).code !== ErrorCode.QUEUE_FULL) throw err;
          report();
          await sleep(5);
        }
      }
    }
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    while (delivered < count) {
      if (failure) throw fail(failure);
      if (Date.now() > deadline)
        throw new Error(`only ${delivered} of ${count} delivery reports after ${timeoutMs} ms`);
      report();
      await sleep(10);
    }
    if (failure) throw fail(failure);
    report();
  } finally {
    producer.removeListener("delivery-report", onReport);
  }
}

export function brokerList(brokers: string | undefined): string {
  const list = (brokers ?? "").trim();
  if (!list)
    throw new TopologyError(
      "no Kafka brokers configured: set KAFKA_BROKERS=host:port[,host:port] or pass --brokers",
    );
  return list;
}

const cb =
  <T>(resolve: (v: T) => void, reject: (e: unknown) => void) =>
  (err: LibrdKafkaError | null | undefined, value?: T) =>
    err ? reject(err) : resolve(value as T);

export function connect<
  C extends { connect(opts: object, cb: (err: LibrdKafkaError, m: unknown) => void): unknown },
>(client: C, timeoutMs = 10_000): Promise<C> {
  return new Promise((resolve, reject) =>
    client.connect({ timeout: timeoutMs }, (err) => (err ? reject(err) : resolve(client))),
  );
}

export function disconnect(client: KafkaConsumer | Producer, timeoutMs = 5000): Promise<void> {
  if (!client.isConnected()) return Promise.resolve();
  return new Promise((resolve) => {
    // The producer flushes first (bounded by timeoutMs); the consumer's disconnect takes only a callback.
    if (client instanceof Kafka.Producer) client.disconnect(timeoutMs, () => resolve());
    else client.disconnect(() => resolve());
  });
}

export const Txn = {
  init: (p: Producer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.initTransactions(timeoutMs, cb(res, rej))),
  begin: (p: Producer) => new Promise<void>((res, rej) => p.beginTransaction(cb(res, rej))),
  sendOffsets: (p: Producer, offsets: TopicPartitionOffset[], consumer: KafkaConsumer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.sendOffsetsToTransaction(offsets, consumer, timeoutMs, cb(res, rej))),
  commit: (p: Producer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.commitTransaction(timeoutMs, cb(res, rej))),
  abort: (p: Producer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.abortTransaction(timeoutMs, cb(res, rej))),
};

export function flush(p: Producer, timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => p.flush(timeoutMs, cb(res, rej)));
}

export function consumeBatch(consumer: KafkaConsumer, max: number): Promise<Message[]> {
  return new Promise((res, rej) =>
    consumer.consume(max, (err, messages) => (err ? rej(err) : res(messages ?? []))),
  );
}

export function watermarks(
  client: KafkaConsumer | Producer,
  topic: string,
  partition: number,
  timeoutMs = 10_000,
): Promise<WatermarkOffsets> {
  return new Promise((res, rej) => client.queryWatermarkOffsets(topic, partition, timeoutMs, cb(res, rej)));
}

export function committed(
  consumer: KafkaConsumer,
  partitions: TopicPartition[],
  timeoutMs = 10_000,
): Promise<TopicPartitionOffset[]> {
  return new Promise((res, rej) => consumer.committed(partitions, timeoutMs, cb(res, rej)));
}

/**
 * Offsets of partitions as the broker lists them (ListOffsets): `earliest` is the log start offset, `latest` the
 * end offset — under `read_uncommitted` the high watermark (every record written, decided or not), under
 * `read_committed` the last stable offset (below the first undecided transaction).
 */
export function listOffsets(
  admin: IAdminClient,
  partitions: TopicPartition[],
  spec: "earliest" | "latest",
  isolation: "read_committed" | "read_uncommitted",
  timeoutMs = 10_000,
): Promise<Map<string, number>> {
  const offset = spec === "earliest" ? Kafka.OffsetSpec.EARLIEST : Kafka.OffsetSpec.LATEST;
  const isolationLevel =
    isolation === "read_committed"
      ? Kafka.IsolationLevel.READ_COMMITTED
      : Kafka.IsolationLevel.READ_UNCOMMITTED;
  return new Promise((res, rej) =>
    admin.listOffsets(
      partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset })),
      { timeout: timeoutMs, isolationLevel },
      (err, result) => {
        if (err) return rej(err);
        const failed = result.find((r) => r.error);
        if (failed) return rej(failed.error);
        res(new Map(result.map((r) => [tpKey(r.topic, r.partition), r.offset])));
      },
    ),
  );
}

export function seek(consumer: KafkaConsumer, tpo: TopicPartitionOffset, timeoutMs = 5000): Promise<void> {
  return new Promise((res, rej) => consumer.seek(tpo, timeoutMs, (err) => (err ? rej(err) : res())));
}

export function offsetsForTimes(
  consumer: KafkaConsumer,
  tps: TopicPartitionOffset[],
  timeoutMs = 10_000,
): Promise<TopicPartitionOffset[]> {
  return new Promise((res, rej) => consumer.offsetsForTimes(tps, timeoutMs, cb(res, rej)));
}

/** The first offset and the end offset (read_uncommitted: the high watermark) of partitions, by `tpKey`. */
export async function partitionBounds(
  admin: IAdminClient,
  partitions: TopicPartition[],
  timeoutMs = 10_000,
): Promise<{ start: Map<string, number>; end: Map<string, number> }> {
  const [start, end] = await Promise.all([
    listOffsets(admin, partitions, "earliest", "read_uncommitted", timeoutMs),
    listOffsets(admin, partitions, "latest", "read_uncommitted", timeoutMs),
  ]);
  return { start, end };
}

/** End offsets of every partition of a topic, partition → offset (see listOffsets for the isolation levels). */
export async function topicEndOffsets(
  admin: IAdminClient,
  topic: string,
  partitions: number,
  isolation: "read_committed" | "read_uncommitted",
  timeoutMs = 10_000,
): Promise<Map<number, number>> {
  const tps = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
  const byKey = await listOffsets(admin, tps, "latest", isolation, timeoutMs);
  return new Map(tps.map((tp) => [tp.partition, byKey.get(tpKey(topic, tp.partition))!]));
}

/** Partition counts of topics that exist (others absent from the map). */
export function partitionCounts(
  client: KafkaConsumer | Producer,
  timeoutMs = 10_000,
): Promise<Map<string, number>> {
  return new Promise((res, rej) =>
    client.getMetadata({ allTopics: true, timeout: timeoutMs }, (err, md) => {
      if (err) return rej(err);
      res(
        new Map(md.topics.filter((t) => t.partitions.length > 0).map((t) => [t.name, t.partitions.length])),
      );
    }),
  );
}

export interface TopicSpec {
  name: string;
  partitions: number;
  config?: Record<string, string>;
}

export interface EnsureResult {
  created: string[];
  existing: string[];
  /** Topics that exist with another partition count than required. */
  mismatched: Array<{ name: string; partitions: number; required: number }>;
}

export function createAdmin(config: KafkaConfig): IAdminClient {
  return Kafka.AdminClient.create(config as never);
}

/** Create missing topics (replication factor: the broker's default). Existing topics are reported, not altered. */
export async function ensureTopics(
  admin: IAdminClient,
  existing: Map<string, number>,
  specs: TopicSpec[],
): Promise<EnsureResult> {
  const result: EnsureResult = { created: [], existing: [], mismatched: [] };
  for (const spec of specs) {
    const have = existing.get(spec.name);
    if (have !== undefined) {
      result.existing.push(spec.name);
      if (have !== spec.partitions)
        result.mismatched.push({ name: spec.name, partitions: have, required: spec.partitions });
      continue;
    }
    await new Promise<void>((res, rej) =>
      admin.createTopic(
        {
          topic: spec.name,
          num_partitions: spec.partitions,
          replication_factor: -1,
          config: spec.config ?? {},
        },
        15_000,
        (err) => (err && err.code !== ErrorCode.TOPIC_ALREADY_EXISTS ? rej(err) : res()),
      ),
    );
    result.created.push(spec.name);
  }
  return result;
}

export function deleteTopic(admin: IAdminClient, name: string): Promise<void> {
  return new Promise((res, rej) =>
    admin.deleteTopic(name, 15_000, (err) =>
      err && err.code !== ErrorCode.UNKNOWN_TOPIC_OR_PART ? rej(err) : res(),
    ),
  );
}

/** librdkafka headers (an array of one-key objects) to weir's header map. */
export function toHeaders(headers: MessageHeader[] | undefined): Headers {
  const out: Headers = {};
  if (!headers) return out;
  for (const h of headers)
    for (const k in h) out[k] = Buffer.isBuffer(h[k]) ? (h[k] as Buffer).toString("utf8") : String(h[k]);
  return out;
}

export function fromHeaders(headers: Headers): MessageHeader[] | undefined {
  const keys = Object.keys(headers);
  if (keys.length === 0) return undefined;
  return keys.map((k) => ({ [k]: headers[k]! }));
}

/** A message's key as bytes (the client hands out strings or Buffers), or null. */
export function messageKey(m: Message): Buffer | null {
  return m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
}

export function toRawRecord(m: Message): RawRecord {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: messageKey(m),
    value: m.value ?? null,
    timestamp: m.timestamp ?? Date.now(),
    headers: toHeaders(m.headers),
  };
}

export function describeKafkaError(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) {
    const e = err as LibrdKafkaError;
    const flags = [
      e.isFatal && "fatal",
      e.isRetriable && "retriable",
      e.isTxnRequiresAbort && "abortable",
    ].filter(Boolean);
    return `${e.message} (code ${e.code}${flags.length ? `, ${flags.join(", ")}` : ""})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Methods the client has at run time but its type declarations omit. */
interface ConsumerExtras {
  rebalanceProtocol(): "COOPERATIVE" | "EAGER" | "NONE";
  assignmentLost(): boolean;
  incrementalAssign(assignment: TopicPartition[]): void;
  incrementalUnassign(assignment: TopicPartition[]): void;
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
}
export const extras = (consumer: KafkaConsumer): ConsumerExtras => consumer as unknown as ConsumerExtras;
