/**
 * Sliding windows, from Kafka Streams' documented semantics (SlidingWindows) and the scenarios of its
 * KStreamSlidingWindowAggregateTest: windows [t − d, t] defined by the records, both bounds inclusive; right windows
 * [t + 1, t + 1 + d] while records fall in them; out-of-order records within grace update and create windows; records
 * for closed windows are dropped and counted; with emit onWindowClose, exactly one final result per window, none
 * before stream time passes its end + grace. Aggregates concatenate values ("0+1+2"), as Kafka Streams' tests do, and
 * results are stamped with the window's largest record time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openLmdbState } from "../../state/index.js";
import {
  Serdes,
  SlidingWindows,
  TopologyBuilder,
  TopologyError,
  TopologyTestDriver,
  type EmitStrategy,
} from "../index.js";
import type { SlidingWindowValue } from "./sliding.js";

const s = Serdes.string();
const WALL = 10_000_000;

/** Values of key A (or `key:value` for another key) concatenated per window: "0+1+2". */
function concatenated(windows: SlidingWindows, emit: EmitStrategy = "onUpdate") {
  const b = new TopologyBuilder("app");
  b.stream("in", { key: s, value: s })
    .groupByKey("by-key")
    .windowedBy(windows)
    .aggregate("agg", { initializer: () => "0", aggregator: (_k, v, a) => `${a}+${v}` }, { value: s, emit })
    .toStream("updates")
    .map("flat", (r) => ({ key: `${r.key.key}[${r.key.start},${r.key.end}]`, value: r.value }))
    .to("out", { key: s, value: Serdes.json<string | null>() });
  return b.build();
}

function counted(windows: SlidingWindows, emit: EmitStrategy = "onUpdate") {
  const b = new TopologyBuilder("app");
  b.stream("in", { key: s, value: s })
    .groupByKey("by-key")
    .windowedBy(windows)
    .count("counts", { emit })
    .toStream("updates")
    .map("flat", (r) => ({ key: `${r.key.key}[${r.key.start},${r.key.end}]`, value: r.value }))
    .to("out", { key: s, value: Serdes.json<number | null>() });
  return b.build();
}

/** Pipe [value, time] records of key A (or [value, time, key]); return the outputs as "window value@time". */
function run(d: TopologyTestDriver, records: Array<[string, number] | [string, number, string]>): string[] {
  d.pipeInput(
    "in",
    records.map(([value, timestamp, key = "A"]) => ({ key, value, timestamp })),
  );
  return d.readOutput<string, unknown>("out").map((r) => `${r.key} ${String(r.value)}@${r.timestamp}`);
}

/** Outputs grouped by window, each window's updates in order (Kafka Streams' tests compare these by window start). */
function byWindow(lines: string[]): Record<string, string[]> {
  const grouped: Record<string, string[]> = {};
  for (const line of lines) {
    const [window, update] = line.split(" ") as [string, string];
    (grouped[window] ??= []).push(update);
  }
  return grouped;
}

const driver = (topology: ReturnType<typeof concatenated>) =>
  new TopologyTestDriver(topology, { wallClockMs: WALL });

