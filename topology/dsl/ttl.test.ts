import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openLmdbState } from "../../state/index.js";
import { Stores, TopologyBuilder } from "../builder.js";
import { TopologyError } from "../errors.js";
import { TopologyTestDriver } from "../driver.js";
import { Serdes } from "../serdes.js";

const s = Serdes.string();
const WALL = 10_000_000;
const TTL = 100;

function topology() {
  const b = new TopologyBuilder("app");
  b.stream("in", { key: s, value: s })
    .groupByKey("g", { key: s, value: s })
    .count("c", { ttlMs: TTL })
    .toStream("c-stream")
    .to("out", { key: s, value: Serdes.json<number | null>() });
  return b.build();
}

/** The changelog as [key, deleted?] pairs. */
const changelog = (d: TopologyTestDriver) =>
  d.records("app-c-changelog").map((r) => [r.key?.toString(), r.value === null ? "tombstone" : "put"]);

describe("key-value store with ttlMs, through an aggregation", () => {
  it("declares the store with its ttl", () => {
    expect(topology().stores.get("c")).toMatchObject({ kind: "key-value", ttlMs: TTL, changelog: true });
    expect(() => Stores.keyValue(s, s, { ttlMs: 0 })).toThrow(TopologyError);
    expect(() => Stores.keyValue(s, s, { ttlMs: 1.5 })).toThrow(TopologyError);
  });

  it("an entry not updated for ttlMs of stream time is deleted, with a changelog tombstone; one updated in time survives", () => {
    const d = new TopologyTestDriver(topology(), { wallClockMs: WALL });
    const store = d.keyValueStore<string, number>("c");
    d.pipeInput("in", [
      { key: "a", value: "1", timestamp: 1000 },
      { key: "b", value: "1", timestamp: 1050 },
      { key: "b", value: "2", timestamp: 1099 },
    ]);
    expect(store.get("a")).toBe(1);
    expect(store.get("b")).toBe(2);
    expect(changelog(d)).toEqual([
      ["a", "put"],
      ["b", "put"],
      ["b", "put"],
    ]);
    // Stream time reaches 1100: "a" (last written at 1000) is ttlMs old.
    d.pipeInput("in", [{ key: "x", value: "1", timestamp: 1100 }]);
    expect(store.get("a")).toBeUndefined();
    expect(store.get("b")).toBe(2);
    expect(changelog(d).slice(3)).toEqual([
      ["a", "tombstone"],
      ["x", "put"],
    ]);
    expect([...store.range()].map((e) => [e.key, e.value])).toEqual([
      ["b", 2],
      ["x", 1],
    ]);
    // "b" was updated at 1099: alive until stream time 1199.
    d.pipeInput("in", [{ key: "x", value: "2", timestamp: 1198 }]);
    expect(store.get("b")).toBe(2);
    d.pipeInput("in", [{ key: "x", value: "3", timestamp: 1199 }]);
    expect(store.get("b")).toBeUndefined();
    expect(store.get("x")).toBe(3);
    // An expired key starts afresh.
    d.pipeInput("in", [{ key: "a", value: "2", timestamp: 1200 }]);
    expect(store.get("a")).toBe(1);
    // An expired row goes downstream as a deletion, at the stream time that expired it, before the record that
    // moved stream time is processed.
    expect(d.readOutput("out").map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ["a", 1, 1000],
      ["b", 1, 1050],
      ["b", 2, 1099],
      ["a", null, 1100],
      ["x", 1, 1100],
      ["x", 2, 1198],
      ["b", null, 1199],
      ["x", 3, 1199],
      ["a", 1, 1200],
    ]);
    // Each expired entry is counted under its store's name.
    expect(d.droppedRecords()).toEqual([
      { reason: "ttl-expired", node: "c" },
      { reason: "ttl-expired", node: "c" },
    ]);
    d.close();
  });

  it("expiry follows stream time, not the wall clock; an out-of-order record does not move it", () => {
    const d = new TopologyTestDriver(topology(), { wallClockMs: WALL });
    const store = d.keyValueStore<string, number>("c");
    d.pipeInput("in", [{ key: "a", value: "1", timestamp: 1000 }]);
    d.advanceWallClock(24 * 3600 * 1000);
    expect(store.get("a")).toBe(1);
    expect(changelog(d)).toEqual([["a", "put"]]);
    d.pipeInput("in", [
      { key: "b", value: "1", timestamp: 1099 },
      { key: "c", value: "1", timestamp: 500 }, // late: stream time stays 1099
    ]);
    expect(store.get("a")).toBe(1);
    // "c" was written while stream time was 1099: it lives until 1199, not 600.
    d.pipeInput("in", [{ key: "d", value: "1", timestamp: 1100 }]);
    expect(store.get("a")).toBeUndefined();
    expect(store.get("c")).toBe(1);
    d.close();
  });

  describe("on LMDB", () => {
    const dirs: string[] = [];
    afterEach(() => {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    });

    it("a fresh driver over the same state sees the same contents, and expiry goes on", () => {
      const path = mkdtempSync(join(tmpdir(), "weir-ttl-"));
      dirs.push(path);
      const first = new TopologyTestDriver(topology(), { wallClockMs: WALL, state: openLmdbState({ path }) });
      first.pipeInput("in", [
        { key: "a", value: "1", timestamp: 1000 },
        { key: "b", value: "1", timestamp: 1050 },
        { key: "b", value: "2", timestamp: 1080 },
        { key: "c", value: "1", timestamp: 1120 },
      ]);
      const before = [...first.keyValueStore<string, number>("c").range()];
      expect(before).toEqual([
        { key: "b", value: 2 },
        { key: "c", value: 1 },
      ]);
      first.close();

      const second = new TopologyTestDriver(topology(), {
        wallClockMs: WALL,
        state: openLmdbState({ path }),
      });
      const store = second.keyValueStore<string, number>("c");
      expect([...store.range()]).toEqual(before);
      expect(store.get("a")).toBeUndefined();
      // Stream time 1185 in the new driver: "b" (written at 1080) expires, "c" (1120) does not.
      second.pipeInput("in", [{ key: "c", value: "2", timestamp: 1185 }]);
      expect([...store.range()]).toEqual([{ key: "c", value: 2 }]);
      expect(changelog(second)).toEqual([
        ["b", "tombstone"],
        ["c", "put"],
      ]);
      second.close();

      const third = new TopologyTestDriver(topology(), { wallClockMs: WALL, state: openLmdbState({ path }) });
      expect([...third.keyValueStore<string, number>("c").range()]).toEqual([{ key: "c", value: 2 }]);
      third.close();
    });
  });
});
