import { map, type Observable } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { Serdes, Stores, TopologyTestDriver, type Emit } from "../topology/index.js";
import { Topics, createTopology } from "./app.js";
import type { Payment, ValidatedOrder } from "./orders.js";
import { paymentJoin, type JoinInput, type JoinOutput } from "./payment-join.js";
import { oneLineOrder, record, testContext } from "./test-support.js";

const W = 10_000;
const GRACE = 2_000;
const stores = {
  orders: Stores.window(Serdes.string(), Serdes.json<ValidatedOrder>(), { retentionMs: 3600_000 }),
  payments: Stores.window(Serdes.string(), Serdes.json<Payment>(), { retentionMs: 3600_000 }),
  clock: Stores.keyValue(Serdes.string(), Serdes.number()),
};
const join = paymentJoin({
  ordersStore: "orders",
  paymentsStore: "payments",
  clockStore: "clock",
  windowMs: W,
  graceMs: GRACE,
  punctuateIntervalMs: 1000,
  retentionMs: 3600_000,
});

const validated = (orderId: string, createdAt: number, total = 12.5): ValidatedOrder => ({
  orderId,
  customerId: "c",
  lines: [{ sku: "A", qty: 1, unitPrice: total }],
  total,
  totalCents: Math.round(total * 100),
  currency: "EUR",
  createdAt,
});
const payment = (
  id: string,
  amount = 12.5,
  status: Payment["status"] = "authorized",
  currency = "EUR",
): Payment => ({
  paymentId: id,
  amount,
  currency,
  status,
});
const o = (orderId: string, t: number, total?: number) =>
  record<string, JoinInput>(orderId, { side: "order", order: validated(orderId, t, total) }, t);
const p = (orderId: string, t: number, pay: Payment = payment(`p-${orderId}`)) =>
  record<string, JoinInput>(orderId, { side: "payment", payment: pay }, t);

/** What the join emitted, as `orderId:PAID` or `orderId:<reason>`. */
const outcome = (e: Emit<string, JoinOutput>): string =>
  "status" in e.value ? `${e.key}:${"reason" in e.value ? e.value.reason : e.value.status}` : `${e.key}:PAID`;

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function run(
  marbles: string,
  values: Record<string, ReturnType<typeof o>>,
  expected: string,
  outcomes: Record<string, string>,
  ticks?: (hot: (marbles: string) => Observable<number>) => Observable<number>,
) {
  scheduler().run(({ cold, hot, expectObservable }) => {
    const ctx = testContext(stores, { punctuations: ticks?.((m) => hot(m, { t: 0 })) });
    expectObservable(cold(marbles, values).pipe(join(ctx), map(outcome))).toBe(expected, outcomes);
  });
}

describe("paymentJoin (marbles)", () => {
  it("matches a payment that arrives after its order", () => {
    run("-a-b|", { a: o("o1", 1000), b: p("o1", 3000) }, "---x|", { x: "o1:PAID" });
  });

  it("matches a payment that arrives before its order (either side may come first)", () => {
    run("-b-a|", { a: o("o1", 1000), b: p("o1", 3000) }, "---x|", { x: "o1:PAID" });
  });

  it("rejects declined payments and amount or currency mismatches", () => {
    run(
      "-a-b-c-d-e-f|",
      {
        a: o("o1", 1000),
        b: p("o1", 1500, payment("p1", 12.5, "declined")),
        c: p("o2", 1500, payment("p2", 12.49)),
        d: o("o2", 1200),
        e: o("o3", 1300),
        f: p("o3", 1600, payment("p3", 12.5, "authorized", "USD")),
      },
      "---x---y---z|",
      { x: "o1:declined", y: "o2:amount-mismatch", z: "o3:amount-mismatch" },
    );
  });

  it("ignores a duplicate payment: one decision per order", () => {
    run("-a-b-c|", { a: p("o1", 2000), b: p("o1", 2000), c: o("o1", 1000) }, "-----x|", { x: "o1:PAID" });
    run("-a-b-c|", { a: o("o1", 1000), b: p("o1", 2000), c: p("o1", 2000) }, "---x--|", { x: "o1:PAID" });
  });

  it("times an order out once the payments clock passes order time + window + grace (on punctuation)", () => {
    run(
      "-a-b-c-------|",
      { a: o("o1", 1000), b: p("other", 5000), c: p("other2", 1000 + W + GRACE + 1) },
      "-------------x|",
      { x: "o1:timeout" },
      (hot) => hot("-----t-------t|"),
    );
  });

  it("does not time out while only the orders side has moved on (skew between the inputs)", () => {
    run(
      "-a-b-c-------|",
      { a: o("o1", 1000), b: o("o2", 1000_000), c: p("o1", 4000) },
      "-----x-------|",
      { x: "o1:PAID" },
      (hot) => hot("---t-----t-|"),
    );
  });

  it("a late payment (outside the window) does not match; the order times out", () => {
    run(
      "-a-b---|",
      { a: o("o1", 1000), b: p("o1", 1000 + W + GRACE + 500) },
      "-----x-|",
      { x: "o1:timeout" },
      (hot) => hot("-----t|"),
    );
  });

  it("an order arriving after the payments clock passed its deadline times out at once (unless paid)", () => {
    run("-a-b-c|", { a: p("o2", 2000), b: p("tick", 100_000), c: o("o1", 1000) }, "-----x|", {
      x: "o1:timeout",
    });
    run("-a-b-c|", { a: p("o1", 2000), b: p("tick", 100_000), c: o("o1", 1000) }, "-----x|", {
      x: "o1:PAID",
    });
  });
});

describe("payment join in the topology (TopologyTestDriver)", () => {
  const order = oneLineOrder;

  it("joins payment-before-order, expires unpaid orders on stream-time punctuation, keeps one status per order", () => {
    const driver = new TopologyTestDriver(
      createTopology({ partitions: 1 }, { joinWindowMs: W, joinGraceMs: GRACE }),
    );
    try {
      driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 100 }, timestamp: 0 }]);
      driver.pipeInput(Topics.payments, [{ key: "o1", value: payment("p1", 5), timestamp: 900 }]);
      driver.pipeInput(Topics.orders, [
        { key: "o1", value: order(1000), timestamp: 1000 },
        { key: "o2", value: order(1100), timestamp: 1100 },
        { key: "o3", value: order(1200), timestamp: 1200 },
      ]);
      driver.pipeInput(Topics.payments, [
        { key: "o3", value: payment("p3", 5, "declined"), timestamp: 1300 },
        { key: "o3", value: payment("p3", 5, "declined"), timestamp: 1300 },
      ]);
      expect(driver.readOutput(Topics.ordersPaid).map((r) => r.key)).toEqual(["o1"]);
      // The payments clock passes o2's deadline: the next punctuation times it out.
      driver.pipeInput(Topics.payments, [
        { key: "clock", value: payment("clock", 1), timestamp: 1100 + W + GRACE + 1 },
      ]);
      const statuses = driver.readOutput(Topics.orderStatus).map((r) => r.value);
      expect(statuses).toEqual([
        { orderId: "o1", status: "CONFIRMED" },
        { orderId: "o3", status: "REJECTED_PAYMENT", reason: "declined" },
        { orderId: "o2", status: "REJECTED_PAYMENT", reason: "timeout" },
      ]);
      // A payment for o2 arriving now changes nothing: o2 is decided.
      driver.pipeInput(Topics.payments, [{ key: "o2", value: payment("p2", 5), timestamp: 1200 }]);
      expect(driver.readOutput(Topics.orderStatus)).toEqual([]);
    } finally {
      driver.close();
    }
  });
});
