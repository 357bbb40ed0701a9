/**
 * The tasks a worker runs (Kafka Streams' TaskManager, without the rebalance protocol: see rebalances.ts): open and
 * close tasks, the partition → task index, each task's input queues with backpressure (pause a partition whose
 * backlog passes a bound, resume at half), processing what is queued, the positions to commit, and interactive
 * queries of the local stores.
 */
import { BufferedStore, type StateBackend, type StoreBackend, type WindowStore } from "../../state/index.js";
import { prefixUpperBound } from "../../state/key-value-store.js";
import { changelogSizeCheck } from "./task-stores.js";
import { StateStoreError } from "../errors.js";
import {
  splitTp,
  toRawRecord,
  tpKey,
  type KafkaConsumer,
  type Message,
  type TopicPartition,
  type TopicPartitionOffset,
} from "../kafka.js";
import type { PunctuationKind } from "../builder.js";
import { appCounter } from "../metrics.js";
import { partitionForKey } from "../partitioner.js";
import { StreamTask, taskId, type TaskId } from "./task.js";
import { PartitionQueues } from "./partition-queues.js";
import type { RecordCollector } from "./record-collector.js";
import { TaskRegistry } from "./task-registry.js";
import type { RuntimeContext } from "./context.js";

export interface ActiveTask {
  task: StreamTask;
  partitions: TopicPartition[];
  stores: Map<string, BufferedStore>;
  queues: PartitionQueues;
}

/**
 * A task as {@link Worker.tasks} reports it: its id, input partitions and progress.
 *
 * @example
 * ```ts
 * import type { Worker } from "weir";
 *
 * declare const worker: Worker;
 * for (const t of worker.tasks())
 *   console.log(`${t.id} [${t.partitions}] ${t.state}, stream time ${t.streamTime}, ${t.processedRecords} records`);
 * ```
 */
export interface TaskStatus {
  /** The task id, `<subtopology>_<partition>`. */
  id: TaskId;
  /** Its input partitions, as `<topic>/<partition>`. */
  partitions: string[];
  /** Restoring its stores, or processing (at present every reported task is `running`). */
  state: "restoring" | "running";
  /** The largest record timestamp it has seen (-1 before the first). */
  streamTime: number;
  /** Records it has processed since it was created on this worker. */
  processedRecords: number;
}

export interface TaskManagerDeps extends RuntimeContext {
  store: () => StateBackend;
  /** The read-only view of a global table's store (absent: the topology has none). */
  globalStore?: (name: string) => StoreBackend;
  consumer: () => KafkaConsumer;
  collector: RecordCollector;
}

export class TaskManager {
  readonly tasks = new TaskRegistry<ActiveTask>();
  /** Next offset to consume per partition, since the last commit. */
  readonly positions = new Map<string, TopicPartitionOffset>();
  /** Records processed since the last commit. */
  uncommitted = 0;
  /**
   * A commit is due and waits for the records in asynchronous processors to settle: tasks with an asynchronous
   * processor take no new records meanwhile (so the wait ends); the others go on, their records joining the open
   * transaction.
   */
  draining = false;
  /** Task id → stream time as of its last commit: what a (re)opened task starts from. */
  readonly committedStreamTime = new Map<string, number>();
  /** Partitions paused by backpressure. */
  readonly paused = new Set<string>();
  /** Partition count of each sub-topology (set once the topics are known). */
  partitionsOf = new Map<number, number>();

  constructor(private readonly d: TaskManagerDeps) {}

  status(): TaskStatus[] {
    return [...this.tasks.values()].map((t) => ({
      id: t.task.id,
      partitions: t.partitions.map((p) => tpKey(p.topic, p.partition)),
      state: "running",
      streamTime: t.task.streamTime,
      processedRecords: t.task.processedRecords,
    }));
  }

  /** All input partitions of all tasks. */
  partitions(): TopicPartition[] {
    return [...this.tasks.values()].flatMap((t) => t.partitions);
  }

