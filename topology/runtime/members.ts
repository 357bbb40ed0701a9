/**
 * Routed interactive queries: which worker holds a store partition, and where it answers.
 *
 * Ownership comes from the broker (DescribeGroups: each member's current assignment), never from what workers say
 * of themselves, so a query is routed by the same assignment the group processes with. What the broker does not
 * know is where a member answers HTTP: each worker writes `{ workerId, url, clientId, groupInstanceId }` to the
 * compacted `<app>-members` topic when it starts (Kafka Streams carries `application.server` in the group's
 * subscription metadata instead; librdkafka offers no way to set that metadata). A member is matched to its record
 * by its group.instance.id (static membership) or its consumer's client.id.
 */
import type { SubTopology } from "../builder.js";
import {
  Kafka,
  RdKafka,
  consumeBatch,
  connect,
  disconnect,
  flush,
  withDeadline,
  watermarks,
  type IAdminClient,
  type KafkaConsumer,
  type Producer,
} from "../kafka.js";
import { clientConfig, type ClientContext } from "./clients.js";

/** A worker's entry in the members topic. */
export interface MemberRecord {
  workerId: string;
  /** Where its HTTP server answers (`/state/...`). */
  url: string;
  /** Its group consumer's client.id and group.instance.id, to find it among the group's members. */
  clientId: string;
  groupInstanceId?: string;
  /** When it wrote this, epoch ms. */
  at: number;
}

/**
 * Where a store partition is, as {@link Worker.ownerOf} answers: on a worker (its id and the URL it advertised), or
 * not known for now — `rebalancing` while the group moves partitions (ask again shortly), `unknown` when the worker
 * holding it advertised no URL.
 *
 * @example
 * ```ts
 * import type { PartitionOwner } from "weir";
 *
 * function describeOwner(o: PartitionOwner): string {
 *   return o.kind === "owner" ? `worker ${o.workerId} at ${o.url}` : `not known (${o.reason})`;
 * }
 * ```
 */
export type PartitionOwner =
  | {
      /** A worker holds it. */
      kind: "owner";
      /** That worker's id. */
      workerId: string;
      /** Where it answers queries. */
      url: string;
    }
  | {
      /** The group is moving partitions: ask again shortly. */
      kind: "rebalancing";
      /** What the group is doing. */
      reason: string;
    }
  | {
      /** The worker holding it advertised no URL. */
      kind: "unknown";
      /** Which member that is. */
      reason: string;
    };

/** librdkafka's ConsumerGroupStates.STABLE. */
const GROUP_STABLE = 3;
/** How long a DescribeGroups answer and the members topic's content are reused. */
const CACHE_MS = 1000;

/** Write this worker's entry to the members topic (a short-lived idempotent producer: the worker's own may be transactional). */
export async function publishMember(ctx: ClientContext, record: MemberRecord): Promise<void> {
  const producer: Producer = new Kafka.Producer({
    ...clientConfig(ctx, "members"),
    [RdKafka.enableIdempotence]: true,
    [RdKafka.acks]: "all",
    [RdKafka.allowAutoCreateTopics]: false,
  } as never);
  await connect(producer);
  try {
    producer.produce(
      ctx.topology.membersTopic,
      0,
      Buffer.from(JSON.stringify(record)),
      Buffer.from(record.workerId),
    );
    await flush(producer, 10_000);
  } finally {
    await disconnect(producer);
  }
}

/** Answers "who holds partition p of this sub-topology, and at which URL", from the broker and the members topic. */
export class QueryRouter {
  readonly #group = new Cached(() => this.#describeGroup());
  readonly #members = new Cached(() => this.#readMembers());

  constructor(
    private readonly ctx: ClientContext,
    private readonly admin: () => IAdminClient | undefined,
  ) {}

  /** The group as the broker describes it now (cached for a second): its members and what each holds. */
  group(): Promise<GroupView> {
    return this.#group.get();
  }

