/**
 * The in-memory StateBackend: the same contract as LMDB (byte-ordered ranges, atomic apply, checkpoints), for the
 * test driver and for tests. Nothing survives `close()`.
 */
import {
  checkOffset,
  checkStorePartition,
  type ApplyBatch,
  type BytesRange,
  type StateBackend,
  type StoreBackend,
  type StoreInventoryEntry,
} from "./backend.js";
import { InvalidStoreKeyError, StoreClosedError } from "./errors.js";

// Keys are held as latin1 strings: one UTF-16 code unit per byte, so JavaScript string order is byte order
// (the order Buffer.compare and LMDB use) and Map lookups need no custom hashing.
const toId = (key: Buffer): string => key.toString("latin1");
const fromId = (id: string): Buffer => Buffer.from(id, "latin1");
const copy = (bytes: Buffer): Buffer => Buffer.from(bytes);

/** First index in the sorted array whose id is >= target. */
function lowerBound(sorted: readonly string[], target: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class MemoryStoreBackend implements StoreBackend {
  readonly #values = new Map<string, Buffer>();
  /**
   * Sorted key ids, rebuilt lazily after inserts or deletes. Never mutated in place, so a range iterator that is
   * still running keeps walking the snapshot of keys it started with.
   */
  #sorted: string[] | undefined = [];
  #checkpoint: number | undefined;

  constructor(
    readonly store: string,
    readonly partition: number,
    private readonly isClosed: () => boolean,
  ) {}

  #ensureOpen(): void {
    if (this.isClosed()) throw new StoreClosedError(this.store, this.partition);
  }

  get(key: Buffer): Buffer | undefined {
    this.#ensureOpen();
    const value = this.#values.get(toId(key));
    return value === undefined ? undefined : copy(value);
  }

  range(opts: BytesRange = {}): IterableIterator<[Buffer, Buffer]> {
    this.#ensureOpen();
    const sorted = (this.#sorted ??= [...this.#values.keys()].sort());
    const start = opts.from === undefined ? 0 : lowerBound(sorted, toId(opts.from));
    const end = opts.to === undefined ? sorted.length : lowerBound(sorted, toId(opts.to));
    return this.#walk(sorted, start, end, opts.reverse ?? false, opts.limit ?? Infinity);
  }

  *#walk(sorted: readonly string[], start: number, end: number, reverse: boolean, limit: number) {
    let emitted = 0;
    for (let i = reverse ? end - 1 : start; reverse ? i >= start : i < end; i += reverse ? -1 : 1) {
      if (emitted >= limit) return;
      this.#ensureOpen();
      const id = sorted[i] as string;
      const value = this.#values.get(id);
      if (value === undefined) continue; // deleted after the iterator started
      emitted++;
      yield [fromId(id), copy(value)] as [Buffer, Buffer];
    }
  }

  approximateCount(): number {
    this.#ensureOpen();
    return this.#values.size;
  }

  approximateBytes(): number {
    this.#ensureOpen();
    let bytes = 0;
    for (const [id, value] of this.#values) bytes += id.length + value.length;
    return bytes;
  }

  checkpoint(): number | undefined {
    this.#ensureOpen();
    return this.#checkpoint;
  }

  /** Called by the backend only after every batch was validated, so it cannot fail halfway. */
  commit(writes: ReadonlyArray<readonly [Buffer, Buffer | null]>, checkpoint: number | undefined): void {
    for (const [key, value] of writes) {
      const id = toId(key);
      if (value === null) {
        if (this.#values.delete(id)) this.#sorted = undefined;
      } else {
        if (!this.#values.has(id)) this.#sorted = undefined;
        this.#values.set(id, copy(value));
      }
    }
    if (checkpoint !== undefined) this.#checkpoint = checkpoint;
  }

  clear(): void {
    this.#values.clear();
    this.#sorted = undefined;
    this.#checkpoint = undefined;
  }
}

class MemoryStateBackend implements StateBackend {
  readonly kind = "memory" as const;
  readonly path = undefined;
  readonly #stores = new Map<string, MemoryStoreBackend>();
  #closed = false;

  open(store: string, partition: number): MemoryStoreBackend {
    this.#ensureOpen(store, partition);
    checkStorePartition(store, partition);
    const id = `${store}:${partition}`;
    let backend = this.#stores.get(id);
    if (backend === undefined) {
      backend = new MemoryStoreBackend(store, partition, () => this.#closed);
      this.#stores.set(id, backend);
    }
    return backend;
  }

  apply(batches: ApplyBatch[]): void {
    if (batches.length === 0) return;
    for (const batch of batches) this.#ensureOpen(batch.store, batch.partition);
    // Stage everything first: reading the iterables may throw, and nothing may change unless all of it applies.
    const staged = batches.map((batch) => {
      checkStorePartition(batch.store, batch.partition);
      if (batch.checkpoint !== undefined) checkOffset(batch.store, batch.partition, batch.checkpoint);
      const writes: Array<readonly [Buffer, Buffer | null]> = [];
      for (const write of batch.writes) {
        if (write[0].length === 0) throw new InvalidStoreKeyError(batch.store, "keys must not be empty");
        writes.push(write);
      }
      return { backend: this.open(batch.store, batch.partition), writes, checkpoint: batch.checkpoint };
    });
    for (const { backend, writes, checkpoint } of staged) backend.commit(writes, checkpoint);
  }

  wipe(store: string, partition: number): void {
    this.open(store, partition).clear();
  }

  list(): StoreInventoryEntry[] {
    this.#ensureOpen("(all stores)");
    return [...this.#stores.values()]
      .map((b) => ({
        store: b.store,
        partition: b.partition,
        checkpoint: b.checkpoint(),
        entries: b.approximateCount(),
      }))
      .sort((a, b) => (a.store < b.store ? -1 : a.store > b.store ? 1 : a.partition - b.partition));
  }

  close(): void {
    this.#closed = true;
  }

  #ensureOpen(store: string, partition?: number): void {
    if (this.#closed) throw new StoreClosedError(store, partition);
  }
}

/**
 * A fresh in-memory state backend: the same contract as LMDB (byte-ordered ranges, atomic apply, checkpoints);
 * nothing survives `close()`. What the test driver uses by default.
 *
 * @example
 * ```ts
 * import { openMemoryState } from "weir/state";
 *
 * const state = openMemoryState();
 * state.apply([{ store: "stock", partition: 0, writes: [[Buffer.from("SKU-1"), Buffer.from("7")]], checkpoint: 12 }]);
 * console.log(state.list()); // [{ store: "stock", partition: 0, checkpoint: 12, entries: 1 }]
 * state.close();
 * ```
 */
export function openMemoryState(): StateBackend {
  return new MemoryStateBackend();
}
