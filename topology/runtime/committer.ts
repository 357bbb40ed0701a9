/**
 * One commit (exactly-once or at-least-once), in the order exactly-once depends on: every task's buffered store
 * writes are sent to their changelogs inside the open transaction (the last write per key, as Kafka Streams' record
 * cache), the consumed offsets are added to it, Kafka commits it, and **only then** are the writes applied to LMDB
 * together with each store-partition's changelog offset, in one LMDB transaction: local state is never ahead of
 * Kafka. A failed commit is either fatal (fenced, at-least-once) or aborts: the caller rewinds.
 *
 * Checkpoints. A store-partition's checkpoint says up to which changelog offset its local state holds everything
 * committed; a restore replays the changelog after it. Kafka Streams takes it from the producer's callback for each
 * changelog record. weir does not ask for a report per record (record-collector.ts: the largest cost of the main
 * thread), so it asks the changelog partitions' last stable offsets instead, before a commit's changelog records and
 * offsets are sent, and the answer becomes the checkpoint only if that commit stands (#dueCheckpoints says why that
 * offset and not the end, and why before). Nothing else writes a task's changelog partition: a fenced zombie's
 * records are aborted. It asks at most every CHECKPOINT_INTERVAL_MS, and on every commit that precedes closing tasks
 * (a revoke, a stop), followed then by a second commit of the same offsets with nothing else in it, so the checkpoint
 * covers the first one's records too and a clean restart restores nothing. Between, a
 * store's checkpoint lags its state: after a crash, the restore replays up to that interval's changelog records
 * again, which only rewrites values the state already has (a checkpoint behind the state is safe; one ahead of it
 * is what must never happen). Under exactly-once, Kafka Streams instead wipes a crashed task's state and restores
 * it all.
 */
import type { StateBackend } from "../../state/index.js";
import { OffsetError, ProducerFencedError, WeirError } from "../errors.js";
import { classify } from "../failures.js";
import {
  Txn,
  committed,
  sleep,
  describeKafkaError,
  flush,
  listOffsets,
  type IAdminClient,
  type KafkaConsumer,
  type LibrdKafkaError,
  type Producer,
  type TopicPartitionOffset,
  tpKey,
} from "../kafka.js";
import { changelogTopic } from "../builder.js";
import type { RecordCollector } from "./record-collector.js";
import type { TaskManager } from "./task-manager.js";
import { applyStaged, stageChangelogs, type StagedWrites } from "./task-stores.js";
import { encodeCommitMetadata, type StartOffset } from "./start-offsets.js";
import { armedFault, faultPoint } from "./test-faults.js";
import type { RuntimeContext } from "./context.js";
import type { Health } from "./health.js";

export interface CommitterDeps extends RuntimeContext {
  store: () => StateBackend;
  producer: () => Producer;
  consumer: () => KafkaConsumer;
  admin: () => IAdminClient | undefined;
  collector: RecordCollector;
  tasks: TaskManager;
  health: Health;
  stopRequested: () => boolean;
}

const REPARTITION_PURGE_INTERVAL_MS = 30_000;

/**
 * A transactional call that has not returned long after its own timeout: librdkafka lost it (its
 * sendOffsetsToTransaction waits forever when the group coordinator it cached is gone, confluentinc/librdkafka#5456
 * and #5511) and the producer accepts no other transactional call while it is pending. The worker replaces the
 * producer — the new one's initTransactions fences the old and makes Kafka decide the transaction — and finds out
 * from the group's committed offsets whether a commitTransaction that hung had stood (Committer.settleStuckCommit).
 */
export class TransactionCallStuckError extends WeirError {
  constructor(
    readonly call: string,
    /** The call was commitTransaction: the transaction may have been committed. */
    readonly mayHaveCommitted: boolean,
    /** The hung call; settles if librdkafka ever answers (then the old producer can be closed). */
    readonly pending: Promise<unknown>,
    afterMs: number,
  ) {
    super(
      `${call} did not return ${Math.round(afterMs / 1000)} s after it was made (its own timeout is far shorter): the ` +
        `Kafka client lost the call (confluentinc/librdkafka#5456, #5511)`,
    );
  }
}

