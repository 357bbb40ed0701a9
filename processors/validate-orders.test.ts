import { map } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { DeadLetterHeader, Serdes, Stores, TopologyTestDriver } from "../topology/index.js";
import { Topics, createTopology } from "./app.js";
import type { Order } from "./orders.js";
import { emitted, record, testContext } from "./test-support.js";
import { DUPLICATE_ORDER_LABEL, validateOrders } from "./validate-orders.js";

const order = (overrides: Partial<Order> = {}): Order => ({
  customerId: "c1",
  lines: [
    { sku: "A", qty: 3, unitPrice: 0.1 },
    { sku: "B", qty: 1, unitPrice: 19.99 },
  ],
  total: 20.29,
  currency: "EUR",
  createdAt: 1000,
  ...overrides,
});

const stores = { seen: Stores.window(Serdes.string(), Serdes.number(), { retentionMs: 60_000 }) };
const validate = validateOrders({ seenStore: "seen", dedupeRetentionMs: 60_000 });

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe("validateOrders (marbles)", () => {
  it("passes a valid order on (total = sum of lines, in cents despite float rounding)", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a|", { a: record("o1", order(), 1000) });
      const out = input.pipe(validate(testContext(stores)), map(emitted));
      expectObservable(out).toBe("-x|", {
        x: { key: "o1", value: { orderId: "o1", ...order(), totalCents: 2029 } },
      });
    });
  });

  const invalid: Array<[string, unknown]> = [
    ["malformed", { customerId: "c1", total: 1, currency: "EUR", createdAt: 1 }],
    ["malformed", "not an object"],
    ["empty-lines", order({ lines: [], total: 0 })],
    ["bad-quantity", order({ lines: [{ sku: "A", qty: 1.5, unitPrice: 2 }], total: 3 })],
    ["bad-quantity", order({ lines: [{ sku: "A", qty: 0, unitPrice: 2 }], total: 0 })],
    ["negative-price", order({ lines: [{ sku: "A", qty: 1, unitPrice: -2 }], total: -2 })],
    ["total-mismatch", order({ total: 20.3 })],
    ["unsupported-currency", order({ currency: "XTS" })],
  ];
  it.each(invalid)("rejects %s orders with REJECTED_INVALID and the reason", (reason, value) => {
    scheduler().run(({ cold, expectObservable }) => {
      const ctx = testContext(stores);
      const out = cold("-a|", { a: record("o1", value, 1000) }).pipe(
        validate(ctx),
        map((e) => e.value),
      );
      expectObservable(out).toBe("-x|", {
        x: { orderId: "o1", status: "REJECTED_INVALID", reason, detail: expect.any(String) },
      });
    });
  });

  it("drops a duplicate orderId within the window without a second status, and counts it", () => {
    const ctx = testContext(stores);
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a-b-c-d|", {
        a: record("o1", order(), 1000),
        b: record("o1", order(), 5000), // duplicate of a valid order
        c: record("o2", order({ lines: [] }), 6000),
        d: record("o2", order({ lines: [] }), 7000), // duplicate of an invalid order
      });
      const out = input.pipe(
        validate(ctx),
        map((e) => e.key),
      );
      expectObservable(out).toBe("-x---y--|", { x: "o1", y: "o2" });
    });
    expect(ctx.counts.get(DUPLICATE_ORDER_LABEL)).toBe(2);
    expect(ctx.counts.get("REJECTED_INVALID")).toBe(1);
  });

  it("forgets an orderId once the dedupe window has passed", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a-b|", {
        a: record("o1", order(), 1000),
        b: record("o1", order(), 1000 + 120_000),
      });
      expectObservable(
        input.pipe(
          validate(testContext(stores)),
          map((e) => e.key),
        ),
      ).toBe("-x-y|", { x: "o1", y: "o1" });
    });
  });
});

describe("order validation in the topology (TopologyTestDriver)", () => {
  it("routes valid orders to orders-validated, invalid ones to order-status, malformed bytes to the DLQ", () => {
    const driver = new TopologyTestDriver(createTopology({ partitions: 1 }));
    try {
      driver.pipeInput(Topics.orders, [
        { key: "o1", value: order(), timestamp: 1000 },
        { key: "o2", value: order({ currency: "XTS" }), timestamp: 1001 },
        { key: "o1", value: order(), timestamp: 1002 },
      ]);
      driver.pipeRaw(Topics.orders, {
        key: Buffer.from("o3"),
        value: Buffer.from("{not json"),
        timestamp: 1003,
      });
      expect(driver.readOutput(Topics.ordersValidated).map((r) => r.key)).toEqual(["o1"]);
      expect(driver.readOutput(Topics.orderStatus).map((r) => r.value)).toEqual([
        {
          orderId: "o2",
          status: "REJECTED_INVALID",
          reason: "unsupported-currency",
          detail: expect.any(String),
        },
      ]);
      const dead = driver.deadLetters();
      expect(dead).toHaveLength(1);
      expect(dead[0]!.key?.toString()).toBe("o3");
      expect(dead[0]!.headers[DeadLetterHeader.topic]).toBe(Topics.orders);
    } finally {
      driver.close();
    }
  });
});
