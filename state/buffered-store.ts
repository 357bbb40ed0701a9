/**
 * The per-task write buffer over one StoreBackend. Processors write here; reads see buffered writes first. The
 * engine commits the buffer (StateBackend.apply with drain()) only after the Kafka transaction succeeded, or
 * discards it on abort, so local state is never ahead of what Kafka committed.
 */
import type { BytesRange, StoreBackend } from "./backend.js";
import { InvalidStoreKeyError } from "./errors.js";

type Write = readonly [Buffer, Buffer | null];

const compareWrites = (a: Write, b: Write): number => Buffer.compare(a[0], b[0]);

/**
 * The per-task write buffer over one store-partition (a {@link StoreBackend}): processors write here and reads see
 * buffered writes first. The engine applies the buffer ({@link StateBackend.apply} with {@link BufferedStore.drain})
 * only after the Kafka transaction committed, or discards it on abort, so local state is never ahead of Kafka —
 * the role of Kafka Streams' record cache and transactional state, made explicit.
 *
 * @example
 * ```ts
 * import { BufferedStore, openMemoryState } from "weir/state";
 *
 * const state = openMemoryState();
 * const buffer = new BufferedStore(state.open("stock", 0));
 * buffer.put(Buffer.from("SKU-1"), Buffer.from("7"));
 * buffer.get(Buffer.from("SKU-1")); // the buffered value
 * state.open("stock", 0).get(Buffer.from("SKU-1")); // undefined: not applied yet
 * state.apply([{ store: "stock", partition: 0, writes: buffer.drain(), checkpoint: 0 }]);
 * ```
 */
export class BufferedStore {
  /** Keyed by the key's latin1 string: one code unit per byte, so it is an exact, cheap Map key. */
  readonly #buffer = new Map<string, Write>();
  #discards = 0;

  /**
   * An empty buffer over `backend`.
   *
   * @param backend the store-partition under the buffer
   * @param onWrite the changelog hook, called on every put (value) and delete (null), after the write is buffered.
   *   The buffers are kept as given: do not mutate them after `put`.
   * @param validate called before a write is buffered; what it throws reaches the caller and nothing is written
   *   (the runtime refuses a write whose changelog record could not be produced).
   */
  constructor(
    /** The store-partition under the buffer. */
    readonly backend: StoreBackend,
    private readonly onWrite?: (key: Buffer, value: Buffer | null) => void,
    private readonly validate?: (key: Buffer, value: Buffer | null) => void,
  ) {}

  /** The key's value: the buffered write if any (undefined for a buffered delete), else the backend's. */
  get(key: Buffer): Buffer | undefined {
    const buffered = this.#buffer.get(key.toString("latin1"));
    if (buffered !== undefined) return buffered[1] ?? undefined;
    return this.backend.get(key);
  }

  /** Buffer a write (an empty key is an InvalidStoreKeyError). */
  put(key: Buffer, value: Buffer): void {
    this.#write(key, value);
  }

  /** Buffer a delete. */
  delete(key: Buffer): void {
    this.#write(key, null);
  }

  #write(key: Buffer, value: Buffer | null): void {
    if (key.length === 0) throw new InvalidStoreKeyError(this.backend.store, "keys must not be empty");
    this.validate?.(key, value);
    this.#buffer.set(key.toString("latin1"), [key, value]);
    this.onWrite?.(key, value);
  }

  /**
   * Entries in byte order (or reversed), the buffer merged over the backend: a buffered put replaces the backend's
   * value, a buffered delete hides it. `limit` counts what is returned.
   */
  range(opts: BytesRange = {}): IterableIterator<[Buffer, Buffer]> {
    const { from, to, reverse = false } = opts;
    const limit = opts.limit ?? Infinity;
    const buffered = [...this.#buffer.values()]
      .filter(
        ([key]) =>
          (from === undefined || Buffer.compare(key, from) >= 0) &&
          (to === undefined || Buffer.compare(key, to) < 0),
      )
      .sort(reverse ? (a, b) => compareWrites(b, a) : compareWrites);
    // Each buffered write can hide or replace at most one backend entry, so this many backend entries suffice.
    const backendLimit = limit === Infinity ? undefined : limit + buffered.length;
    const backend = this.backend.range({ from, to, reverse, limit: backendLimit });
    return merge(buffered, backend, reverse, limit);
  }

  /** How many keys have buffered writes. */
  get pendingWrites(): number {
    return this.#buffer.size;
  }

  /**
   * How many times the buffer was discarded. Layers that cache something derived from buffered writes (the
   * window store's newest timestamp) compare it to know their cache may hold aborted data.
   */
  get discards(): number {
    return this.#discards;
  }

  /** Backend count plus what the buffered writes would change (one backend lookup per buffered key). */
  approximateCount(): number {
    let delta = 0;
    for (const [key, value] of this.#buffer.values()) {
      const stored = this.backend.get(key) !== undefined;
      if (value === null && stored) delta--;
      else if (value !== null && !stored) delta++;
    }
    return this.backend.approximateCount() + delta;
  }

  /** The buffered writes (last write per key wins), in key byte order; clears the buffer. */
  drain(): Array<readonly [Buffer, Buffer | null]> {
    const writes = [...this.#buffer.values()].sort(compareWrites);
    this.#buffer.clear();
    return writes;
  }

  /** Drop the buffered writes (the Kafka transaction aborted). */
  discard(): void {
    this.#buffer.clear();
    this.#discards++;
  }
}

function* merge(
  buffered: readonly Write[],
  backend: IterableIterator<[Buffer, Buffer]>,
  reverse: boolean,
  limit: number,
): Generator<[Buffer, Buffer]> {
  const direction = reverse ? -1 : 1;
  let emitted = 0;
  let i = 0;
  let stored = backend.next();
  try {
    while (emitted < limit) {
      const write = buffered[i];
      if (stored.done && write === undefined) return;
      const order =
        write === undefined ? -1 : stored.done ? 1 : direction * Buffer.compare(stored.value[0], write[0]);
      if (order < 0) {
        emitted++;
        yield stored.value as [Buffer, Buffer];
        stored = backend.next();
        continue;
      }
      if (order === 0) stored = backend.next(); // the buffered write shadows the stored entry
      i++;
      if (write !== undefined && write[1] !== null) {
        emitted++;
        yield [write[0], write[1]];
      }
    }
  } finally {
    backend.return?.(); // release the backend's cursor (an LMDB read transaction) when the caller stops early
  }
}
