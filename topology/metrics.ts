// Every weir metric, defined once. The engine, the worker's HTTP server and the deploy/ assets (Prometheus rules,
// Grafana dashboard) all refer to these names; test/unit/deploy.test.ts fails when a dashboard or rule mentions a
// metric that is not registered here, so rename with care.
//
// Conventions: `weir_` prefix, base units (`_seconds`, `_bytes`), counters end in `_total`, and labels come only
// from bounded sets (topic, partition, store, processor, reason, kind, status, outcome, client, broker, stat, problem, node),
// plus `app`, the application id, on every series a worker writes (createMetrics(registry, app)).
// Never label by record key, order id or anything else with unbounded cardinality.
//
// Node's own metrics (process_*, nodejs_*) come from prom-client's collectDefaultMetrics, unprefixed as usual.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AppCounter } from "./builder.js";
import { TopologyError } from "./errors.js";

/** Histogram buckets, in seconds. */
export const BUCKETS = Object.freeze({
  /** Per-record processor time: 10µs .. 1s. */
  processing: [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1,
  ],
  /** Record timestamp → output produced: 1ms .. 60s. */
  endToEnd: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  /** Transaction / offset commit: 1ms .. 10s. */
  commit: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  /** Restoring one store from its changelog: 10ms .. 1h. */
  restore: [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
});

/**
 * Create every weir instrument on `registry` (a fresh one by default) together with Node's default metrics.
 * Call once per registry: prom-client refuses to register the same name twice.
 */
function defineInstruments(registry: Registry) {
  const registers = [registry];
  const metrics = {
    // --- throughput ---------------------------------------------------------------------------------------
    recordsConsumed: new Counter({
      name: "weir_records_consumed_total",
      help: "Records consumed from source topics.",
      labelNames: ["topic", "partition", "app"] as const,
      registers,
    }),
    recordsProduced: new Counter({
      name: "weir_records_produced_total",
      help: "Records produced to sink topics (changelogs and dead letters included).",
      labelNames: ["topic", "app"] as const,
      registers,
    }),

    // --- latency --------------------------------------------------------------------------------------------
    processingLatency: new Histogram({
      name: "weir_processing_latency_seconds",
      help: "Time a processor spends on one record.",
      labelNames: ["processor", "app"] as const,
      buckets: BUCKETS.processing,
      registers,
    }),
    endToEndLatency: new Histogram({
      name: "weir_end_to_end_latency_seconds",
      help: "From the input record's timestamp to its output being produced, by output topic.",
      labelNames: ["topic", "app"] as const,
      buckets: BUCKETS.endToEnd,
      registers,
    }),

    // --- offsets and lag ------------------------------------------------------------------------------------
    consumerLag: new Gauge({
      name: "weir_consumer_lag_records",
      help: "High watermark minus consumer position, per assigned partition.",
      labelNames: ["topic", "partition", "app"] as const,
      registers,
    }),
    committedOffset: new Gauge({
      name: "weir_committed_offset",
      help: "Last committed offset (next offset to consume), per assigned partition.",
      labelNames: ["topic", "partition", "app"] as const,
      registers,
    }),

    // --- transactions ---------------------------------------------------------------------------------------
    transactions: new Counter({
      name: "weir_transactions_total",
      help: "Kafka transactions finished, by outcome (committed|aborted).",
      labelNames: ["outcome", "app"] as const,
      registers,
    }),
    commitDuration: new Histogram({
      name: "weir_commit_duration_seconds",
      help: "Time to commit a transaction (or offsets, in at-least-once mode).",
      buckets: BUCKETS.commit,
      labelNames: ["app"] as const,
      registers,
    }),

    // --- group membership -----------------------------------------------------------------------------------
    rebalances: new Counter({
      name: "weir_rebalances_total",
      help: "Rebalance callbacks, by kind (assigned|revoked|lost).",
      labelNames: ["kind", "app"] as const,
      registers,
    }),
    offsetResets: new Counter({
      name: "weir_offset_resets_total",
      help:
        "Input partitions started without their committed offset, by reason: no-committed-offset (the source's " +
        "offsetReset policy) or offset-lost (the committed offset is no longer in the partition).",
      labelNames: ["topic", "reason", "app"] as const,
      registers,
    }),
    assignedTasks: new Gauge({
      name: "weir_assigned_tasks",
      help: "Tasks (partition groups) currently owned by this worker.",
      labelNames: ["app"] as const,
      registers,
    }),
    assignedPartitions: new Gauge({
      name: "weir_assigned_partitions",
      help: "Source partitions currently assigned to this worker.",
      labelNames: ["app"] as const,
      registers,
    }),

    // --- standby replicas -----------------------------------------------------------------------------------
    standbyLag: new Gauge({
      name: "weir_standby_lag_records",
      help: "Records a standby replica is behind its changelog's end, per store partition (this worker keeps it).",
      labelNames: ["store", "partition", "app"] as const,
      registers,
    }),

    // --- restore --------------------------------------------------------------------------------------------
    restoreRemaining: new Gauge({
      name: "weir_restore_remaining_records",
      help: "Changelog records still to restore, per store partition.",
      labelNames: ["store", "partition", "app"] as const,
      registers,
    }),
    restoredRecords: new Counter({
      name: "weir_restored_records_total",
      help: "Changelog records applied to local stores during restore.",
      labelNames: ["store", "app"] as const,
      registers,
    }),
    restoreRestarts: new Counter({
      name: "weir_restore_restarts_total",
      help:
        "Restores planned again because changelog records were deleted under them (retention or DeleteRecords " +
        "on a compact,delete changelog): the store-partition is rebuilt from the new log start.",
      labelNames: ["store", "app"] as const,
      registers,
    }),
    restoreDuration: new Histogram({
      name: "weir_restore_duration_seconds",
      help: "Wall time to restore a store from its changelog.",
      labelNames: ["store", "app"] as const,
      buckets: BUCKETS.restore,
      registers,
    }),
    restoreRate: new Gauge({
      name: "weir_restore_rate_records_per_second",
      help: "Restore throughput over a sliding window, per store.",
      labelNames: ["store", "app"] as const,
      registers,
    }),

    // --- stores ---------------------------------------------------------------------------------------------
    storeEntries: new Gauge({
      name: "weir_store_entries",
      help: "Entries in a local state store partition.",
      labelNames: ["store", "partition", "app"] as const,
      registers,
    }),
    storeBytes: new Gauge({
      name: "weir_store_bytes",
      help: "On-disk size of a local state store partition.",
      labelNames: ["store", "partition", "app"] as const,
      registers,
    }),

    // --- errors and application -----------------------------------------------------------------------------
    deadLetterRecords: new Counter({
      name: "weir_dead_letter_records_total",
      help: "Records sent to the dead-letter topic, by reason and source topic.",
      labelNames: ["reason", "topic", "app"] as const,
      registers,
    }),
    droppedRecords: new Counter({
      name: "weir_dropped_records_total",
      help:
        "Records a store or operator discarded instead of processing them (Kafka Streams' dropped-records " +
        "sensor), by reason (expired-window: a window-store put older than the retention behind stream time; " +
        "null-key, null-value: a record an aggregation or join skips; global-table-invalid: a global table's " +
        "record its serdes cannot read; no-partner: a stream-join record whose window closed without a partner, " +
        "on a side not joined with null; late: a record for a window closed by closeIdleAfterMs; ttl-expired: " +
        "an entry a store with a TTL deleted (node: the store); or what a " +
        "processor passes to ctx.dropped) and processor node.",
      labelNames: ["reason", "node", "app"] as const,
      registers,
    }),
    // --- asynchronous processors (processAsync) --------------------------------------------------------------
    asyncInFlight: new Gauge({
      name: "weir_async_in_flight_records",
      help:
        "Records inside an asynchronous processor on this worker (waiting for their turn, called, or settled and " +
        "not yet applied), by processor. At `concurrency` per task the task takes no new records.",
      labelNames: ["processor", "app"] as const,
      registers,
    }),
    asyncDuration: new Histogram({
      name: "weir_async_call_duration_seconds",
      help: "One call of an asynchronous processor, by processor and outcome (ok|error|timeout).",
      labelNames: ["processor", "outcome", "app"] as const,
      buckets: BUCKETS.endToEnd,
      registers,
    }),
    asyncCommitWait: new Histogram({
      name: "weir_async_commit_wait_seconds",
      help:
        "How long a commit waited for the records in asynchronous processors to settle (the worker takes no new " +
        "records meanwhile, and under exactly-once no output is committed): the slowest call in flight, retries " +
        "included.",
      labelNames: ["app"] as const,
      buckets: BUCKETS.commit,
      registers,
    }),
    asyncTimeouts: new Counter({
      name: "weir_async_timeouts_total",
      help: "Calls of an asynchronous processor that passed their timeoutMs (each is retried or dead-lettered).",
      labelNames: ["processor", "app"] as const,
      registers,
    }),
    asyncRetries: new Counter({
      name: "weir_async_retries_total",
      help: "Calls of an asynchronous processor repeated after a failure or a timeout.",
      labelNames: ["processor", "app"] as const,
      registers,
    }),
    asyncFailures: new Counter({
      name: "weir_async_failures_total",
      help:
        "Records whose every call of an asynchronous processor failed: handed to the processing handler " +
        "(dead-lettered, or the worker fails).",
      labelNames: ["processor", "app"] as const,
      registers,
    }),
    punctuations: new Counter({
      name: "weir_punctuations_total",
      help: "Punctuations fired, by kind (stream-time|wall-clock).",
      labelNames: ["kind", "app"] as const,
      registers,
    }),
    backpressurePausedPartitions: new Gauge({
      name: "weir_backpressure_paused_partitions",
      help: "Partitions currently paused because downstream is saturated.",
      labelNames: ["app"] as const,
      registers,
    }),

    // --- worker ---------------------------------------------------------------------------------------------
    workerReady: new Gauge({
      name: "weir_worker_ready",
      help: "1 when the worker has restored its stores and is processing (what /readyz reports), else 0.",
      labelNames: ["app"] as const,
      registers,
    }),
    workerStalled: new Gauge({
      name: "weir_worker_stalled",
      help:
        "1 while the worker has work waiting (lag or queued records) and has not committed for the stall timeout " +
        "(--stall-timeout-ms), else 0. /readyz says why.",
      labelNames: ["app"] as const,
      registers,
    }),
    workerProblem: new Gauge({
      name: "weir_worker_problem",
      help:
        "1 while a problem keeps the worker from progressing (brokers-unreachable, topic-missing, commits-failing, " +
        "commit-undecided, stalled, split-assignment), else 0; /readyz is 503 while any is 1.",
      labelNames: ["problem", "app"] as const,
      registers,
    }),
    workerInfo: new Gauge({
      name: "weir_worker_info",
      help: "Constant 1, labelled with the worker's version, application id and processing guarantee.",
      labelNames: ["version", "app", "guarantee"] as const,
      registers,
    }),

    // --- librdkafka statistics (see applyLibrdkafkaStats) -----------------------------------------------------
    kafkaBrokerRtt: new Gauge({
      name: "weir_kafka_broker_rtt_seconds",
      // `stat`, not `quantile`: Prometheus reserves the quantile label for summaries (promtool lints it).
      help: "Broker round-trip time from librdkafka statistics (stat avg|p99), per client role.",
      labelNames: ["client", "broker", "stat", "app"] as const,
      registers,
    }),
    kafkaQueueMessages: new Gauge({
      name: "weir_kafka_queue_messages",
      help: "Messages in librdkafka's queues (stats msg_cnt).",
      labelNames: ["client", "app"] as const,
      registers,
    }),
    kafkaQueueBytes: new Gauge({
      name: "weir_kafka_queue_bytes",
      help: "Bytes in librdkafka's queues (stats msg_size).",
      labelNames: ["client", "app"] as const,
      registers,
    }),
    kafkaTxErrors: new Counter({
      name: "weir_kafka_tx_errors_total",
      help: "Broker transmission errors reported by librdkafka (stats txerrs).",
      labelNames: ["client", "app"] as const,
      registers,
    }),
    kafkaRxErrors: new Counter({
      name: "weir_kafka_rx_errors_total",
      help: "Broker receive errors reported by librdkafka (stats rxerrs).",
      labelNames: ["client", "app"] as const,
      registers,
    }),
  };
  return metrics;
}

type Instruments = ReturnType<typeof defineInstruments>;

/**
 * weir's instruments, labelled with one application's id (`app`), on a prom-client registry: one property per
 * metric (`recordsConsumed` is `weir_records_consumed_total`, and so on; docs/metrics.md explains what they
 * answer). Pass it to a worker (`WorkerOptions.metrics`) and serve `registry.metrics()` on `/metrics`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { Worker, createMetrics, type Topology } from "weir";
 *
 * declare const topology: Topology;
 * const metrics = createMetrics();
 * const worker = new Worker(topology, { brokers: "localhost:9092", stateDir: "/var/lib/weir", metrics });
 * createServer(async (_req, res) => {
 *   res.setHeader("content-type", metrics.registry.contentType);
 *   res.end(await metrics.registry.metrics());
 * }).listen(9464);
 * await worker.start();
 * ```
 */
export type WeirMetrics = Readonly<Instruments> & {
  /** The prom-client registry the instruments are registered on. */
  readonly registry: Registry;
  /** The application whose series these are (undefined: no `app` label is added). */
  readonly app: string | undefined;
};

const instrumentsOf = new WeakMap<Registry, Instruments>();

/**
 * weir's instruments on `registry` (a fresh one by default), for application `app`. The instruments and Node's
 * default metrics are registered once per registry; each application's view adds its `app` label to every series,
 * so several applications (workers of different topologies) in one process share one `/metrics`.
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { createMetrics } from "weir";
 *
 * const registry = new Registry();
 * const shop = createMetrics(registry, "shop");
 * const billing = createMetrics(registry, "billing"); // same instruments, app="billing" on its series
 * ```
 */
export function createMetrics(registry: Registry = new Registry(), app?: string): WeirMetrics {
  let instruments = instrumentsOf.get(registry);
  if (!instruments) {
    collectDefaultMetrics({ register: registry });
    instruments = defineInstruments(registry);
    instrumentsOf.set(registry, instruments);
  }
  const view: Record<string, unknown> = { registry, app };
  for (const [key, metric] of Object.entries(instruments))
    view[key] = app === undefined ? metric : withApp(metric, app);
  return Object.freeze(view) as WeirMetrics;
}

/**
 * The same registry's instruments, labelled for `app` (what a worker does with the metrics it is given).
 *
 * @example
 * ```ts
 * import { createMetrics, metricsForApp } from "weir";
 *
 * const metrics = createMetrics();
 * const shop = metricsForApp(metrics, "shop");
 * shop.recordsConsumed.inc({ topic: "orders", partition: "0" }); // counted with app="shop"
 * ```
 */
export function metricsForApp(metrics: WeirMetrics, app: string): WeirMetrics {
  return metrics.app === app ? metrics : createMetrics(metrics.registry, app);
}

/** A metric whose every series gets `app`: label-taking methods have it merged into their labels. */
function withApp<M extends object>(metric: M, app: string): M {
  return new Proxy(metric, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      const fn = value as (...args: unknown[]) => unknown;
      switch (prop) {
        case "inc":
        case "dec":
        case "set":
        case "observe":
          return (a?: unknown, b?: unknown) =>
            a !== null && typeof a === "object"
              ? fn.call(target, { ...a, app }, b)
              : a === undefined
                ? fn.call(target, { app })
                : fn.call(target, { app }, a);
        case "labels":
        case "remove":
          return (labels: object) => fn.call(target, { ...labels, app });
        default:
          return fn.bind(target);
      }
    },
  });
}

