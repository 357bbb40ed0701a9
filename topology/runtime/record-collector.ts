/**
 * Producing (Kafka Streams' RecordCollector): outputs, changelog records and dead letters go through one producer;
 * delivery reports are counted (a commit waits for all of them) and remember the offset of each changelog
 * partition's last record (the checkpoint LMDB stores with the state); the first delivery error fails the open
 * transaction.
 */
import { deadLetterHeaders, deadLetterReason } from "../dead-letter.js";
import { ProducerError, ProducerFencedError, type WeirError } from "../errors.js";
import {
  ErrorCode,
  describeKafkaError,
  fromHeaders,
  type LibrdKafkaError,
  type Producer,
  tpKey,
} from "../kafka.js";
import type { OutgoingRecord, RawRecord } from "../record.js";
import type { RuntimeContext } from "./context.js";

export interface RecordCollectorDeps extends RuntimeContext {
  producer: () => Producer;
}

export class RecordCollector {
  /** Records produced and delivery reports received, since the worker started. */
  produced = 0;
  delivered = 0;
  /** Records produced since the last commit (outputs, changelog records, dead letters). */
  sinceCommit = 0;
  /** The first failed delivery since the last commit or abort. */
  deliveryError: LibrdKafkaError | undefined;
  /** Offset of the last changelog record delivered, per changelog partition (from delivery reports). */
  readonly changelogOffsets = new Map<string, number>();
  readonly #changelogTopics: Set<string>;
  /** Metric children per topic, resolved once: label lookups per record are a measurable cost. */
  readonly #topicMetrics = new Map<
    string,
    { produced: { inc(): void }; latency: { observe(v: number): void } | undefined }
  >();

  constructor(private readonly d: RecordCollectorDeps) {
    this.#changelogTopics = new Set(
      d.topology.internalTopics.filter((t) => t.kind === "changelog").map((t) => t.name),
    );
  }

  send(record: OutgoingRecord): void {
    if (this.deliveryError) throw this.producerError(this.deliveryError, record.topic);
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
    this.d.log.warn("record sent to the dead-letter topic", {
      reason: error.name,
      error: error.message,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
    });
    this.d.metrics?.deadLetterRecords.inc({ reason: deadLetterReason(error), topic: r.topic });
    this.send({
      topic: this.d.topology.deadLetterTopic,
      key: r.key,
      value: r.value,
      timestamp: r.timestamp,
      headers: { ...r.headers, ...deadLetterHeaders(r, error) },
    });
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

  onDelivery(
    err: LibrdKafkaError | null | undefined,
    report: { topic: string; partition: number; offset: number },
  ): void {
    this.delivered++;
    if (err) {
      this.deliveryError ??= err;
      return;
    }
    if (this.#changelogTopics.has(report.topic)) {
      const key = tpKey(report.topic, report.partition);
      if ((this.changelogOffsets.get(key) ?? -1) < report.offset)
        this.changelogOffsets.set(key, report.offset);
    }
  }

  async awaitDeliveries(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (this.delivered < this.produced) {
      if (Date.now() > deadline)
        throw new ProducerError(`${this.produced - this.delivered} delivery reports missing after 30 s`);
      await new Promise((r) => setImmediate(r));
    }
  }
}
