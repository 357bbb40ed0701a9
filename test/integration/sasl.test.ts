/**
 * SASL/SCRAM-SHA-256 against a real broker of this test's own (`scripts/broker.sh start --sasl`: a SASL_PLAINTEXT
 * listener next to the PLAINTEXT one, which the test helpers keep using to create topics and read results).
 *
 * A worker with the right credentials processes records exactly once through the SASL listener. With a wrong
 * password it stops once, within a bound, exit 2, saying that SASL authentication failed for which user, mechanism
 * and broker, never ready meanwhile. The password is printed nowhere, even with --log-level debug. A client without
 * SASL at the SASL port is told what to check; a SASL client at the PLAINTEXT port is refused clearly.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CountApp } from "../helpers/count-app.js";
import { consumeAll } from "../helpers/kafka.js";
import { REPO, runWeir, type WorkerProcess } from "../helpers/worker-process.js";

/** This test's broker (ports of its own: the shared broker keeps serving the other test files). */
const PORT = 19650;
const SASL_PORT = PORT + 2;
const USER = "weir-sasl-test";
const PASSWORD = "right-Pa55word-7f3c";
const WRONG = "wrong-Pa55word-91ab";
/** How long a worker refused by the broker may take to stop: one connect timeout (10 s) and start-up. */
const FATAL_BOUND_MS = 30_000;

