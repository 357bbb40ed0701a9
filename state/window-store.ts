/**
 * The typed window store: values by (key, timestamp) over a BufferedStore.
 *
 * Layout: composite key = serialized key ‖ 8-byte big-endian timestamp with the sign bit flipped (so byte order is
 * numeric order, negative timestamps included). All entries of one key are adjacent and in time order. Because a
 * serialized key can be a byte prefix of another (`"a"` and `"ab"`), a scan for one key also meets entries of
 * longer keys: they are recognised by their length and skipped.
 *
 * Retention is relative to the task's stream time when the runtime gives it (`options.streamTime`, Kafka Streams'
 * observed stream time): a put stamped ahead of stream time (an event time from a value field) cannot make later
 * puts "expired". Before the task has seen a record, and for stores used without a task, it is relative to the
 * newest timestamp the store holds. That number is not stored: it is derived from the data (one scan, lazily, on
 * first use after open or after an aborted transaction) and then kept up to date by `put`. Storing it under a
 * reserved key would add a changelog record to nearly every put; deriving it needs no format beyond the entries
 * themselves and is always consistent with restored data. A put older than the retention is dropped and reported
 * (`options.onDrop`: the runtime counts it in `weir_dropped_records_total{reason="expired-window"}`).
 */
import type { BufferedStore } from "./buffered-store.js";
import { DIGEST_BYTES, keyDigest, packWithKey, unpackWithKey } from "./long-keys.js";
import { StoreClosedError } from "./errors.js";
import type { Serde, WindowedEntry, WindowStore } from "./types.js";

const TIMESTAMP_BYTES = 8;
const SIGN_FLIP = 0x8000000000000000n;

/**
 * Keys up to this many bytes are used as they are in the composite key; a longer key is replaced by its first
 * MAX_INLINE_WINDOW_KEY_BYTES bytes ‖ SHA-256(key) (so every composite stays short enough for any backend, and one
 * key's entries stay adjacent and in time order), with the full key stored before the value and compared on read.
 * A composite longer than MAX_INLINE_WINDOW_KEY_BYTES + 8 is therefore always of the long form.
 */
export const MAX_INLINE_WINDOW_KEY_BYTES = 1000;
const LONG_COMPOSITE_BYTES = MAX_INLINE_WINDOW_KEY_BYTES + DIGEST_BYTES + TIMESTAMP_BYTES;

/** The key part of a composite key: the key itself, or its long form. */
function keyPart(key: Buffer): Buffer {
  if (key.length <= MAX_INLINE_WINDOW_KEY_BYTES) return key;
  return Buffer.concat([key.subarray(0, MAX_INLINE_WINDOW_KEY_BYTES), keyDigest(key)]);
}

const isLongComposite = (composite: Buffer): boolean => composite.length === LONG_COMPOSITE_BYTES;

function composeKey(part: Buffer, timestamp: number): Buffer {
  const composite = Buffer.allocUnsafe(part.length + TIMESTAMP_BYTES);
  part.copy(composite, 0);
  composite.writeBigUInt64BE(BigInt(timestamp) + SIGN_FLIP, part.length);
  return composite;
}

export function windowKey(key: Buffer, timestamp: number): Buffer {
  return composeKey(keyPart(key), timestamp);
}

/** What is stored for a value: the value, or for a long key `u32 length ‖ key ‖ value`. */
function storedValue(key: Buffer, value: Buffer): Buffer {
  return key.length <= MAX_INLINE_WINDOW_KEY_BYTES ? value : packWithKey(key, value);
}

/** A stored entry's full key bytes, timestamp and value bytes (what `weir state` reads from a stopped worker). */
export function decodeWindowEntry(
  composite: Buffer,
  stored: Buffer,
): { key: Buffer; timestamp: number; value: Buffer } {
  const timestamp = windowKeyTimestamp(composite);
  if (!isLongComposite(composite)) return { key: windowKeyKey(composite), timestamp, value: stored };
  const [key, value] = unpackWithKey(stored);
  return { key, timestamp, value };
}

export function windowKeyTimestamp(composite: Buffer): number {
  return Number(composite.readBigUInt64BE(composite.length - TIMESTAMP_BYTES) - SIGN_FLIP);
}

const windowKeyKey = (composite: Buffer): Buffer => composite.subarray(0, composite.length - TIMESTAMP_BYTES);

function checkTimestamp(store: string, timestamp: number): void {
  if (!Number.isSafeInteger(timestamp)) {
    throw new RangeError(`window store "${store}": timestamp must be an integer (ms), got ${timestamp}`);
  }
}

