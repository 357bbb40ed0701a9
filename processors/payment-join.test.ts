/**
 * The payment join of the order pipeline (a windowed left join of validated orders and payments on the payments'
 * own time, then the first decision per order), through the topology in the test driver: either side may come
 * first, a timeout comes only from the payments side's time, one decision per order.
 */
import { describe, expect, it } from "vitest";
import { TopologyTestDriver } from "../topology/index.js";
import { Topics, createTopology } from "./app.js";
import type { Payment, ValidatedOrder } from "./orders.js";
import { decidePayment, firstDecision } from "./payment-join.js";
import { oneLineOrder, useRiskService } from "./test-support.js";

const W = 10_000;
const GRACE = 2_000;
const order = oneLineOrder; // one line of sku A, total 5 EUR

const payment = (
  id: string,
  amount = 5,
  status: Payment["status"] = "authorized",
  currency = "EUR",
): Payment => ({
  paymentId: id,
  amount,
  currency,
  status,
});

type Step = ["order" | "payment", string, number, Payment?];

const risk = useRiskService();

/**
 * Pipes the steps one record at a time; returns each order's outcome (`PAID` or the rejection reason). An order
 * passes the risk check (an asynchronous call) before the join: each order step settles it, so the join sees the
 * steps in the order given.
 */
async function outcomes(steps: Step[]): Promise<Record<string, string>> {
  const driver = new TopologyTestDriver(
    createTopology({ partitions: 1, riskUrl: risk.url }, { joinWindowMs: W, joinGraceMs: GRACE }),
  );
  try {
    driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 1000 }, timestamp: 0 }]);
    for (const [side, key, t, pay] of steps)
      if (side === "order") {
        driver.pipeInput(Topics.orders, [{ key, value: order(t), timestamp: t }]);
        await driver.settle();
      } else driver.pipeInput(Topics.payments, [{ key, value: pay ?? payment(`p-${key}`), timestamp: t }]);
    const out: Record<string, string> = {};
    for (const r of driver.readOutput(Topics.ordersPaid)) {
      expect(out[r.key as string], `a second decision for ${String(r.key)}`).toBeUndefined();
      out[r.key as string] = "PAID";
    }
    for (const r of driver.readOutput(Topics.orderStatus)) {
      const v = r.value as { orderId: string; status: string; reason?: string };
      if (v.status !== "REJECTED_PAYMENT") continue;
      expect(out[v.orderId], `a second decision for ${v.orderId}`).toBeUndefined();
      out[v.orderId] = v.reason!;
    }
    return out;
  } finally {
    driver.close();
  }
}

describe("decidePayment / firstDecision", () => {
  const validated: ValidatedOrder = {
    orderId: "o1",
    customerId: "c",
    lines: [{ sku: "A", qty: 1, unitPrice: 12.5 }],
    total: 12.5,
    totalCents: 1250,
    currency: "EUR",
    createdAt: 0,
  };
  it("paid, declined, amount or currency mismatch, and no payment (timeout)", () => {
    expect(decidePayment({ order: validated, payment: payment("p", 12.5) }, 7)).toEqual({
      ...validated,
      paymentId: "p",
      paidAt: 7,
    });
    const reason = (p: Payment | null) =>
      (decidePayment({ order: validated, payment: p }, 0) as { reason: string }).reason;
    expect(reason(payment("p", 12.5, "declined"))).toBe("declined");
    expect(reason(payment("p", 12.49))).toBe("amount-mismatch");
    expect(reason(payment("p", 12.5, "authorized", "USD"))).toBe("amount-mismatch");
    expect(reason(null)).toBe("timeout");
  });

  it("keeps the first decision and counts the rest", () => {
    const paid = decidePayment({ order: validated, payment: payment("p", 12.5) }, 1);
    const declined = decidePayment({ order: validated, payment: payment("q", 12.5, "declined") }, 1);
    const first = firstDecision.aggregator("o1", paid, firstDecision.initializer());
    expect(firstDecision.aggregator("o1", declined, first)).toEqual({ decision: paid, results: 2 });
  });
});

