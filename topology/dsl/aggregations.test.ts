import { describe, expect, it } from "vitest";
import { TopologyBuilder, type KTable } from "../builder.js";
import { TopologyTestDriver } from "../driver.js";
import { Serdes } from "../serdes.js";

const s = Serdes.string();
const n = Serdes.number();
const WALL = 1_000_000;

const kvt = (records: Array<{ key: unknown; value: unknown; timestamp: number }>) =>
  records.map((r) => [r.key, r.value, r.timestamp]);

describe("KGroupedStream", () => {
  function streamTopology(kind: "count" | "reduce" | "aggregate") {
    const b = new TopologyBuilder("app");
    const grouped = b.stream("in", { key: s, value: s }).groupByKey("g", { key: s, value: s });
    const table: KTable<string, unknown> =
      kind === "count"
        ? grouped.count("agg")
        : kind === "reduce"
          ? grouped.reduce("agg", (a, v) => `${a}+${v}`, { value: s })
          : grouped.aggregate(
              "agg",
              { initializer: () => [] as string[], aggregator: (k, v, a) => [...a, `${k}:${v}`] },
              { value: Serdes.json<string[]>() },
            );
    table.toStream("agg-stream").to("out", { key: s, value: Serdes.json<unknown>() });
    return b.build();
  }

  const input = [
    { key: "a", value: "1", timestamp: 1 },
    { key: null, value: "x", timestamp: 2 },
    { key: "b", value: "2", timestamp: 3 },
    { key: "a", value: null, timestamp: 4 },
    { key: "a", value: "3", timestamp: 5 },
  ];

  it("count: one update per record, null keys and null values skipped and counted as dropped", () => {
    const d = new TopologyTestDriver(streamTopology("count"), { wallClockMs: WALL });
    d.pipeInput<string | null, string | null>("in", input);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["a", 1, 1],
      ["b", 1, 3],
      ["a", 2, 5],
    ]);
    expect(d.droppedRecords()).toEqual([
      { reason: "null-key", node: "agg" },
      { reason: "null-value", node: "agg" },
    ]);
    const store = d.keyValueStore<string, number>("agg");
    expect(store.get("a")).toBe(2);
    expect(store.get("b")).toBe(1);
    expect([...store.range()]).toEqual([
      { key: "a", value: 2 },
      { key: "b", value: 1 },
    ]);
    expect(d.records("app-agg-changelog").map((r) => [r.key?.toString(), r.value?.toString()])).toEqual([
      ["a", "1"],
      ["b", "1"],
      ["a", "2"],
    ]);
    d.close();
  });

  it("reduce: the first value is the aggregate, then reducer(aggregate, value)", () => {
    const d = new TopologyTestDriver(streamTopology("reduce"), { wallClockMs: WALL });
    d.pipeInput<string | null, string | null>("in", [...input, { key: "a", value: "4", timestamp: 6 }]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["a", "1", 1],
      ["b", "2", 3],
      ["a", "1+3", 5],
      ["a", "1+3+4", 6],
    ]);
    expect(d.droppedRecords().map((x) => x.reason)).toEqual(["null-key", "null-value"]);
    expect(d.keyValueStore<string, string>("agg").get("a")).toBe("1+3+4");
    expect(d.keyValueStore<string, string>("agg").get("b")).toBe("2");
    d.close();
  });

  it("aggregate: starts at initializer() and folds each value", () => {
    const d = new TopologyTestDriver(streamTopology("aggregate"), { wallClockMs: WALL });
    d.pipeInput<string | null, string | null>("in", input);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["a", ["a:1"], 1],
      ["b", ["b:2"], 3],
      ["a", ["a:1", "a:3"], 5],
    ]);
    expect(d.droppedRecords().map((x) => x.reason)).toEqual(["null-key", "null-value"]);
    expect(d.keyValueStore<string, string[]>("agg").get("a")).toEqual(["a:1", "a:3"]);
    d.close();
  });

  it("an aggregator returning null deletes the key (tombstone downstream); its next record starts afresh", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .groupByKey("g", { key: s, value: s })
      .aggregate(
        "agg",
        {
          initializer: () => "init",
          aggregator: (_k, v, a) => (v === "reset" ? (null as unknown as string) : `${a}+${v}`),
        },
        { value: s },
      )
      .toStream("agg-stream")
      .to("out", { key: s, value: Serdes.json<string | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "1", timestamp: 1 },
      { key: "a", value: "reset", timestamp: 2 },
      { key: "a", value: "2", timestamp: 3 },
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["a", "init+1", 1],
      ["a", null, 2],
      ["a", "init+2", 3],
    ]);
    expect(d.records("app-agg-changelog").map((r) => [r.key?.toString(), r.value?.toString()])).toEqual([
      ["a", "init+1"],
      ["a", undefined],
      ["a", "init+2"],
    ]);
    d.close();
  });

  it("records re-keyed to null pass the repartition topic and are dropped by the aggregation", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .groupBy("by-v", (r) => (r.value === "none" ? (null as unknown as string) : r.value), {
        key: s,
        value: s,
      })
      .count("c");
    const d = new TopologyTestDriver(b.build(), { partitions: 3, wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "1", value: "none", timestamp: 1 },
      { key: "2", value: "x", timestamp: 2 },
    ]);
    expect(d.records("app-by-v-repartition").map((r) => r.key?.toString() ?? null)).toEqual([null, "x"]);
    expect(d.droppedRecords()).toEqual([{ reason: "null-key", node: "c" }]);
    d.close();
  });

  it("groupBy's serdes serve the reduce store: no value serde needed on reduce", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .groupBy("by-value", (r) => r.value, { key: s, value: s })
      .reduce("longest", (a, v) => (v.length > a.length ? v : a));
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "1", value: "x", timestamp: 1 },
      { key: "2", value: "x", timestamp: 2 },
    ]);
    expect(d.keyValueStore<string, string>("longest").get("x")).toBe("x");
    d.close();
  });

  it("an aggregation's store name can be chosen; toTable of a stream deletes rows on tombstones", () => {
    const b = new TopologyBuilder("app");
    const table = b.stream("in", { key: s, value: s }).toTable("t", { store: "t-store" });
    table.toStream("t-stream").to("out", { key: s, value: s });
    table
      .groupBy("by-v", (_k, v) => ({ key: v, value: v }), { key: s, value: s })
      .count("per-v", { store: "per-v-store" });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput<string, string | null>("in", [
      { key: "a", value: "x", timestamp: 1 },
      { key: "b", value: "x", timestamp: 2 },
      { key: "a", value: null, timestamp: 3 },
      { key: "zz", value: null, timestamp: 4 }, // a tombstone for a row that does not exist
      { key: "b", value: "y", timestamp: 5 },
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["a", "x", 1],
      ["b", "x", 2],
      ["a", null, 3],
      ["b", "y", 5],
    ]);
    const t = d.keyValueStore<string, string>("t-store");
    expect([...t.range()]).toEqual([{ key: "b", value: "y" }]);
    const perV = d.keyValueStore<string, number>("per-v-store");
    expect(perV.get("x")).toBe(0);
    expect(perV.get("y")).toBe(1);
    d.close();
  });
});

