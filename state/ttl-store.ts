/**
 * A key-value store whose entries expire: each value is stored behind the stream time of its last write (8 bytes,
 * big-endian), and `expire(now)` deletes, through the write buffer (and so the changelog), every entry written
 * `ttlMs` or more before `now`. Because expiry is an ordinary delete committed with the record that moved the clock,
 * a store restored from its changelog holds exactly what the live one held at that commit.
 */
import type { BufferedStore } from "./buffered-store.js";
import { StoreClosedError } from "./errors.js";
import { keyValueStore } from "./key-value-store.js";
import type { KeyValue, KeyValueStore, RangeOptions, Serde } from "./types.js";

export const TTL_STAMP_BYTES = 8;

/** Splits a stored TTL value into the write's stream time and the value's bytes. */
export function decodeTtlValue(stored: Buffer): { writtenAt: number; value: Buffer } {
  if (stored.length < TTL_STAMP_BYTES)
    throw new RangeError(`a TTL store value needs ${TTL_STAMP_BYTES} bytes`);
  return { writtenAt: Number(stored.readBigInt64BE(0)), value: stored.subarray(TTL_STAMP_BYTES) };
}

function encodeTtlValue(writtenAt: number, value: Buffer): Buffer {
  const out = Buffer.allocUnsafe(TTL_STAMP_BYTES + value.length);
  out.writeBigInt64BE(BigInt(writtenAt), 0);
  value.copy(out, TTL_STAMP_BYTES);
  return out;
}

interface Due {
  at: number;
  key: Buffer;
}

export interface TtlKeyValueStore<K, V> extends KeyValueStore<K, V> {
  readonly ttlMs: number;
  /** Delete every entry whose last write is `ttlMs` or more before `now`; returns the entries deleted. */
  expire(now: number): Array<KeyValue<K, V>>;
}

/**
 * The value serde of a TTL store: the stream time of the write (8 bytes, big-endian) before the value's bytes. Reads
 * drop it, so everything but expiry is the plain typed store over this serde.
 */
function stampedSerde<V>(value: Serde<V>, clock: () => number): Serde<V> {
  return {
    name: `ttl(${value.name})`,
    serialize: (v) => encodeTtlValue(Math.max(clock(), 0), value.serialize(v)),
    deserialize: (bytes) => value.deserialize(decodeTtlValue(bytes).value),
  };
}

class TtlStore<K, V> implements TtlKeyValueStore<K, V> {
  readonly #typed: KeyValueStore<K, V>;
  #closed = false;
  /**
   * Min-heap of (expiry time, key) with at most one entry per key (memory stays one entry per live key, not per
   * write), built from the store on first use. An entry may be early (the key was rewritten since): it is checked
   * when it comes due and pushed back with the key's real expiry time.
   */
  #heap: Due[] | undefined;
  /** Keys (latin1) that have an entry in the heap. */
  readonly #queued = new Set<string>();

  constructor(
    readonly name: string,
    private readonly inner: BufferedStore,
    private readonly serdes: { key: Serde<K>; value: Serde<V> },
    readonly ttlMs: number,
    private readonly clock: () => number,
  ) {
    this.#typed = keyValueStore(name, inner, { key: serdes.key, value: stampedSerde(serdes.value, clock) });
  }

  get(key: K): V | undefined {
    return this.#typed.get(key);
  }

  put(key: K, value: V): void {
    this.#typed.put(key, value);
    if (this.#heap)
      this.#queue(this.#heap, this.serdes.key.serialize(key), Math.max(this.clock(), 0) + this.ttlMs);
  }

  delete(key: K): void {
    this.#typed.delete(key);
  }

  expire(now: number): Array<KeyValue<K, V>> {
    if (this.#closed) throw new StoreClosedError(this.name, this.inner.backend.partition);
    const heap = (this.#heap ??= this.#scan());
    const expired: Array<KeyValue<K, V>> = [];
    while (heap.length > 0 && heap[0]!.at <= now) {
      const due = pop(heap);
      const id = due.key.toString("latin1");
      const stored = this.inner.get(due.key);
      if (stored === undefined) {
        this.#queued.delete(id); // deleted since
        continue;
      }
      const { writtenAt, value } = decodeTtlValue(stored);
      if (writtenAt + this.ttlMs > now) {
        push(heap, { at: writtenAt + this.ttlMs, key: due.key }); // rewritten since: due later
        continue;
      }
      this.#queued.delete(id);
      this.inner.delete(due.key);
      expired.push({
        key: this.serdes.key.deserialize(due.key),
        value: this.serdes.value.deserialize(value),
      });
    }
    return expired;
  }

  range(options?: RangeOptions<K>): IterableIterator<KeyValue<K, V>> {
    return this.#typed.range(options);
  }

  prefixScan(prefix: K, limit?: number): IterableIterator<KeyValue<K, V>> {
    return this.#typed.prefixScan(prefix, limit);
  }

  approximateCount(): number {
    return this.#typed.approximateCount();
  }

  flush(): void {}

  close(): void {
    this.#closed = true;
    this.#typed.close();
  }

  #queue(heap: Due[], key: Buffer, at: number): void {
    const id = key.toString("latin1");
    if (this.#queued.has(id)) return;
    this.#queued.add(id);
    push(heap, { at, key });
  }

  #scan(): Due[] {
    const heap: Due[] = [];
    for (const [key, stored] of this.inner.range({}))
      this.#queue(heap, Buffer.from(key), decodeTtlValue(stored).writtenAt + this.ttlMs);
    return heap;
  }
}

function push(heap: Due[], due: Due): void {
  heap.push(due);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.at <= heap[i]!.at) break;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function pop(heap: Due[]): Due {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l]!.at < heap[m]!.at) m = l;
      if (r < heap.length && heap[r]!.at < heap[m]!.at) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i]!, heap[m]!];
      i = m;
    }
  }
  return top;
}

/** A key-value store with a time to live over a task's write buffer; `clock` is the task's stream time. */
export function ttlKeyValueStore<K, V>(
  name: string,
  inner: BufferedStore,
  serdes: { key: Serde<K>; value: Serde<V> },
  ttlMs: number,
  clock: () => number,
): TtlKeyValueStore<K, V> {
  return new TtlStore(name, inner, serdes, ttlMs, clock);
}
