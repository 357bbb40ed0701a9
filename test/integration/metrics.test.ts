/**
 * Metrics against a real Prometheus: a worker runs the order pipeline, Debian's Prometheus scrapes it, and its
 * HTTP API must answer with values consistent with what was processed. promtool lints a live scrape.
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_ID, Topics, createTopology } from "../../processors/app.js";
import { startRiskService, type RiskService } from "../../processors/risk-service.js";
import { deleteGroup, deleteTopics } from "../../bin/workload-kafka.js";
import { brokers, endOffsets, waitFor } from "../helpers/kafka.js";
import { PrometheusServer } from "../helpers/prometheus.js";
import { WorkerProcess, runWeir } from "../helpers/worker-process.js";

const ORDERS = 2000;
const SEED = "11";
const PARTITIONS = 2;

describe("metrics in a real Prometheus", () => {
  let risk: RiskService;
  let worker: WorkerProcess;
  const prometheus = new PrometheusServer();

  beforeAll(async () => {
    // The order pipeline's risk check calls its service for every valid order.
    risk = await startRiskService({ latencyMs: [1, 5], failureRate: 0.01 });
    worker = new WorkerProcess({ env: { WEIR_RISK_URL: risk.url } });
    // The order pipeline has fixed topic names: start from empty topics and a fresh group.
    const topology = createTopology({ partitions: PARTITIONS });
    const all = [
      ...new Set([
        ...topology.sourceTopics,
        ...topology.outputTopics,
        ...topology.internalTopics.map((t) => t.name),
        topology.deadLetterTopic,
      ]),
    ];
    await deleteTopics(brokers(), all);
    await deleteGroup(brokers(), APP_ID);
    const created = await runWeir(["topics", "create", "--partitions", String(PARTITIONS)]);
    expect(created.code, created.stderr).toBe(0);
    worker.start();
    await worker.waitReady();
    await prometheus.start([new URL(worker.url).host]);
  });

  afterAll(async () => {
    await worker?.stop();
    await prometheus.stop();
    await risk?.close();
  });

  it("answers with throughput, latency and outcomes consistent with the run", async () => {
    const generated = await runWeir([
      "generate",
      "--orders",
      String(ORDERS),
      "--seed",
      SEED,
      "--start",
      "now",
      "--json",
    ]);
    expect(generated.code, generated.stderr).toBe(0);
    const verified = await waitFor(
      "the pipeline to produce a verified result",
      async () => {
        const v = await runWeir(["verify", "--orders", String(ORDERS), "--seed", SEED]);
        return v.code === 0 ? v : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
    expect(verified.code).toBe(0);

    const ordersOnTopic = [...(await endOffsets(Topics.orders)).values()].reduce((a, b) => a + b, 0);
    // Prometheus has scraped the final values once the consumed count matches the topic.
    const consumed = await waitFor(
      `Prometheus to see ${ordersOnTopic} consumed orders`,
      async () => {
        const [sample] = await prometheus.query(`sum(weir_records_consumed_total{topic="${Topics.orders}"})`);
        return sample && sample.value === ordersOnTopic ? sample.value : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(consumed).toBe(ordersOnTopic);

    const statuses = await prometheus.query(
      `sum by (status) (weir_orders_total{status!="DUPLICATE_DROPPED"})`,
    );
    expect(statuses.reduce((a, s) => a + s.value, 0)).toBe(ORDERS);
    expect(statuses.map((s) => s.metric.status).sort()).toEqual([
      "CONFIRMED",
      "REJECTED_INVALID",
      "REJECTED_PAYMENT",
      "REJECTED_RISK",
      "REJECTED_STOCK",
    ]);
    // The asynchronous risk check: its calls are timed, and nothing is in flight once the run is verified.
    const [calls] = await prometheus.query(
      `sum(weir_async_call_duration_seconds_count{processor="risk-check",outcome="ok"})`,
    );
    expect(calls!.value).toBeGreaterThan(0);
    const [inFlight] = await prometheus.query(`sum(weir_async_in_flight_records{processor="risk-check"})`);
    expect(inFlight!.value).toBe(0);

    const [p99] = await prometheus.query(
      `histogram_quantile(0.99, sum by (le) (weir_processing_latency_seconds_bucket{processor="validate-orders"}))`,
    );
    expect(p99!.value).toBeGreaterThan(0);
    expect(p99!.value).toBeLessThan(1);

    const [commits] = await prometheus.query(`sum(weir_transactions_total{outcome="committed"})`);
    expect(commits!.value).toBeGreaterThan(0);
    const [ready] = await prometheus.query(`weir_worker_ready`);
    expect(ready!.value).toBe(1);
    const [up] = await prometheus.query(`up{job="weir"}`);
    expect(up!.value).toBe(1);
    console.log(
      `Prometheus: ${consumed} orders consumed, ${ORDERS} statuses, validate-orders p99 ${(p99!.value * 1e3).toFixed(3)} ms, ${commits!.value} commits`,
    );
  });

  it("a live scrape passes promtool check metrics", async () => {
    const scrape = await (await fetch(`${worker.url}/metrics`)).text();
    expect(scrape).toContain("weir_records_consumed_total");
    const lint = spawnSync("promtool", ["check", "metrics"], { input: scrape, encoding: "utf8" });
    expect(lint.error).toBeUndefined();
    // prom-client's default nodejs_active_*_total gauges break the _total convention; nothing of weir's may.
    const problems = `${lint.stdout}${lint.stderr}`
      .split("\n")
      .filter((l) => l.trim() && !/^nodejs_active_\w+_total /.test(l));
    expect(problems).toEqual([]);
  });
});
