/** Header values are UTF-8 strings in weir's envelope; binary headers are decoded as UTF-8. */
export type Headers = Record<string, string>;

/** The record envelope processors see (never librdkafka's message type). */
export interface StreamRecord<K = unknown, V = unknown> {
  readonly key: K;
  readonly value: V;
  /** Event time, epoch milliseconds. */
  readonly timestamp: number;
  readonly headers: Headers;
  /** Where the input record that caused this one came from. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** What a processor emits: key and value, optionally a new timestamp and headers. Missing fields are taken from
 *  the input record being processed. */
export interface Emit<K = unknown, V = unknown> {
  key: K;
  value: V;
  timestamp?: number;
  headers?: Headers;
}

/** A record as it comes off or goes to Kafka: bytes. */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Headers;
}

/** A record to produce. partition undefined = the producer's partitioner (murmur2, as Kafka's Java clients). */
export interface OutgoingRecord {
  topic: string;
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Headers;
}
