import { map } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { DeadLetterHeader, Serdes, Stores, TopologyTestDriver } from "../topology/index.js";
import { Topics, createTopology } from "./app.js";
import type { Order } from "./orders.js";
import { emitted, record, testContext, useRiskService } from "./test-support.js";
import { DUPLICATE_ORDER_LABEL, dedupeOrders, validateOrder } from "./validate-orders.js";

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

const stores = { seen: Stores.keyValue(Serdes.string(), Serdes.number()) };
const dedupe = dedupeOrders({ seenStore: "seen" });

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe("validateOrder", () => {
  it("passes a valid order on (total = sum of lines, in cents despite float rounding)", () => {
    expect(validateOrder("o1", order())).toEqual({ orderId: "o1", ...order(), totalCents: 2029 });
  });

  const invalid: Array<[string, unknown]> = [
    ["malformed", { customerId: "c1", total: 1, currency: "EUR", createdAt: 1 }],
    ["malformed", "not an object"],
    ["malformed", null],
    ["empty-lines", order({ lines: [], total: 0 })],
    ["bad-quantity", order({ lines: [{ sku: "A", qty: 1.5, unitPrice: 2 }], total: 3 })],
    ["bad-quantity", order({ lines: [{ sku: "A", qty: 0, unitPrice: 2 }], total: 0 })],
    ["negative-price", order({ lines: [{ sku: "A", qty: 1, unitPrice: -2 }], total: -2 })],
    ["total-mismatch", order({ total: 20.3 })],
    ["unsupported-currency", order({ currency: "XTS" })],
  ];
  it.each(invalid)("rejects %s orders with REJECTED_INVALID and the reason", (reason, value) => {
    expect(validateOrder("o1", value)).toEqual({
      orderId: "o1",
      status: "REJECTED_INVALID",
      reason,
      detail: expect.any(String),
    });
  });
});

describe("dedupeOrders (marbles)", () => {
  it("drops a duplicate orderId (valid or not) without a second record, and counts it", () => {
    const ctx = testContext(stores);
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold("-a-b-c-d|", {
        a: record("o1", order(), 1000),
        b: record("o1", order(), 5000), // duplicate of a valid order
        c: record("o2", order({ lines: [] }), 6000),
        d: record("o2", order({ lines: [] }), 7000), // duplicate of an invalid order
      });
      expectObservable(input.pipe(dedupe(ctx), map(emitted))).toBe("-x---y--|", {
        x: { key: "o1", value: order() },
        y: { key: "o2", value: order({ lines: [] }) },
      });
    });
    expect(ctx.counts.get(DUPLICATE_ORDER_LABEL)).toBe(2);
  });
});

describe("order validation in the topology (TopologyTestDriver)", () => {
  const risk = useRiskService();

  it("remembers an orderId for the TTL of stream time after it was seen, then forgets it", async () => {
    const driver = new TopologyTestDriver(
      createTopology({ partitions: 1, riskUrl: risk.url }, { dedupeRetentionMs: 60_000 }),
    );
    try {
      driver.pipeInput(Topics.orders, [
        { key: "o1", value: order(), timestamp: 1000 },
        { key: "o1", value: order(), timestamp: 60_999 }, // within the TTL: dropped
        { key: "o2", value: order(), timestamp: 61_000 }, // stream time 61000: o1's entry (1000) expires
        { key: "o1", value: order(), timestamp: 61_001 }, // forgotten: a new order
      ]);
      await driver.settle(); // the risk check (processAsync) before orders-validated
      expect(driver.readOutput(Topics.ordersValidated).map((r) => r.key)).toEqual(["o1", "o2", "o1"]);
    } finally {
      driver.close();
    }
  });

  it("routes valid orders to orders-validated, invalid ones to order-status, malformed bytes to the DLQ", async () => {
    const driver = new TopologyTestDriver(createTopology({ partitions: 1, riskUrl: risk.url }));
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
      await driver.settle();
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
