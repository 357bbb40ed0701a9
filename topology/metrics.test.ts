import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  appCounter,
  OFFSET_INVALID,
  RestoreProgress,
  applyLibrdkafkaStats,
  consumerLag,
  createMetrics,
  forgetTopicPartition,
  metricsForApp,
  setWorkerInfo,
  type WeirMetrics,
} from "./metrics.js";

async function value(metrics: WeirMetrics, name: string, labels: Record<string, string> = {}) {
  const m = metrics.registry.getSingleMetric(name);
  if (!m) throw new Error(`metric ${name} not registered`);
  const got = await m.get();
  const hit = got.values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
  return hit?.value;
}

/** Run promtool (Prometheus' own linter) with `input` on stdin; fail loudly when it is not installed. */
export function promtool(args: string[], input?: string) {
  const r = spawnSync("promtool", args, { input, encoding: "utf8" });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(
      "promtool not found: install it with `apt-get install prometheus` (Debian) to run this test",
    );
  }
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("consumerLag", () => {
  it("is high watermark minus position", () => {
    expect(consumerLag(100, 40)).toBe(60);
    expect(consumerLag(100, 100)).toBe(0);
    expect(consumerLag(0, 0)).toBe(0);
  });

  it("is never negative (position ahead of a stale watermark)", () => {
    expect(consumerLag(100, 105)).toBe(0);
  });

  it("is unknown when the watermark is unknown", () => {
    expect(consumerLag(OFFSET_INVALID, 10)).toBeUndefined();
    expect(consumerLag(-1, 10)).toBeUndefined();
    expect(consumerLag(Number.NaN, 10)).toBeUndefined();
  });

  it("uses the low watermark when the position is unknown, else is unknown", () => {
    expect(consumerLag(100, OFFSET_INVALID)).toBeUndefined();
    expect(consumerLag(100, OFFSET_INVALID, 30)).toBe(70);
    expect(consumerLag(100, OFFSET_INVALID, OFFSET_INVALID)).toBeUndefined();
    expect(consumerLag(100, OFFSET_INVALID, 120)).toBe(0);
  });
});

describe("RestoreProgress", () => {
  const ranges = [
    { store: "orders", partition: 0, startOffset: 0, endOffset: 1000 },
    { store: "orders", partition: 1, startOffset: 500, endOffset: 800 },
    { store: "stock", partition: 0, startOffset: 10, endOffset: 10 },
  ];

  it("counts remaining records per partition and in total", () => {
    let t = 0;
    const p = new RestoreProgress(ranges, { now: () => t });
    expect(p.remaining("orders", 0)).toBe(1000);
    expect(p.remaining("orders", 1)).toBe(300);
    expect(p.remaining("stock", 0)).toBe(0);
    expect(p.totalRemaining()).toBe(1300);
    expect(p.done()).toBe(false);

    t = 100;
    p.record("orders", 0, 499); // offsets 0..499 applied
    expect(p.remaining("orders", 0)).toBe(500);
    p.record("orders", 0, 200); // stale report: ignored
    expect(p.remaining("orders", 0)).toBe(500);
    p.record("orders", 1, 799);
    expect(p.remaining("orders", 1)).toBe(0);
    expect(p.restoredRecords("orders")).toBe(800);

    p.record("orders", 0, 5000); // beyond the end offset: clamped
    expect(p.remaining("orders", 0)).toBe(0);
    expect(p.totalRemaining()).toBe(0);
    expect(p.done()).toBe(true);
  });

  it("completes a partition whose tail is transaction markers", () => {
    const p = new RestoreProgress([{ store: "s", partition: 3, startOffset: 0, endOffset: 10 }], {
      now: () => 0,
    });
    p.record("s", 3, 8); // offset 9 is a commit marker
    expect(p.remaining("s", 3)).toBe(1);
    p.complete("s", 3);
    expect(p.done()).toBe(true);
  });

  it("rejects unknown store partitions and duplicate ranges", () => {
    const p = new RestoreProgress(ranges, { now: () => 0 });
    expect(() => p.record("orders", 7, 1)).toThrow(/orders partition 7/);
    expect(() => p.remaining("nope", 0)).toThrow();
    expect(() => new RestoreProgress([ranges[0]!, ranges[0]!])).toThrow(/twice/);
  });

  it("computes a sliding-window rate per store with an injected clock", () => {
    let t = 1_000_000;
    const p = new RestoreProgress(ranges, { windowMs: 10_000, now: () => t });
    expect(p.ratePerSecond("orders")).toBe(0);

    t += 1000;
    p.record("orders", 0, 999); // 1000 records in the first second
    t += 1000;
    p.record("orders", 1, 599); // 100 more
    // 1100 records over the 2 s elapsed so far (the window is not full yet).
    expect(p.ratePerSecond("orders")).toBeCloseTo(550, 6);
    expect(p.ratePerSecond("stock")).toBe(0);

    t += 8000; // window now full: 1100 records in the last 10 s
    expect(p.ratePerSecond("orders")).toBeCloseTo(110, 6);

    t += 1500; // the first sample (t0+1s) has left the window
    expect(p.ratePerSecond("orders")).toBeCloseTo(10, 6);

    t += 60_000; // nothing restored for a minute: rate 0 — the restore-stuck signal
    expect(p.ratePerSecond("orders")).toBe(0);
    expect(p.remaining("orders", 1)).toBe(200);
  });

  it("publishes remaining and rate gauges", async () => {
    let t = 0;
    const metrics = createMetrics();
    const p = new RestoreProgress(ranges, { windowMs: 1000, now: () => t });
    t = 500;
    p.record("orders", 1, 549);
    p.publish(metrics);
    expect(await value(metrics, "weir_restore_remaining_records", { store: "orders", partition: "1" })).toBe(
      250,
    );
    expect(await value(metrics, "weir_restore_remaining_records", { store: "orders", partition: "0" })).toBe(
      1000,
    );
    expect(await value(metrics, "weir_restore_rate_records_per_second", { store: "orders" })).toBeCloseTo(
      100,
      6,
    );
  });
});

