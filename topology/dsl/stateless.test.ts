import { describe, expect, it } from "vitest";
import { TopologyBuilder } from "../builder.js";
import { describeJson } from "../describe.js";
import { TopologyTestDriver } from "../driver.js";
import { partitionForKey } from "../partitioner.js";
import type { StreamRecord } from "../record.js";
import { Serdes } from "../serdes.js";

const s = Serdes.string();
const n = Serdes.number();
const WALL = 1_000_000;

const rows = <K, V>(records: Array<{ key: K; value: V; timestamp: number; headers: unknown }>) =>
  records.map((r) => [r.key, r.value, r.timestamp, r.headers]);

/** Source keys that land in three different partitions of a 3-partition topic. */
function keysInDistinctPartitions(): [string, string, string] {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < 3; i++) {
    const k = `k${i}`;
    const p = partitionForKey(Buffer.from(k), 3);
    if (!byPartition.has(p)) byPartition.set(p, k);
  }
  return [byPartition.get(0)!, byPartition.get(1)!, byPartition.get(2)!];
}

describe("KStream stateless methods", () => {
  it("map: new key and value per record, timestamp and headers kept", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .map("m", (r) => ({ key: `${r.key}!`, value: r.value.length }))
      .to("out", { key: s, value: n });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "xyz", timestamp: 10, headers: { h: "1" } },
      { key: "b", value: "", timestamp: 11 },
    ]);
    expect(rows(d.readOutput("out"))).toEqual([
      ["a!", 3, 10, { h: "1" }],
      ["b!", 0, 11, {}],
    ]);
    d.close();
  });

  it("mapValues: new value, key kept; the mapper sees the record", () => {
    const b = new TopologyBuilder("app");
    const seen: Array<[string, string, number]> = [];
    b.stream("in", { key: s, value: s })
      .mapValues("mv", (v, r: StreamRecord<string, string>) => {
        seen.push([r.key, v, r.timestamp]);
        return v.toUpperCase();
      })
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "x", timestamp: 5, headers: { trace: "t1" } },
      { key: "b", value: "y", timestamp: 6 },
    ]);
    expect(rows(d.readOutput("out"))).toEqual([
      ["a", "X", 5, { trace: "t1" }],
      ["b", "Y", 6, {}],
    ]);
    expect(seen).toEqual([
      ["a", "x", 5],
      ["b", "y", 6],
    ]);
    d.close();
  });

  it("flatMap: zero or more records, each with the input's timestamp and headers", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .flatMap("fm", (r) =>
        r.value
          .split(",")
          .filter(Boolean)
          .map((w, i) => ({ key: `${r.key}${i}`, value: w })),
      )
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "x,y", timestamp: 20, headers: { h: "v" } },
      { key: "b", value: "", timestamp: 21 },
      { key: "c", value: "z", timestamp: 22 },
    ]);
    expect(rows(d.readOutput("out"))).toEqual([
      ["a0", "x", 20, { h: "v" }],
      ["a1", "y", 20, { h: "v" }],
      ["c0", "z", 22, {}],
    ]);
    d.close();
  });

  it("flatMapValues: zero or more values under the input's key", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .flatMapValues("fmv", (v) => v.split(" ").filter(Boolean))
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "p q r", timestamp: 1, headers: { x: "1" } },
      { key: "b", value: " ", timestamp: 2 },
    ]);
    expect(rows(d.readOutput("out"))).toEqual([
      ["a", "p", 1, { x: "1" }],
      ["a", "q", 1, { x: "1" }],
      ["a", "r", 1, { x: "1" }],
    ]);
    d.close();
  });

  it("selectKey: new key, value, timestamp and headers kept", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .selectKey("sk", (r) => r.value.slice(0, 1))
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "hello", timestamp: 3, headers: { h: "1" } },
      { key: "b", value: "world", timestamp: 4 },
    ]);
    expect(rows(d.readOutput("out"))).toEqual([
      ["h", "hello", 3, { h: "1" }],
      ["w", "world", 4, {}],
    ]);
    d.close();
  });

  it("peek: calls the function and passes every record on unchanged", () => {
    const b = new TopologyBuilder("app");
    const peeked: Array<[string, string, number]> = [];
    b.stream("in", { key: s, value: s })
      .peek("p", (r) => peeked.push([r.key, r.value, r.timestamp]))
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "1", timestamp: 7, headers: { h: "p" } },
      { key: "b", value: "2", timestamp: 8 },
    ]);
    expect(peeked).toEqual([
      ["a", "1", 7],
      ["b", "2", 8],
    ]);
    expect(rows(d.readOutput("out"))).toEqual([
      ["a", "1", 7, { h: "p" }],
      ["b", "2", 8, {}],
    ]);
    d.close();
  });

  it("filter and filterNot keep / drop records by the predicate", () => {
    const b = new TopologyBuilder("app");
    const input = b.stream("in", { key: s, value: n });
    input.filter("even", (r) => r.value % 2 === 0).to("evens", { key: s, value: n });
    input.filterNot("odd", (r) => r.value % 2 === 0).to("odds", { key: s, value: n });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: 1, timestamp: 1 },
      { key: "b", value: 2, timestamp: 2, headers: { h: "2" } },
      { key: "c", value: 3, timestamp: 3 },
      { key: "d", value: 4, timestamp: 4 },
    ]);
    expect(rows(d.readOutput("evens"))).toEqual([
      ["b", 2, 2, { h: "2" }],
      ["d", 4, 4, {}],
    ]);
    expect(rows(d.readOutput("odds"))).toEqual([
      ["a", 1, 1, {}],
      ["c", 3, 3, {}],
    ]);
    d.close();
  });

  it("foreach: calls the function per record and forwards nothing", () => {
    const b = new TopologyBuilder("app");
    const seen: Array<[string, string, number, Record<string, string>]> = [];
    const input = b.stream("in", { key: s, value: s });
    input.foreach("each", (r) => seen.push([r.key, r.value, r.timestamp, r.headers]));
    input.to("out", { key: s, value: s });
    const t = b.build();
    const d = new TopologyTestDriver(t, { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "1", timestamp: 1, headers: { h: "1" } },
      { key: "b", value: "2", timestamp: 2 },
    ]);
    expect(seen).toEqual([
      ["a", "1", 1, { h: "1" }],
      ["b", "2", 2, {}],
    ]);
    const node = describeJson(t)
      .subtopologies.flatMap((x) => x.nodes)
      .find((x) => x.name === "each");
    expect(node?.children).toEqual([]);
    d.close();
  });

  it("merge: the records of both streams in processing order", () => {
    const b = new TopologyBuilder("app");
    const left = b.stream("left", { key: s, value: s });
    const right = b.stream("right", { key: s, value: s }).mapValues("r-up", (v) => v.toUpperCase());
    left.merge("both", right).to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("left", [{ key: "a", value: "l1", timestamp: 1, headers: { from: "left" } }]);
    d.pipeInput("right", [{ key: "b", value: "r1", timestamp: 2, headers: { from: "right" } }]);
    d.pipeInput("left", [{ key: "c", value: "l2", timestamp: 3 }]);
    expect(rows(d.readOutput("out"))).toEqual([
      ["a", "l1", 1, { from: "left" }],
      ["b", "R1", 2, { from: "right" }],
      ["c", "l2", 3, {}],
    ]);
    d.close();
  });

  it("branch: each record goes to the first matching branch; unmatched records are dropped", () => {
    const b = new TopologyBuilder("app");
    const branches = b.stream("in", { key: s, value: n }).branch("split", {
      small: (r) => r.value < 10,
      medium: (r) => r.value < 100,
      even: (r) => r.value % 2 === 0,
    });
    branches.small.to("small", { key: s, value: n });
    branches.medium.to("medium", { key: s, value: n });
    branches.even.to("even", { key: s, value: n });
    const t = b.build();
    const d = new TopologyTestDriver(t, { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: 4, timestamp: 1 },
      { key: "b", value: 50, timestamp: 2, headers: { h: "b" } },
      { key: "c", value: 1000, timestamp: 3 },
      { key: "d", value: 1001, timestamp: 4 },
    ]);
    expect(rows(d.readOutput("small"))).toEqual([["a", 4, 1, {}]]);
    expect(rows(d.readOutput("medium"))).toEqual([["b", 50, 2, { h: "b" }]]);
    expect(rows(d.readOutput("even"))).toEqual([["c", 1000, 3, {}]]);
    const names = describeJson(t).subtopologies.flatMap((x) => x.nodes.map((m) => m.name));
    expect(names).toEqual(expect.arrayContaining(["split-small", "split-medium", "split-even"]));
    d.close();
  });
});

