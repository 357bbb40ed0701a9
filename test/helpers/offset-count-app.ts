/**
 * A per-key count whose outputs name their input (`partition:offset:count`), with the exactly-once check that
 * needs: every committed input offset has one output, and each key's counts are 1..n in order. For tests that run
 * the worker in this process (test/helpers/in-process-worker.ts) and break its commits.
 */
import { map } from "rxjs";
import { expect } from "vitest";
import { Serdes, Stores, TopologyBuilder } from "../../topology/index.js";
import { consumeAll, createTopic, produceAll } from "./kafka.js";

/** Counts per key; each output names its input (`partition:offset:count`). */
export async function countingApp(p: string) {
  const b = new TopologyBuilder(`${p}-app`);
  b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
  b.stream(`${p}-in`, { key: Serdes.string(), value: Serdes.string() })
    .process(
      "count",
      (ctx) => {
        const counts = ctx.keyValueStore<string, number>("counts");
        return map((r) => {
          const n = (counts.get(r.key) ?? 0) + 1;
          counts.put(r.key, n);
          return { key: r.key, value: `${r.partition}:${r.offset}:${n}` };
        });
      },
      { stores: ["counts"] },
    )
    .to(`${p}-out`, { key: Serdes.string(), value: Serdes.string() });
  await createTopic(`${p}-in`, 2);
  await createTopic(`${p}-out`, 2);
  return b.build();
}

/** Exactly once: every committed input offset has one output, and each key's counts are 1..n in order. */
export async function expectExactlyOnce(p: string, ends: Map<number, number>): Promise<void> {
  const out = await consumeAll(`${p}-out`, { timeoutMs: 60_000, isolation: "read_committed" });
  const total = [...ends.values()].reduce((a, c) => a + c, 0);
  // An input seen twice is named with both outputs' places, so a failure tells a replay from a misread.
  const firstOut = new Map<string, string>();
  const doubled: string[] = [];
  for (const r of out) {
    const input = r.value!.split(":").slice(0, 2).join(":");
    const place = `${r.partition}@${r.offset}=${r.value}`;
    if (firstOut.has(input)) doubled.push(`input ${input}: ${firstOut.get(input)} and ${place}`);
    else firstOut.set(input, place);
  }
  expect(doubled.slice(0, 10), `${doubled.length} input(s) with two outputs`).toEqual([]);
  expect(out.length).toBe(total);
  const counts = new Map<string, number[]>();
  for (const r of out) {
    if (!counts.has(r.key!)) counts.set(r.key!, []);
    counts.get(r.key!)!.push(Number(r.value!.split(":")[2]));
  }
  for (const [key, ns] of counts) expect(ns, key).toEqual(ns.map((_, i) => i + 1));
}

export const produceKeys = (p: string, from: number, n: number) =>
  produceAll(
    `${p}-in`,
    Array.from({ length: n }, (_, i) => ({ key: `k${(from + i) % 31}`, value: "v" })),
  );
