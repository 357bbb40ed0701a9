import { describe, expect, it } from "vitest";
import { decideRestore, type RestorePlan } from "./index.js";

describe("decideRestore", () => {
  const cases: Array<{
    name: string;
    input: Parameters<typeof decideRestore>[0];
    expected: Omit<RestorePlan, "reason"> & { fromOffset?: number; toOffset?: number };
    reason: RegExp;
  }> = [
    {
      name: "no checkpoint: replay the whole changelog from the low watermark",
      input: { checkpoint: undefined, lowWatermark: 120, highWatermark: 500 },
      expected: { action: "replay", fromOffset: 120, toOffset: 500 },
      reason: /no local checkpoint.*120 to 500/,
    },
    {
      name: "no checkpoint and an empty changelog: nothing to do",
      input: { checkpoint: undefined, lowWatermark: 30, highWatermark: 30 },
      expected: { action: "up-to-date" },
      reason: /changelog is empty/,
    },
    {
      name: "checkpoint is the last offset: up to date",
      input: { checkpoint: 499, lowWatermark: 0, highWatermark: 500 },
      expected: { action: "up-to-date" },
      reason: /checkpoint 499.*high watermark 500/,
    },
    {
      name: "checkpoint at HW-2 (exactly-once commit marker after it): replay, which reads only the marker",
      input: { checkpoint: 498, lowWatermark: 0, highWatermark: 500 },
      expected: { action: "replay", fromOffset: 499, toOffset: 500 },
      reason: /replaying offsets 499 to 500/,
    },
    {
      name: "records after the checkpoint: replay from checkpoint + 1 to the high watermark",
      input: { checkpoint: 100, lowWatermark: 0, highWatermark: 500 },
      expected: { action: "replay", fromOffset: 101, toOffset: 500 },
      reason: /checkpoint 100.*replaying offsets 101 to 500/,
    },
    {
      name: "checkpoint + 1 is exactly the low watermark: replay (nothing was lost)",
      input: { checkpoint: 99, lowWatermark: 100, highWatermark: 500 },
      expected: { action: "replay", fromOffset: 100, toOffset: 500 },
      reason: /replaying offsets 100 to 500/,
    },
    {
      name: "checkpoint at the high watermark: topic recreated, wipe and rebuild",
      input: { checkpoint: 500, lowWatermark: 0, highWatermark: 500 },
      expected: { action: "wipe-and-rebuild", fromOffset: 0, toOffset: 500 },
      reason: /checkpoint 500 is at or past the changelog's end \(high watermark 500\).*recreated.*wiping/,
    },
    {
      name: "checkpoint far past the end of a recreated, empty changelog: wipe and rebuild",
      input: { checkpoint: 9_000, lowWatermark: 0, highWatermark: 0 },
      expected: { action: "wipe-and-rebuild", fromOffset: 0, toOffset: 0 },
      reason: /checkpoint 9000.*high watermark 0/,
    },
    {
      name: "records after the checkpoint were deleted before being applied: wipe and rebuild",
      input: { checkpoint: 50, lowWatermark: 200, highWatermark: 500 },
      expected: { action: "wipe-and-rebuild", fromOffset: 200, toOffset: 500 },
      reason: /checkpoint 50 is older than the changelog's first offset 200: records 51 to 199 were deleted/,
    },
  ];

  it.each(cases)("$name", ({ input, expected, reason }) => {
    const plan = decideRestore(input);
    expect(plan).toMatchObject(expected);
    expect(Object.keys(plan).sort()).toEqual([...Object.keys(expected), "reason"].sort());
    expect(plan.reason).toMatch(reason);
  });

  it("rejects watermarks that cannot come from Kafka", () => {
    expect(() => decideRestore({ checkpoint: 1, lowWatermark: 10, highWatermark: 5 })).toThrow(
      /low 10, high 5/,
    );
  });
});