describe("repartitioning", () => {
  it("map then groupByKey repartitions through <app>-<name>-repartition; one new key meets in one task", () => {
    const [k1, k2, k3] = keysInDistinctPartitions();
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .map("m", (r) => ({ key: r.value, value: r.key }))
      .groupByKey("g", { key: s, value: s })
      .count("c")
      .toStream("c-stream")
      .to("counts", { key: s, value: Serdes.json<number | null>() });
    const t = b.build();
    expect(t.internalTopics.filter((x) => x.kind === "repartition").map((x) => x.name)).toEqual([
      "app-g-repartition",
    ]);
    expect(t.subtopologies).toHaveLength(2);
    const d = new TopologyTestDriver(t, { partitions: 3, wallClockMs: WALL });
    d.pipeInput("in", [
      { key: k1, value: "x", timestamp: 1 },
      { key: k2, value: "x", timestamp: 2 },
      { key: k3, value: "x", timestamp: 3 },
      { key: k1, value: "y", timestamp: 4 },
    ]);
    expect(d.readOutput("counts").map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ["x", 1, 1],
      ["x", 2, 2],
      ["x", 3, 3],
      ["y", 1, 4],
    ]);
    const px = partitionForKey(Buffer.from("x"), 3);
    const py = partitionForKey(Buffer.from("y"), 3);
    expect(
      d
        .records("app-g-repartition")
        .map((r) => [r.key?.toString(), r.partition])
        .sort(),
    ).toEqual(
      [
        ["x", px],
        ["x", px],
        ["x", px],
        ["y", py],
      ].sort(),
    );
    expect(d.keyValueStore<string, number>("c", px).get("x")).toBe(3);
    expect(d.keyValueStore<string, number>("c", py).get("y")).toBe(1);
    d.close();
  });

  it("selectKey, flatMap and groupBy also repartition; counts are per new key", () => {
    const [k1, k2, k3] = keysInDistinctPartitions();
    for (const shape of ["selectKey", "flatMap", "groupBy"] as const) {
      const b = new TopologyBuilder("app");
      const input = b.stream("in", { key: s, value: s });
      const grouped =
        shape === "selectKey"
          ? input.selectKey("sk", (r) => r.value).groupByKey("g", { key: s, value: s })
          : shape === "flatMap"
            ? input
                .flatMap("fm", (r) => [{ key: r.value, value: r.key }])
                .groupByKey("g", { key: s, value: s })
            : input.groupBy("g", (r) => r.value, { key: s, value: s });
      grouped.count("c");
      const t = b.build();
      expect(t.internalTopics.filter((x) => x.kind === "repartition").map((x) => x.name)).toEqual([
        "app-g-repartition",
      ]);
      const d = new TopologyTestDriver(t, { partitions: 3, wallClockMs: WALL });
      d.pipeInput("in", [
        { key: k1, value: "x", timestamp: 1 },
        { key: k2, value: "x", timestamp: 2 },
        { key: k3, value: "x", timestamp: 3 },
      ]);
      expect(d.keyValueStore<string, number>("c", partitionForKey(Buffer.from("x"), 3)).get("x")).toBe(3);
      d.close();
    }
  });

  it("a key change followed by a stream-table join repartitions the stream side", () => {
    const [k1, k2] = keysInDistinctPartitions();
    const b = new TopologyBuilder("app");
    const users = b.table("users", { key: s, value: s, store: "users" });
    b.stream("clicks", { key: s, value: s })
      .selectKey("by-user", (r) => r.value)
      .join("j", users, (click, user) => `${click}@${user}`)
      .to("out", { key: s, value: s });
    const t = b.build();
    const repartitions = t.internalTopics.filter((x) => x.kind === "repartition").map((x) => x.name);
    expect(repartitions).toHaveLength(1);
    expect(repartitions[0]).toMatch(/^app-j(-left)?-repartition$/);
    const d = new TopologyTestDriver(t, { partitions: 3, wallClockMs: WALL });
    d.pipeInput("users", [{ key: "u1", value: "Ann", timestamp: 1 }]);
    d.pipeInput("clicks", [
      { key: k1, value: "u1", timestamp: 2 },
      { key: k2, value: "u1", timestamp: 3 },
    ]);
    expect(d.readOutput("out").map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ["u1", "u1@Ann", 2],
      ["u1", "u1@Ann", 3],
    ]);
    d.close();
  });

  it("a join after map needs the stream's value serde for the repartition: refused without it, given as its last argument", () => {
    const build = (withSerdes: boolean) => {
      const b = new TopologyBuilder("app");
      const users = b.table("users", { key: s, value: s, store: "users" });
      const clicks = b
        .stream("clicks", { key: s, value: s })
        .map("by-user", (r) => ({ key: r.value, value: r.value.length }));
      const joined = withSerdes
        ? clicks.leftJoin("j", users, (len, user) => `${len}@${user}`, { value: n })
        : clicks.leftJoin("j", users, (len, user) => `${len}@${user}`);
      joined.to("out", { key: s, value: s });
      return b.build();
    };
    expect(() => build(false)).toThrow(
      /'j-left' needs to repartition the stream.*pass \{ key, value \} as its last argument/,
    );
    const d = new TopologyTestDriver(build(true), { partitions: 3, wallClockMs: WALL });
    d.pipeInput("users", [{ key: "u1", value: "Ann", timestamp: 1 }]);
    d.pipeInput("clicks", [
      { key: "c1", value: "u1", timestamp: 2 },
      { key: "c2", value: "u22", timestamp: 3 },
    ]);
    expect(d.readOutput("out").map((r) => [r.key, r.value])).toEqual([
      ["u1", "2@Ann"],
      ["u22", "3@null"],
    ]);
    d.close();
  });

  it("mapValues, filter, flatMapValues and peek keep the partitioning: no repartition topic", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .mapValues("mv", (v) => v.toUpperCase())
      .filter("f", (r) => r.value !== "SKIP")
      .flatMapValues("fmv", (v) => [v])
      .peek("p", () => {})
      .groupByKey("g", { key: s, value: s })
      .count("c");
    const t = b.build();
    expect(t.internalTopics.map((x) => [x.name, x.kind])).toEqual([["app-c-changelog", "changelog"]]);
    expect(t.subtopologies).toHaveLength(1);
    const d = new TopologyTestDriver(t, { partitions: 3, wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "1", timestamp: 1 },
      { key: "a", value: "skip", timestamp: 2 },
      { key: "a", value: "2", timestamp: 3 },
    ]);
    expect(d.keyValueStore<string, number>("c", partitionForKey(Buffer.from("a"), 3)).get("a")).toBe(2);
    d.close();
  });

  it("a merge with a re-keyed stream repartitions; a merge of unchanged streams does not", () => {
    const b = new TopologyBuilder("app");
    const a = b.stream("a", { key: s, value: s });
    const c = b.stream("c", { key: s, value: s });
    a.merge("plain", c).groupByKey("g1", { key: s, value: s }).count("c1");
    const b2 = new TopologyBuilder("app");
    const a2 = b2.stream("a", { key: s, value: s });
    const c2 = b2.stream("c", { key: s, value: s }).selectKey("sk", (r) => r.value);
    a2.merge("mixed", c2).groupByKey("g2", { key: s, value: s }).count("c2");
    expect(
      b
        .build()
        .internalTopics.filter((x) => x.kind === "repartition")
        .map((x) => x.name),
    ).toEqual([]);
    expect(
      b2
        .build()
        .internalTopics.filter((x) => x.kind === "repartition")
        .map((x) => x.name),
    ).toEqual(["app-g2-repartition"]);
  });

  it("groupByKey on a source stream needs no serdes: they are the source's (Kafka Streams: Consumed's serdes)", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s }).groupByKey("g").count("c");
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    d.pipeInput("in", [
      { key: "a", value: "1", timestamp: 1 },
      { key: "a", value: "2", timestamp: 2 },
    ]);
    expect(d.keyValueStore<string, number>("c").get("a")).toBe(2);
    d.close();
  });
});

