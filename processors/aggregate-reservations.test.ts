import { describe, expect, it } from "vitest";
import { TopologyTestDriver } from "../topology/index.js";
import { decideReservation, lineAnswers } from "./aggregate-reservations.js";
import { Topics, createTopology } from "./app.js";
import type { Order, StockResult } from "./orders.js";
import { useRiskService } from "./test-support.js";

describe("lineAnswers / decideReservation", () => {
  const answer = (sku: string, line: number, lines: number, reserved: boolean, qty = 1): StockResult => ({
    orderId: "o1",
    sku,
    qty,
    line,
    lines,
    reserved,
  });
  const fold = (answers: StockResult[]) =>
    answers.reduce((acc, a) => lineAnswers.aggregator("o1", a, acc), lineAnswers.initializer());

  it("decides nothing until every line has answered, then confirms when all are reserved, in any arrival order", () => {
    const a = answer("A", 0, 3, true);
    const b = answer("B", 1, 3, true);
    const c = answer("C", 2, 3, true);
    expect(decideReservation("o1", fold([b, a]))).toEqual([]);
    for (const order of [
      [b, a, c],
      [c, b, a],
    ])
      expect(decideReservation("o1", fold(order))).toEqual([
        { key: "o1", value: { orderId: "o1", status: "CONFIRMED" } },
      ]);
    expect(fold([a, a, b])).toHaveLength(2); // one answer per line
    expect(decideReservation("o1", null)).toEqual([]); // an expired aggregate
  });

  it("rejects a partially refused order naming the first refused sku, and releases the reserved lines", () => {
    expect(
      decideReservation(
        "o1",
        fold([answer("C", 2, 3, false), answer("A", 0, 3, true, 2), answer("B", 1, 3, false)]),
      ),
    ).toEqual([
      { key: "o1", value: { orderId: "o1", status: "REJECTED_STOCK", reason: "out-of-stock", sku: "B" } },
      { key: "A", value: { type: "release", orderId: "o1", sku: "A", qty: 2 } },
    ]);
  });
});

describe("stock reservation in the topology (TopologyTestDriver)", () => {
  const order = (lines: Array<[string, number]>): Order => ({
    customerId: "c",
    lines: lines.map(([sku, qty]) => ({ sku, qty, unitPrice: 1 })),
    total: lines.reduce((s, [, q]) => s + q, 0),
    currency: "EUR",
    createdAt: 1000,
  });
  const pay = (amount: number) => ({ paymentId: "p", amount, currency: "EUR", status: "authorized" });

  const risk = useRiskService();

  it("compensates a partially refused order: its reserved lines go back to stock through the feedback topic", async () => {
    const driver = new TopologyTestDriver(createTopology({ partitions: 3, riskUrl: risk.url }));
    try {
      driver.pipeInput(Topics.restocks, [
        { key: "A", value: { qty: 5 }, timestamp: 0 },
        { key: "B", value: { qty: 1 }, timestamp: 0 },
      ]);
      driver.pipeInput(Topics.orders, [
        {
          key: "o1",
          value: order([
            ["A", 2],
            ["B", 2],
          ]),
          timestamp: 1000,
        },
        { key: "o2", value: order([["A", 5]]), timestamp: 1000 },
      ]);
      await driver.settle(); // the risk check, before the payments
      driver.pipeInput(Topics.payments, [
        { key: "o1", value: pay(4), timestamp: 1500 },
        { key: "o2", value: pay(5), timestamp: 1500 },
      ]);
      expect(driver.readOutput(Topics.orderStatus).map((r) => r.value)).toEqual([
        { orderId: "o1", status: "REJECTED_STOCK", reason: "out-of-stock", sku: "B" },
        { orderId: "o2", status: "CONFIRMED" },
      ]);
      const levels = new Map(
        driver.readOutput<string, { level: number }>(Topics.stockLevels).map((r) => [r.key, r.value.level]),
      );
      expect(Object.fromEntries(levels)).toEqual({ A: 0, B: 1 });
      const stock = (sku: string) =>
        [0, 1, 2]
          .map((p) => driver.keyValueStore<string, number>("stock", p).get(sku))
          .find((v) => v !== undefined);
      expect(stock("A")).toBe(0);
      expect(stock("B")).toBe(1);
      expect(
        driver.records(Topics.stockRequests).some((r) => JSON.parse(r.value!.toString()).type === "release"),
      ).toBe(true);
    } finally {
      driver.close();
    }
  });
});
