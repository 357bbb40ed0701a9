import { describe, expect, it } from "vitest";
import { DeadLetterHeader, TopologyTestDriver } from "../topology/index.js";
import { DEFAULT_PIPELINE_OPTIONS, Topics, createTopology } from "./app.js";
import { useRiskService } from "./test-support.js";
import { DEFAULT_WORKLOAD, generateWorkload, verifyWorkload, type WorkloadOptions } from "./workload.js";

const options = (overrides: Partial<WorkloadOptions> = {}): WorkloadOptions => ({
  ...DEFAULT_WORKLOAD,
  orders: 400,
  seed: 7,
  paymentPartitions: 3,
  pipeline: DEFAULT_PIPELINE_OPTIONS,
  ...overrides,
});

/** A real risk service on loopback, with latency and a share of 503s the risk check retries. */
const risk = useRiskService({ latencyMs: [0, 3], failureRate: 0.02 });

/** Pipes the workload in production order; each order's risk check settles before the next record goes in. */
async function runThroughDriver(workload: ReturnType<typeof generateWorkload>, partitions: number) {
  const driver = new TopologyTestDriver(createTopology({ partitions, riskUrl: risk.url }), { partitions });
  try {
    for (const r of workload.records) {
      driver.pipeRaw(r.topic, {
        key: r.key === null ? null : Buffer.from(r.key),
        // As the client writes it to Kafka: an empty value becomes null (processors/hostile.ts, "empty-value").
        value: r.value?.length === 0 ? null : r.value,
        timestamp: r.timestamp,
        partition: r.partition,
      });
      if (r.topic === Topics.orders) await driver.settle();
    }
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
        truncated: d.headers[DeadLetterHeader.truncated] !== undefined,
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
      expect(b.records[i]!.value!.equals(a.records[i]!.value!)).toBe(true);
      expect(b.records[i]!.timestamp).toBe(a.records[i]!.timestamp);
    }
    expect(generateWorkload(options({ seed: 8 })).records[5]!.value!.equals(a.records[5]!.value!)).toBe(
      false,
    );
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
    const future = w.records.findIndex((r) => r.key?.startsWith("future-order-"));
    expect(future).toBeGreaterThan(0);
    expect(future).toBeLessThan(w.records.length / 2 + 100);
    expect(w.records.some((r) => r.key?.startsWith("future-payment-") && r.topic === "payments")).toBe(true);
    expect(w.malformed.filter((m) => m.key?.startsWith("future-"))).toHaveLength(4);
  });

  it("passes its own verification when run through the topology (TopologyTestDriver), with stock contention", async () => {
    const w = generateWorkload(options());
    const report = await runThroughDriver(w, 3);
    expect(report.checks).toMatchObject({
      exactlyOneStatus: { ok: true },
      outcomes: { ok: true },
      stock: { ok: true },
      deadLetters: { ok: true },
    });
    expect(report.ok).toBe(true);
    expect(report.statuses.REJECTED_STOCK).toBeGreaterThan(0);
    expect(report.statuses.CONFIRMED).toBeGreaterThan(0);
    expect(report.statuses.REJECTED_RISK).toBe(w.summary.riskRejected);
    expect(w.summary.riskRejected).toBeGreaterThan(0);
  });

  it("bad input: every category gets what it is owed, and the valid orders around it their outcomes", async () => {
    const w = generateWorkload(options({ orders: 400, badInput: 600 }));
    expect(Object.keys(w.summary.badInput).length).toBeGreaterThanOrEqual(20);
    // The valid records are the same bytes with or without bad input.
    const plain = generateWorkload(options({ orders: 400 })).records.filter((r) =>
      r.key?.startsWith("order-"),
    );
    expect(w.records.filter((r) => r.key?.startsWith("order-")).map((r) => r.value)).toEqual(
      plain.map((r) => r.value),
    );
    const report = await runThroughDriver(w, 3);
    expect(report.checks.badInput, JSON.stringify(report.checks.badInput?.wrong)).toMatchObject({ ok: true });
    expect(report.checks).toMatchObject({
      exactlyOneStatus: { ok: true },
      outcomes: { ok: true },
      stock: { ok: true },
      deadLetters: { ok: true },
    });
  });

  it("bad input: a record that got the wrong outcome is named in the report", () => {
    const w = generateWorkload(options({ orders: 20, badInput: 40 }));
    const owedStatus = w.hostile.find((h) => h.expect.kind === "status")!;
    // Every order confirmed, nothing dead-lettered: each bad record's check fails.
    const statuses = w.orders.map((o) => ({
      key: o.orderId,
      value: { orderId: o.orderId, status: "CONFIRMED" },
    }));
    const report = verifyWorkload(w, { statuses, levels: [], deadLetters: [] });
    expect(report.checks.badInput).toMatchObject({ ok: false });
    expect(report.checks.badInput!.wrong).toContainEqual(
      expect.objectContaining({ key: owedStatus.key, got: "CONFIRMED" }),
    );
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

  it("expects REJECTED_RISK exactly for the valid orders the risk rule rejects", () => {
    const w = generateWorkload(options({ orders: 2000 }));
    const risky = w.orders.filter((o) => o.expected.status === "REJECTED_RISK");
    expect(risky.length).toBe(w.summary.riskRejected);
    expect(risky.length).toBeGreaterThan(0);
    // Every other order confirmed: the risky ones are outcome mismatches, nothing else is.
    const statuses = w.orders.map((o) => ({
      key: o.orderId,
      value:
        o.expected.status === "PAID"
          ? { orderId: o.orderId, status: "CONFIRMED" }
          : { orderId: o.orderId, status: o.expected.status, reason: o.expected.reason },
    }));
    expect(verifyWorkload(w, { statuses, levels: [], deadLetters: [] }).checks.outcomes.ok).toBe(true);
    const confirmedRisky = statuses.map((s) =>
      risky.some((o) => o.orderId === s.key)
        ? { key: s.key, value: { orderId: s.key, status: "CONFIRMED" } }
        : s,
    );
    expect(
      verifyWorkload(w, { statuses: confirmedRisky, levels: [], deadLetters: [] }).checks.outcomes,
    ).toMatchObject({
      ok: false,
      mismatches: risky.length,
    });
  });
});
