/**
 * A committed offset or a position that is no longer in its partition (records deleted before they were
 * processed) is never a silent reset: the worker logs it as an error, counts it in weir_offset_resets_total, and
 * continues at the source's policy (earliest here) — at start-up, and while running (librdkafka runs with
 * auto.offset.reset=error; weir handles the error, or finds the stopped partition by its own range check).
 */
import { afterEach, describe, expect, it } from "vitest";
import { CountApp } from "../helpers/count-app.js";
import { consumeAll, endOffsets, fromCallback, produceAll, withAdmin } from "../helpers/kafka.js";
import type { WorkerProcess } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);
afterEach(async () => {
  for (const w of running) w.kill("SIGCONT");
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

async function produceRange(app: CountApp, from: number, to: number, partition = 0): Promise<void> {
  const records = [];
  for (let i = from; i < to; i++) records.push({ key: `k${i % 20}`, value: `p${partition}o${i}`, partition });
  await produceAll(app.input, records);
}

async function deleteBefore(topic: string, offset: number): Promise<void> {
  await withAdmin((admin) =>
    fromCallback((done) =>
      admin.deleteRecords([{ topic, partition: 0, offset }], { timeout: 10_000 }, (err) => done(err)),
    ),
  );
}

/** Per input partition, the input offsets whose outputs are committed, each with how often. */
async function processedOffsets(app: CountApp): Promise<Map<number, Map<number, number>>> {
  const out = await consumeAll(app.output, { isolation: "read_committed", timeoutMs: 60_000 });
  const seen = new Map<number, Map<number, number>>();
  for (const r of out) {
    const [, p, o] = /^p(\d+)o(\d+):/.exec(r.value!)!.map(Number);
    if (!seen.has(p!)) seen.set(p!, new Map());
    const m = seen.get(p!)!;
    m.set(o!, (m.get(o!) ?? 0) + 1);
  }
  return seen;
}

function expectProcessedExactly(seen: Map<number, number>, ranges: Array<[number, number]>): void {
  const expected = new Set<number>();
  for (const [from, to] of ranges) for (let i = from; i < to; i++) expected.add(i);
  const missing = [...expected].filter((o) => !seen.has(o));
  const unexpected = [...seen.keys()].filter((o) => !expected.has(o));
  const doubled = [...seen].filter(([, n]) => n > 1).map(([o]) => o);
  expect({
    missing: missing.slice(0, 10),
    unexpected: unexpected.slice(0, 10),
    doubled: doubled.slice(0, 10),
  }).toEqual({ missing: [], unexpected: [], doubled: [] });
}

async function offsetResets(w: WorkerProcess): Promise<number> {
  const text = await (await fetch(`${w.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("weir_offset_resets_total{") && l.includes("offset-lost"));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("lost offsets", () => {
  it("at start: a committed offset older than the partition's first record is logged, counted, and not taken", async () => {
    const app = new CountApp(20, 1);
    await app.createTopics();
    await produceRange(app, 0, 1000);
    const first = track(app.worker().start());
    await app.waitCommitted();
    await first.stop();
    await produceRange(app, 1000, 2000);
    await deleteBefore(app.input, 1500); // 1000..1499 are gone before anyone processed them

    const second = track(app.worker({ stateDir: first.stateDir }).start());
    await second.waitReady();
    await app.waitCommitted();
    const lost = second.logs.find((l) => l.msg === "committed offset lost: not resetting silently");
    expect(lost?.level).toBe("error");
    expect(String(lost?.reason)).toMatch(/records 1000 to 1499 were deleted/);
    expect(await offsetResets(second)).toBe(1);
    expectProcessedExactly((await processedOffsets(app)).get(0)!, [
      [0, 1000],
      [1500, 2000],
    ]);
  });

  // Both rebalance protocols: cooperative re-assigns the stopped partition alone; eager (range) must assign the
  // whole assignment again, every other partition where the application is (not where it was first assigned).
  for (const assignor of ["cooperative-sticky", "range"] as const)
    it(`while running (${assignor}): a position whose records were deleted is found and rewound; the other partition goes on exactly`, async () => {
      const app = new CountApp(20, 2);
      await app.createTopics();
      await produceRange(app, 0, 1000);
      await produceRange(app, 0, 1000, 1);
      const w = track(app.worker({ args: ["--kafka", `partition.assignment.strategy=${assignor}`] }).start());
      await app.waitCommitted();
      // Freeze the worker (well within its session timeout), write to both partitions, and delete records of
      // partition 0 that it has not read.
      w.kill("SIGSTOP");
      await produceRange(app, 1000, 2000);
      await produceRange(app, 1000, 2000, 1);
      await deleteBefore(app.input, 1500);
      w.kill("SIGCONT");
      await w.waitForLog(
        (l) => l.msg === "committed offset lost: not resetting silently",
        45_000,
        "the lost offset to be found",
      );
      await app.waitCommitted(60_000);
      expect(await offsetResets(w)).toBe(1);
      expect((await endOffsets(app.input)).get(0)).toBe(2000);
      expect(w.logs.some((l) => l.msg === "worker failed")).toBe(false);
      const seen = await processedOffsets(app);
      expectProcessedExactly(seen.get(0)!, [
        [0, 1000],
        [1500, 2000],
      ]);
      expectProcessedExactly(seen.get(1)!, [[0, 2000]]);
    });
});
