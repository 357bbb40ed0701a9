/**
 * The state layer's public surface (`weir/state`): store contracts, the LMDB and memory backends, the per-task
 * write buffer, the typed store facades, and restore decisions. Everything else in `state/` is internal.
 * Processors only need the store interfaces ({@link KeyValueStore}, {@link WindowStore}), which `weir` exports too;
 * the rest is for tools and tests built on weir's state.
 *
 * @example
 * ```ts
 * import { Serdes } from "weir";
 * import { BufferedStore, keyValueStore, openMemoryState } from "weir/state";
 *
 * const state = openMemoryState();
 * const buffer = new BufferedStore(state.open("stock", 0));
 * const stock = keyValueStore("stock", buffer, { key: Serdes.string(), value: Serdes.int32() });
 * stock.put("SKU-1", 7);
 * state.apply([{ store: "stock", partition: 0, writes: buffer.drain(), checkpoint: 0 }]);
 * ```
 *
 * @module weir/state
 */
export type {
  Serde,
  KeyValue,
  KeyValueStore,
  WindowStore,
  WindowedEntry,
  RangeOptions,
  StoreLifecycle,
  StateStore,
} from "./types.js";
export type { BytesRange, StoreBackend, ApplyBatch, StateBackend, StoreInventoryEntry } from "./backend.js";
export { openLmdbState, DEFAULT_MAP_SIZE_BYTES, MAX_INLINE_KEY_BYTES } from "./lmdb-backend.js";
export { openMemoryState } from "./memory-backend.js";
export { BufferedStore } from "./buffered-store.js";
export { keyValueStore } from "./key-value-store.js";
export { windowStore, type WindowStoreOptions } from "./window-store.js";
export {
  sessionStore,
  sessionValueSerde,
  type SessionStore,
  type SessionEntry,
  type SessionValue,
} from "./session-store.js";
export { decideRestore, type RestorePlan, type RestoreInput } from "./restore.js";
export { StateError, StoreClosedError, InvalidStoreKeyError } from "./errors.js";