describe("KGroupedTable", () => {
  /** users table (user → "city:score"), grouped by city. */
  function cities(kind: "count" | "reduce" | "aggregate") {
    const b = new TopologyBuilder("app");
    const users = b.table("users", { key: s, value: s, store: "users" });
    const grouped = users.groupBy(
      "by-city",
      (_user, v) => ({ key: v.split(":")[0]!, value: Number(v.split(":")[1]) }),
      { key: s, value: n },
    );
    const result =
      kind === "count"
        ? grouped.count("agg")
        : kind === "reduce"
          ? grouped.reduce("agg", { adder: (a, v) => a + v, subtractor: (a, v) => a - v })
          : grouped.aggregate(
              "agg",
              {
                initializer: () => ({ n: 0, sum: 0 }),
                adder: (_k, v, a) => ({ n: a.n + 1, sum: a.sum + v }),
                subtractor: (_k, v, a) => ({ n: a.n - 1, sum: a.sum - v }),
              },
              { value: Serdes.json<{ n: number; sum: number }>() },
            );
    (result as KTable<string, unknown>)
      .toStream("agg-stream")
      .to("out", { key: s, value: Serdes.json<unknown>() });
    return b.build();
  }

  it("count: a row moving between groups is subtracted from the old group first, then added to the new", () => {
    const d = new TopologyTestDriver(cities("count"), { wallClockMs: WALL });
    d.pipeInput("users", [
      { key: "u1", value: "oslo:1", timestamp: 1 },
      { key: "u2", value: "oslo:2", timestamp: 2 },
      { key: "u1", value: "rome:3", timestamp: 3 },
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["oslo", 1, 1],
      ["oslo", 2, 2],
      ["oslo", 1, 3],
      ["rome", 1, 3],
    ]);
    // The repartition topic carries the subtraction (old group) before the addition (new group).
    expect(d.records("app-by-city-repartition").map((r) => r.key?.toString())).toEqual([
      "oslo",
      "oslo",
      "oslo",
      "rome",
    ]);
    d.close();
  });

  it("count: an update within the same group is one output (KIP-904), not a subtract and an add", () => {
    const d = new TopologyTestDriver(cities("count"), { wallClockMs: WALL });
    d.pipeInput("users", [
      { key: "u1", value: "oslo:1", timestamp: 1 },
      { key: "u1", value: "oslo:5", timestamp: 2 },
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["oslo", 1, 1],
      ["oslo", 1, 2],
    ]);
    expect(d.records("app-by-city-repartition")).toHaveLength(2);
    d.close();
  });

  it("count: a tombstone on the source table subtracts; a count falling to 0 stays 0", () => {
    const d = new TopologyTestDriver(cities("count"), { wallClockMs: WALL });
    d.pipeInput<string, string | null>("users", [
      { key: "u1", value: "oslo:1", timestamp: 1 },
      { key: "u2", value: "oslo:2", timestamp: 2 },
      { key: "u1", value: null, timestamp: 3 },
      { key: "u2", value: null, timestamp: 4 },
      { key: "u3", value: null, timestamp: 5 }, // no such row: nothing to subtract
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["oslo", 1, 1],
      ["oslo", 2, 2],
      ["oslo", 1, 3],
      ["oslo", 0, 4],
    ]);
    expect(d.keyValueStore<string, number>("agg").get("oslo")).toBe(0);
    expect(d.keyValueStore<string, string>("users").get("u1")).toBeUndefined();
    d.close();
  });

  it("reduce: adder and subtractor; moving rows and same-group updates", () => {
    const d = new TopologyTestDriver(cities("reduce"), { wallClockMs: WALL });
    d.pipeInput<string, string | null>("users", [
      { key: "u1", value: "oslo:10", timestamp: 1 },
      { key: "u2", value: "oslo:5", timestamp: 2 },
      { key: "u1", value: "oslo:7", timestamp: 3 }, // same group: 15 - 10 + 7, one output
      { key: "u2", value: "rome:5", timestamp: 4 }, // moves: oslo 12 - 5, then rome 5
      { key: "u1", value: null, timestamp: 5 }, // oslo 7 - 7
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["oslo", 10, 1],
      ["oslo", 15, 2],
      ["oslo", 12, 3],
      ["oslo", 7, 4],
      ["rome", 5, 4],
      ["oslo", 0, 5],
    ]);
    expect(d.keyValueStore<string, number>("agg").get("oslo")).toBe(0);
    expect(d.keyValueStore<string, number>("agg").get("rome")).toBe(5);
    d.close();
  });

  it("aggregate: initializer, adder and subtractor", () => {
    const d = new TopologyTestDriver(cities("aggregate"), { wallClockMs: WALL });
    d.pipeInput<string, string | null>("users", [
      { key: "u1", value: "oslo:10", timestamp: 1 },
      { key: "u2", value: "oslo:5", timestamp: 2 },
      { key: "u1", value: "rome:1", timestamp: 3 },
      { key: "u2", value: "oslo:6", timestamp: 4 },
      { key: "u2", value: null, timestamp: 5 },
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["oslo", { n: 1, sum: 10 }, 1],
      ["oslo", { n: 2, sum: 15 }, 2],
      ["oslo", { n: 1, sum: 5 }, 3],
      ["rome", { n: 1, sum: 1 }, 3],
      ["oslo", { n: 1, sum: 6 }, 4],
      ["oslo", { n: 0, sum: 0 }, 5],
    ]);
    expect(d.keyValueStore("agg").get("rome")).toEqual({ n: 1, sum: 1 });
    d.close();
  });

  it("the adder starts at initializer(); the subtractor runs before the adder", () => {
    const calls: string[] = [];
    const b = new TopologyBuilder("app");
    b.table("t", { key: s, value: s, store: "t" })
      .groupBy("g", (k, v) => ({ key: v, value: k }), { key: s, value: s })
      .aggregate(
        "agg",
        {
          initializer: () => "",
          adder: (k, v, a) => (calls.push(`add ${k} ${v} [${a}]`), `${a}+${v}`),
          subtractor: (k, v, a) => (calls.push(`sub ${k} ${v} [${a}]`), `${a}-${v}`),
        },
        { value: s },
      );
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("t", [
      { key: "r1", value: "g1", timestamp: 1 },
      { key: "r1", value: "g2", timestamp: 2 },
      { key: "r1", value: "g2", timestamp: 3 },
    ]);
    expect(calls).toEqual([
      "add g1 r1 []",
      "sub g1 r1 [+r1]",
      "add g2 r1 []",
      "sub g2 r1 [+r1]",
      "add g2 r1 [+r1-r1]",
    ]);
    expect(d.keyValueStore<string, string>("agg").get("g1")).toBe("+r1-r1");
    expect(d.keyValueStore<string, string>("agg").get("g2")).toBe("+r1-r1+r1");
    d.close();
  });
});

