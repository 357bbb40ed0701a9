import { BufferedStore, openLmdbState, type StateBackend } from "../state/index.js";
import { changelogTopic, type Topology } from "./builder.js";
import {
  OffsetError,
  ProducerFencedError,
  StateStoreError,
  StopRequestedError,
  WeirError,
  errorMessage,
} from "./errors.js";
import {
  ErrorCode,
  Offset,
  Txn,
  committed,
  consumeBatch,
  createAdmin,
  describeKafkaError,
  extras,
  flush,
  listOffsets,
  seek,
  toRawRecord,
  type IAdminClient,
  type KafkaConsumer,
  type LibrdKafkaError,
  type Message,
  type Producer,
  type TopicPartition,
  type TopicPartitionOffset,
} from "./kafka.js";
import { silentLogger, type Logger } from "./log.js";
import { consumerLag } from "./metrics.js";
import { compileWorkerOptions, type CompiledWorkerOptions, type WorkerOptions } from "./options.js";
import { partitionForKey } from "./partitioner.js";
import { resolveStartOffsets, type OffsetSource, type StartOffset } from "./runtime/start-offsets.js";
import {
  ClientErrorLog,
  clientConfig,
  closeClients,
  connectWithRetry,
  createConsumer,
  createProducer,
  createRestoreConsumer,
  retry,
  type ClientContext,
} from "./runtime/clients.js";
import { prepareTopics } from "./runtime/internal-topics.js";
import { PartitionQueues } from "./runtime/partition-queues.js";
import { RecordCollector } from "./runtime/record-collector.js";
import { Restorer } from "./runtime/restorer.js";
import { TaskRegistry } from "./runtime/task-registry.js";
import { faultPoint } from "./runtime/test-faults.js";
import { StreamTask, taskId, type TaskId } from "./task.js";

export type WorkerState = "created" | "starting" | "running" | "stopping" | "stopped" | "failed";

export interface TaskStatus {
  id: TaskId;
  partitions: string[];
  state: "restoring" | "running";
  streamTime: number;
  processedRecords: number;
}

const tpKey = (topic: string, partition: number) => `${topic}/${partition}`;

interface StagedWrites {
  store: string;
  partition: number;
  writes: Array<readonly [Buffer, Buffer | null]>;
  /** `<changelog topic>/<partition>`, to look up the offset its last record got. */
  changelog: string;
}

interface ActiveTask {
  task: StreamTask;
  partitions: TopicPartition[];
  stores: Map<string, BufferedStore>;
  queues: PartitionQueues;
}

/**
 * A weir worker: one member of the application's consumer group. Runs the tasks of the partitions it is assigned,
 * commits their outputs, changelog records and consumed offsets in one Kafka transaction per commit interval
 * (exactly-once) and only then applies their state writes to LMDB with the changelog offsets.
 */
export class Worker {
  readonly topology: Topology;
  readonly options: CompiledWorkerOptions;
  readonly #log: Logger;
  readonly #metrics: WorkerOptions["metrics"];
  #state: WorkerState = "created";
  #store: StateBackend | undefined;
  #consumer: KafkaConsumer | undefined;
  #restoreConsumer: KafkaConsumer | undefined;
  #producer: Producer | undefined;
  readonly #tasks = new TaskRegistry<ActiveTask>();
  /** Next offset to consume per partition, since the last commit. */
  readonly #positions = new Map<string, TopicPartitionOffset>();
  readonly #paused = new Set<string>();
  #partitionsOf = new Map<number, number>();
  #txnOpen = false;
  #uncommitted = 0;
  #lastCommit = Date.now();
  #lock: Promise<unknown> = Promise.resolve();
  #rebalances: Promise<unknown> = Promise.resolve();
  #restoring = 0;
  /** Committed-offset lookups in progress (an assignment's, a rewind's), by token: not ready while any runs. */
  readonly #offsetLookups = new Map<number, string[]>();
  #nextLookup = 0;
  #admin: IAdminClient | undefined;
  /** Committed offsets of repartition topics not yet purged. */
  readonly #purgeable = new Map<string, TopicPartitionOffset>();
  #lastPurge = Date.now();
  /** The explicit offset each input partition was last started (assigned or sought) at. */
  readonly #startedAt = new Map<string, number>();
  #lastRangeCheck = Date.now();
  readonly #repartitionTopics: Set<string>;
  #assignedOnce = false;
  #stopRequested = false;
  #fatal: unknown;
  #loop: Promise<void> | undefined;
  #done!: Promise<void>;
  #resolveDone!: () => void;
  #rejectDone!: (e: unknown) => void;
  readonly #restorer: Restorer;
  readonly #collector: RecordCollector;
  readonly #ctx: ClientContext & { stopRequested: () => boolean };
  readonly #clientErrors: ClientErrorLog;

