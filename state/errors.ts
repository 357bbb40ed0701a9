/** Errors of the state layer. Each names the store (and partition when known) and says what to do. */

export class StateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A store, store-partition or whole state backend was used after `close()`. */
export class StoreClosedError extends StateError {
  constructor(
    readonly store: string,
    readonly partition?: number,
  ) {
    super(
      `state store "${store}"${partition === undefined ? "" : ` partition ${partition}`} is closed; ` +
        "it was used after its task was closed or revoked (a processor must not keep store references across tasks)",
    );
  }
}

/** A key the backend cannot hold (LMDB rejects empty keys). Both backends reject it so they behave the same. */
export class InvalidStoreKeyError extends StateError {
  constructor(
    readonly store: string,
    reason: string,
  ) {
    super(`state store "${store}": ${reason}`);
  }
}
