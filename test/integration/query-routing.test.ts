/**
 * Routed interactive queries: three workers of the per-key count share six partitions; every key of the store is
 * asked of every worker's HTTP port and answered with the right count — by the asking worker when it holds the key's
 * partition, else forwarded to the worker that does (found through the group's assignment, as the broker describes
 * it, and the URLs in the `<app>-members` topic). Every worker names the same holder for a key, and that holder is
 * the one whose tasks include the key's partition. `weir state get --url` asked of one worker answers for a key held
 * by another.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createTopic, produceAll, uniqueName, waitAllCommitted, waitFor } from "../helpers/kafka.js";
import { WorkerProcess, runWeir } from "../helpers/worker-process.js";

const PARTITIONS = 6;
const KEYS = 120;
const running: WorkerProcess[] = [];

afterAll(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

interface Answer {
  found?: boolean;
  value?: unknown;
  partition?: number;
  answeredBy?: { workerId: string; url?: string };
  forwardedBy?: { workerId: string };
  error?: string;
}

describe("routed interactive queries", () => {
  it("every key of the store, asked of every worker, is answered with its count by the worker holding it", async () => {
    const prefix = uniqueName("iq");
    const input = `${prefix}-input`;
    await createTopic(input, PARTITIONS);
    await createTopic(`${prefix}-counts`, PARTITIONS);
    const env = { WEIR_TEST_PREFIX: prefix };
    const workers = [0, 1, 2].map(() =>
      new WorkerProcess({ args: ["--app", "test/apps/count.ts"], env }).start(),
    );
    running.push(...workers);
    await Promise.all(workers.map((w) => w.waitReady(120_000)));

    const expected = new Map<string, number>();
    const records = Array.from({ length: 3000 }, (_, i) => {
      const key = `user-${(i * 7) % KEYS}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
      return { key, value: `v${i}` };
    });
    await produceAll(input, records, { config: { partitioner: "murmur2_random" } });
    await waitAllCommitted(`${prefix}-app`, input, { timeoutMs: 120_000 });
    // Every worker ready again (the group settled after the three joins).
    await Promise.all(workers.map((w) => w.waitReady(60_000)));

    const idOf = (w: WorkerProcess) => String(w.logs.find((l) => l.msg === "worker starting")?.worker);
    const ids = workers.map(idOf);
    expect(new Set(ids).size).toBe(3);
    const partitionsOf = async (w: WorkerProcess) =>
      new Set((await w.json<Array<{ id: string }>>("/tasks")).body.map((t) => Number(t.id.split("_")[1])));

    const ask = async (w: WorkerProcess, key: string): Promise<{ status: number; body: Answer }> => {
      // A 503 (the group settling) says to retry.
      return waitFor(
        `an answer for ${key}`,
        async () => {
          const r = await w.json<Answer>(`/state/counts/${encodeURIComponent(key)}`);
          return r.status === 503 ? undefined : r;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    };

    const holders = new Map<string, string>();
    let forwarded = 0;
    for (const key of expected.keys())
      for (const [i, w] of workers.entries()) {
        const { status, body } = await ask(w, key);
        expect({ key, status, value: body.value }).toEqual({ key, status: 200, value: expected.get(key) });
        const holder = body.answeredBy!.workerId;
        if (holder !== ids[i]) {
          forwarded++;
          expect(body.forwardedBy?.workerId).toBe(ids[i]);
        } else expect(body.forwardedBy).toBeUndefined();
        if (!holders.has(key)) holders.set(key, holder);
        expect(holder, `${key} asked of worker ${i}`).toBe(holders.get(key));
        // The holder's own tasks include the key's partition.
        const holderProcess = workers[ids.indexOf(holder)]!;
        expect((await partitionsOf(holderProcess)).has(body.partition!)).toBe(true);
      }
    // Each of the three held some keys, and two of every three answers were forwarded.
    expect(new Set(holders.values()).size).toBe(3);
    expect(forwarded).toBe(KEYS * 2);

    // A key that is not there: 404 from any worker, after forwarding.
    for (const w of workers) expect((await w.json("/state/counts/nobody")).status).toBe(404);

    // The CLI, asked of one worker for a key another holds.
    const key = [...holders.entries()].find(([, h]) => h !== ids[0])![0];
    const cli = await runWeir(["state", "get", "counts", key, "--url", workers[0]!.url]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(String(expected.get(key)));
  }, 400_000);

  it("a window store's entries of a key over a time range, from any worker", async () => {
    const prefix = uniqueName("iqw");
    await createTopic(`${prefix}-in`, 4);
    await createTopic(`${prefix}-out`, 4);
    const env = { WEIR_TEST_PREFIX: prefix };
    const workers = [0, 1].map(() =>
      new WorkerProcess({ args: ["--app", "test/apps/windowed-count.ts"], env }).start(),
    );
    running.push(...workers);
    await Promise.all(workers.map((w) => w.waitReady(120_000)));
    // Every record in one 1-second window, which stays open (nothing later closes or expires it).
    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const expected = new Map<string, number>();
    const records = Array.from({ length: 400 }, (_, i) => {
      const key = `page-${i % 40}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
      return { key, value: "v", timestamp: base + 500 };
    });
    await produceAll(`${prefix}-in`, records, { config: { partitioner: "murmur2_random" } });
    await waitAllCommitted(`${prefix}-app`, `${prefix}-in`, { timeoutMs: 120_000 });
    await Promise.all(workers.map((w) => w.waitReady(60_000)));

    let forwarded = 0;
    for (const [key, n] of expected)
      for (const w of workers) {
        const path = `/state/counts/${key}?from=${base - 5000}&to=${base + 5000}`;
        const r = await waitFor(`${key}'s windows`, async () => {
          const a = await w.json<Answer & { entries?: Array<{ timestamp: number; value: number }> }>(path);
          return a.status === 503 ? undefined : a;
        });
        expect({ key, status: r.status, entries: r.body.entries }).toEqual({
          key,
          status: 200,
          entries: [{ timestamp: base, value: n }],
        });
        if (r.body.forwardedBy) forwarded++;
      }
    expect(forwarded).toBe(40);
    // A range without the window: no entries. A bad range: 400.
    expect(
      (
        await workers[0]!.json<{ entries: unknown[] }>(
          `/state/counts/page-1?from=${base + 2000}&to=${base + 9000}`,
        )
      ).body.entries,
    ).toEqual([]);
    expect((await workers[0]!.json(`/state/counts/page-1?from=yesterday`)).status).toBe(400);
  }, 300_000);
});
