/**
 * `weir worker` as operators live with it: SIGTERM under load is a clean exit 0 with nothing duplicated after a
 * restart; a worker started before its broker retries with a clear log line and recovers when the broker comes up.
 */
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { CountApp } from "../helpers/count-app.js";
import { endOffsets, waitFor } from "../helpers/kafka.js";
import { REPO, tempDir, type WorkerProcess } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

describe("weir worker lifecycle", () => {
  it("SIGTERM during load: exit 0 within the bound, and no duplicated output after restart", async () => {
    const app = new CountApp(200, 3);
    await app.createTopics();
    await app.produce(60_000);
    const first = track(app.worker().start());
    await waitFor(
      "the worker to be busy",
      async () => {
        const out = [...(await endOffsets(app.output)).values()].reduce((a, b) => a + b, 0);
        return out > 2000 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const signalled = Date.now();
    first.kill("SIGTERM");
    const exit = await first.exited(30_000);
    const tookMs = Date.now() - signalled;
    console.log(`SIGTERM under load: exit ${exit.code} after ${tookMs} ms`);
    expect(exit.code).toBe(0);
    expect(first.logs.some((l) => l.msg === "worker stopped")).toBe(true);
    expect(first.logs.some((l) => l.level === "error")).toBe(false);

    const second = track(app.worker({ stateDir: first.stateDir }).start());
    await second.waitReady();
    // A clean stop checkpointed everything: nothing to replay.
    expect(second.restored().every((r) => r.records === 0)).toBe(true);
    await app.waitCommitted();
    await app.expectExactOutput();
  });

  it("a worker started before the broker keeps retrying with a clear log line and recovers", async () => {
    const port = 19092 + Math.floor(Math.random() * 500);
    const home = tempDir("weir-late-broker");
    const env = {
      WEIR_BROKER_PORT: String(port),
      WEIR_CONTROLLER_PORT: String(port + 1000),
      WEIR_HOME: home,
      KAFKA_BROKERS: "",
    };
    const broker = (cmd: string) =>
      execFileSync("bash", ["scripts/broker.sh", cmd], {
        cwd: REPO,
        env: { ...process.env, ...env },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    const app = new CountApp(10, 1);
    const w = track(app.worker({ args: ["--brokers", `127.0.0.1:${port}`] }).start());
    try {
      const warning = await w.waitForLog(
        (l) => l.level === "warn" && /unreachable\? retrying/.test(l.msg),
        60_000,
        "a retry warning",
      );
      expect(warning.msg).toContain(`127.0.0.1:${port}`);
      await new Promise((r) => setTimeout(r, 3000));
      expect(w.logs.some((l) => l.msg === "worker running")).toBe(false);
      expect(w.logs.some((l) => l.level === "error")).toBe(false); // retrying, not crashing

      // Share the jars the main broker provisioned, so the second broker starts without Maven.
      execFileSync("bash", [
        "-c",
        `mkdir -p ${home} && ln -s ${REPO}/.weir/kafka-* ${home}/ 2>/dev/null || true`,
      ]);
      broker("start");
      // The test helpers talk to the late broker from here on.
      const kafka = process.env.KAFKA_BROKERS;
      process.env.KAFKA_BROKERS = `127.0.0.1:${port}`;
      try {
        await app.createTopics();
        await w.waitForLog(
          (l) => l.msg === "worker running",
          120_000,
          "the worker to start once the broker is up",
        );
        await w.waitReady(120_000);
        await app.produce(500);
        await app.waitCommitted();
        await app.expectExactOutput();
      } finally {
        process.env.KAFKA_BROKERS = kafka;
      }
    } finally {
      await w.stop();
      try {
        broker("stop");
      } catch {
        // already stopped
      }
    }
  });
});
