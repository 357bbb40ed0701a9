/**
 * Event time that one bad clock cannot break (issue "Event time that one bad clock cannot break", cases 1 and 2), in
 * the test driver with the order pipeline: a record stamped far ahead of wall-clock time is dead-lettered at the
 * source with the reason, and never moves stream time, the dedupe window or the payment join's clock.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openLmdbState } from "../state/index.js";
import { DeadLetterHeader, TopologyTestDriver } from "../topology/index.js";
import { Topics, createTopology } from "./app.js";
import type { Payment } from "./orders.js";
import { oneLineOrder, useRiskService } from "./test-support.js";

const order = oneLineOrder;
const payment = (id: string, amount = 5): Payment => ({
  paymentId: id,
  amount,
  currency: "EUR",
  status: "authorized",
});
const YEAR_2100 = Date.UTC(2100, 0, 1);
const YEAR_MS = 365 * 24 * 3600_000;
const risk = useRiskService();

/** The order pipeline in the test driver on a state backend, and a cleanup. */
function pipeline(backend: "memory" | "lmdb", now: number) {
  const dir = mkdtempSync(join(tmpdir(), "weir-event-time-"));
  const driver = new TopologyTestDriver(createTopology({ partitions: 1, riskUrl: risk.url }), {
    wallClockMs: now,
    ...(backend === "lmdb" ? { state: openLmdbState({ path: dir }) } : {}),
  });
  return {
    driver,
    close: () => {
      driver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each(["memory", "lmdb"] as const)(
  "the source's future-skew guard in the order pipeline (%s)",
  (backend) => {
    it("an order stamped in 2100 is dead-lettered; a duplicate pair after it still yields one validated copy", async () => {
      const now = Date.now();
      const { driver, close } = pipeline(backend, now);
      try {
        driver.pipeInput(Topics.orders, [{ key: "future", value: order(YEAR_2100), timestamp: YEAR_2100 }]);
        driver.pipeInput(Topics.orders, [
          { key: "o1", value: order(now), timestamp: now },
          { key: "o1", value: order(now), timestamp: now + 10 },
        ]);
        await driver.settle(); // the risk check
        expect(driver.readOutput(Topics.ordersValidated).map((r) => r.key)).toEqual(["o1"]);
        const letters = driver.deadLetters();
        expect(letters.map((l) => [l.key?.toString(), l.headers[DeadLetterHeader.errorClass]])).toEqual([
          ["future", "InvalidTimestampError"],
        ]);
        expect(letters[0]!.headers[DeadLetterHeader.errorMessage]).toMatch(/ahead of wall-clock time/);
      } finally {
        close();
      }
    });

    it("a payment stamped a year ahead is dead-lettered and does not time out the other orders", async () => {
      const now = Date.now();
      const { driver, close } = pipeline(backend, now);
      try {
        driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 100 }, timestamp: now - 1000 }]);
        driver.pipeInput(Topics.orders, [
          { key: "o1", value: order(now), timestamp: now },
          { key: "o2", value: order(now + 1), timestamp: now + 1 },
        ]);
        await driver.settle();
        driver.pipeInput(Topics.payments, [
          { key: "stray", value: payment("p-stray"), timestamp: now + YEAR_MS },
          { key: "o1", value: payment("p1"), timestamp: now + 100 },
          { key: "o2", value: payment("p2"), timestamp: now + 200 },
        ]);
        const statuses = driver.readOutput(Topics.orderStatus).map((r) => r.value);
        expect(statuses).toEqual([
          { orderId: "o1", status: "CONFIRMED" },
          { orderId: "o2", status: "CONFIRMED" },
        ]);
        expect(driver.deadLetters().map((l) => l.key?.toString())).toEqual(["stray"]);
      } finally {
        close();
      }
    });
  },
);

