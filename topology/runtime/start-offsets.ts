/**
 * Where an input partition starts is weir's decision, never a client default's (librdkafka's `auto.offset.reset`
 * decides nothing here: weir's input consumer runs with `error`).
 *
 * 1. The committed offset is looked up by weir, **stable** (KIP-447 `require_stable`, as the read_committed consumer
 *    does): while a transaction that holds an offset commit for the group is undecided, the broker answers
 *    UNSTABLE_OFFSET_COMMIT and librdkafka retries; weir waits, says so, stays not-ready, and gives up (fatal) only
 *    after the task timeout. It never falls back to a reset because of it.
 * 2. The partition is assigned **with that explicit offset**, so no later change of the assignment can send it back
 *    through librdkafka's own lookup (which, in the librdkafka 2.x bundled with @confluentinc/kafka-javascript,
 *    re-queues a partition whose lookup met an unstable offset while the assignment changed with an INVALID offset,
 *    and so starts it at `auto.offset.reset`).
 * 3. No committed offset at all: the source's `offsetReset` policy (Kafka Streams' `Consumed` reset policy).
 *    A committed offset outside the partition (records deleted by retention before they were processed, or a
 *    recreated topic): logged as an error and counted, then the same policy — or a stop under `none`.
 */
import type { OffsetResetPolicy } from "../builder.js";
import { OffsetError, StopRequestedError } from "../errors.js";
import { Offset, describeKafkaError, tpKey, type TopicPartition } from "../kafka.js";
import type { Logger } from "../log.js";

export type StartDecision =
  | { kind: "committed"; offset: number; reason: string }
  | { kind: "no-committed-offset"; offset: number; reason: string }
  | { kind: "offset-lost"; offset: number; reason: string };

export interface StartInput {
  topic: string;
  partition: number;
  /** The group's committed offset (next record to read), undefined when the group never committed one. */
  committed: number | undefined;
  /** First offset still in the partition. */
  logStart: number;
  /** End of the partition, read_uncommitted (high watermark). */
  logEnd: number;
  policy: OffsetResetPolicy;
}

const byPolicy = (policy: OffsetResetPolicy): number => (policy === "latest" ? Offset.END : Offset.BEGINNING);

/** The start offset of one input partition (logical BEGINNING/END for a policy), or an OffsetError under `none`. */
export function decideStartOffset(input: StartInput): StartDecision {
  const { topic, partition, committed, logStart, logEnd, policy } = input;
  const tp = tpKey(topic, partition);
  if (committed === undefined) {
    if (policy === "none")
      throw new OffsetError(
        `${tp} has no committed offset for this application and its source's offsetReset is "none": ` +
          `commit a start offset for the group (e.g. 'weir reset --to-earliest') or choose "earliest"/"latest"`,
        { topic, partition },
      );
    return {
      kind: "no-committed-offset",
      offset: byPolicy(policy),
      reason: `no committed offset: starting at the ${policy} offset (source policy "${policy}")`,
    };
  }
  if (committed >= logStart && committed <= logEnd)
    return { kind: "committed", offset: committed, reason: `committed offset ${committed}` };
  const why =
    committed < logStart
      ? `records ${committed} to ${logStart - 1} were deleted before this application processed them (retention)`
      : `the partition ends at ${logEnd}: the topic was recreated or truncated`;
  if (policy === "none")
    throw new OffsetError(
      `${tp}: committed offset ${committed} is outside the partition (${logStart} to ${logEnd}): ${why}; ` +
        `the source's offsetReset is "none", so the worker stops: reset the group's offsets explicitly`,
      { topic, partition, offset: committed },
    );
  return {
    kind: "offset-lost",
    offset: byPolicy(policy),
    reason:
      `committed offset ${committed} is outside the partition (${logStart} to ${logEnd}): ${why}; ` +
      `continuing at the ${policy} offset (source policy "${policy}")`,
  };
}

/** What the lookup needs from Kafka (the worker's consumer and admin client; fakes in unit tests). */
export interface OffsetSource {
  /** Stable committed offsets (OffsetFetch with require_stable); rejects on a timeout while they stay unstable. */
  committed(
    partitions: TopicPartition[],
    timeoutMs: number,
  ): Promise<Array<{ topic: string; partition: number; offset?: number; metadata?: string | null } | Error>>;
  /** First offset and read_uncommitted end offset of each partition, by `tpKey`. */
  bounds(partitions: TopicPartition[]): Promise<{ start: Map<string, number>; end: Map<string, number> }>;
  /**
   * Whether the brokers answer at all. A lookup that times out while they do is waiting for an undecided
   * transaction, and that wait is bounded by the task timeout; while they do not, it is an outage, waited out
   * without a bound (a passing fault, never fatal). Without a probe every failed attempt counts.
   */
  reachable?(partitions: TopicPartition[]): Promise<boolean>;
}

