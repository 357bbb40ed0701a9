#!/usr/bin/env node
// Generates weir-dashboard.json, the Grafana dashboard for weir workers:
//   node deploy/grafana/dashboard.mjs > deploy/grafana/weir-dashboard.json
// Edit this file, not the JSON: test/unit/deploy.test.ts checks that the two agree and that every query names
// only metrics registered by topology/metrics.ts.

const DS = { type: "prometheus", uid: "${datasource}" };
const SEL = 'job=~"$job", instance=~"$instance"';
const R = "$__rate_interval";

const panels = [];
let id = 0;
let y = 0;

function row(title) {
  panels.push({
    type: "row",
    title,
    id: ++id,
    collapsed: false,
    gridPos: { h: 1, w: 24, x: 0, y },
    panels: [],
  });
  y += 1;
}

function timeseries(
  title,
  targets,
  unit,
  x,
  { w = 12, h = 8, description = "", stack = false, overrides = [] } = {},
) {
  panels.push({
    type: "timeseries",
    title,
    id: ++id,
    datasource: DS,
    description,
    gridPos: { h, w, x, y },
    fieldConfig: {
      defaults: {
        unit,
        min: 0,
        custom: {
          drawStyle: "line",
          lineWidth: 1,
          fillOpacity: 10,
          showPoints: "never",
          stacking: { mode: stack ? "normal" : "none", group: "A" },
        },
      },
      overrides,
    },
    options: {
      legend: { displayMode: "table", placement: "bottom", calcs: ["lastNotNull", "max"] },
      tooltip: { mode: "multi", sort: "desc" },
    },
    targets: targets.map(([expr, legendFormat], i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DS,
      expr,
      legendFormat,
      range: true,
    })),
  });
}

/** Put the series of query `refId` on a right-hand axis with its own unit. */
const rightAxis = (refId, unit) => ({
  matcher: { id: "byFrameRefID", options: refId },
  properties: [
    { id: "unit", value: unit },
    { id: "custom.axisPlacement", value: "right" },
  ],
});

const steps = (...s) => ({ mode: "absolute", steps: s.map(([color, value]) => ({ color, value })) });

function stat(
  title,
  expr,
  unit,
  x,
  { w = 6, h = 4, description = "", thresholds = steps(["green", null]) } = {},
) {
  panels.push({
    type: "stat",
    title,
    id: ++id,
    datasource: DS,
    description,
    gridPos: { h, w, x, y },
    fieldConfig: { defaults: { unit, thresholds }, overrides: [] },
    options: {
      reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
      colorMode: "value",
      graphMode: "area",
      textMode: "auto",
    },
    targets: [{ refId: "A", datasource: DS, expr, instant: false, range: true }],
  });
}

function nextRow(h = 8) {
  y += h;
}

const quantile = (q, metric, by) =>
  `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ""}le) (rate(${metric}_bucket{${SEL}}[${R}])))`;

row("Overview");
stat("Workers ready", `sum(weir_worker_ready{${SEL}})`, "short", 0, {
  description: "Workers reporting ready (/readyz).",
  thresholds: steps(["red", null], ["green", 1]),
});
stat("Assigned partitions", `sum(weir_assigned_partitions{${SEL}})`, "short", 6);
stat("Total consumer lag", `sum(weir_consumer_lag_records{${SEL}})`, "short", 12, {
  thresholds: steps(["green", null], ["orange", 1000], ["red", 10000]),
});
stat("Dead letters (1h)", `sum(increase(weir_dead_letter_records_total{${SEL}}[1h]))`, "short", 18, {
  thresholds: steps(["green", null], ["red", 1]),
});
nextRow(4);

row("Throughput and lag");
timeseries(
  "Records consumed / s",
  [[`sum by (topic) (rate(weir_records_consumed_total{${SEL}}[${R}]))`, "{{topic}}"]],
  "rps",
  0,
  { description: "Records read from source topics." },
);
timeseries(
  "Records produced / s",
  [[`sum by (topic) (rate(weir_records_produced_total{${SEL}}[${R}]))`, "{{topic}}"]],
  "rps",
  12,
  { description: "Records written to sink, changelog and dead-letter topics." },
);
nextRow();
timeseries(
  "Consumer lag by partition",
  [[`sum by (topic, partition) (weir_consumer_lag_records{${SEL}})`, "{{topic}}/{{partition}}"]],
  "short",
  0,
  { description: "High watermark minus position for each assigned partition." },
);
timeseries(
  "Orders by final status / s",
  [[`sum by (status) (rate(weir_orders_total{${SEL}}[${R}]))`, "{{status}}"]],
  "rps",
  12,
  { stack: true },
);
nextRow();

