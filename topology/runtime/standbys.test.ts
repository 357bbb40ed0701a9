/**
 * Standby placement (runtime/standbys.ts): a pure function of the group's description, so every worker computes
 * the same answer; never on a task's active owner; `replicas` workers per task when there are enough members.
 */
import { describe, expect, it } from "vitest";
import { TopologyBuilder, Stores } from "../builder.js";
import { Serdes } from "../serdes.js";
import type { GroupView } from "./members.js";
import { standbyTasks } from "./standbys.js";
import { map } from "rxjs";

const s = { key: Serdes.string(), value: Serdes.string() };
const builder = new TopologyBuilder("app");
builder.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
builder
  .stream("in", s)
  .process("p", () => map((r) => ({ key: r.key, value: r.value })), { stores: ["counts"] })
  .to("out", s);
const topology = builder.build();
const PARTITIONS = 12;

function group(owners: string[][]): GroupView {
  // owners[i]: the partitions of "in" member i holds
  return {
    stable: true,
    state: "stable",
    members: owners.map((parts, i) => ({
      clientId: `client-${i}`,
      groupInstanceId: `app-w${i}`,
      partitions: parts.map((p) => ({ topic: "in", partition: Number(p) })),
    })),
  };
}

const roundRobin = (members: number) =>
  Array.from({ length: members }, (_, m) =>
    Array.from({ length: PARTITIONS }, (_, p) => p)
      .filter((p) => p % members === m)
      .map(String),
  );

describe("standby placement", () => {
  it("never on the active owner, exactly `replicas` keepers per task, the same answer on every worker", () => {
    const members = 4;
    const g = group(roundRobin(members));
    for (const replicas of [1, 2, 3]) {
      const keepers = new Map<string, string[]>();
      for (let m = 0; m < members; m++)
        for (const id of standbyTasks(topology, new Map([[0, PARTITIONS]]), g, `app-w${m}`, replicas).keys())
          keepers.set(id, [...(keepers.get(id) ?? []), `app-w${m}`]);
      for (let p = 0; p < PARTITIONS; p++) {
        const kept = keepers.get(`0_${p}`) ?? [];
        expect(kept).toHaveLength(replicas);
        expect(kept).not.toContain(`app-w${p % members}`);
      }
    }
  });

  it("more replicas than other members: every other member keeps the task", () => {
    const g = group(roundRobin(2));
    const w0 = standbyTasks(topology, new Map([[0, PARTITIONS]]), g, "app-w0", 5);
    expect([...w0.keys()].sort()).toEqual(
      Array.from({ length: PARTITIONS }, (_, p) => p)
        .filter((p) => p % 2 === 1)
        .map((p) => `0_${p}`)
        .sort(),
    );
  });

  it("spreads the tasks: with one replica among many members no member keeps them all", () => {
    const g = group(roundRobin(6));
    const counts = Array.from(
      { length: 6 },
      (_, m) => standbyTasks(topology, new Map([[0, PARTITIONS]]), g, `app-w${m}`, 1).size,
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(PARTITIONS);
    expect(Math.max(...counts)).toBeLessThan(PARTITIONS);
  });

  it("a sub-topology without changelogged stores has no standbys", () => {
    const b = new TopologyBuilder("x");
    b.stream("in", s).to("out", s);
    expect(
      standbyTasks(
        b.build(),
        new Map([[0, 4]]),
        group([
          ["0", "1"],
          ["2", "3"],
        ]),
        "app-w0",
        1,
      ).size,
    ).toBe(0);
  });
});
