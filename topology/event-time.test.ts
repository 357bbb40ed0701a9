/**
 * Event time at the source: the timestamp extractor, and the guard that refuses negative, non-integer and
 * far-future timestamps before they can move stream time (dead-lettered, offset passed).
 */
import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_FUTURE_SKEW_MS, Stores, TopologyBuilder } from "./builder.js";
import { DeadLetterHeader } from "./dead-letter.js";
import { TopologyTestDriver } from "./driver.js";
import { Serdes } from "./serdes.js";

type Reading = { at: number; v: number };
const NOW = Date.UTC(2026, 10, 29);

function app(options: { maxFutureSkewMs?: number; extract?: boolean } = {}) {
  const b = new TopologyBuilder("t");
  b.stream("in", {
    key: Serdes.string(),
    value: Serdes.json<Reading>(),
    ...(options.extract === false ? {} : { timestampExtractor: (r: { value: Reading }) => r.value.at }),
    ...(options.maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs: options.maxFutureSkewMs }),
  })
    // Emits the record's event time and the task's stream time after it.
    .process("times", (ctx) => map((r) => ({ key: r.key, value: `${r.timestamp}/${ctx.streamTime()}` })))
    .to("out", { key: Serdes.string(), value: Serdes.string() });
  return new TopologyTestDriver(b.build(), { wallClockMs: NOW });
}

describe("event time at the source", () => {
  it("takes event time from the extractor", () => {
    const driver = app();
    driver.pipeInput("in", [{ key: "a", value: { at: NOW - 5000, v: 1 }, timestamp: NOW }]);
    const [out] = driver.readOutput("out");
    expect(out!.value).toBe(`${NOW - 5000}/${NOW - 5000}`);
    expect(out!.timestamp).toBe(NOW - 5000);
  });

  it("dead-letters far-future, negative and unextractable timestamps without moving stream time", () => {
    const driver = app();
    driver.pipeInput("in", [
      { key: "ok", value: { at: NOW - 1000, v: 1 }, timestamp: NOW },
      { key: "future", value: { at: NOW + DEFAULT_MAX_FUTURE_SKEW_MS + 1, v: 1 }, timestamp: NOW },
      { key: "negative", value: { at: -5, v: 1 }, timestamp: NOW },
      { key: "fraction", value: { at: 1.5, v: 1 }, timestamp: NOW },
      { key: "missing", value: { v: 1 } as Reading, timestamp: NOW },
      { key: "ok2", value: { at: NOW - 500, v: 1 }, timestamp: NOW },
    ]);
    expect(driver.readOutput("out").map((r) => [r.key, r.value])).toEqual([
      ["ok", `${NOW - 1000}/${NOW - 1000}`],
      ["ok2", `${NOW - 500}/${NOW - 500}`],
    ]);
    const letters = driver.deadLetters();
    expect(letters.map((l) => [l.key?.toString(), l.headers[DeadLetterHeader.errorClass]])).toEqual([
      ["future", "InvalidTimestampError"],
      ["negative", "InvalidTimestampError"],
      ["fraction", "InvalidTimestampError"],
      ["missing", "InvalidTimestampError"],
    ]);
    expect(letters[0]!.headers[DeadLetterHeader.errorMessage]).toMatch(/ahead of wall-clock time/);
    expect(letters.map((l) => l.headers[DeadLetterHeader.offset])).toEqual(["1", "2", "3", "4"]);
  });

  it("a skew bound of Infinity accepts any future timestamp", () => {
    const driver = app({ maxFutureSkewMs: Infinity });
    const far = Date.UTC(2100, 0, 1);
    driver.pipeInput("in", [{ key: "a", value: { at: far, v: 1 }, timestamp: NOW }]);
    expect(driver.readOutput("out").map((r) => r.value)).toEqual([`${far}/${far}`]);
    expect(driver.deadLetters()).toHaveLength(0);
  });

  it("guards the Kafka timestamp when there is no extractor", () => {
    const driver = app({ extract: false, maxFutureSkewMs: 1000 });
    driver.pipeInput("in", [
      { key: "a", value: { at: 0, v: 1 }, timestamp: NOW + 999 },
      { key: "b", value: { at: 0, v: 1 }, timestamp: NOW + 1001 },
    ]);
    expect(driver.readOutput("out").map((r) => r.key)).toEqual(["a"]);
    expect(driver.deadLetters().map((l) => l.key?.toString())).toEqual(["b"]);
  });

  it("refuses a bad bound when the topology is built", () => {
    const b = new TopologyBuilder("t");
    expect(() =>
      b.stream("in", { key: Serdes.string(), value: Serdes.string(), maxFutureSkewMs: -1 }),
    ).toThrow(/maxFutureSkewMs/);
  });
});

describe("window-store retention and dropped records", () => {
  /** Puts each value into a window store at the timestamp given in the value, and reports what it finds back. */
  function windowApp() {
    const b = new TopologyBuilder("w");
    b.store("win", Stores.window(Serdes.string(), Serdes.string(), { retentionMs: 10_000 }));
    b.stream("in", { key: Serdes.string(), value: Serdes.json<Reading>() })
      .process(
        "put-at",
        (ctx) => {
          const win = ctx.windowStore<string, string>("win");
          return map((r) => {
            win.put(r.key, String(r.value.v), r.value.at);
            return { key: r.key, value: win.get(r.key, r.value.at) ?? "absent" };
          });
        },
        { stores: ["win"] },
      )
      .to("out", { key: Serdes.string(), value: Serdes.string() });
    return new TopologyTestDriver(b.build(), { wallClockMs: NOW });
  }

  it("a put older than the retention behind stream time is dropped and counted against its node", () => {
    const driver = windowApp();
    driver.pipeInput("in", [
      { key: "a", value: { at: NOW - 1000, v: 1 }, timestamp: NOW - 1000 },
      { key: "late", value: { at: NOW - 20_000, v: 2 }, timestamp: NOW - 900 },
    ]);
    expect(driver.readOutput("out").map((r) => r.value)).toEqual(["1", "absent"]);
    expect(driver.droppedRecords()).toEqual([{ reason: "expired-window", node: "put-at" }]);
  });

  it("retention follows stream time, not a future timestamp a processor put", () => {
    const driver = windowApp();
    driver.pipeInput("in", [
      // The record's time is fine; the value's time is a year ahead: the store holds it ...
      { key: "poison", value: { at: NOW + 365 * 24 * 3600_000, v: 1 }, timestamp: NOW - 5000 },
      // ... and later puts at normal times are not "expired" because of it.
      { key: "b", value: { at: NOW - 4000, v: 2 }, timestamp: NOW - 4000 },
    ]);
    expect(driver.readOutput("out").map((r) => r.value)).toEqual(["1", "2"]);
    expect(driver.droppedRecords()).toEqual([]);
  });
});