/**
 * The labels of the constant `weir_worker_info` series (see {@link setWorkerInfo}).
 *
 * @example
 * ```ts
 * import type { WorkerInfo } from "weir";
 *
 * const info: WorkerInfo = { version: "0.1.0", app: "shop", guarantee: "exactly_once" };
 * ```
 */
export interface WorkerInfo {
  /** weir's version. */
  version: string;
  /** The application id. */
  app: string;
  /** The processing guarantee, as a label value (`weir worker` publishes the option's value, e.g. `exactly_once`). */
  guarantee: "exactly_once" | "at_least_once" | (string & {});
}

const appCounters = new WeakMap<Registry, Map<string, { counter: Counter<string>; labels: string }>>();

/**
 * An application's own counter (ProcessorContext.counter) on the worker's registry: created on first use, the same
 * object for every task after that. The same name with other label names is an error in the application.
 */
export function appCounter(
  metrics: WeirMetrics,
  name: string,
  help: string,
  labelNames: readonly string[],
): AppCounter {
  let byName = appCounters.get(metrics.registry);
  if (!byName) appCounters.set(metrics.registry, (byName = new Map()));
  let entry = byName.get(name);
  if (!entry) {
    entry = {
      counter: new Counter({ name, help, labelNames: [...labelNames, "app"], registers: [metrics.registry] }),
      labels: labelNames.join(","),
    };
    byName.set(name, entry);
  } else if (entry.labels !== labelNames.join(","))
    throw new TopologyError(
      `counter '${name}' is declared with labels [${labelNames.join(", ")}] and [${entry.labels}]; use one set`,
    );
  const counter = entry.counter;
  const app = metrics.app === undefined ? {} : { app: metrics.app };
  return { inc: (labels, value) => counter.inc({ ...labels, ...app }, value ?? 1) };
}

