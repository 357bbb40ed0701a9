/**
 * The byte-level backend contract: one `StateBackend` per worker state directory, one `StoreBackend` per
 * store-partition. Typed stores (`keyValueStore`, `windowStore`) and the write buffer (`BufferedStore`) are layers
 * above it; LMDB and memory implement it.
 */

/**
 * A range in byte order: `from` inclusive, `to` exclusive.
 *
 * @example
 * ```ts
 * import type { BytesRange, StoreBackend } from "weir/state";
 *
 * declare const backend: StoreBackend;
 * const range: BytesRange = { from: Buffer.from("order-"), to: Buffer.from("order."), limit: 100 };
 * for (const [key] of backend.range(range)) console.log(key.toString("utf8"));
 * ```
 */
export interface BytesRange {
  /** Inclusive lower bound. */
  from?: Buffer;
  /** Exclusive upper bound. */
  to?: Buffer;
  /** Iterate from the upper bound down. @default false */
  reverse?: boolean;
  /** Stop after this many entries. */
  limit?: number;
}

/**
 * One store-partition, bytes only. Read-only: all writes go through {@link StateBackend.apply} (atomic with the
 * checkpoint).
 *
 * @example
 * ```ts
 * import { openMemoryState } from "weir/state";
 *
 * const state = openMemoryState();
 * state.apply([{ store: "stock", partition: 0, writes: [[Buffer.from("SKU-1"), Buffer.from("7")]], checkpoint: 0 }]);
 * const stock = state.open("stock", 0);
 * console.log(stock.get(Buffer.from("SKU-1"))?.toString(), stock.checkpoint()); // "7" 0
 * ```
 */
export interface StoreBackend {
  /** The store's name. */
  readonly store: string;
  /** The partition. */
  readonly partition: number;
  /** The value stored under `key`, or undefined. */
  get(key: Buffer): Buffer | undefined;
  /** Entries in key byte order (or reversed) within the range. */
  range(opts?: BytesRange): IterableIterator<[Buffer, Buffer]>;
  /** Approximate number of entries (exact for the memory backend). */
  approximateCount(): number;
  /** Rough size of keys + values in bytes (LMDB: pages used). */
  approximateBytes(): number;
  /** Offset of the last changelog record applied to this store-partition, or undefined if none ever. */
  checkpoint(): number | undefined;
}

/**
 * Writes to one store-partition and the changelog offset they bring it to, for {@link StateBackend.apply}.
 *
 * @example
 * ```ts
 * import { openMemoryState, type ApplyBatch } from "weir/state";
 *
 * const batch: ApplyBatch = {
 *   store: "stock",
 *   partition: 3,
 *   writes: [
 *     [Buffer.from("SKU-1"), Buffer.from("6")],
 *     [Buffer.from("SKU-2"), null], // delete
 *   ],
 *   checkpoint: 1041,
 * };
 * openMemoryState().apply([batch]);
 * ```
 */
export interface ApplyBatch {
  /** The store's name. */
  store: string;
  /** The partition. */
  partition: number;
  /** `null` value = delete. Applied in iteration order (a later write to the same key wins). */
  writes: Iterable<readonly [Buffer, Buffer | null]>;
  /** The changelog offset these writes bring the store-partition up to. Omitted: the checkpoint is unchanged. */
  checkpoint?: number;
}

/**
 * A store-partition present in a state backend, as {@link StateBackend.list} reports it (what `weir state`
 * shows for a stopped worker's directory).
 *
 * @example
 * ```ts
 * import { openLmdbState } from "weir/state";
 *
 * const state = openLmdbState({ path: "/var/lib/weir/shop" });
 * for (const e of state.list())
 *   console.log(`${e.store}/${e.partition}: ${e.entries} entries, checkpoint ${e.checkpoint ?? "none"}`);
 * state.close();
 * ```
 */
export interface StoreInventoryEntry {
  /** The store's name. */
  store: string;
  /** The partition. */
  partition: number;
  /** Offset of the last changelog record applied, or undefined. */
  checkpoint: number | undefined;
  /** Approximate number of entries. */
  entries: number;
}

/**
 * A worker's local state (one per state directory): store-partitions of bytes with their changelog checkpoints,
 * written atomically. LMDB ({@link openLmdbState}) and memory ({@link openMemoryState}) implement it; the typed
 * stores and the write buffer are layers above.
 *
 * @example
 * ```ts
 * import { BufferedStore, keyValueStore, openMemoryState } from "weir/state";
 * import { Serdes } from "weir";
 *
 * const state = openMemoryState();
 * const buffer = new BufferedStore(state.open("counts", 0));
 * const counts = keyValueStore("counts", buffer, { key: Serdes.string(), value: Serdes.number() });
 * counts.put("alice", 3);
 * state.apply([{ store: "counts", partition: 0, writes: buffer.drain(), checkpoint: 0 }]); // commit
 * state.close();
 * ```
 */
export interface StateBackend {
  /** Which implementation it is. */
  readonly kind: "lmdb" | "memory";
  /** The state directory (undefined for memory). */
  readonly path: string | undefined;
  /** Idempotent: the same instance for the same pair while open. */
  open(store: string, partition: number): StoreBackend;
  /** Apply writes to several store-partitions AND set their checkpoints in ONE atomic transaction. */
  apply(batches: ApplyBatch[]): void;
  /** Delete every entry and the checkpoint of one store-partition. */
  wipe(store: string, partition: number): void;
  /** Store-partitions present (for `weir state` inspection of a stopped worker's directory), sorted by store, partition. */
  list(): StoreInventoryEntry[];
  /** Safe to call twice. Every StoreBackend opened from it is closed too. */
  close(): void;
}

/** Validates a store-partition address once, so every backend rejects the same bad input the same way. */
export function checkStorePartition(store: string, partition: number): void {
  if (store.length === 0) throw new RangeError("state store name must not be empty");
  if (!Number.isInteger(partition) || partition < 0) {
    throw new RangeError(
      `state store "${store}": partition must be a non-negative integer, got ${partition}`,
    );
  }
}

export function checkOffset(store: string, partition: number, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(
      `state store "${store}" partition ${partition}: checkpoint must be a non-negative integer offset, got ${offset}`,
    );
  }
}
