/**
 * Health from progress, not from the process. The worker reports what keeps it from making progress as named
 * problems; `/readyz` is 503 while any is present and says which (with the reason and since when), and each change
 * is logged once (error when it starts, info when it ends):
 *
 *   brokers-unreachable  no broker answers (librdkafka reports all brokers down, or the metadata probe fails)
 *   topic-missing        a topic the topology reads or writes is gone, or came back with another partition count
 *   commits-failing      the last commits failed (aborted and rewound) — e.g. a broker refusing records
 *   commit-undecided     a commit got no answer; it is repeated until Kafka decides the transaction (committer.ts)
 *   stalled              there is work (lag or queued records) and nothing was committed for `stallTimeoutMs`
 *   split-assignment     a task holds part of its input partitions only, for longer than a rebalance takes: the
 *                        group's assignor put partition p of co-partitioned topics on different workers (rebalances.ts)
 *
 * `weir_worker_stalled` is 1 while the worker is stalled (whatever the cause), `weir_worker_problem{problem}` is 1
 * per present problem; deploy/prometheus/rules.yml alerts on the first.
 */
import type { RuntimeContext } from "./context.js";

const PROBLEMS = [
  "brokers-unreachable",
  "topic-missing",
  "commits-failing",
  "commit-undecided",
  "stalled",
  "split-assignment",
] as const;
/**
 * A named problem that keeps a worker from progress (and from being ready): `brokers-unreachable`,
 * `topic-missing`, `commits-failing`, `commit-undecided`, `stalled` or `split-assignment`.
 *
 * @example
 * ```ts
 * import type { HealthProblem, Worker } from "weir";
 *
 * declare const worker: Worker;
 * const paging: HealthProblem[] = ["stalled", "commits-failing"];
 * const page = worker.problems().some((p) => (paging as string[]).includes(p.problem));
 * ```
 */
export type HealthProblem = (typeof PROBLEMS)[number];

/**
 * Why a worker is not ready, as {@link Worker.problems} and `/readyz` report it.
 *
 * @example
 * ```ts
 * import type { Worker } from "weir";
 *
 * declare const worker: Worker;
 * if (!worker.ready) for (const p of worker.problems()) console.warn(`${p.problem} since ${p.since}: ${p.reason}`);
 * ```
 */
export interface ProblemReport {
  /** "rebalancing" is the worker's own: partitions being assigned, restored or positioned. */
  problem: HealthProblem | "rebalancing";
  /** What is wrong, for people. */
  reason: string;
  /** When it started, ISO 8601. */
  since: string;
}

/** Consecutive failed commits before the worker says its commits are failing. */
const FAILED_COMMITS_BEFORE_PROBLEM = 3;

export class Health {
  readonly #problems = new Map<HealthProblem, { reason: string; since: number }>();
  /** The last successful commit, or the last moment there was nothing to commit. */
  #lastProgress = Date.now();
  #failedCommits = 0;
  /** What the processing loop is doing, and since when: a stall's reason says where the loop is. */
  #step = { what: "starting", since: Date.now() };

  constructor(private readonly ctx: RuntimeContext) {}

  /**
   * The processing loop says what it is doing (fetching, processing, each call of a commit, aborting, rewinding).
   * Nothing is logged; a stall names the step and how long the loop has been in it, so a loop waiting on a call
   * that never answers is found from `/readyz` alone.
   */
  step(what: string): void {
    if (this.#step.what !== what) this.#step = { what, since: Date.now() };
  }

  /** The processing loop's current step, e.g. `sendOffsetsToTransaction for 95 s`. */
  get currentStep(): string {
    return `${this.#step.what} for ${Math.round((Date.now() - this.#step.since) / 1000)} s`;
  }

  get ok(): boolean {
    return this.#problems.size === 0;
  }

  has(problem: HealthProblem): boolean {
    return this.#problems.has(problem);
  }

  problems(): ProblemReport[] {
    return [...this.#problems].map(([problem, p]) => ({
      problem,
      reason: p.reason,
      since: new Date(p.since).toISOString(),
    }));
  }

  raise(problem: HealthProblem, reason: string, fields: Record<string, unknown> = {}): void {
    const present = this.#problems.get(problem);
    if (present?.reason === reason) return;
    this.#problems.set(problem, { reason, since: present?.since ?? Date.now() });
    // Logged when it starts; later reasons (a stall's count of seconds, which probe saw the brokers away) are kept
    // current for /readyz without a log line each. Only a different set of missing topics is logged again.
    if (present && problem !== "topic-missing") return;
    this.ctx.log.error(`worker not ready: ${problem}`, { problem, reason, ...fields });
    this.#metrics();
  }

  clear(problem: HealthProblem): void {
    const present = this.#problems.get(problem);
    if (!present) return;
    this.#problems.delete(problem);
    this.ctx.log.info(`recovered: ${problem}`, {
      problem,
      after: `${Math.round((Date.now() - present.since) / 1000)} s`,
    });
    this.#metrics();
  }

  /** A commit stood, or there was nothing to commit with nothing waiting. */
  progressed(): void {
    this.#lastProgress = Date.now();
    this.#failedCommits = 0;
    this.clear("commits-failing");
    this.clear("stalled");
  }

  commitFailed(error: string): void {
    if (++this.#failedCommits >= FAILED_COMMITS_BEFORE_PROBLEM)
      this.raise("commits-failing", `${this.#failedCommits} commits in a row failed; last: ${error}`);
  }

  /**
   * Called about once a second. `waiting` describes the work that waits (undefined when there is none). Not
   * evaluated while the worker is restoring or rebalancing (`settled` false): that is progress of another kind, and
   * readiness already says so.
   */
  evaluate(waiting: string | undefined, settled: boolean): void {
    // Failing commits mean work was there: the records of the aborted transactions are waiting to be redone.
    if (waiting === undefined && this.#failedCommits > 0)
      waiting = `the last ${this.#failedCommits} commits failed`;
    if (waiting === undefined) {
      this.#lastProgress = Date.now();
      this.clear("stalled");
      return;
    }
    if (!settled) return;
    const idleMs = Date.now() - this.#lastProgress;
    if (idleMs >= this.ctx.options.stallTimeoutMs)
      this.raise(
        "stalled",
        `nothing committed for ${Math.round(idleMs / 1000)} s while ${waiting}; the processing loop is at: ${this.currentStep}`,
      );
  }

  #metrics(): void {
    const m = this.ctx.metrics;
    if (!m) return;
    m.workerStalled.set(this.#problems.has("stalled") ? 1 : 0);
    for (const problem of PROBLEMS) m.workerProblem.set({ problem }, this.#problems.has(problem) ? 1 : 0);
  }
}
