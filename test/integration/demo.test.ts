/**
 * `weir demo` end to end on the real broker: the order pipeline with two worker processes, calling the risk service
 * the demo starts, passes its verifier, also when a worker is killed (SIGKILL) mid-run and restarted.
 */
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startRiskService } from "../../processors/risk-service.js";
import { consumeAll } from "../helpers/kafka.js";
import { WorkerProcess, cliJson, runWeir } from "../helpers/worker-process.js";

interface DemoResult {
  code: number | null;
  stderr: string;
  summary: {
    ok: boolean;
    orders: number;
    statuses: Record<string, number>;
    checks: Record<string, { ok: boolean; categories?: Record<string, { records: number; asOwed: number }> }>;
    workersRunningAtEnd: number;
    logs: string;
    riskService: { calls: number; failures: number; badRequests: number };
    throughputOrdersPerSecond: number;
    elapsedSeconds: number;
  };
}

function demo(args: string[], timeoutMs: number): Promise<DemoResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bin/weir.ts", "demo", "--json", ...args], {
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      reject(
        new Error(
          `weir demo ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr:\n${stderr.slice(-3000)}`,
        ),
      );
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve({ code, stderr, summary: JSON.parse(line) as DemoResult["summary"] });
      } catch {
        reject(
          new Error(
            `weir demo printed no JSON summary (exit ${code}); stdout:\n${stdout}\nstderr:\n${stderr.slice(-3000)}`,
          ),
        );
      }
    });
  });
}

const total = (statuses: Record<string, number>) => Object.values(statuses).reduce((a, b) => a + b, 0);

describe("weir demo (real broker)", () => {
  // One run covers both the plain pipeline and the demo's own chaos (`--kill-after`): a worker SIGKILLed mid-run and
  // restarted must change nothing a user can see. (A run without the kill was a second case of ~40 s; the chaos
  // test covers kills in more depth.)
  it("20000 orders, 2 workers, one SIGKILLed mid-run and restarted: every order gets exactly one status and the verifier passes", async () => {
    const { code, summary, stderr } = await demo(
      ["--orders", "20000", "--workers", "2", "--kill-after", "6"],
      240_000,
    );
    expect(stderr).toMatch(/chaos: SIGKILL worker 0/);
    expect(stderr).toMatch(/chaos: worker 0 restarted/);
    expect(summary.checks, stderr.slice(-2000)).toMatchObject({
      exactlyOneStatus: { ok: true },
      outcomes: { ok: true },
      stock: { ok: true },
      deadLetters: { ok: true },
    });
    expect(code).toBe(0);
    expect(total(summary.statuses)).toBe(20000);
    for (const status of [
      "CONFIRMED",
      "REJECTED_INVALID",
      "REJECTED_RISK",
      "REJECTED_PAYMENT",
      "REJECTED_STOCK",
    ])
      expect(summary.statuses[status], status).toBeGreaterThan(0);
    // The risk service (started by the demo, 1 % of 503s by default) answered every valid order; its 503s were
    // retried, none ran out of attempts (no unexpected dead letters above). Calls repeated after the kill only add.
    expect(summary.riskService.calls - summary.riskService.failures).toBeGreaterThanOrEqual(
      20000 - summary.statuses.REJECTED_INVALID!,
    );
    expect(summary.riskService.badRequests).toBe(0);
  }, 250_000);

  const running: WorkerProcess[] = [];
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop()));
    await Promise.all(closing.splice(0).map((close) => close()));
  });

  it("10,000 bad records among 2,000 orders: each gets what it is owed, no worker fails; replayed dead letters come back once", async () => {
    const { code, summary, stderr } = await demo(
      ["--orders", "2000", "--bad-input", "10000", "--workers", "2", "--seed", "17"],
      240_000,
    );
    const bad = summary.checks.badInput!;
    expect(bad, JSON.stringify((bad as unknown as { wrong: unknown }).wrong)).toMatchObject({ ok: true });
    expect(summary.checks, stderr.slice(-2000)).toMatchObject({
      exactlyOneStatus: { ok: true },
      outcomes: { ok: true },
      stock: { ok: true },
      deadLetters: { ok: true },
    });
    expect(code).toBe(0);
    const categories = Object.entries(bad.categories!);
    expect(categories.length).toBeGreaterThanOrEqual(20);
    expect(categories.reduce((n, [, c]) => n + c.records, 0)).toBe(10_000);
    for (const [name, c] of categories) expect(c.asOwed, name).toBe(c.records);
    // No worker crashed or was restarted: both ran to the end, each with one log (one process).
    expect(summary.workersRunningAtEnd).toBe(2);
    const logs = readdirSync(summary.logs).filter((f) => f.endsWith(".log"));
    expect(logs.sort()).toEqual(["worker-0.0.log", "worker-1.0.log"]);
    for (const log of logs)
      expect(readFileSync(join(summary.logs, log), "utf8")).not.toMatch(/"msg":"worker failed"/);

    // Re-drive the dead letters into their topics: still bad, each comes back to the dead-letter topic once, and the
    // new dead letters are not replayed again (the replay ends at the topic's end when it starts).
    const dlq = "weir-orders-dlq";
    const before = await consumeAll(dlq, { isolation: "read_committed", timeoutMs: 60_000 });
    expect(before.length).toBeGreaterThan(3000);
    const risk = await startRiskService({ failureRate: 0 });
    closing.push(() => risk.close());
    const worker = new WorkerProcess({ args: ["--partitions", "4", "--risk-url", risk.url] });
    running.push(worker.start());
    await worker.waitReady(120_000);
    const replay = cliJson(await runWeir(["replay", "--dead-letters", "--json"]));
    expect(replay).toMatchObject({ records: before.length });
    await consumeAll(dlq, { isolation: "read_committed", expected: 2 * before.length, timeoutMs: 90_000 });
    await new Promise((r) => setTimeout(r, 5000));
    const after = await consumeAll(dlq, { isolation: "read_committed", timeoutMs: 60_000 });
    expect(after.length).toBe(2 * before.length);
    const keys = (records: typeof before) => records.map((r) => r.key ?? "<null>").sort();
    expect(keys(after.slice(before.length))).toEqual(keys(before));
  }, 400_000);
});
