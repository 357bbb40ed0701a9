/**
 * The librdkafka boundary, and the one place with Kafka plumbing: configuration keys as named constants, client
 * configuration, promise wrappers around the callback API of @confluentinc/kafka-javascript (its node-rdkafka-style
 * API: batch consume, rebalance callbacks, transactions), in-order produce with back-off, offsets, topics. Public as
 * `weir/kafka` for tools built on weir; `bin/` and `bench/` use it. The test helpers keep an independent client path
 * on purpose: they check weir's behaviour with code that is not weir's, as kcat does.
 *
 * Also re-exported, from @confluentinc/kafka-javascript and documented there: `Kafka` (the client module: its
 * `Producer`, `KafkaConsumer`, `AdminClient`) and the types `IAdminClient`, `KafkaConsumer`, `LibrdKafkaError`,
 * `Message`, `Producer`, `TopicPartition` and `TopicPartitionOffset`.
 *
 * @example
 * ```ts
 * import { Kafka, RdKafka, baseClientConfig, connect, disconnect, produceInOrder } from "weir/kafka";
 *
 * const producer = new Kafka.Producer({
 *   ...baseClientConfig("localhost:9092", "order-loader"),
 *   [RdKafka.deliveryReports]: true,
 * } as never);
 * await connect(producer);
 * producer.setPollInterval(50);
 * await produceInOrder(producer, 1000, (i) => ({
 *   topic: "orders",
 *   key: Buffer.from(`order-${i}`),
 *   value: Buffer.from(JSON.stringify({ amount: i })),
 * }));
 * await disconnect(producer);
 * ```
 *
 * @module weir/kafka
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
import { saslError, watchSecurity } from "./security.js";
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
  ConsumerExtras,
};

/**
 * librdkafka client properties, name → value (see librdkafka's CONFIGURATION.md): what `WorkerOptions.kafka`
 * passes through to every client.
 *
 * @example
 * ```ts
 * import type { KafkaConfig } from "weir/kafka";
 *
 * const sasl: KafkaConfig = {
 *   "security.protocol": "SASL_SSL",
 *   "sasl.mechanisms": "SCRAM-SHA-512",
 *   "sasl.username": "weir",
 *   "sasl.password": "secret",
 * };
 * ```
 */
export type KafkaConfig = Record<string, string | number | boolean>;

/**
 * librdkafka configuration keys weir sets, as named constants (see librdkafka's CONFIGURATION.md).
 *
 * @example
 * ```ts
 * import { RdKafka, type KafkaConfig } from "weir/kafka";
 *
 * const config: KafkaConfig = {
 *   [RdKafka.bootstrapServers]: "localhost:9092",
 *   [RdKafka.groupId]: "order-audit",
 *   [RdKafka.isolationLevel]: "read_committed",
 *   [RdKafka.enableAutoCommit]: false,
 * };
 * ```
 */
