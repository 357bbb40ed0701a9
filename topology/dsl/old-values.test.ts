/**
 * Old values are computed only where something downstream needs them (Kafka Streams' enableSendingOldValues):
 * a re-grouping after a filter or mapValues makes them compute the old value, so counts stay right; a plain
 * toStream does not, so the user's function runs once per update.
 */
import { describe, expect, it } from "vitest";
import { Serdes, TopologyBuilder, TopologyTestDriver } from "../index.js";

const s = Serdes.string();
const n = Serdes.json<number | null>();
const WALL = 10_000_000;

describe("old values on demand", () => {
  it("filter → groupBy → count: rows entering and leaving the filter move the counts; never-matching rows do nothing", () => {
    const b = new TopologyBuilder("app");
    let calls = 0;
    b.table("in", { key: s, value: Serdes.json<{ team: string; score: number }>() })
      .filter("active", (v) => (calls++, v.score > 0))
      .groupBy("by-team", (_k, v) => ({ key: v.team, value: v.score }), { key: s, value: Serdes.number() })
      .count("per-team")
      .toStream("out")
      .to("counts", { key: s, value: n });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    const row = (key: string, team: string, score: number, timestamp: number) => ({
      key,
      value: { team, score },
      timestamp,
    });
    d.pipeInput("in", [
      row("p1", "red", 1, 1), // red 1
      row("p2", "red", 0, 2), // filtered out, never matched: nothing
      row("p1", "blue", 3, 3), // red 0, blue 1
      row("p1", "blue", 0, 4), // leaves the filter: blue 0
      row("p2", "red", 5, 5), // red 1
    ]);
    d.pipeInput<string, null>("in", [{ key: "p2", value: null, timestamp: 6 }]); // red 0
    const out = d.readOutput<string, number>("counts").map((r) => [r.key, r.value, r.timestamp]);
    expect(out).toEqual([
      ["red", 1, 1],
      ["red", 0, 3],
      ["blue", 1, 3],
      ["blue", 0, 4],
      ["red", 1, 5],
      ["red", 0, 6],
    ]);
    // The predicate ran on each new value (5; the tombstone has none) and on each replaced one (p1@3, p1@4, p2@5,
    // p2@6): 9.
    expect(calls).toBe(9);
    d.close();
  });

  it("mapValues → toStream: the mapper runs once per update, never for the replaced value", () => {
    const b = new TopologyBuilder("app");
    const seen: number[] = [];
    b.table("in", { key: s, value: Serdes.number() })
      .mapValues("double", (v) => (seen.push(v), v * 2))
      .toStream("out")
      .to("doubled", { key: s, value: n });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: 1, timestamp: 1 },
      { key: "a", value: 2, timestamp: 2 },
      { key: "a", value: 3, timestamp: 3 },
    ]);
    expect(d.readOutput<string, number>("doubled").map((r) => r.value)).toEqual([2, 4, 6]);
    expect(seen).toEqual([1, 2, 3]);
    d.close();
  });

  it("a left join's deleted left row deletes the joined row even without a store", () => {
    const b = new TopologyBuilder("app");
    const left = b.table("l", { key: s, value: s }).mapValues("l-upper", (v) => v.toUpperCase());
    const right = b.table("r", { key: s, value: s });
    left
      .leftJoin("lr", right, (l, r) => `${l}+${r ?? "-"}`)
      .toStream("out")
      .to("joined", { key: s, value: Serdes.json<string | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("l", [{ key: "k", value: "x", timestamp: 1 }]);
    d.pipeInput("r", [{ key: "k", value: "y", timestamp: 2 }]);
    d.pipeInput<string, null>("l", [{ key: "k", value: null, timestamp: 3 }]);
    d.pipeInput<string, null>("r", [{ key: "k", value: null, timestamp: 4 }]);
    expect(d.readOutput<string, string | null>("joined").map((r) => [r.value, r.timestamp])).toEqual([
      ["X+-", 1],
      ["X+y", 2],
      [null, 3],
    ]);
    d.close();
  });
});

describe("rows that expire (ttlMs) leave downstream tables as deletions", () => {
  it("a mapValues table with a TTL store, re-grouped: an expired row is subtracted from its group", () => {
    const b = new TopologyBuilder("app");
    b.table("in", { key: s, value: s })
      .mapValues("team", (v) => v, { store: "teams", value: s, ttlMs: 100 })
      .groupBy("by-team", (_k, team) => ({ key: team, value: team }), { key: s, value: s })
      .count("members")
      .toStream("out")
      .to("members", { key: s, value: n });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "p1", value: "red", timestamp: 1000 },
      { key: "p2", value: "red", timestamp: 1050 },
      { key: "p2", value: "red", timestamp: 1120 }, // p1 (written at 1000) expires at 1100 → red 1; p2 rewritten
      { key: "p3", value: "blue", timestamp: 1300 }, // p2 (written at 1120) expires at 1220 → red 0
    ]);
    expect(d.readOutput<string, number>("members").map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ["red", 1, 1000],
      ["red", 2, 1050],
      ["red", 1, 1120],
      ["red", 1, 1120],
      ["red", 0, 1300],
      ["blue", 1, 1300],
    ]);
    expect(d.keyValueStore("teams").get("p1")).toBeUndefined();
    d.close();
  });
});
