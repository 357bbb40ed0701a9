/**
 * The LMDB StateBackend: ONE environment per worker state directory, one named sub-database per store-partition
 * (`s:<store>:<partition>`), raw byte keys and values, and a `checkpoints` sub-database (`<store>:<partition>` →
 * 8-byte big-endian changelog offset) written in the same synchronous transaction as the data, so local state is
 * never ahead of its checkpoint.
 *
 * Keys of any length. LMDB refuses keys above 1978 bytes; a key up to MAX_INLINE_KEY_BYTES is stored as it is, a
 * longer one under `first MAX_INLINE_KEY_BYTES bytes ‖ SHA-256(key) ‖ probe byte` with the full key kept beside the
 * value (`u32 length ‖ key ‖ value`) and compared on every read. Physical keys longer than MAX_INLINE_KEY_BYTES are
 * exactly the long ones, so the two forms never meet. Two long keys with the same digest (never seen for SHA-256,
 * but handled) take the next probe byte; a delete moves the chain's last entry into the hole, so a lookup stops at
 * the first empty probe. Order: byte order, except that long keys sharing their first MAX_INLINE_KEY_BYTES bytes come
 * in digest order among themselves; range bounds are exact (entries are filtered by their full key).
 *
 * Only lmdb-js's synchronous API is used (`transactionSync`, `putSync`, `removeSync`): a read right after `apply`
 * sees the data, and there is no async write queue to flush or lose. No object cache is enabled.
 */
import { open, type Database, type RootDatabase } from "lmdb";
import {
  checkOffset,
  checkStorePartition,
  type ApplyBatch,
  type BytesRange,
  type StateBackend,
  type StoreBackend,
  type StoreInventoryEntry,
} from "./backend.js";
import { InvalidStoreKeyError, StateError, StoreClosedError } from "./errors.js";
import { DIGEST_BYTES, keyDigest, packWithKey, unpackWithKey } from "./long-keys.js";

type BytesDb = Database<Buffer, Buffer>;

/**
 * Virtual address space reserved for the memory map (not disk: the file grows with the data): the default of
 * {@link openLmdbState}'s `mapSizeBytes`, 8 GiB. A worker's local state cannot grow beyond it.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAP_SIZE_BYTES, openLmdbState } from "weir/state";
 *
 * const state = openLmdbState({ path: "/var/lib/weir/shop", mapSizeBytes: 4 * DEFAULT_MAP_SIZE_BYTES }); // 32 GiB
 * ```
 */
export const DEFAULT_MAP_SIZE_BYTES = 8 * 1024 ** 3;
/** Store-partitions per worker directory is bounded by this (LMDB's `maxDbs`; each costs a little at open). */
const MAX_DBS = 4096;
const DATA_DB_PREFIX = "s:";
const CHECKPOINT_DB = "checkpoints";
const BYTES = { keyEncoding: "binary", encoding: "binary" } as const;

/**
 * Keys up to this many bytes are stored as they are (LMDB's own limit is 1978); a longer key is stored under its
 * first MAX_INLINE_KEY_BYTES bytes and a SHA-256 digest, with the full key beside the value. Keys of any length
 * work; this only says which ones cost a little more.
 *
 * @example
 * ```ts
 * import { MAX_INLINE_KEY_BYTES } from "weir/state";
 *
 * const inline = (key: Buffer) => key.length <= MAX_INLINE_KEY_BYTES;
 * ```
 */
export const MAX_INLINE_KEY_BYTES = 1900;
const MAX_PROBES = 256;
/** Sorts after every physical key that starts with the same MAX_INLINE_KEY_BYTES bytes. */
const AFTER_LONG = Buffer.alloc(DIGEST_BYTES + 2, 0xff);

const isLong = (physical: Buffer): boolean => physical.length > MAX_INLINE_KEY_BYTES;