describe("describe()", () => {
  it("lists the DSL's nodes, stores and internal topics", () => {
    const b = new TopologyBuilder("app");
    const users = b.table("users", { key: s, value: s, store: "users" });
    b.stream("in", { key: s, value: s })
      .map("m", (r) => ({ key: r.value, value: r.key }))
      .groupByKey("g", { key: s, value: s })
      .count("c")
      .toStream("c-stream")
      .to("counts", { key: s, value: Serdes.json<number | null>() });
    b.stream("clicks", { key: s, value: s })
      .join("j", users, (c, u) => `${c}${u}`)
      .to("out", { key: s, value: s });
    const d = describeJson(b.build());
    const nodes = new Map(d.subtopologies.flatMap((x) => x.nodes.map((m) => [m.name, { ...m, sub: x.id }])));
    expect([...nodes.keys()]).toEqual(
      expect.arrayContaining([
        "in-source",
        "m",
        "g-repartition-sink",
        "g-repartition-source",
        "c",
        "c-stream",
        "counts-sink",
        "users-source",
        "users",
        "clicks-source",
        "j",
        "out-sink",
      ]),
    );
    expect(nodes.get("g-repartition-sink")).toMatchObject({ type: "sink", topic: "app-g-repartition" });
    expect(nodes.get("g-repartition-source")).toMatchObject({
      type: "source",
      topic: "app-g-repartition",
      children: ["c"],
    });
    expect(nodes.get("c")).toMatchObject({ type: "processor", stores: ["c"], children: ["c-stream"] });
    expect(nodes.get("j")).toMatchObject({ type: "processor", stores: ["users"] });
    expect(nodes.get("m")!.sub).not.toBe(nodes.get("c")!.sub);
    expect(nodes.get("j")!.sub).toBe(nodes.get("users")!.sub);
    expect(d.stores.map((x) => [x.name, x.kind, x.changelog]).sort()).toEqual([
      ["c", "key-value", "app-c-changelog"],
      ["users", "key-value", "app-users-changelog"],
    ]);
    expect(d.topics.internal.map((x) => [x.name, x.kind]).sort()).toEqual([
      ["app-c-changelog", "changelog"],
      ["app-g-repartition", "repartition"],
      ["app-users-changelog", "changelog"],
    ]);
    expect(d.topics.inputs.sort()).toEqual(["clicks", "in", "users"]);
    expect(d.topics.outputs.sort()).toEqual(["counts", "out"]);
  });
});