/**
 * Publish the constant `weir_worker_info` series (value 1, labelled with version, app and guarantee), as
 * `weir worker` does at start.
 *
 * @example
 * ```ts
 * import { createMetrics, setWorkerInfo } from "weir";
 *
 * const metrics = createMetrics(undefined, "shop");
 * setWorkerInfo(metrics, { version: "0.1.0", app: "shop", guarantee: "exactly_once" });
 * ```
 */
export function setWorkerInfo(metrics: WeirMetrics, info: WorkerInfo): void {
  metrics.workerInfo.set({ version: info.version, app: info.app, guarantee: info.guarantee }, 1);
}

/** Drop the per-partition series of a revoked or lost source partition, so dashboards stop showing stale lag. */
export function forgetTopicPartition(metrics: WeirMetrics, topic: string, partition: number): void {
  const labels = { topic, partition: String(partition) };
  metrics.consumerLag.remove(labels);
  metrics.committedOffset.remove(labels);
}

/** Drop the per-partition series of a store partition that moved away from this worker. */
export function forgetStorePartition(metrics: WeirMetrics, store: string, partition: number): void {
  const labels = { store, partition: String(partition) };
  metrics.storeEntries.remove(labels);
  metrics.storeBytes.remove(labels);
  metrics.restoreRemaining.remove(labels);
}

