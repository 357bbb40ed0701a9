/**
 * The Kafka side of `weir generate`, `weir verify` and `weir demo`: produce a workload with delivery reports, read a
 * topic to its end (read_committed), and delete/create the application's topics.
 */
import { hostname } from "node:os";
import {
  ErrorCode,
  Kafka,
  RdKafka,
  connect,
  createAdmin,
  disconnect,
  ensureTopics,
  baseClientConfig,
  partitionCounts,
  produceInOrder,
  topicEndOffsets,
  toHeaders,
  type KafkaConfig,
  type Message,
  type Producer,
  type RecordToProduce,
  type TopicSpec,
} from "../topology/kafka.js";
import type { Headers } from "../topology/index.js";
import type { WorkloadRecord } from "../processors/workload.js";

const clientConfig = (brokers: string, role: string, extra: KafkaConfig = {}): KafkaConfig =>
  baseClientConfig(brokers, `weir-${role}-${hostname()}-${process.pid}`, extra);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Partition counts of existing topics. */
export async function topicPartitions(
  brokers: string,
  kafka: KafkaConfig = {},
): Promise<Map<string, number>> {
  const producer = new Kafka.Producer(clientConfig(brokers, "metadata", kafka) as never);
  await connect(producer);
  try {
    return await partitionCounts(producer);
  } finally {
    await disconnect(producer);
  }
}

/**
 * Produce records in order with an idempotent producer (murmur2_random: Kafka's Java partitioning, so keys land
 * where the workers expect) and wait for every delivery report. `onProgress(delivered)` is called as reports arrive.
 */
export async function produceRecords(
  brokers: string,
  records: readonly WorkloadRecord[],
  options: { kafka?: KafkaConfig; onProgress?: (delivered: number) => void; timeoutMs?: number } = {},
): Promise<void> {
  const producer = await workloadProducer(brokers, options.kafka);
  try {
    await produceInOrder(producer, records.length, (i) => toProduce(records[i]!), {
      timeoutMs: options.timeoutMs,
      onProgress: options.onProgress,
    });
  } finally {
    producer.setPollInterval(0);
    await disconnect(producer);
  }
}

/** A workload record as the producer takes it. */
export function toProduce(r: WorkloadRecord): RecordToProduce {
  return {
    topic: r.topic,
    partition: r.partition,
    key: r.key === null ? null : Buffer.from(r.key),
    value: r.value,
    timestamp: r.timestamp,
  };
}

/**
 * The workload's producer, connected and polling: idempotent, acks=all, murmur2_random (Kafka's Java partitioning,
 * so keys land where the workers expect). Disconnect it when done.
 */
export async function workloadProducer(brokers: string, kafka: KafkaConfig = {}): Promise<Producer> {
  const producer: Producer = new Kafka.Producer(
    clientConfig(brokers, "generate", {
      [RdKafka.enableIdempotence]: true,
      [RdKafka.acks]: "all",
      [RdKafka.partitioner]: "murmur2_random",
      [RdKafka.lingerMs]: 20,
      [RdKafka.batchNumMessages]: 10_000,
      [RdKafka.queueBufferingMaxMessages]: 200_000,
      [RdKafka.deliveryReports]: true,
      // Up to the broker's default record limit (1,048,588 with its overhead), above librdkafka's 1,000,000: bad
      // input includes a record weir's own producer may not copy whole.
      [RdKafka.messageMaxBytes]: 1_048_000,
      ...kafka,
    }) as never,
  );
  await connect(producer);
  producer.setPollInterval(20);
  return producer;
}

export interface ReadRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Headers;
}

/** End offsets (last stable offset: what a read_committed reader can reach) of every partition of a topic. */
export async function endOffsets(
  brokers: string,
  topic: string,
  partitions: number,
  kafka: KafkaConfig = {},
): Promise<Map<number, number>> {
  const admin = createAdmin(clientConfig(brokers, "admin", kafka));
  try {
    return await topicEndOffsets(admin, topic, partitions, "read_committed");
  } finally {
    admin.disconnect();
  }
}

/**
 * Every record of a topic, from the beginning to its end as of the call (read_committed: the last stable offset),
 * in partition then offset order. A topic that does not exist reads as empty.
 */
