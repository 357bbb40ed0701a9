/**
 * Exactly-once through hand-overs, tried the way Kafka's own Streams system tests try it: three workers, continuous
 * load, 100 ms commits, a worker SIGKILLed between sendOffsetsToTransaction and commitTransaction at least 20 times
 * and restarted (with its state, after a pause, or on a fresh state directory). Every output partition must equal the
 * running fold of its input partition up to the committed offset. The bounded CI form runs about three minutes;
 * `npm run crash-loop -- --duration 600` runs the long one.
 */
import { describe, expect, it } from "vitest";
import { runCrashLoop } from "../helpers/crash-loop.js";

describe("crash loop", () => {
  it("20+ SIGKILLs mid-commit across three workers: no output missing, doubled or wrong", async () => {
    const report = await runCrashLoop({
      durationMs: 90_000,
      minKills: 20,
      rate: 1000,
      log: (l) => console.log(l),
    });
    console.log("crash loop report:", JSON.stringify(report));
    expect(report.kills).toBeGreaterThanOrEqual(20);
    // The run exercised what it is for: hand-overs while a dead worker's transaction was undecided.
    expect(report.offsetWaits + report.restoreWaits).toBeGreaterThan(0);
    expect(report.inputs).toBeGreaterThan(30_000);
    expect({
      duplicates: report.duplicates,
      missing: report.missing,
      wrong: report.wrong,
      firstProblems: report.firstProblems,
    }).toEqual({ duplicates: 0, missing: 0, wrong: 0, firstProblems: [] });
    expect(report.outputs).toBe(report.inputs);
  }, 900_000);
});
