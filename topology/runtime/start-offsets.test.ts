import { describe, expect, it } from "vitest";
import { OffsetError, WeirError } from "../errors.js";
import { Offset } from "../kafka.js";
import type { Logger } from "../log.js";
import {
  decideStartOffset,
  fetchStableCommitted,
  resolveStartOffsets,
  encodeCommitMetadata,
  decodeStreamTime,
  type OffsetSource,
} from "./start-offsets.js";

const base = { topic: "orders", partition: 0, logStart: 10, logEnd: 100 } as const;

function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; fields?: object }> } {
  const lines: Array<{ level: string; msg: string; fields?: object }> = [];
  const log = {
    lines,
    debug: (msg: string, fields?: object) => lines.push({ level: "debug", msg, fields }),
    info: (msg: string, fields?: object) => lines.push({ level: "info", msg, fields }),
    warn: (msg: string, fields?: object) => lines.push({ level: "warn", msg, fields }),
    error: (msg: string, fields?: object) => lines.push({ level: "error", msg, fields }),
    child: () => log,
  };
  return log;
}

describe("decideStartOffset", () => {
  it("starts at the committed offset when it lies in the partition (both bounds included)", () => {
    for (const committed of [10, 57, 100])
      expect(decideStartOffset({ ...base, committed, policy: "earliest" })).toMatchObject({
        kind: "committed",
        offset: committed,
      });
  });

  it("without a committed offset follows the source policy, as logical offsets", () => {
    expect(decideStartOffset({ ...base, committed: undefined, policy: "earliest" })).toMatchObject({
      kind: "no-committed-offset",
      offset: Offset.BEGINNING,
    });
    expect(decideStartOffset({ ...base, committed: undefined, policy: "latest" })).toMatchObject({
      kind: "no-committed-offset",
      offset: Offset.END,
    });
    expect(() => decideStartOffset({ ...base, committed: undefined, policy: "none" })).toThrow(OffsetError);
  });

  it("a committed offset outside the partition is a lost offset, said so, never taken as is", () => {
    const deleted = decideStartOffset({ ...base, committed: 3, policy: "earliest" });
    expect(deleted).toMatchObject({ kind: "offset-lost", offset: Offset.BEGINNING });
    expect(deleted.reason).toMatch(/records 3 to 9 were deleted/);
    const recreated = decideStartOffset({ ...base, committed: 500, policy: "latest" });
    expect(recreated).toMatchObject({ kind: "offset-lost", offset: Offset.END });
    expect(recreated.reason).toMatch(/recreated or truncated/);
    expect(() => decideStartOffset({ ...base, committed: 3, policy: "none" })).toThrow(
      /outside the partition/,
    );
  });
});