describe("SlidingWindows", () => {
  it("takes a time difference (0 or more, as Kafka Streams) and a grace period (0 or more)", () => {
    const noGrace = SlidingWindows.ofTimeDifferenceWithNoGrace(123);
    expect([noGrace.timeDifferenceMs, noGrace.graceMs]).toEqual([123, 0]);
    const withGrace = SlidingWindows.ofTimeDifferenceAndGrace(10, 1024);
    expect([withGrace.timeDifferenceMs, withGrace.graceMs]).toEqual([10, 1024]);
    expect(SlidingWindows.ofTimeDifferenceWithNoGrace(0).timeDifferenceMs).toBe(0);
    expect(() => SlidingWindows.ofTimeDifferenceAndGrace(-1, 5)).toThrow(TopologyError);
    expect(() => SlidingWindows.ofTimeDifferenceWithNoGrace(-1)).toThrow(
      /time difference must be a non-negative/,
    );
    expect(() => SlidingWindows.ofTimeDifferenceWithNoGrace(1.5)).toThrow(/time difference/);
    expect(() => SlidingWindows.ofTimeDifferenceWithNoGrace(Number.NaN)).toThrow(/time difference/);
    expect(() => SlidingWindows.ofTimeDifferenceAndGrace(10, -1)).toThrow(/grace must be a non-negative/);
    expect(() => SlidingWindows.ofTimeDifferenceAndGrace(10, 0.5)).toThrow(/grace/);
  });

  it("refuses closeIdleAfterMs, a bad emit strategy and a missing reducer", () => {
    const grouped = () =>
      new TopologyBuilder("x")
        .stream("in", { key: s, value: s })
        .groupByKey("g")
        .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(10));
    expect(() => grouped().count("c", { emit: "onWindowClose", closeIdleAfterMs: 5 })).toThrow(
      /closeIdleAfterMs is only supported for TimeWindows/,
    );
    expect(() => grouped().count("c", { emit: "never" as EmitStrategy })).toThrow(/emit must be/);
    expect(() => grouped().reduce("r", undefined as never)).toThrow(/reducer/);
  });
});

