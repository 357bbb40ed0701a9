/**
 * Final results of a windowed count on a real broker under exactly-once, with the worker SIGKILLed mid-stream and
 * restarted: every window that closed appears exactly once on the output, with the count computed here from the
 * input alone, and no window that did not close appears.
 */
import { afterEach, describe, expect, it } from "vitest";
import { consumeAll, createTopic, endOffsets, produceAll, uniqueName, waitFor } from "../helpers/kafka.js";
import { WorkerProcess } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const KEYS = 12;
const PARTITIONS = 3;
const RECORDS = 24_000;
const SIZE = 1000;

describe("windowed count with final results", () => {
  it("each closed window's count appears exactly once through a SIGKILL, equal to the count from the input", async () => {
    const prefix = uniqueName("win");
    await createTopic(`${prefix}-in`, PARTITIONS);
    await createTopic(`${prefix}-out`, PARTITIONS);
    // Key k goes to partition k % 3; record i is stamped base + 7·i, so each partition's time only grows.
    const base = Date.now() - 3_600_000;
    const records = Array.from({ length: RECORDS }, (_, i) => {
      const k = i % KEYS;
      return { key: `k${k}`, value: "v", partition: k % PARTITIONS, timestamp: base + 7 * i };
    });
    // The reference: per key and window, the count; a window is final when its partition's last time reached its end.
    const counts = new Map<string, number>();
    const streamTime = new Map<number, number>();
    for (const r of records) {
      const start = Math.floor(r.timestamp / SIZE) * SIZE;
      counts.set(`${r.key}@${start}`, (counts.get(`${r.key}@${start}`) ?? 0) + 1);
      streamTime.set(r.partition, Math.max(streamTime.get(r.partition) ?? 0, r.timestamp));
    }
    const expected = new Map(
      [...counts].filter(([w]) => {
        const [key, start] = w.split("@") as [string, string];
        return Number(start) + SIZE <= streamTime.get(Number(key.slice(1)) % PARTITIONS)!;
      }),
    );

    const worker = (stateDir?: string) =>
      new WorkerProcess({
        args: ["--app", "test/apps/windowed-count.ts", "--commit-interval-ms", "100"],
        env: { WEIR_TEST_PREFIX: prefix },
        ...(stateDir ? { stateDir } : {}),
      });
    const first = worker().start();
    running.push(first);
    await first.waitReady(120_000);
    await produceAll(`${prefix}-in`, records);
    await waitFor(
      "some final results to be committed",
      async () => {
        const n = [...(await endOffsets(`${prefix}-out`, "read_committed")).values()].reduce(
          (a, b) => a + b,
          0,
        );
        return n > 300 ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    first.kill("SIGKILL");
    await first.exited();
    const second = worker(first.stateDir).start();
    running.push(second);
    await second.waitReady(120_000);

    const finals = await consumeAll(`${prefix}-out`, {
      isolation: "read_committed",
      expected: expected.size,
      timeoutMs: 120_000,
    });
    const seen = new Map<string, number>();
    const twice: string[] = [];
    for (const r of finals) {
      if (seen.has(r.key!)) twice.push(r.key!);
      seen.set(r.key!, JSON.parse(r.value!) as number);
    }
    console.log(
      `windowed: ${records.length} records, ${expected.size} windows closed, ${finals.length} finals read`,
    );
    expect(twice).toEqual([]);
    expect(seen).toEqual(expected);
  });
});
