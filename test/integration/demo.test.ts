/**
 * `weir demo` end to end on the real broker: the order pipeline with two worker processes, calling the risk service
 * the demo starts, passes its verifier, also when a worker is killed (SIGKILL) mid-run and restarted.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

interface DemoResult {
  code: number | null;
  stderr: string;
  summary: {
    ok: boolean;
    orders: number;
    statuses: Record<string, number>;
    checks: Record<string, { ok: boolean }>;
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
  it("20000 orders, 2 workers: every order gets exactly one status and the verifier passes", async () => {
    const { code, summary, stderr } = await demo(["--orders", "20000", "--workers", "2"], 240_000);
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
    // retried, none ran out of attempts (no unexpected dead letters above).
    expect(summary.riskService.calls - summary.riskService.failures).toBeGreaterThanOrEqual(
      20000 - summary.statuses.REJECTED_INVALID!,
    );
    expect(summary.riskService.badRequests).toBe(0);
  }, 250_000);

  it("the same with a worker killed (SIGKILL) mid-run and restarted", async () => {
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
  }, 250_000);
});
