/**
 * Keys of any length against a real broker and real LMDB: 3,000- and 10,000-byte keys (beyond LMDB's 1,978-byte key
 * limit) through a key-value store and a window store, their changelogs, and a restore into an empty state
 * directory. Before, such a record went to the dead-letter topic ("Key of size 3008 was too large"). And a record
 * too late for the window store's retention is counted in weir_dropped_records_total, not dropped in silence.
 */
import { rmSync } from "node:fs";
import { map } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { Serdes, Stores, TopologyBuilder, createMetrics } from "../../topology/index.js";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import {
  consumeAll,
  createTopic,
  produceAll,
  uniqueName,
  waitFor,
  committedOffsets,
} from "../helpers/kafka.js";

const running: InProcessWorker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

describe("keys longer than LMDB's key limit", () => {
  it("are counted, windowed, changelogged and restored like any other key", async () => {
    const p = uniqueName("longkeys");
    const b = new TopologyBuilder(`${p}-app`);
    b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
    b.store("seen", Stores.window(Serdes.string(), Serdes.number(), { retentionMs: 3_600_000 }));
    b.stream(`${p}-in`, { key: Serdes.string(), value: Serdes.string() })
      .process(
        "count",
        (ctx) => {
          const counts = ctx.keyValueStore<string, number>("counts");
          const seen = ctx.windowStore<string, number>("seen");
          return map((r) => {
            const n = (counts.get(r.key) ?? 0) + 1;
            counts.put(r.key, n);
            seen.put(r.key, n, r.timestamp);
            const windowed = [...seen.fetch(r.key, 0, r.timestamp)].length;
            return { key: r.key, value: `${r.key.length}:${n}:${windowed}` };
          });
        },
        { stores: ["counts", "seen"] },
      )
      .to(`${p}-out`, { key: Serdes.string(), value: Serdes.string() });
    const topology = b.build();
    await createTopic(`${p}-in`, 2);
    await createTopic(`${p}-out`, 2);
    const keys = ["k".repeat(3000), "q".repeat(10_000), "q".repeat(10_000) + "!", "short"];
    const now = Date.now();
    const inputs = keys.flatMap((key, k) =>
      Array.from({ length: 5 }, (_, i) => ({
        key,
        value: "v",
        timestamp: now - 100_000 + k * 10 + i * 1000,
      })),
    );
    // One record of "short" stamped two hours before the others: older than the window's one-hour retention
    // behind stream time, so its window put is dropped (the count still sees it).
    const late = { key: "short", value: "late", timestamp: now - 100_000 - 7_200_000 };
    await produceAll(`${p}-in`, [...inputs, late]);

    const metrics = createMetrics();
    const first = new InProcessWorker(topology, { metrics });
    running.push(first);
    await first.start();
    const out = await consumeAll(`${p}-out`, {
      timeoutMs: 90_000,
      isolation: "read_committed",
      expected: inputs.length + 1,
    });
    const byKey = new Map<string, string[]>();
    for (const r of out) byKey.set(r.key!, [...(byKey.get(r.key!) ?? []), r.value!]);
    for (const key of keys.slice(0, 3))
      expect(byKey.get(key), `${key.length}-byte key`).toEqual(
        [1, 2, 3, 4, 5].map((n) => `${key.length}:${n}:${n}`),
      );
    // "short" sorts into one partition in produce order: five records, then the late one (count 6; its window put dropped, nothing in its window).
    expect(byKey.get("short")).toEqual(["5:1:1", "5:2:2", "5:3:3", "5:4:4", "5:5:5", "5:6:0"]);
    const dropped = await metrics.registry.getSingleMetric("weir_dropped_records_total")!.get();
    expect(dropped.values.map((v) => [v.labels, v.value])).toEqual([
      [{ reason: "expired-window", node: "count", app: `${p}-app` }, 1],
    ]);
    const dlq = await consumeAll(topology.deadLetterTopic, {
      timeoutMs: 10_000,
      isolation: "read_committed",
    });
    expect(dlq).toHaveLength(0);
    await waitFor("every input committed", async () => {
      const c = await committedOffsets(`${p}-app`, `${p}-in`);
      return [...c.values()].reduce((a, x) => a + x, 0) === inputs.length + 1 ? true : undefined;
    });
    await first.stop();
    running.splice(0);

    // Restore into an empty state directory: the changelog records of the long keys rebuild the same state.
    rmSync(first.stateDir, { recursive: true, force: true });
    const second = new InProcessWorker(topology, { stateDir: first.stateDir });
    running.push(second);
    await second.start();
    await waitFor("the second worker to be ready", async () => (second.worker.ready ? true : undefined));
    for (const key of keys) {
      const found = second.worker.queryStore("counts", key);
      expect(found.found, `${key.length}-byte key restored`).toBe(true);
      expect(found.value).toBe(key === "short" ? 6 : 5);
    }
  });
});
