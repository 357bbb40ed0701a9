import { map } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { Serdes, Stores, TopologyTestDriver } from "../topology/index.js";
import { aggregateReservations } from "./aggregate-reservations.js";
import { Topics, createTopology } from "./app.js";
import type { Order, StockResult } from "./orders.js";
import { emitted, record, testContext } from "./test-support.js";

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const stores = { reservations: Stores.keyValue(Serdes.string(), Serdes.json<StockResult[]>()) };
const result = (orderId: string, sku: string, line: number, lines: number, reserved: boolean, qty = 1) =>
  record<string, StockResult>(orderId, { orderId, sku, qty, line, lines, reserved }, 0);

describe("aggregateReservations (marbles)", () => {
  it("confirms an order once every line is reserved, in any arrival order", () => {
    const ctx = testContext(stores);
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a-b-c|", {
        a: result("o1", "B", 1, 3, true),
        b: result("o1", "A", 0, 3, true),
        c: result("o1", "C", 2, 3, true),
      });
      expectObservable(
        input.pipe(aggregateReservations({ reservationsStore: "reservations" })(ctx), map(emitted)),
      ).toBe("-----x|", { x: { key: "o1", value: { orderId: "o1", status: "CONFIRMED" } } });
    });
    expect(ctx.counts.get("CONFIRMED")).toBe(1);
    expect([...ctx.keyValueStore("reservations").range()]).toEqual([]);
  });

  it("rejects a partially refused order naming the first refused sku, and releases the reserved lines", () => {
    const ctx = testContext(stores);
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a-b-c-----|", {
        a: result("o1", "C", 2, 3, false),
        b: result("o1", "A", 0, 3, true, 2),
        c: result("o1", "B", 1, 3, false),
      });
      expectObservable(
        input.pipe(aggregateReservations({ reservationsStore: "reservations" })(ctx), map(emitted)),
      ).toBe("-----(xy)--|", {
        x: {
          key: "o1",
          value: { orderId: "o1", status: "REJECTED_STOCK", reason: "out-of-stock", sku: "B" },
        },
        y: { key: "A", value: { type: "release", orderId: "o1", sku: "A", qty: 2 } },
      });
    });
    expect(ctx.counts.get("REJECTED_STOCK")).toBe(1);
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

  it("compensates a partially refused order: its reserved lines go back to stock through the feedback topic", () => {
    const driver = new TopologyTestDriver(createTopology({ partitions: 3 }));
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
