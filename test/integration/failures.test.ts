/**
 * The failure model against a real broker (issue cases 1–5): records that cannot be written — a store value whose
 * changelog record is too large, an output too large, a dead letter too large, a value its serde cannot read back —
 * are dead-lettered with the reason while the records after them are processed exactly once and the worker never
 * stops; a sink deleted under load makes the worker not ready, naming the topic, without the broker auto-creating
 * it, and the worker carries on exactly once when the topic is back; a sink recreated with another partition count
 * is refused at start.
 */
import { afterEach, describe, expect, it } from "vitest";
import { map } from "rxjs";
import { DeadLetterHeader, Serdes, TopologyBuilder } from "../../topology/index.js";
import {
  LEVELS_STORE,
  LISTS_STORE,
  addToLevel,
  appendToList,
  declareLevelsStore,
  declareListsStore,
} from "../apps/growing-stores.js";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import {
  consumeAll,
  createTopic,
  deleteTopic,
  endOffsets,
  produceAll,
  topicPartitions,
  uniqueName,
  waitFor,
  withAdmin,
  fromCallback,
  alterTopicConfig,
  waitAllCommitted,
  committedOffsets,
} from "../helpers/kafka.js";
import { createMetrics } from "../../topology/index.js";

const running: InProcessWorker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const s = Serdes.string();
const KB = 1024;

/** Four small applications in one topology, one per case. */
function failuresTopology(p: string) {
  const b = new TopologyBuilder(`${p}-app`);
  // Case 1: a per-key list; five 300 KB values to one key outgrow the changelog's record limit.
  declareListsStore(b);
  b.stream(`${p}-lists`, { key: s, value: s })
    .process("append", appendToList, { stores: [LISTS_STORE] })
    .to(`${p}-list-sizes`, { key: s, value: s });
  // Case 2: an output larger than the limit.
  b.stream(`${p}-echo`, { key: s, value: s })
    .process("blow-up", () =>
      map((r) => ({ key: r.key, value: r.value === "big" ? "B".repeat(1_100_000) : r.value })),
    )
    .to(`${p}-echoed`, { key: s, value: s });
  // Case 3: an undecodable input larger than the producer's limit (its topic allows it).
  b.stream(`${p}-json`, { key: s, value: Serdes.json<{ n: number }>() })
    .process("parse", () => map((r) => ({ key: r.key, value: String(r.value.n) })))
    .to(`${p}-parsed`, { key: s, value: s });
  // Case 4: a level that becomes Infinity, which Serdes.number() cannot write and read back.
  declareLevelsStore(b);
  b.stream(`${p}-restocks`, { key: s, value: Serdes.number() })
    .process("restock", addToLevel, { stores: [LEVELS_STORE] })
    .to(`${p}-levels`, { key: s, value: Serdes.number() });
  return b.build();
}

