/**
 * What happens to a task's buffered stores at commit time — the same code for the worker and the test driver:
 * drain each buffer (the last write per key since the previous commit, as Kafka Streams' record cache), send those
 * writes to the store's changelog partition with wall-clock timestamps, and, once the commit stands, apply them to
 * the state backend with each store-partition's changelog offset (its checkpoint) in one transaction.
 */
import type { BufferedStore, StateBackend } from "../../state/index.js";
import { changelogTopic, type Topology } from "../builder.js";
import { tpKey } from "../kafka.js";
import type { OutgoingRecord } from "../record.js";
import { checkRecordSize } from "./record-collector.js";

export interface TaskStores {
  readonly partition: number;
  readonly stores: ReadonlyMap<string, BufferedStore>;
}

export interface StagedWrites {
  store: string;
  partition: number;
  writes: Array<readonly [Buffer, Buffer | null]>;
  /**
   * `<changelog topic>/<partition>`, to look up the offset its last record got; for a store whose changelog is its
   * source topic, `<source topic>/<partition>`, checkpointed at the last source offset the commit covers.
   */
  changelog: string;
}

/**
 * Drain every task's buffered writes and send them to the changelogs (stores declared without a changelog are
 * drained and applied, not sent). Timestamps are wall-clock time: a window changelog's time-based retention must not
 * drop fresh records of old event time (replays, late data).
 */
export function stageChangelogs(
  topology: Topology,
  tasks: Iterable<TaskStores>,
  send: (record: OutgoingRecord & { partition: number }) => void,
  now: number,
): StagedWrites[] {
  const staged: StagedWrites[] = [];
  for (const { partition, stores } of tasks)
    for (const [store, buffer] of stores) {
      if (buffer.pendingWrites === 0) continue;
      const writes = buffer.drain();
      const definition = topology.stores.get(store)!;
      const topic = changelogTopic(topology.appId, store);
      if (definition.changelog)
        for (const [key, value] of writes)
          send({ topic, partition, key, value, timestamp: now, headers: {} });
      // A store whose changelog is its source topic is checkpointed at the source offset the commit stores.
      staged.push({ store, partition, writes, changelog: tpKey(definition.sourceTopic ?? topic, partition) });
    }
  return staged;
}

/** After the commit stands: the staged writes and each store-partition's changelog offset, in one transaction. */
export function applyStaged(
  state: StateBackend,
  staged: StagedWrites[],
  checkpointOf: (changelogPartition: string) => number | undefined,
): void {
  if (staged.length === 0) return;
  state.apply(
    staged.map((b) => ({
      store: b.store,
      partition: b.partition,
      writes: b.writes,
      checkpoint: checkpointOf(b.changelog),
    })),
  );
}

/**
 * The check a store write passes before it is buffered: its changelog record must fit the producer's limit, or the
 * commit that sends it would fail for every record in the transaction. A write that cannot be changelogged throws a
 * RecordTooLargeError at the `put`, inside the processor, so the input record that caused it is dead-lettered (the
 * production handler) and the store keeps its previous value. Stores without a changelog are not checked.
 */
export function changelogSizeCheck(
  topology: Topology,
  store: string,
  limit: number,
): ((key: Buffer, value: Buffer | null) => void) | undefined {
  if (!topology.stores.get(store)?.changelog) return undefined;
  const topic = changelogTopic(topology.appId, store);
  return (key, value) => checkRecordSize(topic, key, value, undefined, limit);
}
