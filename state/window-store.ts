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
import { StoreClosedError } from "./errors.js";
import type { Serde, WindowedEntry, WindowStore } from "./types.js";

const TIMESTAMP_BYTES = 8;
const SIGN_FLIP = 0x8000000000000000n;

export function windowKey(key: Buffer, timestamp: number): Buffer {
  const composite = Buffer.allocUnsafe(key.length + TIMESTAMP_BYTES);
  key.copy(composite, 0);
  composite.writeBigUInt64BE(BigInt(timestamp) + SIGN_FLIP, key.length);
  return composite;
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
    this.inner.put(windowKey(this.serdes.key.serialize(key), timestamp), this.serdes.value.serialize(value));
    if (this.#maxTimestamp === undefined || timestamp > this.#maxTimestamp) this.#maxTimestamp = timestamp;
  }

  get(key: K, timestamp: number): V | undefined {
    this.#ensureOpen();
    checkTimestamp(this.name, timestamp);
    if (this.#isExpired(timestamp)) return undefined;
    const bytes = this.inner.get(windowKey(this.serdes.key.serialize(key), timestamp));
    return bytes === undefined ? undefined : this.serdes.value.deserialize(bytes);
  }

  delete(key: K, timestamp: number): void {
    this.#ensureOpen();
    checkTimestamp(this.name, timestamp);
    this.inner.delete(windowKey(this.serdes.key.serialize(key), timestamp));
  }

  fetch(key: K, from: number, to: number): IterableIterator<WindowedEntry<K, V>> {
    this.#ensureOpen();
    checkTimestamp(this.name, from);
    checkTimestamp(this.name, to);
    const start = Math.max(from, this.#oldestRetained());
    if (start > to) return [][Symbol.iterator]();
    const keyBytes = this.serdes.key.serialize(key);
    const entries = this.inner.range({ from: windowKey(keyBytes, start), to: windowKey(keyBytes, to + 1) });
    return this.#fetch(key, keyBytes.length, entries);
  }

  *#fetch(
    key: K,
    keyLength: number,
    entries: IterableIterator<[Buffer, Buffer]>,
  ): Generator<WindowedEntry<K, V>> {
    for (const [composite, value] of entries) {
      this.#ensureOpen();
      // Entries of a longer key that starts with this key's bytes fall inside the range too.
      if (composite.length !== keyLength + TIMESTAMP_BYTES) continue;
      yield { key, timestamp: windowKeyTimestamp(composite), value: this.serdes.value.deserialize(value) };
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
    for (const { composite, timestamp, value } of found) {
      this.#ensureOpen();
      yield {
        key: this.serdes.key.deserialize(windowKeyKey(composite)),
        timestamp,
        value: this.serdes.value.deserialize(value),
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

export interface WindowStoreOptions {
  /** The task's stream time (−1 before its first record): what retention is measured against. */
  streamTime?: () => number;
  /** Called for every put dropped because it is older than the retention. */
  onDrop?: (reason: "expired-window", timestamp: number) => void;
}

/** A typed window store over a task's write buffer. See the file comment for the layout and retention. */
export function windowStore<K, V>(
  name: string,
  inner: BufferedStore,
  serdes: { key: Serde<K>; value: Serde<V> },
  retentionMs: number,
  options: WindowStoreOptions = {},
): WindowStore<K, V> {
  return new TypedWindowStore(name, inner, serdes, retentionMs, options);
}