export interface LookupOptions {
  log: Logger;
  /** Give up (OffsetError, fatal) when the offsets stay unstable this long. */
  taskTimeoutMs: number;
  /** Each lookup attempt waits at most this long before it is logged and retried. */
  attemptTimeoutMs?: number;
  stopRequested: () => boolean;
  policyOf: (topic: string) => OffsetResetPolicy;
  /** Called with the partitions before the first lookup, and with [] when the lookup is over. */
  onWaiting?: (partitions: string[]) => void;
  /**
   * The offset this worker itself last committed for a partition (by `tpKey`), if it did. Kafka answering with
   * none, or a lower one, while the partition still holds the records up to it contradicts a commit that stood: the
   * answer is stale (a group coordinator that has just loaded, a broker just restarted), and taking it would
   * process those records again. The lookup is repeated instead, within the task timeout, then fails (OffsetError).
   */
  knownCommitted?: (partition: string) => number | undefined;
  /** Pause between lookups that contradicted `knownCommitted`. @default 1000 */
  recheckMs?: number;
  now?: () => number;
}

export interface StartOffset {
  topic: string;
  partition: number;
  offset: number;
  decision: StartDecision;
  /** The stream time of the task when it committed this offset (from the commit's metadata), if known. */
  streamTime?: number;
}

/**
 * The metadata weir commits with each offset: the task's stream time (Kafka Streams commits its partition time the
 * same way), so that a task resumed after a restart or a move has the stream time it had, and decides expiry (TTL
 * stores, window retention) as it would have without the interruption.
 */
export function encodeCommitMetadata(streamTime: number): string {
  return JSON.stringify({ streamTime });
}

/** The stream time in a commit's metadata; undefined for metadata weir did not write. */
export function decodeStreamTime(metadata: string | null | undefined): number | undefined {
  if (!metadata) return undefined;
  try {
    const parsed = JSON.parse(metadata) as { streamTime?: unknown };
    return typeof parsed?.streamTime === "number" && Number.isSafeInteger(parsed.streamTime)
      ? parsed.streamTime
      : undefined;
  } catch {
    return undefined;
  }
}

const key = (tp: { topic: string; partition: number }) => tpKey(tp.topic, tp.partition);

/**
 * Stable committed offsets of `partitions`, waited for while an undecided transaction holds an offset commit for
 * the group: librdkafka retries UNSTABLE_OFFSET_COMMIT inside one lookup until its timeout; weir logs each expired
 * attempt with the partitions and tries again until the task timeout.
 */
export async function fetchStableCommitted(
  source: OffsetSource,
  partitions: TopicPartition[],
  o: LookupOptions,
): Promise<Map<string, number | undefined>> {
  return (await fetchCommitted(source, partitions, o)).offsets;
}

