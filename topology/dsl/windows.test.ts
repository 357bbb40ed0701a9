/**
 * Windowed aggregation, from Kafka Streams' documented semantics: windows [start, start + size) aligned to the
 * epoch; hopping windows overlap; a record for a window whose end + grace is at or behind stream time is dropped
 * and counted; with emit "onWindowClose", exactly one final result per window, none before it closes, none for
 * records past grace.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openLmdbState, type WindowStore } from "../../state/index.js";
import { Serdes, TimeWindows, TopologyBuilder, TopologyTestDriver, type EmitStrategy } from "../index.js";

const s = Serdes.string();
const WALL = 10_000_000;

function windowedCount(windows: TimeWindows, emit: EmitStrategy = "onUpdate") {
  const b = new TopologyBuilder("app");
  b.stream("in", { key: s, value: s })
    .groupByKey("by-key")
    .windowedBy(windows)
    .count("counts", { emit })
    .toStream("updates")
    .map("flat", (r) => ({ key: `${r.key.key}@${r.key.start}-${r.key.end}`, value: r.value }))
    .to("out", { key: s, value: Serdes.json<number | null>() });
  return b.build();
}

const pipe = (d: TopologyTestDriver, records: Array<[string, number]>) =>
  d.pipeInput(
    "in",
    records.map(([key, timestamp]) => ({ key, value: "v", timestamp })),
  );
const out = (d: TopologyTestDriver) =>
  d.readOutput<string, number>("out").map((r) => [r.key, r.value, r.timestamp] as const);

describe("TimeWindows", () => {
  it("assigns a record to every window with start ≤ t < start + size (tumbling and hopping)", () => {
    const tumbling = TimeWindows.ofSizeWithNoGrace(10);
    expect(tumbling.windowsFor(0)).toEqual([0]);
    expect(tumbling.windowsFor(9)).toEqual([0]);
    expect(tumbling.windowsFor(10)).toEqual([10]);
    const hopping = TimeWindows.ofSizeAndGrace(10, 0).advanceBy(5);
    expect(hopping.windowsFor(3)).toEqual([0]);
    expect(hopping.windowsFor(7)).toEqual([0, 5]);
    expect(hopping.windowsFor(10)).toEqual([5, 10]);
    expect(() => TimeWindows.ofSizeWithNoGrace(0)).toThrow(/positive/);
    expect(() => TimeWindows.ofSizeAndGrace(10, -1)).toThrow(/grace/);
    expect(() => TimeWindows.ofSizeWithNoGrace(10).advanceBy(11)).toThrow(/exceed/);
  });
});

describe("windowed count, emit on update", () => {
  it("tumbling: the end is exclusive; each update is forwarded", () => {
    const d = new TopologyTestDriver(windowedCount(TimeWindows.ofSizeAndGrace(10, 100)), {
      wallClockMs: WALL,
    });
    pipe(d, [
      ["a", 0],
      ["a", 9],
      ["a", 10],
      ["b", 5],
    ]);
    expect(out(d)).toEqual([
      ["a@0-10", 1, 0],
      ["a@0-10", 2, 9],
      ["a@10-20", 1, 10],
      ["b@0-10", 1, 5],
    ]);
    expect(d.windowStore<string, number>("counts").get("a", 0)).toBe(2);
    d.close();
  });

  it("windows past retention (size + grace) are deleted from the store, with changelog tombstones", () => {
    const d = new TopologyTestDriver(windowedCount(TimeWindows.ofSizeWithNoGrace(10)), { wallClockMs: WALL });
    pipe(d, [
      ["a", 0],
      ["b", 3],
      ["a", 15], // stream time 15: windows starting before 5 are past retention
    ]);
    expect(d.windowStore<string, number>("counts").approximateCount()).toBe(1);
    const tombstones = d.records("app-counts-changelog").filter((r) => r.value === null);
    expect(tombstones).toHaveLength(2);
    d.close();
  });

  it("hopping: a record counts in each window it falls in", () => {
    const d = new TopologyTestDriver(windowedCount(TimeWindows.ofSizeAndGrace(10, 100).advanceBy(5)), {
      wallClockMs: WALL,
    });
    pipe(d, [
      ["a", 7],
      ["a", 12],
    ]);
    expect(out(d)).toEqual([
      ["a@0-10", 1, 7],
      ["a@5-15", 1, 7],
      ["a@5-15", 2, 12],
      ["a@10-20", 1, 12],
    ]);
    d.close();
  });

  it("grace: an out-of-order record is counted until its window's end + grace; then dropped and counted", () => {
    const d = new TopologyTestDriver(windowedCount(TimeWindows.ofSizeAndGrace(10, 5)), { wallClockMs: WALL });
    pipe(d, [
      ["a", 3],
      ["a", 14], // stream time 14: window [0,10) closes at 15
      ["a", 4], // in grace: counted
      ["a", 15], // stream time 15: [0,10) closed
      ["a", 5], // too late: dropped
    ]);
    expect(out(d)).toEqual([
      ["a@0-10", 1, 3],
      ["a@10-20", 1, 14],
      ["a@0-10", 2, 4],
      ["a@10-20", 2, 15],
    ]);
    expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "counts" }]);
    d.close();
  });
});

describe("dropped records to the dead-letter topic", () => {
  it("with droppedRecords: dead-letter, a record too late for its window is dead-lettered with weir.drop.reason", () => {
    const d = new TopologyTestDriver(windowedCount(TimeWindows.ofSizeWithNoGrace(10)), {
      wallClockMs: WALL,
      droppedRecords: "dead-letter",
    });
    pipe(d, [
      ["a", 25],
      ["a", 3], // window [0,10) closed at 10
    ]);
    const [letter, ...more] = d.deadLetters();
    expect(more).toEqual([]);
    expect(letter?.headers).toMatchObject({
      "weir.error.class": "DroppedRecordError",
      "weir.drop.reason": "expired-window",
      "weir.error.node": "counts",
      "weir.source.offset": "1",
    });
    expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "counts" }]);
    d.close();
  });

  it("a record two branches drop is dead-lettered once (counted by each)", () => {
    const b = new TopologyBuilder("app");
    const grouped = b.stream("in", { key: s, value: s }).groupByKey("by-key");
    for (const name of ["c1", "c2"])
      grouped
        .windowedBy(TimeWindows.ofSizeWithNoGrace(10))
        .count(name)
        .toStream(`${name}-out`)
        .foreach(`${name}-sink`, () => {});
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL, droppedRecords: "dead-letter" });
    pipe(d, [
      ["a", 25],
      ["a", 3],
    ]);
    expect(d.deadLetters()).toHaveLength(1);
    expect(d.droppedRecords().map((r) => r.node)).toEqual(["c1", "c2"]);
    d.close();
  });
});

describe("windowed count, emit on window close", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("one final result per window when stream time passes end + grace; nothing before; late records dropped", () => {
    const d = new TopologyTestDriver(windowedCount(TimeWindows.ofSizeAndGrace(10, 5), "onWindowClose"), {
      wallClockMs: WALL,
    });
    pipe(d, [
      ["a", 1],
      ["a", 2],
      ["b", 8],
      ["a", 12],
      ["a", 14],
    ]);
    expect(out(d)).toEqual([]);
    pipe(d, [["c", 15]]); // stream time 15 = end 10 + grace 5: [0,10) closes
    expect(out(d)).toEqual([
      ["a@0-10", 2, 9],
      ["b@0-10", 1, 9],
    ]);
    pipe(d, [["a", 9]]); // for a closed window: dropped, nothing emitted again
    expect(out(d)).toEqual([]);
    expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "counts" }]);
    expect(d.windowStore<string, number>("counts").get("a", 0)).toBeUndefined();
    pipe(d, [["z", 100]]); // a jump closes [10,20) for a and c at once
    expect(out(d)).toEqual([
      ["a@10-20", 2, 19],
      ["c@10-20", 1, 19],
    ]);
    d.close();
  });

  it("looks for closed windows only when stream time crosses a window boundary, not on every record", () => {
    const d = new TopologyTestDriver(windowedCount(TimeWindows.ofSizeWithNoGrace(100), "onWindowClose"), {
      wallClockMs: WALL,
    });
    // fetchAll reads the whole store: once per record it made the close check O(records × store size).
    const fetchAll = vi.spyOn(
      Object.getPrototypeOf(d.windowStore("counts")) as WindowStore<string, number>,
      "fetchAll",
    );
    try {
      pipe(
        d,
        Array.from({ length: 1000 }, (_, t) => [`k${t % 7}`, t] as [string, number]),
      );
      // Stream time 999 crossed 9 window ends (100, 200, ..., 900); the first check after a start scans once more.
      expect(fetchAll.mock.calls.length).toBeLessThanOrEqual(10);
      const results = out(d);
      expect(results).toHaveLength(9 * 7); // windows [0,100) .. [800,900), 7 keys each
      expect(results.every(([, count]) => count === 14 || count === 15)).toBe(true);
    } finally {
      fetchAll.mockRestore();
      d.close();
    }
  });

  it("closeIdleAfterMs: a quiet task closes its windows on wall-clock time; a record for one then goes to the DLQ as late", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .groupByKey("by-key")
      .windowedBy(TimeWindows.ofSizeWithNoGrace(10))
      .count("counts", { emit: "onWindowClose", closeIdleAfterMs: 5_000 })
      .toStream("updates")
      .map("flat", (r) => ({ key: `${r.key.key}@${r.key.start}-${r.key.end}`, value: r.value }))
      .to("out", { key: s, value: Serdes.json<number | null>() });
    const d = new TopologyTestDriver(b.build(), { wallClockMs: WALL });
    pipe(d, [
      ["a", 1],
      ["b", 12],
    ]);
    d.advanceWallClock(4_000);
    expect(out(d)).toEqual([["a@0-10", 1, 9]]); // closed by stream time (12 ≥ 10)
    d.advanceWallClock(1_000); // five seconds without a record
    expect(out(d)).toEqual([["b@10-20", 1, 19]]);
    pipe(d, [["a", 15]]); // for [10,20), closed by the idle close
    expect(out(d)).toEqual([]);
    const [letter] = d.deadLetters();
    expect(letter?.headers).toMatchObject({
      "weir.drop.reason": "late",
      "weir.error.class": "DroppedRecordError",
    });
    pipe(d, [["a", 25]]);
    d.advanceWallClock(5_000);
    expect(out(d)).toEqual([["a@20-30", 1, 29]]);
    expect(() =>
      new TopologyBuilder("x")
        .stream("in", { key: s, value: s })
        .groupByKey("g")
        .windowedBy(TimeWindows.ofSizeWithNoGrace(10))
        .count("c", { closeIdleAfterMs: 5 }),
    ).toThrow(/closeIdleAfterMs needs emit/);
    d.close();
  });

  it("a window emitted before a restart is not emitted again after it", () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-windows-"));
    dirs.push(dir);
    const topology = windowedCount(TimeWindows.ofSizeWithNoGrace(10), "onWindowClose");
    const first = new TopologyTestDriver(topology, {
      wallClockMs: WALL,
      state: openLmdbState({ path: dir }),
    });
    pipe(first, [
      ["a", 1],
      ["a", 11], // closes [0,10)
    ]);
    expect(out(first)).toEqual([["a@0-10", 1, 9]]);
    first.close();
    const second = new TopologyTestDriver(topology, {
      wallClockMs: WALL,
      state: openLmdbState({ path: dir }),
    });
    pipe(second, [
      ["a", 12],
      ["a", 25], // closes [10,20) only
    ]);
    expect(out(second)).toEqual([["a@10-20", 2, 19]]);
    second.close();
  });
});
