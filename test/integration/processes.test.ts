/**
 * `weir worker --processes 2`: one command, two members of the group on one host. Both get partitions of a
 * 4-partition input, each with its own worker id and state directory; /readyz on the one HTTP port is 200 only while
 * both are ready; a process SIGKILLed is restarted by the supervisor on its own state (same worker id) and the counts
 * stay exact; SIGTERM to the supervisor stops both, exit 0; `weir reset` sees both state directories.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CountApp } from "../helpers/count-app.js";
import { waitFor } from "../helpers/kafka.js";
import { join } from "node:path";
import { cliJson, runWeir, type LogLine, type WorkerProcess } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

/** The partitions process `index` holds after its log lines so far: assigned minus revoked or lost. */
function held(logs: LogLine[], index: number): string[] {
  const now = new Set<string>();
  for (const l of logs.filter((x) => x.process === index)) {
    const parts = (l.partitions as string[] | undefined) ?? [];
    if (l.msg === "partitions assigned") for (const p of parts) now.add(p);
    if (l.msg === "partitions revoked" || l.msg === "partitions lost") for (const p of parts) now.delete(p);
  }
  return [...now].sort();
}

interface Readiness {
  ready: boolean;
  processes: Array<{ process: number; ready: boolean }>;
  problems: Array<{ process: number; problem: string }>;
}

describe("weir worker --processes 2", () => {
  it("two members from one command: partitions spread, one HTTP port, a killed process restarted, exactly once", async () => {
    const app = new CountApp(40, 4);
    await app.createTopics();
    const w = app.worker({ args: ["--processes", "2"] }).start();
    running.push(w);

    // Ready only once both processes are: while they start, the supervisor's /readyz says 503.
    await w.waitForLog(
      (l) => l.msg === "http server listening" && l.processes === 2,
      30_000,
      "the supervisor",
    );
    const early = await w.json<Readiness>("/readyz");
    expect(early.status).toBe(503);
    expect(early.body.ready).toBe(false);
    await w.waitReady(60_000);
    const ready = await w.json<Readiness>("/readyz");
    expect(ready.body.processes.map((p) => [p.process, p.ready])).toEqual([
      [0, true],
      [1, true],
    ]);

    await app.produce(2000);
    await app.waitCommitted(60_000);
    // Both processes are members holding partitions; between them every partition once.
    const p0 = held(w.logs, 0);
    const p1 = held(w.logs, 1);
    expect(p0.length).toBeGreaterThan(0);
    expect(p1.length).toBeGreaterThan(0);
    expect([...p0, ...p1].sort()).toEqual([0, 1, 2, 3].map((p) => `${app.input}/${p}`));
    // Each its own worker (id, transactional id) on its own state directory.
    const starting = (i: number) => w.logs.filter((l) => l.msg === "worker starting" && l.process === i);
    expect(starting(0)[0]!.worker).not.toBe(starting(1)[0]!.worker);
    expect(String(starting(1)[0]!.stateDir)).toMatch(new RegExp(`process-1/${app.appId}$`));

    // SIGKILL process 1: not ready at once, restarted after its back-off on its own state, counts exact.
    const started = w.logs.filter((l) => l.msg === "process started" && l.process === 1);
    const pid = Number(started.at(-1)!.pid);
    process.kill(pid, "SIGKILL");
    await waitFor(
      "the supervisor's /readyz to say 503 for process 1",
      async () => {
        const r = await w.json<Readiness>("/readyz");
        return r.status === 503 &&
          r.body.problems.some((p) => p.process === 1 && p.problem === "process-down")
          ? true
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    const died = await w.waitForLog(
      (l) => l.msg === "process died unexpectedly: restarting it after a back-off",
    );
    expect(died).toMatchObject({ process: 1, pid, signal: "SIGKILL", restartInMs: 1000 });
    await app.produce(2000);
    const restarted = await w.waitForLog(
      (l) => l.msg === "process started" && l.process === 1 && l.restarts === 1,
      20_000,
      "process 1 restarted",
    );
    expect(restarted.pid).not.toBe(pid);
    await w.waitReady(60_000);
    expect(starting(1).at(-1)!.worker).toBe(starting(1)[0]!.worker);
    await app.waitCommitted(60_000);
    await app.expectExactOutput();

    // One port: metrics of both processes, labelled; interactive queries answered for any key.
    const metrics = await (await fetch(`${w.url}/metrics`)).text();
    expect(metrics).toMatch(/^weir_worker_info\{process="0",/m);
    expect(metrics).toMatch(/^weir_worker_info\{process="1",/m);
    expect(metrics).toMatch(/^weir_supervisor_process_restarts_total\{process="1"\} 1$/m);
    for (const key of ["k1", "k2", "k3", "k4"]) {
      const r = await w.json<{ value?: number }>(`/state/counts/${key}`);
      expect([key, r.status, r.body.value]).toEqual([key, 200, app.produced.get(key)]);
    }

    // SIGTERM to the supervisor: both processes stop gracefully, exit 0.
    w.kill("SIGTERM");
    expect(await w.exited(45_000)).toEqual({ code: 0, signal: null });
    const exits = w.logs.filter((l) => l.msg === "process exited");
    expect(exits.map((l) => [l.process, l.code]).sort()).toEqual([
      [0, 0],
      [1, 0],
    ]);
    // weir reset finds both processes' state directories.
    const plan = cliJson(
      await runWeir(
        ["reset", "--app", "test/apps/count.ts", "--state-dir", w.stateDir, "--dry-run", "--json"],
        { WEIR_TEST_PREFIX: app.prefix },
      ),
    );
    expect(plan.processStateDirs).toEqual([0, 1].map((i) => join(w.stateDir, `process-${i}`, app.appId)));
  }, 120_000);
});
