import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import { Serdes, TopologyBuilder, TopologyTestDriver } from "../index.js";

const s = Serdes.string();
describe("the DSL end to end in the driver", () => {
  it("word count, table join, global join, table groupBy", () => {
    const b = new TopologyBuilder("smoke");
    const counts = b
      .stream("lines", { key: s, value: s })
      .flatMapValues("split", (line) => line.split(" "))
      .groupBy("by-word", (r) => r.value, { key: s, value: s })
      .count("word-counts");
    counts.toStream("counts-stream").to("counts", { key: s, value: Serdes.json<number | null>() });
    const users = b.table("users", { key: s, value: s, store: "users" });
    b.stream("clicks", { key: s, value: s })
      .join("click-user", users, (click, user) => `${click}@${user}`)
      .to("enriched", { key: s, value: s });
    const regions = b.globalTable("regions", { key: s, value: s });
    b.stream("visits", { key: s, value: s })
      .leftJoin(
        "visit-region",
        regions,
        (r) => r.value,
        (v, region) => `${v}:${region ?? "?"}`,
      )
      .to("visits-out", { key: s, value: s });
    users
      .groupBy("by-city", (_k, city) => ({ key: city, value: city }), { key: s, value: s })
      .count("users-per-city")
      .toStream("per-city")
      .to("per-city", { key: s, value: Serdes.json<number | null>() });
    const t = b.build();
    const d = new TopologyTestDriver(t, { partitions: 2 });
    d.pipeInput("lines", [{ key: "1", value: "a b a" }]);
    const out = d.readOutput<string, number>("counts").map((r) => [r.key, r.value]);
    expect(out).toEqual(
      expect.arrayContaining([
        ["a", 1],
        ["b", 1],
        ["a", 2],
      ]),
    );
    d.pipeInput("users", [
      { key: "u1", value: "oslo" },
      { key: "u2", value: "oslo" },
    ]);
    d.pipeInput("clicks", [
      { key: "u1", value: "c1" },
      { key: "u3", value: "c2" },
    ]);
    expect(d.readOutput("enriched").map((r) => r.value)).toEqual(["c1@oslo"]);
    d.pipeInput("regions", [{ key: "eu", value: "Europe" }]);
    d.pipeInput("visits", [
      { key: "v1", value: "eu" },
      { key: "v2", value: "us" },
    ]);
    expect(
      d
        .readOutput("visits-out")
        .map((r) => r.value)
        .sort(),
    ).toEqual(["eu:Europe", "us:?"]);
    d.pipeInput("users", [{ key: "u1", value: "rome" }]);
    const perCity = d.readOutput<string, number>("per-city").map((r) => [r.key, r.value]);
    expect(perCity).toEqual([
      ["oslo", 1],
      ["oslo", 2],
      ["oslo", 1],
      ["rome", 1],
    ]);
    d.close();
  });
});

describe("a table with its source topic as changelog", () => {
  it("has no changelog topic, works as a table, and is read-only to other processors", () => {
    const b = new TopologyBuilder("src");
    const users = b.table("users", { key: s, value: s, store: "users", sourceChangelog: true });
    b.stream("clicks", { key: s, value: s })
      .join("click-user", users, (click, user) => `${click}@${user}`)
      .to("enriched", { key: s, value: s });
    b.stream("evil", { key: s, value: s })
      .process(
        "writer",
        (ctx) => {
          const store = ctx.keyValueStore<string, string>("users");
          return map((r) => (store.put(r.key, r.value), { key: r.key, value: r.value }));
        },
        { stores: ["users"] },
      )
      .to("evil-out", { key: s, value: s });
    const t = b.build();
    expect(t.internalTopics.map((x) => x.name)).not.toContain("src-users-changelog");
    expect(t.stores.get("users")?.sourceTopic).toBe("users");
    const d = new TopologyTestDriver(t);
    d.pipeInput("users", [{ key: "u1", value: "oslo" }]);
    d.pipeInput("clicks", [{ key: "u1", value: "c1" }]);
    expect(d.readOutput("enriched").map((r) => r.value)).toEqual(["c1@oslo"]);
    // Another processor's write is a programming error that fails the task: the restore would not know it.
    expect(() => d.pipeInput("evil", [{ key: "u1", value: "rome" }])).toThrow(/read-only here/);
    expect(d.keyValueStore<string, string>("users").get("u1")).toBe("oslo");
    d.close();
  });
});

describe("event time from a field (builder.stream's timestamp option)", () => {
  it("stamps records with the field; an unusable value dead-letters the record with the reason", () => {
    const b = new TopologyBuilder("ts");
    b.stream("events", {
      key: s,
      value: Serdes.json<{ at: unknown }>(),
      timestamp: (r) => r.value.at as number,
    })
      .groupByKey("by-key")
      .count("events-per-key")
      .toStream("counts")
      .to("counts", { key: s, value: Serdes.json<number | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: 1_000_000 });
    d.pipeInput("events", [
      { key: "a", value: { at: 500 }, timestamp: 1 },
      { key: "a", value: { at: "noon" }, timestamp: 2 },
      { key: "a", value: { at: 700 }, timestamp: 3 },
    ]);
    expect(d.readOutput<string, number>("counts").map((r) => [r.value, r.timestamp])).toEqual([
      [1, 500],
      [2, 700],
    ]);
    const [letter] = d.deadLetters();
    expect(letter?.headers["weir.error.class"]).toBe("InvalidTimestampError");
    expect(letter?.headers["weir.error.message"]).toMatch(/invalid timestamp noon/);
    d.close();
  });
});
