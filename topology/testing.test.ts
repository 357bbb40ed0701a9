/**
 * weir/testing's processor harness: a processor factory run against MockProcessorContext, as Kafka Streams'
 * MockProcessorContext tests a single Processor.
 */
import { filter, map, merge, mergeMap } from "rxjs";
import { describe, expect, it } from "vitest";
import { Serdes, Stores, type ProcessorFactory } from "./index.js";
import { MockProcessorContext, ProcessorTester } from "./testing.js";

const countClicks: ProcessorFactory<string, string, string, number> = (ctx) => {
  const counts = ctx.keyValueStore<string, number>("clicks");
  return map((r) => {
    const n = (counts.get(r.key) ?? 0) + 1;
    counts.put(r.key, n);
    ctx.counter("clicks_total", "clicks").inc({ page: r.value });
    return { key: r.key, value: n };
  });
};
const clicksStore = { clicks: Stores.keyValue(Serdes.string(), Serdes.number()) };

describe("ProcessorTester", () => {
  it("returns what the processor emitted for each record and keeps state in its declared store", () => {
    const tester = new ProcessorTester(countClicks, { stores: clicksStore });
    expect(tester.pipe("a", "home")).toEqual([{ key: "a", value: 1 }]);
    expect(tester.pipe("b", "home")).toEqual([{ key: "b", value: 1 }]);
    expect(tester.pipe("a", "cart")).toEqual([{ key: "a", value: 2 }]);
    expect(tester.context.keyValueStore<string, number>("clicks").get("a")).toBe(2);
    expect(tester.context.counterValue("clicks_total", { page: "home" })).toBe(2);
    expect(tester.context.counterValue("clicks_total", { page: "cart" })).toBe(1);
    expect(tester.context.counterValue("clicks_total", { page: "nope" })).toBe(0);
    tester.close();
  });

  it("a store the processor did not declare is a clear error naming the declared ones", () => {
    const tester = new ProcessorTester(
      (ctx) =>
        map((r: { key: string; value: string }) => ({
          key: r.key,
          value: ctx.keyValueStore("other").get(r.key),
        })),
      { stores: clicksStore },
    );
    expect(() => tester.pipe("a", "x")).toThrow(/store 'other' is not declared.*declared: clicks/);
    expect(() => tester.pipe("a", "x")).toThrow(/failed earlier/);
  });

  it("sets the current record and stream time as the runtime does; filters and fan-outs return 0 or n outputs", () => {
    const seen: Array<{ offset: number; streamTime: number; timestamp: number }> = [];
    const tester = new ProcessorTester<string, string, string, string>(
      (ctx) => (records) =>
        records.pipe(
          filter((r) => r.value !== ""),
          mergeMap((r) => {
            seen.push({
              offset: ctx.currentRecord()!.offset,
              streamTime: ctx.streamTime(),
              timestamp: r.timestamp,
            });
            return r.value.split(" ").map((w) => ({ key: w, value: r.key }));
          }),
        ),
    );
    expect(tester.pipe("k", "", { timestamp: 5 })).toEqual([]);
    expect(tester.pipe("k", "x y z", { timestamp: 10 })).toHaveLength(3);
    expect(tester.pipe("k", "late", { timestamp: 3 })).toEqual([{ key: "late", value: "k" }]);
    expect(seen).toEqual([
      { offset: 1, streamTime: 10, timestamp: 10 },
      { offset: 2, streamTime: 10, timestamp: 3 }, // a late record does not move stream time back
    ]);
    expect(tester.context.currentRecord()).toBeUndefined();
  });

  it("fires stream-time punctuators after the record that made them due, wall-clock ones when the clock moves", () => {
    const tester = new ProcessorTester<string, number, string, number>(
      (ctx) => (records) =>
        merge(
          records.pipe(map((r) => ({ key: r.key, value: r.value }))),
          ctx.punctuate("stream-time", 100).pipe(map((t) => ({ key: "stream-tick", value: t }))),
          ctx.punctuate("wall-clock", 1000).pipe(map((t) => ({ key: "wall-tick", value: t }))),
        ),
      { wallClockMs: 0 },
    );
    expect(tester.pipe("a", 1, { timestamp: 50 })).toEqual([{ key: "a", value: 1 }]); // schedule starts at 50
    expect(tester.pipe("a", 2, { timestamp: 120 })).toEqual([{ key: "a", value: 2 }]); // 70 < 100
    expect(tester.pipe("a", 3, { timestamp: 150 })).toEqual([
      { key: "a", value: 3 },
      { key: "stream-tick", value: 150 },
    ]);
    expect(tester.advanceWallClock(999)).toEqual([]);
    expect(tester.advanceWallClock(1)).toEqual([{ key: "wall-tick", value: 1000 }]);
    expect(() => tester.advanceWallClock(-1)).toThrow(/not a duration/);
  });

  it("records dropped records with the input that was dropped", () => {
    const tester = new ProcessorTester<string, number, string, number>((ctx) =>
      filter((r) => {
        if (r.value >= 0) return true;
        ctx.dropped("negative");
        return false;
      }),
    );
    tester.pipe("a", 1);
    tester.pipe("b", -1);
    expect(tester.context.droppedRecords.map((d) => [d.reason, d.record?.key])).toEqual([["negative", "b"]]);
  });

  it("an error inside the operator is thrown from the pipe that caused it", () => {
    const tester = new ProcessorTester<string, string, string, number>(() =>
      map((r) => {
        if (r.value === "boom") throw new Error("bad value");
        return { key: r.key, value: 1 };
      }),
    );
    expect(tester.pipe("a", "ok")).toHaveLength(1);
    expect(() => tester.pipe("a", "boom")).toThrow("bad value");
  });

  it("a window store is opened from its definition", () => {
    const ctx = new MockProcessorContext({
      stores: { w: Stores.window(Serdes.string(), Serdes.number(), { retentionMs: 60_000 }) },
    });
    expect(() => ctx.keyValueStore("w")).toThrow(/is a window store/);
    const store = ctx.windowStore<string, number>("w");
    store.put("k", 1, 0);
    expect(store.get("k", 0)).toBe(1);
    expect([...store.fetch("k", 0, 10)].map((e) => e.value)).toEqual([1]);
  });
});