export const RdKafka = {
  /** `bootstrap.servers`: the brokers to bootstrap from. */
  bootstrapServers: "bootstrap.servers",
  /** `client.id`: the client's name in broker logs and metrics. */
  clientId: "client.id",
  /** `group.id`: the consumer group. */
  groupId: "group.id",
  /** `group.instance.id`: a static member's stable id (KIP-345): restarted within the session timeout, it gets its
   *  partitions back without a rebalance of the group. */
  groupInstanceId: "group.instance.id",
  /** `enable.auto.commit`: commit offsets in the background. */
  enableAutoCommit: "enable.auto.commit",
  /** `enable.auto.offset.store`: store each delivered message's offset for commit automatically. */
  enableAutoOffsetStore: "enable.auto.offset.store",
  /** `isolation.level`: `read_committed` or `read_uncommitted`. */
  isolationLevel: "isolation.level",
  /** `auto.offset.reset`: where to start without a committed offset. */
  autoOffsetReset: "auto.offset.reset",
  /** `partition.assignment.strategy`: the classic protocol's assignors. */
  assignmentStrategy: "partition.assignment.strategy",
  /** `session.timeout.ms`: the classic protocol's session timeout. */
  sessionTimeoutMs: "session.timeout.ms",
  /** `heartbeat.interval.ms`: the classic protocol's heartbeat interval. */
  heartbeatIntervalMs: "heartbeat.interval.ms",
  /** `group.protocol`: `classic` or `consumer` (KIP-848). */
  groupProtocol: "group.protocol",
  /** `group.remote.assignor`: the broker-side assignor under the `consumer` protocol. */
  groupRemoteAssignor: "group.remote.assignor",
  /** `max.poll.interval.ms`: the longest time between polls before the consumer leaves the group. */
  maxPollIntervalMs: "max.poll.interval.ms",
  /** `enable.partition.eof`: report reaching the end of a partition. */
  enablePartitionEof: "enable.partition.eof",
  /** `fetch.wait.max.ms`: how long the broker may wait to fill a fetch. */
  fetchWaitMaxMs: "fetch.wait.max.ms",
  /** `fetch.min.bytes`: the least data a fetch waits for. */
  fetchMinBytes: "fetch.min.bytes",
  /** `queued.min.messages`: messages per partition the consumer prefetches. */
  queuedMinMessages: "queued.min.messages",
  /** `queued.max.messages.kbytes`: the prefetch queue's size bound. */
  queuedMaxMessagesKbytes: "queued.max.messages.kbytes",
  /** `transactional.id`: the producer's transactional id. */
  transactionalId: "transactional.id",
  /** `transaction.timeout.ms`: how long a transaction may stay open before the broker aborts it. */
  transactionTimeoutMs: "transaction.timeout.ms",
  /** `enable.idempotence`: the idempotent producer. */
  enableIdempotence: "enable.idempotence",
  /** `acks`: acknowledgements a produce request waits for. */
  acks: "acks",
  /** `linger.ms`: how long the producer waits to fill a batch. */
  lingerMs: "linger.ms",
  /** `message.max.bytes`: the largest record the producer sends. */
  messageMaxBytes: "message.max.bytes",
  /** `batch.num.messages`: records per batch. */
  batchNumMessages: "batch.num.messages",
  /** `queue.buffering.max.messages`: the producer queue's bound in records. */
  queueBufferingMaxMessages: "queue.buffering.max.messages",
  /** `queue.buffering.max.kbytes`: the producer queue's bound in kilobytes. */
  queueBufferingMaxKbytes: "queue.buffering.max.kbytes",
  /** `partitioner`: how keyed records are partitioned (weir uses `murmur2_random`). */
  partitioner: "partitioner",
  /** `statistics.interval.ms`: how often librdkafka emits statistics (0: never). */
  statisticsIntervalMs: "statistics.interval.ms",
  /** `socket.keepalive.enable`: TCP keep-alive on broker connections. */
  socketKeepalive: "socket.keepalive.enable",
  /** `reconnect.backoff.ms`: the first back-off before reconnecting to a broker. */
  reconnectBackoffMs: "reconnect.backoff.ms",
  /** `reconnect.backoff.max.ms`: the longest back-off before reconnecting. */
  reconnectBackoffMaxMs: "reconnect.backoff.max.ms",
  /** `allow.auto.create.topics`: let a consumer's subscription create topics. */
  allowAutoCreateTopics: "allow.auto.create.topics",
  /** `dr_cb`: delivery reports (the client's `delivery-report` event). */
  deliveryReports: "dr_cb",
  /** `delivery.report.only.error`: delivery reports for failed records only. */
  deliveryReportOnlyError: "delivery.report.only.error",
  /** `rebalance_cb`: the consumer's rebalance callback. */
  rebalanceCallback: "rebalance_cb",
} as const;

/**
 * librdkafka error codes weir reacts to (negative: librdkafka's own; positive: the Kafka protocol's).
 *
 * @example
 * ```ts
 * import { ErrorCode, type LibrdKafkaError } from "weir/kafka";
 *
 * const passing = (err: LibrdKafkaError) =>
 *   err.code === ErrorCode.TRANSPORT || err.code === ErrorCode.ALL_BROKERS_DOWN || err.code === ErrorCode.TIMED_OUT;
 * ```
 */
