/**
 * The lock on a worker's state directory (`<stateDir>/<appId>`): one worker at a time, as Kafka Streams'
 * `StateDirectory` locks `<state.dir>/<application.id>` (a `FileChannel.tryLock` on its `.lock` file, next to the
 * process file that keeps its process id; weir's process file is `worker-id`).
 *
 * Node has no advisory file lock (flock/fcntl), so the lock is a file created exclusively (written to a temporary
 * file, then hard-linked to `worker.lock`: it never exists half-written) that names its holder: worker id, pid,
 * host, the machine's boot id, the process's start time, and since when. A lock that outlived its process is stale
 * and taken over, with a log line:
 *   - on the same host: the pid is not running, or runs another process (its start time differs: a reused pid, a
 *     container restarted as pid 1), or the machine has rebooted since (another boot id);
 *   - held from another host (a state directory on shared storage, or a container recreated under a new host name):
 *     its holder refreshes the file's modification time every {@link HEARTBEAT_MS}; one not refreshed for
 *     {@link STALE_AFTER_MS} is stale. A worker finding a fresh one waits that long before refusing.
 * The lock is released (the file deleted) when the worker stops, and at process exit.
 */
import { randomUUID } from "node:crypto";
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { StateDirectoryLockedError } from "../errors.js";
import type { Logger } from "../log.js";

/** The lock file in a worker's state directory. */
export const LOCK_FILE = "worker.lock";
/** How often a holder refreshes its lock file's modification time. */
export const HEARTBEAT_MS = 5_000;
/** A lock from another host not refreshed for this long is stale. */
export const STALE_AFTER_MS = 30_000;

/** Who holds a state directory: the lock file's content. */
export interface LockHolder {
  workerId: string;
  pid: number;
  host: string;
  /** Linux's boot id (/proc/sys/kernel/random/boot_id), when there is one: a pid from before a reboot is dead. */
  bootId?: string;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat), when known: tells a reused pid apart. */
  processStart?: string;
  /** When the lock was taken, ISO 8601. */
  since: string;
  /** Unique per acquisition: a holder recognises its own lock. */
  token: string;
}

/** What {@link inspectLock} found: no lock, a live holder, or a stale lock (and why it is stale). */
export type LockState =
  | { kind: "free" }
  | { kind: "held"; holder: LockHolder; path: string; refreshedAgoMs: number; sameHost: boolean }
  | { kind: "stale"; holder: LockHolder | undefined; path: string; reason: string };

const bootId = (): string | undefined => readText("/proc/sys/kernel/random/boot_id");

/** Field 22 of /proc/<pid>/stat (starttime), or undefined where there is no /proc or no such process. */
export function processStartOf(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether a pid runs on this machine (EPERM: it runs, as another user). A zombie — killed, not yet reaped by its
 * parent (a supervisor restarting a SIGKILLed worker before it waited for it) — does not: its state in
 * /proc/<pid>/stat is Z (or X), and it will never touch the directory again.
 */
function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  const stat = readText(`/proc/${pid}/stat`);
  const state = stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  return state !== "Z" && state !== "X";
}

/** Lock files this process holds (path → token): a second worker of this process on the same directory is refused. */
const heldHere = new Map<string, string>();
process.once("exit", () => {
  for (const [path, token] of heldHere) removeIfOurs(path, token);
});