/** The physical key of a long key at a probe (0 unless digests collide). */
function longKey(key: Buffer, probe: number): Buffer {
  const physical = Buffer.allocUnsafe(MAX_INLINE_KEY_BYTES + DIGEST_BYTES + 1);
  key.copy(physical, 0, 0, MAX_INLINE_KEY_BYTES);
  keyDigest(key).copy(physical, MAX_INLINE_KEY_BYTES);
  physical[MAX_INLINE_KEY_BYTES + DIGEST_BYTES] = probe;
  return physical;
}

/** The probe holding `key` (with its value), or the first empty probe. */
function findLong(db: BytesDb, key: Buffer): { probe: number; value: Buffer | undefined } {
  for (let probe = 0; probe < MAX_PROBES; probe++) {
    const stored = db.get(longKey(key, probe)) as Uint8Array | undefined;
    if (stored === undefined) return { probe, value: undefined };
    const [storedKey, value] = unpackWithKey(asBuffer(stored));
    if (storedKey.equals(key)) return { probe, value };
  }
  throw new StateError(`${MAX_PROBES} long keys share one digest: cannot store another`);
}

function putKey(db: BytesDb, key: Buffer, value: Buffer): void {
  if (key.length <= MAX_INLINE_KEY_BYTES) db.putSync(key, value);
  else db.putSync(longKey(key, findLong(db, key).probe), packWithKey(key, value));
}

function removeKey(db: BytesDb, key: Buffer): void {
  if (key.length <= MAX_INLINE_KEY_BYTES) {
    db.removeSync(key);
    return;
  }
  const { probe, value } = findLong(db, key);
  if (value === undefined) return;
  // Keep the chain without holes: the last entry of the chain moves into the removed one's place.
  let last = probe;
  while (last + 1 < MAX_PROBES && db.get(longKey(key, last + 1)) !== undefined) last++;
  if (last > probe) {
    const moved = db.get(longKey(key, last)) as Uint8Array;
    db.putSync(longKey(key, probe), asBuffer(moved));
    db.removeSync(longKey(key, last));
  } else db.removeSync(longKey(key, probe));
}

const dataDbName = (store: string, partition: number): string => `${DATA_DB_PREFIX}${store}:${partition}`;
const checkpointKey = (store: string, partition: number): Buffer =>
  Buffer.from(`${store}:${partition}`, "utf8");

function encodeOffset(offset: number): Buffer {
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeBigInt64BE(BigInt(offset));
  return bytes;
}

function decodeOffset(bytes: Buffer | undefined): number | undefined {
  return bytes === undefined || bytes.length !== 8 ? undefined : Number(bytes.readBigInt64BE());
}

/** lmdb-js returns copies, usually Buffers; make the type promise true without copying again. */
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

class LmdbStoreBackend implements StoreBackend {
  constructor(
    readonly store: string,
    readonly partition: number,
    readonly db: BytesDb,
    private readonly owner: LmdbStateBackend,
  ) {}

  get(key: Buffer): Buffer | undefined {
    this.#ensureOpen();
    if (key.length > MAX_INLINE_KEY_BYTES) return findLong(this.db, key).value;
    const value = this.db.get(key) as Uint8Array | undefined;
    return value === undefined ? undefined : asBuffer(value);
  }

  range(opts: BytesRange = {}): IterableIterator<[Buffer, Buffer]> {
    this.#ensureOpen();
    if (opts.limit !== undefined && opts.limit <= 0) return [][Symbol.iterator]();
    // A long bound becomes its first MAX_INLINE_KEY_BYTES bytes (from) or sorts after every long key with them
    // (to); the entries are then filtered by their full keys, and the limit counts what passes.
    const longFrom = opts.from !== undefined && opts.from.length > MAX_INLINE_KEY_BYTES;
    const longTo = opts.to !== undefined && opts.to.length > MAX_INLINE_KEY_BYTES;
    const from = longFrom ? opts.from!.subarray(0, MAX_INLINE_KEY_BYTES) : opts.from;
    const to = longTo ? Buffer.concat([opts.to!.subarray(0, MAX_INLINE_KEY_BYTES), AFTER_LONG]) : opts.to;
    const filter = longFrom || longTo ? { from: opts.from, to: opts.to } : undefined;
    const limit = filter ? undefined : opts.limit;
    // lmdb-js ranges run from `start` (inclusive) towards `end` (exclusive). Reversed, our exclusive `to` is the
    // start, and our inclusive `from` the end: flip both bounds' inclusiveness.
    const range = this.db.getRange(
      opts.reverse
        ? { start: to, end: from, reverse: true, exclusiveStart: true, inclusiveEnd: true, limit }
        : { start: from, end: to, limit },
    );
    return this.#entries(range, filter, filter ? opts.limit : undefined);
  }