interface UndecidedCommit {
  staged: ReturnType<typeof stageChangelogs>;
  offsets: TopicPartitionOffset[];
  started: bigint;
}

/** How often, at most, a commit checkpoints the stores it changed (see the top of this file). */
export const CHECKPOINT_INTERVAL_MS = 10_000;

interface Checkpoint {
  store: string;
  partition: number;
  /** The changelog offset the store-partition's state holds everything up to. */
  offset: number;
}

/** Checkpoint-only batches (no writes) for the checkpoints whose changelog partition this commit wrote nothing to. */
function checkpointOnly(
  checkpoints: Map<string, Checkpoint>,
  staged: readonly StagedWrites[],
): StagedWrites[] {
  const written = new Set(staged.map((s) => s.changelog));
  return [...checkpoints]
    .filter(([changelog]) => !written.has(changelog))
    .map(([changelog, c]) => ({ store: c.store, partition: c.partition, writes: [], changelog }));
}

/** A transactional call's retriable error: the request is still under way and the same call resumes it. */
function undecided(err: unknown): boolean {
  const e = err as Partial<LibrdKafkaError> | undefined;
  return !!e && typeof e === "object" && e.isRetriable === true && !e.isFatal && !e.isTxnRequiresAbort;
}

export class Committer {
  /** A Kafka transaction is open (exactly-once). */
  txnOpen = false;
  /** When the open (or last) transaction began. */
  txnStartedAt = 0;
  lastCommit = Date.now();
  /**
   * The offset this worker last committed per input partition (`tpKey`): what a later lookup of the group's
   * committed offsets must not go below (start-offsets.ts, knownCommitted).
   */
  readonly committedOffsets = new Map<string, number>();
  /**
   * The group's committed offset of each input partition (`tpKey`) as this worker knows it since the partition last
   * started here: the offset it started from, if it started from a committed one, then each offset this worker
   * committed. What a transaction without new offsets sends again (#ownershipOffsets). Not committedOffsets: that
   * one outlives a partition's moves (another worker may have committed past it since).
   */
  readonly #sinceStart = new Map<string, number>();
  /** Committed offsets of repartition topics not yet purged. */
  readonly #purgeable = new Map<string, TopicPartitionOffset>();
  #lastPurge = Date.now();
  readonly #repartitionTopics: Set<string>;
  /** A commitTransaction that hung (TransactionCallStuckError): what to apply should it turn out to have stood. */
  #hungCommit: UndecidedCommit | undefined;
  /** Changelog partitions (`tpKey`) of store-partitions changed since their last checkpoint. */
  readonly #uncheckpointed = new Map<string, { store: string; partition: number }>();
  /** Internal changelog topics (a store whose changelog is its source topic is checkpointed from its offsets). */
  readonly #changelogTopics: Set<string>;
  #lastCheckpoint = Date.now();
  #checkpointRequested = false;

