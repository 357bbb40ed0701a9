/**
 * Drives the per-key count topology (test/apps/count.ts) in worker processes: topics, input, and the checks that
 * make "exactly once" observable — one output per input, and each output's count equal to the input's sequence
 * number within its key.
 */
import { expect } from "vitest";
import {
  committedOffsets,
  consumeAll,
  createTopic,
  endOffsets,
  produceAll,
  uniqueName,
  waitFor,
  type ConsumedRecord,
} from "./kafka.js";
import { WorkerProcess, type WorkerProcessOptions } from "./worker-process.js";

/**
 * What is wrong with a count app's output (`<key>#<seq>:<count>` per input `<key>#<seq>`) given what was produced
 * (key → records): the first ten inputs counted twice, never counted, or counted with the wrong key or count.
 */
export function countOutputProblems(
  out: ConsumedRecord[],
  produced: ReadonlyMap<string, number>,
): { duplicates: string[]; missing: string[]; wrong: string[] } {
  const seen = new Map<string, number>();
  const wrong: string[] = [];
  for (const r of out) {
    const [input, n] = r.value!.split(":");
    const [key, seq] = input!.split("#");
    if (r.key !== key || Number(n) !== Number(seq)) wrong.push(`${r.key} ${r.value}`);
    seen.set(input!, (seen.get(input!) ?? 0) + 1);
  }
  const duplicates = [...seen].filter(([, c]) => c > 1).map(([k]) => k);
  const missing: string[] = [];
  for (const [key, count] of produced)
    for (let s = 1; s <= count; s++) if (!seen.has(`${key}#${s}`)) missing.push(`${key}#${s}`);
  return { duplicates: duplicates.slice(0, 10), missing: missing.slice(0, 10), wrong: wrong.slice(0, 10) };
}

export class CountApp {
  readonly prefix = uniqueName("cnt");
  readonly input = `${this.prefix}-input`;
  readonly output = `${this.prefix}-counts`;
  readonly appId = `${this.prefix}-app`;
  readonly dlq = `${this.prefix}-app-dlq`;
  /** key → number of records produced so far. */
  readonly produced = new Map<string, number>();
  total = 0;

  constructor(
    readonly keys = 100,
    readonly partitions = 3,
  ) {}

  async createTopics(): Promise<void> {
    await createTopic(this.input, this.partitions);
    await createTopic(this.output, this.partitions);
  }

  worker(options: WorkerProcessOptions = {}): WorkerProcess {
    return new WorkerProcess({
      ...options,
      args: ["--app", "test/apps/count.ts", "--commit-interval-ms", "100", ...(options.args ?? [])],
      env: { WEIR_TEST_PREFIX: this.prefix, ...options.env },
    });
  }

  /** Produce `n` records round-robin over the keys; value = `<key>#<sequence within key>`. */
  async produce(n: number): Promise<void> {
    const records = [];
    for (let i = 0; i < n; i++) {
      const key = `k${(this.total + i) % this.keys}`;
      const seq = (this.produced.get(key) ?? 0) + 1;
      this.produced.set(key, seq);
      records.push({ key, value: `${key}#${seq}` });
    }
    this.total += n;
    // murmur2 as the engine's producers, so a key's partition is the one the worker's /state looks in.
    await produceAll(this.input, records, { config: { partitioner: "murmur2_random" } });
  }

  /** Wait until the app's group has committed the end of every input partition. */
  async waitCommitted(timeoutMs = 120_000): Promise<void> {
    const ends = await endOffsets(this.input);
    await waitFor(
      `group ${this.appId} to commit the end of ${this.input} (${[...ends.values()].join(",")})`,
      async () => {
        const committed = await committedOffsets(this.appId, this.input).catch(
          () => new Map<number, number>(),
        );
        return [...ends].every(([p, end]) => (committed.get(p) ?? -1) >= end) ? true : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** The committed output: exactly one record per input, with the exact running count. */
  async expectExactOutput(): Promise<void> {
    const out = await consumeAll(this.output, { isolation: "read_committed", timeoutMs: 60_000 });
    expect(countOutputProblems(out, this.produced)).toEqual({ duplicates: [], missing: [], wrong: [] });
    expect(out.length).toBe(this.total);
  }

  /** Every key's count as the workers' stores hold it (interactive queries; each key lives on one worker). */
  async expectStoreEqualsReference(workers: WorkerProcess[]): Promise<void> {
    const mismatches: string[] = [];
    for (const [key, expected] of this.produced) {
      const answers = await Promise.all(
        workers.map((w) => w.json<{ found: boolean; value?: number }>(`/state/counts/${key}`)),
      );
      // Every worker answers for every key (routed queries); the one that holds it answers without forwarding.
      const found = answers.filter(
        (a) => a.body.found && (a.body as { forwardedBy?: unknown }).forwardedBy === undefined,
      );
      if (found.length !== 1 || found[0]!.body.value !== expected)
        mismatches.push(
          `${key}: expected ${expected}, got ${JSON.stringify(found.map((f) => f.body.value))}`,
        );
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
  }
}
