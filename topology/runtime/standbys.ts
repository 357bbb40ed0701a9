/**
 * Standby replicas (Kafka Streams' `num.standby.replicas`): warm copies of other workers' store partitions, kept by
 * tailing their changelogs (read_committed) into this worker's LMDB with checkpoints, exactly as a restore writes
 * them. When a partition moves here and this worker kept its standby, the restore that precedes processing starts at
 * the standby's checkpoint and reads only the tail.
 *
 * Which worker keeps which standby: librdkafka cannot run Kafka Streams' assignor, which places active tasks next to
 * their standbys. weir chooses standbys on its own, deterministically, from the group as the broker describes it:
 * for every task, the members other than its active owner ranked by rendezvous hashing (a hash of member and task),
 * the first `standbyReplicas` of them keep it. Every worker computes the same answer, re-computed every few seconds
 * and after every rebalance. The cost: the group's assignor does not know about standbys, so a partition may move
 * to a worker without its standby (then it is restored in full, as without standbys); with standbys on every other
 * worker (`standbyReplicas` = workers - 1) any new owner has one.
 *
 * Not kept warm: stores restored from their source topic (a table whose changelog is its input: their restore ends
 * at the group's committed offset, which a standby does not follow) and global tables (every worker has them).
 */
import { createHash } from "node:crypto";
import { decideRestore, type StateBackend } from "../../state/index.js";
import { changelogTopic } from "../builder.js";
import {
  ErrorCode,
  Kafka,
  RdKafka,
  connect,
  consumeBatch,
  describeKafkaError,
  disconnect,
  extras,
  messageKey,
  partitionBounds,
  sleep,
  tpKey,
  type IAdminClient,
  type KafkaConsumer,
  type LibrdKafkaError,
} from "../kafka.js";
import { taskId } from "./task.js";
import { clientConfig, restoreConsumerConfig, type ClientContext } from "./clients.js";
import { holderOf, memberKey, type GroupView } from "./members.js";

export interface StandbyDeps {
  ctx: ClientContext;
  store: () => StateBackend;
  admin: () => IAdminClient;
  /** The group's members and their assignments, as the broker describes them. */
  group: () => Promise<GroupView>;
  /** Partitions per sub-topology (known once the worker has prepared its topics). */
  partitionsOf: () => Map<number, number>;
  /** Task ids active on this worker now. */
  activeTasks: () => Set<string>;
  /** This worker among the group's members: its group.instance.id, else its consumer's client.id. */
  memberKey: string;
  stopRequested: () => boolean;
}

interface Kept {
  sub: number;
  partition: number;
  /** Changelog topic-partitions of the task's kept stores → store. */
  changelogs: Map<string, { store: string; topic: string; partition: number }>;
}

/** How often the standby set is re-computed from the group's description. */
const RECONCILE_MS = 3000;

export class StandbyReplicas {
  readonly #kept = new Map<string, Kept>();
  /**
   * Tasks this worker restores or runs (released for that): never kept as standbys until the broker says another
   * member owns them. The task manager lists a task only once its restore is done; this covers the restore.
   */
  readonly #claimed = new Set<string>();
  /** Changelog tpKey → store, of every kept task. */
  readonly #byChangelog = new Map<string, { store: string; partition: number }>();
  #consumer: KafkaConsumer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #reconciling: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly d: StandbyDeps) {}

  get replicas(): number {
    return this.d.ctx.options.standbyReplicas;
  }