  constructor(private readonly d: CommitterDeps) {
    this.#repartitionTopics = new Set(
      d.topology.internalTopics.filter((t) => t.kind === "repartition").map((t) => t.name),
    );
    this.#changelogTopics = new Set(
      d.topology.internalTopics.filter((t) => t.kind === "changelog").map((t) => t.name),
    );
  }

  /** Where input partitions start: those that start from the group's committed offset remember it. */
  noteStarts(starts: readonly StartOffset[]): void {
    for (const s of starts)
      if (s.decision.kind === "committed") this.#sinceStart.set(tpKey(s.topic, s.partition), s.offset);
      else this.#sinceStart.delete(tpKey(s.topic, s.partition));
  }

  /** The next commit checkpoints every store-partition changed since its last checkpoint (before tasks close). */
  requestCheckpoint(): void {
    this.#checkpointRequested = true;
  }

  get #eos(): boolean {
    return this.d.options.guarantee === "exactly_once";
  }

  /** Commit interval passed, or too many records uncommitted. */
  due(): boolean {
    return (
      Date.now() - this.lastCommit >= this.d.options.commitIntervalMs ||
      this.d.tasks.uncommitted >= this.d.options.maxUncommittedRecords
    );
  }

  /** Under exactly-once, begin a transaction before records are processed (when there is anything to do). */
  async beginIfNeeded(): Promise<boolean> {
    if (!this.#eos || this.txnOpen) return true;
    if (!this.d.tasks.hasQueued() && !this.d.tasks.hasWallClockWork()) return false;
    this.d.health.step("beginTransaction");
    await Txn.begin(this.d.producer());
    this.txnOpen = true;
    this.txnStartedAt = Date.now();
    return true;
  }

  /**
   * Commit what was processed since the last commit. Throws what Kafka answered on failure; the caller decides
   * (onFailure) between stopping and abort-and-rewind.
   */
  async commit(): Promise<void> {
    const { tasks, collector } = this.d;
    const started = process.hrtime.bigint();
    // Each offset carries its task's stream time, which a task resuming from it starts with.
    const withStreamTime = (o: TopicPartitionOffset) => {
      const task = tasks.tasks.ofPartition(tpKey(o.topic, o.partition))?.task;
      return task ? { ...o, metadata: encodeCommitMetadata(task.streamTime) } : o;
    };
    let offsets = [...tasks.positions.values()].map(withStreamTime);
    if (offsets.length === 0 && collector.sinceCommit === 0 && !tasks.hasPendingWrites()) {
      // Nothing to commit. Tasks about to close (a revoke, a stop) still want their stores checkpointed, and a
      // checkpoint needs proof that this worker still owns the partitions: the offsets it committed last are
      // committed again, which the group coordinator takes only under this worker's generation.
      // Only for the tasks whose stores wait for a checkpoint (none when no store does).
      const waiting = new Set([...this.#uncheckpointed.values()].map((sp) => sp.partition));
      offsets = this.#checkpointRequested ? this.#ownershipOffsets(waiting).map(withStreamTime) : [];
      if (offsets.length === 0) {
        // An open, empty transaction stays open for the next records. The broker has not seen it (begin is local
        // until a record or offset is added), so its age, which tells a broker's timeout abort from a twin's fence
        // (failures.ts, fatalProducerRemedy), starts again.
        this.lastCommit = Date.now();
        this.txnStartedAt = this.lastCommit;
        return;
      }
    } else if (offsets.length === 0 && this.#eos) {
      // Records to commit but no input offsets: a wall-clock punctuation's outputs and store writes. A transaction
      // without offsets is not checked against the group's generation: a zombie (a worker frozen past its session,
      // resumed) could commit its punctuation next to the new owner's. The offsets committed last go again, which the
      // group coordinator takes only under this worker's generation (a zombie's transaction is aborted). Only a
      // task that has neither committed nor started from a committed offset has none to send.
      offsets = this.#ownershipOffsets().map(withStreamTime);
    }
    if (this.#eos && !this.txnOpen) {
      this.d.health.step("beginTransaction");
      await Txn.begin(this.d.producer());
      this.txnOpen = true;
      this.txnStartedAt = Date.now();
    }
    // Checkpoints are asked for before this commit's changelog records and offsets go, and only with offsets: they
    // hold if the group coordinator takes these offsets under this worker's generation (a zombie's are refused, its
    // transaction aborted). See #dueCheckpoints.
    const closing = this.#checkpointRequested;
    const checkpoints = offsets.length > 0 ? await this.#dueCheckpoints() : undefined;
    const staged = stageChangelogs(
      this.d.topology,
      [...tasks.tasks.values()].map((a) => ({ partition: a.task.partition, stores: a.stores })),
      (r) => collector.send(r),
      Date.now(),
    );
    if (this.#eos) {
      if (offsets.length > 0) {
        await this.#untilDecided("sendOffsetsToTransaction", () =>
          this.#bounded(
            "sendOffsetsToTransaction",
            "stuck-send-offsets",
            this.d.options.transactionCallTimeoutMs,
            () =>
              Txn.sendOffsets(
                this.d.producer(),
                offsets,
                this.d.consumer(),
                this.d.options.transactionCallTimeoutMs,
              ),
          ),
        );
        await faultPoint(this.d.options.testFaultFile, "after-send-offsets");
      }
      try {
        await this.#untilDecided("commitTransaction", () =>
          this.#bounded("commitTransaction", "stuck-commit", this.d.options.transactionCallTimeoutMs, () =>
            Txn.commit(this.d.producer(), this.d.options.transactionCallTimeoutMs),
          ),
        );
      } catch (err) {
        if (err instanceof TransactionCallStuckError) this.#hungCommit = { staged, offsets, started };
        throw err;
      }
      this.txnOpen = false;
    } else {
      this.d.health.step("flushing the producer");
      // Every record is delivered or failed once the flush returns; a failure's report reaches the collector
      // within the loop turns settleDeliveries waits.
      await flush(this.d.producer(), 60_000);
      await collector.settleDeliveries();
      if (collector.deliveryError) throw collector.producerError(collector.deliveryError, "(flush)");
      this.d.health.step("committing offsets");
      if (offsets.length > 0) this.d.consumer().commitSync(offsets);
    }
    for (const s of staged)
      if (this.#changelogTopics.has(s.changelog.slice(0, s.changelog.lastIndexOf("/"))))
        this.#uncheckpointed.set(s.changelog, { store: s.store, partition: s.partition });
    this.#stood({ staged, offsets, started }, checkpoints);
    // Tasks about to close want a checkpoint that covers this commit's own changelog records as well: a second commit
    // of the same offsets, with nothing else in it, asks for the stable offsets before its offsets go, as above.
    if (closing && staged.some((s) => this.#uncheckpointed.has(s.changelog))) {
      this.#checkpointRequested = true;
      await this.commit();
    }
  }

  /**
   * For every input partition of this worker's tasks (of those with a task partition in `only`, if given), the
   * group's committed offset as this worker knows it since the partition started here: committing it again changes
   * nothing but proves ownership.
   */
  #ownershipOffsets(only?: ReadonlySet<number>): TopicPartitionOffset[] {
    const offsets: TopicPartitionOffset[] = [];
    for (const a of this.d.tasks.tasks.values()) {
      if (only && !only.has(a.task.partition)) continue;
      for (const tp of a.partitions) {
        const offset = this.#sinceStart.get(tpKey(tp.topic, tp.partition));
        if (offset !== undefined) offsets.push({ topic: tp.topic, partition: tp.partition, offset });
      }
    }
    return offsets;
  }

  /** After a commit stood: its store writes into LMDB with their checkpoints, and the bookkeeping of a commit. */
  #stood({ staged, offsets, started }: UndecidedCommit, checkpoints?: Map<string, Checkpoint>): void {
    const { tasks, collector } = this.d;
    // Source-topic changelogs: the last offset consumed (the committed position − 1).
    const consumed = new Map(offsets.map((o) => [tpKey(o.topic, o.partition), o.offset - 1]));
    applyStaged(
      this.d.store(),
      checkpoints ? [...staged, ...checkpointOnly(checkpoints, staged)] : staged,
      (changelog) => checkpoints?.get(changelog)?.offset ?? consumed.get(changelog),
    );
    const metrics = this.d.metrics;
    for (const o of offsets) {
      this.committedOffsets.set(tpKey(o.topic, o.partition), o.offset);
      this.#sinceStart.set(tpKey(o.topic, o.partition), o.offset);
      metrics?.committedOffset.set({ topic: o.topic, partition: String(o.partition) }, o.offset);
      if (this.#repartitionTopics.has(o.topic)) this.#purgeable.set(tpKey(o.topic, o.partition), o);
    }
    if (this.#purgeable.size > 0 && Date.now() - this.#lastPurge >= REPARTITION_PURGE_INTERVAL_MS)
      this.#purgeRepartitions();
    tasks.positions.clear();
    for (const a of tasks.tasks.values()) tasks.committedStreamTime.set(a.task.id, a.task.streamTime);
    tasks.uncommitted = 0;
    collector.sinceCommit = 0;
    this.lastCommit = Date.now();
    this.d.health.progressed();
    metrics?.transactions.inc({ outcome: "committed" });
    metrics?.commitDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /**
   * One transactional call, bounded: librdkafka's own timeout (`timeoutMs`) ends it with a retriable error, so a call
   * still pending at twice that plus 10 s was lost by the client (TransactionCallStuckError). The test fault
   * `fault` makes the call and withholds its answer.
   */
  async #bounded(call: string, fault: string, timeoutMs: number, run: () => Promise<void>): Promise<void> {
    const stuckAfterMs = 2 * timeoutMs + 10_000;
    let pending: Promise<void> = run();
    if (armedFault(this.d.options.testFaultFile, fault)) {
      const made = pending;
      pending = made.then(() => new Promise<void>(() => {}));
    }
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TransactionCallStuckError(
              call,
              call === "commitTransaction",
              pending.catch(() => undefined),
              stuckAfterMs,
            ),
          ),
        stuckAfterMs,
      );
    });
    try {
      await Promise.race([pending, stuck]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * After a hung transactional call the producer was replaced; its successor's initTransactions has made Kafka
   * decide the old transaction. A hung commitTransaction may have stood: the group's stable committed offsets say
   * (the transaction committed exactly the offsets it carried, atomically). Stood: its store writes are applied and
   * processing goes on from where it is ("committed"). Every offset older: the caller rewinds ("aborted"). Anything
   * else (offsets past the transaction's: another worker committed meanwhile; or a transaction without offsets,
   * which they cannot tell) is fatal: a restart restores the stores from their changelogs, which hold whatever Kafka
   * decided.
   */
  async settleStuckCommit(): Promise<"committed" | "aborted"> {
    const hung = this.#hungCommit;
    this.#hungCommit = undefined;
    if (!hung) return "aborted";
    if (hung.offsets.length === 0)
      throw new OffsetError(
        "a commitTransaction without input offsets hung and its outcome cannot be read from the group's offsets; " +
          "stopping so that a restart restores the stores from their changelogs",
      );
    const partitions = hung.offsets.map((o) => ({ topic: o.topic, partition: o.partition }));
    let answer: TopicPartitionOffset[] | undefined;
    for (let attempt = 1; answer === undefined; attempt++) {
      try {
        answer = await committed(this.d.consumer(), partitions, 10_000);
      } catch (err) {
        if (this.d.stopRequested()) throw err;
        this.d.log.warn("looking up committed offsets to settle a hung commit failed; retrying", {
          attempt,
          error: describeKafkaError(err),
        });
        await sleep(Math.min(1000 * attempt, 5000));
      }
    }
    const now = new Map(
      answer.map((r) => [tpKey(r.topic, r.partition), r.offset >= 0 ? r.offset : undefined]),
    );
    const at = hung.offsets.filter((o) => now.get(tpKey(o.topic, o.partition)) === o.offset);
    const before = hung.offsets.filter((o) => (now.get(tpKey(o.topic, o.partition)) ?? -1) < o.offset);
    if (at.length === hung.offsets.length) {
      this.txnOpen = false;
      this.#stood(hung);
      return "committed";
    }
    if (before.length === hung.offsets.length) return "aborted";
    throw new OffsetError(
      `after a hung commitTransaction the group's committed offsets are neither all the transaction's nor all older ` +
        `(${hung.offsets
          .map(
            (o) =>
              `${tpKey(o.topic, o.partition)}: sent ${o.offset}, committed ${now.get(tpKey(o.topic, o.partition)) ?? "none"}`,
          )
          .join("; ")}): another worker committed meanwhile. Stopping; a restart starts from Kafka's state`,
    );
  }

  /**
   * Checkpoints for the store-partitions changed since their last one, when a checkpoint is due (or was requested):
   * by changelog partition, the store-partition and its changelog's last stable offset − 1. Undefined when none is
   * due, or when the brokers do not answer (a later commit asks again; a checkpoint that lags is safe).
   *
   * The last stable offset, not the end: every transaction below it is decided, so the state holds everything
   * committed up to it. An undecided transaction on the changelog (a dead worker's, not yet aborted) stays above
   * the checkpoint, and a restore from it waits for Kafka's decision (restorer.ts, KAFKA-10167) instead of being
   * "up to date" past records that may still commit. Right after a commit the markers of this worker's own
   * transaction may not be written yet, so the stable offset can lag its records: the partition stays changed
   * until stable offset and end agree, and a checkpoint before tasks close waits for that up to half a second.
   *
   * Asked before the commit's changelog records and offsets are sent, and used only if that commit stands: the
   * group coordinator then took its offsets under this worker's generation, so when the offsets were asked for, no
   * other worker had been given the partition yet. Asked after the commit, the answer could include records of a
   * new owner that started in between (this worker frozen right after its commit stood, its session expired), and
   * a restore from that checkpoint would skip them. The price: a checkpoint lags its commit's own records.
   *
   * Only partitions of tasks this worker runs now: a store-partition whose task was lost may be written by another
   * worker, and its local state must not be checkpointed past what it holds.
   */
  async #dueCheckpoints(): Promise<Map<string, Checkpoint> | undefined> {
    const requested = this.#checkpointRequested;
    if (!requested && Date.now() - this.#lastCheckpoint < CHECKPOINT_INTERVAL_MS) return undefined;
    this.#checkpointRequested = false;
    this.#lastCheckpoint = Date.now();
    const owned = new Set<string>();
    for (const a of this.d.tasks.tasks.values())
      for (const store of a.stores.keys())
        owned.add(tpKey(changelogTopic(this.d.topology.appId, store), a.task.partition));
    for (const changelog of this.#uncheckpointed.keys())
      if (!owned.has(changelog)) this.#uncheckpointed.delete(changelog);
    const admin = this.d.admin();
    if (this.#uncheckpointed.size === 0 || !admin) return undefined;
    const changed = [...this.#uncheckpointed];
    const partitions = changed.map(([, sp]) => ({
      topic: changelogTopic(this.d.topology.appId, sp.store),
      partition: sp.partition,
    }));
    try {
      let stable: Map<string, number>;
      let end: Map<string, number>;
      for (let attempt = 1; ; attempt++) {
        [stable, end] = await Promise.all([
          listOffsets(admin, partitions, "latest", "read_committed", 5_000),
          listOffsets(admin, partitions, "latest", "read_uncommitted", 5_000),
        ]);
        const settled = changed.every(([changelog]) => stable.get(changelog) === end.get(changelog));
        if (settled || !requested || attempt >= 20) break;
        await sleep(25);
      }
      const checkpoints = new Map<string, Checkpoint>();
      for (const [changelog, sp] of changed) {
        const lso = stable.get(changelog);
        if (lso === undefined || lso <= 0) continue;
        checkpoints.set(changelog, { ...sp, offset: lso - 1 });
        if (lso === end.get(changelog)) this.#uncheckpointed.delete(changelog);
      }
      return checkpoints;
    } catch (err) {
      this.d.log.debug("checkpoint skipped: the changelogs' end offsets were not answered", {
        error: describeKafkaError(err),
        retryInMs: CHECKPOINT_INTERVAL_MS,
      });
      return undefined;
    }
  }

  /**
   * A transactional call that ends in a retriable error (it timed out: the brokers did not answer in time) has not
   * failed: librdkafka keeps the request going, the transaction's outcome is undecided — a commit may stand in
   * Kafka already — and the only call it accepts next is the same one again (an abort is refused as conflicting).
   * So the call is repeated, with back-off, the worker not ready ("commit-undecided"), until Kafka decides: it
   * stands (carry on, nothing is redone), it must be aborted or it is fatal (thrown: the caller's failure path).
   * Aborting instead, and rewinding, would process again what a commit that did stand already wrote.
   * A stop requested meanwhile ends the wait: the transaction stays undecided, and whoever owns the partitions next
   * waits for Kafka's decision before reading the committed offsets.
   */
  async #untilDecided(call: string, attempt: () => Promise<void>): Promise<void> {
    for (let n = 1; ; n++) {
      try {
        this.d.health.step(call);
        await attempt();
        if (n > 1) {
          this.d.health.clear("commit-undecided");
          this.d.log.info(`${call} completed after retrying`, { attempts: n });
        }
        return;
      } catch (err) {
        if (!undecided(err) || this.d.stopRequested()) {
          if (n > 1) this.d.health.clear("commit-undecided");
          throw err;
        }
        const retryInMs = Math.min(500 * n, 5000);
        this.d.health.raise(
          "commit-undecided",
          `${call} got no answer (${describeKafkaError(err)}); repeating it until Kafka decides the transaction`,
          { attempt: n, retryInMs },
        );
        await sleep(retryInMs);
      }
    }
  }

  /**
   * A failed begin or commit, classified once (topology/failures.ts): fatal — fenced, the producer failed for good,
   * authorization — is thrown with the reason; anything else is logged, counted against the worker's health, and
   * the caller aborts and rewinds to the committed offsets (under at-least-once, too: what was produced may be in
   * Kafka, the offsets are not committed, so the records since the last commit are processed again).
   */
  classifyFailure(err: unknown): void {
    if (classify(err) === "fatal")
      throw err instanceof WeirError
        ? err
        : new ProducerFencedError(
            `commit failed fatally: ${describeKafkaError(err)}; another worker with the same id or a newer group generation ` +
              `took over, or the producer failed. Nothing of the open transaction is committed; restart the worker.`,
            { cause: err },
          );
    this.d.health.commitFailed(describeKafkaError(err));
    this.d.log.warn(
      this.#eos
        ? "transaction failed; aborting and resuming from the committed offsets"
        : "commit failed; resuming from the committed offsets (records since the last commit are processed again)",
      { error: describeKafkaError(err) },
    );
  }

  /**
   * Abort the open transaction and forget what was produced in it. The caller discards the tasks' state. An abort
   * that times out (brokers unreachable) is retried with back-off until it stands — librdkafka resumes the pending
   * abort on the next call — and is never turned into a fatal error; only a fatal answer (fenced) is.
   */
  async abort(): Promise<void> {
    for (let attempt = 1; this.txnOpen; attempt++) {
      try {
        this.d.health.step("abortTransaction");
        await this.#bounded("abortTransaction", "stuck-abort", 30_000, () =>
          Txn.abort(this.d.producer(), 30_000),
        );
        this.txnOpen = false;
        if (attempt > 1) this.d.log.info("transaction aborted", { attempts: attempt });
      } catch (err) {
        if (err instanceof TransactionCallStuckError) throw err;
        if (classify(err) === "fatal")
          throw new ProducerFencedError(`abortTransaction failed: ${describeKafkaError(err)}`, {
            cause: err,
          });
        if (this.d.stopRequested()) {
          this.d.log.warn(
            "stopping with the transaction undecided: Kafka aborts it after transaction.timeout.ms",
            {
              error: describeKafkaError(err),
            },
          );
          return;
        }
        const delay = Math.min(1000 * attempt, 10_000);
        if (attempt === 1 || attempt % 10 === 0)
          this.d.log.warn("aborting the transaction failed; retrying (brokers unreachable?)", {
            attempt,
            retryInMs: delay,
            error: describeKafkaError(err),
          });
        await sleep(delay);
      }
    }
    await this.d.collector.settleDeliveries();
    this.#aborted();
  }

  /**
   * The producer is being replaced (its transaction was aborted by the broker, and it was fenced for it): forget
   * the open transaction and the old producer's outstanding deliveries.
   */
  dropTransaction(): void {
    this.txnOpen = false;
    this.#aborted();
  }

  /** After an abort (or a dropped transaction): count it and forget what the transaction produced. */
  #aborted(): void {
    this.d.metrics?.transactions.inc({ outcome: "aborted" });
    this.d.collector.deliveryError = undefined;
    this.d.collector.sinceCommit = 0;
    this.lastCommit = Date.now();
  }

  /** Repartition records are kept until consumed (retention -1); delete what this group has committed. */
  #purgeRepartitions(): void {
    const offsets = [...this.#purgeable.values()];
    this.#purgeable.clear();
    this.#lastPurge = Date.now();
    this.d.admin()?.deleteRecords(offsets, { timeout: 10_000 }, (err) => {
      if (err) this.d.log.warn("purging repartition topics failed", { error: describeKafkaError(err) });
    });
  }
}
