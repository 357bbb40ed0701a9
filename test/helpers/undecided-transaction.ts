/**
 * A stand-in for a worker that died in the middle of its commit: a transactional producer whose transaction holds
 * an offset commit for a consumer group and/or records on some partitions, and stays **undecided** until the test
 * commits or aborts it (or the broker aborts it at the transaction timeout).
 *
 * The offset commit goes through `sendOffsetsToTransaction` with the group metadata of a consumer that never joins
 * the group (generation -1, no member id): the broker accepts that from a transactional producer whether or not the
 * group has members, as it does for the deprecated `sendOffsetsToTransaction(offsets, groupId)` of the Java client.
 */
import type { KafkaConsumer, Producer } from "@confluentinc/kafka-javascript";
import { connectConsumer, connectProducer, disconnect, fromCallback, uniqueName } from "./kafka.js";

export interface UndecidedOptions {
  /** Offsets (next to read) to commit for `group` inside the transaction. */
  offsets?: { group: string; partitions: Array<{ topic: string; partition: number; offset: number }> };
  /** Records to write inside the transaction. */
  records?: Array<{ topic: string; partition: number; key: string; value: string | null }>;
  /** The broker aborts the transaction after this long. @default 120000 */
  transactionTimeoutMs?: number;
}

export class UndecidedTransaction {
  private constructor(
    private readonly producer: Producer,
    private readonly consumer: KafkaConsumer | undefined,
  ) {}

  static async open(o: UndecidedOptions): Promise<UndecidedTransaction> {
    const producer = await connectProducer({
      "transactional.id": uniqueName("stand-in"),
      "transaction.timeout.ms": o.transactionTimeoutMs ?? 120_000,
      dr_cb: true,
    });
    await fromCallback((done) => producer.initTransactions(30_000, (err) => done(err)));
    await fromCallback((done) => producer.beginTransaction((err) => done(err)));
    for (const r of o.records ?? [])
      producer.produce(r.topic, r.partition, r.value === null ? null : Buffer.from(r.value), r.key);
    if (o.records?.length) await fromCallback((done) => producer.flush(30_000, (err) => done(err)));
    let consumer: KafkaConsumer | undefined;
    if (o.offsets) {
      consumer = await connectConsumer({ "group.id": o.offsets.group });
      const c = consumer;
      await fromCallback((done) =>
        producer.sendOffsetsToTransaction(o.offsets!.partitions, c, 30_000, (err) => done(err)),
      );
    }
    return new UndecidedTransaction(producer, consumer);
  }

  async commit(): Promise<void> {
    await fromCallback((done) => this.producer.commitTransaction(30_000, (err) => done(err)));
    await this.close();
  }

  async abort(): Promise<void> {
    await fromCallback((done) => this.producer.abortTransaction(30_000, (err) => done(err)));
    await this.close();
  }

  async close(): Promise<void> {
    await disconnect(this.consumer);
    await disconnect(this.producer);
  }
}