describe("record-level failures: dead-lettered, the rest exactly once, the worker never stops", () => {
  it("cases 1–4: changelog record too large, output too large, dead letter too large, unreadable value", async () => {
    const p = uniqueName("fail");
    const topology = failuresTopology(p);
    for (const t of [`${p}-lists`, `${p}-echo`, `${p}-restocks`, ...topology.outputTopics])
      await createTopic(t, 2);
    await createTopic(`${p}-json`, 2, { "max.message.bytes": "2000000" });

    const big = (c: string) => c.repeat(300 * KB);
    const following = Array.from({ length: 1000 }, (_, i) => i);
    await produceAll(`${p}-lists`, [
      ...[1, 2, 3, 4, 5].map((i) => ({ key: "hot", value: big(String(i)) })),
      ...following.map((i) => ({ key: `k${i}`, value: "v" })),
    ]);
    await produceAll(`${p}-echo`, [
      { key: "e0", value: "small" },
      { key: "e1", value: "big" },
      ...following.map((i) => ({ key: `e${i + 2}`, value: `x${i}` })),
    ]);
    await produceAll(
      `${p}-json`,
      [
        { key: "j-huge", value: Buffer.alloc(1_020_000, "{") },
        ...following.map((i) => ({ key: `j${i}`, value: JSON.stringify({ n: i }) })),
      ],
      { config: { "message.max.bytes": 2_000_000 } },
    );
    await produceAll(`${p}-restocks`, [
      { key: "sku-inf", value: "1e308" },
      { key: "sku-inf", value: "1e308" },
      ...following.map((i) => ({ key: `sku${i % 50}`, value: "1" })),
    ]);

    const w = new InProcessWorker(topology, { stallTimeoutMs: 10_000 });
    running.push(w);
    await w.start();
    const expectedOut: Record<string, number> = {
      [`${p}-list-sizes`]: 3 + 1000,
      [`${p}-echoed`]: 1 + 1000,
      [`${p}-parsed`]: 1000,
      [`${p}-levels`]: 1 + 1000,
    };
    await waitFor(
      "every valid record's output to be committed",
      async () => {
        for (const [topic, n] of Object.entries(expectedOut)) {
          const ends = await endOffsets(topic, "read_committed");
          if ([...ends.values()].reduce((a, b) => a + b, 0) < n) return undefined;
        }
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    // Exactly once: committed outputs are exactly the valid inputs' (none doubled, none lost).
    for (const [topic, n] of Object.entries(expectedOut)) {
      const records = await consumeAll(topic, { timeoutMs: 60_000, isolation: "read_committed" });
      expect(records.length, topic).toBe(n);
    }
    const sizes = await consumeAll(`${p}-list-sizes`, { timeoutMs: 30_000, isolation: "read_committed" });
    expect(sizes.filter((r) => r.key === "hot").map((r) => r.value)).toEqual(["1", "2", "3"]);
    const levels = await consumeAll(`${p}-levels`, { timeoutMs: 30_000, isolation: "read_committed" });
    expect(levels.filter((r) => r.key === "sku-inf").map((r) => r.value)).toEqual(["1e+308"]);

    const dlq = await consumeAll(topology.deadLetterTopic, {
      timeoutMs: 30_000,
      isolation: "read_committed",
      expected: 5,
    });
    const byTopic = (t: string) => dlq.filter((r) => r.headers[DeadLetterHeader.topic] === t);
    // Case 1: the 4th and 5th value of the hot key, their changelog records too large.
    const lists = byTopic(`${p}-lists`);
    expect(lists.map((r) => r.headers[DeadLetterHeader.offset]).sort()).toEqual(["3", "4"]);
    for (const r of lists) {
      expect(r.headers[DeadLetterHeader.errorClass]).toBe("RecordTooLargeError");
      expect(r.headers[DeadLetterHeader.targetTopic]).toBe(`${p}-app-lists-changelog`);
      expect(Number(r.headers[DeadLetterHeader.size])).toBeGreaterThan(1_000_000);
      expect(r.headers[DeadLetterHeader.limit]).toBe("1000000");
      expect(r.valueBytes!.length).toBe(300 * KB); // the input itself, whole
    }
    // Case 2: the input whose output was too large.
    const echo = byTopic(`${p}-echo`);
    expect(echo.map((r) => [r.key, r.value, r.headers[DeadLetterHeader.targetTopic]])).toEqual([
      ["e1", "big", `${p}-echoed`],
    ]);
    // Case 3: the dead letter itself too large: cut to fit, saying so, with the source coordinates.
    const [huge, ...moreJson] = byTopic(`${p}-json`);
    expect(moreJson).toHaveLength(0);
    expect(huge!.key).toBe("j-huge");
    expect(huge!.headers[DeadLetterHeader.errorClass]).toBe("DeserializationError");
    expect(huge!.headers[DeadLetterHeader.truncated]).toMatch(/^value 1020000->\d+/);
    expect(huge!.headers[DeadLetterHeader.offset]).toBe("0");
    expect(huge!.valueBytes!.length).toBeLessThan(1_000_000);
    // Case 4: the restock that would make the level Infinity.
    const inf = byTopic(`${p}-restocks`);
    expect(inf.map((r) => [r.key, r.headers[DeadLetterHeader.errorClass]])).toEqual([
      ["sku-inf", "SerializationError"],
    ]);
    expect(dlq).toHaveLength(5);

    // The worker never stopped, never was stalled, and is ready.
    expect(w.worker.state).toBe("running");
    expect(w.logged("worker failed")).toEqual([]);
    expect(w.logged(/^worker not ready/)).toEqual([]);
    expect(w.worker.ready).toBe(true);
  });
});

describe("a sink topic deleted under load", () => {
  it("not ready naming the topic, never auto-created, exact again once recreated; a new partition count is refused at start", async () => {
    const p = uniqueName("sink-gone");
    const b = new TopologyBuilder(`${p}-app`);
    b.stream(`${p}-in`, { key: s, value: s })
      .process("tag", () => map((r) => ({ key: r.key, value: `${r.partition}:${r.offset}` })))
      .to(`${p}-out`, { key: s, value: s });
    const topology = b.build();
    await createTopic(`${p}-in`, 3);
    await createTopic(`${p}-out`, 3);

    let produced = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        await produceAll(
          `${p}-in`,
          Array.from({ length: 100 }, () => ({ key: `k${produced++ % 97}`, value: "v" })),
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const w = new InProcessWorker(topology, { stallTimeoutMs: 10_000 });
    running.push(w);
    await w.start();
    await waitFor("the worker to be ready and committing", async () =>
      w.worker.ready && [...(await endOffsets(`${p}-out`, "read_committed")).values()].some((n) => n > 0)
        ? true
        : undefined,
    );

    await deleteTopic(`${p}-out`);
    const deletedAt = Date.now();
    await waitFor(
      "the worker to say the sink is missing",
      async () =>
        w.worker.problems().some((x) => x.problem === "topic-missing" && x.reason.includes(`${p}-out`))
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    console.log(`not ready ${Date.now() - deletedAt} ms after the sink was deleted`);
    expect(w.worker.ready).toBe(false);
    expect(w.logged("worker not ready: topic-missing").length).toBeGreaterThan(0);
    // Wait a while: the worker stays up and not ready, and nobody recreated the sink behind the operator's back.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(w.worker.state, JSON.stringify(w.logs.filter((l) => l.level === "error"))).toBe("running");
    expect(w.worker.ready).toBe(false);
    const topics = await withAdmin((admin) =>
      fromCallback<string[]>((done) => admin.listTopics({ timeout: 5000 }, (err, t) => done(err, t))),
    );
    expect(topics).not.toContain(`${p}-out`);

    await createTopic(`${p}-out`, 3);
    await waitFor("the worker to be ready again", async () => (w.worker.ready ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    producing = false;
    await producer;
    const ends = await waitAllCommitted(`${p}-app`, `${p}-in`, { timeoutMs: 90_000 });
    // The recreated sink holds, per input partition, a contiguous run of input offsets up to the end, each once.
    const out = await consumeAll(`${p}-out`, { timeoutMs: 60_000, isolation: "read_committed" });
    const byPartition = new Map<number, number[]>();
    for (const r of out) {
      const [part, offset] = r.value!.split(":").map(Number) as [number, number];
      if (!byPartition.has(part)) byPartition.set(part, []);
      byPartition.get(part)!.push(offset);
    }
    for (const [part, end] of ends) {
      const offsets = (byPartition.get(part) ?? []).sort((a, b) => a - b);
      expect(offsets.length, `partition ${part}`).toBeGreaterThan(0);
      expect(new Set(offsets).size, `partition ${part}: no duplicates`).toBe(offsets.length);
      expect(offsets.at(-1), `partition ${part}: up to the end`).toBe(end - 1);
      expect(offsets.at(-1)! - offsets[0]! + 1, `partition ${part}: no gaps`).toBe(offsets.length);
    }
    expect(w.logged("worker failed")).toEqual([]);
    await w.stop();
    running.splice(running.indexOf(w), 1);

    // Recreated with another partition count between two runs: refused at start, naming the topic.
    await deleteTopic(`${p}-out`);
    await createTopic(`${p}-out`, 1);
    expect(await topicPartitions(`${p}-out`)).toEqual([0]);
    const again = new InProcessWorker(topology, { stateDir: w.stateDir });
    await expect(again.start()).rejects.toThrow(
      new RegExp(`output topics changed their partition count.*${p}-out has 1, had 3`),
    );
  });
});

describe("commits that keep failing", () => {
  it.each(["exactly_once", "at_least_once"] as const)(
    "make the worker stalled and not ready within the bound, with the cause; ready again once healed (%s)",
    async (guarantee) => {
      // The sink refuses records above 2,000 bytes (topic max.message.bytes), far below the producer's limit: the
      // broker rejects the batch, every transaction aborts. Nothing weir can attribute to one input record.
      // Under at-least-once there is no transaction: the commit must see the failed deliveries (after its flush)
      // before it commits the input offsets.
      const p = uniqueName(guarantee === "exactly_once" ? "stall" : "stall-alos");
      const b = new TopologyBuilder(`${p}-app`);
      b.stream(`${p}-in`, { key: s, value: s })
        .process("pad", () => map((r) => ({ key: r.key, value: r.value.padEnd(5000, ".") })))
        .to(`${p}-out`, { key: s, value: s });
      await createTopic(`${p}-in`, 1);
      await createTopic(`${p}-out`, 1, { "max.message.bytes": "2000" });
      await produceAll(
        `${p}-in`,
        Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
      );
      const metrics = createMetrics();
      const w = new InProcessWorker(b.build(), { stallTimeoutMs: 5000, metrics, guarantee });
      running.push(w);
      await w.start();
      const started = Date.now();
      await waitFor(
        "the worker to report itself stalled",
        async () => (w.worker.problems().some((x) => x.problem === "stalled") ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      console.log(`stalled reported ${Date.now() - started} ms after start (bound 5000 ms)`);
      const problems = w.worker.problems();
      expect(problems.map((x) => x.problem)).toEqual(expect.arrayContaining(["commits-failing", "stalled"]));
      expect(problems.find((x) => x.problem === "commits-failing")!.reason).toMatch(/too large/i);
      expect(problems.find((x) => x.problem === "stalled")!.reason).toMatch(
        /records of lag|records wait|commits failed/,
      );
      expect(w.worker.ready).toBe(false);
      expect(w.worker.live).toBe(true);
      const gauge = (await metrics.registry.getSingleMetric("weir_worker_stalled")!.get()).values[0]!.value;
      expect(gauge).toBe(1);
      expect(w.logged("worker not ready: stalled")).toHaveLength(1);
      // No input offset was committed past a record whose output the broker refused.
      expect((await committedOffsets(`${p}-app`, `${p}-in`)).get(0) ?? 0).toBe(0);

      alterTopicConfig(`${p}-out`, { "max.message.bytes": "1000000" });
      await waitFor("the worker to be ready again", async () => (w.worker.ready ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      const out = await consumeAll(`${p}-out`, {
        timeoutMs: 30_000,
        isolation: "read_committed",
        expected: 50,
      });
      expect(new Set(out.map((r) => r.key)).size).toBe(50);
      expect((await metrics.registry.getSingleMetric("weir_worker_stalled")!.get()).values[0]!.value).toBe(0);
      expect(w.logged("recovered: stalled")).toHaveLength(1);
      expect(w.worker.state).toBe("running");
    },
  );
});
