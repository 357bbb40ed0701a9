/**
 * `weir worker --processes N`: the supervisor's decisions (restart, give up, exit status), the supervisor driven with
 * fake processes, the merged metrics and readiness of bin/supervisor-http.ts, and the --processes setting. No broker.
 */
import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../topology/index.js";
import { UsageError, parse } from "./args.js";
import { loadConfig, workerFlagSpec } from "./config.js";
import {
  HEALTHY_RUN_MS,
  MAX_CRASHES,
  Supervisor,
  backoffMs,
  decideExit,
  exitStatus,
  supervisorStatus,
  type SupervisedProcess,
} from "./supervisor.js";
import { mergeMetrics, readiness } from "./supervisor-http.js";

const running = { stopping: false, crashes: 0, uptimeMs: 1_000 };

describe("decideExit", () => {
  it("a process that exits after a stop was asked for is stopped, with its status", () => {
    expect(decideExit({ code: 0, signal: null }, { ...running, stopping: true })).toEqual({
      action: "stopped",
      status: 0,
    });
    expect(decideExit({ code: null, signal: "SIGKILL" }, { ...running, stopping: true })).toEqual({
      action: "stopped",
      status: 137,
    });
  });

  it("weir's fatal statuses (1: the worker failed, 2: configuration or a held state directory) are never restarted", () => {
    for (const code of [1, 2]) {
      const d = decideExit({ code, signal: null }, running);
      expect(d).toMatchObject({ action: "fatal", status: code });
    }
  });

  it("a death by a signal, or an exit nobody asked for, is restarted with a doubling back-off", () => {
    expect(decideExit({ code: null, signal: "SIGKILL" }, running)).toEqual({
      action: "restart",
      delayMs: 1_000,
      crashes: 1,
    });
    expect(decideExit({ code: 0, signal: null }, { ...running, crashes: 2 })).toEqual({
      action: "restart",
      delayMs: 4_000,
      crashes: 3,
    });
    expect(decideExit({ code: 134, signal: null }, running)).toMatchObject({ action: "restart" });
  });

  it("a process that ran long enough starts its back-off afresh", () => {
    expect(
      decideExit({ code: null, signal: "SIGSEGV" }, { ...running, crashes: 4, uptimeMs: HEALTHY_RUN_MS }),
    ).toEqual({
      action: "restart",
      delayMs: 1_000,
      crashes: 1,
    });
  });

  it("a crash loop is fatal: status 1, saying so", () => {
    const d = decideExit({ code: null, signal: "SIGKILL" }, { ...running, crashes: MAX_CRASHES });
    expect(d).toMatchObject({ action: "fatal", status: 1 });
    expect(d.action === "fatal" && d.reason).toMatch(/crash loop: died 6 times in a row.*signal SIGKILL/);
  });

  it("back-off is capped at 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(backoffMs)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
  });

  it("exit status: the code, or 128 + the signal's number; the supervisor's: fatal, else the first non-zero", () => {
    expect(exitStatus({ code: 3, signal: null })).toBe(3);
    expect(exitStatus({ code: null, signal: "SIGTERM" })).toBe(143);
    expect(supervisorStatus([0, 0])).toBe(0);
    expect(supervisorStatus([0, 130, 1])).toBe(130);
    expect(supervisorStatus([0, 143], 2)).toBe(2);
  });
});

/** A forked process stand-in: records the signals it gets; the test makes it exit. */
class FakeProcess extends EventEmitter implements SupervisedProcess {
  readonly signals: NodeJS.Signals[] = [];
  constructor(readonly pid: number) {
    super();
  }
  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    return true;
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.emit("exit", code, signal);
  }
}

