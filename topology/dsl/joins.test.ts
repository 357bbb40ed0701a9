import { describe, expect, it } from "vitest";
import { TopologyBuilder } from "../builder.js";
import { TopologyTestDriver } from "../driver.js";
import { partitionForKey } from "../partitioner.js";
import { Serdes } from "../serdes.js";

const s = Serdes.string();
const WALL = 1_000_000;
const K = "k";

type Side = "left" | "right";
/** The inputs of the Kafka Streams docs' join-semantics tables: one key, timestamps 1..15. */
const TIMELINE: Array<[number, Side, string | null]> = [
  [1, "left", null],
  [2, "right", null],
  [3, "left", "A"],
  [4, "right", "a"],
  [5, "left", "B"],
  [6, "right", "b"],
  [7, "left", null],
  [8, "right", null],
  [9, "left", "C"],
  [10, "right", "c"],
  [11, "right", null],
  [12, "left", null],
  [13, "right", null],
  [14, "right", "d"],
  [15, "left", "D"],
];

/** Pipe the timeline in timestamp order and read the output after each row: ts → outputs of that row. */
function runTimeline(d: TopologyTestDriver, topics: Record<Side, string>, outputs: string[]) {
  const result = new Map<string, Array<[number, unknown, number]>>(outputs.map((o) => [o, []]));
  for (const [ts, side, value] of TIMELINE) {
    d.pipeInput<string, string | null>(topics[side], [{ key: K, value, timestamp: ts }]);
    for (const o of outputs)
      for (const r of d.readOutput<string, unknown>(o)) {
        expect(r.key).toBe(K);
        result.get(o)!.push([ts, r.value, r.timestamp]);
      }
  }
  return result;
}

describe("KStream-KTable join semantics (Kafka Streams docs table)", () => {
  it("inner and left join, row by row", () => {
    const b = new TopologyBuilder("app");
    const table = b.table("right", { key: s, value: s, store: "right" });
    const stream = b.stream("left", { key: s, value: s });
    const json = Serdes.json<[string, string | null]>();
    stream
      .join("inner", table, (v, row) => [v, row] as [string, string | null])
      .to("inner-out", { key: s, value: json });
    stream
      .leftJoin("left-join", table, (v, row) => [v, row] as [string, string | null])
      .to("left-out", { key: s, value: json });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    const out = runTimeline(d, { left: "left", right: "right" }, ["inner-out", "left-out"]);
    expect(out.get("inner-out")).toEqual([
      [5, ["B", "a"], 5],
      [15, ["D", "d"], 15],
    ]);
    expect(out.get("left-out")).toEqual([
      [3, ["A", null], 3],
      [5, ["B", "a"], 5],
      [9, ["C", null], 9],
      [15, ["D", "d"], 15],
    ]);
    // The three stream records with a null value (ts 1, 7, 12) are dropped by both joins.
    expect(d.droppedRecords()).toEqual([
      { reason: "null-value", node: "inner" },
      { reason: "null-value", node: "left-join" },
      { reason: "null-value", node: "inner" },
      { reason: "null-value", node: "left-join" },
      { reason: "null-value", node: "inner" },
      { reason: "null-value", node: "left-join" },
    ]);
    d.close();
  });
});