describe("sliding windows, emit on update", () => {
  it("Kafka Streams' documented example: five windows for three records, contents and record times in the store", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceWithNoGrace(5000)));
    run(d, [
      ["1", 8000],
      ["2", 9200],
      ["3", 12400],
    ]);
    const stored = [...d.windowStore<string, SlidingWindowValue<string>>("agg").fetch("A", 0, 20_000)].map(
      (e) => [e.timestamp, e.value.value, e.value.maxTimestamp],
    );
    expect(stored).toEqual([
      [3000, "0+1", 8000], // [3000, 8000]: created when the first record enters
      [4200, "0+1+2", 9200], // [4200, 9200]
      [7400, "0+1+2+3", 12400], // [7400, 12400]
      [8001, "0+2+3", 12400], // [8001, 13001]: created when the first record drops out
      [9201, "0+3", 12400], // [9201, 14201]
    ]);
    d.close();
  });

  it("both bounds are inclusive: records exactly d apart share a window; the end reported is start + d", () => {
    const d = driver(counted(SlidingWindows.ofTimeDifferenceAndGrace(10, 100)));
    expect(run(d, [["v", 100]])).toEqual(["A[90,100] 1@100"]);
    expect(run(d, [["v", 110]])).toEqual([
      "A[101,111] 1@110", // the right window of 100 (100 is not in it)
      "A[100,110] 2@110", // 110's left window holds 100: exactly d apart
    ]);
    expect(run(d, [["v", 111]])).toEqual([
      "A[101,111] 2@111", // 111's left window existed (as 100's right window)
      "A[111,121] 1@111", // the right window of 110
    ]);
    expect(run(d, [["v", 105, "B"]])).toEqual(["B[95,105] 1@105"]); // keys are independent
    d.close();
  });

  it("a right window that is also the next record's left window is forwarded once; difference 0 counts equal times", () => {
    const d = driver(counted(SlidingWindows.ofTimeDifferenceAndGrace(10, 100)));
    expect(
      run(d, [
        ["v", 95],
        ["v", 100],
      ]),
    ).toEqual(["A[85,95] 1@95", "A[96,106] 1@100", "A[90,100] 2@100"]);
    // 111 is d + 1 after 100: 100's right window [101,111] is 111's left window (Kafka Streams forwards it twice).
    expect(run(d, [["v", 111]])).toEqual(["A[101,111] 1@111"]);
    const zero = driver(counted(SlidingWindows.ofTimeDifferenceWithNoGrace(0)));
    expect(
      run(zero, [
        ["v", 5],
        ["v", 5],
        ["v", 6],
        ["v", 8],
      ]),
    ).toEqual(["A[5,5] 1@5", "A[5,5] 2@5", "A[6,6] 1@6", "A[8,8] 1@8"]);
    zero.close();
    d.close();
  });

  it("aggregate (KS testAggregateSmallInput): left and right windows of each record, overlapping windows", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceAndGrace(10, 5)));
    const out = run(d, [
      ["1", 10],
      ["2", 10],
      ["3", 14],
      ["4", 15],
      ["5", 20],
      ["6", 22],
      ["7", 30],
    ]);
    expect(byWindow(out)).toEqual({
      "A[0,10]": ["0+1@10", "0+1+2@10"],
      "A[4,14]": ["0+1+2+3@14"],
      "A[5,15]": ["0+1+2+3+4@15"],
      "A[10,20]": ["0+1+2+3+4+5@20"],
      "A[11,21]": ["0+3@14", "0+3+4@15", "0+3+4+5@20"],
      "A[12,22]": ["0+3+4+5+6@22"],
      "A[15,25]": ["0+4@15", "0+4+5@20", "0+4+5+6@22"],
      "A[16,26]": ["0+5@20", "0+5+6@22"],
      "A[20,30]": ["0+5+6+7@30"],
      "A[21,31]": ["0+6@22", "0+6+7@30"],
      "A[23,33]": ["0+7@30"],
    });
    d.close();
  });

  it("reduce (KS testReduceSmallInput): the first value of a window, then reducer(aggregate, value)", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .groupByKey("by-key")
      .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10, 5))
      .reduce("sums", (a, v) => `${a}+${v}`)
      .toStream("updates")
      .map("flat", (r) => ({ key: `${r.key.key}[${r.key.start},${r.key.end}]`, value: r.value }))
      .to("out", { key: s, value: Serdes.json<string | null>() });
    const d = driver(b.build());
    const out = run(d, [
      ["1", 10],
      ["2", 14],
      ["3", 15],
      ["4", 22],
      ["5", 26],
      ["6", 30],
    ]);
    expect(byWindow(out)).toEqual({
      "A[0,10]": ["1@10"],
      "A[4,14]": ["1+2@14"],
      "A[5,15]": ["1+2+3@15"],
      "A[11,21]": ["2@14", "2+3@15"],
      "A[12,22]": ["2+3+4@22"],
      "A[15,25]": ["3@15", "3+4@22"],
      "A[16,26]": ["4@22", "4+5@26"],
      "A[20,30]": ["4+5+6@30"],
      "A[23,33]": ["5@26", "5+6@30"],
      "A[27,37]": ["6@30"],
    });
    d.close();
  });

  it("out-of-order records (KS testNoGracePeriodSmallInput): update the open windows, create missing right windows", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceWithNoGrace(50)));
    run(d, [
      ["1", 100],
      ["2", 105],
      ["3", 106],
    ]);
    // 103 arrives after 106: its left window [53,103] is closed (106 > 103 + grace 0), but it joins [56,106] and
    // 100's right window [101,151], and its own right window [104,154] is created with the records after it (106).
    expect(run(d, [["4", 103]])).toEqual([
      "A[56,106] 0+1+2+3+4@106",
      "A[101,151] 0+2+3+4@106",
      "A[104,154] 0+2+3@106",
    ]);
    expect(d.droppedRecords()).toEqual([]);
    const out = run(d, [
      ["5", 113],
      ["6", 110],
    ]);
    expect(byWindow(out)).toEqual({
      "A[63,113]": ["0+1+2+3+4+5@113", "0+1+2+3+4+5+6@113"],
      "A[101,151]": ["0+2+3+4+5@113", "0+2+3+4+5+6@113"],
      "A[104,154]": ["0+2+3+5@113", "0+2+3+5+6@113"],
      "A[106,156]": ["0+3+5@113", "0+3+5+6@113"],
      "A[107,157]": ["0+5@113", "0+5+6@113"],
      "A[111,161]": ["0+5@113"], // 110's right window: only 113
    });
    d.close();
  });

  it("records before d (KS testEarlyRecordsSmallInput) share the window [0, d]; their right windows are created", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceAndGrace(50, 0)));
    const out = run(d, [
      ["1", 0],
      ["2", 5],
      ["3", 6],
      ["4", 3],
      ["5", 13],
      ["6", 10],
      ["7", 70],
    ]);
    expect(byWindow(out)).toEqual({
      "A[0,50]": ["0+1@0", "0+1+2@5", "0+1+2+3@6", "0+1+2+3+4@6", "0+1+2+3+4+5@13", "0+1+2+3+4+5+6@13"],
      "A[1,51]": ["0+2@5", "0+2+3@6", "0+2+3+4@6", "0+2+3+4+5@13", "0+2+3+4+5+6@13"],
      "A[4,54]": ["0+2+3@6", "0+2+3+5@13", "0+2+3+5+6@13"],
      "A[6,56]": ["0+3@6", "0+3+5@13", "0+3+5+6@13"],
      "A[7,57]": ["0+5@13", "0+5+6@13"],
      "A[11,61]": ["0+5@13"],
      "A[20,70]": ["0+7@70"],
    });
    d.close();
  });

  it("repeated early times (KS testEarlyRecordsRepeatedInput)", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceAndGrace(5, 0)));
    const out = run(d, [
      ["1", 0],
      ["2", 2],
      ["3", 4],
      ["4", 0],
      ["5", 2],
      ["6", 2],
      ["7", 0],
      ["8", 7],
    ]);
    expect(byWindow(out)).toEqual({
      "A[0,5]": ["0+1@0", "0+1+2@2", "0+1+2+3@4", "0+1+2+3+4@4", "0+1+2+3+4+5@4", "0+1+2+3+4+5+6@4"].concat(
        "0+1+2+3+4+5+6+7@4",
      ),
      "A[1,6]": ["0+2@2", "0+2+3@4", "0+2+3+5@4", "0+2+3+5+6@4"],
      "A[2,7]": ["0+2+3+5+6+8@7"],
      "A[3,8]": ["0+3@4", "0+3+8@7"],
      "A[5,10]": ["0+8@7"],
    });
    d.close();
  });

  it("records past grace are dropped and counted (KS shouldLogAndMeterWhenSkippingExpiredWindowByGrace)", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceAndGrace(10, 90)));
    expect(run(d, [["100", 200]])).toEqual(["A[190,200] 0+100@200"]);
    // Stream time 200, grace 90: windows ending before 110 are closed. 100..105 belong to no open window (their left
    // windows end before 110 and no window holds them); 15 is far behind.
    expect(
      run(d, [
        ["0", 100],
        ["1", 101],
        ["2", 102],
        ["3", 103],
        ["4", 104],
        ["5", 105],
        ["6", 15],
      ]),
    ).toEqual([]);
    expect(d.droppedRecords()).toEqual(Array(7).fill({ reason: "expired-window", node: "agg" }));
    expect(
      run(d, [
        ["101", 300],
        ["102", 400],
      ]),
    ).toEqual(["A[290,300] 0+101@300", "A[390,400] 0+102@400"]);
    d.close();
  });

  it("a record whose left window is closed but that falls in an open window is kept, not counted as dropped", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceWithNoGrace(10)));
    run(d, [
      ["a", 100],
      ["b", 108],
      ["x", 110, "B"], // stream time 110: windows ending before 110 are closed
    ]);
    expect(run(d, [["c", 104]])).toEqual([
      "A[101,111] 0+b+c@108", // open; [94,104] (its left window) and [98,108] are closed
      "A[105,115] 0+b@108", // its right window: the records after it
    ]);
    expect(d.droppedRecords()).toEqual([]);
    expect(run(d, [["d", 99]])).toEqual([]); // 99 + 10 < 110
    expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "agg" }]);
    d.close();
  });

  it("windows past retention (2 × difference + grace + 1) are deleted from the store, with changelog tombstones", () => {
    const d = driver(counted(SlidingWindows.ofTimeDifferenceAndGrace(10, 5)));
    run(d, [
      ["v", 100],
      ["v", 104],
    ]); // windows [90,100], [94,104], [101,111]
    expect(d.windowStore<string, SlidingWindowValue<number>>("counts").approximateCount()).toBe(3);
    run(d, [["v", 120, "B"]]); // stream time 120: windows starting before 120 − 26 = 94 expire
    expect(
      [...d.windowStore<string, SlidingWindowValue<number>>("counts").fetchAll(0, 1000)].map(
        (e) => e.timestamp,
      ),
    ).toEqual([94, 101, 110]);
    const tombstones = d.records("app-counts-changelog").filter((r) => r.value === null);
    expect(tombstones).toHaveLength(1);
    d.close();
  });

  it("records in any order give the same windows (KS testAggregateRandomInput, 25 shuffles, both emit strategies)", () => {
    // prettier-ignore
    const input: Array<[string, number]> = [
      ["A", 10], ["B", 15], ["C", 16], ["D", 18], ["E", 30], ["F", 40], ["G", 55], ["H", 56], ["I", 58], ["J", 58],
      ["K", 62], ["L", 63], ["M", 63], ["N", 63], ["O", 76], ["P", 77], ["Q", 80], ["R", 2], ["S", 3], ["T", 5],
      ["U", 8],
    ];
    // prettier-ignore
    const expected = {
      0: "ARSTU@10", 3: "ASTU@10", 4: "ATU@10", 5: "ABTU@15", 6: "ABCU@16", 8: "ABCDU@18", 9: "ABCD@18",
      11: "BCD@18", 16: "CD@18", 17: "D@18", 20: "E@30", 30: "EF@40", 31: "F@40", 45: "G@55", 46: "GH@56",
      48: "GHIJ@58", 52: "GHIJK@62", 53: "GHIJKLMN@63", 56: "HIJKLMN@63", 57: "IJKLMN@63", 59: "KLMN@63",
      63: "LMN@63", 66: "O@76", 67: "OP@77", 70: "OPQ@80", 77: "PQ@80", 78: "Q@80", 171: "V@181",
    };
    // V at 181 closes every window ending before 81. Kafka Streams' test expects only those from 52 on: its store
    // (retention 2d + grace) has already dropped the older ones when the jump to 181 emits; weir emits them all.
    const finals = Object.keys(expected).filter((start) => Number(start) <= 70);
    for (let seed = 1; seed <= 25; seed++) {
      const shuffled = shuffle(input, seed);
      for (const emit of ["onUpdate", "onWindowClose"] as const) {
        const b = new TopologyBuilder("app");
        b.stream("in", { key: s, value: s })
          .groupByKey("by-key")
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10, 100))
          // Sorted, so that a window's aggregate does not depend on the order its records came in.
          .aggregate(
            "sorted",
            { initializer: () => "", aggregator: (_k, v, a) => [...(a + v)].sort().join("") },
            { value: s, emit },
          )
          .toStream("updates")
          .map("flat", (r) => ({ key: String(r.key.start), value: r.value }))
          .to("out", { key: s, value: Serdes.json<string | null>() });
        const d = driver(b.build());
        const last: Record<string, string> = {};
        const seen: string[] = [];
        for (const line of run(d, [...shuffled, ["V", 181]])) {
          const [start, update] = line.split(" ") as [string, string];
          last[start] = update;
          seen.push(start);
        }
        const want =
          emit === "onUpdate"
            ? expected
            : Object.fromEntries(
                finals.map((start) => [start, expected[Number(start) as keyof typeof expected]]),
              );
        expect(last, `seed ${seed}, ${emit}`).toEqual(want);
        if (emit === "onWindowClose")
          expect(seen, `seed ${seed}: one result per window`).toHaveLength(finals.length);
        d.close();
      }
    }
  });
});

