/**
 * Changelog records deleted while a restore reads them (issue case 7): retention or DeleteRecords on a
 * `compact,delete` changelog. The restore consumer runs with auto.offset.reset=error and checks the log start
 * itself, so a position that is gone plans the restore again (wiping what it applied) instead of jumping to the end
 * and calling that "restored": the restored store equals the changelog's content after the deletion.
 */
import { rmSync } from "node:fs";
import { map } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { Serdes, Stores, TopologyBuilder } from "../../topology/index.js";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import {
  committedOffsets,
  consumeAll,
  createTopic,
  endOffsets,
  fromCallback,
  produceAll,
  uniqueName,
  waitFor,
  withAdmin,
} from "../helpers/kafka.js";

const running: InProcessWorker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const RECORDS = 60_000;

describe("records deleted from a changelog during its restore", () => {
  it("restarts the restore from the new log start: the store equals what the changelog holds", async () => {
    const p = uniqueName("trunc");
    const app = `${p}-app`;
    const changelog = `${app}-kv-changelog`;
    const b = new TopologyBuilder(app);
    b.store("kv", Stores.keyValue(Serdes.string(), Serdes.string()));
    b.stream(`${p}-in`, { key: Serdes.string(), value: Serdes.string() })
      .process(
        "put",
        (ctx) => {
          const kv = ctx.keyValueStore<string, string>("kv");
          return map((r) => (kv.put(r.key, r.value), { key: r.key, value: r.value }));
        },
        { stores: ["kv"] },
      )
      .to(`${p}-out`, { key: Serdes.string(), value: Serdes.string() });
    const topology = b.build();
    await createTopic(`${p}-in`, 1);
    await createTopic(`${p}-out`, 1);
    // A changelog whose records can be deleted (a window store's is compact,delete; here a key-value store's is
    // made so, the way an operator's retention setting would).
    await createTopic(changelog, 1, { "cleanup.policy": "compact,delete", "retention.ms": "-1" });
    await produceAll(
      `${p}-in`,
      Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    );

    const first = new InProcessWorker(topology);
    running.push(first);
    await first.start();
    await waitFor(
      "every input committed",
      async () => ((await committedOffsets(app, `${p}-in`)).get(0) === RECORDS ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    await first.stop();
    running.splice(0);
    const end = (await endOffsets(changelog)).get(0)!;
    expect(end).toBeGreaterThanOrEqual(RECORDS);

    // A fresh state directory: the next worker restores the whole changelog. The moment it starts reading, most of
    // the changelog is deleted under it.
    rmSync(first.stateDir, { recursive: true, force: true });
    const deleteBefore = end - 5000;
    let deletion: Promise<unknown> | undefined;
    let secondWorker: InProcessWorker | undefined;
    // Small fetches, so the restore reads the changelog in many round trips instead of prefetching it whole before
    // the deletion lands.
    // The admin client is connected before the worker starts, so the deletion is one request once the restore
    // begins (connecting at that moment let a fast restore finish first on a busy machine).
    await withAdmin(async (admin) => {
      await fromCallback((done) => admin.listTopics({ timeout: 10_000 }, (err) => done(err)));
      const second = new InProcessWorker(topology, {
        restoreBatchRecords: 500,
        kafka: { "fetch.message.max.bytes": 16_384, "queued.max.messages.kbytes": 64 },
      });
      running.push(second);
      secondWorker = second;
      const logs = second.logs;
      const push = logs.push.bind(logs);
      logs.push = (...lines) => {
        for (const l of lines)
          if (!deletion && (l.msg === "restoring store" || l.msg.startsWith("wiping store-partition")))
            deletion = fromCallback((done) =>
              admin.deleteRecords(
                [{ topic: changelog, partition: 0, offset: deleteBefore }],
                { timeout: 10_000 },
                (err) => done(err),
              ),
            );
        return push(...lines);
      };
      await second.start();
      await waitFor("the second worker to be ready", async () => (second.worker.ready ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 200,
      });
      expect(deletion).toBeDefined();
      await deletion;
    });
    const second = secondWorker!;

    // What the changelog holds now: the last value of each key from the new log start.
    const content = new Map<string, string | null>();
    for (const r of await consumeAll(changelog, { timeoutMs: 60_000, isolation: "read_committed" }))
      content.set(r.key!, r.value);
    for (const [k, v] of content) if (v === null) content.delete(k);
    // (end - deleteBefore offsets, some of them transaction markers)
    expect(content.size).toBeGreaterThan(4000);
    expect(content.size).toBeLessThanOrEqual(end - deleteBefore);

    const restored = new Map<string, string>();
    for (const e of second.worker.scanStore("kv", undefined, RECORDS * 2))
      restored.set(e.key as string, e.value as string);
    const restarts = second.logged("restore planned again");
    console.log(
      `restore planned again ${restarts.length} time(s); restored ${restored.size} entries, the changelog holds ${content.size}`,
    );
    expect(restored.size).toBe(content.size);
    expect([...restored].filter(([k, v]) => content.get(k) !== v)).toEqual([]);
  });
});
