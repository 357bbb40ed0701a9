/**
 * Global tables on a real broker: every partition of the topic restored before the worker is ready, updates and
 * tombstones tailed while it runs, an unreadable record skipped and counted (not dead-lettered by every worker), and
 * a restart resuming from the store's checkpoint instead of reading the topic again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { consumeAll, createTopic, produceAll, uniqueName, waitFor } from "../helpers/kafka.js";
import { WorkerProcess } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

describe("global tables", () => {
  it("restore before ready, tail updates and tombstones, skip bad records, resume from the checkpoint", async () => {
    const prefix = uniqueName("glob");
    const refs = `${prefix}-refs`;
    const lookups = `${prefix}-lookups`;
    const joined = `${prefix}-joined`;
    await createTopic(refs, 4, { "cleanup.policy": "compact" });
    await createTopic(lookups, 2);
    await createTopic(joined, 2);
    const ref = (id: string, label: string | null) => ({
      key: id,
      value: label === null ? null : JSON.stringify({ label }),
    });
    // 400 rows over four partitions, and one record whose value is not JSON.
    await produceAll(refs, [
      ...Array.from({ length: 400 }, (_, i) => ref(`r${i}`, `first-${i}`)),
      { key: "broken", value: "{not json" },
    ]);

    const worker = (stateDir?: string) =>
      new WorkerProcess({
        args: ["--app", "test/apps/global-lookup.ts", "--commit-interval-ms", "100"],
        env: { WEIR_TEST_PREFIX: prefix },
        ...(stateDir ? { stateDir } : {}),
      });
    const first = worker().start();
    running.push(first);
    await first.waitReady(120_000);
    const restored = first.restored().filter((r) => r.store === "refs");
    expect(restored.map((r) => r.partition).sort()).toEqual([0, 1, 2, 3]);
    expect(restored.reduce((n, r) => n + r.records, 0)).toBe(400);
    expect(first.logs.some((l) => l.msg === "global table record skipped" && l.offset !== undefined)).toBe(
      true,
    );
    const metrics = await fetch(`${first.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/weir_dropped_records_total\{[^}]*reason="global-table-invalid"[^}]*\} 1/);

    const lookup = async (ids: string[]) => {
      await produceAll(
        lookups,
        ids.map((id, i) => ({ key: `l${i}`, value: id })),
      );
    };
    await lookup(["r1", "r399", "missing", "broken"]);
    const read = async (n: number) =>
      (
        await consumeAll(joined, {
          isolation: "read_committed",
          ...(n > 0 ? { expected: n } : {}),
          timeoutMs: 60_000,
        })
      ).map((r) => r.value!.toString());
    expect((await read(4)).sort()).toEqual(["broken=none", "missing=none", "r1=first-1", "r399=first-399"]);

    // Tailing: an update and a tombstone reach the store while the worker runs.
    await produceAll(refs, [ref("r1", "second-1"), ref("r399", null)]);
    await waitFor(
      "the worker to see the updated global table",
      async () => {
        await lookup(["r1", "r399"]);
        const all = await read(0);
        return all.includes("r1=second-1") && all.includes("r399=none") ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );

    // A key that moves to another partition (its producer changed partitioner, or partitions were added) has one
    // row: the later record replaces it, and a tombstone on the new partition deletes it.
    await produceAll(refs, [{ ...ref("moved", "on-0"), partition: 0 }]);
    await produceAll(refs, [{ ...ref("moved", "on-2"), partition: 2 }]);
    await waitFor(
      "the moved key's newer row",
      async () =>
        (await first.json<{ value?: { label: string } }>("/state/refs/moved")).body.value?.label === "on-2"
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await produceAll(refs, [{ ...ref("moved", null), partition: 2 }]);
    await waitFor(
      "the moved key's tombstone",
      async () => ((await first.json("/state/refs/moved")).status === 404 ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    // Interactive queries answer from the whole table on any worker.
    const row = await first.json<{ found: boolean; value?: { label: string } }>("/state/refs/r1");
    expect(row.body).toMatchObject({ found: true, value: { label: "second-1" } });
    expect((await first.json("/state/refs/r399")).status).toBe(404);
    const scan = await first.json<{ entries: Array<{ key: string }> }>("/state/refs?prefix=r1&limit=1000");
    expect(scan.body.entries.map((e) => e.key).sort()).toEqual(
      Array.from({ length: 400 }, (_, i) => `r${i}`)
        .filter((k) => k.startsWith("r1"))
        .sort(),
    );

    // A clean restart resumes every partition from its checkpoint: nothing read again.
    await first.stop();
    const second = worker(first.stateDir).start();
    running.push(second);
    await second.waitReady(120_000);
    const resumed = second.restored().filter((r) => r.store === "refs");
    expect(resumed.map((r) => r.partition).sort()).toEqual([0, 1, 2, 3]);
    expect(resumed.reduce((n, r) => n + r.records, 0)).toBe(0);
    await lookup(["r1", "r2"]);
    await waitFor(
      "lookups after the restart",
      async () => {
        const all = await read(0);
        return all.filter((v) => v === "r2=first-2").length >= 1 ? all : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });
});