  /**
   * The tasks an assignment creates (partitions of tasks that already run are added to them), grouped by task id.
   */
  newTasks(
    assignment: TopicPartition[],
  ): Map<string, { sub: number; partition: number; tps: TopicPartition[] }> {
    const byTask = new Map<string, { sub: number; partition: number; tps: TopicPartition[] }>();
    for (const tp of assignment) {
      const sub = this.d.topology.subtopologyOf(tp.topic);
      if (!sub) continue;
      const id = taskId(sub.id, tp.partition);
      const existing = this.tasks.get(id);
      if (existing) {
        existing.partitions.push({ topic: tp.topic, partition: tp.partition });
        this.tasks.addPartition(existing, tp.topic, tp.partition);
        continue;
      }
      if (!byTask.has(id)) byTask.set(id, { sub: sub.id, partition: tp.partition, tps: [] });
      byTask.get(id)!.tps.push({ topic: tp.topic, partition: tp.partition });
    }
    this.d.log.info("partitions assigned", {
      partitions: assignment.map((p) => tpKey(p.topic, p.partition)),
      newTasks: [...byTask.keys()],
    });
    return byTask;
  }

  open(sub: number, partition: number, partitions: TopicPartition[]): ActiveTask {
    const { topology, options, metrics, collector } = this.d;
    const subtopology = topology.subtopologies[sub]!;
    const stores = new Map<string, BufferedStore>();
    const active: ActiveTask = {
      partitions: [...partitions],
      stores,
      queues: new PartitionQueues(),
      task: new StreamTask({
        appId: topology.appId,
        topology,
        subtopology,
        partition,
        wallClock: Date.now,
        errorHandlers: options.errorHandlers,
        droppedRecords: options.droppedRecords,
        ...(this.d.globalStore ? { globalStore: this.d.globalStore } : {}),
        store: (name) => {
          let buffer = stores.get(name);
          if (buffer) return buffer;
          // Changelog records are sent at commit time from the drained buffer (Committer.stageChangelogs).
          buffer = new BufferedStore(
            this.d.store().open(name, partition),
            undefined,
            changelogSizeCheck(topology, name, collector.maxRecordBytes),
          );
          stores.set(name, buffer);
          return buffer;
        },
        output: {
          send: (r) => collector.send(r),
          deadLetter: (r, error) => collector.deadLetter(r, error),
        },
        hooks: {
          // Drops are never silent: counted when there are metrics, logged at debug level always.
          dropped: (reason, node) => {
            metrics?.droppedRecords.inc({ reason, node });
            this.d.log.debug("record dropped", { reason, node, task: taskId(sub, partition) });
          },
          asyncSettled: () => {
            for (const wake of [...this.#asyncWaiters]) wake();
          },
          ...(metrics
            ? {
                processed: (processor: string, seconds: number) =>
                  metrics.processingLatency.observe({ processor }, seconds),
                punctuated: (kind: PunctuationKind) => metrics.punctuations.inc({ kind }),
                asyncCalled: (processor: string, seconds: number, outcome: "ok" | "error" | "timeout") => {
                  metrics.asyncDuration.observe({ processor, outcome }, seconds);
                  if (outcome === "timeout") metrics.asyncTimeouts.inc({ processor });
                },
                asyncRetried: (processor: string) => metrics.asyncRetries.inc({ processor }),
                asyncFailed: (processor: string) => metrics.asyncFailures.inc({ processor }),
                counter: (name: string, help: string, labelNames: readonly string[]) =>
                  appCounter(metrics, name, help, labelNames),
              }
            : {}),
        },
      }),
    };
    const resumed = this.committedStreamTime.get(active.task.id);
    if (resumed !== undefined) active.task.resumeStreamTime(resumed);
    this.tasks.add(active);
    // Open every store now so that a store's first write is not the moment its LMDB database is created.
    for (const s of subtopology.stores) active.task.store(s);
    return active;
  }

  close(active: ActiveTask, how: "committed" | "discard"): void {
    // A stale object (replaced by an abort's reopen, and closed by it) must not close its successor.
    if (this.tasks.get(active.task.id) !== active) return;
    for (const b of active.stores.values()) {
      if (how === "discard") b.discard();
      else if (b.pendingWrites > 0)
        throw new StateStoreError(
          `task ${active.task.id} closed with ${b.pendingWrites} uncommitted writes`,
          {
            task: active.task.id,
          },
        );
    }
    active.task.close();
    active.queues.clear();
    this.tasks.remove(active);
    for (const tp of active.partitions) {
      const key = tpKey(tp.topic, tp.partition);
      this.positions.delete(key);
      // librdkafka keeps an application pause across seeks and re-assignments: a reopened task would never get
      // this partition's records again.
      if (this.paused.delete(key))
        try {
          this.d.consumer().resume([{ topic: tp.topic, partition: tp.partition }]);
        } catch {
          // no longer assigned
        }
    }
  }

  /** After an abort: every task loses its uncommitted state and starts again as a new object. */
  discardAndReopenAll(): TopicPartition[] {
    const partitions = this.partitions();
    for (const active of [...this.tasks.values()]) {
      this.close(active, "discard");
      this.open(active.task.subtopology.id, active.task.partition, active.partitions);
    }
    this.positions.clear();
    this.uncommitted = 0;
    this.draining = false;
    return partitions;
  }

  /** Fetched records into their tasks' queues; a partition whose backlog reaches the bound is paused. */
  enqueue(messages: Message[]): void {
    const { options, metrics } = this.d;
    let counted: Map<string, number> | undefined;
    for (const m of messages) {
      const key = tpKey(m.topic, m.partition);
      const active = this.tasks.ofPartition(key);
      if (!active) continue; // revoked since it was fetched; its new owner reads it from the committed offset
      const length = active.queues.push(key, toRawRecord(m));
      if (metrics) (counted ??= new Map()).set(key, (counted.get(key) ?? 0) + 1);
      if (length >= options.maxBufferedRecordsPerPartition && !this.paused.has(key)) {
        this.d.consumer().pause([{ topic: m.topic, partition: m.partition }]);
        this.paused.add(key);
        metrics?.backpressurePausedPartitions.set(this.paused.size);
        this.d.log.debug("partition paused: task backlog over bound", { partition: key, backlog: length });
      }
    }
    if (counted)
      for (const [key, n] of counted) {
        const [topic, partition] = splitTp(key);
        metrics!.recordsConsumed.inc({ topic, partition: String(partition) }, n);
      }
  }

  hasQueued(): boolean {
    for (const t of this.tasks.values()) if (t.queues.size > 0 || t.task.asyncPending > 0) return true;
    return false;
  }

  /** Records inside asynchronous processors, not yet applied, over all tasks: a commit waits for none. */
  get asyncPending(): number {
    let n = 0;
    for (const t of this.tasks.values()) n += t.task.asyncPending;
    return n;
  }

  /**
   * Resolves when an asynchronous call settles (or after `ms`): what a commit waiting for in-flight records, and
   * the loop, wait on.
   */
  asyncProgress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.#asyncWaiters;
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }
  readonly #asyncWaiters = new Set<() => void>();

  /** Some task holds queued records and has room for them (only after an asynchronous processor had none). */
  readyToProcess(): boolean {
    for (const { task, queues } of this.tasks.values()) if (queues.size > 0 && this.#takes(task)) return true;
    return false;
  }

  /** Records are in asynchronous processors and no task takes new records: nothing to do but wait for a call. */
  waitingOnAsync(): boolean {
    if (this.tasks.size === 0) return false;
    for (const { task } of this.tasks.values()) if (this.#takes(task)) return false;
    return true;
  }

  /** Whether a task takes new records now: room in its asynchronous processors, and no commit draining them. */
  #takes(task: StreamTask): boolean {
    return task.acceptsRecords && !(this.draining && task.hasAsync);
  }

  /** Apply settled asynchronous results only (no new records): a commit's wait for in-flight records. */
  applyAsyncCompletions(): void {
    for (const { task } of this.tasks.values()) task.applyAsyncCompletions();
  }

  /** A transaction is begun for wall-clock punctuation only when some task has wall-clock punctuators. */
  hasWallClockWork(): boolean {
    for (const t of this.tasks.values()) if (t.task.hasWallClockPunctuators) return true;
    return false;
  }

  hasPendingWrites(): boolean {
    for (const active of this.tasks.values())
      for (const b of active.stores.values()) if (b.pendingWrites > 0) return true;
    return false;
  }

  /** Every queued record through its task, in order; positions advance; wall-clock punctuation; resume drained. */
  processQueued(now: number): void {
    for (const active of this.tasks.values()) {
      const { task, queues } = active;
      task.applyAsyncCompletions();
      // A task whose asynchronous processor is full takes no new records; its queues fill and pause the partitions.
      let processed = 0;
      while (this.#takes(task)) {
        const r = queues.next();
        if (r === undefined) break;
        task.process(r);
        processed++;
      }
      this.uncommitted += processed;
      for (const [key, position] of queues.advanced()) this.positions.set(key, { ...position });
      task.punctuateWallClock(now);
    }
    if (this.paused.size > 0) this.#resumeDrained();
  }

  #resumeDrained(): void {
    for (const key of [...this.paused]) {
      const active = this.tasks.ofPartition(key);
      const [topic, partition] = splitTp(key);
      if (active && active.queues.length(key) > this.d.options.maxBufferedRecordsPerPartition / 2) continue;
      if (active) this.d.consumer().resume([{ topic, partition }]);
      this.paused.delete(key);
    }
    this.d.metrics?.backpressurePausedPartitions.set(this.paused.size);
  }

  /**
   * Interactive query of a key-value store on this worker. The key's partition is derived as weir's producers
   * (murmur2) place it; when the input was written with another partitioner, the other local partitions are
   * searched too.
   */
  queryStore(
    store: string,
    key: unknown,
  ): { found: boolean; value?: unknown; partition: number; local: boolean } {
    const { topology } = this.d;
    const def = topology.stores.get(store);
    if (def?.globalTopic !== undefined && this.d.globalStore) {
      // A global table: every worker holds all of it.
      const bytes = this.d.globalStore(store).get(def.keySerde.serialize(key));
      return bytes === undefined
        ? { found: false, partition: -1, local: true }
        : { found: true, value: def.valueSerde.deserialize(bytes), partition: -1, local: true };
    }
    const sub = topology.subtopologies.find((s) => s.stores.includes(store));
    if (!def || !sub) throw new StateStoreError(`no store named '${store}'`, { store });
    const partitions = this.partitionsOf.get(sub.id) ?? 1;
    const expected = partitionForKey(def.keySerde.serialize(key), partitions);
    const candidates = [...this.tasks.values()]
      .filter((t) => t.task.subtopology.id === sub.id)
      .sort((a, b) => Number(b.task.partition === expected) - Number(a.task.partition === expected));
    for (const active of candidates) {
      const s = active.task.store(store);
      if (!("prefixScan" in s))
        throw new StateStoreError(`store '${store}' is a window store; query it by scan`, { store });
      const value = s.get(key);
      if (value !== undefined) return { found: true, value, partition: active.task.partition, local: true };
    }
    return {
      found: false,
      partition: expected,
      local: candidates.some((t) => t.task.partition === expected),
    };
  }

  /** A window store's entries of one key with timestamps in [from, to], from the task holding the key's partition. */
  queryWindow(
    store: string,
    key: unknown,
    from: number,
    to: number,
  ): { entries: Array<{ timestamp: number; value: unknown }>; partition: number; local: boolean } {
    const def = this.d.topology.stores.get(store);
    const sub = this.d.topology.subtopologies.find((s) => s.stores.includes(store));
    if (!def || !sub) throw new StateStoreError(`no store named '${store}'`, { store });
    if (def.kind !== "window")
      throw new StateStoreError(`store '${store}' is a key-value store: query it by key`, { store });
    const partition = partitionForKey(def.keySerde.serialize(key), this.partitionsOf.get(sub.id) ?? 1);
    const active = [...this.tasks.values()].find(
      (t) => t.task.subtopology.id === sub.id && t.task.partition === partition,
    );
    if (!active) return { entries: [], partition, local: false };
    const s = active.task.store(store) as unknown as WindowStore<unknown, unknown>;
    const entries = [...s.fetch(key, from, to)].map((e) => ({ timestamp: e.timestamp, value: e.value }));
    return { entries, partition, local: true };
  }

  /** Entries of a key-value store across this worker's tasks. */
  *scanStore(
    store: string,
    prefix?: unknown,
    limit = 100,
  ): Generator<{ key: unknown; value: unknown; partition: number }> {
    let n = 0;
    const def = this.d.topology.stores.get(store);
    if (def?.globalTopic !== undefined && this.d.globalStore) {
      const view = this.d.globalStore(store);
      const from = prefix === undefined ? undefined : def.keySerde.serialize(prefix);
      for (const [k, v] of view.range(from ? { from, to: prefixUpperBound(from) } : {})) {
        if (n++ >= limit) return;
        yield { key: def.keySerde.deserialize(k), value: def.valueSerde.deserialize(v), partition: -1 };
      }
      return;
    }
    for (const active of this.tasks.values()) {
      if (!active.task.subtopology.stores.includes(store)) continue;
      const s = active.task.store(store);
      if (!("prefixScan" in s)) throw new StateStoreError(`store '${store}' is a window store`, { store });
      const it = prefix === undefined ? s.range() : s.prefixScan(prefix);
      for (const kv of it) {
        if (n++ >= limit) return;
        yield { ...kv, partition: active.task.partition };
      }
    }
  }
}
