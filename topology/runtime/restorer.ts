/**
 * Restore (Kafka Streams' StoreChangelogReader): bring every changelogged store of a task up to its changelog's end
 * before the task processes anything. The plan comes from state/restore.ts (decideRestore) with the changelog's
 * read_uncommitted end; the read_committed restore consumer then reads until its position reaches that end, which
 * it can only do once every transaction below it is decided.
 */
import { decideRestore, type StateBackend } from "../../state/index.js";
import { changelogTopic } from "../builder.js";
import { StateStoreError, StopRequestedError } from "../errors.js";
import {
  ErrorCode,
  consumeBatch,
  describeKafkaError,
  listOffsets,
  partitionBounds,
  messageKey,
  Offset,
  toRawRecord,
  watermarks,
  type IAdminClient,
  type KafkaConsumer,
  type LibrdKafkaError,
  type Message,
  tpKey,
  sleep,
} from "../kafka.js";
import { RestoreProgress } from "../metrics.js";
import { sourceChangelogOf, sourceRecordCheck } from "./source-stores.js";
import { GlobalTableRebuild, globalBatches, globalPositions } from "./global-tables.js";
import type { RuntimeContext } from "./context.js";

export interface RestorerDeps extends RuntimeContext {
  store: () => StateBackend;
  consumer: () => KafkaConsumer;
  admin: () => IAdminClient;
  stopRequested: () => boolean;
  /** Retry while Kafka is unreachable (the worker's retry with back-off and logging). */
  retry: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  /** Called before a task's stores are restored: a standby of the task kept here stops writing them. */
  beforeRestore?: (sub: number, partition: number) => void;
}

/** The restore loop met a position that is no longer in the changelog: plan the restore again. */
class RestoreRestart extends Error {}

export class Restorer {
  /** Restore counters of the last assignment, for tests and operators: store-partition → records replayed. */
  readonly restoredRecords = new Map<string, number>();

  constructor(private readonly d: RestorerDeps) {}

  /** Bring every changelogged store of a task up to its changelog's end before the task processes anything. */
  /**
   * `sourceStart` gives where a source partition starts processing (an offset, or Offset.BEGINNING / Offset.END): a
   * store whose changelog is its source topic is restored up to there, not to the topic's end — the records after
   * it are processed, and change the store, next. From the beginning: nothing to restore, the store starts empty.
   */
  async restoreTask(
    sub: number,
    partition: number,
    sourceStart: (topic: string, partition: number) => number | undefined = () => undefined,
  ): Promise<void> {
    this.d.beforeRestore?.(sub, partition);
    for (const store of this.d.topology.subtopologies[sub]!.stores) {
      const definition = this.d.topology.stores.get(store)!;
      if (definition.sourceTopic !== undefined) {
        const start = sourceStart(definition.sourceTopic, partition);
        if (start === undefined)
          throw new StateStoreError(
            `no start offset for ${definition.sourceTopic}/${partition}, which store '${store}' is restored from`,
            { store, partition },
          );
        if (start === Offset.BEGINNING) {
          this.d.store().wipe(store, partition);
          this.d.log.info("store up to date", {
            store,
            partition,
            reason: "its source is processed from the start",
          });
          this.restoredRecords.set(`${store}/${partition}`, 0);
        } else await this.restoreStore(store, partition, start === Offset.END ? undefined : start);
        continue;
      }
      if (!definition.changelog) continue;
      await this.restoreStore(store, partition);
    }
  }

  /**
   * Bring one store-partition up to the end of its changelog — for a global table's store, the partition of its
   * topic — planning again (at most five times) when records are deleted under the restore.
   */
  async restoreStore(store: string, partition: number, end?: number): Promise<void> {
    for (let attempt = 1; ; attempt++)
      try {
        await this.#restoreStore(store, partition, end);
        return;
      } catch (err) {
        if (!(err instanceof RestoreRestart) || attempt >= 5) throw err;
        // Planned again from the local checkpoint and the changelog's new bounds: records deleted before they
        // were applied make decideRestore wipe and rebuild from what is left.
        this.d.log.warn("restore planned again", { store, partition, reason: err.message, attempt });
        this.d.metrics?.restoreRestarts.inc({ store });
      }
  }