row("Latency");
timeseries(
  "Processing latency p50 / p99",
  [
    [quantile(0.5, "weir_processing_latency_seconds", "processor"), "p50 {{processor}}"],
    [quantile(0.99, "weir_processing_latency_seconds", "processor"), "p99 {{processor}}"],
  ],
  "s",
  0,
  { description: "Time each processor spends on a record." },
);
timeseries(
  "End-to-end latency p99",
  [[quantile(0.99, "weir_end_to_end_latency_seconds", "topic"), "p99 {{topic}}"]],
  "s",
  12,
  { description: "Input record timestamp to output produced, per output topic." },
);
nextRow();

row("Asynchronous processors");
timeseries(
  "Async call duration and commit wait, p99",
  [
    [quantile(0.99, "weir_async_call_duration_seconds", "processor"), "p99 {{processor}}"],
    [quantile(0.99, "weir_async_commit_wait_seconds"), "p99 commit wait"],
  ],
  "s",
  0,
  {
    description:
      "processAsync: one call's duration (retries are separate calls), and how long commits waited for the calls in flight (the worker takes no new records meanwhile).",
  },
);
timeseries(
  "Async records in flight, retries, timeouts, failures",
  [
    [`sum by (processor) (weir_async_in_flight_records{${SEL}})`, "in flight {{processor}}"],
    [`sum by (processor) (rate(weir_async_retries_total{${SEL}}[${R}]))`, "retries/s {{processor}}"],
    [`sum by (processor) (rate(weir_async_timeouts_total{${SEL}}[${R}]))`, "timeouts/s {{processor}}"],
    [`sum by (processor) (rate(weir_async_failures_total{${SEL}}[${R}]))`, "failed records/s {{processor}}"],
  ],
  "short",
  12,
  { description: "Failed records went to the processing handler (the dead-letter topic by default)." },
);
nextRow();

row("Transactions and group membership");
timeseries(
  "Transactions / s",
  [[`sum by (outcome) (rate(weir_transactions_total{${SEL}}[${R}]))`, "{{outcome}}"]],
  "ops",
  0,
  { w: 8 },
);
timeseries(
  "Commit duration p50 / p99",
  [
    [quantile(0.5, "weir_commit_duration_seconds"), "p50"],
    [quantile(0.99, "weir_commit_duration_seconds"), "p99"],
  ],
  "s",
  8,
  { w: 8 },
);
timeseries(
  "Rebalances and assigned tasks",
  [
    [`sum by (kind) (increase(weir_rebalances_total{${SEL}}[${R}]))`, "rebalance {{kind}}"],
    [`sum by (instance) (weir_assigned_tasks{${SEL}})`, "tasks {{instance}}"],
    [`sum by (instance) (weir_backpressure_paused_partitions{${SEL}})`, "paused {{instance}}"],
  ],
  "short",
  16,
  { w: 8 },
);
nextRow();

row("State stores and restore");
timeseries(
  "Restore remaining",
  [[`sum by (store) (weir_restore_remaining_records{${SEL}})`, "{{store}}"]],
  "short",
  0,
  { w: 8 },
);
timeseries(
  "Restore rate",
  [
    [`sum by (store) (weir_restore_rate_records_per_second{${SEL}})`, "{{store}}"],
    [`sum by (store) (rate(weir_restored_records_total{${SEL}}[${R}]))`, "{{store}} (counter)"],
  ],
  "rps",
  8,
  { w: 8 },
);
timeseries(
  "Store size",
  [
    [`sum by (store) (weir_store_entries{${SEL}})`, "entries {{store}}"],
    [`sum by (store) (weir_store_bytes{${SEL}})`, "bytes {{store}}"],
  ],
  "short",
  16,
  { w: 8 },
);
nextRow();