describe("payments tied on time", () => {
  const now = Date.now();
  const declined: Payment = { paymentId: "p-declined", amount: 5, currency: "EUR", status: "declined" };
  const authorized: Payment = { paymentId: "p-ok", amount: 5, currency: "EUR", status: "authorized" };

  type Input = { topic: string; key: string; value: unknown; timestamp: number };
  /**
   * Statuses by order id after piping `inputs` one record at a time in the given order (each order settles its
   * risk check before the next record, so the join sees them in that order).
   */
  async function statuses(inputs: Input[]): Promise<Record<string, string>> {
    const driver = new TopologyTestDriver(createTopology({ partitions: 1, riskUrl: risk.url }), {
      wallClockMs: now,
    });
    try {
      driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 1000 }, timestamp: now - 60_000 }]);
      for (const r of inputs) {
        driver.pipeInput(r.topic, [{ key: r.key, value: r.value, timestamp: r.timestamp }]);
        if (r.topic === Topics.orders) await driver.settle();
      }
      const out: Record<string, string> = {};
      for (const r of driver.readOutput(Topics.orderStatus)) {
        const v = r.value as { orderId: string; status: string; reason?: string };
        out[v.orderId] = v.reason ? `${v.status}:${v.reason}` : v.status;
      }
      return out;
    } finally {
      driver.close();
    }
  }

  it("two payments at the order's time, declined first: declined whether the order comes first or last", async () => {
    const t = now - 30_000;
    const o = { topic: Topics.orders, key: "o1", value: order(t), timestamp: t };
    const p1 = { topic: Topics.payments, key: "o1", value: declined, timestamp: t };
    const p2 = { topic: Topics.payments, key: "o1", value: authorized, timestamp: t };
    expect(await statuses([o, p1, p2])).toEqual({ o1: "REJECTED_PAYMENT:declined" });
    expect(await statuses([p1, p2, o])).toEqual({ o1: "REJECTED_PAYMENT:declined" });
    expect(await statuses([p1, o, p2])).toEqual({ o1: "REJECTED_PAYMENT:declined" });
  });

  it("any interleaving of orders and tied payments gives the same statuses (property, 50 seeded shuffles)", async () => {
    // 20 orders, each with two payments at its own time; which of the two is declined varies.
    const base = now - 600_000;
    const orders: Input[] = [];
    const payments: Input[] = [];
    for (let i = 0; i < 20; i++) {
      const t = base + i * 1000;
      orders.push({ topic: Topics.orders, key: `o${i}`, value: order(t), timestamp: t });
      const pair = i % 3 === 0 ? [authorized, declined] : [declined, authorized];
      for (const p of pair)
        payments.push({
          topic: Topics.payments,
          key: `o${i}`,
          value: { ...p, paymentId: `${p.paymentId}-${i}` },
          timestamp: t,
        });
    }
    // The clock payment pushes every deadline past, so undecided orders would time out the same way everywhere.
    payments.push({ topic: Topics.payments, key: "clock", value: authorized, timestamp: base + 300_000 });
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    /** A random merge of the two topics, each keeping its own (offset) order. */
    const interleave = (): Input[] => {
      const out: Input[] = [];
      let a = 0;
      let b = 0;
      while (a < orders.length || b < payments.length)
        out.push(
          b >= payments.length || (a < orders.length && random() < 0.5) ? orders[a++]! : payments[b++]!,
        );
      return out;
    };
    const reference = await statuses([...orders, ...payments]);
    expect(Object.keys(reference)).toHaveLength(20);
    for (let run = 0; run < 50; run++) expect(await statuses(interleave()), `run ${run}`).toEqual(reference);
    expect(await statuses([...payments.slice(0, -1), ...orders, payments.at(-1)!])).toEqual(reference);
  });
});

describe("order ids of any length (both store backends)", () => {
  for (const backend of ["memory", "lmdb"] as const)
    it(`3,000- and 10,000-byte order ids get their normal statuses (${backend})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "weir-long-ids-"));
      const now = Date.now();
      const driver = new TopologyTestDriver(createTopology({ partitions: 1, riskUrl: risk.url }), {
        wallClockMs: now,
        ...(backend === "lmdb" ? { state: openLmdbState({ path: dir }) } : {}),
      });
      try {
        const ids = ["a".repeat(3000), "b".repeat(10_000)];
        driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 100 }, timestamp: now - 60_000 }]);
        driver.pipeInput(
          Topics.orders,
          ids.map((id, i) => ({ key: id, value: order(now - 50_000 + i), timestamp: now - 50_000 + i })),
        );
        await driver.settle();
        driver.pipeInput(
          Topics.payments,
          ids.map((id, i) => ({ key: id, value: payment(`p${i}`), timestamp: now - 49_000 + i })),
        );
        const statuses = driver
          .readOutput(Topics.orderStatus)
          .map((r) => [String(r.key).length, (r.value as { status: string }).status]);
        expect(statuses).toEqual([
          [3000, "CONFIRMED"],
          [10_000, "CONFIRMED"],
        ]);
        expect(driver.deadLetters()).toHaveLength(0);
      } finally {
        driver.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
});
