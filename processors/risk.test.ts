/**
 * The risk check of the order pipeline: the pure rule (processors/risk.ts), the loopback risk service that answers
 * with it (processors/risk-service.ts), and the pipeline's asynchronous risk-check through the TopologyTestDriver
 * against that real service, with 503s it must retry.
 */
import { describe, expect, it } from "vitest";
import { TopologyTestDriver } from "../topology/index.js";
import { DEFAULT_PIPELINE_OPTIONS, Topics, createTopology } from "./app.js";
import type { Order, OrderStatus, Payment } from "./orders.js";
import { RISK_AMOUNT_CENTS, RISK_THRESHOLD, customerRiskBand, isRiskRejected, riskScore } from "./risk.js";
import { startRiskService } from "./risk-service.js";
import { useRiskService } from "./test-support.js";
import { DEFAULT_WORKLOAD, generateWorkload } from "./workload.js";

/** customer-13 is in band 96 (risky); customer-1 in band 23. */
const RISKY = "customer-13";
const SAFE = "customer-1";

const order = (customerId: string, unitPrice: number, createdAt = 1000): Order => ({
  customerId,
  lines: [{ sku: "A", qty: 1, unitPrice }],
  total: unitPrice,
  currency: "EUR",
  createdAt,
});
const payment = (id: string, amount: number): Payment => ({
  paymentId: id,
  amount,
  currency: "EUR",
  status: "authorized",
});

describe("riskScore", () => {
  it("is the customer's band / 100 above RISK_AMOUNT_CENTS, half of it up to that amount", () => {
    expect(customerRiskBand(RISKY)).toBe(96);
    expect(customerRiskBand(SAFE)).toBe(23);
    expect(riskScore({ customerId: RISKY, totalCents: RISK_AMOUNT_CENTS + 1 })).toBe(0.96);
    expect(riskScore({ customerId: RISKY, totalCents: RISK_AMOUNT_CENTS })).toBe(0.48);
    expect(riskScore({ customerId: SAFE, totalCents: 1_000_000 })).toBe(0.23);
    expect(isRiskRejected(0.96)).toBe(true);
    expect(isRiskRejected(RISK_THRESHOLD)).toBe(true);
    expect(isRiskRejected(0.89)).toBe(false);
  });

  it("rejects a few percent of the generated orders, from a tenth of the customers", () => {
    const risky = Array.from({ length: 500 }, (_, i) => customerRiskBand(`customer-${i + 1}`)).filter(
      (band) => band / 100 >= RISK_THRESHOLD,
    );
    expect(risky.length).toBe(50);
    const w = generateWorkload({
      ...DEFAULT_WORKLOAD,
      orders: 20_000,
      seed: 1,
      paymentPartitions: 1,
      pipeline: DEFAULT_PIPELINE_OPTIONS,
    });
    const share = w.summary.riskRejected / w.summary.orders;
    expect(share).toBeGreaterThan(0.03);
    expect(share).toBeLessThan(0.1);
    expect(w.orders.filter((o) => o.expected.status === "REJECTED_RISK")).toHaveLength(
      w.summary.riskRejected,
    );
  });
});