const brokerEnv: NodeJS.ProcessEnv = {
  ...process.env,
  WEIR_BROKER_PORT: String(PORT),
  WEIR_CONTROLLER_PORT: String(PORT + 1),
  WEIR_SASL_PORT: String(SASL_PORT),
  WEIR_SASL_USER: USER,
  WEIR_SASL_PASSWORD: PASSWORD,
};
delete brokerEnv.KAFKA_BROKERS;
const broker = (...args: string[]) =>
  execFileSync("bash", [join(REPO, "scripts/broker.sh"), ...args], {
    env: brokerEnv,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop()!;

/** The worker's settings for the SASL listener, as an operator passes them (WEIR_KAFKA_*). */
const saslEnv = (password: string): Record<string, string> => ({
  WEIR_KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
  WEIR_KAFKA_SASL_MECHANISMS: "SCRAM-SHA-256",
  WEIR_KAFKA_SASL_USERNAME: USER,
  WEIR_KAFKA_SASL_PASSWORD: password,
});

const shared = process.env.KAFKA_BROKERS;
beforeAll(() => {
  broker("stop");
  process.env.KAFKA_BROKERS = broker("start", "--sasl");
  expect(broker("address", "--sasl")).toBe(`127.0.0.1:${SASL_PORT}`);
}, 180_000);
afterAll(() => {
  process.env.KAFKA_BROKERS = shared;
  broker("stop");
}, 60_000);

const running: WorkerProcess[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

/** Every line the process wrote, on either stream. */
const everyLine = (w: WorkerProcess) => [...w.stdout, ...w.stderr];

/** /readyz polled until the worker exits: the statuses it answered. */
async function readinessUntilExit(w: WorkerProcess): Promise<number[]> {
  const statuses: number[] = [];
  let exited = false;
  void w.exited(FATAL_BOUND_MS * 2).then(
    () => (exited = true),
    () => (exited = true),
  );
  while (!exited) {
    const url = w.logs.find((l) => l.msg === "http server listening")?.url;
    if (typeof url === "string") {
      const res = await fetch(`${url}/readyz`).catch(() => undefined);
      if (res) statuses.push(res.status);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return statuses;
}

describe("SASL/SCRAM", () => {
  it("with the right credentials, a worker processes every record exactly once and prints no password", async () => {
    const app = new CountApp(20, 2);
    await app.createTopics();
    await app.produce(300);
    const w = track(
      app
        .worker({
          args: ["--brokers", `127.0.0.1:${SASL_PORT}`, "--log-level", "debug"],
          env: saslEnv(PASSWORD),
        })
        .start(),
    );
    await w.waitReady(90_000);
    await app.waitCommitted();
    await app.expectExactOutput();
    // Read back through the SASL listener as well.
    const viaSasl = await consumeAll(app.output, {
      isolation: "read_committed",
      timeoutMs: 60_000,
      config: {
        "bootstrap.servers": `127.0.0.1:${SASL_PORT}`,
        "security.protocol": "sasl_plaintext",
        "sasl.mechanisms": "SCRAM-SHA-256",
        "sasl.username": USER,
        "sasl.password": PASSWORD,
      },
    });
    expect(viaSasl.length).toBe(300);
    await w.stop();
    expect((await w.exited()).code).toBe(0);
    expect(w.logs.some((l) => l.level === "debug")).toBe(true); // the debug level was on
    expect(everyLine(w).filter((l) => l.includes(PASSWORD))).toEqual([]);
  });

  it("with a wrong password, the worker stops once, clearly, never ready, and prints no password", async () => {
    const app = new CountApp(5, 1);
    await app.createTopics();
    const started = Date.now();
    const w = track(
      app
        .worker({
          args: ["--brokers", `127.0.0.1:${SASL_PORT}`, "--log-level", "debug"],
          // librdkafka's own debug output too, its configuration dump included.
          env: { ...saslEnv(WRONG), WEIR_KAFKA_DEBUG: "conf,security" },
        })
        .start(),
    );
    const readiness = await readinessUntilExit(w);
    const exit = await w.exited(1000);
    const tookMs = Date.now() - started;
    console.log(`wrong password: exit ${exit.code} after ${tookMs} ms`);
    expect(exit.code).toBe(2); // a configuration that can never work
    expect(tookMs).toBeLessThan(FATAL_BOUND_MS);
    expect(readiness.length).toBeGreaterThan(0);
    expect(readiness).not.toContain(200);

    const fatal = w.stderr.filter((l) => /SASL authentication failed/.test(l));
    expect(fatal).toHaveLength(1); // said once: no retry loop, no crash loop
    expect(fatal[0]).toContain(`user '${USER}'`);
    expect(fatal[0]).toContain("SCRAM-SHA-256");
    expect(fatal[0]).toContain(`127.0.0.1:${SASL_PORT}`);
    expect(fatal[0]).toMatch(/sasl\.password/); // what to check
    expect(w.logs.some((l) => /unreachable\? retrying/.test(l.msg))).toBe(false);
    expect(w.logs.some((l) => l.msg === "worker running")).toBe(false);
    expect(w.logs.some((l) => l.msg === "librdkafka" && l.facility === "CONF")).toBe(true);
    expect(w.logs.some((l) => /sasl\.password = \[redacted\]/.test(String(l.message)))).toBe(true);
    expect(everyLine(w).filter((l) => l.includes(WRONG))).toEqual([]);
  });

  it("an operator command with a wrong password fails at once with the same message and no password", async () => {
    const app = new CountApp(5, 1);
    const result = await runWeir(
      [
        "topics",
        "describe",
        "--app",
        "test/apps/count.ts",
        "--brokers",
        `127.0.0.1:${SASL_PORT}`,
        "--kafka",
        `sasl.password=${WRONG}`,
      ],
      { ...saslEnv(PASSWORD), WEIR_TEST_PREFIX: app.prefix },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/SASL authentication failed: the broker .* refused user 'weir-sasl-test'/);
    expect(result.stdout + result.stderr).not.toContain(WRONG);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it("without SASL at the SASL port: retried, not ready, and the warning says to set security.protocol", async () => {
    const app = new CountApp(5, 1);
    const w = track(app.worker({ args: ["--brokers", `127.0.0.1:${SASL_PORT}`] }).start());
    const warning = await w.waitForLog(
      (l) => l.level === "warn" && /unreachable\? retrying/.test(l.msg),
      60_000,
      "a retry warning",
    );
    expect(String(warning.error)).toMatch(/closed every connection.*security\.protocol/);
    expect(w.logs.some((l) => l.msg === "worker running")).toBe(false);
    expect((await w.json("/readyz")).status).toBe(503);
  });

  it("SASL at the PLAINTEXT port: the worker stops once, saying the listener does not offer the mechanism", async () => {
    const app = new CountApp(5, 1);
    const w = track(app.worker({ args: ["--brokers", `127.0.0.1:${PORT}`], env: saslEnv(PASSWORD) }).start());
    const exit = await w.exited(FATAL_BOUND_MS);
    expect(exit.code).toBe(2);
    const fatal = w.stderr.filter((l) => /SASL handshake failed/.test(l));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(`127.0.0.1:${PORT} does not offer mechanism SCRAM-SHA-256`);
    expect(everyLine(w).filter((l) => l.includes(PASSWORD))).toEqual([]);
  });
});
