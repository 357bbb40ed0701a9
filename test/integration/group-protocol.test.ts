/**
 * KIP-848's consumer group protocol (`--group-protocol consumer`, Kafka 4.x) with tasks that read two co-partitioned
 * topics, as a join's tasks do: partition p of both topics must be processed by one task on one worker. With the
 * `range` assignor (weir's default for such topologies) they are; the broker's `uniform` assignor places each
 * partition on its own, and a task whose partitions are split across workers must be refused, loudly — not
 * processed with half its input — until one worker holds it whole.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  consumeAll,
  consumerProtocolSupported,
  createTopic,
  endOffsets,
  produceAll,
  uniqueName,
  waitAllCommitted,
  waitFor,
} from "../helpers/kafka.js";
import { WorkerProcess } from "../helpers/worker-process.js";

const PARTITIONS = 4;
const running: WorkerProcess[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

class TwoTopicApp {
  readonly prefix = uniqueName("two");
  readonly left = `${this.prefix}-left`;
  readonly right = `${this.prefix}-right`;
  readonly output = `${this.prefix}-counts`;
  readonly appId = `${this.prefix}-app`;
  /** key → records produced for it, over both topics. */
  readonly produced = new Map<string, number>();

  async createTopics(): Promise<void> {
    for (const t of [this.left, this.right, this.output]) await createTopic(t, PARTITIONS);
  }

  worker(args: string[] = []): WorkerProcess {
    return new WorkerProcess({
      args: ["--app", "test/apps/two-topic-count.ts", "--group-protocol", "consumer", ...args],
      env: { WEIR_TEST_PREFIX: this.prefix },
    });
  }

  /** `n` records to each topic over 60 keys; murmur2, so key k is in the same partition of both. */
  async produce(n: number, round: number): Promise<void> {
    for (const topic of [this.left, this.right]) {
      const records = [];
      for (let i = 0; i < n; i++) {
        const key = `k${i % 60}`;
        this.produced.set(key, (this.produced.get(key) ?? 0) + 1);
        records.push({ key, value: `${topic.slice(this.prefix.length + 1)}-${round}-${i}` });
      }
      await produceAll(topic, records, { config: { partitioner: "murmur2_random" } });
    }
  }

  async waitCommitted(): Promise<void> {
    for (const topic of [this.left, this.right])
      await waitAllCommitted(this.appId, topic, { timeoutMs: 120_000 });
  }

  /**
   * One committed output per input, and per key the counts 1..n once each (the two topics interleave in any order,
   * so which input got which count is not fixed; that no count repeats or is missing is).
   */
  async expectExactCounts(): Promise<void> {
    const out = await consumeAll(this.output, { isolation: "read_committed", timeoutMs: 60_000 });
    const counts = new Map<string, number[]>();
    for (const r of out) {
      const n = Number(String(r.value).split(":").pop());
      const key = String(r.key);
      counts.set(key, [...(counts.get(key) ?? []), n]);
    }
    const wrong: string[] = [];
    for (const [key, total] of this.produced) {
      const got = (counts.get(key) ?? []).sort((a, b) => a - b);
      const expected = Array.from({ length: total }, (_, i) => i + 1);
      if (JSON.stringify(got) !== JSON.stringify(expected))
        wrong.push(`${key}: ${got.length} outputs for ${total} inputs (${got.slice(0, 5).join(",")}…)`);
    }
    expect(wrong).toEqual([]);
    expect(out.length).toBe([...this.produced.values()].reduce((a, b) => a + b, 0));
  }
}

type Task = { id: string; partitions: string[] };

// The consumer protocol needs Kafka 4.x: skipped on a 3.x broker (WEIR_BROKER_VERSION=3.9.1), which lacks it.
describe.skipIf(!consumerProtocolSupported())(
  "group protocol consumer (KIP-848), tasks reading two topics",
  () => {
    it("range (weir's default here): two workers each hold whole tasks, every count exact", async () => {
      const app = new TwoTopicApp();
      await app.createTopics();
      const a = track(app.worker().start());
      const b = track(app.worker().start());
      await Promise.all([a.waitReady(), b.waitReady()]);
      await app.produce(2000, 1);
      await app.waitCommitted();
      const tasks = (await Promise.all([a.json<Task[]>("/tasks"), b.json<Task[]>("/tasks")])).map(
        (r) => r.body,
      );
      console.log(
        `tasks: ${tasks.map((ts) => ts.map((t) => `${t.id}[${t.partitions.length}]`).join(" ")).join(" | ")}`,
      );
      // Every task on one worker, with partition p of both topics.
      expect(
        tasks
          .flat()
          .map((t) => t.id)
          .sort(),
      ).toEqual(["0_0", "0_1", "0_2", "0_3"]);
      for (const t of tasks.flat()) expect(t.partitions).toHaveLength(2);
      expect(tasks.every((ts) => ts.length > 0)).toBe(true);
      await app.expectExactCounts();
    });

    it("uniform splits tasks across workers: not processed, /readyz says split-assignment; whole on one worker, exact", async () => {
      const app = new TwoTopicApp();
      await app.createTopics();
      await app.produce(1000, 1);
      const a = track(app.worker(["--remote-assignor", "uniform"]).start());
      const b = track(app.worker(["--remote-assignor", "uniform"]).start());
      const workers = [a, b];
      // The broker's uniform assignor balances 8 partitions over 2 members without regard to partition numbers.
      const split = await waitFor(
        "a worker to report split-assignment",
        async () => {
          for (const w of workers) {
            const r = await w
              .json<{ problems?: Array<{ problem: string; reason: string }> }>("/readyz")
              .catch(() => undefined);
            const p = r?.body.problems?.find((x) => x.problem === "split-assignment");
            if (p) return { worker: w, status: r!.status, reason: p.reason };
          }
          return undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      console.log(`split reported: ${split.reason}`);
      expect(split.status).toBe(503);
      expect(split.reason).toMatch(/holds .* but not .*remoteAssignor range/);
      // Said once in the log, as an error, naming the task.
      const logged = split.worker.logs.filter((l) => l.msg === "worker not ready: split-assignment");
      expect(logged).toHaveLength(1);
      expect(logged[0]!.level).toBe("error");
      // While split, the split tasks process nothing: new input gives no output in their partitions. (Before the
      // second worker joined, the first held every task whole and processed the first round.)
      const splitTasks = (logged[0]!.tasks as string[]).map((id) => Number(id.split("_")[1]));
      const before = await endOffsets(app.output);
      await app.produce(500, 2);
      await new Promise((r) => setTimeout(r, 5000));
      const after = await endOffsets(app.output);
      for (const p of splitTasks) expect(after.get(p), `output partition ${p}`).toBe(before.get(p));
      const metrics = await (await fetch(`${split.worker.url}/metrics`)).text();
      expect(metrics).toMatch(/weir_worker_problem\{problem="split-assignment"[^}]*\} 1/);

      // One worker leaves: the other gets every partition, the tasks are whole, and everything is counted once.
      const survivor = split.worker === a ? b : a;
      await split.worker.stop();
      await app.produce(1000, 3);
      await survivor.waitReady(90_000);
      await app.waitCommitted();
      await app.expectExactCounts();
    });
  },
);