  /** The task ids this worker keeps standbys of. */
  get tasks(): string[] {
    return [...this.#kept.keys()].sort();
  }

  async start(): Promise<void> {
    if (this.replicas <= 0) return;
    const consumer: KafkaConsumer = new Kafka.KafkaConsumer(
      {
        ...restoreConsumerConfig(this.d.ctx),
        ...clientConfig(this.d.ctx, "standby"),
        [RdKafka.groupId]: `${this.d.ctx.topology.appId}-standby`,
        [RdKafka.fetchWaitMaxMs]: 100,
        // A tail, not a bulk restore: a moderate prefetch (the restore consumer's is sized for throughput).
        [RdKafka.queuedMinMessages]: 10_000,
        [RdKafka.queuedMaxMessagesKbytes]: 65_536,
        ...this.d.ctx.options.kafka,
        [RdKafka.enableAutoCommit]: false,
        [RdKafka.isolationLevel]: "read_committed",
        [RdKafka.autoOffsetReset]: "error",
      } as never,
      {},
    );
    consumer.setDefaultConsumeTimeout(200);
    await connect(consumer);
    this.#consumer = consumer;
    this.#timer = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.#timer.unref();
    this.#loop = this.#tail();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#loop?.catch(() => {});
    await this.#reconciling?.catch(() => {});
    if (this.#consumer) await disconnect(this.#consumer);
    this.#consumer = undefined;
  }

  /**
   * Stop keeping a task's standby: before this worker restores the task to process it (the restore takes over from
   * the standby's checkpoint), or when the task's standby moves elsewhere. Synchronous: no standby write for the task
   * happens after it returns.
   */
  release(sub: number, partition: number, why = "its task is active here now"): void {
    const id = taskId(sub, partition);
    if (why === "its task is active here now") this.#claimed.add(id);
    const kept = this.#kept.get(id);
    if (!kept) return;
    this.#kept.delete(id);
    for (const key of kept.changelogs.keys()) this.#byChangelog.delete(key);
    const tps = [...kept.changelogs.values()].map(({ topic, partition: p }) => ({ topic, partition: p }));
    try {
      if (this.#consumer) extras(this.#consumer).incrementalUnassign(tps);
    } catch (err) {
      this.d.ctx.log.warn("standby unassign failed", { task: id, error: describeKafkaError(err) });
    }
    for (const { store } of kept.changelogs.values())
      this.d.ctx.metrics?.standbyLag.remove({ store, partition: String(partition) });
    this.d.ctx.log.info("standby released", { task: id, reason: why });
  }

  /**
   * A key's value in the standby copy this worker keeps of a store partition (`?stale=ok` queries): the bytes, or
   * null when absent; undefined when this worker keeps no standby of that partition. As fresh as the standby's lag.
   */
  read(store: string, partition: number, key: Buffer): Buffer | null | undefined {
    const sub = this.d.ctx.topology.subtopologies.find((s) => s.stores.includes(store));
    const kept = sub && this.#kept.get(taskId(sub.id, partition));
    if (!kept || ![...kept.changelogs.values()].some((c) => c.store === store)) return undefined;
    return this.d.store().open(store, partition).get(key) ?? null;
  }

  /** Re-compute which standbys this worker keeps, and start or release the difference. */
  reconcile(): Promise<void> {
    if (this.replicas <= 0 || this.#stopped || !this.#consumer) return Promise.resolve();
    this.#reconciling ??= this.#reconcile()
      .catch((err: unknown) =>
        this.d.ctx.log.warn("standby placement not updated; trying again shortly", {
          error: describeKafkaError(err),
        }),
      )
      .finally(() => (this.#reconciling = undefined));
    return this.#reconciling;
  }

  async #reconcile(): Promise<void> {
    const group = await this.d.group();
    // While the group moves partitions, keep what is kept: the placement is decided on a settled group.
    if (!group.stable) return;
    const wanted = standbyTasks(
      this.d.ctx.topology,
      this.d.partitionsOf(),
      group,
      this.d.memberKey,
      this.replicas,
    );
    const active = this.d.activeTasks();
    // A claimed task the broker now places on another member, and that no longer runs here, may be kept again.
    for (const id of [...this.#claimed])
      if (!active.has(id) && !ownedBy(this.d.ctx.topology, group, id, this.d.memberKey))
        this.#claimed.delete(id);
    for (const id of [...this.#kept.keys()])
      if (!wanted.has(id)) {
        const k = this.#kept.get(id)!;
        this.release(k.sub, k.partition, "placed on another worker");
      }
    for (const [id, { sub, partition }] of wanted) {
      if (this.#kept.has(id) || active.has(id) || this.#claimed.has(id) || this.#stopped) continue;
      await this.#keep(sub, partition);
    }
  }

  /** Start keeping a task's standby: each store planned as a restore is, then its changelog tailed from there. */
  async #keep(sub: number, partition: number): Promise<void> {
    const { topology } = this.d.ctx;
    const stores = standbyStores(topology, topology.subtopologies[sub]!);
    if (stores.length === 0) return;
    const id = taskId(sub, partition);
    const kept: Kept = { sub, partition, changelogs: new Map() };
    const assign: Array<{ topic: string; partition: number; offset: number }> = [];
    const tps = stores.map((store) => ({ topic: changelogTopic(topology.appId, store), partition }));
    const bounds = await partitionBounds(this.d.admin(), tps);
    // The task may have become active here (its restore begun) while the offsets were asked for.
    if (this.#claimed.has(id) || this.d.activeTasks().has(id) || this.#stopped) return;
    for (const store of stores) {
      const topic = changelogTopic(topology.appId, store);
      const backend = this.d.store().open(store, partition);
      const low = bounds.start.get(tpKey(topic, partition))!;
      const high = bounds.end.get(tpKey(topic, partition))!;
      const checkpoint = backend.checkpoint();
      const plan = decideRestore({ checkpoint, lowWatermark: low, highWatermark: high });
      let from: number;
      if (plan.action === "up-to-date") from = checkpoint === undefined ? low : checkpoint + 1;
      else {
        // As the restorer: data without a checkpoint cannot be trusted, and a plan to rebuild starts empty.
        if (
          plan.action === "wipe-and-rebuild" ||
          (checkpoint === undefined && backend.approximateCount() > 0)
        )
          this.d.store().wipe(store, partition);
        from = plan.fromOffset;
      }
      kept.changelogs.set(tpKey(topic, partition), { store, topic, partition });
      assign.push({ topic, partition, offset: from });
      this.d.ctx.log.info("standby started", {
        task: id,
        store,
        partition,
        fromOffset: from,
        endOffset: high,
      });
    }
    this.#kept.set(id, kept);
    for (const [key, { store }] of kept.changelogs) this.#byChangelog.set(key, { store, partition });
    extras(this.#consumer!).incrementalAssign(assign);
  }

  /** Apply what the kept changelogs bring, each batch with its checkpoints in one LMDB transaction. */
  async #tail(): Promise<void> {
    let lastLag = 0;
    let failures = 0;
    while (!this.#stopped && !this.d.stopRequested()) {
      const consumer = this.#consumer!;
      if (this.#byChangelog.size === 0) {
        await sleep(200);
        continue;
      }
      let messages;
      try {
        messages = await consumeBatch(consumer, 5000);
        failures = 0;
      } catch (err) {
        if ((err as LibrdKafkaError)?.code === ErrorCode.AUTO_OFFSET_RESET) {
          // Changelog records deleted before this standby read them: its copy cannot be completed. Drop every
          // standby (their stores are wiped when kept again: the plan sees the gap) and place them again.
          this.d.ctx.log.warn("standby position out of range; placing standbys again", {
            error: describeKafkaError(err),
          });
          for (const k of [...this.#kept.values()]) this.release(k.sub, k.partition, "position out of range");
          continue;
        }
        if (failures++ % 50 === 0)
          this.d.ctx.log.warn("standby consume failed; retrying", { error: describeKafkaError(err) });
        await sleep(Math.min(100 * failures, 2000));
        continue;
      }
      // Messages of a task released while the batch was fetched are dropped: the restore owns its stores now.
      const batches = new Map<
        string,
        {
          store: string;
          partition: number;
          writes: Array<readonly [Buffer, Buffer | null]>;
          checkpoint: number;
        }
      >();
      for (const m of messages) {
        const key = tpKey(m.topic, m.partition);
        const target = this.#byChangelog.get(key);
        if (!target) continue;
        let batch = batches.get(key);
        if (!batch) batches.set(key, (batch = { ...target, writes: [], checkpoint: -1 }));
        const k = messageKey(m);
        if (k !== null) batch.writes.push([k, m.value ?? null]);
        batch.checkpoint = m.offset;
      }
      if (batches.size > 0) this.d.store().apply([...batches.values()].filter((b) => b.checkpoint >= 0));
      if (Date.now() - lastLag >= 2000) {
        lastLag = Date.now();
        this.#publishLag(consumer);
      }
    }
  }

  /** Records behind each kept changelog's end, from the client's cached watermarks and its position. */
  #publishLag(consumer: KafkaConsumer): void {
    const metrics = this.d.ctx.metrics;
    if (!metrics) return;
    for (const [key, { store, partition }] of this.#byChangelog) {
      const [topic] = key.split(/\/(?=\d+$)/);
      try {
        const { highOffset } = consumer.getWatermarkOffsets(topic!, partition);
        const [pos] = consumer.position([{ topic: topic!, partition }]);
        if (highOffset >= 0 && pos && pos.offset >= 0)
          metrics.standbyLag.set(
            { store, partition: String(partition) },
            Math.max(0, highOffset - pos.offset),
          );
      } catch {
        // not fetched yet
      }
    }
  }
}

/**
 * The tasks `me` keeps standbys of: for every task with changelogged stores, the members other than its active
 * owner ranked by a hash of (member, task), the first `replicas` of them. A pure function of the group's description,
 * so every worker computes the same placement.
 */
export function standbyTasks(
  topology: ClientContext["topology"],
  partitionsOf: Map<number, number>,
  group: GroupView,
  me: string,
  replicas: number,
): Map<string, { sub: number; partition: number }> {
  const wanted = new Map<string, { sub: number; partition: number }>();
  const members = [...new Set(group.members.map(memberKey))];
  for (const sub of topology.subtopologies) {
    if (standbyStores(topology, sub).length === 0) continue;
    for (let partition = 0; partition < (partitionsOf.get(sub.id) ?? 0); partition++) {
      const owner = holderOf(group, sub, partition);
      const ownerKey = owner ? memberKey(owner) : undefined;
      const id = taskId(sub.id, partition);
      const ranked = members
        .filter((m) => m !== ownerKey)
        .map((m) => ({ m, score: rendezvous(m, id) }))
        .sort((a, b) => (a.score < b.score ? 1 : a.score > b.score ? -1 : a.m < b.m ? -1 : 1))
        .slice(0, replicas)
        .map((r) => r.m);
      if (ranked.includes(me)) wanted.set(id, { sub: sub.id, partition });
    }
  }
  return wanted;
}

/** Whether the broker's assignment places task `id` on member `me`. */
function ownedBy(topology: ClientContext["topology"], group: GroupView, id: string, me: string): boolean {
  const [sub, partition] = id.split("_").map(Number) as [number, number];
  const subtopology = topology.subtopologies[sub];
  const holder = subtopology && holderOf(group, subtopology, partition);
  return holder !== undefined && memberKey(holder) === me;
}

/** A sub-topology's stores that standbys keep: changelogged, not restored from a source topic, not global. */
function standbyStores(topology: ClientContext["topology"], sub: { stores: readonly string[] }): string[] {
  return sub.stores.filter((s) => {
    const def = topology.stores.get(s)!;
    return def.changelog && def.sourceTopic === undefined && def.globalTopic === undefined;
  });
}

function rendezvous(member: string, task: string): string {
  return createHash("sha256").update(`${member}\u0000${task}`).digest("hex");
}
