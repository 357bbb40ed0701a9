/**
 * Record headers, name → value (Kafka's record headers). Header values are UTF-8 strings in weir's envelope;
 * binary headers are decoded as UTF-8.
 *
 * @example
 * ```ts
 * import type { Emit, Headers } from "weir";
 *
 * const headers: Headers = { "trace-id": "4bf92f3577b34da6", source: "checkout" };
 * const out: Emit<string, number> = { key: "order-1", value: 42, headers };
 * ```
 */
export type Headers = Record<string, string>;

/**
 * The record envelope processors see (never librdkafka's message type): decoded key and value, event time,
 * headers, and where the input record came from — what Kafka Streams' `Record` and `RecordContext` give a
 * processor together.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, type StreamRecord } from "weir";
 *
 * type Order = { customer: string; amount: number };
 * const isLarge = (r: StreamRecord<string, Order>) => r.value.amount > 1000;
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<Order>() })
 *   .filter("large-orders", isLarge)
 *   .peek("log", (r) => console.log(`${r.topic}/${r.partition}@${r.offset}`, r.key, r.timestamp));
 * ```
 */
export interface StreamRecord<K = unknown, V = unknown> {
  /** The decoded key (null for a record without a key). */
  readonly key: K;
  /** The decoded value (null for a tombstone). */
  readonly value: V;
  /** Event time, epoch milliseconds. */
  readonly timestamp: number;
  /** The record's headers. */
  readonly headers: Headers;
  /** Where the input record that caused this one came from. */
  readonly topic: string;
  /** The partition of the input record that caused this one. */
  readonly partition: number;
  /** The offset of the input record that caused this one. */
  readonly offset: number;
}

/**
 * What a processor emits: key and value, optionally a new timestamp and headers. Missing fields are taken from
 * the input record being processed.
 *
 * @example
 * ```ts
 * import { map } from "rxjs";
 * import type { Emit, ProcessorFactory } from "weir";
 *
 * const stamp: ProcessorFactory<string, number, string, number> = () =>
 *   map((r): Emit<string, number> => ({ key: r.key, value: r.value * 2, headers: { ...r.headers, doubled: "1" } }));
 * ```
 */
export interface Emit<K = unknown, V = unknown> {
  /** The output's key. */
  key: K;
  /** The output's value (null: a tombstone). */
  value: V;
  /** The output's event time, epoch ms. @default the input record's timestamp */
  timestamp?: number;
  /** The output's headers. @default the input record's headers */
  headers?: Headers;
}

/**
 * A record as it comes off or goes to Kafka: bytes, with its coordinates. What the test driver's
 * {@link TopologyTestDriver.records} and {@link TopologyTestDriver.deadLetters} return.
 *
 * @example
 * ```ts
 * import { DeadLetterHeader, type RawRecord } from "weir";
 *
 * function describeDeadLetter(r: RawRecord): string {
 *   const error = r.headers[DeadLetterHeader.errorClass];
 *   return `${error} for ${r.headers[DeadLetterHeader.topic]}: ${r.value?.toString("utf8")}`;
 * }
 * ```
 */
export interface RawRecord {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The offset within the partition. */
  offset: number;
  /** The key's bytes, or null. */
  key: Buffer | null;
  /** The value's bytes, or null (a tombstone). */
  value: Buffer | null;
  /** The record's timestamp, epoch ms. */
  timestamp: number;
  /** The record's headers. */
  headers: Headers;
}

/**
 * A record to produce: bytes, a topic and optionally a partition. Partition undefined = the producer's partitioner
 * (murmur2, as Kafka's Java clients).
 *
 * @example
 * ```ts
 * import type { OutgoingRecord } from "weir";
 *
 * const record: OutgoingRecord = {
 *   topic: "order-status",
 *   key: Buffer.from("order-1"),
 *   value: Buffer.from('"CONFIRMED"'),
 *   timestamp: Date.now(),
 *   headers: {},
 * };
 * ```
 */
export interface OutgoingRecord {
  /** The topic to write to. */
  topic: string;
  /** The partition; undefined lets the partitioner choose by key. */
  partition?: number;
  /** The key's bytes, or null. */
  key: Buffer | null;
  /** The value's bytes, or null (a tombstone). */
  value: Buffer | null;
  /** The record's timestamp, epoch ms. */
  timestamp: number;
  /** The record's headers. */
  headers: Headers;
}
