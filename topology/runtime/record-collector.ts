/**
 * Producing (Kafka Streams' RecordCollector): outputs, changelog records and dead letters go through one producer.
 * The producer reports failed deliveries only (`delivery.report.only.error`): the first one fails the open
 * transaction. Successful records are not reported one by one — a report per record cost more of the main thread
 * than anything else a worker does; a commit learns that every record arrived from the transaction's commit
 * (exactly-once) or a flush (at-least-once), and stores are checkpointed from the changelogs' end offsets
 * (Committer).
 */
import { DeadLetterHeader, deadLetterHeaders, deadLetterReason } from "../dead-letter.js";
import { loggableFailure } from "../failures.js";
import { ProducerError, ProducerFencedError, RecordTooLargeError, type WeirError } from "../errors.js";
import {
  ErrorCode,
  RdKafka,
  describeKafkaError,
  fromHeaders,
  type LibrdKafkaError,
  type Producer,
  recordBytes,
} from "../kafka.js";
import type { Headers, OutgoingRecord, RawRecord } from "../record.js";
import type { RuntimeContext } from "./context.js";

export interface RecordCollectorDeps extends RuntimeContext {
  producer: () => Producer;
}

/** The producer's `message.max.bytes` unless the user sets it (`--kafka message.max.bytes=N`). */
export const DEFAULT_MAX_RECORD_BYTES = 1_000_000;

/** librdkafka's code for a record larger than `message.max.bytes` (local check) or the topic allows (broker). */
const MSG_SIZE_TOO_LARGE = 10;

export class RecordCollector {
  /** Records produced since the worker started. */
  produced = 0;
  /** Records produced since the last commit (outputs, changelog records, dead letters). */
  sinceCommit = 0;
  /** The first failed delivery since the last commit or abort. */
  deliveryError: LibrdKafkaError | undefined;
  readonly #changelogTopics: Set<string>;
  /** Metric children per topic, resolved once: label lookups per record are a measurable cost. */
  readonly #topicMetrics = new Map<
    string,
    { produced: { inc(): void }; latency: { observe(v: number): void } | undefined }
  >();

  /** The largest record the producer sends: its `message.max.bytes`. */
  readonly maxRecordBytes: number;

  constructor(private readonly d: RecordCollectorDeps) {
    this.#changelogTopics = new Set(
      d.topology.internalTopics.filter((t) => t.kind === "changelog").map((t) => t.name),
    );
    this.maxRecordBytes = Number(d.options.kafka[RdKafka.messageMaxBytes] ?? DEFAULT_MAX_RECORD_BYTES);
  }

  /**
   * Refuse a record the producer would refuse, before it enters the transaction: a RecordTooLargeError is a
   * record-level failure (its input record is dead-lettered), where a produce error would abort the transaction.
   */
  checkSize(topic: string, key: Buffer | null, value: Buffer | null, headers?: Headers): void {
    checkRecordSize(topic, key, value, headers, this.maxRecordBytes);
  }

  send(record: OutgoingRecord): void {
    if (this.deliveryError) throw this.producerError(this.deliveryError, record.topic);
    this.checkSize(record.topic, record.key, record.value, record.headers);
    try {
      this.d
        .producer()
        .produce(
          record.topic,
          record.partition ?? null,
          record.value,
          record.key,
          record.timestamp,
          undefined,
          fromHeaders(record.headers),
        );
    } catch (err) {
      if ((err as LibrdKafkaError)?.code === MSG_SIZE_TOO_LARGE)
        throw new RecordTooLargeError(
          `could not produce to ${record.topic}: ${describeKafkaError(err)}`,
          recordBytes(record.key, record.value, record.headers),
          this.maxRecordBytes,
          record.topic,
          { topic: record.topic, cause: err },
        );
      throw this.producerError(err, record.topic);
    }
    this.produced++;
    this.sinceCommit++;
    const metrics = this.d.metrics;
    if (metrics) {
      let m = this.#topicMetrics.get(record.topic);
      if (!m) {
        m = {
          produced: metrics.recordsProduced.labels({ topic: record.topic }),
          latency: this.#changelogTopics.has(record.topic)
            ? undefined
            : metrics.endToEndLatency.labels({ topic: record.topic }),
        };
        this.#topicMetrics.set(record.topic, m);
      }
      m.produced.inc();
      if (m.latency && (this.produced & 15) === 0)
        m.latency.observe(Math.max(0, Date.now() - record.timestamp) / 1000);
    }
  }

  /** An input record to the dead-letter topic, with headers naming the error and the record's source. */
  deadLetter(r: RawRecord, error: WeirError): void {
    // No record content in the log (failures.ts loggableFailure): the dead letter keeps the record and the full message.
    this.d.log.warn("record sent to the dead-letter topic", {
      reason: error.name,
      error: loggableFailure(error),
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
    });
    this.d.metrics?.deadLetterRecords.inc({ reason: deadLetterReason(error), topic: r.topic });
    this.send(
      fitDeadLetter(
        r,
        deadLetterHeaders(r, error),
        this.d.topology.deadLetterTopic,
        this.maxRecordBytes,
        Date.now(),
      ),
    );
  }

  producerError(err: unknown, topic: string): ProducerError | ProducerFencedError {
    const e = err as LibrdKafkaError;
    if (e?.isFatal || e?.code === ErrorCode.FATAL)
      return new ProducerFencedError(
        `could not produce to ${topic}: the producer is fenced or failed fatally (${describeKafkaError(err)}); ` +
          `another worker with the same id (transactional id ${this.d.topology.appId}-${this.d.options.workerId}) took over, ` +
          `or the broker refused this producer for good. Nothing of the open transaction is committed; this worker stops.`,
        { topic, cause: err },
      );
    return new ProducerError(
      `could not produce to ${topic}: ${describeKafkaError(err)}; the transaction is aborted and nothing is committed`,
      { topic, cause: err },
    );
  }

  /** A delivery report: only failed records are reported (a successful one, should a user ask for them, is ignored). */
  onDelivery(err: LibrdKafkaError | null | undefined): void {
    // Records an abort purged: that transaction has failed already, and reports of a large one reach JavaScript
    // 100 per loop turn, some after the next transaction has begun, which they must not fail.
    if (!err || err.code === ErrorCode.PURGE_QUEUE || err.code === ErrorCode.PURGE_INFLIGHT) return;
    this.deliveryError ??= err;
  }

  /**
   * Let the reports of records the producer has finished with reach {@link onDelivery}: call after a flush, a
   * commit or an abort returned. librdkafka hands a report to the client before the flush (or transaction call)
   * that waited for its record returns; the client passes it to JavaScript through its own libuv async handle, which
   * the event loop's poll phase serves — at the latest in the loop turn after the call's completion, so two
   * setImmediate turns are enough.
   */
  async settleDeliveries(): Promise<void> {
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
  }
}