  *#entries(
    range: Iterable<{ key: Buffer; value: Buffer }>,
    filter: { from?: Buffer; to?: Buffer } | undefined,
    limit = Infinity,
  ): Generator<[Buffer, Buffer]> {
    const cursor = range[Symbol.iterator]();
    let yielded = 0;
    try {
      while (yielded < limit) {
        this.#ensureOpen(); // never step a native cursor of a closed environment
        const next = cursor.next();
        if (next.done === true) return;
        const physical = asBuffer(next.value.key);
        const [key, value] = isLong(physical)
          ? unpackWithKey(asBuffer(next.value.value))
          : [physical, asBuffer(next.value.value)];
        if (filter?.from !== undefined && Buffer.compare(key, filter.from) < 0) continue;
        if (filter?.to !== undefined && Buffer.compare(key, filter.to) >= 0) continue;
        yielded++;
        yield [key, value];
      }
    } finally {
      cursor.return?.(); // ends lmdb-js's read transaction when the caller stops early
    }
  }

  approximateCount(): number {
    this.#ensureOpen();
    return (this.db.getStats() as { entryCount: number }).entryCount;
  }

  approximateBytes(): number {
    this.#ensureOpen();
    const stats = this.db.getStats() as {
      pageSize: number;
      treeBranchPageCount: number;
      treeLeafPageCount: number;
      overflowPages: number;
    };
    return (stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages) * stats.pageSize;
  }

  checkpoint(): number | undefined {
    this.#ensureOpen();
    return this.owner.readCheckpoint(this.store, this.partition);
  }

  #ensureOpen(): void {
    if (this.owner.closed) throw new StoreClosedError(this.store, this.partition);
  }
}

class LmdbStateBackend implements StateBackend {
  readonly kind = "lmdb" as const;
  readonly #env: RootDatabase<Buffer, Buffer>;
  readonly #checkpoints: BytesDb;
  readonly #stores = new Map<string, LmdbStoreBackend>();
  #closed = false;

  constructor(
    readonly path: string,
    mapSizeBytes: number,
  ) {
    try {
      this.#env = open<Buffer, Buffer>({ path, maxDbs: MAX_DBS, mapSize: mapSizeBytes, ...BYTES });
    } catch (cause) {
      throw new StateError(
        `cannot open the LMDB state directory ${path}: check that it is writable and not used by another worker ` +
          "with a different map size; deleting it is safe (state is rebuilt from the changelogs)",
        { cause },
      );
    }
    this.#checkpoints = this.#env.openDB<Buffer, Buffer>({ name: CHECKPOINT_DB, ...BYTES });
  }

  get closed(): boolean {
    return this.#closed;
  }