/** A deterministic Fisher–Yates shuffle (mulberry32). */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("sliding windows, emit on window close", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("one final result per window once stream time passes its end + grace (KS testAggregateSmallInput), none before", () => {
    const d = driver(concatenated(SlidingWindows.ofTimeDifferenceAndGrace(10, 5), "onWindowClose"));
    expect(
      run(d, [
        ["1", 10],
        ["2", 10],
        ["3", 14],
        ["4", 15], // stream time 15: [0,10] is not closed (15 − 5 is not after 10)
      ]),
    ).toEqual([]);
    expect(run(d, [["5", 20]])).toEqual(["A[0,10] 0+1+2@10", "A[4,14] 0+1+2+3@14"]); // ends before 20 − 5
    expect(run(d, [["6", 22]])).toEqual(["A[5,15] 0+1+2+3+4@15"]);
    expect(run(d, [["7", 30]])).toEqual([
      "A[10,20] 0+1+2+3+4+5@20",
      "A[11,21] 0+3+4+5@20",
      "A[12,22] 0+3+4+5+6@22",
    ]);
    expect(run(d, [["late", 9]])).toEqual([]); // every window of 9 is closed: dropped, nothing emitted again
    expect(d.droppedRecords()).toEqual([{ reason: "expired-window", node: "agg" }]);
    expect(run(d, [["8", 31]])).toEqual(["A[15,25] 0+4+5+6@22"]); // 31 − 5 = 26 > 25; [16,26] not yet
    expect(run(d, [["9", 32]])).toEqual(["A[16,26] 0+5+6@22"]);
    d.close();
  });

  it("the exact close: a window [s, s + d] is final when stream time − grace > s + d, not at equality", () => {
    const d = driver(counted(SlidingWindows.ofTimeDifferenceAndGrace(10, 5), "onWindowClose"));
    run(d, [["v", 100]]); // [90,100]
    expect(run(d, [["v", 105, "B"]])).toEqual([]); // 105 − 5 = 100: not after the end
    expect(run(d, [["v", 106, "B"]])).toEqual(["A[90,100] 1@100"]);
    expect(run(d, [["v", 106, "B"]])).toEqual([]);
    d.close();
  });

  it("a stream-time jump closes many windows at once, each once; closed windows leave the store later", () => {
    const d = driver(counted(SlidingWindows.ofTimeDifferenceWithNoGrace(10), "onWindowClose"));
    expect(
      run(d, [
        ["v", 100],
        ["v", 100, "B"],
        ["v", 105],
        ["v", 106, "B"],
      ]),
    ).toEqual(["A[90,100] 1@100", "B[90,100] 1@100", "A[95,105] 2@105"]); // at 105, 105 and 106
    // Each window ending before 1000 closes now, ordered by start (then key).
    expect(run(d, [["v", 1000, "C"]])).toEqual(["B[96,106] 2@106", "A[101,111] 1@105", "B[101,111] 1@106"]);
    expect(d.windowStore("counts").approximateCount()).toBe(1); // C's [990,1000]
    expect(run(d, [["v", 2000, "C"]])).toEqual(["C[990,1000] 1@1000"]);
    d.close();
  });

  it("a window emitted before a restart is not emitted again after it; earlier windows still feed new ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-sliding-"));
    dirs.push(dir);
    const topology = concatenated(SlidingWindows.ofTimeDifferenceWithNoGrace(10), "onWindowClose");
    const first = new TopologyTestDriver(topology, {
      wallClockMs: WALL,
      state: openLmdbState({ path: dir }),
    });
    expect(
      run(first, [
        ["1", 100],
        ["2", 111], // closes [90,100]
      ]),
    ).toEqual(["A[90,100] 0+1@100"]);
    first.close();
    const second = new TopologyTestDriver(topology, {
      wallClockMs: WALL,
      state: openLmdbState({ path: dir }),
    });
    // 112's left window [102,112] holds 111 (from [101,111], stored before the restart).
    expect(run(second, [["3", 112]])).toEqual([]);
    expect(run(second, [["4", 200]])).toEqual([
      "A[101,111] 0+2@111",
      "A[102,112] 0+2+3@112",
      "A[112,122] 0+3@112",
    ]);
    second.close();
  });
});
