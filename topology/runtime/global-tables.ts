/**
 * Global tables (Kafka Streams' GlobalKTable): every worker keeps the whole of a topic in a store of its own. At start
 * each partition of the topic is restored into store-partition (store, p) by the Restorer, the topic acting as the
 * store's changelog (its checkpoint is the last offset applied); the worker is not ready before that. Then this
 * class tails the topic and applies new records with their offsets as they arrive. Processors read the table
 * through one read-only view over all its partitions.
 *
 * Like Kafka Streams' global tables, updates are not synchronized with stream processing: a stream record is joined
 * with whatever the table holds when it is processed, so reprocessing after a crash may see a newer row.
 */
import type { ApplyBatch, BytesRange, StateBackend, StoreBackend } from "../../state/index.js";
import type { Topology } from "../builder.js";
import { StateStoreError, errorMessage } from "../errors.js";
import { describeKafkaError, consumeBatch, sleep, toRawRecord, type KafkaConsumer } from "../kafka.js";
import type { RawRecord } from "../record.js";
import { sourceRecordCheck } from "./source-stores.js";
import type { RuntimeContext } from "./context.js";
import type { Restorer } from "./restorer.js";

/** The writes of a batch of a global table's records for one partition, with the partition's new checkpoint. */
export function globalBatch(
  topology: Topology,
  store: string,
  partition: number,
  records: readonly RawRecord[],
  skipped: (offset: number, problem: string) => void,
): ApplyBatch | undefined {
  if (records.length === 0) return undefined;
  const check = sourceRecordCheck(topology, store)!;
  const writes: Array<readonly [Buffer, Buffer | null]> = [];
  for (const r of records) {
    const problem = check(r);
    if (problem !== undefined) skipped(r.offset, problem);
    else writes.push([r.key!, r.value]);
  }
  return { store, partition, writes, checkpoint: records[records.length - 1]!.offset };
}

/** One read-only view over a global table's store-partitions (a key is looked up in each; rows are few places). */
export function globalView(state: StateBackend, store: string, partitions: number): StoreBackend {
  const parts = Array.from({ length: partitions }, (_, p) => state.open(store, p));
  return {
    store,
    partition: 0,
    get: (key) => {
      for (const part of parts) {
        const value = part.get(key);
        if (value !== undefined) return value;
      }
      return undefined;
    },
    range: (options: BytesRange = {}) => {
      const all = parts.flatMap((part) => [...part.range({ ...options, limit: undefined })]);
      all.sort(([a], [b]) => Buffer.compare(a, b) * (options.reverse ? -1 : 1));
      return all.slice(0, options.limit ?? all.length)[Symbol.iterator]();
    },
    approximateCount: () => parts.reduce((n, part) => n + part.approximateCount(), 0),
    approximateBytes: () => parts.reduce((n, part) => n + part.approximateBytes(), 0),
    checkpoint: () => undefined,
  };
}

export interface GlobalTablesDeps extends RuntimeContext {
  store: () => StateBackend;
  restorer: Restorer;
  stopRequested: () => boolean;
  /** Stop the worker: the tail cannot go on (the state store refused a write). */
  fail: (error: unknown) => void;
}

/** Restores the global tables, then keeps them up to date from their topics while the worker runs. */
export class GlobalTables {
  readonly #partitions = new Map<string, number>();
  #consumer: KafkaConsumer | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly d: GlobalTablesDeps) {}

  get stores(): Topology["globalStores"] {
    return this.d.topology.globalStores;
  }

  /** The read-only view of a global table's store for tasks. */
  view(store: string): StoreBackend {
    const partitions = this.#partitions.get(store);
    if (partitions === undefined)
      throw new StateStoreError(`global table '${store}' is not restored yet`, { store });
    return globalView(this.d.store(), store, partitions);
  }

  /** Restore every partition of every global table (before the worker joins its group). */
  async restore(partitionsOf: (topic: string) => number | undefined): Promise<void> {
    for (const { store, topic } of this.stores) {
      const partitions = partitionsOf(topic);
      if (partitions === undefined) throw new Error(`global table topic ${topic} does not exist`);
      this.#partitions.set(store, partitions);
      for (let p = 0; p < partitions; p++) await this.d.restorer.restoreStore(store, p);
    }
  }

  /** Tail the topics from where the restore ended; runs until `stop`. */
  start(consumer: KafkaConsumer): void {
    if (this.stores.length === 0) return;
    this.#consumer = consumer;
    const assignment = this.stores.flatMap(({ store, topic }) =>
      Array.from({ length: this.#partitions.get(store)! }, (_, partition) => ({
        topic,
        partition,
        offset: (this.d.store().open(store, partition).checkpoint() ?? -1) + 1,
      })),
    );
    consumer.assign(assignment);
    this.d.log.info("global tables tailing", { partitions: assignment.length });
    // A consume error is retried inside; anything else (the store refused the write) stops the worker, which must
    // not go on joining streams with a table that no longer follows its topic.
    this.#loop = this.#tail(consumer).catch((err: unknown) => {
      this.d.log.error("global table tail failed", { error: errorMessage(err) });
      this.d.fail(err);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #tail(consumer: KafkaConsumer): Promise<void> {
    const storeOf = new Map(this.stores.map((g) => [g.topic, g]));
    let lastError = 0;
    while (!this.#stopped && !this.d.stopRequested()) {
      let messages;
      try {
        messages = await consumeBatch(consumer, 1000);
      } catch (err) {
        if (Date.now() - lastError > 10_000) {
          lastError = Date.now();
          this.d.log.warn("global table consume failed; retrying", { error: describeKafkaError(err) });
        }
        await sleep(500);
        continue;
      }
      const byPartition = new Map<
        string,
        {
          store: string;
          partition: number;
          records: RawRecord[];
        }
      >();
      for (const m of messages) {
        const g = storeOf.get(m.topic);
        if (!g) continue;
        const k = `${g.store}/${m.partition}`;
        let entry = byPartition.get(k);
        if (!entry) byPartition.set(k, (entry = { store: g.store, partition: m.partition, records: [] }));
        entry.records.push(toRawRecord(m));
      }
      const batches: ApplyBatch[] = [];
      for (const { store, partition, records } of byPartition.values()) {
        const batch = globalBatch(this.d.topology, store, partition, records, (offset, problem) => {
          this.d.log.warn("global table record skipped", { store, partition, offset, problem });
          this.d.metrics?.droppedRecords.inc({ reason: "global-table-invalid", node: store });
        });
        if (batch) batches.push(batch);
      }
      if (batches.length > 0) this.d.store().apply(batches);
      if (messages.length === 0) await sleep(50);
    }
    this.#consumer?.unassign();
  }
}
