/**
 * The records of one asynchronous processor (KStream.processAsync) in one task: which calls may start (the
 * concurrency limit and the ordering), each call's time limit and retries, and the results waiting to be applied.
 *
 * Nothing here touches the task's pipeline, stores or outputs: a call runs outside processing, and its result waits
 * in `completed` until the task applies it synchronously, in the worker's processing turn, inside the open
 * transaction (StreamTask.applyAsyncCompletions). A job counts as in flight from the moment its record reaches the
 * processor until its result is applied; a key (under per-key ordering) is busy for as long, so the key's next
 * record is called only after the previous one's outputs went downstream — per-key order holds in the outputs.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { AsyncProcessorSpec } from "../builder.js";
import { ConfigError } from "../errors.js";
import type { Emit, RawRecord, StreamRecord } from "../record.js";

export type AsyncOutcome = { ok: true; outputs: Emit[] } | { ok: false; error: unknown; timedOut: boolean };

export interface AsyncJob {
  readonly record: StreamRecord;
  /** The input record the job came from (dead-lettered when the call fails). */
  readonly raw: RawRecord | undefined;
  /** The source record being processed when the job was made: outputs inherit its timestamp and headers. */
  readonly origin: StreamRecord | undefined;
  readonly orderKey: string;
  started: boolean;
  outcome?: AsyncOutcome;
  /** Attempts made (for the error's message). */
  attempts: number;
}

export interface AsyncStageHooks {
  /** A call settled: its duration (seconds) and outcome. */
  called?(seconds: number, outcome: "ok" | "error" | "timeout"): void;
  retried?(): void;
}

/** Why a call's signal was aborted. */
export class AsyncTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

export class AsyncStage {
  /** Jobs not yet applied, in arrival order. */
  readonly #jobs: AsyncJob[] = [];
  /** Settled jobs waiting to be applied, in the order they settled. */
  #completed: AsyncJob[] = [];
  #running = 0;
  /** Keys with a job started and not yet applied (per-key; one constant key for per-partition). */
  readonly #busy = new Set<string>();
  readonly #controllers = new Set<AbortController>();
  /** Aborted when the stage closes: ends the back-off sleeps of retries at once. */
  readonly #closing = new AbortController();
  #closed = false;

  constructor(
    readonly processor: string,
    readonly spec: AsyncProcessorSpec,
    private readonly context: { taskId: string; partition: number },
    /** Told when a job settles (the worker wakes, the driver's settle() resolves). */
    private readonly notify: () => void,
    private readonly hooks: AsyncStageHooks = {},
  ) {}

  /** Records in the processor and not yet applied: waiting, called, or settled. */
  get size(): number {
    return this.#jobs.length;
  }

  /** Whether the task may give the processor another record (fewer than `concurrency` in it). */
  get accepting(): boolean {
    return this.#jobs.length < this.spec.concurrency;
  }

  get hasCompleted(): boolean {
    return this.spec.ordering === "in-order"
      ? this.#jobs[0]?.outcome !== undefined
      : this.#completed.length > 0;
  }

  add(record: StreamRecord, raw: RawRecord | undefined, origin: StreamRecord | undefined): void {
    this.#jobs.push({ record, raw, origin, orderKey: this.#orderKey(record), started: false, attempts: 0 });
    this.#startReady();
  }