describe("KTable filter / filterNot / mapValues", () => {
  function tables() {
    const b = new TopologyBuilder("app");
    const t = b.table("in", { key: s, value: n, store: "in" });
    t.filter("big", (v) => v >= 10)
      .toStream("big-stream")
      .to("big", { key: s, value: Serdes.json<number | null>() });
    t.filterNot("small", (v) => v >= 10)
      .toStream("small-stream")
      .to("small", { key: s, value: Serdes.json<number | null>() });
    t.mapValues("doubled", (v, k) => `${k}=${v * 2}`)
      .toStream("doubled-stream")
      .to("doubled", { key: s, value: Serdes.json<string | null>() });
    t.filter("big-m", (v) => v >= 10, { store: "big-store" });
    return b.build();
  }

  // KTable#filter's javadoc: "for each record that gets dropped (i.e., does not satisfy the given predicate) a
  // tombstone record is forwarded", and a tombstone is forwarded without evaluating the predicate. (With old values
  // needed downstream, a change that is null before and after is not forwarded: see the re-grouping tests.)
  it("a filtered-out update and a source tombstone are forwarded as tombstones", () => {
    const d = new TopologyTestDriver(tables(), { wallClockMs: WALL });
    d.pipeInput<string, number | null>("in", [
      { key: "a", value: 5, timestamp: 1 },
      { key: "a", value: 20, timestamp: 2 },
      { key: "a", value: 30, timestamp: 3 },
      { key: "a", value: 1, timestamp: 4 },
      { key: "b", value: 50, timestamp: 5 },
      { key: "b", value: null, timestamp: 6 },
      { key: "c", value: 2, timestamp: 7 },
      { key: "c", value: null, timestamp: 8 },
    ]);
    expect(kvt(d.readOutput("big"))).toEqual([
      ["a", null, 1],
      ["a", 20, 2],
      ["a", 30, 3],
      ["a", null, 4],
      ["b", 50, 5],
      ["b", null, 6],
      ["c", null, 7],
      ["c", null, 8],
    ]);
    expect(kvt(d.readOutput("small"))).toEqual([
      ["a", 5, 1],
      ["a", null, 2],
      ["a", null, 3],
      ["a", 1, 4],
      ["b", null, 5],
      ["b", null, 6],
      ["c", 2, 7],
      ["c", null, 8],
    ]);
    expect(kvt(d.readOutput("doubled"))).toEqual([
      ["a", "a=10", 1],
      ["a", "a=40", 2],
      ["a", "a=60", 3],
      ["a", "a=2", 4],
      ["b", "b=100", 5],
      ["b", null, 6],
      ["c", "c=4", 7],
      ["c", null, 8],
    ]);
    d.close();
  });

  it("a materialized filter holds only the matching rows", () => {
    const d = new TopologyTestDriver(tables(), { wallClockMs: WALL });
    d.pipeInput<string, number | null>("in", [
      { key: "a", value: 20, timestamp: 1 },
      { key: "b", value: 50, timestamp: 2 },
      { key: "c", value: 3, timestamp: 3 },
      { key: "a", value: 1, timestamp: 4 },
    ]);
    expect([...d.keyValueStore<string, number>("big-store").range()]).toEqual([{ key: "b", value: 50 }]);
    expect([...d.keyValueStore<string, number>("in").range()]).toEqual([
      { key: "a", value: 1 },
      { key: "b", value: 50 },
      { key: "c", value: 3 },
    ]);
    d.close();
  });

  // A filter with a store of its own knows each row's old value (Kafka Streams: materialized, so sendOldValues):
  // an update dropped for a row the filter did not hold changes nothing and is not forwarded — as KTableFilter
  // skips a change that is null before and after. The unmaterialized filter above forwards each as a tombstone.
  it("a materialized filter forwards a tombstone only for a row it held", () => {
    const b = new TopologyBuilder("app");
    b.table("in", { key: s, value: n, store: "in" })
      .filter("big", (v) => v >= 10, { store: "big-store" })
      .toStream("big-stream")
      .to("big", { key: s, value: Serdes.json<number | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput<string, number | null>("in", [
      { key: "a", value: 5, timestamp: 1 },
      { key: "a", value: 20, timestamp: 2 },
      { key: "a", value: 3, timestamp: 3 },
      { key: "a", value: 4, timestamp: 4 },
    ]);
    expect(d.readOutput<string, number | null>("big").map((r) => [r.key, r.value])).toEqual([
      ["a", 20],
      ["a", null],
    ]);
    d.close();
  });

  it("the mapper and predicate never see null", () => {
    const seen: unknown[] = [];
    const b = new TopologyBuilder("app");
    b.table("in", { key: s, value: n, store: "in" })
      .mapValues("mv", (v) => (seen.push(v), v))
      .filter("f", (v) => (seen.push(v), true))
      .toStream("out-stream")
      .to("out", { key: s, value: Serdes.json<number | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput<string, number | null>("in", [
      { key: "a", value: 1, timestamp: 1 },
      { key: "a", value: null, timestamp: 2 },
    ]);
    expect(seen).not.toContain(null);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["a", 1, 1],
      ["a", null, 2],
    ]);
    d.close();
  });
});

describe("builder.table", () => {
  it("upserts rows, deletes them on tombstones, skips null keys", () => {
    const b = new TopologyBuilder("app");
    b.table("in", { key: s, value: s })
      .toStream("s")
      .to("out", { key: s, value: Serdes.json<string | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput<string | null, string | null>("in", [
      { key: "a", value: "1", timestamp: 1 },
      { key: "b", value: "2", timestamp: 2 },
      { key: "a", value: "3", timestamp: 3 },
      { key: "a", value: null, timestamp: 4 },
      { key: null, value: "x", timestamp: 5 },
    ]);
    expect(kvt(d.readOutput("out"))).toEqual([
      ["a", "1", 1],
      ["b", "2", 2],
      ["a", "3", 3],
      ["a", null, 4],
    ]);
    expect(d.droppedRecords()).toEqual([{ reason: "null-key", node: "in-table" }]);
    const store = d.keyValueStore<string, string>("in-table");
    expect(store.get("a")).toBeUndefined();
    expect([...store.range()]).toEqual([{ key: "b", value: "2" }]);
    expect(d.records("app-in-table-changelog").map((r) => [r.key?.toString(), r.value?.toString()])).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["a", "3"],
      ["a", undefined],
    ]);
    d.close();
  });
});