describe("applyLibrdkafkaStats", () => {
  const stats = (txerrs: number, brokers: Record<string, unknown>) => ({
    name: "rdkafka#consumer-1",
    type: "consumer",
    msg_cnt: 12,
    msg_size: 3456,
    txerrs,
    rxerrs: 1,
    brokers,
    topics: {
      orders: {
        partitions: {
          "0": { partition: 0, consumer_lag: 42 },
          "1": { partition: 1, consumer_lag: -1 },
          "-1": { partition: -1, consumer_lag: -1 },
        },
      },
    },
  });
  const broker1 = { "kafka:19092/1": { nodeid: 1, rtt: { avg: 1500, p99: 25_000 } } };
  const logical = {
    GroupCoordinator: { nodeid: -1, rtt: { avg: 0, p99: 0 } },
    "kafka:19092/bootstrap": { nodeid: -1, rtt: { avg: 0, p99: 0 } },
  };

  it("maps queue, rtt (µs → s), error counters and consumer lag", async () => {
    const metrics = createMetrics();
    applyLibrdkafkaStats(metrics, "consumer", stats(3, { ...broker1, ...logical }));
    expect(await value(metrics, "weir_kafka_queue_messages", { client: "consumer" })).toBe(12);
    expect(await value(metrics, "weir_kafka_queue_bytes", { client: "consumer" })).toBe(3456);
    expect(
      await value(metrics, "weir_kafka_broker_rtt_seconds", { broker: "kafka:19092/1", stat: "avg" }),
    ).toBe(0.0015);
    expect(
      await value(metrics, "weir_kafka_broker_rtt_seconds", { broker: "kafka:19092/1", stat: "p99" }),
    ).toBe(0.025);
    const rtt = await metrics.kafkaBrokerRtt.get();
    expect(rtt.values.map((v) => v.labels.broker)).toEqual(["kafka:19092/1", "kafka:19092/1"]);
    expect(await value(metrics, "weir_consumer_lag_records", { topic: "orders", partition: "0" })).toBe(42);
    const lag = await metrics.consumerLag.get();
    expect(lag.values).toHaveLength(1); // unknown (-1) lag and the internal partition -1 are skipped
    expect(await value(metrics, "weir_kafka_tx_errors_total", { client: "consumer" })).toBe(3);

    // Cumulative totals advance the counter by the difference; a restarted client (lower total) counts afresh.
    applyLibrdkafkaStats(metrics, "consumer", stats(5, broker1));
    expect(await value(metrics, "weir_kafka_tx_errors_total", { client: "consumer" })).toBe(5);
    applyLibrdkafkaStats(metrics, "consumer", stats(2, broker1));
    expect(await value(metrics, "weir_kafka_tx_errors_total", { client: "consumer" })).toBe(7);
    expect(await value(metrics, "weir_kafka_rx_errors_total", { client: "consumer" })).toBe(1);
  });

  it("drops brokers that leave and never sets consumer lag from producer stats", async () => {
    const metrics = createMetrics();
    applyLibrdkafkaStats(metrics, "producer", stats(0, broker1));
    expect((await metrics.consumerLag.get()).values).toHaveLength(0);
    applyLibrdkafkaStats(
      metrics,
      "producer",
      stats(0, { "kafka:19093/2": { nodeid: 2, rtt: { avg: 10, p99: 20 } } }),
    );
    const brokers = new Set((await metrics.kafkaBrokerRtt.get()).values.map((v) => v.labels.broker));
    expect([...brokers]).toEqual(["kafka:19093/2"]);
  });

  it("tolerates partial or malformed statistics", () => {
    const metrics = createMetrics();
    expect(() => applyLibrdkafkaStats(metrics, "consumer", {})).not.toThrow();
    expect(() =>
      applyLibrdkafkaStats(metrics, "consumer", { brokers: { x: null }, topics: { t: {} }, msg_cnt: "7" }),
    ).not.toThrow();
  });
});

