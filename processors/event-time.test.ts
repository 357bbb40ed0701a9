/**
 * Event time that one bad clock cannot break (issue "Event time that one bad clock cannot break", cases 1 and 2), in
 * the test driver with the order pipeline: a record stamped far ahead of wall-clock time is dead-lettered at the
 * source with the reason, and never moves stream time, the dedupe window or the payment join's clock.
 */
import { describe, expect, it } from "vitest";
import { DeadLetterHeader, TopologyTestDriver } from "../topology/index.js";
import { Topics, createTopology } from "./app.js";
import type { Order, Payment } from "./orders.js";

const order = (createdAt: number, total = 5): Order => ({
  customerId: "c",
  lines: [{ sku: "A", qty: 1, unitPrice: total }],
  total,
  currency: "EUR",
  createdAt,
});
const payment = (id: string, amount = 5): Payment => ({
  paymentId: id,
  amount,
  currency: "EUR",
  status: "authorized",
});
const YEAR_2100 = Date.UTC(2100, 0, 1);
const YEAR_MS = 365 * 24 * 3600_000;

describe("the source's future-skew guard in the order pipeline", () => {
  it("an order stamped in 2100 is dead-lettered; a duplicate pair after it still yields one validated copy", () => {
    const now = Date.now();
    const driver = new TopologyTestDriver(createTopology({ partitions: 1 }), { wallClockMs: now });
    try {
      driver.pipeInput(Topics.orders, [{ key: "future", value: order(YEAR_2100), timestamp: YEAR_2100 }]);
      driver.pipeInput(Topics.orders, [
        { key: "o1", value: order(now), timestamp: now },
        { key: "o1", value: order(now), timestamp: now + 10 },
      ]);
      expect(driver.readOutput(Topics.ordersValidated).map((r) => r.key)).toEqual(["o1"]);
      const letters = driver.deadLetters();
      expect(letters.map((l) => [l.key?.toString(), l.headers[DeadLetterHeader.errorClass]])).toEqual([
        ["future", "InvalidTimestampError"],
      ]);
      expect(letters[0]!.headers[DeadLetterHeader.errorMessage]).toMatch(/ahead of wall-clock time/);
    } finally {
      driver.close();
    }
  });

  it("a payment stamped a year ahead is dead-lettered and does not time out the other orders", () => {
    const now = Date.now();
    const driver = new TopologyTestDriver(createTopology({ partitions: 1 }), { wallClockMs: now });
    try {
      driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 100 }, timestamp: now - 1000 }]);
      driver.pipeInput(Topics.orders, [
        { key: "o1", value: order(now), timestamp: now },
        { key: "o2", value: order(now + 1), timestamp: now + 1 },
      ]);
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
      driver.close();
    }
  });
});