export const ErrorCode = {
  /** The rebalance callback: partitions are being assigned. */
  ASSIGN_PARTITIONS: -175,
  /** The rebalance callback: partitions are being revoked. */
  REVOKE_PARTITIONS: -174,
  /** A call timed out. */
  TIMED_OUT: -185,
  /** A fatal error: the client instance is unusable. */
  FATAL: -150,
  /** The producer's local queue is full. */
  QUEUE_FULL: -184,
  /** The end of a partition was reached. */
  PARTITION_EOF: -191,
  /** A broker transport failure. */
  TRANSPORT: -195,
  /** No broker is reachable. */
  ALL_BROKERS_DOWN: -187,
  /** The broker does not know the topic or partition. */
  UNKNOWN_TOPIC_OR_PART: 3,
  /** Creating a topic that exists. */
  TOPIC_ALREADY_EXISTS: 36,
  /** The client does not know the topic. */
  UNKNOWN_TOPIC: -188,
  /** The client's state does not allow the call (e.g. seeking a partition whose fetcher stopped). */
  STATE: -172,
  /** `auto.offset.reset=error` met a partition without a valid offset. */
  AUTO_OFFSET_RESET: -140,
  /** A record purged from the producer's queue before it was sent (an aborted transaction). */
  PURGE_QUEUE: -152,
  /** A record purged while its produce request was in flight (an aborted transaction). */
  PURGE_INFLIGHT: -151,
} as const;

/**
 * librdkafka's per-record overhead beyond key, value and headers (MessageV2 varints and attributes, rounded up).
 *
 * @example
 * ```ts
 * import { RECORD_OVERHEAD_BYTES } from "weir/kafka";
 *
 * const maxValueBytes = 1_000_000 - RECORD_OVERHEAD_BYTES - 64; // room for a 64-byte key, no headers
 * ```
 */
export const RECORD_OVERHEAD_BYTES = 64;

/**
 * The bytes a record takes against `message.max.bytes`, as librdkafka counts them (an upper bound).
 *
 * @example
 * ```ts
 * import { recordBytes } from "weir/kafka";
 *
 * const size = recordBytes(Buffer.from("order-1"), Buffer.from('{"amount":10}'), { source: "web" });
 * if (size > 1_000_000) throw new Error("too large for message.max.bytes");
 * ```
 */
export function recordBytes(key: Buffer | null, value: Buffer | null, headers: Headers | undefined): number {
  let size = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
  if (headers) for (const k in headers) size += 10 + Buffer.byteLength(k) + Buffer.byteLength(headers[k]!);
  return size;
}

/**
 * The back-off wait of the retry loops around Kafka calls: resolves after `ms`.
 *
 * @example
 * ```ts
 * import { sleep } from "weir/kafka";
 *
 * await sleep(100);
 * ```
 */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `promise`, or a rejection once `ms` passed without it settling: for a client call whose callback may never come.
 * The timer does not keep the process alive.
 *
 * @example
 * ```ts
 * import { connect, withDeadline, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer;
 * await withDeadline(connect(producer), 15_000); // rejects with "no answer within 15000 ms"
 * ```
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Whether `promise` settled (resolved or rejected) within `ms`.
 *
 * @example
 * ```ts
 * import { disconnect, settledWithin, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * if (!(await settledWithin(disconnect(consumer), 5000))) console.warn("consumer did not close in time");
 * ```
 */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withDeadline(
    promise.then(
      () => true,
      () => true,
    ),
    ms,
  ).catch(() => false);
}

/**
 * A topic-partition as a map key, `<topic>/<partition>` (topic names may not contain '/').
 *
 * @example
 * ```ts
 * import { tpKey } from "weir/kafka";
 *
 * tpKey("orders", 3); // "orders/3"
 * ```
 */
export const tpKey = (topic: string, partition: number): string => `${topic}/${partition}`;

/**
 * The topic and partition of a {@link tpKey}.
 *
 * @example
 * ```ts
 * import { splitTp } from "weir/kafka";
 *
 * const [topic, partition] = splitTp("orders/3"); // ["orders", 3]
 * ```
 */