describe("appCounter", () => {
  it("is the application's own counter on the worker's registry, shared by name, with its labels", async () => {
    const m = createMetrics();
    appCounter(m, "shop_orders_total", "Orders by status.", ["status"]).inc({ status: "CONFIRMED" });
    appCounter(m, "shop_orders_total", "Orders by status.", ["status"]).inc({ status: "CONFIRMED" }, 2);
    const text = await m.registry.metrics();
    expect(text).toMatch(/^shop_orders_total\{status="CONFIRMED"\} 3$/m);
    expect(() => appCounter(m, "shop_orders_total", "Orders by status.", ["state"])).toThrow(/labels/);
  });
});

describe("registry", () => {
  it("holds every weir metric once, under the names the deploy assets use", async () => {
    const metrics = createMetrics();
    const names = (await metrics.registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => n.startsWith("weir_"));
    expect(names.sort()).toEqual(
      [
        "weir_assigned_partitions",
        "weir_assigned_tasks",
        "weir_async_call_duration_seconds",
        "weir_async_commit_wait_seconds",
        "weir_async_failures_total",
        "weir_async_in_flight_records",
        "weir_async_retries_total",
        "weir_async_timeouts_total",
        "weir_backpressure_paused_partitions",
        "weir_commit_duration_seconds",
        "weir_committed_offset",
        "weir_consumer_lag_records",
        "weir_dead_letter_records_total",
        "weir_dropped_records_total",
        "weir_end_to_end_latency_seconds",
        "weir_kafka_broker_rtt_seconds",
        "weir_kafka_queue_bytes",
        "weir_kafka_queue_messages",
        "weir_kafka_rx_errors_total",
        "weir_kafka_tx_errors_total",
        "weir_offset_resets_total",
        "weir_processing_latency_seconds",
        "weir_punctuations_total",
        "weir_rebalances_total",
        "weir_records_consumed_total",
        "weir_records_produced_total",
        "weir_restore_duration_seconds",
        "weir_restore_rate_records_per_second",
        "weir_restore_remaining_records",
        "weir_restore_restarts_total",
        "weir_restored_records_total",
        "weir_standby_lag_records",
        "weir_store_bytes",
        "weir_store_entries",
        "weir_transactions_total",
        "weir_worker_info",
        "weir_worker_problem",
        "weir_worker_ready",
        "weir_worker_stalled",
      ].sort(),
    );
    expect(Object.isFrozen(metrics)).toBe(true);
    // One definition per registry: a second call shares the instruments (and Node's default metrics).
    expect(createMetrics(metrics.registry).recordsConsumed).toBe(metrics.recordsConsumed);
  });

  it("several applications share one registry, each series labelled with its app", async () => {
    const registry = createMetrics().registry;
    const a = createMetrics(registry, "orders-app");
    const b = metricsForApp(createMetrics(registry), "audit-app");
    a.recordsConsumed.inc({ topic: "orders", partition: "0" }, 2);
    b.recordsConsumed.inc({ topic: "orders", partition: "0" }, 5);
    a.workerReady.set(1);
    b.workerReady.set(0);
    a.recordsProduced.labels({ topic: "out" }).inc();
    a.commitDuration.observe(0.01);
    appCounter(a, "orders_seen_total", "orders seen", ["status"]).inc({ status: "ok" });
    appCounter(b, "orders_seen_total", "orders seen", ["status"]).inc({ status: "ok" }, 3);
    const text = await registry.metrics();
    expect(text).toMatch(/^weir_records_consumed_total\{topic="orders",partition="0",app="orders-app"\} 2$/m);
    expect(text).toMatch(/^weir_records_consumed_total\{topic="orders",partition="0",app="audit-app"\} 5$/m);
    expect(text).toMatch(/^weir_worker_ready\{app="orders-app"\} 1$/m);
    expect(text).toMatch(/^weir_worker_ready\{app="audit-app"\} 0$/m);
    expect(text).toMatch(/^weir_records_produced_total\{topic="out",app="orders-app"\} 1$/m);
    expect(text).toMatch(/^weir_commit_duration_seconds_count\{app="orders-app"\} 1$/m);
    expect(text).toMatch(/^orders_seen_total\{status="ok",app="audit-app"\} 3$/m);
    expect(text.match(/^# TYPE process_cpu_seconds_total/gm)).toHaveLength(1);
    // Only weir's and the application's series: prom-client's own nodejs_active_*_total gauges trip a lint.
    const ours = text
      .split("\n\n")
      .filter((block) => /^# HELP (weir_|orders_seen_total)/.test(block))
      .join("\n\n");
    const r = promtool(["check", "metrics"], ours + "\n");
    expect(r.status, r.output).toBe(0);
  });

  it("exposes default Node metrics unprefixed", async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it("passes `promtool check metrics` after touching every metric", async () => {
    const m = createMetrics();
    m.recordsConsumed.inc({ topic: "orders", partition: "0" }, 3);
    m.recordsProduced.inc({ topic: "orders-validated" });
    m.processingLatency.observe({ processor: "validate" }, 0.0003);
    m.endToEndLatency.observe({ topic: "orders-validated" }, 0.12);
    m.consumerLag.set({ topic: "orders", partition: "0" }, 17);
    m.committedOffset.set({ topic: "orders", partition: "0" }, 1234);
    m.transactions.inc({ outcome: "committed" });
    m.transactions.inc({ outcome: "aborted" });
    m.commitDuration.observe(0.015);
    m.rebalances.inc({ kind: "assigned" });
    m.rebalances.inc({ kind: "revoked" });
    m.offsetResets.inc({ topic: "orders", reason: "offset-lost" });
    m.assignedTasks.set(4);
    m.assignedPartitions.set(8);
    m.restoreRemaining.set({ store: "orders", partition: "0" }, 10);
    m.restoredRecords.inc({ store: "orders" }, 990);
    m.restoreRestarts.inc({ store: "orders" });
    m.standbyLag.set({ store: "orders", partition: "1" }, 0);
    m.restoreDuration.observe({ store: "orders" }, 2.5);
    m.restoreRate.set({ store: "orders" }, 400);
    m.storeEntries.set({ store: "orders", partition: "0" }, 1000);
    m.storeBytes.set({ store: "orders", partition: "0" }, 65536);
    m.deadLetterRecords.inc({ reason: "deserialization", topic: "orders" });
    m.punctuations.inc({ kind: "wall-clock" });
    m.asyncInFlight.set({ processor: "risk-check" }, 12);
    m.asyncDuration.observe({ processor: "risk-check", outcome: "ok" }, 0.02);
    m.asyncTimeouts.inc({ processor: "risk-check" });
    m.asyncCommitWait.observe(0.021);
    m.asyncRetries.inc({ processor: "risk-check" });
    m.asyncFailures.inc({ processor: "risk-check" });
    m.droppedRecords.inc({ reason: "expired-window", node: "dedupe" });
    m.backpressurePausedPartitions.set(0);
    m.workerReady.set(1);
    m.workerStalled.set(0);
    m.workerProblem.set({ problem: "stalled" }, 0);
    setWorkerInfo(m, { version: "0.1.0", app: "weir-orders", guarantee: "exactly-once" });
    applyLibrdkafkaStats(m, "consumer", {
      msg_cnt: 1,
      msg_size: 100,
      txerrs: 1,
      rxerrs: 2,
      brokers: { "kafka:19092/1": { nodeid: 1, rtt: { avg: 900, p99: 4000 } } },
    });
    forgetTopicPartition(m, "orders", 5); // removing an absent series is harmless

    const text = await m.registry.metrics();
    for (const name of (await m.registry.getMetricsAsJSON()).map((x) => x.name)) {
      if (name.startsWith("weir_"))
        expect(text, name).toMatch(new RegExp(`^${name}(_bucket|_sum|_count)?[{ ]`, "m"));
    }
    const r = promtool(["check", "metrics"], text);
    // Exit 1 is a parse error; exit 3 lists lint problems, one per line. prom-client's own default gauges
    // nodejs_active_{handles,requests,resources}_total trip the `_total` lint; nothing else may.
    const problems = r.output
      .split("\n")
      .filter((l) => l.trim() !== "")
      .filter(
        (l) =>
          !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(
            l,
          ),
      );
    expect(problems).toEqual([]);
    expect([0, 3]).toContain(r.status);
  });
});