async function fetchCommitted(
  source: OffsetSource,
  partitions: TopicPartition[],
  o: LookupOptions,
): Promise<{ offsets: Map<string, number | undefined>; metadata: Map<string, string> }> {
  const now = o.now ?? Date.now;
  const started = now();
  const attemptTimeoutMs = o.attemptTimeoutMs ?? 5000;
  const names = partitions.map(key);
  // Time spent waiting while the brokers answered: what the task timeout bounds.
  let waited = 0;
  o.onWaiting?.(names);
  try {
    for (let attempt = 1; ; attempt++) {
      if (o.stopRequested()) throw new StopRequestedError("stopped while looking up committed offsets");
      const attemptStarted = now();
      let problem: string;
      try {
        const result = await source.committed(partitions, attemptTimeoutMs);
        const failed = result.find((r): r is Error => r instanceof Error);
        if (!failed) {
          if (attempt > 1)
            o.log.info("committed offsets are stable; continuing", {
              partitions: names,
              waitedMs: now() - started,
            });
          const found = result as Array<{
            topic: string;
            partition: number;
            offset?: number;
            metadata?: string | null;
          }>;
          return {
            offsets: new Map(
              found.map((tp) => [key(tp), tp.offset !== undefined && tp.offset >= 0 ? tp.offset : undefined]),
            ),
            metadata: new Map(
              found.filter((tp) => typeof tp.metadata === "string").map((tp) => [key(tp), tp.metadata!]),
            ),
          };
        }
        problem = failed.message;
      } catch (err) {
        problem = describeKafkaError(err);
      }
      const reachable = source.reachable ? await source.reachable(partitions).catch(() => false) : true;
      if (reachable) waited += now() - attemptStarted;
      else {
        o.log.warn("committed offsets unavailable: the brokers do not answer; waiting for them", {
          partitions: names,
          attempt,
          error: problem,
        });
        continue;
      }
      if (waited >= o.taskTimeoutMs)
        throw new OffsetError(
          `committed offsets of ${names.join(", ")} stayed unavailable for ${Math.round(waited / 1000)} s (${problem}): ` +
            `a transaction holding an offset commit for this group was not decided within the task timeout ` +
            `(${o.taskTimeoutMs} ms), or the group coordinator is unreachable. List open transactions with ` +
            `'kafka-transactions.sh list' / 'describe'; the broker aborts them at their transaction timeout`,
          { topic: partitions[0]?.topic, partition: partitions[0]?.partition },
        );
      o.log.warn(
        "waiting for committed offsets: an undecided transaction holds an offset commit for these partitions " +
          "(or the group coordinator is unreachable); not processing them until it is decided",
        { partitions: names, attempt, waitedMs: now() - started, error: problem },
      );
    }
  } finally {
    o.onWaiting?.([]);
  }
}

/** Stable committed offsets, checked against the partitions' bounds, turned into explicit start offsets. */
export async function resolveStartOffsets(
  source: OffsetSource,
  partitions: TopicPartition[],
  o: LookupOptions,
): Promise<StartOffset[]> {
  if (partitions.length === 0) return [];
  const now = o.now ?? Date.now;
  const started = now();
  let committed: Map<string, number | undefined>, metadata: Map<string, string>;
  let starts: Map<string, number>, ends: Map<string, number>;
  for (let attempt = 1; ; attempt++) {
    ({ offsets: committed, metadata } = await fetchCommitted(source, partitions, o));
    ({ start: starts, end: ends } = await source.bounds(partitions));
    const stale = partitions.flatMap((tp) => {
      const k = key(tp);
      const known = o.knownCommitted?.(k);
      const answer = committed.get(k);
      const end = ends.get(k);
      return known !== undefined &&
        end !== undefined &&
        end >= known &&
        (answer === undefined || answer < known)
        ? [`${k}: Kafka says ${answer ?? "none"}, this worker committed ${known}`]
        : [];
    });
    if (stale.length === 0) break;
    if (now() - started >= o.taskTimeoutMs)
      throw new OffsetError(
        `committed offsets contradict what this worker committed for ${Math.round((now() - started) / 1000)} s ` +
          `(${stale.join("; ")}): the group's committed offsets went back. Not resetting: restart the worker ` +
          `once the group coordinator answers consistently, or reset the group explicitly`,
        { topic: partitions[0]?.topic, partition: partitions[0]?.partition },
      );
    o.log.warn("committed offsets lower than this worker committed: a stale answer; asking again", {
      partitions: stale,
      attempt,
    });
    await new Promise((r) => setTimeout(r, o.recheckMs ?? 1000));
    if (o.stopRequested()) throw new StopRequestedError("stopped while looking up committed offsets");
  }
  return partitions.map((tp) => {
    const k = key(tp);
    const decision = decideStartOffset({
      topic: tp.topic,
      partition: tp.partition,
      committed: committed.get(k),
      logStart: starts.get(k) ?? 0,
      logEnd: ends.get(k) ?? Number.MAX_SAFE_INTEGER,
      policy: o.policyOf(tp.topic),
    });
    if (decision.kind === "offset-lost")
      o.log.error("committed offset lost: not resetting silently", { partition: k, reason: decision.reason });
    else if (decision.kind === "no-committed-offset")
      o.log.info("no committed offset", { partition: k, reason: decision.reason });
    const streamTime = decision.kind === "committed" ? decodeStreamTime(metadata.get(k)) : undefined;
    return {
      topic: tp.topic,
      partition: tp.partition,
      offset: decision.offset,
      decision,
      ...(streamTime !== undefined ? { streamTime } : {}),
    };
  });
}
