/**
 * Session windows, from Kafka Streams' documented semantics: records of a key at most the inactivity gap apart
 * (inclusive) form one session [first, last]; a record between two sessions merges them (the merger combines their
 * aggregates); a merged session is deleted downstream; late records are dropped; with emit onWindowClose, one final
 * value per session once no record can extend it.
 */
import { describe, expect, it } from "vitest";
import { Serdes, SessionWindows, TopologyBuilder, TopologyTestDriver, type EmitStrategy } from "../index.js";

const s = Serdes.string();
const WALL = 10_000_000;

function sessionCount(windows: SessionWindows, emit: EmitStrategy = "onUpdate") {
  const b = new TopologyBuilder("app");
  b.stream("in", { key: s, value: s })
    .groupByKey("by-key")
    .windowedBy(windows)
    .count("sessions", { emit })
    .toStream("updates")
    .map("flat", (r) => ({ key: `${r.key.key}[${r.key.start},${r.key.end}]`, value: r.value }))
    .to("out", { key: s, value: Serdes.json<number | null>() });
  return b.build();
}

const run = (d: TopologyTestDriver, records: Array<[string, number]>) => {
  d.pipeInput(
    "in",
    records.map(([key, timestamp]) => ({ key, value: "v", timestamp })),
  );
  return d.readOutput<string, number | null>("out").map((r) => [r.key, r.value]);
};

describe("session windows", () => {
  it("records within the gap (inclusive) extend a session; a merged session is replaced downstream", () => {
    const d = new TopologyTestDriver(sessionCount(SessionWindows.ofInactivityGapAndGrace(10, 100)), {
      wallClockMs: WALL,
    });
    expect(
      run(d, [
        ["a", 0],
        ["a", 10], // exactly the gap: same session
        ["b", 5],
      ]),
    ).toEqual([
      ["a[0,0]", 1],
      ["a[0,0]", null],
      ["a[0,10]", 2],
      ["b[5,5]", 1],
    ]);
    expect(run(d, [["a", 21]])).toEqual([["a[21,21]", 1]]); // 11 after: a new session
    // 15 is within 10 of both: the two sessions and the record become one.
    expect(run(d, [["a", 15]])).toEqual([
      ["a[0,10]", null],
      ["a[21,21]", null],
      ["a[0,21]", 4],
    ]);
    d.close();
  });

  it("a record whose session would end before stream time − grace is dropped and counted", () => {
    const d = new TopologyTestDriver(sessionCount(SessionWindows.ofInactivityGapAndGrace(10, 5)), {
      wallClockMs: WALL,
    });
    run(d, [
      ["a", 0],
      ["b", 100],
    ]);
    // Stream time 100, grace 5: a session ending at 94 is closed, one ending at 95 is not.
    expect(run(d, [["a", 94]])).toEqual([]);
    expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "sessions" }]);
    expect(run(d, [["a", 95]])).toEqual([["a[95,95]", 1]]);
    d.close();
  });

  it("emit onWindowClose: each session once, when stream time passes its end + gap + grace", () => {
    const d = new TopologyTestDriver(
      sessionCount(SessionWindows.ofInactivityGapWithNoGrace(10), "onWindowClose"),
      {
        wallClockMs: WALL,
      },
    );
    expect(
      run(d, [
        ["a", 0],
        ["a", 4],
        ["b", 8],
        ["c", 14], // a's session [0,4] can still be extended by a record at ≤ 14
      ]),
    ).toEqual([]);
    expect(run(d, [["c", 15]])).toEqual([["a[0,4]", 2]]);
    expect(run(d, [["c", 40]])).toEqual([
      ["b[8,8]", 1],
      ["c[14,15]", 2],
    ]);
    d.close();
  });
});
