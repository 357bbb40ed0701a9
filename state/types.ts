/**
 * The store contracts. Processors see only these interfaces; LMDB and memory implement them, and
 * changelogging, buffering and metrics are layers around them (see `state/index.ts`).
 */

/**
 * Turns a value into bytes and back (Kafka's `Serde`). Shared with the topology's serdes: every `Serdes.*` of
 * `weir` is one.
 *
 * @example
 * ```ts
 * import type { Serde } from "weir/state";
 *
 * const bigint: Serde<bigint> = {
 *   name: "bigint",
 *   serialize: (v) => Buffer.from(v.toString()),
 *   deserialize: (b) => BigInt(b.toString("utf8")),
 * };
 * ```
 */
export interface Serde<T> {
  /** A short name for messages and descriptions, e.g. `json(order)`. */
  readonly name: string;
  /** The value's bytes. Throws when the value cannot be written. */
  serialize(value: T): Buffer;
  /** Throws (any error) when the bytes cannot be decoded; the runtime turns that into a dead letter. */
  deserialize(bytes: Buffer): T;
}

/**
 * A key and its value, as store scans return them (Kafka Streams' `KeyValue`).
 *
 * @example
 * ```ts
 * import type { KeyValue, KeyValueStore } from "weir/state";
 *
 * declare const stock: KeyValueStore<string, number>;
 * const low: KeyValue<string, number>[] = [...stock.range()].filter((kv) => kv.value < 5);
 * ```
 */
export interface KeyValue<K, V> {
  /** The key. */
  key: K;
  /** The value. */
  value: V;
}

/**
 * What every store has besides reads and writes (Kafka Streams' `StateStore`): a name, `flush` and `close`.
 *
 * @example
 * ```ts
 * import type { StoreLifecycle } from "weir/state";
 *
 * function closeAll(stores: StoreLifecycle[]): void {
 *   for (const s of stores) s.close();
 * }
 * ```
 */
export interface StoreLifecycle {
  /** The store's name. */
  readonly name: string;
  /** Persist anything buffered. A no-op for stores that write through. */
  flush(): void;
  /** Release resources. Safe to call twice. */
  close(): void;
}

/**
 * Bounds of a key-value store scan ({@link KeyValueStore.range}), compared in serialized byte order.
 *
 * @example
 * ```ts
 * import type { KeyValueStore, RangeOptions } from "weir/state";
 *
 * declare const orders: KeyValueStore<string, { amount: number }>;
 * const latestTen: RangeOptions<string> = { from: "2024-06-01", to: "2024-07-01", reverse: true, limit: 10 };
 * for (const { key, value } of orders.range(latestTen)) console.log(key, value.amount);
 * ```
 */
export interface RangeOptions<K> {
  /** Inclusive lower bound (in serialized byte order). */
  from?: K;
  /** Exclusive upper bound (in serialized byte order). */
  to?: K;
  /** Stop after this many entries. */
  limit?: number;
  /** Scan from the upper bound down. @default false */
  reverse?: boolean;
}

/**
 * A key-value store as processors see it (Kafka Streams' `KeyValueStore`): typed gets, puts, deletes and scans in
 * serialized-key byte order. Writes are buffered per task and committed with the task's Kafka transaction, so a
 * store never holds state Kafka did not commit. Get one from {@link ProcessorContext.keyValueStore}.
 *
 * @example
 * ```ts
 * import { map } from "rxjs";
 * import type { ProcessorFactory } from "weir";
 *
 * const reserve: ProcessorFactory<string, number, string, boolean> = (ctx) => {
 *   const stock = ctx.keyValueStore<string, number>("stock");
 *   return map((r) => {
 *     const left = (stock.get(r.key) ?? 0) - r.value;
 *     if (left < 0) return { key: r.key, value: false };
 *     if (left === 0) stock.delete(r.key);
 *     else stock.put(r.key, left);
 *     return { key: r.key, value: true };
 *   });
 * };
 * ```
 */
export interface KeyValueStore<K, V> extends StoreLifecycle {
  /** The key's value, or undefined. */
  get(key: K): V | undefined;
  /** Set the key's value. */
  put(key: K, value: V): void;
  /** Remove the key (a no-op if absent). */
  delete(key: K): void;
  /** Entries in serialized-key byte order within [from, to). */
  range(options?: RangeOptions<K>): IterableIterator<KeyValue<K, V>>;
  /** Entries whose serialized key starts with the serialized prefix. */
  prefixScan(prefix: K, limit?: number): IterableIterator<KeyValue<K, V>>;
  /** Approximate number of entries (exact for the in-memory store). */
  approximateCount(): number;
}

/**
 * A window store entry: a key, the timestamp it was stored under and the value.
 *
 * @example
 * ```ts
 * import type { WindowStore, WindowedEntry } from "weir/state";
 *
 * declare const logins: WindowStore<string, string>;
 * const lastHour: WindowedEntry<string, string>[] = [...logins.fetch("alice", Date.now() - 3_600_000, Date.now())];
 * ```
 */
export interface WindowedEntry<K, V> {
  /** The key. */
  key: K;
  /** Start of the window (or the event time) the value was stored under. */
  timestamp: number;
  /** The value. */
  value: V;
}

/**
 * Values by (key, timestamp). Entries older than `retentionMs` behind the newest timestamp seen are expired and
 * no longer returned; `expire()` removes them physically. Kafka Streams' `WindowStore`; get one from
 * {@link ProcessorContext.windowStore}.
 *
 * @example
 * ```ts
 * import { map } from "rxjs";
 * import type { ProcessorFactory } from "weir";
 *
 * // Flag a login when the same user logged in from another country within the store's retention.
 * const flagLogins: ProcessorFactory<string, { country: string }, string, boolean> = (ctx) => {
 *   const recent = ctx.windowStore<string, string>("recent-logins");
 *   return map((r) => {
 *     const seen = [...recent.fetch(r.key, r.timestamp - recent.retentionMs, r.timestamp)];
 *     recent.put(r.key, r.value.country, r.timestamp);
 *     return { key: r.key, value: seen.some((e) => e.value !== r.value.country) };
 *   });
 * };
 * ```
 */
export interface WindowStore<K, V> extends StoreLifecycle {
  /** How far behind the newest timestamp entries are kept, ms. */
  readonly retentionMs: number;
  /** Store the value under (key, timestamp); a put older than the retention is dropped. */
  put(key: K, value: V, timestamp: number): void;
  /** The value stored for key at exactly this timestamp. */
  get(key: K, timestamp: number): V | undefined;
  /** Remove the value under (key, timestamp). */
  delete(key: K, timestamp: number): void;
  /** Values for one key with timestamp in [from, to], in time order. */
  fetch(key: K, from: number, to: number): IterableIterator<WindowedEntry<K, V>>;
  /** All entries with timestamp in [from, to], in time order (across keys). */
  fetchAll(from: number, to: number): IterableIterator<WindowedEntry<K, V>>;
  /** Physically remove entries with timestamp < before. Returns how many were removed. */
  expire(before: number): number;
  /** Approximate number of entries. */
  approximateCount(): number;
}

/**
 * Any store a processor can hold: a key-value store or a window store.
 *
 * @example
 * ```ts
 * import type { StateStore } from "weir/state";
 *
 * const isWindowStore = (s: StateStore): boolean => "fetch" in s;
 * ```
 */
export type StateStore = KeyValueStore<unknown, unknown> | WindowStore<unknown, unknown>;