  /**
   * The settled jobs, removed; each one's key is free again once the caller has applied it. Call `startReady()`
   * after applying them, so a key's next record is called only after its previous one's outputs went downstream.
   */
  takeCompleted(): AsyncJob[] {
    if (this.spec.ordering === "in-order") {
      // Only the settled head of the arrival order: a settled job behind an unsettled one waits for it.
      let n = 0;
      while (n < this.#jobs.length && this.#jobs[n]!.outcome !== undefined) n++;
      const head = this.#jobs.splice(0, n);
      const taken = new Set(head);
      this.#completed = this.#completed.filter((j) => !taken.has(j));
      return head;
    }
    const done = this.#completed;
    this.#completed = [];
    for (const job of done) {
      this.#busy.delete(job.orderKey);
      this.#jobs.splice(this.#jobs.indexOf(job), 1);
    }
    return done;
  }

  /** Start every waiting job the limit and the ordering allow, in arrival order. */
  startReady(): void {
    this.#startReady();
  }

  /** The task closed (rebalance, abort, shutdown): calls are aborted and their results ignored. */
  close(): void {
    this.#closed = true;
    this.#closing.abort();
    for (const c of this.#controllers) c.abort(new Error("the task closed"));
    this.#controllers.clear();
    this.#jobs.length = 0;
    this.#completed = [];
  }

  #orderKey(record: StreamRecord): string {
    if (this.spec.ordering === "per-partition") return "";
    if (this.spec.ordering === "none" || this.spec.ordering === "in-order") return "";
    const k = record.key as unknown;
    if (k === null || k === undefined) return "\u0000null";
    if (typeof k === "string") return `s${k}`;
    if (Buffer.isBuffer(k)) return `b${k.toString("hex")}`;
    if (typeof k === "object") return `j${JSON.stringify(k)}`;
    return `${typeof k}${String(k)}`;
  }

  #startReady(): void {
    if (this.#closed) return;
    // One call at a time per key (per-key) or per task (per-partition); in-order and none overlap freely.
    const ordered = this.spec.ordering === "per-key" || this.spec.ordering === "per-partition";
    for (const job of this.#jobs) {
      if (this.#running >= this.spec.concurrency) return;
      if (job.started) continue;
      if (ordered && this.#busy.has(job.orderKey)) continue;
      job.started = true;
      this.#running++;
      if (ordered) this.#busy.add(job.orderKey);
      void this.#call(job).then((outcome) => {
        if (this.#closed) return;
        job.outcome = outcome;
        this.#running--;
        this.#completed.push(job);
        this.notify();
      });
    }
  }

  /** Every attempt the retry policy allows; never rejects. */
  async #call(job: AsyncJob): Promise<AsyncOutcome> {
    const { spec } = this;
    let last: AsyncOutcome = { ok: false, error: new Error("not called"), timedOut: false };
    for (let attempt = 1; attempt <= spec.attempts && !this.#closed; attempt++) {
      if (attempt > 1) {
        this.hooks.retried?.();
        await sleep(spec.backoffMs * 2 ** (attempt - 2), undefined, { signal: this.#closing.signal }).catch(
          () => {},
        );
        if (this.#closed) break;
      }
      job.attempts = attempt;
      last = await this.#attempt(job, attempt);
      if (last.ok || !this.#retryable(last.error)) return last;
    }
    return last;
  }

  /** Whether a failed call is worth another: never weir's ConfigError, else the processor's `retry.when`. */
  #retryable(error: unknown): boolean {
    if (error instanceof ConfigError) return false;
    try {
      return this.spec.retryWhen(error) !== false;
    } catch {
      return true;
    }
  }

  async #attempt(job: AsyncJob, attempt: number): Promise<AsyncOutcome> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const started = process.hrtime.bigint();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new AsyncTimeout(this.spec.timeoutMs);
        controller.abort(error);
        reject(error);
      }, this.spec.timeoutMs);
    });
    let outcome: AsyncOutcome;
    try {
      const result = await Promise.race([
        Promise.resolve().then(() =>
          this.spec.fn(job.record, {
            signal: controller.signal,
            attempt,
            taskId: this.context.taskId,
            partition: this.context.partition,
            processor: this.processor,
          }),
        ),
        timedOut,
      ]);
      outcome = { ok: true, outputs: outputsOf(result) };
    } catch (error) {
      outcome = { ok: false, error, timedOut: error instanceof AsyncTimeout };
    } finally {
      clearTimeout(timer);
      this.#controllers.delete(controller);
    }
    timedOut.catch(() => {});
    this.hooks.called?.(
      Number(process.hrtime.bigint() - started) / 1e9,
      outcome.ok ? "ok" : outcome.timedOut ? "timeout" : "error",
    );
    return outcome;
  }
}

/** The outputs of a call: one record, a list, or nothing. */
function outputsOf(result: unknown): Emit[] {
  if (result === null || result === undefined) return [];
  const list = Array.isArray(result) ? (result as unknown[]) : [result];
  for (const r of list)
    if (!r || typeof r !== "object" || !("key" in r) || !("value" in r))
      throw new TypeError(
        `an async processor must resolve to { key, value }, a list of them, or nothing; got ${JSON.stringify(r)}`,
      );
  return list as Emit[];
}
