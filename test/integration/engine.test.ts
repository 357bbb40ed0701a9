/**
 * The engine against a real broker, with workers in child processes: exactly-once through SIGKILL, a group of
 * workers that grows and shrinks — under the classic group protocol and KIP-848's consumer protocol — and dead
 * letters.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CountApp } from "../helpers/count-app.js";
import { consumeAll, consumerProtocolSupported, endOffsets, produceAll, waitFor } from "../helpers/kafka.js";
import type { WorkerProcess } from "../helpers/worker-process.js";

// WEIR_TEST_MUTATE_ALOS=1 runs the SIGKILL test under at_least_once, where it must fail (duplicates): a check of the check.
const MODE = process.env.WEIR_TEST_MUTATE_ALOS ? ["--guarantee", "at_least_once"] : [];
const running: WorkerProcess[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

async function outputAtLeast(app: CountApp, n: number): Promise<void> {
  await waitFor(
    `${n} records on ${app.output}`,
    async () => {
      const ends = await endOffsets(app.output);
      return [...ends.values()].reduce((a, b) => a + b, 0) >= n ? true : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 50 },
  );
}

// The consumer protocol needs Kafka 4.x: on a 3.x broker (WEIR_BROKER_VERSION=3.9.1) its runs are skipped.
const PROTOCOLS = [
  { protocol: "classic", args: [] as string[], skip: false },
  {
    protocol: "consumer",
    args: ["--group-protocol", "consumer"],
    skip: !consumerProtocolSupported(),
  },
];

describe.each(PROTOCOLS)("exactly-once per-key count, group protocol $protocol", ({ args, skip }) => {
  it.skipIf(skip)("SIGKILL mid-stream and restart: one result per input, exact counts", async () => {
    const app = new CountApp();
    await app.createTopics();
    await app.produce(30_000);
    const first = track(app.worker({ args: [...MODE, ...args] }).start());
    await outputAtLeast(app, 3000);
    first.kill("SIGKILL");
    const killed = await first.exited();
    expect(killed.signal).toBe("SIGKILL");
    // Mid-stream: the first worker had not finished (uncommitted output included).
    const atKill = [...(await endOffsets(app.output)).values()].reduce((a, b) => a + b, 0);
    console.log(`SIGKILL after ${atKill} of ${app.total} outputs were written (committed or not)`);
    expect(atKill).toBeLessThan(app.total);

    const second = track(app.worker({ stateDir: first.stateDir, args: [...MODE, ...args] }).start());
    await second.waitReady();
    await app.produce(5000);
    await app.waitCommitted();
    await app.expectExactOutput();
    await app.expectStoreEqualsReference([second]);
  });

  it.skipIf(skip)(
    "two workers split the partitions; a third joins and leaves; results stay exact",
    async () => {
      const app = new CountApp(200, 6);
      await app.createTopics();
      const a = track(app.worker({ args }).start());
      const b = track(app.worker({ args }).start());
      await Promise.all([a.waitReady(), b.waitReady()]);
      await app.produce(10_000);

      // Both workers own tasks.
      await waitFor(
        "both workers to own tasks",
        async () => {
          const [ta, tb] = await Promise.all([a.json<unknown[]>("/tasks"), b.json<unknown[]>("/tasks")]);
          return ta.body.length > 0 && tb.body.length > 0 && ta.body.length + tb.body.length === 6
            ? true
            : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );

      const c = track(app.worker({ args }).start());
      await c.waitReady();
      await app.produce(10_000);
      await waitFor(
        "the third worker to process records",
        async () => {
          const tasks = await c.json<Array<{ processedRecords: number }>>("/tasks");
          return tasks.body.some((t) => t.processedRecords > 0) ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );

      await c.stop();
      await app.produce(10_000);
      await app.waitCommitted();
      await app.expectExactOutput();
      await app.expectStoreEqualsReference([a, b]);
    },
  );
});

describe("dead letters", () => {
  it("a malformed record lands in the dead-letter topic with its headers; later records are processed", async () => {
    const app = new CountApp(5, 1);
    await app.createTopics();
    await app.produce(10);
    const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xff]);
    await produceAll(app.input, [{ key: "k1", value: invalidUtf8, headers: { trace: "abc" } }], {
      config: { partitioner: "murmur2_random" },
    });
    await app.produce(10);
    const w = track(app.worker().start());
    await w.waitReady();
    await app.waitCommitted();
    await app.expectExactOutput();

    const dead = await consumeAll(app.dlq, { isolation: "read_committed", timeoutMs: 30_000, expected: 1 });
    expect(dead).toHaveLength(1);
    const [record] = dead;
    expect(record!.key).toBe("k1");
    expect(record!.valueBytes).toEqual(invalidUtf8);
    expect(record!.headers).toMatchObject({
      trace: "abc",
      "weir.error.class": "DeserializationError",
      "weir.source.topic": app.input,
      "weir.source.partition": "0",
      "weir.source.offset": "10",
    });
    expect(record!.headers["weir.error.message"]).toMatch(/UTF-8/);
    expect(Number(record!.headers["weir.source.timestamp"])).toBeGreaterThan(0);
    const metrics = await (await fetch(`${w.url}/metrics`)).text();
    expect(metrics).toMatch(
      /weir_dead_letter_records_total\{reason="DeserializationError",topic="[^"]+",app="[^"]+"\} 1/,
    );
  });
});

describe("zombie fencing", () => {
  it("a second worker with the same id fences the first: the zombie fails loudly and commits nothing more", async () => {
    const app = new CountApp(50, 3);
    await app.createTopics();
    await app.produce(20_000);
    const first = track(app.worker().start());
    await first.waitReady();
    // A second instance with the same worker id (a copied state directory): same transactional id.
    const twinDir = mkdtempSync(join(tmpdir(), "weir-twin-"));
    mkdirSync(join(twinDir, app.appId), { recursive: true });
    copyFileSync(join(first.stateDir, app.appId, "worker-id"), join(twinDir, app.appId, "worker-id"));
    const twin = track(app.worker({ stateDir: twinDir }).start());
    await twin.waitForLog((l) => l.msg === "worker running", 60_000, "the twin to start");
    // The next transaction of the first worker (its producer epoch is stale now) must be refused.
    await app.produce(2000);
    const exit = await first.exited(60_000);
    expect(exit.code).toBe(1);
    // It says why, whichever call (begin, produce, sendOffsets, commit) met the fence first.
    expect(first.logs.some((l) => l.level === "error" && l.msg === "worker failed")).toBe(true);
    expect(first.logs.filter((l) => /fenced/i.test(JSON.stringify(l))).length).toBeGreaterThan(0);

    await twin.waitReady();
    await app.produce(2000);
    await app.waitCommitted();
    await app.expectExactOutput();
  });
});