describe("payment join in the topology (TopologyTestDriver)", () => {
  it("matches a payment that arrives after or before its order (either side may come first)", async () => {
    expect(
      await outcomes([
        ["order", "o1", 1000],
        ["payment", "o1", 3000],
      ]),
    ).toEqual({ o1: "PAID" });
    expect(
      await outcomes([
        ["payment", "o1", 3000],
        ["order", "o1", 1000],
      ]),
    ).toEqual({ o1: "PAID" });
  });

  it("rejects declined payments and amount or currency mismatches", async () => {
    expect(
      await outcomes([
        ["order", "o1", 1000],
        ["payment", "o1", 1500, payment("p1", 5, "declined")],
        ["payment", "o2", 1500, payment("p2", 4.99)],
        ["order", "o2", 1200],
        ["order", "o3", 1300],
        ["payment", "o3", 1600, payment("p3", 5, "authorized", "USD")],
      ]),
    ).toEqual({ o1: "declined", o2: "amount-mismatch", o3: "amount-mismatch" });
  });

  it("a duplicate payment gives one decision, whether the order comes first or last", async () => {
    expect(
      await outcomes([
        ["payment", "o1", 2000],
        ["payment", "o1", 2000],
        ["order", "o1", 1000],
      ]),
    ).toEqual({ o1: "PAID" });
    expect(
      await outcomes([
        ["order", "o1", 1000],
        ["payment", "o1", 2000],
        ["payment", "o1", 2000],
      ]),
    ).toEqual({ o1: "PAID" });
  });

  it("times an order out once the payments' time passes order time + window + grace, not at it", async () => {
    const deadline = 1000 + W + GRACE;
    expect(
      await outcomes([
        ["order", "o1", 1000],
        ["payment", "other", 5000],
        ["payment", "other2", deadline],
      ]),
    ).toEqual({});
    expect(
      await outcomes([
        ["order", "o1", 1000],
        ["payment", "other", deadline + 1],
      ]),
    ).toEqual({ o1: "timeout" });
  });

  it("does not time out while only the orders side has moved on (skew between the inputs)", async () => {
    expect(
      await outcomes([
        ["order", "o1", 1000],
        ["order", "o2", 1_000_000],
        ["payment", "o1", 4000],
      ]),
    ).toEqual({
      o1: "PAID",
    });
  });

  it("a late payment (outside the window) does not match; the order times out", async () => {
    expect(
      await outcomes([
        ["order", "o1", 1000],
        ["payment", "o1", 1000 + W + GRACE + 500],
      ]),
    ).toEqual({ o1: "timeout" });
  });

  it("an order arriving after the payments' time passed its deadline times out at once, unless its payment waits", async () => {
    expect(
      await outcomes([
        ["payment", "o2", 2000],
        ["payment", "tick", 100_000],
        ["order", "o1", 1000],
      ]),
    ).toEqual({
      o1: "timeout",
    });
    expect(
      await outcomes([
        ["payment", "o1", 2000],
        ["payment", "tick", 100_000],
        ["order", "o1", 1000],
      ]),
    ).toEqual({
      o1: "PAID",
    });
  });

  it("joins payment-before-order, times out unpaid orders, keeps one status per order, ignores payments after", async () => {
    const driver = new TopologyTestDriver(
      createTopology({ partitions: 1, riskUrl: risk.url }, { joinWindowMs: W, joinGraceMs: GRACE }),
    );
    try {
      driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 100 }, timestamp: 0 }]);
      driver.pipeInput(Topics.payments, [{ key: "o1", value: payment("p1", 5), timestamp: 900 }]);
      driver.pipeInput(Topics.orders, [
        { key: "o1", value: order(1000), timestamp: 1000 },
        { key: "o2", value: order(1100), timestamp: 1100 },
        { key: "o3", value: order(1200), timestamp: 1200 },
      ]);
      await driver.settle();
      driver.pipeInput(Topics.payments, [
        { key: "o3", value: payment("p3", 5, "declined"), timestamp: 1300 },
        { key: "o3", value: payment("p3", 5, "declined"), timestamp: 1300 },
      ]);
      expect(driver.readOutput(Topics.ordersPaid).map((r) => r.key)).toEqual(["o1"]);
      // The payments' time passes o2's deadline: o2 times out.
      driver.pipeInput(Topics.payments, [
        { key: "clock", value: payment("clock", 1), timestamp: 1100 + W + GRACE + 1 },
      ]);
      expect(driver.readOutput(Topics.orderStatus).map((r) => r.value)).toEqual([
        { orderId: "o1", status: "CONFIRMED" },
        { orderId: "o3", status: "REJECTED_PAYMENT", reason: "declined" },
        { orderId: "o2", status: "REJECTED_PAYMENT", reason: "timeout" },
      ]);
      // A payment for o2 arriving now changes nothing: o2 is decided.
      driver.pipeInput(Topics.payments, [
        { key: "o2", value: payment("p2", 5), timestamp: 1200 + W + GRACE },
      ]);
      expect(driver.readOutput(Topics.orderStatus)).toEqual([]);
    } finally {
      driver.close();
    }
  });
});