describe("the risk service (real HTTP on loopback)", () => {
  it("answers the rule's score, 400 without a customer or amount, 404 elsewhere", async () => {
    const service = await startRiskService({ latencyMs: [0, 1], failureRate: 0 });
    try {
      const get = (path: string) => fetch(`${service.url}${path}`);
      const res = await get(`/risk?customer=${RISKY}&amount=100.01`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ score: 0.96 });
      expect(await (await get(`/risk?customer=${RISKY}&amount=100`)).json()).toEqual({ score: 0.48 });
      expect((await get(`/risk?amount=5`)).status).toBe(400);
      expect((await get(`/risk?customer=${SAFE}&amount=five`)).status).toBe(400);
      expect((await get(`/other`)).status).toBe(404);
      expect(service.stats()).toEqual({ calls: 4, failures: 0, badRequests: 2 });
    } finally {
      await service.close();
    }
  });

  it("answers 503 at the failure rate, after a latency in the range", async () => {
    const failing = await startRiskService({ latencyMs: [30, 40], failureRate: 1 });
    try {
      const started = Date.now();
      const res = await fetch(`${failing.url}/risk?customer=${SAFE}&amount=5`);
      expect(res.status).toBe(503);
      await res.text();
      expect(Date.now() - started).toBeGreaterThanOrEqual(29);
      expect(failing.stats()).toEqual({ calls: 1, failures: 1, badRequests: 0 });
    } finally {
      await failing.close();
    }
    await expect(startRiskService({ latencyMs: [5, 1] })).rejects.toThrow(RangeError);
    await expect(startRiskService({ failureRate: 2 })).rejects.toThrow(RangeError);
  });
});

describe("the risk check in the order pipeline (TopologyTestDriver, real risk service with 20 % of 503s)", () => {
  const risk = useRiskService({ latencyMs: [0, 5], failureRate: 0.2 });

  it("rejects risky orders with REJECTED_RISK (one status, their payments ignored), passes the others on", async () => {
    const driver = new TopologyTestDriver(createTopology({ partitions: 2, riskUrl: risk.url }), {
      partitions: 2,
    });
    try {
      driver.pipeInput(Topics.restocks, [{ key: "A", value: { qty: 1000 }, timestamp: 0 }]);
      const cases: Array<[string, Order]> = [];
      for (let i = 0; i < 40; i++) {
        const customer = i % 2 === 0 ? RISKY : SAFE;
        const big = i % 4 < 2; // 150.00 or 50.00
        cases.push([`o${i}`, order(customer, big ? 150 : 50, 1000 + i)]);
      }
      driver.pipeInput(
        Topics.orders,
        cases.map(([key, value]) => ({ key, value, timestamp: value.createdAt })),
      );
      driver.pipeInput(
        Topics.payments,
        cases.map(([key, value]) => ({
          key,
          value: payment(`p-${key}`, value.total),
          timestamp: value.createdAt + 100,
        })),
      );
      await driver.settle();
      // Payments read before the risk check answered wait in the join for their orders: settle, then push the
      // payments' clock past every deadline so nothing is left undecided.
      driver.pipeInput(Topics.payments, [{ key: "clock", value: payment("clock", 1), timestamp: 1_000_000 }]);
      await driver.settle();

      const statuses = driver.readOutput<string, OrderStatus>(Topics.orderStatus);
      const byOrder = new Map<string, OrderStatus[]>();
      for (const r of statuses) byOrder.set(r.key, [...(byOrder.get(r.key) ?? []), r.value]);
      expect(byOrder.size).toBe(40);
      for (const [key, value] of cases) {
        const list = byOrder.get(key)!;
        expect(list, key).toHaveLength(1);
        const rejected = value.customerId === RISKY && value.total > RISK_AMOUNT_CENTS / 100;
        expect(list[0], key).toEqual(
          rejected
            ? { orderId: key, status: "REJECTED_RISK", reason: "high-risk", score: 0.96 }
            : { orderId: key, status: "CONFIRMED" },
        );
      }
      const validated = driver.readOutput<string, { orderId: string }>(Topics.ordersValidated);
      expect(validated.map((r) => r.key).sort()).toEqual(
        cases
          .filter(([, v]) => !(v.customerId === RISKY && v.total > 100))
          .map(([k]) => k)
          .sort(),
      );
      expect(driver.deadLetters()).toEqual([]);
      // Every order was checked once successfully; the 503s were retried (at 20 %, 40 orders without a single
      // failure: ~1e-4; one order failing all 8 attempts: ~1e-4).
      const stats = risk.stats();
      expect(stats.calls - stats.failures).toBe(40);
      expect(stats.failures).toBeGreaterThan(0);
    } finally {
      driver.close();
    }
  });
});
