/**
 * Recovery decided in one place, with named checks (after Quix Streams' `state/recovery.py`): from the local
 * checkpoint and the changelog partition's watermarks, what must restore do before the task may process records?
 *
 * Offsets: the checkpoint is the offset of the last changelog record applied locally; the high watermark is the
 * offset the next record would get (exclusive end). Under exactly-once a transaction's commit marker occupies an
 * offset too, so after a clean commit the checkpoint is usually highWatermark − 2, and the offsets between it and
 * the high watermark hold only markers: there is nothing to replay.
 */

/**
 * What restore must do for a store-partition before its task may process records: nothing (`up-to-date`),
 * replay the changelog from `fromOffset` to `toOffset` (exclusive) onto the local state (`replay`), or wipe the
 * local state and rebuild it from the changelog (`wipe-and-rebuild`). `reason` says why, for the log.
 *
 * @example
 * ```ts
 * import { decideRestore, type RestorePlan } from "weir/state";
 *
 * const plan: RestorePlan = decideRestore({ checkpoint: 99, lowWatermark: 0, highWatermark: 150 });
 * if (plan.action !== "up-to-date") console.log(`restore ${plan.fromOffset}..${plan.toOffset}: ${plan.reason}`);
 * ```
 */
export type RestorePlan =
  | {
      /** Nothing to restore. */
      action: "up-to-date";
      /** Why, for the log. */
      reason: string;
    }
  | {
      /** Replay the changelog onto the local state. */
      action: "replay";
      /** The first changelog offset to read. */
      fromOffset: number;
      /** The offset to read up to (exclusive). */
      toOffset: number;
      /** Why, for the log. */
      reason: string;
    }
  | {
      /** Wipe the local state, then replay the changelog. */
      action: "wipe-and-rebuild";
      /** The first changelog offset to read. */
      fromOffset: number;
      /** The offset to read up to (exclusive). */
      toOffset: number;
      /** Why, for the log. */
      reason: string;
    };

/**
 * What {@link decideRestore} decides from: the local checkpoint and the changelog partition's watermarks.
 *
 * @example
 * ```ts
 * import type { RestoreInput } from "weir/state";
 *
 * const input: RestoreInput = { checkpoint: undefined, lowWatermark: 0, highWatermark: 42 }; // a new worker
 * ```
 */
export interface RestoreInput {
  /** Offset of the last changelog record applied locally, undefined if none ever was (or the state was wiped). */
  checkpoint: number | undefined;
  /** First offset still in the changelog partition. */
  lowWatermark: number;
  /** The offset after the last one in the changelog partition (exclusive end). */
  highWatermark: number;
}

/** No checkpoint: this store-partition was never restored here (new worker, deleted directory, wiped). */
export const hasNoCheckpoint = (input: RestoreInput): boolean => input.checkpoint === undefined;

/** The checkpoint is at or past the changelog's end: the changelog topic was deleted and recreated. */
export const isCheckpointBeyondChangelog = (checkpoint: number, input: RestoreInput): boolean =>
  checkpoint >= input.highWatermark;

/** Records after the checkpoint were deleted before we applied them (retention or compaction cleanup). */
export const hasUnappliedRecordsDeleted = (checkpoint: number, input: RestoreInput): boolean =>
  checkpoint + 1 < input.lowWatermark;

/** Nothing after the checkpoint, or only transaction markers (which are never delivered). */
export const isCaughtUp = (checkpoint: number, input: RestoreInput): boolean =>
  checkpoint + 1 >= input.highWatermark;

/**
 * Decide what restore must do for a store-partition (after Quix Streams' recovery checks): from the local
 * checkpoint and the changelog's watermarks, replay what is missing, or wipe and rebuild when the changelog was
 * recreated or records after the checkpoint were deleted. Throws a RangeError for impossible watermarks.
 *
 * @example
 * ```ts
 * import { decideRestore } from "weir/state";
 *
 * decideRestore({ checkpoint: undefined, lowWatermark: 0, highWatermark: 100 }).action; // "replay" (0 to 100)
 * decideRestore({ checkpoint: 99, lowWatermark: 0, highWatermark: 100 }).action; // "up-to-date"
 * decideRestore({ checkpoint: 500, lowWatermark: 0, highWatermark: 100 }).action; // "wipe-and-rebuild"
 * ```
 */
export function decideRestore(input: RestoreInput): RestorePlan {
  const { checkpoint, lowWatermark, highWatermark } = input;
  if (lowWatermark > highWatermark || lowWatermark < 0) {
    throw new RangeError(`invalid changelog watermarks: low ${lowWatermark}, high ${highWatermark}`);
  }

  if (checkpoint === undefined) {
    if (lowWatermark === highWatermark) {
      return {
        action: "up-to-date",
        reason: "no local checkpoint and the changelog is empty: nothing to restore",
      };
    }
    return {
      action: "replay",
      fromOffset: lowWatermark,
      toOffset: highWatermark,
      reason:
        `no local checkpoint: restoring the whole changelog, offsets ${lowWatermark} to ${highWatermark} ` +
        `(up to ${highWatermark - lowWatermark} records)`,
    };
  }

  if (isCheckpointBeyondChangelog(checkpoint, input)) {
    return {
      action: "wipe-and-rebuild",
      fromOffset: lowWatermark,
      toOffset: highWatermark,
      reason:
        `local checkpoint ${checkpoint} is at or past the changelog's end (high watermark ${highWatermark}): ` +
        "the changelog topic was recreated; wiping local state and rebuilding it " +
        `from offsets ${lowWatermark} to ${highWatermark}`,
    };
  }

  if (hasUnappliedRecordsDeleted(checkpoint, input)) {
    return {
      action: "wipe-and-rebuild",
      fromOffset: lowWatermark,
      toOffset: highWatermark,
      reason:
        `local checkpoint ${checkpoint} is older than the changelog's first offset ${lowWatermark}: ` +
        `records ${checkpoint + 1} to ${lowWatermark - 1} were deleted before they were applied; ` +
        `wiping local state and rebuilding it from offsets ${lowWatermark} to ${highWatermark}`,
    };
  }

  if (isCaughtUp(checkpoint, input)) {
    return {
      action: "up-to-date",
      reason: `local checkpoint ${checkpoint} is at the changelog's end (high watermark ${highWatermark}): nothing to restore`,
    };
  }

  return {
    action: "replay",
    fromOffset: checkpoint + 1,
    toOffset: highWatermark,
    reason:
      `local checkpoint ${checkpoint}, changelog ends at ${highWatermark}: replaying offsets ${checkpoint + 1} ` +
      `to ${highWatermark} (up to ${highWatermark - checkpoint - 1} records; transaction markers take offsets too)`,
  };
}
