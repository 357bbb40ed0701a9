/**
 * `weir worker --processes N`: a small supervisor that forks N worker processes on this host. Each is a full worker —
 * its own worker id, transactional id and state directory (`<state dir>/process-<i>`) — in the one consumer group, as
 * if N workers were started by hand; Kafka's group protocol spreads the partitions over them.
 *
 * What the supervisor decides (the pure functions below, unit-tested in supervisor.test.ts):
 *   - a process that exits while nothing asked it to is restarted after a back-off (1 s, doubling to 30 s; a run of
 *     {@link HEALTHY_RUN_MS} resets it), unless it died {@link MAX_CRASHES} times in a row (a crash loop: fatal);
 *   - a process that exits with one of weir's fatal statuses — 1 (the worker failed, its log says why) or 2 (a
 *     configuration that can never work, a state directory another worker holds) — is not restarted: the
 *     supervisor stops the others and exits with that status;
 *   - on SIGTERM/SIGINT it forwards the signal to every process and exits once they all have: 0 if all exited 0,
 *     else the first non-zero status (a process killed by a signal counts as 128 + its number).
 */
import { constants } from "node:os";
import type { Logger } from "../topology/index.js";

/** Exit statuses of `weir worker` that a restart cannot heal (bin/worker.ts, README "Commands"). */
export const FATAL_EXIT_CODES: ReadonlyMap<number, string> = new Map([
  [1, "the worker failed (its log says why)"],
  [
    2,
    "configuration that can never work, or a state directory another live worker holds (its log says which)",
  ],
]);

/** A process that ran at least this long before dying starts its back-off afresh. */
export const HEALTHY_RUN_MS = 60_000;
/** Deaths in a row (each within {@link HEALTHY_RUN_MS} of its start) after which the supervisor gives up. */
export const MAX_CRASHES = 5;
/** The first restart's delay; it doubles with every further death in a row, up to {@link MAX_BACKOFF_MS}. */
export const FIRST_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 30_000;

/** How a process ended: its exit code, or the signal that killed it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What to do about a process that exited. */
export type ExitDecision =
  | { action: "stopped"; status: number }
  | { action: "restart"; delayMs: number; crashes: number }
  | { action: "fatal"; status: number; reason: string };

/** The exit status a process's end stands for: its code, or 128 + the number of the signal that killed it. */
export function exitStatus(exit: ProcessExit): number {
  if (exit.code !== null) return exit.code;
  const n = exit.signal === null ? undefined : constants.signals[exit.signal];
  return 128 + (n ?? 0);
}

