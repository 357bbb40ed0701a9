/**
 * The state layer's public surface: store contracts, the LMDB and memory backends, the per-task write buffer, the
 * typed store facades, and restore decisions. Everything else in `state/` is internal.
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
export { windowStore } from "./window-store.js";
export {
  sessionStore,
  sessionValueSerde,
  type SessionStore,
  type SessionEntry,
  type SessionValue,
} from "./session-store.js";
export { decideRestore, type RestorePlan, type RestoreInput } from "./restore.js";
export { StateError, StoreClosedError, InvalidStoreKeyError } from "./errors.js";