  open(store: string, partition: number): LmdbStoreBackend {
    if (this.#closed) throw new StoreClosedError(store, partition);
    checkStorePartition(store, partition);
    const name = dataDbName(store, partition);
    let backend = this.#stores.get(name);
    if (backend === undefined) {
      const db = this.#env.openDB<Buffer, Buffer>({ name, ...BYTES });
      backend = new LmdbStoreBackend(store, partition, db, this);
      this.#stores.set(name, backend);
    }
    return backend;
  }

  readCheckpoint(store: string, partition: number): number | undefined {
    return decodeOffset(this.#checkpoints.get(checkpointKey(store, partition)) as Buffer | undefined);
  }

  apply(batches: ApplyBatch[]): void {
    if (batches.length === 0) return;
    // Open (create) the sub-databases before the write transaction: opening one is itself a transaction.
    const targets = batches.map((batch) => {
      if (batch.checkpoint !== undefined) checkOffset(batch.store, batch.partition, batch.checkpoint);
      return { batch, db: this.open(batch.store, batch.partition).db };
    });
    // One synchronous LMDB write transaction for everything: a throw anywhere (including from a writes iterable)
    // aborts it, leaving neither writes nor checkpoints behind. LMDB commits the whole batch at once, so a
    // 100k-write restore batch costs one commit, not 100k.
    this.#env.transactionSync(() => {
      for (const { batch, db } of targets) {
        for (const [key, value] of batch.writes) {
          if (key.length === 0) throw new InvalidStoreKeyError(batch.store, "keys must not be empty");
          try {
            if (value === null) removeKey(db, key);
            else putKey(db, key, value);
          } catch (cause) {
            throw new StateError(
              `state store "${batch.store}" partition ${batch.partition}: LMDB write failed (${(cause as Error).message}); ` +
                "the whole commit was rolled back",
              { cause },
            );
          }
        }
        if (batch.checkpoint !== undefined) {
          this.#checkpoints.putSync(
            checkpointKey(batch.store, batch.partition),
            encodeOffset(batch.checkpoint),
          );
        }
      }
    });
  }

  wipe(store: string, partition: number): void {
    const { db } = this.open(store, partition);
    this.#env.transactionSync(() => {
      db.clearSync();
      this.#checkpoints.removeSync(checkpointKey(store, partition));
    });
  }

  /** Reads the sub-database names from LMDB's root database, so it also sees what an earlier process wrote. */
  list(): StoreInventoryEntry[] {
    if (this.#closed) throw new StoreClosedError("(all stores)");
    const found: StoreInventoryEntry[] = [];
    for (const raw of this.#env.getKeys()) {
      const name = asBuffer(raw as Uint8Array)
        .toString("utf8")
        .replace(/\0$/, "");
      if (!name.startsWith(DATA_DB_PREFIX)) continue;
      const separator = name.lastIndexOf(":");
      const store = name.slice(DATA_DB_PREFIX.length, separator);
      const partition = Number(name.slice(separator + 1));
      if (store.length === 0 || !Number.isInteger(partition)) continue;
      const backend = this.open(store, partition);
      found.push({ store, partition, checkpoint: backend.checkpoint(), entries: backend.approximateCount() });
    }
    return found.sort((a, b) => (a.store < b.store ? -1 : a.store > b.store ? 1 : a.partition - b.partition));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stores.clear();
    // Only synchronous writes are ever issued, so nothing is pending and lmdb-js closes synchronously; the
    // returned promise carries nothing we need.
    void this.#env.close();
  }
}

/**
 * Open (or create) the LMDB state of one worker directory: one environment, a sub-database per store-partition,
 * and checkpoints written in the same transaction as the data (what a {@link weir!Worker} runs on; Kafka Streams uses
 * RocksDB in this role). `mapSizeBytes` defaults to {@link DEFAULT_MAP_SIZE_BYTES}.
 *
 * @example
 * ```ts
 * import { TopologyTestDriver, type Topology } from "weir";
 * import { openLmdbState } from "weir/state";
 *
 * declare const topology: Topology;
 * // Run the test driver on LMDB, as the worker does.
 * const driver = new TopologyTestDriver(topology, { state: openLmdbState({ path: "/tmp/weir-driver" }) });
 * ```
 */
export function openLmdbState(options: { path: string; mapSizeBytes?: number }): StateBackend {
  return new LmdbStateBackend(options.path, options.mapSizeBytes ?? DEFAULT_MAP_SIZE_BYTES);
}