export function splitTp(key: string): [string, number] {
  const i = key.lastIndexOf("/");
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

/**
 * Offsets of librdkafka's logical positions.
 *
 * @example
 * ```ts
 * import { Offset, seek, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * await seek(consumer, { topic: "orders", partition: 0, offset: Offset.BEGINNING });
 * ```
 */
export const Offset = {
  /** The partition's first offset. */
  BEGINNING: -2,
  /** The partition's end (the next offset written). */
  END: -1,
  /** The group's committed offset. */
  STORED: -1000,
  /** No offset. */
  INVALID: -1001,
} as const;

/**
 * The settings every client weir creates starts from: where Kafka is, who is asking, then the user's overrides.
 *
 * @example
 * ```ts
 * import { baseClientConfig } from "weir/kafka";
 *
 * const config = baseClientConfig("localhost:9092", "order-audit", { "security.protocol": "SSL" });
 * // { "bootstrap.servers": "localhost:9092", "client.id": "order-audit", "security.protocol": "SSL" }
 * ```
 */
export function baseClientConfig(brokers: string, clientId: string, extra: KafkaConfig = {}): KafkaConfig {
  return {
    [RdKafka.bootstrapServers]: brokers,
    [RdKafka.clientId]: clientId,
    ...extra,
  };
}

/**
 * A record for {@link produceInOrder}: bytes, a topic and optionally a partition and timestamp.
 *
 * @example
 * ```ts
 * import type { RecordToProduce } from "weir/kafka";
 *
 * const record: RecordToProduce = {
 *   topic: "orders",
 *   key: Buffer.from("o-1"),
 *   value: Buffer.from("{}"),
 *   timestamp: Date.now(),
 * };
 * ```
 */
export interface RecordToProduce {
  /** The topic to write to. */
  topic: string;
  /** The partition; null or absent lets the producer's partitioner choose by key. */
  partition?: number | null;
  /** The key's bytes, or null. */
  key: Buffer | null;
  /** The value's bytes, or null (a tombstone). */
  value: Buffer | null;
  /** The record's timestamp, epoch ms. @default the producer's current time */
  timestamp?: number;
}

/**
 * Produce records in order through a connected producer that has delivery reports on and is polled (in the
 * background or on an interval). A full local queue is waited out with a short back-off, never dropped. Resolves
 * once every delivery report arrived; rejects on the first failed delivery or after `timeoutMs` (default 120 s).
 * `onProgress` is told the number of delivered records as it grows.
 *
 * @example
 * ```ts
 * import { produceInOrder, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer; // connected, with dr_cb: true and a poll interval
 * const orders = [{ id: "o-1", amount: 10 }, { id: "o-2", amount: 25 }];
 * await produceInOrder(
 *   producer,
 *   orders.length,
 *   (i) => ({ topic: "orders", key: Buffer.from(orders[i]!.id), value: Buffer.from(JSON.stringify(orders[i])) }),
 *   { timeoutMs: 30_000, onProgress: (n) => console.log(`${n} delivered`) },
 * );
 * ```
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

/**
 * The broker list, trimmed, or a TopologyError saying how to configure it when it is empty.
 *
 * @example
 * ```ts
 * import { brokerList } from "weir/kafka";
 *
 * const brokers = brokerList(process.env.KAFKA_BROKERS); // throws when unset
 * ```
 */
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

/**
 * Connect a client (producer, consumer) within `timeoutMs`; resolves with the client. A broker that refused the
 * client's SASL (wrong credentials, or a mechanism its listener does not offer) rejects with a ConfigError saying
 * so, the user, the mechanism and the broker (never the password), not with librdkafka's "broker transport
 * failure": no retry can heal it. Connections a plaintext client had closed at once (a SASL or SSL listener?) reject
 * with librdkafka's error, its `hint` saying what to check.
 *
 * @example
 * ```ts
 * import { Kafka, connect } from "weir/kafka";
 *
 * const consumer = await connect(
 *   new Kafka.KafkaConsumer({ "bootstrap.servers": "localhost:9092", "group.id": "order-audit" }, {}),
 * );
 * ```
 */
export function connect<
  C extends {
    /** The client's callback-style connect. */
    connect(opts: object, cb: (err: LibrdKafkaError, m: unknown) => void): unknown;
  },
>(client: C, timeoutMs = 10_000): Promise<C> {
  const events = client as unknown as { on?: unknown; globalConfig?: Record<string, unknown> };
  const watch =
    typeof events.on === "function"
      ? watchSecurity(client as unknown as Parameters<typeof watchSecurity>[0], events.globalConfig)
      : undefined;
  return new Promise<C>((resolve, reject) =>
    client.connect({ timeout: timeoutMs }, (err) => {
      watch?.stop();
      if (!err) return resolve(client);
      const failure = watch?.failure();
      if (failure) return reject(saslError(failure, events.globalConfig));
      const hint = watch?.hint();
      if (hint !== undefined && typeof err === "object")
        (err as LibrdKafkaError & { hint?: string }).hint = hint;
      reject(err);
    }),
  );
}

/**
 * Disconnect a client if it is connected; a producer flushes first (bounded by `timeoutMs`). Never rejects.
 *
 * @example
 * ```ts
 * import { disconnect, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer;
 * await disconnect(producer, 10_000);
 * ```
 */
export function disconnect(client: KafkaConsumer | Producer, timeoutMs = 5000): Promise<void> {
  if (!client.isConnected()) return Promise.resolve();
  return new Promise((resolve) => {
    // The producer flushes first (bounded by timeoutMs); the consumer's disconnect takes only a callback.
    if (client instanceof Kafka.Producer) client.disconnect(timeoutMs, () => resolve());
    else client.disconnect(() => resolve());
  });
}

/**
 * Promise wrappers around a transactional producer's calls (Kafka's transactional producer API).
 *
 * @example
 * ```ts
 * import { Txn, type KafkaConsumer, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer; // with a transactional.id
 * declare const consumer: KafkaConsumer;
 * await Txn.init(producer, 30_000);
 * await Txn.begin(producer);
 * producer.produce("order-status", null, Buffer.from('"CONFIRMED"'), Buffer.from("o-1"));
 * await Txn.sendOffsets(producer, [{ topic: "orders", partition: 0, offset: 42 }], consumer, 10_000);
 * await Txn.commit(producer, 10_000);
 * ```
 */
export const Txn = {
  /** `initTransactions`: fence older instances with the same transactional id and abort what they left open. */
  init: (p: Producer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.initTransactions(timeoutMs, cb(res, rej))),
  /** `beginTransaction`. */
  begin: (p: Producer) => new Promise<void>((res, rej) => p.beginTransaction(cb(res, rej))),
  /** `sendOffsetsToTransaction`: commit the consumer's offsets (with its group metadata) in the transaction. */
  sendOffsets: (p: Producer, offsets: TopicPartitionOffset[], consumer: KafkaConsumer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.sendOffsetsToTransaction(offsets, consumer, timeoutMs, cb(res, rej))),
  /** `commitTransaction`. */
  commit: (p: Producer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.commitTransaction(timeoutMs, cb(res, rej))),
  /** `abortTransaction`. */
  abort: (p: Producer, timeoutMs: number) =>
    new Promise<void>((res, rej) => p.abortTransaction(timeoutMs, cb(res, rej))),
};

/**
 * Wait until the producer's queued records are delivered (or `timeoutMs` passes).
 *
 * @example
 * ```ts
 * import { flush, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer;
 * producer.produce("orders", null, Buffer.from("{}"), Buffer.from("o-1"));
 * await flush(producer, 10_000);
 * ```
 */
export function flush(p: Producer, timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => p.flush(timeoutMs, cb(res, rej)));
}