describe("fetchStableCommitted", () => {
  const tps = [
    { topic: "orders", partition: 0 },
    { topic: "orders", partition: 1 },
  ];

  it("waits while the lookup times out (unstable offsets), reports the wait, then returns the stable offsets", async () => {
    let calls = 0;
    const waiting: string[][] = [];
    const log = recordingLogger();
    const source: Pick<OffsetSource, "committed"> = {
      committed: async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error("Local: Timed out"), { code: -185 });
        return [
          { topic: "orders", partition: 0, offset: 42 },
          { topic: "orders", partition: 1 }, // the client leaves out the offset when none is committed
        ];
      },
    };
    const result = await fetchStableCommitted(source as OffsetSource, tps, {
      log,
      taskTimeoutMs: 60_000,
      stopRequested: () => false,
      policyOf: () => "earliest",
      onWaiting: (p) => waiting.push(p),
    });
    expect(calls).toBe(3);
    expect([...result]).toEqual([
      ["orders/0", 42],
      ["orders/1", undefined],
    ]);
    expect(
      log.lines.filter((l) => l.level === "warn" && /waiting for committed offsets/.test(l.msg)),
    ).toHaveLength(2);
    expect(waiting[0]).toEqual(["orders/0", "orders/1"]);
    expect(waiting.at(-1)).toEqual([]); // not waiting any more: readiness may return
  });

  it("treats a per-partition error element as not yet stable", async () => {
    let calls = 0;
    const source = {
      committed: async () =>
        ++calls === 1 ? [new Error("Broker: Unstable offset commit")] : [{ ...tps[0]!, offset: 5 }],
    };
    const result = await fetchStableCommitted(source as unknown as OffsetSource, [tps[0]!], {
      log: recordingLogger(),
      taskTimeoutMs: 60_000,
      stopRequested: () => false,
      policyOf: () => "earliest",
    });
    expect(calls).toBe(2);
    expect(result.get("orders/0")).toBe(5);
  });

  it("gives up with an OffsetError naming the partitions after the task timeout, never a reset", async () => {
    let now = 0;
    const source = {
      committed: async () => {
        now += 5000;
        throw Object.assign(new Error("Local: Timed out"), { code: -185 });
      },
    };
    const failure = fetchStableCommitted(source as unknown as OffsetSource, tps, {
      log: recordingLogger(),
      taskTimeoutMs: 20_000,
      stopRequested: () => false,
      policyOf: () => "earliest",
      now: () => now,
    });
    await expect(failure).rejects.toThrow(OffsetError);
    await expect(failure).rejects.toThrow(/orders\/0, orders\/1 stayed unavailable/);
  });

  it("an outage (brokers not answering) is waited out without the task timeout's bound", async () => {
    let now = 0;
    let calls = 0;
    const source = {
      committed: async () => {
        now += 5000;
        if (++calls < 10) throw Object.assign(new Error("Local: Timed out"), { code: -185 });
        return [{ ...tps[0]!, offset: 7 }];
      },
      reachable: async () => false,
    };
    const result = await fetchStableCommitted(source as unknown as OffsetSource, [tps[0]!], {
      log: recordingLogger(),
      taskTimeoutMs: 20_000, // 45 s of outage pass without an OffsetError
      stopRequested: () => false,
      policyOf: () => "earliest",
      now: () => now,
    });
    expect(calls).toBe(10);
    expect(result.get("orders/0")).toBe(7);
  });

  it("stops waiting when the worker is asked to stop", async () => {
    const source = {
      committed: async () => {
        throw Object.assign(new Error("Local: Timed out"), { code: -185 });
      },
    };
    let stop = false;
    const p = fetchStableCommitted(source as unknown as OffsetSource, tps, {
      log: recordingLogger(),
      taskTimeoutMs: 60_000,
      stopRequested: () => {
        const s = stop;
        stop = true;
        return s;
      },
      policyOf: () => "earliest",
    });
    await expect(p).rejects.toThrow(WeirError);
  });
});

/** Partition bounds: t/1's first offset is 7, so a committed 2 there is lost. */
const BOUNDS = {
  start: new Map([
    ["t/0", 0],
    ["t/1", 7],
    ["t/2", 0],
  ]),
  end: new Map([
    ["t/0", 80],
    ["t/1", 90],
    ["t/2", 10],
  ]),
};

