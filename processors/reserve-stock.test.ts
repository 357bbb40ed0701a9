import { map } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { Serdes, Stores } from "../topology/index.js";
import type { PaidOrder, StockCommand } from "./orders.js";
import { reserveStock } from "./reserve-stock.js";
import { restockCommand, splitLines } from "./split-lines.js";
import { emitted, record, testContext } from "./test-support.js";

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const stores = { stock: Stores.keyValue(Serdes.string(), Serdes.number()) };
const reserve = (orderId: string, sku: string, qty: number, line = 0, lines = 1): StockCommand => ({
  type: "reserve",
  orderId,
  sku,
  qty,
  line,
  lines,
});

describe("reserveStock (marbles)", () => {
  it("reserves while stock lasts, refuses without going below zero, restocks and releases add", () => {
    const ctx = testContext(stores);
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a---b---c---d---e---|", {
        a: record<string, StockCommand>("A", { type: "restock", sku: "A", qty: 5 }, 0),
        b: record("A", reserve("o1", "A", 3), 1),
        c: record("A", reserve("o2", "A", 3), 2),
        d: record<string, StockCommand>("A", { type: "release", orderId: "o1", sku: "A", qty: 3 }, 3),
        e: record("A", reserve("o2", "A", 3), 4),
      });
      expectObservable(input.pipe(reserveStock({ stockStore: "stock" })(ctx), map(emitted))).toBe(
        "-a---(bc)d---e---(fg)|",
        {
          a: { key: "A", value: { sku: "A", level: 5 } },
          b: { key: "A", value: { sku: "A", level: 2 } },
          c: { key: "o1", value: { orderId: "o1", sku: "A", qty: 3, line: 0, lines: 1, reserved: true } },
          d: { key: "o2", value: { orderId: "o2", sku: "A", qty: 3, line: 0, lines: 1, reserved: false } },
          e: { key: "A", value: { sku: "A", level: 5 } },
          f: { key: "A", value: { sku: "A", level: 2 } },
          g: { key: "o2", value: { orderId: "o2", sku: "A", qty: 3, line: 0, lines: 1, reserved: true } },
        },
      );
    });
    expect(ctx.keyValueStore<string, number>("stock").get("A")).toBe(2);
  });

  it("refuses an sku it has never seen (no stock is zero stock)", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a|", { a: record("Z", reserve("o1", "Z", 1), 0) });
      expectObservable(
        input.pipe(
          reserveStock({ stockStore: "stock" })(testContext(stores)),
          map((e) => e.value),
        ),
      ).toBe("-x|", { x: { orderId: "o1", sku: "Z", qty: 1, line: 0, lines: 1, reserved: false } });
    });
  });
});

describe("splitLines / restockCommand", () => {
  it("splits a paid order into one reserve command per line, keyed by sku", () => {
    const paid: PaidOrder = {
      orderId: "o1",
      customerId: "c",
      lines: [
        { sku: "A", qty: 1, unitPrice: 1 },
        { sku: "B", qty: 2, unitPrice: 1 },
      ],
      total: 3,
      totalCents: 300,
      currency: "EUR",
      createdAt: 0,
      paymentId: "p1",
      paidAt: 1,
    };
    expect(splitLines(record("o1", paid, 0))).toEqual([
      { key: "A", value: reserve("o1", "A", 1, 0, 2) },
      { key: "B", value: reserve("o1", "B", 2, 1, 2) },
    ]);
  });

  it("turns a restock into a restock command", () => {
    expect(restockCommand({ qty: 4 }, record("A", { qty: 4 }, 0))).toEqual({
      type: "restock",
      sku: "A",
      qty: 4,
    });
  });
});
