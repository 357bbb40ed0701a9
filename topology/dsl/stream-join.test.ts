/**
 * Windowed stream–stream joins, from Kafka Streams' documented semantics: records of a key join when at most the
 * window apart, whichever side comes first; the output is stamped with the later of the two times; a left/outer
 * join emits an unmatched record with null only once no partner can come (never early, since Kafka Streams 3.1);
 * records past their window + grace are dropped and counted.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openLmdbState } from "../../state/index.js";
import { JoinWindows, Serdes, TopologyBuilder, TopologyTestDriver } from "../index.js";

const s = Serdes.string();
const WALL = 10_000_000;
type Kind = "join" | "leftJoin" | "outerJoin";

function joined(kind: Kind, windows: JoinWindows) {
  const b = new TopologyBuilder("app");
  const left = b.stream("left", { key: s, value: s });
  const right = b.stream("right", { key: s, value: s });
  const joiner = (l: string | null, r: string | null) => `${l ?? "null"}+${r ?? "null"}`;
  (kind === "join"
    ? left.join("j", right, joiner, windows)
    : kind === "leftJoin"
      ? left.leftJoin("j", right, joiner, windows)
      : left.outerJoin("j", right, joiner, windows)
  ).to("out", { key: s, value: s });
  return b.build();
}

function run(d: TopologyTestDriver, steps: Array<["left" | "right", string, string, number]>) {
  for (const [side, key, value, timestamp] of steps) d.pipeInput(side, [{ key, value, timestamp }]);
  return d.readOutput<string, string>("out").map((r) => [r.key, r.value, r.timestamp]);
}

describe("KStream-KStream join", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("inner: either side first, within the time difference, stamped with the later time", () => {
    const d = new TopologyTestDriver(joined("join", JoinWindows.ofTimeDifferenceAndGrace(10, 100)), {
      wallClockMs: WALL,
    });
    expect(
      run(d, [
        ["left", "k", "A", 10],
        ["right", "k", "a", 20], // 10 apart: joins
        ["right", "k", "b", 21], // 11 apart from A: no
        ["left", "k", "B", 15], // joins a (5) and b (6)
        ["right", "x", "c", 15], // another key: nothing
        ["left", "k", "C", 20], // joins a, b; A is 10 before but A is left
      ]),
    ).toEqual([
      ["k", "A+a", 20],
      ["k", "B+a", 20],
      ["k", "B+b", 21],
      ["k", "C+a", 20],
      ["k", "C+b", 21],
    ]);
    d.close();
  });

  it("before and after bound the right record's time relative to the left one", () => {
    const windows = JoinWindows.ofTimeDifferenceAndGrace(0, 100).before(2).after(5);
    const d = new TopologyTestDriver(joined("join", windows), { wallClockMs: WALL });
    expect(
      run(d, [
        ["left", "k", "L", 10],
        ["right", "k", "early", 8], // 2 before: joins
        ["right", "k", "tooEarly", 7], // 3 before: no
        ["right", "k", "late", 15], // 5 after: joins
        ["right", "k", "tooLate", 16], // 6 after: no
      ]),
    ).toEqual([
      ["k", "L+early", 10],
      ["k", "L+late", 15],
    ]);
    d.close();
  });

  it("records of one side with the same key and time are all kept and all join", () => {
    const d = new TopologyTestDriver(joined("join", JoinWindows.ofTimeDifferenceWithNoGrace(5)), {
      wallClockMs: WALL,
    });
    expect(
      run(d, [
        ["left", "k", "A1", 10],
        ["left", "k", "A2", 10],
        ["right", "k", "a", 12],
      ]),
    ).toEqual([
      ["k", "A1+a", 12],
      ["k", "A2+a", 12],
    ]);
    d.close();
  });

  it("left: an unmatched record is joined with null only after no partner can come; a matched one never", () => {
    // A left record at t has partners in [t−5, t+5]; with grace 0 the last one is accepted while stream time ≤ t+10.
    const d = new TopologyTestDriver(joined("leftJoin", JoinWindows.ofTimeDifferenceWithNoGrace(5)), {
      wallClockMs: WALL,
    });
    expect(
      run(d, [
        ["left", "k", "A", 10],
        ["left", "m", "M", 11],
        ["right", "m", "m", 14], // M matched
        ["right", "z", "z", 20], // stream time 20: A's window still open
      ]),
    ).toEqual([["m", "M+m", 14]]);
    expect(run(d, [["right", "z", "z2", 21]])).toEqual([["k", "A+null", 10]]);
    // M matched: never emitted with null, however far stream time goes.
    expect(run(d, [["right", "z", "z3", 100]])).toEqual([]);
    d.close();
  });

  it("outer: unmatched records of both sides are joined with null when their windows close", () => {
    const d = new TopologyTestDriver(joined("outerJoin", JoinWindows.ofTimeDifferenceWithNoGrace(5)), {
      wallClockMs: WALL,
    });
    expect(
      run(d, [
        ["left", "k", "A", 10],
        ["right", "r", "R", 12],
        ["right", "k", "a", 30], // too far from A
        ["left", "q", "Q", 40], // stream time 40: A and R closed; a closed at 40 > 30+10? no: 40 = 40, still open
      ]),
    ).toEqual([
      ["k", "A+null", 10],
      ["r", "null+R", 12],
    ]);
    expect(run(d, [["left", "q", "Q2", 41]])).toEqual([["k", "null+a", 30]]);
    d.close();
  });

  it("null keys and values: inner drops both; left/outer pass a null-key record on with null at once", () => {
    for (const kind of ["join", "leftJoin", "outerJoin"] as const) {
      const d = new TopologyTestDriver(joined(kind, JoinWindows.ofTimeDifferenceWithNoGrace(5)), {
        wallClockMs: WALL,
      });
      d.pipeInput<string | null, string | null>("left", [
        { key: null, value: "A", timestamp: 10 },
        { key: "k", value: null, timestamp: 11 },
      ]);
      d.pipeInput<string | null, string>("right", [{ key: null, value: "a", timestamp: 12 }]);
      const out = d.readOutput<string | null, string>("out").map((r) => [r.key, r.value]);
      expect(out, kind).toEqual(
        kind === "join"
          ? []
          : kind === "leftJoin"
            ? [[null, "A+null"]]
            : [
                [null, "A+null"],
                [null, "null+a"],
              ],
      );
      expect(
        d.droppedRecords().map((r) => r.reason),
        kind,
      ).toEqual(
        kind === "join"
          ? ["null-key", "null-value", "null-key"]
          : kind === "leftJoin"
            ? ["null-value", "null-key"]
            : ["null-value"],
      );
      d.close();
    }
  });

  it("a record whose window has closed is dropped and counted", () => {
    const d = new TopologyTestDriver(joined("join", JoinWindows.ofTimeDifferenceAndGrace(5, 3)), {
      wallClockMs: WALL,
    });
    run(d, [
      ["left", "k", "A", 100],
      ["right", "k", "late", 91], // 91 + 5 + 3 = 99 < 100: dropped
      ["right", "k", "ok", 92], // 92 + 8 = 100: accepted, but 8 from A: no join
    ]);
    expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "j-other" }]);
    d.close();
  });

  it("an unmatched record emitted before a restart is not emitted again after it", () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-join-"));
    dirs.push(dir);
    const topology = joined("leftJoin", JoinWindows.ofTimeDifferenceWithNoGrace(5));
    const first = new TopologyTestDriver(topology, {
      wallClockMs: WALL,
      state: openLmdbState({ path: dir }),
    });
    expect(
      run(first, [
        ["left", "k", "A", 10],
        ["left", "k", "B", 30], // closes A's window (30 > 20)
      ]),
    ).toEqual([["k", "A+null", 10]]);
    first.close();
    const second = new TopologyTestDriver(topology, {
      wallClockMs: WALL,
      state: openLmdbState({ path: dir }),
    });
    expect(
      run(second, [
        ["right", "k", "b", 33], // B matched
        ["left", "x", "X", 60], // closes everything
      ]),
    ).toEqual([["k", "B+b", 33]]);
    second.close();
  });

  it("a record whose partner never came is counted (no-partner) when its window closes, on the sides not joined with null", () => {
    const inner = new TopologyTestDriver(joined("join", JoinWindows.ofTimeDifferenceWithNoGrace(5)), {
      wallClockMs: WALL,
    });
    run(inner, [
      ["left", "k", "A", 10],
      ["right", "k", "a", 12], // A and a matched: never counted
      ["right", "x", "b", 20],
      ["left", "y", "B", 21],
    ]);
    expect(inner.droppedRecords()).toEqual([]); // nothing closed yet: 20 and 21 may still get partners
    run(inner, [["left", "z", "C", 40]]); // stream time 40 closes b (20 + 10 < 40) and B
    const byNode = [...inner.droppedRecords()].sort((a, b) => a.node.localeCompare(b.node));
    expect(byNode).toEqual([
      { reason: "no-partner", node: "j-other" },
      { reason: "no-partner", node: "j-this" },
    ]);
    inner.close();
    // A left join joins its left records with null and counts only the right ones.
    const left = new TopologyTestDriver(joined("leftJoin", JoinWindows.ofTimeDifferenceWithNoGrace(5)), {
      wallClockMs: WALL,
    });
    expect(
      run(left, [
        ["right", "x", "b", 20],
        ["left", "y", "B", 21],
        ["left", "z", "C", 40],
      ]),
    ).toEqual([["y", "B+null", 21]]);
    expect(left.droppedRecords()).toEqual([{ reason: "no-partner", node: "j-other" }]);
    left.close();
  });

  describe("closeOnPartnerTime (weir's own mode)", () => {
    const W = 20;
    const GRACE = 5;
    const windows = () => JoinWindows.ofTimeDifferenceAndGrace(W, GRACE).closeOnPartnerTime(1000);
    const lefts: Array<["left", string, string, number]> = [
      ["left", "k1", "A", 10],
      ["left", "k2", "B", 100],
      ["left", "k3", "C", 200],
    ];
    const rights: Array<["right", string, string, number]> = [
      ["right", "k1", "a", 15],
      ["right", "k2", "b", 130], // 30 after B: outside the window
      ["right", "k3", "c", 205],
      ["right", "k9", "tick", 400],
    ];
    const interleavings = {
      "left first": [...lefts, ...rights],
      "right first": [...rights, ...lefts],
      alternating: [lefts[0]!, rights[0]!, lefts[1]!, rights[1]!, lefts[2]!, rights[2]!, rights[3]!],
    };
    const sorted = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();

    it("gives the same results however the two inputs interleave (Kafka Streams' stream time does not)", () => {
      for (const [name, steps] of Object.entries(interleavings)) {
        const d = new TopologyTestDriver(joined("leftJoin", windows()), { wallClockMs: WALL });
        expect(sorted(run(d, steps)), name).toEqual(
          sorted([
            ["k1", "A+a", 15],
            ["k2", "B+null", 100],
            ["k3", "C+c", 205],
          ]),
        );
        d.close();
      }
      // The same join on stream time, lefts read first: C moves stream time to 200, A is emitted alone and a is
      // dropped as late. That is the dependence on interleaving this mode removes.
      const ks = new TopologyTestDriver(joined("leftJoin", JoinWindows.ofTimeDifferenceAndGrace(W, GRACE)), {
        wallClockMs: WALL,
      });
      expect(run(ks, interleavings["left first"])).toContainEqual(["k1", "A+null", 10]);
      ks.close();
    });

    it("a record whose window the partner side has passed joins buffered partners, and is alone at once without one", () => {
      const d = new TopologyTestDriver(joined("leftJoin", windows()), { wallClockMs: WALL });
      expect(
        run(d, [
          ["right", "k1", "a", 15],
          ["right", "k9", "tick", 400],
          ["left", "k1", "A", 10], // a is buffered: joins, not late
          ["left", "k2", "B", 100], // 100 + 20 + 5 < 400: no partner can come
        ]),
      ).toEqual([
        ["k1", "A+a", 15],
        ["k2", "B+null", 100],
      ]);
      expect(d.droppedRecords()).toEqual([]);
      d.close();
    });

    it("an unmatched record is closed by the partner side's time passing its window end + grace, not by its own side", () => {
      const d = new TopologyTestDriver(joined("leftJoin", windows()), { wallClockMs: WALL });
      expect(
        run(d, [
          ["left", "k1", "A", 10],
          ["left", "k2", "Z", 1000], // the left side's own time moves far ahead: A still waits
          ["right", "k3", "x", 35], // 35 = 10 + 20 + 5: a partner at 30 could still come within grace
        ]),
      ).toEqual([]);
      expect(run(d, [["right", "k3", "y", 36]])).toEqual([["k1", "A+null", 10]]);
      d.close();
    });

    it("a record more than grace behind its own side's time is dropped and counted", () => {
      const d = new TopologyTestDriver(joined("leftJoin", windows()), { wallClockMs: WALL });
      run(d, [
        ["right", "k", "a", 100],
        ["right", "k", "b", 95], // 5 behind: accepted
        ["right", "k", "c", 94], // 6 behind: dropped
        ["left", "k", "A", 90],
      ]);
      expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "j-other" }]);
      d.close();
    });

    it("each side's time survives a restart", () => {
      const dir = mkdtempSync(join(tmpdir(), "weir-join-"));
      dirs.push(dir);
      const topology = joined("leftJoin", windows());
      const first = new TopologyTestDriver(topology, {
        wallClockMs: WALL,
        state: openLmdbState({ path: dir }),
      });
      expect(
        run(first, [
          ["left", "k1", "A", 10],
          ["right", "k9", "tick", 100],
        ]),
      ).toEqual([["k1", "A+null", 10]]);
      first.close();
      const second = new TopologyTestDriver(topology, {
        wallClockMs: WALL,
        state: openLmdbState({ path: dir }),
      });
      // The right side's time (100) is remembered: B's window (50 + 25) has passed, B is alone at once.
      expect(run(second, [["left", "k2", "B", 50]])).toEqual([["k2", "B+null", 50]]);
      second.close();
    });

    it("refuses a retention shorter than the window", () => {
      expect(() => JoinWindows.ofTimeDifferenceAndGrace(W, GRACE).closeOnPartnerTime(44)).toThrow(
        /join retention 44 must be at least before \+ after \+ grace \(45 ms\)/,
      );
    });
  });
});
