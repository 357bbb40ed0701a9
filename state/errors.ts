/** Errors of the state layer. Each names the store (and partition when known) and says what to do. */

/**
 * The base class of the state layer's errors. Each names the store (and partition when known) and says what to do.
 *
 * @example
 * ```ts
 * import { StateError, type KeyValueStore } from "weir/state";
 *
 * declare const store: KeyValueStore<string, number>;
 * try {
 *   store.put("k", 1);
 * } catch (err) {
 *   if (err instanceof StateError) console.error(err.name, err.message);
 * }
 * ```
 */
export class StateError extends Error {
  /**
   * An error with its message; `name` becomes the concrete class's name.
   *
   * @param message what went wrong and what to do
   * @param options the underlying `cause`
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A store, store-partition or whole state backend was used after `close()` — typically a processor that kept a
 * store reference after its task was closed or revoked.
 *
 * @example
 * ```ts
 * import { Serdes } from "weir";
 * import { BufferedStore, StoreClosedError, keyValueStore, openMemoryState } from "weir/state";
 *
 * const store = keyValueStore("counts", new BufferedStore(openMemoryState().open("counts", 0)), {
 *   key: Serdes.string(),
 *   value: Serdes.number(),
 * });
 * store.close();
 * try {
 *   store.get("a");
 * } catch (err) {
 *   console.log(err instanceof StoreClosedError); // true
 * }
 * ```
 */
export class StoreClosedError extends StateError {
  /**
   * The error for a closed store; the message says so and names it.
   *
   * @param store the store's name
   * @param partition the partition, when known
   */
  constructor(
    /** The store's name. */
    readonly store: string,
    /** The partition, when known. */
    readonly partition?: number,
  ) {
    super(
      `state store "${store}"${partition === undefined ? "" : ` partition ${partition}`} is closed; ` +
        "it was used after its task was closed or revoked (a processor must not keep store references across tasks)",
    );
  }
}

/**
 * A key the backend cannot hold (LMDB rejects empty keys). Both backends reject it so they behave the same.
 *
 * @example
 * ```ts
 * import { BufferedStore, InvalidStoreKeyError, openMemoryState } from "weir/state";
 *
 * const buffer = new BufferedStore(openMemoryState().open("names", 0));
 * try {
 *   buffer.put(Buffer.alloc(0), Buffer.from("x"));
 * } catch (err) {
 *   console.log(err instanceof InvalidStoreKeyError); // true: keys must not be empty
 * }
 * ```
 */
export class InvalidStoreKeyError extends StateError {
  /**
   * The error for a key `store` cannot hold.
   *
   * @param store the store's name
   * @param reason what is wrong with the key
   */
  constructor(
    /** The store's name. */
    readonly store: string,
    reason: string,
  ) {
    super(`state store "${store}": ${reason}`);
  }
}