  async #restoreStore(store: string, partition: number, end?: number): Promise<void> {
    const definition = this.d.topology.stores.get(store)!;
    const topic = sourceChangelogOf(definition) ?? changelogTopic(this.d.topology.appId, store);
    const refuse = sourceRecordCheck(this.d.topology, store);
    const global = definition.globalTopic !== undefined;
    // A global table keeps all its rows in one store-partition and each topic partition's checkpoint apart.
    const backend = this.d.store().open(global ? globalPositions(store) : store, partition);
    const consumer = this.d.consumer();
    // The end is the read_uncommitted end offset (high watermark), not the read_committed one (the last stable
    // offset): records committed after an undecided transaction are part of the state, and a checkpoint past the
    // stable offset is not a recreated topic. The loop below reads (read_committed) until its position reaches this
    // end, which it can only do once every transaction below the end is decided (Kafka Streams, KAFKA-10167).
    const tp = [{ topic, partition }];
    const bounds = await this.d.retry("changelog offsets", () => partitionBounds(this.d.admin(), tp));
    const lowOffset = bounds.start.get(tpKey(topic, partition))!;
    // A store restored from its source topic ends at the group's committed offset (within the partition's bounds).
    const topicEnd = bounds.end.get(tpKey(topic, partition))!;
    const highOffset = end === undefined ? topicEnd : Math.min(Math.max(end, lowOffset), topicEnd);
    const plan = decideRestore({
      checkpoint: backend.checkpoint(),
      lowWatermark: lowOffset,
      highWatermark: highOffset,
    });
    const key = `${store}/${partition}`;
    this.restoredRecords.set(key, 0);
    if (plan.action === "up-to-date") {
      this.d.log.info("store up to date", { store, partition, reason: plan.reason });
      return;
    }
    if (global && plan.action === "wipe-and-rebuild")
      // One partition's rows cannot be told from the others': the whole table is rebuilt (GlobalTables.restore).
      throw new GlobalTableRebuild(plan.reason);
    if (
      !global &&
      plan.action === "replay" &&
      backend.checkpoint() === undefined &&
      backend.approximateCount() > 0
    ) {
      // Data without a checkpoint cannot be trusted: compaction may have removed tombstones for keys it holds.
      this.d.log.warn("store-partition has data but no checkpoint: wiping before a full rebuild", {
        store,
        partition,
      });
      this.d.store().wipe(store, partition);
    }
    if (plan.action === "wipe-and-rebuild") {
      this.d.log.warn("wiping store-partition and rebuilding it from its changelog", {
        store,
        partition,
        reason: plan.reason,
      });
      this.d.store().wipe(store, partition);
    } else this.d.log.info("restoring store", { store, partition, reason: plan.reason });