describe("KTable-KTable join semantics (Kafka Streams docs table)", () => {
  it("inner, left and outer join, row by row (null = tombstone)", () => {
    const b = new TopologyBuilder("app");
    const left = b.table("left", { key: s, value: s, store: "left" });
    const right = b.table("right", { key: s, value: s, store: "right" });
    const json = Serdes.json<[string | null, string | null] | null>();
    const pair = (l: string | null, r: string | null): [string | null, string | null] => [l, r];
    left.join("inner", right, pair).toStream("inner-stream").to("inner-out", { key: s, value: json });
    left.leftJoin("left-join", right, pair).toStream("left-stream").to("left-out", { key: s, value: json });
    left.outerJoin("outer", right, pair).toStream("outer-stream").to("outer-out", { key: s, value: json });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    const out = runTimeline(d, { left: "left", right: "right" }, ["inner-out", "left-out", "outer-out"]);
    expect(out.get("inner-out")).toEqual([
      [4, ["A", "a"], 4],
      [5, ["B", "a"], 5],
      [6, ["B", "b"], 6],
      [7, null, 7],
      [10, ["C", "c"], 10],
      [11, null, 11],
      [15, ["D", "d"], 15],
    ]);
    expect(out.get("left-out")).toEqual([
      [3, ["A", null], 3],
      [4, ["A", "a"], 4],
      [5, ["B", "a"], 5],
      [6, ["B", "b"], 6],
      [7, null, 7],
      [9, ["C", null], 9],
      [10, ["C", "c"], 10],
      [11, ["C", null], 11],
      [12, null, 12],
      [15, ["D", "d"], 15],
    ]);
    expect(out.get("outer-out")).toEqual([
      [3, ["A", null], 3],
      [4, ["A", "a"], 4],
      [5, ["B", "a"], 5],
      [6, ["B", "b"], 6],
      [7, [null, "b"], 7],
      [8, null, 8],
      [9, ["C", null], 9],
      [10, ["C", "c"], 10],
      [11, ["C", null], 11],
      [12, null, 12],
      [14, [null, "d"], 14],
      [15, ["D", "d"], 15],
    ]);
    d.close();
  });

  it("the joiner is called only for the docs' cells: not again for the replaced (old) value", () => {
    // Kafka Streams computes a join's old value (joiner(old, other)) only when something downstream asks for old
    // values (sendOldValues); toStream() does not, so the joiner sees exactly the arguments of the docs table.
    const b = new TopologyBuilder("app");
    const left = b.table("left", { key: s, value: s, store: "left" });
    const right = b.table("right", { key: s, value: s, store: "right" });
    const calls: Record<string, Array<[number, string | null, string | null]>> = {
      inner: [],
      left: [],
      outer: [],
    };
    let now = 0;
    const recording = (kind: string) => (l: string | null, r: string | null) => {
      calls[kind]!.push([now, l, r]);
      return `${l}${r}`;
    };
    const json = Serdes.json<string | null>();
    left.join("inner", right, recording("inner")).toStream("i-s").to("i", { key: s, value: json });
    left.leftJoin("left-join", right, recording("left")).toStream("l-s").to("l", { key: s, value: json });
    left.outerJoin("outer", right, recording("outer")).toStream("o-s").to("o", { key: s, value: json });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    for (const [ts, side, value] of TIMELINE) {
      now = ts;
      d.pipeInput<string, string | null>(side, [{ key: K, value, timestamp: ts }]);
    }
    expect(calls.inner).toEqual([
      [4, "A", "a"],
      [5, "B", "a"],
      [6, "B", "b"],
      [10, "C", "c"],
      [15, "D", "d"],
    ]);
    expect(calls.left).toEqual([
      [3, "A", null],
      [4, "A", "a"],
      [5, "B", "a"],
      [6, "B", "b"],
      [9, "C", null],
      [10, "C", "c"],
      [11, "C", null],
      [15, "D", "d"],
    ]);
    expect(calls.outer).toEqual([
      [3, "A", null],
      [4, "A", "a"],
      [5, "B", "a"],
      [6, "B", "b"],
      [7, null, "b"],
      [9, "C", null],
      [10, "C", "c"],
      [11, "C", null],
      [14, null, "d"],
      [15, "D", "d"],
    ]);
    d.close();
  });

  it("a table-table join materialized with { store, value } is readable from the driver", () => {
    const b = new TopologyBuilder("app");
    const left = b.table("left", { key: s, value: s, store: "left" });
    const right = b.table("right", { key: s, value: s, store: "right" });
    const joined = left.leftJoin("lj", right, (l, r) => `${l}/${r ?? "-"}`, { store: "joined", value: s });
    joined.toStream("lj-stream").to("out", { key: s, value: Serdes.json<string | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput<string, string | null>("left", [
      { key: "a", value: "A", timestamp: 1 },
      { key: "b", value: "B", timestamp: 2 },
    ]);
    d.pipeInput<string, string | null>("right", [
      { key: "a", value: "x", timestamp: 3 },
      { key: "c", value: "y", timestamp: 4 },
    ]);
    d.pipeInput<string, string | null>("left", [{ key: "b", value: null, timestamp: 5 }]);
    const store = d.keyValueStore<string, string>("joined");
    expect([...store.range()]).toEqual([{ key: "a", value: "A/x" }]);
    expect(store.get("b")).toBeUndefined();
    expect(store.get("c")).toBeUndefined();
    expect(d.readOutput("out").map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ["a", "A/-", 1],
      ["b", "B/-", 2],
      ["a", "A/x", 3],
      ["b", null, 5],
    ]);
    expect(d.records("app-joined-changelog").map((r) => [r.key?.toString(), r.value?.toString()])).toEqual([
      ["a", "A/-"],
      ["b", "B/-"],
      ["a", "A/x"],
      ["b", undefined],
    ]);
    d.close();
  });
});

describe("KStream-KTable join: null keys and values", () => {
  function topology() {
    const b = new TopologyBuilder("app");
    const table = b.table("t", { key: s, value: s, store: "t" });
    const stream = b.stream("st", { key: s, value: s });
    const json = Serdes.json<string>();
    stream.join("ij", table, (v, row) => `${v}|${row}`).to("inner", { key: s, value: json });
    stream.leftJoin("lj", table, (v, row) => `${v}|${row}`).to("left", { key: s, value: json });
    return b.build();
  }

  it("inner: a null key or value is dropped; left: a null key joins with null, a null value is dropped", () => {
    const d = new TopologyTestDriver(topology(), { wallClockMs: WALL });
    d.pipeInput("t", [{ key: "a", value: "T", timestamp: 1 }]);
    d.pipeInput<string | null, string | null>("st", [
      { key: null, value: "v1", timestamp: 2 },
      { key: "a", value: null, timestamp: 3 },
      { key: "a", value: "v2", timestamp: 4, headers: { h: "1" } },
      { key: "zz", value: "v3", timestamp: 5 },
    ]);
    expect(d.readOutput("inner").map((r) => [r.key, r.value, r.timestamp, r.headers])).toEqual([
      ["a", "v2|T", 4, { h: "1" }],
    ]);
    expect(d.readOutput("left").map((r) => [r.key, r.value, r.timestamp])).toEqual([
      [null, "v1|null", 2],
      ["a", "v2|T", 4],
      ["zz", "v3|null", 5],
    ]);
    expect(d.droppedRecords()).toEqual([
      { reason: "null-key", node: "ij" },
      { reason: "null-value", node: "ij" },
      { reason: "null-value", node: "lj" },
    ]);
    d.close();
  });

  it("table updates never trigger output; the output timestamp is the stream record's", () => {
    const d = new TopologyTestDriver(topology(), { wallClockMs: WALL });
    d.pipeInput("st", [{ key: "a", value: "v1", timestamp: 1 }]);
    d.pipeInput("t", [{ key: "a", value: "T", timestamp: 50 }]);
    expect(d.readOutput("inner")).toEqual([]);
    expect(d.readOutput("left").map((r) => [r.key, r.value, r.timestamp])).toEqual([["a", "v1|null", 1]]);
    d.pipeInput("st", [{ key: "a", value: "v2", timestamp: 20 }]);
    expect(d.readOutput("inner").map((r) => [r.key, r.value, r.timestamp])).toEqual([["a", "v2|T", 20]]);
    d.close();
  });

  it("joins a derived table (filter, mapValues without a store) through its source's store", () => {
    const b = new TopologyBuilder("app");
    const table = b
      .table("t", { key: s, value: s, store: "t" })
      .filter("active", (v) => !v.startsWith("-"))
      .mapValues("upper", (v) => v.toUpperCase());
    b.stream("st", { key: s, value: s })
      .leftJoin("lj", table, (v, row) => `${v}|${row}`)
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("t", [
      { key: "a", value: "x", timestamp: 1 },
      { key: "b", value: "-y", timestamp: 2 },
    ]);
    d.pipeInput("st", [
      { key: "a", value: "1", timestamp: 3 },
      { key: "b", value: "2", timestamp: 4 },
    ]);
    expect(d.readOutput("out").map((r) => [r.key, r.value])).toEqual([
      ["a", "1|X"],
      ["b", "2|null"],
    ]);
    d.close();
  });

  it("co-partitioning: the stream and the table are one sub-topology, joined per partition", () => {
    const t = topology();
    const sub = t.subtopologyOf("st")!;
    expect(t.subtopologyOf("t")).toBe(sub);
    expect([...sub.sourceTopics].sort()).toEqual(["st", "t"]);
    expect(sub.stores).toEqual(["t"]);
    expect(t.subtopologies).toHaveLength(1);
    const d = new TopologyTestDriver(t, { partitions: 3, wallClockMs: WALL });
    const keys = ["a", "b", "c", "d", "e", "f"];
    d.pipeInput(
      "t",
      keys.map((k, i) => ({ key: k, value: k.toUpperCase(), timestamp: i })),
    );
    d.pipeInput(
      "st",
      keys.map((k, i) => ({ key: k, value: k, timestamp: 10 + i })),
    );
    expect(
      d
        .readOutput("inner")
        .map((r) => [r.key, r.value, r.partition])
        .sort(),
    ).toEqual(keys.map((k) => [k, `${k}|${k.toUpperCase()}`, partitionForKey(Buffer.from(k), 3)]));
    d.close();
  });
});

describe("KStream-GlobalKTable join", () => {
  function topology() {
    const b = new TopologyBuilder("app");
    const regions = b.globalTable("regions", { key: s, value: s });
    const stream = b.stream("visits", { key: s, value: Serdes.json<{ region: string | null }>() });
    const json = Serdes.json<string>();
    stream
      .join(
        "ij",
        regions,
        // A null result is what the test is about; the selector's type says string.
        (r) => r.value.region as string,
        (v, region) => `${v.region}:${region}`,
      )
      .to("inner", { key: s, value: json });
    stream
      .leftJoin(
        "lj",
        regions,
        // A null result is what the test is about; the selector's type says string.
        (r) => r.value.region as string,
        (v, region) => `${v.region}:${region}`,
      )
      .to("left", { key: s, value: json });
    return b.build();
  }

  it("the key selector picks the row; inner drops a null lookup key, left joins it with null", () => {
    const d = new TopologyTestDriver(topology(), { partitions: 3, wallClockMs: WALL });
    d.pipeInput("regions", [
      { key: "eu", value: "Europe", timestamp: 1 },
      { key: "us", value: "Americas", timestamp: 2 },
    ]);
    expect(d.keyValueStore<string, string>("regions-global").get("us")).toBe("Americas");
    d.pipeInput<string | null, { region: string | null } | null>("visits", [
      { key: "v1", value: { region: "eu" }, timestamp: 3, headers: { h: "1" } },
      { key: "v2", value: { region: "xx" }, timestamp: 4 },
      { key: "v3", value: { region: null }, timestamp: 5 },
      { key: null, value: { region: "us" }, timestamp: 6 }, // a null stream key is fine: the selector picks the row
      { key: "v5", value: null, timestamp: 7 },
    ]);
    const rows = (topic: string) =>
      d
        .readOutput(topic)
        .map((r) => [r.key, r.value, r.timestamp])
        .sort((x, y) => (x[2] as number) - (y[2] as number));
    expect(rows("inner")).toEqual([
      ["v1", "eu:Europe", 3],
      [null, "us:Americas", 6],
    ]);
    expect(rows("left")).toEqual([
      ["v1", "eu:Europe", 3],
      ["v2", "xx:null", 4],
      ["v3", "null:null", 5],
      [null, "us:Americas", 6],
    ]);
    expect(d.droppedRecords().filter((x) => x.node === "ij")).toEqual([
      { reason: "null-key", node: "ij" },
      { reason: "null-value", node: "ij" },
    ]);
    expect(d.droppedRecords().filter((x) => x.node === "lj")).toEqual([{ reason: "null-value", node: "lj" }]);
    d.close();
  });

  it("global table updates are seen by later stream records, and a deleted row is gone", () => {
    const d = new TopologyTestDriver(topology(), { wallClockMs: WALL });
    d.pipeInput("regions", [{ key: "eu", value: "Europe", timestamp: 1 }]);
    d.pipeInput("visits", [{ key: "v1", value: { region: "eu" }, timestamp: 2 }]);
    d.pipeInput("regions", [{ key: "eu", value: "EU", timestamp: 3 }]);
    d.pipeInput("visits", [{ key: "v2", value: { region: "eu" }, timestamp: 4 }]);
    d.pipeInput<string, string | null>("regions", [{ key: "eu", value: null, timestamp: 5 }]);
    d.pipeInput("visits", [{ key: "v3", value: { region: "eu" }, timestamp: 6 }]);
    expect(d.readOutput("inner").map((r) => [r.key, r.value])).toEqual([
      ["v1", "eu:Europe"],
      ["v2", "eu:EU"],
    ]);
    expect(d.readOutput("left").map((r) => [r.key, r.value])).toEqual([
      ["v1", "eu:Europe"],
      ["v2", "eu:EU"],
      ["v3", "eu:null"],
    ]);
    d.close();
  });
});