/**
 * Up to `max` messages from a subscribed or assigned consumer (none when nothing arrives in time).
 *
 * @example
 * ```ts
 * import { consumeBatch, toRawRecord, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * consumer.subscribe(["orders"]);
 * const records = (await consumeBatch(consumer, 500)).map(toRawRecord);
 * ```
 */
export function consumeBatch(consumer: KafkaConsumer, max: number): Promise<Message[]> {
  return new Promise((res, rej) =>
    consumer.consume(max, (err, messages) => (err ? rej(err) : res(messages ?? []))),
  );
}

/**
 * A partition's low and high watermarks, asked of the broker; rejects when the answer has no offsets (-1001).
 *
 * @example
 * ```ts
 * import { watermarks, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * const { lowOffset, highOffset } = await watermarks(consumer, "orders", 0);
 * console.log(`${highOffset - lowOffset} records in orders/0`);
 * ```
 */
export function watermarks(
  client: KafkaConsumer | Producer,
  topic: string,
  partition: number,
  timeoutMs = 10_000,
): Promise<WatermarkOffsets> {
  return new Promise((res, rej) =>
    client.queryWatermarkOffsets(topic, partition, timeoutMs, (err, w) => {
      if (err) return rej(err);
      // As in listOffsets: a negative offset without an error (a leader not known yet) is no answer.
      if (w.lowOffset < 0 || w.highOffset < 0)
        return rej(
          new Error(
            `no watermarks for ${tpKey(topic, partition)} (got ${w.lowOffset}..${w.highOffset}): its leader is not known yet`,
          ),
        );
      res(w);
    }),
  );
}