describe("Supervisor", () => {
  let forked: FakeProcess[][];
  let supervisor: Supervisor;
  let pid: number;
  let status: number | undefined;

  beforeEach(() => {
    vi.useFakeTimers();
    pid = 100;
    status = undefined;
    forked = [[], []];
    supervisor = new Supervisor({
      processes: 2,
      log: silentLogger,
      killAfterMs: 40_000,
      spawn: (i) => {
        const p = new FakeProcess(pid++);
        forked[i]!.push(p);
        return p;
      },
    });
    void supervisor.done.then((s) => (status = s));
    supervisor.start();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const latest = (i: number) => forked[i]!.at(-1)!;
  const up = (i: number) => latest(i).emit("message", { type: "http", url: `http://127.0.0.1:${7000 + i}` });

  it("a process is running once it says where its HTTP server is", () => {
    expect(supervisor.slots().map((s) => s.state)).toEqual(["starting", "starting"]);
    up(0);
    up(1);
    expect(supervisor.slots().map((s) => [s.state, s.url])).toEqual([
      ["running", "http://127.0.0.1:7000"],
      ["running", "http://127.0.0.1:7001"],
    ]);
  });

  it("a process killed is restarted after its back-off, the other left alone", async () => {
    up(0);
    up(1);
    latest(1).exit(null, "SIGKILL");
    expect(supervisor.slots()[1]).toMatchObject({ state: "restarting", url: undefined, restarts: 1 });
    expect(forked[1]).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(forked[1]).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(forked[1]).toHaveLength(2);
    expect(supervisor.slots()[1]).toMatchObject({ state: "starting", lastExit: "signal SIGKILL" });
    expect(forked[0]).toHaveLength(1);
    expect(latest(0).signals).toEqual([]);
    expect(status).toBeUndefined();
  });

  it("a fatal exit stops the others and the supervisor exits with that status", async () => {
    up(0);
    up(1);
    latest(0).emit("message", { type: "exiting", status: 2, reason: "state directory in use" });
    latest(0).exit(2);
    expect(latest(1).signals).toEqual(["SIGTERM"]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(forked[0]).toHaveLength(1); // not restarted
    expect(status).toBeUndefined(); // process 1 still stopping
    latest(1).exit(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(status).toBe(2);
  });

  it("a stop forwards the signal (twice on a second signal), cancels a pending restart, exits 0 when all did", async () => {
    up(0);
    up(1);
    latest(1).exit(null, "SIGKILL"); // waiting out its back-off
    supervisor.stop("SIGTERM");
    expect(latest(0).signals).toEqual(["SIGTERM"]);
    supervisor.stop("SIGTERM");
    expect(latest(0).signals).toEqual(["SIGTERM", "SIGTERM"]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(forked[1]).toHaveLength(1); // the restart was cancelled
    latest(0).exit(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(status).toBe(0);
  });

  it("a stop's exit status is the first non-zero one; processes past the bound are killed", async () => {
    supervisor.stop("SIGINT");
    latest(0).exit(130);
    await vi.advanceTimersByTimeAsync(40_000);
    expect(latest(1).signals).toEqual(["SIGINT", "SIGKILL"]);
    latest(1).exit(null, "SIGKILL");
    await vi.advanceTimersByTimeAsync(0);
    expect(status).toBe(130);
  });
});

describe("the supervisor's HTTP answers", () => {
  it("mergeMetrics: each family once, every sample labelled with its process", () => {
    const a = [
      "# HELP weir_records_total Records.",
      "# TYPE weir_records_total counter",
      'weir_records_total{app="x"} 5',
      "# HELP process_cpu_seconds_total CPU.",
      "# TYPE process_cpu_seconds_total counter",
      "process_cpu_seconds_total 1.5",
      "",
    ].join("\n");
    const b = a.replace("} 5", "} 7").replace("total 1.5", "total 2.5");
    expect(
      mergeMetrics([
        { process: "0", text: a },
        { process: "1", text: b },
      ]),
    ).toBe(
      [
        "# HELP weir_records_total Records.",
        "# TYPE weir_records_total counter",
        'weir_records_total{process="0",app="x"} 5',
        'weir_records_total{process="1",app="x"} 7',
        "# HELP process_cpu_seconds_total CPU.",
        "# TYPE process_cpu_seconds_total counter",
        'process_cpu_seconds_total{process="0"} 1.5',
        'process_cpu_seconds_total{process="1"} 2.5',
        "",
      ].join("\n"),
    );
  });

  it("readiness: not ready while a process is starting or restarting, naming it", async () => {
    const { ready, body } = await readiness({
      stopping: false,
      slots: () => [
        { index: 0, state: "starting", pid: 1, url: undefined, restarts: 0, lastExit: undefined },
        { index: 1, state: "restarting", pid: 2, url: undefined, restarts: 1, lastExit: "signal SIGKILL" },
      ],
    });
    expect(ready).toBe(false);
    expect(body.problems).toEqual([
      { process: 0, problem: "process-down", reason: "process 0 is starting" },
      {
        process: 1,
        problem: "process-down",
        reason: "process 1 is waiting to be restarted (last: signal SIGKILL)",
      },
    ]);
  });
});

describe("--processes", () => {
  const config = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    loadConfig(parse(argv, workerFlagSpec).values, env);

  it("defaults to 1; a flag or WEIR_PROCESSES sets it", () => {
    expect(config([]).processes).toBe(1);
    expect(config(["--processes", "4"]).processes).toBe(4);
    expect(config([], { WEIR_PROCESSES: "3" }).processes).toBe(3);
  });

  it.each(["0", "-2", "1.5", "two", ""])("'%s' is a usage error naming the range", (value) => {
    expect(() => config([`--processes=${value}`])).toThrow(UsageError);
    expect(() => config([`--processes=${value}`])).toThrow(
      /--processes must be an integer between 1 and 256, got/,
    );
  });
});