  constructor(topology: Topology, options: WorkerOptions) {
    this.topology = topology;
    this.options = compileWorkerOptions(topology, options);
    this.#log = (options.logger ?? silentLogger).child({
      app: topology.appId,
      worker: this.options.workerId,
    });
    this.#metrics = options.metrics;
    this.#repartitionTopics = new Set(
      topology.internalTopics.filter((t) => t.kind === "repartition").map((t) => t.name),
    );
    this.#done = new Promise((res, rej) => {
      this.#resolveDone = res;
      this.#rejectDone = rej;
    });
    this.#done.catch(() => {});
    this.#ctx = {
      topology,
      options: this.options,
      log: this.#log,
      metrics: this.#metrics,
      stopRequested: () => this.#stopRequested,
    };
    this.#clientErrors = new ClientErrorLog(this.#ctx);
    this.#collector = new RecordCollector({
      topology,
      options: this.options,
      log: this.#log,
      metrics: this.#metrics,
      producer: () => this.#producer!,
    });
    this.#restorer = new Restorer({
      topology,
      options: this.options,
      log: this.#log,
      metrics: this.#metrics,
      store: () => this.#store!,
      consumer: () => this.#restoreConsumer!,
      admin: () => this.#admin!,
      stopRequested: () => this.#stopRequested,
      retry: (what, fn) => retry(this.#ctx, what, fn),
    });
  }

  /** Restore counters of the last assignment, for tests and operators: store-partition → records replayed. */
  get restoredRecords(): Map<string, number> {
    return this.#restorer.restoredRecords;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Assigned tasks restored and running. */
  get ready(): boolean {
    return (
      this.#state === "running" &&
      this.#assignedOnce &&
      this.#restoring === 0 &&
      this.#offsetLookups.size === 0
    );
  }

  /** Resolves when the worker has stopped; rejects with the fatal error if it failed. */
  get done(): Promise<void> {
    return this.#done;
  }

  tasks(): TaskStatus[] {
    return [...this.#tasks.values()].map((t) => ({
      id: t.task.id,
      partitions: t.partitions.map((p) => tpKey(p.topic, p.partition)),
      state: "running",
      streamTime: t.task.streamTime,
      processedRecords: t.task.processedRecords,
    }));
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
    const def = this.topology.stores.get(store);
    const sub = this.topology.subtopologies.find((s) => s.stores.includes(store));
    if (!def || !sub) throw new StateStoreError(`no store named '${store}'`, { store });
    const partitions = this.#partitionsOf.get(sub.id) ?? 1;
    const expected = partitionForKey(def.keySerde.serialize(key), partitions);
    const candidates = [...this.#tasks.values()]
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

  /** Entries of a key-value store across this worker's tasks. */
  *scanStore(
    store: string,
    prefix?: unknown,
    limit = 100,
  ): Generator<{ key: unknown; value: unknown; partition: number }> {
    let n = 0;
    for (const active of this.#tasks.values()) {
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

  async start(): Promise<void> {
    if (this.#state !== "created") throw new WeirError(`worker already ${this.#state}`);
    this.#state = "starting";
    const o = this.options;
    this.#log.info("worker starting", {
      guarantee: o.guarantee,
      brokers: o.brokers,
      stateDir: o.appStateDir,
      assignor: o.assignor,
      commitIntervalMs: o.commitIntervalMs,
    });
    try {
      this.#store = openLmdbState({ path: o.appStateDir });
      this.#producer = createProducer(this.#ctx, this.#clientErrors, (err, report) =>
        this.#collector.onDelivery(err, report),
      );
      await connectWithRetry(this.#ctx, this.#producer, "producer");
      // Delivery reports are served by librdkafka's background thread, not by polling from the event loop.
      this.#producer.setPollInBackground(true);
      this.#log.debug("producer connected");
      this.#admin = createAdmin(clientConfig(this.#ctx, "admin"));
      this.#partitionsOf = await prepareTopics({
        topology: this.topology,
        log: this.#log,
        producer: this.#producer,
        admin: this.#admin,
        stopRequested: () => this.#stopRequested,
        retry: (what, fn) => retry(this.#ctx, what, fn),
      });
      this.#log.debug("topics ready");
      if (o.guarantee === "exactly_once")
        await retry(this.#ctx, "initTransactions", () => Txn.init(this.#producer!, 30_000));
      this.#log.debug("transactions initialised");
      this.#restoreConsumer = createRestoreConsumer(this.#ctx);
      await connectWithRetry(this.#ctx, this.#restoreConsumer, "restore consumer");
      this.#consumer = createConsumer(this.#ctx, this.#clientErrors, (err, assignment) =>
        this.#onRebalance(err, assignment),
      );
      await connectWithRetry(this.#ctx, this.#consumer, "consumer");
      this.#log.debug("consumers connected");
      this.#consumer.subscribe(this.topology.sourceTopics);
      if (this.#stopRequested) throw new StopRequestedError("stopped during start");
    } catch (err) {
      this.#state = "failed";
      await this.#closeClients();
      this.#rejectDone(err);
      throw err;
    }
    this.#state = "running";
    this.#metrics?.workerInfo.set({ version: "weir", app: this.topology.appId, guarantee: o.guarantee }, 1);
    this.#log.info("worker running", { topics: this.topology.sourceTopics });
    this.#loop = this.#run();
  }

  /** Graceful stop: stop fetching, finish and commit in-flight work, close stores, leave the group. */
  async stop(reason = "stop requested"): Promise<void> {
    if (this.#state === "stopped" || this.#state === "failed") return;
    if (!this.#stopRequested) this.#log.info("worker stopping", { reason });
    this.#stopRequested = true;
    if (this.#state === "starting" || this.#state === "created") return;
    const timeout = new Promise<"timeout">((res) =>
      setTimeout(() => res("timeout"), this.options.shutdownTimeoutMs).unref(),
    );
    const outcome = await Promise.race([this.#loop?.then(() => "done" as const), timeout]);
    if (outcome === "timeout")
      this.#log.error("graceful shutdown timed out", { timeoutMs: this.options.shutdownTimeoutMs });
    await this.#done.catch(() => {});
  }

  // ---- the loop ------------------------------------------------------------------------------------------------

  async #run(): Promise<void> {
    let pollErrors = 0;
    try {
      while (!this.#stopRequested && this.#fatal === undefined) {
        let messages: Message[];
        try {
          messages = await consumeBatch(this.#consumer!, this.options.maxPollRecords);
          if (pollErrors > 0) this.#log.info("consumer recovered", { afterErrors: pollErrors });
          pollErrors = 0;
        } catch (err) {
          if ((err as LibrdKafkaError)?.code === ErrorCode.AUTO_OFFSET_RESET) {
            // A partition's position is not in the partition any more (retention deleted unprocessed records, or
            // the topic was truncated). librdkafka runs with auto.offset.reset=error, so it stopped that partition
            // and said so; weir decides: abort, and start every partition again from its committed offset, checked
            // against the partition's bounds (resolveStartOffsets logs a lost offset as an error and applies the
            // source's policy, or stops under "none").
            this.#log.error("a partition's offset is out of range; rewinding to the committed offsets", {
              error: describeKafkaError(err),
            });
            await this.#exclusive(() => this.#abortAndRewind());
            continue;
          }
          if (pollErrors++ % 50 === 0)
            this.#log.warn("consume failed; retrying", { error: describeKafkaError(err) });
          await sleep(Math.min(100 * pollErrors, 2000));
          continue;
        }
        await this.#exclusive(async () => {
          this.#enqueue(messages);
          await this.#processQueued();
          if (
            Date.now() - this.#lastCommit >= this.options.commitIntervalMs ||
            this.#uncommitted >= this.options.maxUncommittedRecords
          )
            await this.#commit();
        });
        if (Date.now() - this.#lastRangeCheck >= OFFSET_RANGE_CHECK_MS) await this.#checkPositionsInRange();
      }
      if (this.#fatal === undefined) await this.#exclusive(() => this.#commit());
    } catch (err) {
      this.#fatal ??= err;
    }
    await this.#shutdown();
  }

  #enqueue(messages: Message[]): void {
    let counted: Map<string, number> | undefined;
    for (const m of messages) {
      const key = tpKey(m.topic, m.partition);
      const active = this.#tasks.ofPartition(key);
      if (!active) continue; // revoked since it was fetched; its new owner reads it from the committed offset
      const length = active.queues.push(key, toRawRecord(m));
      if (this.#metrics) (counted ??= new Map()).set(key, (counted.get(key) ?? 0) + 1);
      if (length >= this.options.maxBufferedRecordsPerPartition && !this.#paused.has(key)) {
        this.#consumer!.pause([{ topic: m.topic, partition: m.partition }]);
        this.#paused.add(key);
        this.#metrics?.backpressurePausedPartitions.set(this.#paused.size);
        this.#log.debug("partition paused: task backlog over bound", { partition: key, backlog: length });
      }
    }
    if (counted)
      for (const [key, n] of counted) {
        const [topic, partition] = splitTp(key);
        this.#metrics!.recordsConsumed.inc({ topic, partition: String(partition) }, n);
      }
  }

  async #processQueued(): Promise<void> {
    let anyQueued = false;
    for (const t of this.#tasks.values()) if (t.queues.size > 0) anyQueued = true;
    if (this.options.guarantee === "exactly_once" && !this.#txnOpen) {
      if (!anyQueued && !this.#hasWallClockWork()) return;
      try {
        await Txn.begin(this.#producer!);
      } catch (err) {
        // Nothing is open yet: a failure here is the producer's state (fenced, fatal), handled as a commit's.
        await this.#onCommitFailure(err);
        return;
      }
      this.#txnOpen = true;
    }
    const now = Date.now();
    for (const active of this.#tasks.values()) {
      const { task, queues } = active;
      const before = queues.size;
      for (let r = queues.next(); r !== undefined; r = queues.next()) task.process(r);
      this.#uncommitted += before;
      for (const [key, position] of queues.advanced()) this.#positions.set(key, { ...position });
      task.punctuateWallClock(now);
    }
    if (this.#paused.size > 0) this.#resumeDrained();
  }

  /** A transaction is begun for wall-clock punctuation only when some task has wall-clock punctuators. */
  #hasWallClockWork(): boolean {
    for (const t of this.#tasks.values()) if (t.task.hasWallClockPunctuators) return true;
    return false;
  }

  #resumeDrained(): void {
    for (const key of [...this.#paused]) {
      const active = this.#tasks.ofPartition(key);
      const [topic, partition] = splitTp(key);
      if (active && active.queues.length(key) > this.options.maxBufferedRecordsPerPartition / 2) continue;
      if (active) this.#consumer!.resume([{ topic, partition }]);
      this.#paused.delete(key);
    }
    this.#metrics?.backpressurePausedPartitions.set(this.#paused.size);
  }

  // ---- committing ----------------------------------------------------------------------------------------------

  async #commit(): Promise<void> {
    const started = process.hrtime.bigint();
    const offsets = [...this.#positions.values()];
    if (offsets.length === 0 && this.#collector.sinceCommit === 0 && !this.#hasPendingWrites()) {
      // Nothing to commit; an open, empty transaction stays open for the next records.
      this.#lastCommit = Date.now();
      return;
    }
    let staged: StagedWrites[];
    try {
      if (this.options.guarantee === "exactly_once" && !this.#txnOpen) {
        await Txn.begin(this.#producer!);
        this.#txnOpen = true;
      }
      staged = this.#stageChangelogs();
      if (this.options.guarantee === "exactly_once") {
        if (offsets.length > 0) {
          await Txn.sendOffsets(this.#producer!, offsets, this.#consumer!, 30_000);
          faultPoint(this.options.testFaultFile, "after-send-offsets");
        }
        await Txn.commit(this.#producer!, 60_000);
        this.#txnOpen = false;
        await this.#collector.awaitDeliveries();
      } else {
        await flush(this.#producer!, 60_000);
        await this.#collector.awaitDeliveries();
        if (this.#collector.deliveryError)
          throw this.#collector.producerError(this.#collector.deliveryError, "(flush)");
        if (offsets.length > 0) this.#consumer!.commitSync(offsets);
      }
    } catch (err) {
      await this.#onCommitFailure(err);
      return;
    }
    this.#applyState(staged);
    for (const o of offsets) {
      this.#metrics?.committedOffset.set({ topic: o.topic, partition: String(o.partition) }, o.offset);
      if (this.#repartitionTopics.has(o.topic)) this.#purgeable.set(tpKey(o.topic, o.partition), o);
    }
    if (this.#purgeable.size > 0 && Date.now() - this.#lastPurge >= REPARTITION_PURGE_INTERVAL_MS)
      this.#purgeRepartitions();
    this.#positions.clear();
    this.#uncommitted = 0;
    this.#collector.sinceCommit = 0;
    this.#lastCommit = Date.now();
    this.#metrics?.transactions.inc({ outcome: "committed" });
    this.#metrics?.commitDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  #hasPendingWrites(): boolean {
    for (const active of this.#tasks.values())
      for (const b of active.stores.values()) if (b.pendingWrites > 0) return true;
    return false;
  }

  /**
   * Take every task's buffered store writes and send them to the changelogs inside the open transaction: the last
   * write per key since the previous commit (as Kafka Streams' record cache), so a hot key costs one changelog
   * record per commit, not one per update.
   */
  #stageChangelogs(): StagedWrites[] {
    const staged: StagedWrites[] = [];
    const now = Date.now();
    for (const active of this.#tasks.values())
      for (const [store, buffer] of active.stores) {
        if (buffer.pendingWrites === 0) continue;
        const partition = active.task.partition;
        const writes = buffer.drain();
        const topic = changelogTopic(this.topology.appId, store);
        if (this.topology.stores.get(store)!.changelog)
          // Wall-clock time: a window changelog's time-based retention must not drop fresh records of old event
          // time (replays, late data).
          for (const [key, value] of writes)
            this.#collector.send({ topic, partition, key, value, timestamp: now, headers: {} });
        staged.push({ store, partition, writes, changelog: tpKey(topic, partition) });
      }
    return staged;
  }

  /** Repartition records are kept until consumed (retention -1); delete what this group has committed. */
  #purgeRepartitions(): void {
    const offsets = [...this.#purgeable.values()];
    this.#purgeable.clear();
    this.#lastPurge = Date.now();
    this.#admin?.deleteRecords(offsets, { timeout: 10_000 }, (err) => {
      if (err) this.#log.warn("purging repartition topics failed", { error: describeKafkaError(err) });
    });
  }

  /** After Kafka committed: the staged writes and each store-partition's changelog offset go to LMDB in one
   *  transaction. */
  #applyState(staged: StagedWrites[]): void {
    if (staged.length === 0) return;
    this.#store!.apply(
      staged.map((b) => ({
        store: b.store,
        partition: b.partition,
        writes: b.writes,
        checkpoint: this.#collector.changelogOffsets.get(b.changelog),
      })),
    );
  }

  async #onCommitFailure(err: unknown): Promise<void> {
    const e = err as LibrdKafkaError;
    if (e?.isFatal || this.options.guarantee === "at_least_once") {
      throw err instanceof WeirError
        ? err
        : new ProducerFencedError(
            `commit failed fatally: ${describeKafkaError(err)}; another worker with the same id or a newer group generation ` +
              `took over, or the producer failed. Nothing of the open transaction is committed; restart the worker.`,
            { cause: err },
          );
    }
    this.#log.warn("transaction failed; aborting and resuming from the committed offsets", {
      error: describeKafkaError(err),
    });
    await this.#abortAndRewind();
  }

  /** Abort the open transaction, drop every task's uncommitted state and seek back to the committed offsets. */
  async #abortAndRewind(): Promise<void> {
    if (this.#txnOpen) {
      try {
        await Txn.abort(this.#producer!, 30_000);
      } catch (err) {
        throw new ProducerFencedError(`abortTransaction failed: ${describeKafkaError(err)}`, { cause: err });
      }
      this.#txnOpen = false;
    }
    this.#metrics?.transactions.inc({ outcome: "aborted" });
    await this.#collector.awaitDeliveries().catch(() => {});
    this.#collector.deliveryError = undefined;
    this.#positions.clear();
    this.#uncommitted = 0;
    this.#collector.sinceCommit = 0;
    const partitions = [...this.#tasks.values()].flatMap((t) => t.partitions);
    for (const active of [...this.#tasks.values()]) {
      this.#closeTask(active, "discard");
      this.#openTask(active.task.subtopology.id, active.task.partition, active.partitions);
    }
    await this.#seekToStart(partitions);
    this.#lastCommit = Date.now();
    this.#log.info("rewound to committed offsets", { partitions: partitions.length });
  }

  /**
   * librdkafka reports an out-of-range position (auto.offset.reset=error) as a consumer error, but the client's
   * batch consume drops an error that follows records in the same batch, leaving the partition stopped in silence.
   * So every OFFSET_RANGE_CHECK_MS the worker compares each input partition's position with the partition's bounds
   * itself; a position outside them (records deleted by retention before they were read, a truncated topic) is
   * handled as the reported error is: abort, and start every partition again through the committed-offset lookup.
   */
  async #checkPositionsInRange(): Promise<void> {
    this.#lastRangeCheck = Date.now();
    const tps = [...this.#tasks.partitionKeys()].map((k) => {
      const [topic, partition] = splitTp(k);
      return { topic, partition };
    });
    if (tps.length === 0 || !this.#admin) return;
    // Positions before bounds: a position read after the end offset could have passed it legitimately.
    const positions = this.#consumer!.position(tps);
    let starts: Map<string, number>, ends: Map<string, number>;
    try {
      [starts, ends] = await Promise.all([
        listOffsets(this.#admin, tps, "earliest", "read_uncommitted"),
        listOffsets(this.#admin, tps, "latest", "read_uncommitted"),
      ]);
    } catch {
      return; // the broker is unreachable or busy: the next check tries again
    }
    const outside: string[] = [];
    for (const p of positions) {
      const k = tpKey(p.topic, p.partition);
      const position = p.offset >= 0 ? p.offset : this.#startedAt.get(k);
      if (position === undefined || position < 0) continue; // logical start (earliest/latest): not yet resolved
      const start = starts.get(k);
      const end = ends.get(k);
      if ((start !== undefined && position < start) || (end !== undefined && position > end))
        outside.push(`${k}@${position} (partition holds ${start} to ${end})`);
    }
    if (outside.length === 0) return;
    this.#log.error("input positions are outside their partitions; rewinding to the committed offsets", {
      partitions: outside,
    });
    await this.#exclusive(() => this.#abortAndRewind());
  }

  /** Seek partitions to where they start: their stable committed offsets (waited for), or the source's policy. */
  async #seekToStart(partitions: TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const starts = await this.#startOffsets(partitions);
    const assigned = new Set(this.#consumer!.assignments().map((p) => tpKey(p.topic, p.partition)));
    const stopped: TopicPartitionOffset[] = [];
    for (const s of starts) {
      this.#startedAt.set(tpKey(s.topic, s.partition), s.offset);
      const tpo = { topic: s.topic, partition: s.partition, offset: s.offset };
      try {
        await seek(this.#consumer!, tpo);
      } catch (err) {
        // A partition that is no longer assigned is moving away: its new owner starts it. One that is still
        // assigned but could not be moved back would continue past records whose outputs were just aborted.
        if (!assigned.has(tpKey(s.topic, s.partition))) continue;
        if ((err as LibrdKafkaError)?.code === ErrorCode.STATE) {
          // librdkafka stopped the partition's fetcher (an out-of-range position under auto.offset.reset=error)
          // and a stopped fetcher cannot seek: it gets no records until it is assigned again, at this offset.
          stopped.push(tpo);
          continue;
        }
        throw new OffsetError(
          `could not rewind ${s.topic}/${s.partition} to offset ${s.offset} after an abort: ${describeKafkaError(err)}`,
          { topic: s.topic, partition: s.partition, offset: s.offset, cause: err },
        );
      }
    }
    if (stopped.length > 0) this.#scheduleReassign(stopped);
  }

  /**
   * Assign partitions whose fetcher librdkafka stopped again, at their decided offsets. Assignment changes belong
   * to the rebalance chain (librdkafka would take an assign call made while a rebalance callback is pending as that
   * callback's answer), so this runs there, and only for partitions still assigned by then.
   */
  #scheduleReassign(tpos: TopicPartitionOffset[]): void {
    const work = () =>
      this.#exclusive(() => {
        const consumer = this.#consumer!;
        const assigned = consumer.assignments();
        const isAssigned = (t: TopicPartition) =>
          assigned.some((a) => a.topic === t.topic && a.partition === t.partition);
        const todo = tpos.filter(isAssigned);
        if (todo.length === 0) return;
        const ex = extras(consumer);
        if (ex.rebalanceProtocol() === "COOPERATIVE") {
          ex.incrementalUnassign(todo.map((t) => ({ topic: t.topic, partition: t.partition })));
          ex.incrementalAssign(todo);
        } else {
          // assign() replaces the whole assignment. librdkafka remembers the offsets partitions were first assigned
          // at, so every other partition is given where the application is now: its position (the lock is held,
          // every record consumed has been processed), or the offset it was last started at.
          const full = consumer.position(assigned.map((a) => ({ topic: a.topic, partition: a.partition })));
          consumer.assign(
            full.map((p) => {
              const t = todo.find((x) => x.topic === p.topic && x.partition === p.partition);
              if (t) return t;
              const offset = p.offset >= 0 ? p.offset : this.#startedAt.get(tpKey(p.topic, p.partition));
              return offset === undefined
                ? { topic: p.topic, partition: p.partition }
                : { topic: p.topic, partition: p.partition, offset };
            }),
          );
        }
        for (const t of todo) this.#startedAt.set(tpKey(t.topic, t.partition), t.offset);
        this.#log.info("partitions assigned again at their start offsets", {
          offsets: todo.map((t) => `${tpKey(t.topic, t.partition)}@${t.offset}`),
        });
      });
    this.#rebalances = this.#rebalances.then(work).catch((e: unknown) => {
      this.#fatal ??= e;
      this.#log.error("re-assigning stopped partitions failed", { error: errorMessage(e) });
    });
  }

  /**
   * Where partitions start (see runtime/start-offsets.ts): stable committed offsets, waited for while a transaction
   * holding an offset commit for the group is undecided (the worker is not ready meanwhile), checked against the
   * partitions' bounds. Lost offsets are counted.
   */
  async #startOffsets(partitions: TopicPartition[]): Promise<StartOffset[]> {
    const source: OffsetSource = {
      committed: (ps, timeoutMs) => committed(this.#consumer!, ps, timeoutMs),
      logStart: (ps) =>
        retry(this.#ctx, "list offsets", () => listOffsets(this.#admin!, ps, "earliest", "read_uncommitted")),
      logEnd: (ps) =>
        retry(this.#ctx, "list offsets", () => listOffsets(this.#admin!, ps, "latest", "read_uncommitted")),
      reachable: (ps) =>
        listOffsets(this.#admin!, ps, "earliest", "read_uncommitted", 3000).then(
          () => true,
          () => false,
        ),
    };
    const token = this.#nextLookup++;
    const starts = await resolveStartOffsets(source, partitions, {
      log: this.#log,
      taskTimeoutMs: this.options.taskTimeoutMs,
      stopRequested: () => this.#stopRequested,
      policyOf: (topic) => this.topology.offsetResetOf(topic),
      onWaiting: (waiting) => {
        if (waiting.length > 0) this.#offsetLookups.set(token, waiting);
        else this.#offsetLookups.delete(token);
        this.#metrics?.workerReady.set(this.ready ? 1 : 0);
      },
    });
    for (const s of starts)
      if (s.decision.kind !== "committed")
        this.#metrics?.offsetResets.inc({ topic: s.topic, reason: s.decision.kind });
    return starts;
  }

  // ---- rebalancing --------------------------------------------------------------------------------------------

  #onRebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const consumer = extras(this.#consumer!);
    const cooperative = consumer.rebalanceProtocol() === "COOPERATIVE";
    const lost = consumer.assignmentLost();
    // The assign/unassign call must happen even when handling failed: librdkafka waits for it, and a consumer
    // that never gets it cannot leave the group (the worker would hang on shutdown instead of failing).
    const work = async () => {
      if (err.code === ErrorCode.ASSIGN_PARTITIONS) {
        this.#metrics?.rebalances.inc({ kind: "assigned" });
        this.#restoring++;
        let starts: StartOffset[] = [];
        try {
          if (this.#fatal === undefined) starts = await this.#assign(assignment);
        } finally {
          this.#restoring--;
          // Explicit offsets: librdkafka neither looks them up nor resets them (see runtime/start-offsets.ts).
          // Without them (the worker is failing) it would look the committed offsets up itself; nothing is
          // processed or committed by a failing worker.
          const offsetOf = new Map(starts.map((s) => [tpKey(s.topic, s.partition), s.offset]));
          const withOffsets = assignment.map((tp) => {
            const offset = offsetOf.get(tpKey(tp.topic, tp.partition));
            return offset === undefined ? tp : { ...tp, offset };
          });
          if (cooperative) consumer.incrementalAssign(withOffsets);
          else this.#consumer!.assign(withOffsets);
        }
        this.#assignedOnce = true;
      } else if (err.code === ErrorCode.REVOKE_PARTITIONS) {
        this.#metrics?.rebalances.inc({ kind: lost ? "lost" : "revoked" });
        try {
          if (this.#fatal === undefined) await this.#exclusive(() => this.#revoke(assignment, lost));
        } finally {
          if (cooperative) consumer.incrementalUnassign(assignment);
          else this.#consumer!.unassign();
        }
      } else {
        this.#log.error("rebalance error", { error: describeKafkaError(err) });
      }
      this.#updateAssignmentMetrics();
    };
    this.#rebalances = this.#rebalances.then(work).catch((e: unknown) => {
      if (e instanceof StopRequestedError) {
        // A stop interrupted a restore or a wait for stable offsets: the tasks were never opened, nothing of
        // theirs was processed or committed; the next owner starts them from Kafka.
        this.#log.info("rebalance handling interrupted by the stop", { reason: errorMessage(e) });
        return;
      }
      this.#fatal ??= e;
      this.#log.error("rebalance handling failed", { error: errorMessage(e) });
    });
  }

  /**
   * New tasks restore their stores outside the processing lock, so the tasks this worker already runs keep
   * processing meanwhile (LMDB writes are synchronous, so restore batches and commits never interleave).
   */
  async #assign(assignment: TopicPartition[]): Promise<StartOffset[]> {
    const byTask = await this.#exclusive(() => this.#newTasks(assignment));
    // Committed offsets first, stable, as Kafka Streams does before it plans restores: once they are stable, the
    // transaction that last wrote these tasks' changelogs together with these offsets is decided.
    const starts = await this.#startOffsets(assignment);
    for (const s of starts) this.#startedAt.set(tpKey(s.topic, s.partition), s.offset);
    for (const { sub, partition } of byTask.values()) await this.#restorer.restoreTask(sub, partition);
    await this.#exclusive(() => {
      for (const { sub, partition, tps } of byTask.values()) this.#openTask(sub, partition, tps);
    });
    this.#log.info("partitions start", {
      offsets: starts.map((s) => `${s.topic}/${s.partition}@${s.offset}`),
    });
    return starts;
  }

  #newTasks(
    assignment: TopicPartition[],
  ): Map<string, { sub: number; partition: number; tps: TopicPartition[] }> {
    const byTask = new Map<string, { sub: number; partition: number; tps: TopicPartition[] }>();
    for (const tp of assignment) {
      const sub = this.topology.subtopologyOf(tp.topic);
      if (!sub) continue;
      const id = taskId(sub.id, tp.partition);
      const existing = this.#tasks.get(id);
      if (existing) {
        existing.partitions.push({ topic: tp.topic, partition: tp.partition });
        this.#tasks.addPartition(existing, tp.topic, tp.partition);
        continue;
      }
      if (!byTask.has(id)) byTask.set(id, { sub: sub.id, partition: tp.partition, tps: [] });
      byTask.get(id)!.tps.push({ topic: tp.topic, partition: tp.partition });
    }
    this.#log.info("partitions assigned", {
      partitions: assignment.map((p) => tpKey(p.topic, p.partition)),
      newTasks: [...byTask.keys()],
    });
    return byTask;
  }

  async #revoke(assignment: TopicPartition[], lost: boolean): Promise<void> {
    const affected = this.#tasks.tasksOf(assignment);
    this.#log.info(lost ? "partitions lost" : "partitions revoked", {
      partitions: assignment.map((p) => tpKey(p.topic, p.partition)),
      tasks: [...affected].map((a) => a.task.id),
    });
    if (lost) {
      // Another worker may own these already: commit nothing. The transaction spans every task, so all rewind.
      for (const a of affected) this.#closeTask(a, "discard");
      if (this.#txnOpen || this.#positions.size > 0) await this.#abortAndRewind();
      return;
    }
    await this.#commit();
    // Looked up again: a failed commit aborts and reopens every task, and the objects found above are gone.
    for (const a of this.#tasks.tasksOf(assignment)) this.#closeTask(a, "committed");
  }

  #openTask(sub: number, partition: number, partitions: TopicPartition[]): ActiveTask {
    const subtopology = this.topology.subtopologies[sub]!;
    const stores = new Map<string, BufferedStore>();
    const appId = this.topology.appId;
    const active: ActiveTask = {
      partitions: [...partitions],
      stores,
      queues: new PartitionQueues(),
      task: new StreamTask({
        appId,
        topology: this.topology,
        subtopology,
        partition,
        wallClock: Date.now,
        onProcessingError: this.options.processingErrors,
        store: (name) => {
          let buffer = stores.get(name);
          if (buffer) return buffer;
          // Changelog records are sent at commit time from the drained buffer (#stageChangelogs).
          buffer = new BufferedStore(this.#store!.open(name, partition));
          stores.set(name, buffer);
          return buffer;
        },
        output: {
          send: (r) => this.#collector.send(r),
          deadLetter: (r, error) => this.#collector.deadLetter(r, error),
        },
        hooks: this.#metrics
          ? {
              processed: (processor, seconds) =>
                this.#metrics!.processingLatency.observe({ processor }, seconds),
              punctuated: (kind) => this.#metrics!.punctuations.inc({ kind }),
              count: (_metric, label) => this.#metrics!.orders.inc({ status: label }),
            }
          : undefined,
      }),
    };
    this.#tasks.add(active);
    // Open every store now so that a store's first write is not the moment its LMDB database is created.
    for (const s of subtopology.stores) active.task.store(s);
    return active;
  }

  #closeTask(active: ActiveTask, how: "committed" | "discard"): void {
    // A stale object (replaced by an abort's reopen, and closed by it) must not close its successor.
    if (this.#tasks.get(active.task.id) !== active) return;
    for (const b of active.stores.values()) {
      if (how === "discard") b.discard();
      else if (b.pendingWrites > 0)
        throw new StateStoreError(
          `task ${active.task.id} closed with ${b.pendingWrites} uncommitted writes`,
          { task: active.task.id },
        );
    }
    active.task.close();
    active.queues.clear();
    this.#tasks.remove(active);
    for (const tp of active.partitions) {
      const key = tpKey(tp.topic, tp.partition);
      this.#positions.delete(key);
      // librdkafka keeps an application pause across seeks and re-assignments: a reopened task would never get
      // this partition's records again.
      if (this.#paused.delete(key))
        try {
          this.#consumer!.resume([{ topic: tp.topic, partition: tp.partition }]);
        } catch {
          // no longer assigned
        }
    }
  }

  #updateAssignmentMetrics(): void {
    if (!this.#metrics) return;
    this.#metrics.assignedTasks.set(this.#tasks.size);
    this.#metrics.assignedPartitions.set(this.#tasks.partitionCount);
    this.#metrics.workerReady.set(this.ready ? 1 : 0);
  }

  /** Consumer lag per assigned partition from the consumer's cached watermarks. */
  refreshLagMetrics(): void {
    if (!this.#metrics || !this.#consumer || this.#state !== "running") return;
    for (const key of this.#tasks.partitionKeys()) {
      const [topic, partition] = splitTp(key);
      try {
        const { highOffset } = this.#consumer.getWatermarkOffsets(topic, partition);
        const [pos] = this.#consumer.position([{ topic, partition }]);
        const lag = consumerLag(highOffset, pos?.offset ?? Offset.INVALID);
        if (lag !== undefined) this.#metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
      } catch {
        // watermarks not known yet
      }
    }
    for (const active of this.#tasks.values())
      for (const [store, buffer] of active.stores) {
        const labels = { store, partition: String(active.task.partition) };
        this.#metrics.storeEntries.set(labels, buffer.backend.approximateCount());
        this.#metrics.storeBytes.set(labels, buffer.backend.approximateBytes());
      }
    this.#metrics.workerReady.set(this.ready ? 1 : 0);
  }

  // ---- start-up and shutdown ---------------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    this.#state = this.#fatal === undefined ? "stopping" : "failed";
    if (this.#fatal !== undefined)
      this.#log.error("worker failed", {
        error: errorMessage(this.#fatal),
        where: (this.#fatal as WeirError).where?.(),
      });
    await this.#exclusive(async () => {
      if (this.#fatal !== undefined && this.#txnOpen)
        await Txn.abort(this.#producer!, 10_000).catch(() => {});
      for (const active of [...this.#tasks.values()])
        this.#closeTask(active, this.#fatal === undefined ? "committed" : "discard");
    }).catch((err: unknown) => this.#log.error("closing tasks failed", { error: errorMessage(err) }));
    // A restore or an offset lookup in the rebalance chain notices the stop within one poll or lookup attempt;
    // it must end before its clients are closed under it.
    await Promise.race([
      this.#rebalances.catch(() => {}),
      new Promise<void>((r) => setTimeout(r, 15_000).unref()),
    ]);
    await this.#closeClients();
    await this.#rebalances.catch(() => {});
    this.#store?.close();
    this.#metrics?.workerReady.set(0);
    if (this.#fatal === undefined) {
      this.#state = "stopped";
      this.#log.info("worker stopped");
      this.#resolveDone();
    } else {
      this.#state = "failed";
      this.#rejectDone(this.#fatal);
    }
  }

  async #closeClients(): Promise<void> {
    await closeClients({
      admin: this.#admin,
      consumer: this.#consumer,
      restoreConsumer: this.#restoreConsumer,
      producer: this.#producer,
    });
    this.#admin = undefined;
  }

  /** Processing, commits and rebalance handling never interleave. */
  #exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => {});
    return run;
  }
}

function splitTp(key: string): [string, number] {
  const i = key.lastIndexOf("/");
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

const REPARTITION_PURGE_INTERVAL_MS = 30_000;
const OFFSET_RANGE_CHECK_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