/**
 * The consumer group's committed offsets of partitions.
 *
 * @example
 * ```ts
 * import { committed, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer; // with group.id set to the application id
 * const offsets = await committed(consumer, [{ topic: "orders", partition: 0 }]);
 * ```
 */
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
 * `read_committed` the last stable offset (below the first undecided transaction). Resolves with offsets by
 * {@link tpKey}.
 *
 * @example
 * ```ts
 * import { createAdmin, listOffsets } from "weir/kafka";
 *
 * const admin = createAdmin({ "bootstrap.servers": "localhost:9092" });
 * const ends = await listOffsets(admin, [{ topic: "orders", partition: 0 }], "latest", "read_committed");
 * console.log(ends.get("orders/0"));
 * admin.disconnect();
 * ```
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
        // A partition whose leader died and is not fenced yet can come back without an error and without an
        // offset (-1001): no answer, so a failure the caller retries, never an empty partition.
        const unknown = result.find((r) => r.offset < 0);
        if (unknown)
          return rej(
            new Error(
              `no ${spec} offset for ${tpKey(unknown.topic, unknown.partition)} (got ${unknown.offset}): ` +
                `its leader is not known yet`,
            ),
          );
        res(new Map(result.map((r) => [tpKey(r.topic, r.partition), r.offset])));
      },
    ),
  );
}

/**
 * Move an assigned partition's position.
 *
 * @example
 * ```ts
 * import { seek, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * await seek(consumer, { topic: "orders", partition: 2, offset: 1000 });
 * ```
 */
export function seek(consumer: KafkaConsumer, tpo: TopicPartitionOffset, timeoutMs = 5000): Promise<void> {
  return new Promise((res, rej) => consumer.seek(tpo, timeoutMs, (err) => (err ? rej(err) : res())));
}

/**
 * For each partition, the first offset whose timestamp is at or after the given one (passed as `offset`).
 *
 * @example
 * ```ts
 * import { offsetsForTimes, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * const since = Date.parse("2024-06-01T00:00:00Z");
 * const offsets = await offsetsForTimes(consumer, [{ topic: "orders", partition: 0, offset: since }]);
 * ```
 */
export function offsetsForTimes(
  consumer: KafkaConsumer,
  tps: TopicPartitionOffset[],
  timeoutMs = 10_000,
): Promise<TopicPartitionOffset[]> {
  return new Promise((res, rej) => consumer.offsetsForTimes(tps, timeoutMs, cb(res, rej)));
}

/**
 * The first offset and the end offset (read_uncommitted: the high watermark) of partitions, by {@link tpKey}.
 *
 * @example
 * ```ts
 * import { partitionBounds, type IAdminClient } from "weir/kafka";
 *
 * declare const admin: IAdminClient;
 * const { start, end } = await partitionBounds(admin, [{ topic: "orders", partition: 0 }]);
 * console.log(`orders/0 holds offsets ${start.get("orders/0")} to ${end.get("orders/0")}`);
 * ```
 */
export async function partitionBounds(
  admin: IAdminClient,
  partitions: TopicPartition[],
  timeoutMs = 10_000,
): Promise<{
  /** First offsets, by tpKey. */
  start: Map<string, number>;
  /** End offsets (high watermarks), by tpKey. */
  end: Map<string, number>;
}> {
  const [start, end] = await Promise.all([
    listOffsets(admin, partitions, "earliest", "read_uncommitted", timeoutMs),
    listOffsets(admin, partitions, "latest", "read_uncommitted", timeoutMs),
  ]);
  return { start, end };
}

