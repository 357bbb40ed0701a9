/**
 * Operator mistakes against real workers (`weir worker` child processes) and the real broker:
 *   - a second worker on a running worker's state directory refuses (exit 2, naming the holder) before it opens any
 *     store or joins the group; an offline `weir state get` of that directory is refused too; a SIGKILLed worker's
 *     lock does not block its restart (taken over, logged); a graceful stop removes the lock; `weir reset` does not
 *     delete a directory a live process holds even when the group is empty;
 *   - two workers sharing an --http-token answer every key, forwarding with the token; no token is a 401, health and
 *     metrics stay open; the token appears in no log line;
 *   - a record whose value does not decode and one that makes a processor throw go to the dead-letter topic with
 *     their values, and neither value appears in any log line — nor when the handler is "fail" and the worker stops.
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  consumeAll,
  createTopic,
  produceAll,
  uniqueName,
  waitAllCommitted,
  waitFor,
} from "../helpers/kafka.js";
import { WorkerProcess, runWeir } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
afterAll(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const countApp = ["--app", "test/apps/count.ts"];
const idOf = (w: WorkerProcess) => String(w.logs.find((l) => l.msg === "worker starting")?.worker);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("two workers on one state directory", () => {
  it("the second refuses before touching state; offline reads and reset refuse; a killed worker's lock does not block its restart", async () => {
    const prefix = uniqueName("lock");
    await createTopic(`${prefix}-input`, 2);
    await createTopic(`${prefix}-counts`, 2);
    const env = { WEIR_TEST_PREFIX: prefix };
    const first = new WorkerProcess({ args: countApp, env }).start();
    running.push(first);
    await first.waitReady(120_000);
    const id = idOf(first);
    const appDir = join(first.stateDir, `${prefix}-app`);

    const second = new WorkerProcess({ args: countApp, env, stateDir: first.stateDir }).start();
    running.push(second);
    const exit = await second.exited(60_000);
    expect(exit.code).toBe(2);
    expect(second.stderr.join("\n")).toMatch(
      new RegExp(
        `state directory ${escape(appDir)} is in use by worker ${id} \\(pid ${first.pid} on host ${escape(hostname())}\\) ` +
          `since \\d{4}-\\d\\d-\\d\\dT\\S+; give each worker its own --state-dir`,
      ),
    );
    // Refused before it started: no store opened, no group joined, no HTTP port bound.
    expect(second.logs.map((l) => l.msg)).not.toContain("worker starting");
    expect(second.logs.map((l) => l.msg)).not.toContain("http server listening");

    const offline = await runWeir(
      ["state", "get", "counts", "alpha", ...countApp, "--state-dir", first.stateDir],
      env,
    );
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(
      new RegExp(`in use by worker ${id} \\(pid ${first.pid} .*an offline read needs a stopped worker`),
    );

    // A SIGKILLed worker leaves its lock file; its restart takes it over and says so.
    first.kill("SIGKILL");
    await first.exited(30_000);
    expect(existsSync(join(appDir, "worker.lock"))).toBe(true);
    const restarted = new WorkerProcess({ args: countApp, env, stateDir: first.stateDir }).start();
    running.push(restarted);
    await restarted.waitReady(120_000);
    expect(idOf(restarted)).toBe(id);
    const takeover = restarted.logs.find((l) => l.msg === "taking over a stale state directory lock");
    expect(takeover).toMatchObject({
      previousWorker: id,
      previousPid: first.pid,
      reason: `process ${first.pid} is not running`,
    });
    // A graceful stop removes the lock.
    await restarted.stop();
    expect((await restarted.exited()).code).toBe(0);
    expect(existsSync(join(appDir, "worker.lock"))).toBe(false);

    // The group is empty now, but a live process holds the directory (a worker pointed at another cluster, say):
    // reset does not delete it.
    const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    await new Promise((r) => holder.once("spawn", r));
    try {
      writeFileSync(
        join(appDir, "worker.lock"),
        JSON.stringify({
          workerId: "elsewhere-worker",
          pid: holder.pid,
          host: hostname(),
          since: new Date().toISOString(),
          token: "t",
        }),
      );
      const reset = await runWeir(["reset", ...countApp, "--state-dir", first.stateDir, "--yes"], env);
      expect(reset.code).toBe(1);
      expect(reset.stderr).toMatch(
        new RegExp(
          `in use by worker elsewhere-worker \\(pid ${holder.pid} on host .*stop it before resetting \\(nothing changed\\)`,
        ),
      );
      expect(existsSync(join(appDir, "worker-id"))).toBe(true);
    } finally {
      holder.kill("SIGKILL");
    }
  }, 300_000);
});

describe("an HTTP token shared by the workers of an application", () => {
  it("every key answered by both workers with the token, forwarded ones too; none without it; the token in no log line", async () => {
    const prefix = uniqueName("token");
    const token = `tok-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    const input = `${prefix}-input`;
    await createTopic(input, 4);
    await createTopic(`${prefix}-counts`, 4);
    const env = { WEIR_TEST_PREFIX: prefix };
    // One worker gets the token by flag, the other by environment.
    const workers = [
      new WorkerProcess({ args: [...countApp, "--http-token", token], env }).start(),
      new WorkerProcess({ args: countApp, env: { ...env, WEIR_HTTP_TOKEN: token } }).start(),
    ];
    running.push(...workers);
    await Promise.all(workers.map((w) => w.waitReady(120_000)));
    const expected = new Map<string, number>();
    const records = Array.from({ length: 400 }, (_, i) => {
      const key = `user-${i % 40}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
      return { key, value: `v${i}` };
    });
    await produceAll(input, records, { config: { partitioner: "murmur2_random" } });
    await waitAllCommitted(`${prefix}-app`, input, { timeoutMs: 120_000 });
    await Promise.all(workers.map((w) => w.waitReady(60_000)));

    const auth = { authorization: `Bearer ${token}` };
    let forwarded = 0;
    for (const key of expected.keys())
      for (const w of workers) {
        const path = `${w.url}/state/counts/${encodeURIComponent(key)}`;
        const r = await waitFor(
          `an answer for ${key}`,
          async () => {
            const res = await fetch(path, { headers: auth });
            return res.status === 503 ? undefined : res;
          },
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        const body = (await r.json()) as { value?: number; forwardedBy?: unknown };
        expect({ key, status: r.status, value: body.value }).toEqual({
          key,
          status: 200,
          value: expected.get(key),
        });
        if (body.forwardedBy) forwarded++;
      }
    expect(forwarded).toBeGreaterThan(0);

    const refused = await fetch(`${workers[0]!.url}/state/counts/user-1`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
    for (const path of ["/metrics", "/healthz", "/readyz"])
      expect((await fetch(`${workers[1]!.url}${path}`)).status).toBe(200);

    const cli = await runWeir(["state", "get", "counts", "user-1", "--url", workers[1]!.url], {
      ...env,
      WEIR_HTTP_TOKEN: token,
    });
    expect(cli.stdout.trim()).toBe(String(expected.get("user-1")));

    await Promise.all(workers.map((w) => w.stop()));
    for (const w of workers) {
      expect(w.stderr.length).toBeGreaterThan(5);
      expect(w.stderr.filter((l) => l.includes(token))).toEqual([]);
    }
  }, 300_000);
});

describe("record values in no log line", () => {
  const DECODE_SECRET = "AKIA-DECODE-SECRET-7f3a9";
  const THROW_SECRET = "AKIA-THROW-SECRET-c81e2";

  it("an undecodable value and one a processor throws on are dead-lettered with their values, logged without them", async () => {
    const prefix = uniqueName("careless");
    await createTopic(`${prefix}-input`, 1);
    await createTopic(`${prefix}-out`, 1);
    const env = { WEIR_TEST_PREFIX: prefix };
    const worker = new WorkerProcess({
      args: ["--app", "test/apps/careless.ts", "--log-level", "debug"],
      env,
    }).start();
    running.push(worker);
    await worker.waitReady(120_000);
    await produceAll(`${prefix}-input`, [
      { key: "k1", value: `token=${DECODE_SECRET}` },
      { key: "k2", value: JSON.stringify({ kind: "boom", secret: THROW_SECRET }) },
      { key: "k3", value: JSON.stringify({ kind: "fine" }) },
    ]);
    const out = await consumeAll(`${prefix}-out`, {
      expected: 1,
      timeoutMs: 60_000,
      isolation: "read_committed",
    });
    expect(out.map((r) => [r.key, r.value])).toEqual([["k3", "ok"]]);
    const dead = await consumeAll(`${prefix}-app-dlq`, {
      expected: 2,
      timeoutMs: 60_000,
      isolation: "read_committed",
    });
    expect(dead.map((r) => [r.key, r.headers["weir.error.class"]])).toEqual([
      ["k1", "DeserializationError"],
      ["k2", "ProcessingError"],
    ]);
    expect(dead[0]!.value).toContain(DECODE_SECRET);
    expect(dead[1]!.value).toContain(THROW_SECRET);
    // The full message stays with the dead letter.
    expect(dead[1]!.headers["weir.error.message"]).toContain(THROW_SECRET);

    await worker.stop();
    const lettered = worker.logs.filter((l) => l.msg === "record sent to the dead-letter topic");
    expect(lettered.map((l) => [l.offset, l.error])).toEqual([
      [0, "DeserializationError: value does not decode with serde json"],
      [
        1,
        "ProcessingError in 'check' (caused by Error): message withheld from the log (it may quote the record)",
      ],
    ]);
    expect(worker.stderr.length).toBeGreaterThan(10);
    expect(worker.stderr.filter((l) => l.includes("AKIA"))).toEqual([]);
  }, 300_000);

  it("with deserialization errors set to fail, the worker stops without logging the value", async () => {
    const prefix = uniqueName("careless-fail");
    await createTopic(`${prefix}-input`, 1);
    await createTopic(`${prefix}-out`, 1);
    const env = { WEIR_TEST_PREFIX: prefix };
    await produceAll(`${prefix}-input`, [{ key: "k1", value: `token=${DECODE_SECRET}` }]);
    const worker = new WorkerProcess({
      args: ["--app", "test/apps/careless.ts", "--deserialization-errors", "fail", "--log-level", "debug"],
      env,
    }).start();
    running.push(worker);
    const exit = await worker.exited(120_000);
    expect(exit.code).toBe(1);
    const failed = worker.logs.filter((l) => l.msg === "worker failed").map((l) => String(l.error));
    expect(failed.length).toBeGreaterThan(0);
    for (const e of failed)
      expect(e).toMatch(
        /^DeserializationError: value does not decode with serde json \(a record failed and its handler is "fail": .*offset=0/,
      );
    expect(worker.stderr.filter((l) => l.includes("AKIA"))).toEqual([]);
  }, 300_000);
});