/** Throws RecordTooLargeError for a record larger than `limit` bytes as librdkafka counts them. */
export function checkRecordSize(
  topic: string,
  key: Buffer | null,
  value: Buffer | null,
  headers: Headers | undefined,
  limit: number,
): void {
  const size = recordBytes(key, value, headers);
  if (size > limit)
    throw new RecordTooLargeError(
      `a record of ${size} bytes for ${topic} exceeds the producer's limit of ${limit} bytes ` +
        `(message.max.bytes; raise it together with the topic's max.message.bytes, or keep records smaller)`,
      size,
      limit,
      topic,
      { topic },
    );
}

/**
 * A dead letter that always fits the producer's limit, so writing one never fails for size: the value is cut first,
 * then the key, then the source record's own headers are dropped, and a header says what was cut (the original is
 * still at the source coordinates the weir.source.* headers name).
 *
 * Nor for its timestamp: a dead letter is stamped `now`, when it was dead-lettered, and the source record's own
 * timestamp travels in `weir.source.timestamp` (where `weir replay --dead-letters` takes it from). Records are often
 * dead-lettered *because* of their timestamp — a clock a year ahead — and Apache Kafka 4.x refuses timestamps more
 * than an hour ahead by default (`message.timestamp.after.max.ms`): stamped with it, the dead letter would fail its
 * transaction, and the same record would be dead-lettered and refused again after every abort. Stamped `now`, time
 * retention on the dead-letter topic also counts from the failure, not from the record's (maybe long past) event.
 * Kafka Streams' dead-letter queue (KIP-1034) keeps the source timestamp; weir deliberately does not.
 */
export function fitDeadLetter(
  r: RawRecord,
  errorHeaders: Headers,
  topic: string,
  limit: number,
  now: number,
): OutgoingRecord {
  let headers: Headers = { ...r.headers, ...errorHeaders };
  let key = r.key;
  let value = r.value;
  const cuts: string[] = [];
  // Room kept for the header that says what was cut.
  const budget = limit - 256;
  let excess = recordBytes(key, value, headers) - budget;
  if (excess > 0 && value && value.length > 0) {
    const keep = Math.max(0, value.length - excess);
    cuts.push(`value ${value.length}->${keep}`);
    value = value.subarray(0, keep);
  }
  excess = recordBytes(key, value, headers) - budget;
  if (excess > 0 && key && key.length > 0) {
    const keep = Math.max(0, key.length - excess);
    cuts.push(`key ${key.length}->${keep}`);
    key = key.subarray(0, keep);
  }
  if (recordBytes(key, value, headers) > budget && Object.keys(r.headers).length > 0) {
    cuts.push(`source headers dropped (${Object.keys(r.headers).length})`);
    headers = { ...errorHeaders };
  }
  if (cuts.length > 0) headers[DeadLetterHeader.truncated] = cuts.join("; ");
  return { topic, key, value, timestamp: now, headers };
}
