/**
 * Topics before the worker joins its group: wait for input and output topics that do not exist yet (a worker
 * deployed before the job that creates them), refuse inputs that are not co-partitioned, create the internal topics (changelogs,
 * repartition topics) and the dead-letter topic, and refuse internal topics with another partition count.
 */
import type { Topology } from "../builder.js";
import { StateStoreError, StopRequestedError } from "../errors.js";
import { ensureTopics, partitionCounts, type IAdminClient, type Producer, sleep } from "../kafka.js";
import type { Logger } from "../log.js";

export interface InternalTopicsDeps {
  topology: Topology;
  log: Logger;
  producer: Producer;
  admin: IAdminClient;
  stopRequested: () => boolean;
  retry: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
}

/**
 * Returns the partition count of every sub-topology, and of every topic as the topology now finds it (inputs,
 * outputs, internal topics including the ones just created): what the worker's topic watch starts from.
 */
export async function prepareTopics(
  d: InternalTopicsDeps,
): Promise<{ partitionsOf: Map<number, number>; topicPartitions: Map<string, number> }> {
  const { topology } = d;
  const isInternal = (topic: string) => topology.internalTopics.some((t) => t.name === topic);
  let counts = await d.retry("metadata", () => partitionCounts(d.producer));
  for (let attempt = 1; ; attempt++) {
    // Outputs too: weir's producer never lets the broker auto-create a topic with its default partition count.
    const missing = [
      ...topology.inputTopics,
      ...topology.outputTopics,
      ...topology.globalStores.map((g) => g.topic),
    ].filter((t) => !counts.has(t));
    if (missing.length === 0) break;
    if (d.stopRequested()) throw new StopRequestedError("stopped while waiting for input and output topics");
    if (attempt === 1 || attempt % 30 === 0)
      d.log.warn("waiting for input and output topics to exist; create them with 'weir topics create'", {
        missing,
      });
    await sleep(1000);
    counts = await d.retry("metadata", () => partitionCounts(d.producer));
  }
  topology.checkPartitionCounts((t) => (isInternal(t) ? (counts.get(t) ?? -1) : counts.get(t)));
  const partitionsOf = topology.resolvePartitions((t) => (isInternal(t) ? undefined : counts.get(t)));
  const specs = [
    ...topology.internalTopics.map((t) => ({
      name: t.name,
      partitions: partitionsOf.get(t.partitionsOf)!,
      config: { ...t.config },
    })),
    { name: topology.deadLetterTopic, partitions: 1, config: {} },
    { name: topology.membersTopic, partitions: 1, config: { "cleanup.policy": "compact" } },
  ];
  const result = await ensureTopics(d.admin, counts, specs);
  const bad = result.mismatched.filter(
    (m) => m.name !== topology.deadLetterTopic && m.name !== topology.membersTopic,
  );
  if (bad.length > 0)
    throw new StateStoreError(
      `internal topics exist with the wrong partition count: ${bad.map((m) => `${m.name} has ${m.partitions}, needs ${m.required}`).join("; ")}. ` +
        `Their data is partitioned for another layout: run 'weir reset' to delete them, or fix the input topics' partition counts.`,
      { topic: bad[0]!.name },
    );
  if (result.created.length > 0) d.log.info("internal topics created", { topics: result.created });
  const topicPartitions = new Map(counts);
  for (const spec of specs)
    if (result.created.includes(spec.name)) topicPartitions.set(spec.name, spec.partitions);
  return { partitionsOf, topicPartitions };
}
