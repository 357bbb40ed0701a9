/**
 * The byte-level backend contract: one `StateBackend` per worker state directory, one `StoreBackend` per
 * store-partition. Typed stores (`keyValueStore`, `windowStore`) and the write buffer (`BufferedStore`) are layers
 * above it; LMDB and memory implement it.
 */

/** A range in byte order: `from` inclusive, `to` exclusive. */
export interface BytesRange {
  from?: Buffer;
  to?: Buffer;
  reverse?: boolean;
  limit?: number;
}

/** One store-partition, bytes only. Read-only: all writes go through StateBackend.apply (atomic with the checkpoint). */
export interface StoreBackend {
  readonly store: string;
  readonly partition: number;
  get(key: Buffer): Buffer | undefined;
  range(opts?: BytesRange): IterableIterator<[Buffer, Buffer]>;
  approximateCount(): number;
  /** Rough size of keys + values in bytes (LMDB: pages used). */
  approximateBytes(): number;
  /** Offset of the last changelog record applied to this store-partition, or undefined if none ever. */
  checkpoint(): number | undefined;
}

export interface ApplyBatch {
  store: string;
  partition: number;
  /** `null` value = delete. Applied in iteration order (a later write to the same key wins). */
  writes: Iterable<readonly [Buffer, Buffer | null]>;
  /** The changelog offset these writes bring the store-partition up to. Omitted: the checkpoint is unchanged. */
  checkpoint?: number;
}

export interface StoreInventoryEntry {
  store: string;
  partition: number;
  checkpoint: number | undefined;
  entries: number;
}

export interface StateBackend {
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
