/** The typed key-value store: serdes over a BufferedStore. */
import type { BufferedStore } from "./buffered-store.js";
import { StoreClosedError } from "./errors.js";
import type { KeyValue, KeyValueStore, RangeOptions, Serde } from "./types.js";

/**
 * The smallest byte string greater than every string that starts with `prefix` (the exclusive end of a prefix
 * scan), or undefined when there is none (the prefix is all 0xff bytes, or empty).
 */
export function prefixUpperBound(prefix: Buffer): Buffer | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const bound = Buffer.from(prefix.subarray(0, i + 1));
      bound[i] = (bound[i] as number) + 1;
      return bound;
    }
  }
  return undefined;
}

class TypedKeyValueStore<K, V> implements KeyValueStore<K, V> {
  #closed = false;

  constructor(
    readonly name: string,
    private readonly inner: BufferedStore,
    private readonly serdes: { key: Serde<K>; value: Serde<V> },
  ) {}

  get(key: K): V | undefined {
    this.#ensureOpen();
    const bytes = this.inner.get(this.serdes.key.serialize(key));
    return bytes === undefined ? undefined : this.serdes.value.deserialize(bytes);
  }

  put(key: K, value: V): void {
    this.#ensureOpen();
    this.inner.put(this.serdes.key.serialize(key), this.serdes.value.serialize(value));
  }

  delete(key: K): void {
    this.#ensureOpen();
    this.inner.delete(this.serdes.key.serialize(key));
  }

  range(options: RangeOptions<K> = {}): IterableIterator<KeyValue<K, V>> {
    this.#ensureOpen();
    return this.#decode(
      this.inner.range({
        from: options.from === undefined ? undefined : this.serdes.key.serialize(options.from),
        to: options.to === undefined ? undefined : this.serdes.key.serialize(options.to),
        limit: options.limit,
        reverse: options.reverse,
      }),
    );
  }

  prefixScan(prefix: K, limit?: number): IterableIterator<KeyValue<K, V>> {
    this.#ensureOpen();
    const from = this.serdes.key.serialize(prefix);
    return this.#decode(this.inner.range({ from, to: prefixUpperBound(from), limit }));
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

  *#decode(entries: IterableIterator<[Buffer, Buffer]>): Generator<KeyValue<K, V>> {
    for (const [key, value] of entries) {
      this.#ensureOpen();
      yield { key: this.serdes.key.deserialize(key), value: this.serdes.value.deserialize(value) };
    }
  }

  #ensureOpen(): void {
    if (this.#closed) throw new StoreClosedError(this.name, this.inner.backend.partition);
  }
}

/**
 * A typed key-value store over a task's write buffer (what {@link weir!ProcessorContext.keyValueStore} returns).
 * Entries are ordered by serialized key bytes.
 *
 * @example
 * ```ts
 * import { Serdes } from "weir";
 * import { BufferedStore, keyValueStore, openMemoryState } from "weir/state";
 *
 * const buffer = new BufferedStore(openMemoryState().open("users", 0));
 * const users = keyValueStore("users", buffer, { key: Serdes.string(), value: Serdes.json<{ name: string }>() });
 * users.put("u1", { name: "Ada" });
 * console.log([...users.prefixScan("u")]); // [{ key: "u1", value: { name: "Ada" } }]
 * ```
 */
export function keyValueStore<K, V>(
  name: string,
  inner: BufferedStore,
  serdes: { key: Serde<K>; value: Serde<V> },
): KeyValueStore<K, V> {
  return new TypedKeyValueStore(name, inner, serdes);
}
