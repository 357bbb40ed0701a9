import { describe, expect, it } from "vitest";
import { DeadLetterHeader, TopologyTestDriver } from "../topology/index.js";
import { DEFAULT_PIPELINE_OPTIONS, Topics, createTopology } from "./app.js";
import { DEFAULT_WORKLOAD, generateWorkload, verifyWorkload, type WorkloadOptions } from "./workload.js";

const options = (overrides: Partial<WorkloadOptions> = {}): WorkloadOptions => ({
  ...DEFAULT_WORKLOAD,
  orders: 400,
  seed: 7,
  paymentPartitions: 3,
  pipeline: DEFAULT_PIPELINE_OPTIONS,
  ...overrides,
});

function runThroughDriver(workload: ReturnType<typeof generateWorkload>, partitions: number) {
  const driver = new TopologyTestDriver(createTopology({ partitions }), { partitions });
  try {
    for (const r of workload.records)
      driver.pipeRaw(r.topic, {
        key: Buffer.from(r.key),
        value: r.value,
        timestamp: r.timestamp,
        partition: r.partition,
      });
    const decode = (topic: string) =>
      driver
        .records(topic)
        .map((r) => ({ key: r.key?.toString() ?? null, value: JSON.parse(r.value!.toString()) as unknown }));
    return verifyWorkload(workload, {
      statuses: decode(Topics.orderStatus),
      levels: decode(Topics.stockLevels),
      deadLetters: driver.deadLetters().map((d) => ({
        key: d.key?.toString() ?? null,
        value: d.value,
        sourceTopic: d.headers[DeadLetterHeader.topic],
      })),
    });
  } finally {
    driver.close();
  }
}

describe("workload generator and verifier", () => {
  it("is deterministic: the same options give the same records, byte for byte", () => {
    const a = generateWorkload(options());
    const b = generateWorkload(options());
    expect(b.records.length).toBe(a.records.length);
    for (let i = 0; i < a.records.length; i++) {
      expect(b.records[i]!.key).toBe(a.records[i]!.key);
      expect(b.records[i]!.value.equals(a.records[i]!.value)).toBe(true);
      expect(b.records[i]!.timestamp).toBe(a.records[i]!.timestamp);
    }
    expect(generateWorkload(options({ seed: 8 })).records[5]!.value.equals(a.records[5]!.value)).toBe(false);
  });

  it("covers every kind of order, duplicates, malformed records and scarce stock", () => {
    const w = generateWorkload(options({ orders: 2000 }));
    for (const kind of [
      "valid",
      "payment-first",
      "duplicate-payment",
      "tied-payments",
      "declined",
      "amount-mismatch",
      "late-payment",
      "missing-payment",
      "malformed",
      "empty-lines",
      "bad-quantity",
      "negative-price",
      "total-mismatch",
      "unsupported-currency",
    ])
      expect(w.summary.kinds[kind], kind).toBeGreaterThan(0);
    expect(w.summary.duplicateOrders).toBeGreaterThan(0);
    expect(w.summary.malformed).toBeGreaterThan(0);
    // Broken clocks: an order and a payment stamped in 2100, placed among the others (not at the end).
    const future = w.records.findIndex((r) => r.key.startsWith("future-order-"));
    expect(future).toBeGreaterThan(0);
    expect(future).toBeLessThan(w.records.length / 2 + 100);
    expect(w.records.some((r) => r.key.startsWith("future-payment-") && r.topic === "payments")).toBe(true);
    expect(w.malformed.filter((m) => m.key.startsWith("future-"))).toHaveLength(4);
  });

  it("passes its own verification when run through the topology (TopologyTestDriver), with stock contention", () => {
    const w = generateWorkload(options());
    const report = runThroughDriver(w, 3);
    expect(report.checks).toMatchObject({
      exactlyOneStatus: { ok: true },
      outcomes: { ok: true },
      stock: { ok: true },
      deadLetters: { ok: true },
    });
    expect(report.ok).toBe(true);
    expect(report.statuses.REJECTED_STOCK).toBeGreaterThan(0);
    expect(report.statuses.CONFIRMED).toBeGreaterThan(0);
  });

  it("reports differences: a missing status, a wrong outcome", () => {
    const w = generateWorkload(options({ orders: 50 }));
    const statuses = w.orders.slice(1).map((o) => ({
      key: o.orderId,
      value: { orderId: o.orderId, status: "REJECTED_PAYMENT", reason: "declined" },
    }));
    const report = verifyWorkload(w, { statuses, levels: [], deadLetters: [] });
    expect(report.ok).toBe(false);
    expect(report.checks.exactlyOneStatus).toMatchObject({ ok: false, missing: 1 });
    expect(report.checks.outcomes.ok).toBe(false);
  });
});