row("Errors");
timeseries(
  "Dead letters by reason / s",
  [[`sum by (reason, topic) (rate(weir_dead_letter_records_total{${SEL}}[${R}]))`, "{{reason}} ({{topic}})"]],
  "rps",
  0,
  { stack: true },
);
timeseries(
  "Kafka client errors / s",
  [
    [`sum by (client) (rate(weir_kafka_tx_errors_total{${SEL}}[${R}]))`, "tx {{client}}"],
    [`sum by (client) (rate(weir_kafka_rx_errors_total{${SEL}}[${R}]))`, "rx {{client}}"],
  ],
  "ops",
  12,
);
nextRow();

row("Kafka client (librdkafka)");
timeseries(
  "Broker RTT",
  [[`max by (broker, stat) (weir_kafka_broker_rtt_seconds{${SEL}})`, "{{stat}} {{broker}}"]],
  "s",
  0,
);
timeseries(
  "Client queue",
  [
    [`sum by (client) (weir_kafka_queue_messages{${SEL}})`, "messages {{client}}"],
    [`sum by (client) (weir_kafka_queue_bytes{${SEL}})`, "bytes {{client}}"],
  ],
  "short",
  12,
  { overrides: [rightAxis("B", "bytes")] },
);
nextRow();

row("Node.js process");
timeseries(
  "Event-loop lag",
  [
    [`max by (instance) (nodejs_eventloop_lag_p99_seconds{${SEL}})`, "p99 {{instance}}"],
    [`max by (instance) (nodejs_eventloop_lag_mean_seconds{${SEL}})`, "mean {{instance}}"],
  ],
  "s",
  0,
  { w: 8 },
);
timeseries(
  "Heap and RSS",
  [
    [`sum by (instance) (nodejs_heap_size_used_bytes{${SEL}})`, "heap used {{instance}}"],
    [`sum by (instance) (nodejs_heap_size_total_bytes{${SEL}})`, "heap total {{instance}}"],
    [`sum by (instance) (process_resident_memory_bytes{${SEL}})`, "rss {{instance}}"],
  ],
  "bytes",
  8,
  { w: 8 },
);
timeseries(
  "CPU",
  [[`sum by (instance) (rate(process_cpu_seconds_total{${SEL}}[${R}]))`, "{{instance}}"]],
  "percentunit",
  16,
  { w: 8 },
);
nextRow();

const queryVar = (name, label, query, extra) => ({
  name,
  label,
  type: "query",
  datasource: DS,
  query: { query, refId: name },
  definition: query,
  current: {},
  hide: 0,
  refresh: 2,
  sort: 1,
  regex: "",
  options: [],
  ...extra,
});

const dashboard = {
  __inputs: [],
  annotations: {
    list: [
      {
        builtIn: 1,
        datasource: { type: "grafana", uid: "-- Grafana --" },
        enable: true,
        hide: true,
        iconColor: "rgba(0, 211, 255, 1)",
        name: "Annotations & Alerts",
        type: "dashboard",
      },
    ],
  },
  description: "weir stream-processing workers: throughput, lag, latency, transactions, restore, errors.",
  editable: true,
  graphTooltip: 1,
  id: null,
  links: [],
  panels,
  refresh: "10s",
  schemaVersion: 39,
  tags: ["weir", "kafka"],
  templating: {
    list: [
      {
        name: "datasource",
        label: "Data source",
        type: "datasource",
        query: "prometheus",
        current: {},
        hide: 0,
        refresh: 1,
        regex: "",
        options: [],
      },
      queryVar("job", "Job", "label_values(weir_worker_ready, job)", { includeAll: false, multi: false }),
      queryVar("instance", "Instance", 'label_values(weir_worker_ready{job=~"$job"}, instance)', {
        includeAll: true,
        allValue: ".*",
        multi: true,
      }),
    ],
  },
  time: { from: "now-1h", to: "now" },
  timepicker: {},
  timezone: "",
  title: "weir",
  uid: "weir-overview",
  version: 1,
  weekStart: "",
};

process.stdout.write(JSON.stringify(dashboard, null, 2) + "\n");
