/**
 * Rebalances and where partitions start (Kafka Streams' StreamsRebalanceListener and the offset side of its
 * TaskManager): the rebalance callbacks (assign: stable committed offsets → restore → open tasks → assign with
 * explicit offsets; revoke: commit, close; lost: discard), the rewind after an abort, re-assigning partitions whose
 * fetcher librdkafka stopped, and the periodic check that every position is inside its partition. Assignment changes
 * run in one chain, in callback order; processing, commits and task changes run under the worker's lock.
 */
import { OffsetError, ProducerFencedError, StopRequestedError, errorMessage } from "../errors.js";
import {
  ErrorCode,
  committed,
  describeKafkaError,
  extras,
  listOffsets,
  partitionBounds,
  seek,
  type IAdminClient,
  type KafkaConsumer,
  type LibrdKafkaError,
  type TopicPartition,
  type TopicPartitionOffset,
  splitTp,
  tpKey,
} from "../kafka.js";
import { forgetStorePartition, forgetTopicPartition } from "../metrics.js";
import { TransactionCallStuckError, type Committer } from "./committer.js";
import type { Restorer } from "./restorer.js";
import { resolveStartOffsets, type OffsetSource, type StartOffset } from "./start-offsets.js";
import type { ActiveTask, TaskManager } from "./task-manager.js";
import { taskId } from "./task.js";
import type { RuntimeContext } from "./context.js";

export interface RebalancerDeps extends RuntimeContext {
  consumer: () => KafkaConsumer;
  admin: () => IAdminClient;
  tasks: TaskManager;
  committer: Committer;
  restorer: Restorer;
  /** Run under the worker's processing lock. */
  exclusive: <T>(fn: () => Promise<T> | T) => Promise<T>;
  /** The worker's commit, with its failure handling. */
  commit: () => Promise<void>;
  retry: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  stopRequested: () => boolean;
  failed: () => boolean;
  fail: (err: unknown) => void;
  ready: () => boolean;
  assignmentChanged: () => void;
  /** A producer that failed for good while aborting: the worker replaces it and rewinds, or rethrows (fatal). */
  replaceProducer: (cause: ProducerFencedError | TransactionCallStuckError) => Promise<void>;
  /** Where the processing loop is (Health.step), for a stall's reason. */
  step?: (what: string) => void;
}

/** How often input positions are compared with their partitions' bounds. */
export const OFFSET_RANGE_CHECK_MS = 15_000;

/**
 * How long a task may wait for the rest of its input partitions before the worker says its assignment is split
 * (`split-assignment`). Under KIP-848 a partition reaches its new owner at that member's next heartbeat after its
 * previous owner released it (broker default heartbeat: 5 s); classic cooperative rebalances follow each other at once.
 */
export const SPLIT_ASSIGNMENT_GRACE_MS = 20_000;

/** A task of which this worker holds some input partitions but not all of them. */
export interface IncompleteTask {
  id: string;
  sub: number;
  partition: number;
  held: TopicPartition[];
  missing: string[];
  since: number;
}

export class Rebalancer {
  /** Rebalance callbacks and re-assignments, in order. */
  chain: Promise<unknown> = Promise.resolve();
  /** Assignments being handled (offset lookup, restore): not ready meanwhile. */
  restoring = 0;
  assignedOnce = false;
  lastRangeCheck = Date.now();
  /** Committed-offset lookups in progress (an assignment's, a rewind's), by token: not ready while any runs. */
  readonly #offsetLookups = new Map<number, string[]>();
  #nextLookup = 0;
  /** The explicit offset each input partition was last started (assigned or sought) at. */
  readonly #startedAt = new Map<string, number>();
  /**
   * Tasks this worker holds only some input partitions of, by task id. Kafka Streams' own assignor hands out a
   * task's partitions together; librdkafka's assignors promise nothing of the kind: cooperative-sticky, roundrobin
   * and the broker's KIP-848 assignors place each partition on its own, and under KIP-848 even `range` hands a
   * task's partitions over one by one, as their previous owner releases them. Such a task is never opened — its other
   * partitions may be processed by another worker's copy of it, joining against half the data and writing the same
   * changelog partitions — and its partitions stay assigned but paused, until the rest arrive (it then opens as any
   * new task, from the committed offsets) or they are revoked. Past SPLIT_ASSIGNMENT_GRACE_MS the worker says so.
   */
  readonly #incomplete = new Map<string, IncompleteTask>();