/**
 * End offsets of every partition of a topic, partition → offset (see {@link listOffsets} for the isolation levels).
 *
 * @example
 * ```ts
 * import { topicEndOffsets, type IAdminClient } from "weir/kafka";
 *
 * declare const admin: IAdminClient;
 * const ends = await topicEndOffsets(admin, "order-status", 12, "read_committed");
 * const total = [...ends.values()].reduce((a, b) => a + b, 0);
 * ```
 */
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

/**
 * Partition counts of topics that exist (others absent from the map), from the cluster's metadata.
 *
 * @example
 * ```ts
 * import { partitionCounts, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer;
 * const counts = await partitionCounts(producer);
 * if (!counts.has("orders")) console.warn("topic orders does not exist");
 * ```
 */
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

/**
 * A topic to create with {@link ensureTopics}: name, partition count and topic configs.
 *
 * @example
 * ```ts
 * import type { TopicSpec } from "weir/kafka";
 *
 * const status: TopicSpec = { name: "order-status", partitions: 12, config: { "cleanup.policy": "compact" } };
 * ```
 */
export interface TopicSpec {
  /** The topic's name. */
  name: string;
  /** Its partition count. */
  partitions: number;
  /** Topic configs to create it with. */
  config?: Record<string, string>;
}

/**
 * What {@link ensureTopics} did: the topics it created, those that existed, and those that exist with another
 * partition count.
 *
 * @example
 * ```ts
 * import type { EnsureResult } from "weir/kafka";
 *
 * function report(r: EnsureResult): void {
 *   console.log(`created ${r.created.length}, existing ${r.existing.length}`);
 *   for (const m of r.mismatched) console.warn(`${m.name} has ${m.partitions} partitions, ${m.required} required`);
 * }
 * ```
 */
export interface EnsureResult {
  /** Topics created now. */
  created: string[];
  /** Topics that existed (not altered). */
  existing: string[];
  /** Topics that exist with another partition count than required. */
  mismatched: Array<{
    /** The topic's name. */
    name: string;
    /** Its partition count. */
    partitions: number;
    /** The count required. */
    required: number;
  }>;
}

/**
 * An admin client (create and delete topics, list offsets) with these properties.
 *
 * @example
 * ```ts
 * import { baseClientConfig, createAdmin } from "weir/kafka";
 *
 * const admin = createAdmin(baseClientConfig("localhost:9092", "weir-tools"));
 * // ... use it, then:
 * admin.disconnect();
 * ```
 */
export function createAdmin(config: KafkaConfig): IAdminClient {
  return Kafka.AdminClient.create(config as never);
}

/**
 * Create missing topics (replication factor: the broker's default). Existing topics are reported, not altered.
 * `existing` is the cluster's partition counts ({@link partitionCounts}).
 *
 * @example
 * ```ts
 * import { createAdmin, ensureTopics, partitionCounts, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer;
 * const admin = createAdmin({ "bootstrap.servers": "localhost:9092" });
 * const result = await ensureTopics(admin, await partitionCounts(producer), [
 *   { name: "orders", partitions: 12 },
 *   { name: "order-status", partitions: 12, config: { "cleanup.policy": "compact" } },
 * ]);
 * console.log(result.created);
 * ```
 */
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

/**
 * Delete a topic; a topic that does not exist is not an error.
 *
 * @example
 * ```ts
 * import { deleteTopic, type IAdminClient } from "weir/kafka";
 *
 * declare const admin: IAdminClient;
 * await deleteTopic(admin, "shop-dlq");
 * ```
 */
export function deleteTopic(admin: IAdminClient, name: string): Promise<void> {
  return new Promise((res, rej) =>
    admin.deleteTopic(name, 15_000, (err) =>
      err && err.code !== ErrorCode.UNKNOWN_TOPIC_OR_PART ? rej(err) : res(),
    ),
  );
}

/**
 * librdkafka headers (an array of one-key objects) to weir's header map; values are decoded as UTF-8.
 *
 * @example
 * ```ts
 * import { toHeaders } from "weir/kafka";
 *
 * toHeaders([{ source: Buffer.from("web") }, { "trace-id": "abc" }]); // { source: "web", "trace-id": "abc" }
 * ```
 */