function readHolder(path: string): LockHolder | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    return typeof h.pid === "number" && typeof h.host === "string" && typeof h.token === "string"
      ? (h as LockHolder)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Who holds the state directory `dir` (a worker's `<stateDir>/<appId>`), judged without taking anything: what
 * `weir state` and `weir reset` check before reading or deleting a directory.
 */
export function inspectLock(dir: string, now = Date.now()): LockState {
  const path = join(resolve(dir), LOCK_FILE);
  let mtime: number;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {
    return { kind: "free" };
  }
  const holder = readHolder(path);
  if (!holder) return { kind: "stale", holder, path, reason: "the lock file is not readable as a lock" };
  const refreshedAgoMs = Math.max(0, now - mtime);
  const sameHost = holder.host === hostname();
  if (sameHost) {
    const boot = bootId();
    if (holder.bootId !== undefined && boot !== undefined && holder.bootId !== boot)
      return { kind: "stale", holder, path, reason: "the machine has restarted since" };
    if (holder.pid === process.pid && heldHere.get(path) === holder.token)
      return { kind: "held", holder, path, refreshedAgoMs, sameHost };
    if (!pidRunning(holder.pid))
      return { kind: "stale", holder, path, reason: `process ${holder.pid} is not running` };
    const start = processStartOf(holder.pid);
    if (holder.processStart !== undefined && start !== undefined && start !== holder.processStart)
      return {
        kind: "stale",
        holder,
        path,
        reason: `pid ${holder.pid} is another process now (its holder is gone)`,
      };
    return { kind: "held", holder, path, refreshedAgoMs, sameHost };
  }
  if (refreshedAgoMs > STALE_AFTER_MS)
    return {
      kind: "stale",
      holder,
      path,
      reason: `held from host ${holder.host}, not refreshed for ${Math.round(refreshedAgoMs / 1000)} s`,
    };
  return { kind: "held", holder, path, refreshedAgoMs, sameHost };
}

/** The operator's message for a directory a live worker holds. */
export function lockedMessage(dir: string, state: Extract<LockState, { kind: "held" }>): string {
  const h = state.holder;
  return (
    `state directory ${resolve(dir)} is in use by worker ${h.workerId} (pid ${h.pid} on host ${h.host}) since ${h.since}` +
    (state.sameHost
      ? ""
      : ` (its lock was refreshed ${Math.round(state.refreshedAgoMs / 1000)} s ago; a lock from another host not refreshed for ${STALE_AFTER_MS / 1000} s is taken over)`) +
    "; give each worker its own --state-dir"
  );
}

/** A held lock: refreshed while held, released by {@link StateDirectoryLock.release}. */
export class StateDirectoryLock {
  #timer: NodeJS.Timeout | undefined;
  #released = false;

  private constructor(
    /** The lock file. */
    readonly path: string,
    /** What it says. */
    readonly holder: LockHolder,
  ) {}

  /**
   * Take the lock of `dir` for worker `workerId`, taking over a stale one (logged). A lock held from another host
   * and refreshed recently is waited on, up to {@link STALE_AFTER_MS}; one held by a live worker is a
   * {@link StateDirectoryLockedError}. `onLost` is called if the lock file stops being this worker's (deleted, or
   * taken over by another worker that judged it stale) — two workers on one directory: the caller stops.
   */
  static async acquire(
    dir: string,
    workerId: string,
    log: Logger,
    onLost: (reason: string) => void,
    waitMs = STALE_AFTER_MS + HEARTBEAT_MS,
  ): Promise<StateDirectoryLock> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const lock = StateDirectoryLock.tryAcquire(dir, workerId, log);
      if (lock instanceof StateDirectoryLock) {
        lock.#heartbeat(log, onLost);
        return lock;
      }
      // Only a lock from another host can go stale by waiting (its heartbeat stops): a live local pid does not.
      if (lock.sameHost || Date.now() >= deadline)
        throw new StateDirectoryLockedError(lockedMessage(dir, lock));
      log.warn("state directory locked from another host: waiting for its lock to go stale", {
        stateDir: resolve(dir),
        holder: lock.holder.workerId,
        host: lock.holder.host,
      });
      await new Promise((r) => setTimeout(r, Math.min(HEARTBEAT_MS, Math.max(0, deadline - Date.now()))));
    }
  }

  /** One attempt: the lock, or the live holder's state. Takes over a stale lock (logged). */
  static tryAcquire(
    dir: string,
    workerId: string,
    log: Logger,
  ): StateDirectoryLock | Extract<LockState, { kind: "held" }> {
    mkdirSync(dir, { recursive: true });
    const path = join(resolve(dir), LOCK_FILE);
    const holder: LockHolder = {
      workerId,
      pid: process.pid,
      host: hostname(),
      ...((b) => (b === undefined ? {} : { bootId: b }))(bootId()),
      ...((s) => (s === undefined ? {} : { processStart: s }))(processStartOf(process.pid)),
      since: new Date().toISOString(),
      token: randomUUID(),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusive(path, holder)) {
        heldHere.set(path, holder.token);
        return new StateDirectoryLock(path, holder);
      }
      const state = inspectLock(dir);
      if (state.kind === "held") return state;
      if (state.kind === "stale") takeOver(state, log);
    }
    throw new StateDirectoryLockedError(
      `cannot take the lock ${path}: another process keeps creating it (two workers starting on one state directory?)`,
    );
  }

  /** Delete the lock file (if it is still this worker's) and stop refreshing it. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    heldHere.delete(this.path);
    removeIfOurs(this.path, this.holder.token);
  }

  #heartbeat(log: Logger, onLost: (reason: string) => void): void {
    this.#timer = setInterval(() => {
      const now = readHolder(this.path);
      if (now?.token === this.holder.token) {
        try {
          const t = new Date();
          utimesSync(this.path, t, t);
        } catch {
          // gone between the read and the touch: noticed at the next beat
        }
        return;
      }
      const reason = now
        ? `worker ${now.workerId} (pid ${now.pid} on host ${now.host}) took over the lock of ${this.path}`
        : `the lock file ${this.path} was deleted`;
      log.error("state directory lock lost", { reason });
      clearInterval(this.#timer);
      heldHere.delete(this.path);
      this.#released = true;
      onLost(reason);
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }
}

/** Create the lock file with its full content, or false if it exists. */
function createExclusive(path: string, holder: LockHolder): boolean {
  const tmp = `${path}.${holder.token}.tmp`;
  writeFileSync(tmp, JSON.stringify(holder) + "\n");
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Move a stale lock out of the way (a rename: of two workers taking it over at once, one moves it). Should the file
 * moved turn out not to be the stale lock judged (another worker took it over between the look and the move), it is
 * put back.
 */
function takeOver(state: Extract<LockState, { kind: "stale" }>, log: Logger): void {
  const aside = `${state.path}.stale-${process.pid}-${Date.now()}`;
  try {
    renameSync(state.path, aside);
  } catch {
    return; // moved by someone else: look again
  }
  const moved = readHolder(aside);
  if (state.holder && moved?.token !== state.holder.token) {
    try {
      linkSync(aside, state.path);
    } catch {
      // a third one took it meanwhile: the next look says who
    }
    unlinkSync(aside);
    return;
  }
  unlinkSync(aside);
  const h = state.holder;
  log.warn("taking over a stale state directory lock", {
    lock: state.path,
    reason: state.reason,
    ...(h ? { previousWorker: h.workerId, previousPid: h.pid, previousHost: h.host, since: h.since } : {}),
  });
}

function removeIfOurs(path: string, token: string): void {
  if (!existsSync(path) || readHolder(path)?.token !== token) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
