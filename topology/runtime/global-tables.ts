/**
 * Global tables (Kafka Streams' GlobalKTable): every worker keeps the whole of a topic in a store of its own. Its
 * rows live in one store-partition, (store, 0), whatever topic partition they came from, so a key has one row even
 * when it moved between partitions; each topic partition's checkpoint (the last offset applied) is kept in
 * (`<store>@offsets`, p). At start the Restorer brings every partition up to the topic's end, the topic acting as the
 * store's changelog; the worker is not ready before that. A partition that cannot continue from its checkpoint
 * (records deleted under it, a recreated topic) makes the whole table rebuilt. Then this class tails the topic and
 * applies new records with their offsets as they arrive. Processors read the store, read-only.
 *
 * Like Kafka Streams' global tables, updates are not synchronized with stream processing: a stream record is joined
 * with whatever the table holds when it is processed, so reprocessing after a crash may see a newer row.
 */
import type { ApplyBatch, StateBackend, StoreBackend } from "../../state/index.js";
import type { Topology } from "../builder.js";
import { StateStoreError, errorMessage } from "../errors.js";
import { describeKafkaError, consumeBatch, sleep, toRawRecord, type KafkaConsumer } from "../kafka.js";
import type { RawRecord } from "../record.js";
import { sourceRecordCheck } from "./source-stores.js";
import type { RuntimeContext } from "./context.js";
import type { Restorer } from "./restorer.js";

/** Where the checkpoints of a global table's topic partitions are kept (one store-partition each, no rows). */
export const globalPositions = (store: string): string => `${store}@offsets`;

/** A partition of a global table cannot go on from its checkpoint: the whole table must be rebuilt. */
export class GlobalTableRebuild extends Error {}

/** The rows written from one topic partition, and that partition's new checkpoint, as one atomic apply. */
export function globalBatches(
  store: string,
  partition: number,
  writes: Array<readonly [Buffer, Buffer | null]>,
  checkpoint: number,
): ApplyBatch[] {
  return [
    { store, partition: 0, writes },
    { store: globalPositions(store), partition, writes: [], checkpoint },
  ];
}

/** The writes of a batch of a global table's records for one partition, with the partition's new checkpoint. */
export function globalBatch(
  topology: Topology,
  store: string,
  partition: number,
  records: readonly RawRecord[],
  skipped: (offset: number, problem: string) => void,
): ApplyBatch[] {
  if (records.length === 0) return [];
  const check = sourceRecordCheck(topology, store)!;
  const writes: Array<readonly [Buffer, Buffer | null]> = [];
  for (const r of records) {
    const problem = check(r);
    if (problem !== undefined) skipped(r.offset, problem);
    else writes.push([r.key!, r.value]);
  }
  return globalBatches(store, partition, writes, records[records.length - 1]!.offset);
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

  /** A global table's store (all its rows), for tasks to read. */
  view(store: string): StoreBackend {
    if (!this.#partitions.has(store))
      throw new StateStoreError(`global table '${store}' is not restored yet`, { store });
    return this.d.store().open(store, 0);
  }

  /** Restore every partition of every global table (before the worker joins its group). */
  async restore(partitionsOf: (topic: string) => number | undefined): Promise<void> {
    for (const { store, topic } of this.stores) {
      const partitions = partitionsOf(topic);
      if (partitions === undefined) throw new Error(`global table topic ${topic} does not exist`);
      this.#partitions.set(store, partitions);
      const state = this.d.store();
      const checkpoints = state.list().filter((e) => e.store === globalPositions(store));
      const rows = state.open(store, 0).approximateCount();
      // Rows whose partitions' checkpoints are gone, or a topic with another partition count than before: which rows
      // came from where is unknown, so the table is rebuilt from the topic.
      const known = checkpoints.filter((e) => e.checkpoint !== undefined).length;
      if ((rows > 0 && known < partitions) || checkpoints.some((e) => e.partition >= partitions))
        this.#wipe(store, "rows without a checkpoint for every partition, or the topic's partitions changed");
      for (let attempt = 1; ; attempt++)
        try {
          for (let p = 0; p < partitions; p++) await this.d.restorer.restoreStore(store, p);
          break;
        } catch (err) {
          if (!(err instanceof GlobalTableRebuild) || attempt >= 3) throw err;
          this.#wipe(store, err.message);
        }
    }
  }

  #wipe(store: string, reason: string): void {
    const state = this.d.store();
    this.d.log.warn("global table rebuilt from its topic", { store, reason });
    state.wipe(store, 0);
    for (const e of state.list()) if (e.store === globalPositions(store)) state.wipe(e.store, e.partition);
  }

  /** Tail the topics from where the restore ended; runs until `stop`. */
  start(consumer: KafkaConsumer): void {
    if (this.stores.length === 0) return;
    this.#consumer = consumer;
    const assignment = this.stores.flatMap(({ store, topic }) =>
      Array.from({ length: this.#partitions.get(store)! }, (_, partition) => ({
        topic,
        partition,
        offset: (this.d.store().open(globalPositions(store), partition).checkpoint() ?? -1) + 1,
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
        batches.push(...batch);
      }
      if (batches.length > 0) this.d.store().apply(batches);
      if (messages.length === 0) await sleep(50);
    }
    this.#consumer?.unassign();
  }
}
