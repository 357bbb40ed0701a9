/**
 * Recovery decided in one place, with named checks (after Quix Streams' `state/recovery.py`): from the local
 * checkpoint and the changelog partition's watermarks, what must restore do before the task may process records?
 *
 * Offsets: the checkpoint is the offset of the last changelog record applied locally; the high watermark is the
 * offset the next record would get (exclusive end). Under exactly-once a transaction's commit marker occupies an
 * offset too, so after a clean commit the checkpoint is usually highWatermark − 2, and the offsets between it and
 * the high watermark hold only markers: there is nothing to replay.
 */

export type RestorePlan =
  | { action: "up-to-date"; reason: string }
  | { action: "replay"; fromOffset: number; toOffset: number; reason: string }
  | { action: "wipe-and-rebuild"; fromOffset: number; toOffset: number; reason: string };

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
