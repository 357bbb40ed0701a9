/**
 * Wall-clock punctuation under exactly-once, on a real broker: with no input arriving, a punctuator's outputs are
 * committed in transactions that carry no new input offsets. Such a transaction, left without offsets, is never
 * checked against the group's generation, so a zombie (a worker frozen past its session, then resumed) could commit
 * its punctuation next to the new owner's. weir sends the offsets committed last again in it: the group coordinator
 * takes them only under the worker's current generation. Here: the punctuation is committed, each of its
 * transactions sends offsets, and the group's committed offsets do not move.
 */
import { afterEach, describe, expect, it } from "vitest";
import { map, merge } from "rxjs";
import { Serdes, TopologyBuilder } from "../../topology/index.js";
import { Kafka } from "../../topology/kafka.js";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import {
  committedOffsets,
  consumeAll,
  createTopic,
  produceAll,
  uniqueName,
  waitAllCommitted,
} from "../helpers/kafka.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let running: InProcessWorker | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/** Counts the producer's sendOffsetsToTransaction calls in this process (the worker runs here). */
function countSendOffsets(): { calls: number; restore: () => void } {
  const proto = Kafka.Producer.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = proto.sendOffsetsToTransaction!;
  const counter = {
    calls: 0,
    restore: () => {
      proto.sendOffsetsToTransaction = original;
    },
  };
  proto.sendOffsetsToTransaction = function (this: unknown, ...args: unknown[]) {
    counter.calls++;
    return original.apply(this, args);
  };
  return counter;
}

describe("wall-clock punctuation under exactly-once", () => {
  it("commits its outputs with the last committed offsets sent again: fenced by the group, offsets unmoved", async () => {
    const p = uniqueName("punct-offsets");
    const b = new TopologyBuilder(`${p}-app`);
    b.stream(`${p}-in`, { key: Serdes.string(), value: Serdes.string() })
      .process<string, string>(
        "tick",
        (ctx) => (records) =>
          merge(
            records.pipe(map((r) => ({ key: r.key, value: "record" }))),
            ctx
              .punctuate("wall-clock", 200)
              .pipe(map((now) => ({ key: `tick-${ctx.partition}`, value: String(now) }))),
          ),
      )
      .to(`${p}-out`, { key: Serdes.string(), value: Serdes.string() });
    await createTopic(`${p}-in`, 2);
    await createTopic(`${p}-out`, 2);
    const sendOffsets = countSendOffsets();
    try {
      running = new InProcessWorker(b.build(), { guarantee: "exactly_once" });
      await running.start();
      await produceAll(
        `${p}-in`,
        Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: "v" })),
      );
      const ends = await waitAllCommitted(`${p}-app`, `${p}-in`, { timeoutMs: 60_000 });
      const before = await committedOffsets(`${p}-app`, `${p}-in`);
      // Idle input from here: every transaction now holds punctuation only.
      await sleep(1500);
      const idleFrom = Date.now();
      const callsAtIdle = sendOffsets.calls;
      await sleep(3000);
      const idleCalls = sendOffsets.calls - callsAtIdle;
      const after = await committedOffsets(`${p}-app`, `${p}-in`);
      expect(running.logged("commit failed")).toEqual([]);
      expect(running.worker.state).toBe("running");
      await running.stop();
      running = undefined;
      const out = await consumeAll(`${p}-out`, { isolation: "read_committed", timeoutMs: 30_000 });
      const ticks = out.filter((r) => r.key!.startsWith("tick-"));
      const idleTicks = ticks.filter((r) => Number(r.value) >= idleFrom);

      expect(out.filter((r) => r.value === "record")).toHaveLength(20);
      // The punctuation of the idle seconds was committed (read_committed sees it), in transactions with offsets.
      expect(idleTicks.length).toBeGreaterThan(0);
      expect(idleCalls).toBeGreaterThan(0);
      // Sent again, not moved: the group's committed offsets are where the last records left them.
      expect(after).toEqual(before);
      expect([...after.values()].reduce((a, c) => a + c, 0)).toBe(
        [...ends.values()].reduce((a, c) => a + c, 0),
      );
    } finally {
      sendOffsets.restore();
    }
  });
});
