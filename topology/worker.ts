import { openLmdbState, type StateBackend } from "../state/index.js";
import type { Topology } from "./builder.js";
import { OffsetError, StopRequestedError, WeirError, errorMessage } from "./errors.js";
import {
  ErrorCode,
  Offset,
  Txn,
  committed,
  consumeBatch,
  createAdmin,
  describeKafkaError,
  extras,
  listOffsets,
  seek,
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
import { Committer } from "./runtime/committer.js";
import { prepareTopics } from "./runtime/internal-topics.js";
import { RecordCollector } from "./runtime/record-collector.js";
import { Restorer } from "./runtime/restorer.js";
import { resolveStartOffsets, type OffsetSource, type StartOffset } from "./runtime/start-offsets.js";
import { TaskManager, splitTp, tpKey, type ActiveTask, type TaskStatus } from "./runtime/task-manager.js";
import type { TaskRegistry } from "./runtime/task-registry.js";

export type { TaskStatus };

export type WorkerState = "created" | "starting" | "running" | "stopping" | "stopped" | "failed";

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
  readonly #tm: TaskManager;
  readonly #tasks: TaskRegistry<ActiveTask>;
  readonly #committer: Committer;
  #lock: Promise<unknown> = Promise.resolve();
  #rebalances: Promise<unknown> = Promise.resolve();
  #restoring = 0;
  /** Committed-offset lookups in progress (an assignment's, a rewind's), by token: not ready while any runs. */
  readonly #offsetLookups = new Map<number, string[]>();
  #nextLookup = 0;
  #admin: IAdminClient | undefined;
  /** The explicit offset each input partition was last started (assigned or sought) at. */
  readonly #startedAt = new Map<string, number>();
  #lastRangeCheck = Date.now();
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
    this.#tm = new TaskManager({
      topology,
      options: this.options,
      log: this.#log,
      metrics: this.#metrics,
      store: () => this.#store!,
      consumer: () => this.#consumer!,
      collector: this.#collector,
    });
    this.#tasks = this.#tm.tasks;
    this.#committer = new Committer({
      topology,
      options: this.options,
      log: this.#log,
      metrics: this.#metrics,
      store: () => this.#store!,
      producer: () => this.#producer!,
      consumer: () => this.#consumer!,
      admin: () => this.#admin,
      collector: this.#collector,
      tasks: this.#tm,
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
    return this.#tm.status();
  }

  /** Interactive query of a key-value store on this worker (see TaskManager.queryStore). */
  queryStore(
    store: string,
    key: unknown,
  ): { found: boolean; value?: unknown; partition: number; local: boolean } {
    return this.#tm.queryStore(store, key);
  }

  /** Entries of a key-value store across this worker's tasks. */
  scanStore(
    store: string,
    prefix?: unknown,
    limit = 100,
  ): Generator<{ key: unknown; value: unknown; partition: number }> {
    return this.#tm.scanStore(store, prefix, limit);
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
      this.#tm.partitionsOf = await prepareTopics({
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
          this.#tm.enqueue(messages);
          await this.#processQueued();
          if (this.#committer.due()) await this.#commit();
        });
        if (Date.now() - this.#lastRangeCheck >= OFFSET_RANGE_CHECK_MS) await this.#checkPositionsInRange();
      }
      if (this.#fatal === undefined) await this.#exclusive(() => this.#commit());
    } catch (err) {
      this.#fatal ??= err;
    }
    await this.#shutdown();
  }

  async #processQueued(): Promise<void> {
    try {
      if (!(await this.#committer.beginIfNeeded())) return;
    } catch (err) {
      // Nothing is open yet: a failure here is the producer's state (fenced, fatal), handled as a commit's.
      await this.#onCommitFailure(err);
      return;
    }
    this.#tm.processQueued(Date.now());
  }

  // ---- committing ----------------------------------------------------------------------------------------------

  async #commit(): Promise<void> {
    try {
      await this.#committer.commit();
    } catch (err) {
      await this.#onCommitFailure(err);
    }
  }

  async #onCommitFailure(err: unknown): Promise<void> {
    this.#committer.classifyFailure(err); // throws when fatal
    await this.#abortAndRewind();
  }

  /** Abort the open transaction, drop every task's uncommitted state and seek back to where partitions start. */
  async #abortAndRewind(): Promise<void> {
    await this.#committer.abort();
    const partitions = this.#tm.discardAndReopenAll();
    await this.#seekToStart(partitions);
    this.#committer.lastCommit = Date.now();
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
    const byTask = await this.#exclusive(() => this.#tm.newTasks(assignment));
    // Committed offsets first, stable, as Kafka Streams does before it plans restores: once they are stable, the
    // transaction that last wrote these tasks' changelogs together with these offsets is decided.
    const starts = await this.#startOffsets(assignment);
    for (const s of starts) this.#startedAt.set(tpKey(s.topic, s.partition), s.offset);
    for (const { sub, partition } of byTask.values()) await this.#restorer.restoreTask(sub, partition);
    await this.#exclusive(() => {
      for (const { sub, partition, tps } of byTask.values()) this.#tm.open(sub, partition, tps);
    });
    this.#log.info("partitions start", {
      offsets: starts.map((s) => `${s.topic}/${s.partition}@${s.offset}`),
    });
    return starts;
  }

  async #revoke(assignment: TopicPartition[], lost: boolean): Promise<void> {
    const affected = this.#tasks.tasksOf(assignment);
    this.#log.info(lost ? "partitions lost" : "partitions revoked", {
      partitions: assignment.map((p) => tpKey(p.topic, p.partition)),
      tasks: [...affected].map((a) => a.task.id),
    });
    if (lost) {
      // Another worker may own these already: commit nothing. The transaction spans every task, so all rewind.
      for (const a of affected) this.#tm.close(a, "discard");
      if (this.#committer.txnOpen || this.#tm.positions.size > 0) await this.#abortAndRewind();
      return;
    }
    await this.#commit();
    // Looked up again: a failed commit aborts and reopens every task, and the objects found above are gone.
    for (const a of this.#tasks.tasksOf(assignment)) this.#tm.close(a, "committed");
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
      if (this.#fatal !== undefined && this.#committer.txnOpen)
        await Txn.abort(this.#producer!, 10_000).catch(() => {});
      for (const active of [...this.#tasks.values()])
        this.#tm.close(active, this.#fatal === undefined ? "committed" : "discard");
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

const OFFSET_RANGE_CHECK_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