class TypedWindowStore<K, V> implements WindowStore<K, V> {
  #closed = false;
  /** Newest timestamp seen; undefined until derived from the data. */
  #maxTimestamp: number | undefined;
  #derived = false;
  #derivedAtDiscards = -1;

  constructor(
    readonly name: string,
    private readonly inner: BufferedStore,
    private readonly serdes: { key: Serde<K>; value: Serde<V> },
    readonly retentionMs: number,
    private readonly options: WindowStoreOptions = {},
  ) {
    if (!Number.isFinite(retentionMs) || retentionMs < 0) {
      throw new RangeError(
        `window store "${name}": retentionMs must be a non-negative number, got ${retentionMs}`,
      );
    }
  }

  /**
   * Stores the value. A put older than the retention (behind the newest timestamp seen) is dropped, like Kafka
   * Streams' "skipping record for expired segment": it would be invisible and expired anyway.
   */
  put(key: K, value: V, timestamp: number): void {
    this.#ensureOpen();
    checkTimestamp(this.name, timestamp);
    if (this.#isExpired(timestamp)) {
      this.options.onDrop?.("expired-window", timestamp);
      return;
    }
    const keyBytes = this.serdes.key.serialize(key);
    this.inner.put(windowKey(keyBytes, timestamp), storedValue(keyBytes, this.serdes.value.serialize(value)));
    if (this.#maxTimestamp === undefined || timestamp > this.#maxTimestamp) this.#maxTimestamp = timestamp;
  }

  get(key: K, timestamp: number): V | undefined {
    this.#ensureOpen();
    checkTimestamp(this.name, timestamp);
    if (this.#isExpired(timestamp)) return undefined;
    const keyBytes = this.serdes.key.serialize(key);
    const composite = windowKey(keyBytes, timestamp);
    const stored = this.inner.get(composite);
    if (stored === undefined) return undefined;
    const entry = decodeWindowEntry(composite, stored);
    return entry.key.equals(keyBytes) ? this.serdes.value.deserialize(entry.value) : undefined;
  }

  delete(key: K, timestamp: number): void {
    this.#ensureOpen();
    checkTimestamp(this.name, timestamp);
    const keyBytes = this.serdes.key.serialize(key);
    const composite = windowKey(keyBytes, timestamp);
    if (isLongComposite(composite)) {
      // Another key with the same digest (never seen for SHA-256) is not this key's entry.
      const stored = this.inner.get(composite);
      if (stored === undefined || !decodeWindowEntry(composite, stored).key.equals(keyBytes)) return;
    }
    this.inner.delete(composite);
  }

  fetch(key: K, from: number, to: number): IterableIterator<WindowedEntry<K, V>> {
    this.#ensureOpen();
    checkTimestamp(this.name, from);
    checkTimestamp(this.name, to);
    const start = Math.max(from, this.#oldestRetained());
    if (start > to) return [][Symbol.iterator]();
    const keyBytes = this.serdes.key.serialize(key);
    const part = keyPart(keyBytes);
    const entries = this.inner.range({ from: composeKey(part, start), to: composeKey(part, to + 1) });
    return this.#fetch(key, keyBytes, part.length, entries);
  }

  *#fetch(
    key: K,
    keyBytes: Buffer,
    partLength: number,
    entries: IterableIterator<[Buffer, Buffer]>,
  ): Generator<WindowedEntry<K, V>> {
    for (const [composite, stored] of entries) {
      this.#ensureOpen();
      // Entries of a longer key that starts with this key's bytes fall inside the range too.
      if (composite.length !== partLength + TIMESTAMP_BYTES) continue;
      const entry = decodeWindowEntry(composite, stored);
      if (isLongComposite(composite) && !entry.key.equals(keyBytes)) continue;
      yield { key, timestamp: entry.timestamp, value: this.serdes.value.deserialize(entry.value) };
    }
  }

  /** A full scan sorted by (timestamp, key bytes): window stores hold only the retention period. */
  fetchAll(from: number, to: number): IterableIterator<WindowedEntry<K, V>> {
    this.#ensureOpen();
    checkTimestamp(this.name, from);
    checkTimestamp(this.name, to);
    const start = Math.max(from, this.#oldestRetained());
    const found: Array<{ composite: Buffer; timestamp: number; value: Buffer }> = [];
    for (const [composite, value] of this.inner.range()) {
      const timestamp = windowKeyTimestamp(composite);
      if (timestamp >= start && timestamp <= to) found.push({ composite, timestamp, value });
    }
    found.sort((a, b) => a.timestamp - b.timestamp || Buffer.compare(a.composite, b.composite));
    return this.#decodeAll(found);
  }

  *#decodeAll(
    found: Array<{ composite: Buffer; timestamp: number; value: Buffer }>,
  ): Generator<WindowedEntry<K, V>> {
    for (const { composite, value: stored } of found) {
      this.#ensureOpen();
      const entry = decodeWindowEntry(composite, stored);
      yield {
        key: this.serdes.key.deserialize(entry.key),
        timestamp: entry.timestamp,
        value: this.serdes.value.deserialize(entry.value),
      };
    }
  }

  expire(before: number): number {
    this.#ensureOpen();
    checkTimestamp(this.name, before);
    const expired: Buffer[] = [];
    for (const [composite] of this.inner.range()) {
      if (windowKeyTimestamp(composite) < before) expired.push(composite);
    }
    // Deleted through the write buffer, so each removal is changelogged and committed with the transaction.
    for (const composite of expired) this.inner.delete(composite);
    return expired.length;
  }

  approximateCount(): number {
    this.#ensureOpen();
    return this.inner.approximateCount();
  }

  /** A no-op: the engine commits the write buffer together with the Kafka transaction, never a processor. */
  flush(): void {}

  close(): void {
    this.#closed = true;
  }

  /** Timestamps below this are past retention (−Infinity while the store is empty and no record was seen). */
  #oldestRetained(): number {
    const streamTime = this.options.streamTime?.() ?? -1;
    if (streamTime >= 0) return streamTime - this.retentionMs;
    const newest = this.#newestTimestamp();
    return newest === undefined ? -Infinity : newest - this.retentionMs;
  }

  #isExpired(timestamp: number): boolean {
    return timestamp < this.#oldestRetained();
  }

