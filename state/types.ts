/**
 * The store contracts. Processors see only these interfaces; LMDB and memory implement them, and
 * changelogging, buffering and metrics are layers around them (see `state/index.ts`).
 */

/** Turns a value into bytes and back. Shared with the topology's serdes. */
export interface Serde<T> {
  readonly name: string;
  serialize(value: T): Buffer;
  /** Throws (any error) when the bytes cannot be decoded; the runtime turns that into a dead letter. */
  deserialize(bytes: Buffer): T;
}

export interface KeyValue<K, V> {
  key: K;
  value: V;
}

export interface StoreLifecycle {
  readonly name: string;
  /** Persist anything buffered. A no-op for stores that write through. */
  flush(): void;
  /** Release resources. Safe to call twice. */
  close(): void;
}

export interface RangeOptions<K> {
  /** Inclusive lower bound (in serialized byte order). */
  from?: K;
  /** Exclusive upper bound (in serialized byte order). */
  to?: K;
  /** Stop after this many entries. */
  limit?: number;
  reverse?: boolean;
}

export interface KeyValueStore<K, V> extends StoreLifecycle {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  delete(key: K): void;
  /** Entries in serialized-key byte order within [from, to). */
  range(options?: RangeOptions<K>): IterableIterator<KeyValue<K, V>>;
  /** Entries whose serialized key starts with the serialized prefix. */
  prefixScan(prefix: K, limit?: number): IterableIterator<KeyValue<K, V>>;
  /** Approximate number of entries (exact for the in-memory store). */
  approximateCount(): number;
}

export interface WindowedEntry<K, V> {
  key: K;
  /** Start of the window (or the event time) the value was stored under. */
  timestamp: number;
  value: V;
}

/**
 * Values by (key, timestamp). Entries older than `retentionMs` behind the newest timestamp seen are expired and
 * no longer returned; `expire()` removes them physically.
 */
export interface WindowStore<K, V> extends StoreLifecycle {
  readonly retentionMs: number;
  put(key: K, value: V, timestamp: number): void;
  /** The value stored for key at exactly this timestamp. */
  get(key: K, timestamp: number): V | undefined;
  delete(key: K, timestamp: number): void;
  /** Values for one key with timestamp in [from, to], in time order. */
  fetch(key: K, from: number, to: number): IterableIterator<WindowedEntry<K, V>>;
  /** All entries with timestamp in [from, to], in time order (across keys). */
  fetchAll(from: number, to: number): IterableIterator<WindowedEntry<K, V>>;
  /** Physically remove entries with timestamp < before. Returns how many were removed. */
  expire(before: number): number;
  approximateCount(): number;
}

export type StateStore = KeyValueStore<unknown, unknown> | WindowStore<unknown, unknown>;