/** "exit code 3" / "signal SIGKILL": for logs and reasons. */
export function describeExit(exit: ProcessExit): string {
  return exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal ?? "unknown"}`;
}

/**
 * The supervisor's decision about a process that exited.
 * @param stopping the supervisor asked it to stop (a signal, or another process's fatal exit)
 * @param crashes its deaths in a row before this one
 * @param uptimeMs how long it ran
 */
export function decideExit(
  exit: ProcessExit,
  ctx: { stopping: boolean; crashes: number; uptimeMs: number },
): ExitDecision {
  if (ctx.stopping) return { action: "stopped", status: exitStatus(exit) };
  const fatal = exit.code === null ? undefined : FATAL_EXIT_CODES.get(exit.code);
  if (fatal !== undefined) return { action: "fatal", status: exit.code!, reason: fatal };
  const crashes = (ctx.uptimeMs >= HEALTHY_RUN_MS ? 0 : ctx.crashes) + 1;
  if (crashes > MAX_CRASHES)
    return {
      action: "fatal",
      status: 1,
      reason: `crash loop: died ${crashes} times in a row, each within ${HEALTHY_RUN_MS / 1000} s of its start (last: ${describeExit(exit)})`,
    };
  return { action: "restart", delayMs: backoffMs(crashes), crashes };
}

/** The delay before the restart after the `crashes`-th death in a row. */
export function backoffMs(crashes: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, crashes - 1));
}

/** The supervisor's exit status: a fatal one if a process failed, else 0 if every process exited 0, else the first non-zero. */
export function supervisorStatus(statuses: readonly number[], fatal?: number): number {
  return fatal ?? statuses.find((s) => s !== 0) ?? 0;
}

/** What a worker process tells its supervisor over the IPC channel. */
export type ProcessMessage =
  /** Its HTTP server (loopback, a free port) is up. */
  | { type: "http"; url: string }
  /** It is about to exit with `status`, for `reason`. */
  | { type: "exiting"; status: number; reason: string };

/** The part of a forked ChildProcess the supervisor uses (a fake in unit tests). */
export interface SupervisedProcess {
  readonly pid?: number | undefined;
  kill(signal: NodeJS.Signals): boolean;
  on(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: "message", listener: (message: unknown) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
}

/** One of the N processes, as the HTTP endpoints see it. */
export interface ProcessSlot {
  index: number;
  /** starting: forked, HTTP not up yet; running; restarting: waiting out its back-off; exited: not coming back. */
  state: "starting" | "running" | "restarting" | "exited";
  pid: number | undefined;
  /** Its HTTP server (loopback), once it said so. */
  url: string | undefined;
  restarts: number;
  lastExit: string | undefined;
}

interface Slot extends ProcessSlot {
  child: SupervisedProcess | undefined;
  startedAt: number;
  crashes: number;
  timer: NodeJS.Timeout | undefined;
  reason: string | undefined;
}

export interface SupervisorOptions {
  processes: number;
  /** Fork process `index`. */
  spawn: (index: number) => SupervisedProcess;
  log: Logger;
  /** After a stop, processes still running this long later are killed (SIGKILL). */
  killAfterMs: number;
  now?: () => number;
}

/**
 * The N processes of `weir worker --processes N`: started by {@link Supervisor.start}, restarted or given up on as
 * {@link decideExit} says, stopped by {@link Supervisor.stop}. {@link Supervisor.done} resolves with the exit status.
 */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #slots: Slot[];
  readonly #now: () => number;
  #stopping = false;
  #fatal: { status: number; reason: string } | undefined;
  readonly #statuses: number[] = [];
  #killTimer: NodeJS.Timeout | undefined;
  #resolve!: (status: number) => void;
  /** The supervisor's exit status, once every process has exited. */
  readonly done: Promise<number>;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#slots = Array.from({ length: options.processes }, (_, index) => ({
      index,
      state: "starting" as const,
      pid: undefined,
      url: undefined,
      restarts: 0,
      lastExit: undefined,
      child: undefined,
      startedAt: 0,
      crashes: 0,
      timer: undefined,
      reason: undefined,
    }));
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Fork every process. */
  start(): void {
    for (const slot of this.#slots) this.#fork(slot);
  }

  /** Whether a stop was asked for (a signal) or forced (a fatal exit). */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The processes, for /readyz, /metrics and the proxies. */
  slots(): readonly ProcessSlot[] {
    return this.#slots.map(({ index, state, pid, url, restarts, lastExit }) => ({
      index,
      state,
      pid,
      url,
      restarts,
      lastExit,
    }));
  }

  /**
   * Forward `signal` to every running process (again on a second signal: a worker's second signal exits at once)
   * and restart none; past `killAfterMs` the rest are killed.
   */
  stop(signal: NodeJS.Signals): void {
    const first = !this.#stopping;
    this.#stopping = true;
    for (const slot of this.#slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      if (slot.state === "restarting") slot.state = "exited";
      if (slot.child && slot.state !== "exited") slot.child.kill(signal);
    }
    if (first) {
      this.#killTimer = setTimeout(() => {
        for (const slot of this.#slots)
          if (slot.child && slot.state !== "exited") {
            this.#o.log.error("process did not stop in time: killing it", {
              process: slot.index,
              pid: slot.pid,
              boundMs: this.#o.killAfterMs,
            });
            slot.child.kill("SIGKILL");
          }
      }, this.#o.killAfterMs);
      this.#killTimer.unref();
    }
    this.#settleIfDone();
  }

  #fork(slot: Slot): void {
    slot.timer = undefined;
    slot.state = "starting";
    slot.url = undefined;
    slot.reason = undefined;
    slot.startedAt = this.#now();
    let child: SupervisedProcess;
    try {
      child = this.#o.spawn(slot.index);
    } catch (err) {
      this.#onExit(slot, { code: 1, signal: null }, err instanceof Error ? err.message : String(err));
      return;
    }
    slot.child = child;
    slot.pid = child.pid;
    this.#o.log.info("process started", { process: slot.index, pid: child.pid, restarts: slot.restarts });
    child.on("message", (m) => this.#onMessage(slot, child, m));
    child.on("error", (err) =>
      this.#o.log.warn("process error", { process: slot.index, error: err.message }),
    );
    child.on("exit", (code, signal) => {
      if (slot.child === child) this.#onExit(slot, { code, signal });
    });
  }

  #onMessage(slot: Slot, child: SupervisedProcess, message: unknown): void {
    if (slot.child !== child || typeof message !== "object" || message === null) return;
    const m = message as Partial<ProcessMessage>;
    if (m.type === "http" && typeof m.url === "string") {
      slot.url = m.url;
      if (slot.state === "starting") slot.state = "running";
    } else if (m.type === "exiting" && typeof m.reason === "string") slot.reason = m.reason;
  }

  #onExit(slot: Slot, exit: ProcessExit, spawnError?: string): void {
    slot.child = undefined;
    slot.url = undefined;
    slot.lastExit = describeExit(exit);
    const uptimeMs = this.#now() - slot.startedAt;
    const decision = decideExit(exit, { stopping: this.#stopping, crashes: slot.crashes, uptimeMs });
    const fields = {
      process: slot.index,
      pid: slot.pid,
      code: exit.code,
      signal: exit.signal,
      uptimeMs,
      ...(slot.reason !== undefined ? { reason: slot.reason } : {}),
      ...(spawnError !== undefined ? { error: spawnError } : {}),
    };
    switch (decision.action) {
      case "stopped":
        slot.state = "exited";
        this.#statuses.push(decision.status);
        this.#o.log.info("process exited", fields);
        break;
      case "restart":
        slot.state = "restarting";
        slot.crashes = decision.crashes;
        slot.restarts++;
        this.#o.log.warn("process died unexpectedly: restarting it after a back-off", {
          ...fields,
          crashesInARow: decision.crashes,
          restartInMs: decision.delayMs,
        });
        slot.timer = setTimeout(() => this.#fork(slot), decision.delayMs);
        break;
      case "fatal":
        slot.state = "exited";
        this.#statuses.push(decision.status);
        this.#fatal ??= { status: decision.status, reason: slot.reason ?? decision.reason };
        this.#o.log.error("process failed: stopping every process", {
          ...fields,
          status: decision.status,
          reason: slot.reason ?? decision.reason,
        });
        this.stop("SIGTERM");
        break;
    }
    this.#settleIfDone();
  }

  #settleIfDone(): void {
    if (!this.#stopping || this.#slots.some((s) => s.state !== "exited")) return;
    clearTimeout(this.#killTimer);
    const status = supervisorStatus(this.#statuses, this.#fatal?.status);
    this.#o.log.info("every process exited", {
      status,
      ...(this.#fatal ? { reason: this.#fatal.reason } : {}),
    });
    this.#resolve(status);
  }
}
