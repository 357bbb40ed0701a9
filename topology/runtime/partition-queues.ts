import type { TopicPartitionOffset } from "../kafka.js";
import type { RawRecord } from "../record.js";

/** Input records of one task, per partition, so the task can take them in timestamp order across its topics. */
export class PartitionQueues {
  readonly #queues = new Map<
    string,
    { records: RawRecord[]; head: number; position: TopicPartitionOffset | undefined }
  >();
  size = 0;
  push(key: string, r: RawRecord): number {
    let q = this.#queues.get(key);
    if (!q) this.#queues.set(key, (q = { records: [], head: 0, position: undefined }));
    q.records.push(r);
    this.size++;
    return q.records.length - q.head;
  }
  /** The head with the smallest timestamp (Kafka Streams' PartitionGroup order); offset order within a partition. */
  next(): RawRecord | undefined {
    if (this.size === 0) return undefined;
    let best: { records: RawRecord[]; head: number; position: TopicPartitionOffset | undefined } | undefined;
    for (const q of this.#queues.values())
      if (
        q.head < q.records.length &&
        (!best || q.records[q.head]!.timestamp < best.records[best.head]!.timestamp)
      )
        best = q;
    const r = best!.records[best!.head++]!;
    if (best!.head === best!.records.length) {
      best!.records = [];
      best!.head = 0;
    }
    this.size--;
    if (best!.position) best!.position.offset = r.offset + 1;
    else best!.position = { topic: r.topic, partition: r.partition, offset: r.offset + 1 };
    return r;
  }
  length(key: string): number {
    const q = this.#queues.get(key);
    return q ? q.records.length - q.head : 0;
  }
  /** Positions (next offsets) of the partitions that advanced since the last call. */
  *advanced(): Generator<[string, TopicPartitionOffset]> {
    for (const [key, q] of this.#queues)
      if (q.position) {
        yield [key, q.position];
        q.position = undefined;
      }
  }
  clear(): void {
    this.#queues.clear();
    this.size = 0;
  }
}