export function toHeaders(headers: MessageHeader[] | undefined): Headers {
  const out: Headers = {};
  if (!headers) return out;
  for (const h of headers)
    for (const k in h) out[k] = Buffer.isBuffer(h[k]) ? (h[k] as Buffer).toString("utf8") : String(h[k]);
  return out;
}

/**
 * weir's header map to librdkafka headers (an array of one-key objects), or undefined when there are none.
 *
 * @example
 * ```ts
 * import { fromHeaders, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer;
 * const headers = fromHeaders({ source: "web" });
 * producer.produce("orders", null, Buffer.from("{}"), Buffer.from("o-1"), Date.now(), undefined, headers);
 * ```
 */
export function fromHeaders(headers: Headers): MessageHeader[] | undefined {
  const keys = Object.keys(headers);
  if (keys.length === 0) return undefined;
  return keys.map((k) => ({ [k]: headers[k]! }));
}

/**
 * A message's key as bytes (the client hands out strings or Buffers), or null.
 *
 * @example
 * ```ts
 * import { messageKey, type Message } from "weir/kafka";
 *
 * declare const message: Message;
 * const key = messageKey(message)?.toString("utf8") ?? "(no key)";
 * ```
 */
export function messageKey(m: Message): Buffer | null {
  return m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
}

/**
 * A librdkafka message as weir's {@link RawRecord}: key as bytes, headers as a map, the timestamp defaulting to now.
 *
 * @example
 * ```ts
 * import { consumeBatch, toRawRecord, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * for (const r of (await consumeBatch(consumer, 100)).map(toRawRecord))
 *   console.log(`${r.topic}/${r.partition}@${r.offset}`, r.headers);
 * ```
 */
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

/**
 * A librdkafka error (or any error) as one line: the message, the code and its flags (fatal, retriable,
 * abortable).
 *
 * @example
 * ```ts
 * import { connect, describeKafkaError, type Producer } from "weir/kafka";
 *
 * declare const producer: Producer;
 * try {
 *   await connect(producer);
 * } catch (err) {
 *   console.error(`cannot connect: ${describeKafkaError(err)}`); // e.g. "... (code -195, retriable)"
 * }
 * ```
 */
export function describeKafkaError(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) {
    const e = err as LibrdKafkaError;
    const flags = [
      e.isFatal && "fatal",
      e.isRetriable && "retriable",
      e.isTxnRequiresAbort && "abortable",
    ].filter(Boolean);
    const hint = (err as { hint?: unknown }).hint;
    return (
      `${e.message} (code ${e.code}${flags.length ? `, ${flags.join(", ")}` : ""})` +
      (typeof hint === "string" ? `: ${hint}` : "")
    );
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Methods the consumer has at run time but its type declarations omit (see {@link extras}).
 *
 * @example
 * ```ts
 * import { extras, type ConsumerExtras, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * const more: ConsumerExtras = extras(consumer);
 * ```
 */
interface ConsumerExtras {
  /** The rebalance protocol in use: `COOPERATIVE` (incremental), `EAGER`, or `NONE` before joining. */
  rebalanceProtocol(): "COOPERATIVE" | "EAGER" | "NONE";
  /** Whether the current assignment was lost (e.g. the session timed out) rather than revoked. */
  assignmentLost(): boolean;
  /** Add partitions to the assignment (cooperative rebalancing). */
  incrementalAssign(assignment: TopicPartition[]): void;
  /** Remove partitions from the assignment (cooperative rebalancing). */
  incrementalUnassign(assignment: TopicPartition[]): void;
  /**
   * true: a batch consume waits its timeout for the first message only, then takes what is ready; false (the
   * client's default): it may wait the timeout for each message.
   */
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
}

/**
 * The consumer with the methods its type declarations omit ({@link ConsumerExtras}); the same object, retyped.
 *
 * @example
 * ```ts
 * import { extras, type KafkaConsumer } from "weir/kafka";
 *
 * declare const consumer: KafkaConsumer;
 * if (extras(consumer).rebalanceProtocol() === "COOPERATIVE") console.log("incremental rebalancing");
 * ```
 */
export const extras = (consumer: KafkaConsumer): ConsumerExtras => consumer as unknown as ConsumerExtras;
