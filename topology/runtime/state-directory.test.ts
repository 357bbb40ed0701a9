/**
 * The state directory lock (runtime/state-directory.ts) against the real file system and real processes: a second
 * holder is refused with the first one's id, pid, host and time; a lock whose process is dead (a SIGKILLed child),
 * whose pid now runs another process, or that was taken before a reboot is taken over with a log line; one from
 * another host is judged by its heartbeat; release deletes only its own lock; a lock deleted under its holder is
 * reported lost.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { StateDirectoryLockedError } from "../errors.js";
import type { Logger } from "../log.js";
import {
  HEARTBEAT_MS,
  LOCK_FILE,
  STALE_AFTER_MS,
  StateDirectoryLock,
  inspectLock,
  processStartOf,
  type LockHolder,
} from "./state-directory.js";

interface Line {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}
function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, fields });
    };
  const log: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => log,
  };
  return log;
}

const dir = () => mkdtempSync(join(tmpdir(), "weir-lock-"));
const held: StateDirectoryLock[] = [];
afterEach(() => {
  held.splice(0).forEach((l) => l.release());
  vi.useRealTimers();
});

function writeLock(d: string, holder: Partial<LockHolder>, ageMs = 0): void {
  const path = join(d, LOCK_FILE);
  writeFileSync(
    path,
    JSON.stringify({
      workerId: "old-worker",
      pid: 1,
      host: hostname(),
      since: "2024-01-01T00:00:00.000Z",
      token: "t-old",
      ...holder,
    }),
  );
  const t = new Date(Date.now() - ageMs);
  utimesSync(path, t, t);
}

/** A pid that ran and has exited (a SIGKILLed child): nothing runs under it now. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await new Promise((r) => child.once("spawn", r));
  const pid = child.pid!;
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  return pid;
}

describe("the state directory lock", () => {
  it("a second worker on the directory is refused, naming the holder; after release it may take it", async () => {
    const d = dir();
    const log = recordingLogger([]);
    const first = await StateDirectoryLock.acquire(d, "worker-a", log, () => {});
    held.push(first);
    const content = JSON.parse(readFileSync(join(d, LOCK_FILE), "utf8")) as LockHolder;
    expect(content).toMatchObject({ workerId: "worker-a", pid: process.pid, host: hostname() });
    let error: unknown;
    try {
      await StateDirectoryLock.acquire(d, "worker-b", log, () => {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(StateDirectoryLockedError);
    expect((error as Error).message).toBe(
      `state directory ${d} is in use by worker worker-a (pid ${process.pid} on host ${hostname()}) since ` +
        `${content.since}; give each worker its own --state-dir`,
    );
    expect(inspectLock(d)).toMatchObject({ kind: "held", holder: { workerId: "worker-a" } });
    first.release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    expect(inspectLock(d)).toEqual({ kind: "free" });
    held.push(await StateDirectoryLock.acquire(d, "worker-b", log, () => {}));
  });

  it("a lock left by a SIGKILLed process is taken over, with a log line naming it", async () => {
    const d = dir();
    const pid = await deadPid();
    writeLock(d, { pid, workerId: "killed-worker" });
    expect(inspectLock(d)).toMatchObject({ kind: "stale", reason: `process ${pid} is not running` });
    const lines: Line[] = [];
    const lock = await StateDirectoryLock.acquire(d, "restarted", recordingLogger(lines), () => {});
    held.push(lock);
    expect(lines).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "taking over a stale state directory lock",
        fields: expect.objectContaining({
          previousWorker: "killed-worker",
          previousPid: pid,
          reason: `process ${pid} is not running`,
        }) as unknown,
      }),
    ]);
    expect((JSON.parse(readFileSync(join(d, LOCK_FILE), "utf8")) as LockHolder).workerId).toBe("restarted");
  });

  it("a lock held by a zombie (killed, not yet reaped by its parent) is stale", async () => {
    if (process.platform !== "linux") return;
    // A child killed while this process does not reap it: a shell that kills its own child and sleeps.
    const sh = spawn("sh", ["-c", "sleep 30 & echo $!; kill -9 $!; exec sleep 30"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const pid = Number(
      await new Promise<string>((res) => sh.stdout!.once("data", (b: Buffer) => res(b.toString()))),
    );
    try {
      await expect.poll(() => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0]).toBe("Z");
      const d = dir();
      writeLock(d, { pid, processStart: processStartOf(pid) });
      expect(inspectLock(d)).toMatchObject({ kind: "stale", reason: `process ${pid} is not running` });
    } finally {
      sh.kill("SIGKILL");
    }
  });

  it("a live pid running another process than the one that took the lock (a reused pid) is stale", () => {
    const start = processStartOf(process.ppid);
    if (start === undefined) return expect(process.platform).not.toBe("linux"); // no /proc: not judged
    const d = dir();
    writeLock(d, { pid: process.ppid, processStart: String(Number(start) + 1) });
    expect(inspectLock(d)).toMatchObject({ kind: "stale", reason: expect.stringMatching(/another process/) });
    writeLock(d, { pid: process.ppid, processStart: start });
    expect(inspectLock(d)).toMatchObject({ kind: "held", sameHost: true });
  });

  it("a lock taken before the machine restarted is stale", () => {
    const boot = (() => {
      try {
        return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      } catch {
        return undefined;
      }
    })();
    if (boot === undefined) return expect(process.platform).not.toBe("linux");
    const d = dir();
    writeLock(d, { pid: process.ppid, bootId: "another-boot" });
    expect(inspectLock(d)).toMatchObject({ kind: "stale", reason: "the machine has restarted since" });
  });

  it("a lock from another host is held while refreshed and stale once not refreshed for STALE_AFTER_MS", async () => {
    const d = dir();
    writeLock(d, { host: "elsewhere", pid: process.pid }, 1000);
    expect(inspectLock(d)).toMatchObject({ kind: "held", sameHost: false });
    await expect(StateDirectoryLock.acquire(d, "me", recordingLogger([]), () => {}, 0)).rejects.toThrow(
      /in use by worker old-worker \(pid \d+ on host elsewhere\).*refreshed 1 s ago/,
    );
    writeLock(d, { host: "elsewhere", pid: process.pid }, STALE_AFTER_MS + 1000);
    expect(inspectLock(d)).toMatchObject({ kind: "stale" });
    held.push(await StateDirectoryLock.acquire(d, "me", recordingLogger([]), () => {}, 0));
  });

  it("an unreadable lock file is stale; release leaves another holder's lock alone", async () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), "garbage");
    expect(inspectLock(d)).toMatchObject({ kind: "stale" });
    const lock = await StateDirectoryLock.acquire(d, "me", recordingLogger([]), () => {});
    writeLock(d, { workerId: "someone-else" });
    lock.release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(true);
  });

  it("the holder refreshes its lock; a lock deleted under it is reported lost", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const d = dir();
    const lines: Line[] = [];
    const lost: string[] = [];
    const lock = await StateDirectoryLock.acquire(d, "me", recordingLogger(lines), (r) => lost.push(r));
    held.push(lock);
    const path = join(d, LOCK_FILE);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    vi.advanceTimersByTime(HEARTBEAT_MS);
    expect(Date.now() - (await import("node:fs")).statSync(path).mtimeMs).toBeLessThan(10_000);
    execFileSync("rm", [path]);
    vi.advanceTimersByTime(HEARTBEAT_MS);
    expect(lost).toEqual([`the lock file ${path} was deleted`]);
    expect(lines.some((l) => l.level === "error" && l.msg === "state directory lock lost")).toBe(true);
  });
});