describe("resolveStartOffsets", () => {
  it("checks committed offsets against the partition's bounds and logs a lost offset as an error", async () => {
    const log = recordingLogger();
    const source: OffsetSource = {
      committed: async () => [
        { topic: "t", partition: 0, offset: 50 },
        { topic: "t", partition: 1, offset: 2 },
        { topic: "t", partition: 2 },
      ],
      bounds: async () => BOUNDS,
    };
    const starts = await resolveStartOffsets(
      source,
      [0, 1, 2].map((partition) => ({ topic: "t", partition })),
      { log, taskTimeoutMs: 1000, stopRequested: () => false, policyOf: () => "latest" },
    );
    expect(starts.map((s) => [s.partition, s.offset, s.decision.kind])).toEqual([
      [0, 50, "committed"],
      [1, Offset.END, "offset-lost"],
      [2, Offset.END, "no-committed-offset"],
    ]);
    expect(log.lines.find((l) => l.level === "error")?.fields).toMatchObject({ partition: "t/1" });
  });

  it("carries the stream time committed with an offset, only for an offset it starts from", async () => {
    const metadata = encodeCommitMetadata(5000);
    const source: OffsetSource = {
      committed: async () => [
        { topic: "t", partition: 0, offset: 50, metadata },
        { topic: "t", partition: 1, offset: 2, metadata },
        { topic: "t", partition: 2, offset: 5, metadata: "written by another client" },
      ],
      bounds: async () => BOUNDS,
    };
    const starts = await resolveStartOffsets(
      source,
      [0, 1, 2].map((partition) => ({ topic: "t", partition })),
      { log: recordingLogger(), taskTimeoutMs: 1000, stopRequested: () => false, policyOf: () => "earliest" },
    );
    // Partition 1's offset is lost: its stream time belongs to records it will not start after.
    expect(starts.map((s) => s.streamTime)).toEqual([5000, undefined, undefined]);
    expect(decodeStreamTime(encodeCommitMetadata(0))).toBe(0);
    expect(decodeStreamTime('{"streamTime":1.5}')).toBeUndefined();
    expect(decodeStreamTime(null)).toBeUndefined();
  });

  it("asks again while Kafka answers lower than this worker committed (a stale answer), never replays", async () => {
    const log = recordingLogger();
    const answers = [
      [{ topic: "t", partition: 0 }], // none: a coordinator that has just loaded
      [{ topic: "t", partition: 0, offset: 20 }], // lower than committed
      [{ topic: "t", partition: 0, offset: 50 }],
    ];
    const source: OffsetSource = { committed: async () => answers.shift()!, bounds: async () => BOUNDS };
    const starts = await resolveStartOffsets(source, [{ topic: "t", partition: 0 }], {
      log,
      taskTimeoutMs: 10_000,
      recheckMs: 1,
      stopRequested: () => false,
      policyOf: () => "earliest",
      knownCommitted: (k) => (k === "t/0" ? 50 : undefined),
    });
    expect(starts.map((s) => [s.offset, s.decision.kind])).toEqual([[50, "committed"]]);
    expect(answers).toEqual([]);
    expect(log.lines.filter((l) => l.msg.includes("stale answer"))).toHaveLength(2);
  });

  it("a partition that no longer holds what this worker committed (recreated) follows the policy as before", async () => {
    const source: OffsetSource = {
      committed: async () => [{ topic: "t", partition: 0 }],
      bounds: async () => ({ start: new Map([["t/0", 0]]), end: new Map([["t/0", 3]]) }),
    };
    const starts = await resolveStartOffsets(source, [{ topic: "t", partition: 0 }], {
      log: recordingLogger(),
      taskTimeoutMs: 10_000,
      recheckMs: 1,
      stopRequested: () => false,
      policyOf: () => "earliest",
      knownCommitted: () => 50,
    });
    expect(starts.map((s) => s.decision.kind)).toEqual(["no-committed-offset"]);
  });

  it("fails (OffsetError) rather than replay when the stale answer outlasts the task timeout", async () => {
    let t = 0;
    const source: OffsetSource = {
      committed: async () => [{ topic: "t", partition: 0 }],
      bounds: async () => BOUNDS,
    };
    await expect(
      resolveStartOffsets(source, [{ topic: "t", partition: 0 }], {
        log: recordingLogger(),
        taskTimeoutMs: 5000,
        recheckMs: 1,
        now: () => (t += 1000),
        stopRequested: () => false,
        policyOf: () => "earliest",
        knownCommitted: () => 50,
      }),
    ).rejects.toThrow(/contradict what this worker committed/);
  });
});
