import { delay, filter, map, merge, mergeMap, of } from "rxjs";
import { describe, expect, it } from "vitest";
import { Stores, TopologyBuilder, type ProcessorFactory } from "./builder.js";
import { DeadLetterHeader } from "./dead-letter.js";
import { TopologyTestDriver } from "./driver.js";
import { selectKey } from "./operators.js";
import { Serdes } from "./serdes.js";

const s = { key: Serdes.string(), value: Serdes.string() };

const count: ProcessorFactory<string, string, string, number> = (ctx) => {
  const store = ctx.keyValueStore<string, number>("counts");
  return map((r) => {
    const n = (store.get(r.key) ?? 0) + 1;
    store.put(r.key, n);
    return { key: r.key, value: n };
  });
};

function countTopology() {
  const b = new TopologyBuilder("t");
  b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
  b.stream("in", s)
    .process("count", count, { stores: ["counts"] })
    .to("out", { key: Serdes.string(), value: Serdes.number() });
  return b.build();
}

describe("TopologyTestDriver", () => {
  it("runs a stateful topology: outputs, stores and changelog", () => {
    const driver = new TopologyTestDriver(countTopology());
    driver.pipeInput("in", [
      { key: "a", value: "x", timestamp: 10 },
      { key: "b", value: "y", timestamp: 11 },
      { key: "a", value: "z", timestamp: 12, headers: { h: "1" } },
    ]);
    expect(driver.readOutput("out").map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ["a", 1, 10],
      ["b", 1, 11],
      ["a", 2, 12],
    ]);
    expect(driver.keyValueStore<string, number>("counts").get("a")).toBe(2);
    expect(driver.records("t-counts-changelog").map((r) => [r.key?.toString(), r.value?.toString()])).toEqual(
      [
        ["a", "1"],
        ["b", "1"],
        ["a", "2"],
      ],
    );
    expect(driver.readOutput("out")).toEqual([]); // read consumes
    driver.close();
  });

  it("writes changelogs as the worker does: the last write per key per commit, wall-clock timestamps, checkpoints", () => {
    // A processor that writes one key twice per record: the worker's commit sends only the last write.
    const b = new TopologyBuilder("t");
    b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
    b.stream("in", s)
      .process(
        "count-twice",
        (ctx) => {
          const store = ctx.keyValueStore<string, number>("counts");
          return map((r) => {
            store.put(r.key, (store.get(r.key) ?? 0) + 1);
            store.put(r.key, (store.get(r.key) ?? 0) + 10);
            return { key: r.key, value: store.get(r.key)! };
          });
        },
        { stores: ["counts"] },
      )
      .to("out", { key: Serdes.string(), value: Serdes.number() });
    const driver = new TopologyTestDriver(b.build(), { wallClockMs: 5000 });
    driver.pipeInput("in", [{ key: "a", value: "x", timestamp: 10 }]);
    driver.advanceWallClock(1000);
    driver.pipeInput("in", [{ key: "a", value: "y", timestamp: 20 }]);
    expect(
      driver.records("t-counts-changelog").map((r) => [r.value?.toString(), r.timestamp, r.offset]),
    ).toEqual([
      ["11", 5000, 0],
      ["22", 6000, 1],
    ]);
    driver.close();
  });

  it("sends undecodable records to the dead-letter topic with their context and keeps going", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", { key: Serdes.string(), value: Serdes.json<{ n: number }>() })
      .process("double", () => map((r) => ({ key: r.key, value: r.value.n * 2 })))
      .to("out", { key: Serdes.string(), value: Serdes.number() });
    const driver = new TopologyTestDriver(b.build());
    driver.pipeRaw("in", { key: Buffer.from("k"), value: Buffer.from("{not json"), timestamp: 5 });
    driver.pipeInput("in", [{ key: "k", value: { n: 21 }, timestamp: 6 }]);
    expect(driver.readOutput("out").map((r) => r.value)).toEqual([42]);
    const [dead] = driver.deadLetters();
    expect(dead!.value!.toString()).toBe("{not json");
    expect(dead!.headers).toMatchObject({
      [DeadLetterHeader.errorClass]: "DeserializationError",
      [DeadLetterHeader.topic]: "in",
      [DeadLetterHeader.partition]: "0",
      [DeadLetterHeader.offset]: "0",
      [DeadLetterHeader.timestamp]: "5",
    });
    // Which half of the record, and the serde that refused it: what a new user needs to find a format mismatch.
    expect(dead!.headers[DeadLetterHeader.errorMessage]).toMatch(
      /^value does not decode with serde json.*: not valid JSON/,
    );
  });

  it("stamps a dead letter with the time it was dead-lettered; the source's timestamp stays in its header", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", s).to("out", s);
    const driver = new TopologyTestDriver(b.build(), { wallClockMs: 1_000_000 });
    // A clock a century ahead: the source's guard refuses it, and Kafka 4's default refuses such a timestamp too.
    const YEAR_2100 = Date.UTC(2100, 0, 1);
    driver.pipeInput("in", [{ key: "k", value: "v", timestamp: YEAR_2100 }]);
    const [dead] = driver.deadLetters();
    expect(dead!.headers[DeadLetterHeader.errorClass]).toBe("InvalidTimestampError");
    expect(dead!.timestamp).toBe(1_000_000);
    expect(dead!.headers[DeadLetterHeader.timestamp]).toBe(String(YEAR_2100));
  });

  it("dead-letters the input of a processor that throws, and the processor keeps working", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", s)
      .process("picky", () =>
        map((r) => {
          if (r.value === "boom") throw new Error("cannot handle boom");
          return { key: r.key, value: r.value.toUpperCase() };
        }),
      )
      .to("out", s);
    const driver = new TopologyTestDriver(b.build());
    driver.pipeInput("in", [
      { key: "a", value: "ok" },
      { key: "b", value: "boom" },
      { key: "c", value: "fine" },
    ]);
    expect(driver.readOutput("out").map((r) => r.value)).toEqual(["OK", "FINE"]);
    expect(
      driver
        .deadLetters()
        .map((r) => [
          r.key?.toString(),
          r.headers[DeadLetterHeader.errorClass],
          r.headers[DeadLetterHeader.node],
        ]),
    ).toEqual([["b", "ProcessingError", "picky"]]);
  });

  it("with processing errors set to fail, a throwing processor fails the task with context", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", s)
      .process("picky", () =>
        map(() => {
          throw new Error("nope");
        }),
      )
      .to("out", s);
    const driver = new TopologyTestDriver(b.build(), { onProcessingError: "fail" });
    expect(() => driver.pipeInput("in", [{ key: "a", value: "x" }])).toThrow(
      expect.objectContaining({ name: "ProcessingError", node: "picky", topic: "in", offset: 0 }),
    );
  });

  it("fails loudly when a processor emits asynchronously", async () => {
    const b = new TopologyBuilder("t");
    b.stream("in", s)
      .process("late", () => mergeMap((r) => of({ key: r.key, value: r.value }).pipe(delay(1))))
      .to("out", s);
    const driver = new TopologyTestDriver(b.build());
    driver.pipeInput("in", [{ key: "a", value: "x" }]);
    await new Promise((r) => setTimeout(r, 20));
    expect(() => driver.pipeInput("in", [{ key: "b", value: "y" }])).toThrow(
      /outside of processing.*asynchronously/,
    );
  });

  it("fires stream-time and wall-clock punctuators inside processing", () => {
    const ticks: Array<[string, number]> = [];
    const b = new TopologyBuilder("t");
    b.stream("in", s)
      .process(
        "ticker",
        (ctx) => (source) =>
          merge(
            source.pipe(
              filter(() => false),
              map((r) => ({ key: r.key, value: "" })),
            ),
            ctx
              .punctuate("stream-time", 100)
              .pipe(map((t) => (ticks.push(["stream", t]), { key: "tick", value: `stream@${t}` }))),
            ctx
              .punctuate("wall-clock", 1000)
              .pipe(map((t) => (ticks.push(["wall", t]), { key: "tick", value: `wall@${t}` }))),
          ),
      )
      .to("out", s);
    const driver = new TopologyTestDriver(b.build(), { wallClockMs: 0 });
    driver.pipeInput("in", [
      { key: "a", value: "1", timestamp: 1000 },
      { key: "a", value: "2", timestamp: 1050 },
      { key: "a", value: "3", timestamp: 1100 },
      { key: "a", value: "4", timestamp: 1150 },
      { key: "a", value: "5", timestamp: 1250 },
    ]);
    driver.advanceWallClock(500);
    driver.advanceWallClock(600);
    expect(ticks).toEqual([
      ["stream", 1100],
      ["stream", 1250],
      ["wall", 1100],
    ]);
    expect(driver.readOutput("out").map((r) => [r.value, r.timestamp])).toEqual([
      ["stream@1100", 1100],
      ["stream@1250", 1250],
      ["wall@1100", 1250],
    ]);
  });

  it("routes records through repartition topics to the task of their new key", () => {
    const b = new TopologyBuilder("t");
    b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
    b.stream("words", s)
      .process("by-word", () => selectKey((r) => r.value))
      .repartition("by-word", s)
      .process(
        "count",
        (ctx) => {
          const store = ctx.keyValueStore<string, number>("counts");
          return map((r) => {
            const n = (store.get(r.key) ?? 0) + 1;
            store.put(r.key, n);
            return { key: r.key, value: String(n) };
          });
        },
        { stores: ["counts"] },
      )
      .to("counts", s);
    const driver = new TopologyTestDriver(b.build(), { partitions: 4 });
    driver.pipeInput(
      "words",
      ["x", "y", "x", "z", "x"].map((w, i) => ({ key: `line${i}`, value: w })),
    );
    const out = driver.readOutput("counts");
    expect(out.map((r) => `${r.key}=${r.value}`)).toEqual(["x=1", "y=1", "x=2", "z=1", "x=3"]);
    // All records of "x" went through one partition of the repartition topic, and one task counted them.
    const xs = driver.records("t-by-word-repartition").filter((r) => r.key?.toString() === "x");
    expect(new Set(xs.map((r) => r.partition)).size).toBe(1);
    expect(driver.keyValueStore<string, number>("counts", xs[0]!.partition).get("x")).toBe(3);
  });
});

describe("stores a processor asks for", () => {
  const topologyAsking = (kind: "undeclared" | "wrong-kind") => {
    const b = new TopologyBuilder("t");
    b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
    b.stream("in", s)
      .process(
        "p",
        (ctx) =>
          map((r) => {
            if (kind === "undeclared") ctx.keyValueStore("other");
            else ctx.windowStore("counts");
            return { key: r.key, value: r.value };
          }),
        { stores: ["counts"] },
      )
      .to("out", s);
    return b.build();
  };

  it("a store it did not declare, or asked for as the wrong kind: a bug in the topology, it fails the task saying what to do", () => {
    for (const [kind, message] of [
      ["undeclared", /processor 'p' did not declare store 'other'; add it to \{ stores: \[\.\.\.\] \}/],
      [
        "wrong-kind",
        /asked for store 'counts' as a window store, but it is a key-value store: use ctx\.keyValueStore\('counts'\)/,
      ],
    ] as const) {
      const driver = new TopologyTestDriver(topologyAsking(kind));
      expect(() => driver.pipeInput("in", [{ key: "k", value: "v" }])).toThrow(message);
      expect(driver.deadLetters()).toHaveLength(0);
      driver.close();
    }
  });
});
