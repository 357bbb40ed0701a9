/**
 * The chaos run, shortened for CI (the full one is `npm run chaos`, docs/reliability.md): the order pipeline with two
 * workers on a three-broker cluster of its own, under continuous load with bad input mixed in, and one fault of each
 * kind that matters most — a worker SIGKILLed, a broker SIGKILLed and restarted, a worker paused past the session
 * timeout (a zombie) — then drained and verified: no status missing or doubled, stock exact, every bad record where
 * it belongs.
 */
import { describe, expect, it } from "vitest";
import { runChaos } from "../helpers/chaos.js";

describe("chaos (shortened)", () => {
  it("a worker SIGKILLed, a broker SIGKILLed, a zombie: every order one status, stock exact", async () => {
    const report = await runChaos({
      orders: 3000,
      workers: 2,
      durationMs: 90_000,
      seed: 42,
      schedule: [
        { atMs: 15_000, kind: "worker-kill" },
        { atMs: 35_000, kind: "broker-kill" },
        { atMs: 62_000, kind: "zombie" },
      ],
      badInput: 1000,
      clusterPort: 19560,
      log: (l) => console.log(l),
    });
    console.log(`chaos report: ${JSON.stringify({ ...report, checks: undefined })}`);
    expect(report.faults).toEqual({ "worker-kill": 1, "broker-kill": 1, zombie: 1 });
    expect(report.checks, JSON.stringify(report.checks)).toMatchObject({
      exactlyOneStatus: { ok: true },
      outcomes: { ok: true },
      stock: { ok: true },
      deadLetters: { ok: true },
      badInput: { ok: true },
    });
    expect(report).toMatchObject({ ok: true, duplicated: 0, missing: 0, unknown: 0, stockViolations: 0 });
    expect(report.latencyMs.statuses).toBeGreaterThan(1000);
  }, 400_000);
});