    const started = Date.now();
    let lastProgressLog = started;
    let restored = 0;
    let lastProgress = started;
    let stalledSince = started;
    let lastCheck = started;
    let lastWaitLog = 0;
    consumer.assign([{ topic, partition, offset: plan.fromOffset }]);
    const labels = { store, partition: String(partition) };
    const progress = new RestoreProgress([
      { store, partition, startOffset: plan.fromOffset, endOffset: highOffset },
    ]);
    try {
      let position = plan.fromOffset;
      let writes: Array<readonly [Buffer, Buffer | null]> = [];
      let last = -1;
      let applied = -1;
      const applyBatch = () => {
        if (last === applied) return;
        this.d
          .store()
          .apply(
            global
              ? globalBatches(store, partition, writes, last)
              : [{ store, partition, writes, checkpoint: last }],
          );
        writes = [];
        applied = last;
      };
      while (position < highOffset) {
        if (this.d.stopRequested())
          throw new StopRequestedError("stopped during restore", { store, partition });
        const before = position;
        const messages = await consumeBatch(consumer, 10_000).catch((err: unknown) => {
          // auto.offset.reset=error: the position is gone (records deleted under the restore): plan again.
          if ((err as LibrdKafkaError)?.code === ErrorCode.AUTO_OFFSET_RESET)
            throw new RestoreRestart(
              `changelog position ${position} is out of range (${describeKafkaError(err)})`,
            );
          this.d.log.warn("restore consume failed; retrying", {
            store,
            partition,
            error: describeKafkaError(err),
          });
          return sleep(500).then(() => [] as Message[]);
        });
        for (const m of messages) {
          if (m.topic !== topic || m.partition !== partition || m.offset >= highOffset) continue;
          const k = messageKey(m);
          const problem = refuse?.(toRawRecord(m));
          if (problem !== undefined) {
            if (definition.globalTopic !== undefined) {
              this.d.log.warn("global table record skipped", {
                store,
                topic,
                partition,
                offset: m.offset,
                problem,
              });
              this.d.metrics?.droppedRecords.inc({ reason: "global-table-invalid", node: store });
            } else
              // Processing dead-lettered this record when it first read it; the restore leaves it out as well.
              this.d.log.warn("source record left out of the restore, as processing left it out", {
                store,
                topic,
                partition,
                offset: m.offset,
                problem,
              });
            last = m.offset; // past it: the checkpoint says the record was read, so the tail does not read it again
            position = m.offset + 1;
            continue;
          }
          if (k === null) continue;
          writes.push([k, m.value ?? null]);
          last = m.offset;
          restored++;
          position = m.offset + 1;
        }
        if (writes.length >= this.d.options.restoreBatchRecords) applyBatch();
        // Transaction markers and aborted records are never delivered; the position moves past them.
        const [pos] = consumer.position([{ topic, partition }]);
        if (pos && pos.offset > position) position = pos.offset;
        const now = Date.now();
        if (position > before) lastProgress = stalledSince = now;
        else if (now - lastCheck >= 2000) {
          lastCheck = now;
          // Why no progress? The read_committed end (last stable offset) at or below the position: an undecided
          // transaction holds the rest back — bounded by the task timeout. The position below the first offset:
          // records deleted under the restore (retention of a compact,delete changelog) — plan the restore again.
          // No answer: the broker is away — a passing fault, waited out without a bound.
          const [stable, low] = await Promise.all([
            watermarks(consumer, topic, partition).then(
              (w) => w.highOffset,
              () => undefined,
            ),
            listOffsets(this.d.admin(), tp, "earliest", "read_uncommitted", 5000).then(
              (m) => m.get(tpKey(topic, partition)),
              () => undefined,
            ),
          ]);
          if (low !== undefined && position < low)
            throw new RestoreRestart(
              `changelog records from ${position} to ${low - 1} were deleted during restore`,
            );
          const undecided = stable !== undefined && stable <= position;
          if (!undecided) stalledSince = now;
          if (undecided && now - stalledSince >= this.d.options.taskTimeoutMs)
            throw new StateStoreError(
              `restore of ${store} partition ${partition} waited ${this.d.options.taskTimeoutMs} ms at offset ` +
                `${position} of ${topic} (end ${highOffset}) for a transaction below the end to be decided ` +
                `(task timeout); the broker aborts it at its transaction timeout`,
              { store, partition, topic },
            );
          if (now - lastWaitLog >= 5000) {
            lastWaitLog = now;
            this.d.log.warn(
              undecided
                ? "restore waiting for an undecided transaction on the changelog"
                : stable === undefined
                  ? "restore waiting: the broker does not answer"
                  : "restore waiting for changelog records",
              {
                store,
                partition,
                position,
                stableOffset: stable,
                endOffset: highOffset,
                waitedMs: now - lastProgress,
              },
            );
          }
        }
        if (position > plan.fromOffset) progress.record(store, partition, position - 1);
        if (this.d.metrics) progress.publish(this.d.metrics);
        if (Date.now() - lastProgressLog >= 5000) {
          lastProgressLog = Date.now();
          this.d.log.info("restore progress", {
            store,
            partition,
            restored,
            remaining: progress.remaining(store, partition),
            recordsPerSecond: Math.round(progress.ratePerSecond(store)),
          });
        }
      }
      applyBatch();
    } finally {
      consumer.unassign();
    }
    const seconds = (Date.now() - started) / 1000;
    this.restoredRecords.set(key, restored);
    this.d.metrics?.restoreRemaining.set(labels, 0);
    this.d.metrics?.restoredRecords.inc({ store }, restored);
    this.d.metrics?.restoreDuration.observe({ store }, seconds);
    if (seconds > 0) this.d.metrics?.restoreRate.set({ store }, restored / seconds);
    this.d.log.info("store restored", {
      store,
      partition,
      records: restored,
      seconds,
      recordsPerSecond: Math.round(restored / Math.max(seconds, 0.001)),
    });
  }
}