  #newestTimestamp(): number | undefined {
    // Derive once after open, and again after an abort (the cached value may come from a discarded put).
    if (!this.#derived || this.#derivedAtDiscards !== this.inner.discards) {
      let newest: number | undefined;
      for (const [composite] of this.inner.range()) {
        const timestamp = windowKeyTimestamp(composite);
        if (newest === undefined || timestamp > newest) newest = timestamp;
      }
      this.#maxTimestamp = newest;
      this.#derived = true;
      this.#derivedAtDiscards = this.inner.discards;
    }
    return this.#maxTimestamp;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new StoreClosedError(this.name, this.inner.backend.partition);
  }
}

/**
 * How a typed window store measures retention and reports dropped puts (the runtime passes the task's stream
 * time and its dropped-records counter).
 *
 * @example
 * ```ts
 * import { Serdes } from "weir";
 * import { BufferedStore, openMemoryState, windowStore, type WindowStoreOptions } from "weir/state";
 *
 * let streamTime = -1;
 * const options: WindowStoreOptions = {
 *   streamTime: () => streamTime,
 *   onDrop: (reason, timestamp) => console.warn(`dropped a put at ${timestamp}: ${reason}`),
 * };
 * const buffer = new BufferedStore(openMemoryState().open("logins", 0));
 * const logins = windowStore("logins", buffer, { key: Serdes.string(), value: Serdes.string() }, 3_600_000, options);
 * ```
 */
export interface WindowStoreOptions {
  /** The task's stream time (−1 before its first record): what retention is measured against. */
  streamTime?: () => number;
  /** Called for every put dropped because it is older than the retention. */
  onDrop?: (reason: "expired-window", timestamp: number) => void;
}

/**
 * A typed window store over a task's write buffer (what {@link weir!ProcessorContext.windowStore} returns): values by
 * (key, timestamp), one key's entries adjacent and in time order; entries older than `retentionMs` behind stream
 * time (or the newest timestamp held) are invisible and dropped on put.
 *
 * @example
 * ```ts
 * import { Serdes } from "weir";
 * import { BufferedStore, openMemoryState, windowStore } from "weir/state";
 *
 * const buffer = new BufferedStore(openMemoryState().open("page-views", 0));
 * const views = windowStore("page-views", buffer, { key: Serdes.string(), value: Serdes.number() }, 60_000);
 * views.put("home", 3, 1_000);
 * views.put("home", 5, 2_000);
 * console.log([...views.fetch("home", 0, 10_000)].map((e) => e.value)); // [3, 5]
 * ```
 */
export function windowStore<K, V>(
  name: string,
  inner: BufferedStore,
  serdes: { key: Serde<K>; value: Serde<V> },
  retentionMs: number,
  options: WindowStoreOptions = {},
): WindowStore<K, V> {
  return new TypedWindowStore(name, inner, serdes, retentionMs, options);
}