export async function readToEnd(
  brokers: string,
  topic: string,
  options: { kafka?: KafkaConfig; timeoutMs?: number } = {},
): Promise<ReadRecord[]> {
  const partitions = (await topicPartitions(brokers, options.kafka)).get(topic);
  if (partitions === undefined) return [];
  const ends = await endOffsets(brokers, topic, partitions, options.kafka);
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p));
  const records: ReadRecord[] = [];
  if (pending.size === 0) return records;
  const consumer = new Kafka.KafkaConsumer(
    clientConfig(brokers, "verify", {
      [RdKafka.groupId]: `weir-verify-${process.pid}-${Date.now()}`,
      [RdKafka.enableAutoCommit]: false,
      [RdKafka.isolationLevel]: "read_committed",
      [RdKafka.enablePartitionEof]: true,
      // Assigned from offset 0: if retention deleted the head, read what the topic still holds (the verifier then
      // reports what is missing) rather than librdkafka's default of jumping to the end.
      [RdKafka.autoOffsetReset]: "earliest",
      ...options.kafka,
    }) as never,
    {},
  );
  await connect(consumer);
  const onEof = (e: { topic: string; partition: number; offset: number }) => {
    if (e.topic === topic && e.offset >= (ends.get(e.partition) ?? 0)) pending.delete(e.partition);
  };
  consumer.on("partition.eof", onEof);
  try {
    consumer.assign([...ends.keys()].map((partition) => ({ topic, partition, offset: 0 })));
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    while (pending.size > 0) {
      if (Date.now() > deadline)
        throw new Error(
          `reading ${topic}: partitions ${[...pending].join(", ")} did not reach their end in time`,
        );
      const batch = await new Promise<Message[]>((resolve, reject) =>
        consumer.consume(5000, (err, messages) => (err ? reject(err) : resolve(messages ?? []))),
      );
      for (const m of batch) {
        const end = ends.get(m.partition) ?? 0;
        if (m.offset >= end) continue; // written after the read started
        records.push({
          partition: m.partition,
          offset: m.offset,
          key:
            m.key === undefined || m.key === null
              ? null
              : Buffer.isBuffer(m.key)
                ? m.key
                : Buffer.from(m.key),
          value: m.value ?? null,
          timestamp: m.timestamp ?? 0,
          headers: toHeaders(m.headers),
        });
        if (m.offset >= end - 1) pending.delete(m.partition);
      }
    }
  } finally {
    consumer.removeListener("partition.eof", onEof);
    await disconnect(consumer);
  }
  records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return records;
}

/** Delete topics (missing ones are fine) and wait until the cluster no longer lists them. */
export async function deleteTopics(
  brokers: string,
  topics: readonly string[],
  kafka: KafkaConfig = {},
): Promise<void> {
  const admin = createAdmin(clientConfig(brokers, "admin", kafka));
  try {
    const existing = await topicPartitions(brokers, kafka);
    const doomed = topics.filter((t) => existing.has(t));
    for (const topic of doomed)
      await new Promise<void>((resolve, reject) =>
        admin.deleteTopic(topic, 15_000, (err) =>
          err && err.code !== ErrorCode.UNKNOWN_TOPIC_OR_PART ? reject(err) : resolve(),
        ),
      );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const left = await new Promise<string[]>((resolve, reject) =>
        admin.listTopics({ timeout: 10_000 }, (err, list) => (err ? reject(err) : resolve(list))),
      );
      if (!doomed.some((t) => left.includes(t))) return;
      if (Date.now() > deadline)
        throw new Error(`topics still listed 30 s after deletion: ${doomed.join(", ")}`);
      await sleep(200);
    }
  } finally {
    admin.disconnect();
  }
}

/** Delete a consumer group (its committed offsets); a group that does not exist is fine. */
export async function deleteGroup(brokers: string, group: string, kafka: KafkaConfig = {}): Promise<void> {
  const admin = createAdmin(clientConfig(brokers, "admin", kafka));
  try {
    await new Promise<void>((resolve) => admin.deleteGroups([group], { timeout: 10_000 }, () => resolve()));
  } finally {
    admin.disconnect();
  }
}

/** Create topics that do not exist; retried while a deletion of the same name is still in progress. */
export async function createTopics(
  brokers: string,
  specs: TopicSpec[],
  kafka: KafkaConfig = {},
): Promise<void> {
  const admin = createAdmin(clientConfig(brokers, "admin", kafka));
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const existing = await topicPartitions(brokers, kafka);
        const result = await ensureTopics(admin, existing, specs);
        if (result.mismatched.length > 0)
          throw new Error(
            `topics exist with another partition count: ${result.mismatched.map((m) => `${m.name}=${m.partitions}`).join(", ")}`,
          );
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
    // Wait until the metadata shows every partition (a worker started right away checks the counts).
    for (;;) {
      const counts = await topicPartitions(brokers, kafka);
      if (specs.every((s) => counts.get(s.name) === s.partitions)) return;
      if (Date.now() > deadline) throw new Error("created topics did not appear in the metadata within 30 s");
      await sleep(200);
    }
  } finally {
    admin.disconnect();
  }
}
