/**
 * The order pipeline against a real broker with the records of issue "Event time that one bad clock cannot break":
 * an order stamped in 2100 followed by a duplicate pair, a payment stamped a year ahead, two payments tied on time in
 * both arrival orders, and 3,000- and 10,000-byte order ids. The broken clocks are dead-lettered with the reason;
 * every other order gets its one right status. Runs on the pipeline's own topic names, created fresh (as the demo).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeadLetterHeader } from "../../topology/index.js";
import { APP_ID, TOPIC_CONFIGS, Topics, createTopology } from "../../processors/app.js";
import { startRiskService, type RiskService } from "../../processors/risk-service.js";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import {
  consumeAll,
  createTopic,
  deleteTopic,
  fromCallback,
  produceAll,
  waitFor,
  withAdmin,
} from "../helpers/kafka.js";

let risk: RiskService | undefined;
/** Built once the risk service the pipeline calls is up (beforeAll); the topic list needs only its names. */
let topology = createTopology({ partitions: 1 });
const topics = [
  ...new Set([
    Topics.orders,
    Topics.payments,
    Topics.restocks,
    ...topology.outputTopics,
    ...topology.internalTopics.map((t) => t.name),
    topology.deadLetterTopic,
  ]),
];

let worker: InProcessWorker | undefined;
beforeAll(async () => {
  risk = await startRiskService({ latencyMs: [1, 5], failureRate: 0.01 });
  topology = createTopology({ partitions: 1, riskUrl: risk.url });
});
afterAll(async () => {
  await worker?.stop();
  await risk?.close();
});

describe("the order pipeline with broken clocks, tied payments and long order ids (real broker)", () => {
  it("dead-letters the broken clocks and gives every other order its one right status", async () => {
    for (const t of topics) await deleteTopic(t);
    await withAdmin((admin) =>
      fromCallback((done) => admin.deleteGroups([APP_ID], { timeout: 10_000 }, () => done(null))),
    );
    for (const t of topics) await createTopic(t, 1, { ...TOPIC_CONFIGS[t] });

    const now = Date.now();
    const t0 = now - 120_000;
    const YEAR_2100 = Date.UTC(2100, 0, 1);
    const order = (createdAt: number) => ({
      customerId: "c",
      lines: [{ sku: "A", qty: 1, unitPrice: 5 }],
      total: 5,
      currency: "EUR",
      createdAt,
    });
    const payment = (id: string, status = "authorized") => ({
      paymentId: id,
      amount: 5,
      currency: "EUR",
      status,
    });
    const json = (v: unknown) => JSON.stringify(v);
    const long3k = "a".repeat(3000);
    const long10k = "b".repeat(10_000);

    await produceAll(Topics.restocks, [{ key: "A", value: json({ qty: 100 }), timestamp: t0 - 1000 }]);
    await produceAll(Topics.orders, [
      // A broken clock first, then a duplicate pair: one validated copy.
      { key: "future", value: json(order(YEAR_2100)), timestamp: YEAR_2100 },
      { key: "dup", value: json(order(t0)), timestamp: t0 },
      { key: "dup", value: json(order(t0)), timestamp: t0 + 10 },
      // Tied payments, the order before them.
      { key: "tie-order-first", value: json(order(t0 + 100)), timestamp: t0 + 100 },
      { key: long3k, value: json(order(t0 + 300)), timestamp: t0 + 300 },
      { key: long10k, value: json(order(t0 + 400)), timestamp: t0 + 400 },
    ]);
    await produceAll(Topics.payments, [
      // A payment a year ahead: refused; it must not move the join's clock and time the others out.
      { key: "stray", value: json(payment("p-stray")), timestamp: now + 365 * 24 * 3600_000 },
      { key: "dup", value: json(payment("p-dup")), timestamp: t0 + 1000 },
      { key: "tie-order-first", value: json(payment("p1", "declined")), timestamp: t0 + 1100 },
      { key: "tie-order-first", value: json(payment("p2")), timestamp: t0 + 1100 },
      // Tied payments, the order after them.
      { key: "tie-order-last", value: json(payment("p3", "declined")), timestamp: t0 + 1200 },
      { key: "tie-order-last", value: json(payment("p4")), timestamp: t0 + 1200 },
      { key: long3k, value: json(payment("p-3k")), timestamp: t0 + 1300 },
      { key: long10k, value: json(payment("p-10k")), timestamp: t0 + 1400 },
    ]);
    // After its payments in event time too: a task takes the smallest timestamp first across its inputs.
    await produceAll(Topics.orders, [
      { key: "tie-order-last", value: json(order(t0 + 1250)), timestamp: t0 + 1250 },
    ]);
    // The clock payment: pushes the join's clock past every deadline, so nothing is left waiting.
    await produceAll(Topics.payments, [
      { key: "clock", value: json(payment("clock")), timestamp: t0 + 100_000 },
    ]);

    worker = new InProcessWorker(topology);
    await worker.start();
    const expected: Record<string, string> = {
      dup: "CONFIRMED",
      "tie-order-first": "REJECTED_PAYMENT:declined",
      "tie-order-last": "REJECTED_PAYMENT:declined",
      [long3k]: "CONFIRMED",
      [long10k]: "CONFIRMED",
    };
    const statuses = await consumeAll(Topics.orderStatus, {
      timeoutMs: 90_000,
      isolation: "read_committed",
      expected: Object.keys(expected).length,
    });
    const got: Record<string, string> = {};
    for (const r of statuses) {
      const v = JSON.parse(r.value!) as { orderId: string; status: string; reason?: string };
      expect(got[v.orderId], `one status for ${v.orderId.slice(0, 20)}`).toBeUndefined();
      got[v.orderId] = v.reason ? `${v.status}:${v.reason}` : v.status;
    }
    expect(got).toEqual(expected);

    const validated = await consumeAll(Topics.ordersValidated, {
      timeoutMs: 30_000,
      isolation: "read_committed",
    });
    expect(validated.filter((r) => r.key === "dup")).toHaveLength(1);

    const dead = await waitFor("both broken clocks in the dead-letter topic", async () => {
      const records = await consumeAll(topology.deadLetterTopic, {
        timeoutMs: 10_000,
        isolation: "read_committed",
      });
      return records.length >= 2 ? records : undefined;
    });
    expect(
      dead.map((d) => [d.key, d.headers[DeadLetterHeader.topic], d.headers[DeadLetterHeader.errorClass]]),
    ).toEqual(
      expect.arrayContaining([
        ["future", Topics.orders, "InvalidTimestampError"],
        ["stray", Topics.payments, "InvalidTimestampError"],
      ]),
    );
    expect(dead).toHaveLength(2);
    expect(worker.logged("worker failed")).toEqual([]);
  });
});