  constructor(private readonly d: RebalancerDeps) {}

  /** No assignment, restore or offset lookup in progress, and no task waiting for the rest of its partitions. */
  get settled(): boolean {
    return (
      this.assignedOnce &&
      this.restoring === 0 &&
      this.#offsetLookups.size === 0 &&
      this.#incomplete.size === 0
    );
  }

  /** Tasks waiting for the rest of their input partitions (see #incomplete). */
  incompleteTasks(): IncompleteTask[] {
    return [...this.#incomplete.values()];
  }

  /** Abort the open transaction, drop every task's uncommitted state and seek back to where partitions start. */
  async abortAndRewind(): Promise<void> {
    try {
      await this.d.committer.abort();
    } catch (err) {
      if (!(err instanceof ProducerFencedError) && !(err instanceof TransactionCallStuckError)) throw err;
      await this.d.replaceProducer(err); // rewinds with the new producer, or throws
      return;
    }
    await this.rewind();
  }

  /** Drop every task's uncommitted state and seek back to where partitions start (the transaction is gone). */
  async rewind(): Promise<void> {
    const partitions = this.d.tasks.discardAndReopenAll();
    this.d.step?.("rewinding: looking up committed offsets and seeking");
    const starts = await this.#seekToStart(partitions);
    this.d.committer.lastCommit = Date.now();
    this.d.log.info("rewound to committed offsets", {
      offsets: starts.map((s) => `${s.topic}/${s.partition}@${s.offset}`),
    });
  }

  /**
   * librdkafka reports an out-of-range position (auto.offset.reset=error) as a consumer error, but the client's
   * batch consume drops an error that follows records in the same batch, leaving the partition stopped in silence.
   * So every OFFSET_RANGE_CHECK_MS the worker compares each input partition's position with the partition's bounds
   * itself; a position outside them (records deleted by retention before they were read, a truncated topic) is
   * handled as the reported error is: abort, and start every partition again through the committed-offset lookup.
   */
  async checkPositionsInRange(): Promise<void> {
    this.lastRangeCheck = Date.now();
    const tps = [...this.d.tasks.tasks.partitionKeys()].map((k) => {
      const [topic, partition] = splitTp(k);
      return { topic, partition };
    });
    if (tps.length === 0 || !this.d.admin()) return;
    // Positions before bounds: a position read after the end offset could have passed it legitimately.
    const positions = this.d.consumer().position(tps);
    let starts: Map<string, number>, ends: Map<string, number>;
    try {
      ({ start: starts, end: ends } = await partitionBounds(this.d.admin(), tps));
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
    this.d.log.error("input positions are outside their partitions; rewinding to the committed offsets", {
      partitions: outside,
    });
    await this.d.exclusive(() => this.abortAndRewind());
  }

  /** Seek partitions to where they start: their stable committed offsets (waited for), or the source's policy. */
  async #seekToStart(partitions: TopicPartition[]): Promise<StartOffset[]> {
    if (partitions.length === 0) return [];
    const starts = await this.#startOffsets(partitions);
    await this.#seekEach(
      starts.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.offset })),
      (t, err) =>
        `could not rewind ${t.topic}/${t.partition} to offset ${t.offset} after an abort: ${describeKafkaError(err)}`,
    );
    return starts;
  }

  /**
   * Seek each partition to its offset (and remember it as where the partition started). Returns the partitions
   * sought. A partition no longer assigned is moving away: its new owner starts it. A partition whose fetcher
   * librdkafka stopped (an out-of-range position under auto.offset.reset=error) cannot seek: it is assigned again at
   * its offset (#scheduleReassign). Any other failure is an OffsetError (`failure` says what was being done): a
   * partition still assigned that could not be moved would go on from the wrong place.
   */
  async #seekEach(
    tpos: TopicPartitionOffset[],
    failure: (tpo: TopicPartitionOffset, err: unknown) => string,
  ): Promise<TopicPartition[]> {
    const assigned = new Set(
      this.d
        .consumer()
        .assignments()
        .map((p) => tpKey(p.topic, p.partition)),
    );
    const sought: TopicPartition[] = [];
    const stopped: TopicPartitionOffset[] = [];
    for (const tpo of tpos) {
      this.#startedAt.set(tpKey(tpo.topic, tpo.partition), tpo.offset);
      try {
        await seek(this.d.consumer(), tpo);
        sought.push({ topic: tpo.topic, partition: tpo.partition });
      } catch (err) {
        if (!assigned.has(tpKey(tpo.topic, tpo.partition))) continue;
        if ((err as LibrdKafkaError)?.code === ErrorCode.STATE) {
          stopped.push(tpo);
          continue;
        }
        throw new OffsetError(failure(tpo, err), {
          topic: tpo.topic,
          partition: tpo.partition,
          offset: tpo.offset,
          cause: err,
        });
      }
    }
    if (stopped.length > 0) this.#scheduleReassign(stopped);
    return sought;
  }

  /**
   * Assign partitions whose fetcher librdkafka stopped again, at their decided offsets. Assignment changes belong
   * to the rebalance chain (librdkafka would take an assign call made while a rebalance callback is pending as that
   * callback's answer), so this runs there, and only for partitions still assigned by then.
   */
  #scheduleReassign(tpos: TopicPartitionOffset[]): void {
    const work = () =>
      this.d.exclusive(() => {
        const consumer = this.d.consumer();
        const assigned = consumer.assignments();
        const isAssigned = (t: TopicPartition) =>
          assigned.some((a) => a.topic === t.topic && a.partition === t.partition);
        const todo = tpos.filter(isAssigned);
        if (todo.length === 0) return;
        const ex = extras(consumer);
        if (ex.rebalanceProtocol() === "COOPERATIVE") {
          ex.incrementalUnassign(todo.map((t) => ({ topic: t.topic, partition: t.partition })));
          ex.incrementalAssign(todo);
          // An application pause survives re-assignment: partitions started here may have been paused until now.
          consumer.resume(
            todo
              .filter((t) => !this.d.tasks.paused.has(tpKey(t.topic, t.partition)))
              .map((t) => ({ topic: t.topic, partition: t.partition })),
          );
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
        this.d.log.info("partitions assigned again at their start offsets", {
          offsets: todo.map((t) => `${tpKey(t.topic, t.partition)}@${t.offset}`),
        });
      });
    this.chain = this.chain.then(work).catch((e: unknown) => {
      this.d.fail(e);
      this.d.log.error("re-assigning stopped partitions failed", { error: errorMessage(e) });
    });
  }

  /**
   * Where partitions start (see runtime/start-offsets.ts): stable committed offsets, waited for while a transaction
   * holding an offset commit for the group is undecided (the worker is not ready meanwhile), checked against the
   * partitions' bounds. Lost offsets are counted.
   */
  async #startOffsets(partitions: TopicPartition[]): Promise<StartOffset[]> {
    const source: OffsetSource = {
      committed: (ps, timeoutMs) => committed(this.d.consumer(), ps, timeoutMs),
      bounds: (ps) => this.d.retry("list offsets", () => partitionBounds(this.d.admin(), ps)),
      reachable: (ps) =>
        listOffsets(this.d.admin(), ps, "earliest", "read_uncommitted", 3000).then(
          () => true,
          () => false,
        ),
    };
    const token = this.#nextLookup++;
    const starts = await resolveStartOffsets(source, partitions, {
      log: this.d.log,
      taskTimeoutMs: this.d.options.taskTimeoutMs,
      stopRequested: () => this.d.stopRequested(),
      knownCommitted: (partition) => this.d.committer.committedOffsets.get(partition),
      policyOf: (topic) => this.d.topology.offsetResetOf(topic),
      onWaiting: (waiting) => {
        if (waiting.length > 0) this.#offsetLookups.set(token, waiting);
        else this.#offsetLookups.delete(token);
        this.d.metrics?.workerReady.set(this.d.ready() ? 1 : 0);
      },
    });
    for (const s of starts)
      if (s.decision.kind !== "committed")
        this.d.metrics?.offsetResets.inc({ topic: s.topic, reason: s.decision.kind });
    this.d.committer.noteStarts(starts);
    return starts;
  }

  // ---- rebalancing --------------------------------------------------------------------------------------------

  onRebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const consumer = extras(this.d.consumer());
    const cooperative = consumer.rebalanceProtocol() === "COOPERATIVE";
    const lost = consumer.assignmentLost();
    // The assign/unassign call must happen even when handling failed: librdkafka waits for it, and a consumer
    // that never gets it cannot leave the group (the worker would hang on shutdown instead of failing).
    // Incremental assignments are answered after the work below, with explicit offsets, as eager ones: answering
    // at once (assigning at the log end, paused, and seeking each partition when its task opened) let librdkafka
    // skip records — in a rebalance benchmark run a partition's consumption jumped from the end of its backlog to the
    // records fetched from that log-end position (140 offsets never processed, their offsets committed). Until that
    // is understood, the member's other partitions wait for the new ones' stable offsets and restores again.
    const work = async () => {
      if (err.code === ErrorCode.ASSIGN_PARTITIONS) {
        this.d.metrics?.rebalances.inc({ kind: "assigned" });
        this.restoring++;
        let starts: StartOffset[] = [];
        try {
          if (!this.d.failed()) starts = await this.#assign(assignment);
        } finally {
          this.restoring--;
          const offsetOf = new Map(starts.map((s) => [tpKey(s.topic, s.partition), s.offset]));
          const explicit = assignment.map((tp) => {
            const offset = offsetOf.get(tpKey(tp.topic, tp.partition));
            return offset === undefined ? tp : { ...tp, offset };
          });
          if (cooperative) consumer.incrementalAssign(explicit);
          else this.d.consumer().assign(explicit);
          this.#pauseIncomplete(assignment);
        }
        this.assignedOnce = true;
      } else if (err.code === ErrorCode.REVOKE_PARTITIONS) {
        this.d.metrics?.rebalances.inc({ kind: lost ? "lost" : "revoked" });
        let remainders: TopicPartition[] = [];
        try {
          if (!this.d.failed()) remainders = await this.d.exclusive(() => this.#revoke(assignment, lost));
        } finally {
          if (cooperative) consumer.incrementalUnassign(assignment);
          else this.d.consumer().unassign();
        }
        // Partitions of closed tasks that stay assigned: paused until their task is whole again.
        this.#pauseIncomplete(remainders);
      } else {
        this.d.log.error("rebalance error", { error: describeKafkaError(err) });
      }
      this.d.assignmentChanged();
    };
    this.chain = this.chain.then(work).catch((e: unknown) => {
      if (e instanceof StopRequestedError) {
        // A stop interrupted a restore or a wait for stable offsets: the tasks were never opened, nothing of
        // theirs was processed or committed; the next owner starts them from Kafka.
        this.d.log.info("rebalance handling interrupted by the stop", { reason: errorMessage(e) });
        return;
      }
      this.d.fail(e);
      this.d.log.error("rebalance handling failed", { error: errorMessage(e) });
    });
  }

  /**
   * New tasks restore their stores outside the processing lock, so the tasks this worker already runs keep
   * processing meanwhile (LMDB writes are synchronous, so restore batches and commits never interleave).
   */
  async #assign(assignment: TopicPartition[]): Promise<StartOffset[]> {
    const { byTask, resumed } = await this.d.exclusive(() =>
      this.#wholeTasks(this.d.tasks.newTasks(assignment)),
    );
    // Committed offsets first, stable, as Kafka Streams does before it plans restores: once they are stable, the
    // transaction that last wrote these tasks' changelogs together with these offsets is decided. Partitions of
    // incomplete tasks get explicit offsets too (librdkafka must not look them up and reset them), and partitions
    // assigned earlier that complete a task are started again from theirs.
    const starts = await this.#startOffsets([...assignment, ...resumed]);
    for (const s of starts) this.#startedAt.set(tpKey(s.topic, s.partition), s.offset);
    // Each task resumes at the stream time it committed (the largest over its partitions).
    const startOf = new Map(starts.map((s) => [tpKey(s.topic, s.partition), s]));
    for (const { sub, partition, tps } of byTask.values()) {
      const times = tps
        .map((tp) => startOf.get(tpKey(tp.topic, tp.partition))?.streamTime)
        .filter((t): t is number => t !== undefined);
      if (times.length > 0) this.d.tasks.committedStreamTime.set(taskId(sub, partition), Math.max(...times));
      else this.d.tasks.committedStreamTime.delete(taskId(sub, partition));
    }
    // A table restored from its source topic needs where its source partition starts, even when that partition
    // comes in another assignment than the task's first partitions (an incremental assignor).
    const missing = [...byTask.values()].flatMap(({ sub, partition }) =>
      this.d.topology.subtopologies[sub]!.stores.flatMap((store) => {
        const topic = this.d.topology.stores.get(store)?.sourceTopic;
        return topic !== undefined && !startOf.has(tpKey(topic, partition)) ? [{ topic, partition }] : [];
      }),
    );
    for (const s of await this.#startOffsets(missing)) startOf.set(tpKey(s.topic, s.partition), s);
    const sourceStart = (topic: string, partition: number) => startOf.get(tpKey(topic, partition))?.offset;
    for (const { sub, partition } of byTask.values())
      await this.d.restorer.restoreTask(sub, partition, sourceStart);
    await this.d.exclusive(async () => {
      for (const { sub, partition, tps } of byTask.values()) this.d.tasks.open(sub, partition, tps);
      // Held, paused, while their task waited for the rest of its partitions: from their start offset, in the step
      // that opens their task, so that the loop never consumes them from anywhere else. (The newly assigned ones
      // get their start offsets in the assignment itself, after this.)
      await this.#positionAndResume(
        resumed.map((tp) => ({ ...tp, offset: startOf.get(tpKey(tp.topic, tp.partition))!.offset })),
      );
    });
    this.d.log.info("partitions start", {
      offsets: starts.map((s) => `${s.topic}/${s.partition}@${s.offset}`),
    });
    return starts.filter((s) => assignment.some((a) => a.topic === s.topic && a.partition === s.partition));
  }

  /**
   * Seek assigned, paused partitions to their start offsets and resume them (#seekEach; one whose fetcher is stopped
   * is resumed by its re-assignment).
   */
  async #positionAndResume(tpos: TopicPartitionOffset[]): Promise<void> {
    const sought = await this.#seekEach(
      tpos,
      (t, err) =>
        `could not start ${t.topic}/${t.partition} at offset ${t.offset}: ${describeKafkaError(err)}`,
    );
    if (sought.length > 0) this.d.consumer().resume(sought);
  }

  /**
   * Of the tasks an assignment touches, those this worker now holds every input partition of (to open), with the
   * partitions of theirs it already held (waiting, paused); the others wait in #incomplete.
   */
  #wholeTasks(byTask: ReturnType<TaskManager["newTasks"]>): {
    byTask: ReturnType<TaskManager["newTasks"]>;
    resumed: TopicPartition[];
  } {
    const whole: ReturnType<TaskManager["newTasks"]> = new Map();
    const resumed: TopicPartition[] = [];
    for (const [id, t] of byTask) {
      const waiting = this.#incomplete.get(id);
      const tps = [...(waiting?.held ?? []), ...t.tps];
      const missing = this.#missing(t.sub, t.partition, tps);
      if (missing.length === 0) {
        this.#incomplete.delete(id);
        whole.set(id, { ...t, tps });
        resumed.push(...(waiting?.held ?? []));
        if (waiting)
          this.d.log.info("task whole again: its input partitions are all assigned here", {
            task: id,
            waitedMs: Date.now() - waiting.since,
          });
      } else {
        this.#waitForRest(
          { id, sub: t.sub, partition: t.partition, held: tps, missing, since: waiting?.since ?? Date.now() },
          "task waits for the rest of its input partitions (assigned elsewhere or not yet)",
        );
      }
    }
    return { byTask: whole, resumed };
  }

  /** A task waits, incomplete, for the rest of its input partitions; logged with `why`. */
  #waitForRest(task: IncompleteTask, why: string): void {
    this.#incomplete.set(task.id, task);
    this.d.log.info(why, {
      task: task.id,
      held: task.held.map((p) => tpKey(p.topic, p.partition)),
      missing: task.missing,
    });
  }

  /** Input partitions of task (sub, partition) not among `held`. */
  #missing(sub: number, partition: number, held: TopicPartition[]): string[] {
    return this.d.topology.subtopologies[sub]!.sourceTopics.filter(
      (topic) => !held.some((h) => h.topic === topic && h.partition === partition),
    ).map((topic) => tpKey(topic, partition));
  }

  /** Pause the assigned partitions that belong to incomplete tasks: nothing is fetched for a task that is not open. */
  #pauseIncomplete(partitions: TopicPartition[]): void {
    const waiting = partitions.filter((tp) => {
      const sub = this.d.topology.subtopologyOf(tp.topic);
      return sub !== undefined && this.#incomplete.has(taskId(sub.id, tp.partition));
    });
    if (waiting.length === 0) return;
    try {
      this.d.consumer().pause(waiting.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
    } catch (err) {
      // Not assigned after all (the worker is failing): nothing is fetched for them either way.
      this.d.log.debug("pausing partitions of incomplete tasks failed", { error: errorMessage(err) });
    }
  }

  /**
   * Close the tasks revoked partitions belong to. Returns the partitions of those tasks that stay assigned (an
   * incremental revoke can take part of a task): their task now waits, incomplete, for them to be whole again.
   */
  async #revoke(assignment: TopicPartition[], lost: boolean): Promise<TopicPartition[]> {
    const affected = this.d.tasks.tasks.tasksOf(assignment);
    this.d.log.info(lost ? "partitions lost" : "partitions revoked", {
      partitions: assignment.map((p) => tpKey(p.topic, p.partition)),
      tasks: [...affected].map((a) => a.task.id),
    });
    this.#releaseIncomplete(assignment);
    let closed: Iterable<ActiveTask>;
    if (lost) {
      // Another worker may own these already: commit nothing. The transaction spans every task, so all rewind.
      for (const a of affected) this.d.tasks.close(a, "discard");
      this.#forgetMetrics(assignment, affected);
      closed = affected;
      if (this.d.committer.txnOpen || this.d.tasks.positions.size > 0) await this.abortAndRewind();
    } else {
      // The tasks close after this commit: checkpoint their stores, so whoever runs them next restores nothing.
      this.d.committer.requestCheckpoint();
      await this.d.commit();
      // Looked up again: a failed commit aborts and reopens every task, and the objects found above are gone.
      const closing = this.d.tasks.tasks.tasksOf(assignment);
      for (const a of closing) this.d.tasks.close(a, "committed");
      this.#forgetMetrics(assignment, closing);
      closed = closing;
    }
    const revoked = new Set(assignment.map((p) => tpKey(p.topic, p.partition)));
    const remainders: TopicPartition[] = [];
    for (const a of closed) {
      const kept = a.partitions.filter((p) => !revoked.has(tpKey(p.topic, p.partition)));
      if (kept.length === 0) continue;
      const { id, subtopology, partition } = a.task;
      const missing = this.#missing(subtopology.id, partition, kept);
      this.#waitForRest(
        { id, sub: subtopology.id, partition, held: kept, missing, since: Date.now() },
        "task closed with part of its input partitions still assigned: it waits for the rest",
      );
      remainders.push(...kept);
    }
    return remainders;
  }

  /** Revoked partitions leave the incomplete tasks that held them; a task holding none is forgotten. */
  #releaseIncomplete(revoked: TopicPartition[]): void {
    for (const [id, t] of this.#incomplete) {
      const held = t.held.filter(
        (h) => !revoked.some((r) => r.topic === h.topic && r.partition === h.partition),
      );
      if (held.length === t.held.length) continue;
      if (held.length === 0) this.#incomplete.delete(id);
      else this.#incomplete.set(id, { ...t, held, missing: this.#missing(t.sub, t.partition, held) });
    }
  }

  /** Partitions and stores that moved away: their series go, so dashboards do not show stale lag and sizes. */
  #forgetMetrics(partitions: TopicPartition[], tasks: Iterable<ActiveTask>): void {
    const metrics = this.d.metrics;
    if (!metrics) return;
    for (const tp of partitions) forgetTopicPartition(metrics, tp.topic, tp.partition);
    for (const a of tasks)
      for (const store of a.task.subtopology.stores) forgetStorePartition(metrics, store, a.task.partition);
  }
}