  async ownerOf(sub: SubTopology, partition: number): Promise<PartitionOwner> {
    const group = await this.group();
    if (!group.stable) return { kind: "rebalancing", reason: `the group is ${group.state}` };
    const member = holderOf(group, sub, partition);
    if (!member) return { kind: "rebalancing", reason: `no member holds partition ${partition} yet` };
    let record = match(await this.#members.get(), member);
    // A worker that joined since the last read: read again once.
    if (!record) record = match(await this.#members.get(true), member);
    if (!record)
      return {
        kind: "unknown",
        reason: `the member holding partition ${partition} (${member.groupInstanceId ?? member.clientId}) advertises no URL`,
      };
    return { kind: "owner", workerId: record.workerId, url: record.url };
  }

  async #describeGroup(): Promise<GroupView> {
    const admin = this.admin();
    if (!admin) throw new Error("the worker is not connected to Kafka yet");
    const appId = this.ctx.topology.appId;
    const result = await withDeadline(
      new Promise<Parameters<DescribeCallback>[1]>((resolve, reject) =>
        describe(admin, appId, (err, r) => (err ? reject(err) : resolve(r))),
      ),
      10_000,
    );
    const group = result.groups.find((g) => g.groupId === appId);
    if (!group) return { stable: false, state: "unknown", members: [] };
    const members = group.members.map((m) => ({
      clientId: m.clientId,
      groupInstanceId: m.groupInstanceId ?? undefined,
      partitions: m.assignment?.topicPartitions ?? [],
      // KIP-848: a member whose target differs from what it holds is still moving partitions.
      moving:
        m.targetAssignment !== undefined &&
        JSON.stringify(sortTps(m.targetAssignment.topicPartitions)) !==
          JSON.stringify(sortTps(m.assignment?.topicPartitions ?? [])),
    }));
    const stable = group.state === GROUP_STABLE && !members.some((m) => m.moving);
    return { stable, state: stateName(group.state), members };
  }

  async #readMembers(): Promise<MemberRecord[]> {
    const topic = this.ctx.topology.membersTopic;
    const consumer: KafkaConsumer = new Kafka.KafkaConsumer(
      {
        ...clientConfig(this.ctx, "members-reader"),
        [RdKafka.groupId]: `${this.ctx.topology.appId}-members-reader`,
        [RdKafka.enableAutoCommit]: false,
        [RdKafka.autoOffsetReset]: "earliest",
      } as never,
      {},
    );
    await connect(consumer);
    try {
      const { lowOffset, highOffset } = await watermarks(consumer, topic, 0);
      const latest = new Map<string, MemberRecord>();
      if (highOffset <= lowOffset) return [];
      consumer.assign([{ topic, partition: 0, offset: lowOffset }]);
      consumer.setDefaultConsumeTimeout(200);
      const deadline = Date.now() + 10_000;
      for (let next = lowOffset; next < highOffset && Date.now() < deadline;) {
        for (const m of await consumeBatch(consumer, 1000)) {
          next = m.offset + 1;
          if (!m.key) continue;
          if (m.value === null || m.value === undefined) {
            latest.delete(m.key.toString());
            continue;
          }
          try {
            latest.set(m.key.toString(), JSON.parse(m.value.toString()) as MemberRecord);
          } catch {
            // not a member record: ignored
          }
        }
      }
      return [...latest.values()];
    } finally {
      await disconnect(consumer);
    }
  }
}

export interface GroupView {
  stable: boolean;
  state: string;
  members: Array<{
    clientId: string;
    groupInstanceId: string | undefined;
    partitions: Array<{ topic: string; partition: number }>;
  }>;
}

/** A value loaded at most once a second; a failed load is not kept. */
class Cached<T> {
  #entry: { at: number; value: Promise<T> } | undefined;
  constructor(private readonly load: () => Promise<T>) {}

  get(fresh = false): Promise<T> {
    const now = Date.now();
    if (!fresh && this.#entry && now - this.#entry.at < CACHE_MS) return this.#entry.value;
    const entry = { at: now, value: this.load() };
    entry.value.catch(() => {
      if (this.#entry === entry) this.#entry = undefined;
    });
    this.#entry = entry;
    return entry.value;
  }
}

/** How a group member is known: its group.instance.id (static membership), else its consumer's client.id. */
export const memberKey = (m: GroupView["members"][number]): string => m.groupInstanceId ?? m.clientId;

/** The member the broker's assignment gives partition `partition` of a sub-topology's source topics to. */
export function holderOf(
  group: GroupView,
  sub: Pick<SubTopology, "sourceTopics">,
  partition: number,
): GroupView["members"][number] | undefined {
  const topics = new Set(sub.sourceTopics);
  return group.members.find((m) =>
    m.partitions.some((tp) => topics.has(tp.topic) && tp.partition === partition),
  );
}

/** The newest record of the worker that is this group member. */
function match(records: MemberRecord[], member: GroupView["members"][number]): MemberRecord | undefined {
  const candidates = records.filter((r) =>
    member.groupInstanceId !== undefined
      ? r.groupInstanceId === member.groupInstanceId
      : r.groupInstanceId === undefined && r.clientId === member.clientId,
  );
  return candidates.sort((a, b) => b.at - a.at)[0];
}

function sortTps(tps: Array<{ topic: string; partition: number }>): string[] {
  return tps.map((tp) => `${tp.topic}/${tp.partition}`).sort();
}

const STATES = ["unknown", "preparing a rebalance", "completing a rebalance", "stable", "dead", "empty"];
const stateName = (state: number): string => STATES[state] ?? `in state ${state}`;

type DescribeCallback = (
  err: unknown,
  result: {
    groups: Array<{
      groupId: string;
      state: number;
      members: Array<{
        clientId: string;
        groupInstanceId?: string | null;
        assignment?: { topicPartitions: Array<{ topic: string; partition: number }> };
        targetAssignment?: { topicPartitions: Array<{ topic: string; partition: number }> };
      }>;
    }>;
  },
) => void;

function describe(admin: IAdminClient, group: string, cb: DescribeCallback): void {
  (
    admin as unknown as { describeGroups: (g: string[], o: object, cb: DescribeCallback) => void }
  ).describeGroups([group], { timeout: 10_000 }, cb);
}