// -------------------------------------------------------------------------------------------------------------
// Consumer lag
// -------------------------------------------------------------------------------------------------------------

/** librdkafka's "no offset" sentinel (RD_KAFKA_OFFSET_INVALID); any negative offset means unknown. */
export const OFFSET_INVALID = -1001;

function knownOffset(offset: number | null | undefined): offset is number {
  return typeof offset === "number" && Number.isFinite(offset) && offset >= 0;
}

/**
 * Records between the consumer's position and the partition's high watermark; never negative.
 *
 * Returns `undefined` when the lag cannot be known: the high watermark is unknown, or the position is unknown
 * (-1001, nothing consumed or committed yet) and no low watermark was given. With an unknown position and a known
 * `lowWatermark`, the whole retained log counts as lag (the consumer will start at the log start or be reset).
 * Do not set the gauge for `undefined`: a 0 would hide a stuck consumer.
 */
export function consumerLag(
  highWatermark: number,
  position: number,
  lowWatermark?: number,
): number | undefined {
  if (!knownOffset(highWatermark)) return undefined;
  if (knownOffset(position)) return Math.max(0, highWatermark - position);
  if (knownOffset(lowWatermark)) return Math.max(0, highWatermark - lowWatermark);
  return undefined;
}

export { applyLibrdkafkaStats, type ClientRole, type LibrdkafkaStats } from "./librdkafka-stats.js";
export { RestoreProgress, type RestoreProgressOptions, type RestoreRange } from "./restore-progress.js";
