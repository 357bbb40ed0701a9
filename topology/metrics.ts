// Every weir metric, defined once. The engine, the worker's HTTP server and the deploy/ assets (Prometheus rules,
// Grafana dashboard) all refer to these names; test/unit/deploy.test.ts fails when a dashboard or rule mentions a
// metric that is not registered here, so rename with care.
//
// Conventions: `weir_` prefix, base units (`_seconds`, `_bytes`), counters end in `_total`, and labels come only
// from bounded sets (topic, partition, store, processor, reason, kind, status, outcome, client, broker, stat).
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
export function createMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const metrics = {
    registry,

    // --- throughput ---------------------------------------------------------------------------------------
    recordsConsumed: new Counter({
      name: "weir_records_consumed_total",
      help: "Records consumed from source topics.",
      labelNames: ["topic", "partition"] as const,
      registers,
    }),
    recordsProduced: new Counter({
      name: "weir_records_produced_total",
      help: "Records produced to sink topics (changelogs and dead letters included).",
      labelNames: ["topic"] as const,
      registers,
    }),

    // --- latency --------------------------------------------------------------------------------------------
    processingLatency: new Histogram({
      name: "weir_processing_latency_seconds",
      help: "Time a processor spends on one record.",
      labelNames: ["processor"] as const,
      buckets: BUCKETS.processing,
      registers,
    }),
    endToEndLatency: new Histogram({
      name: "weir_end_to_end_latency_seconds",
      help: "From the input record's timestamp to its output being produced, by output topic.",
      labelNames: ["topic"] as const,
      buckets: BUCKETS.endToEnd,
      registers,
    }),

    // --- offsets and lag ------------------------------------------------------------------------------------
    consumerLag: new Gauge({
      name: "weir_consumer_lag_records",
      help: "High watermark minus consumer position, per assigned partition.",
      labelNames: ["topic", "partition"] as const,
      registers,
    }),
    committedOffset: new Gauge({
      name: "weir_committed_offset",
      help: "Last committed offset (next offset to consume), per assigned partition.",
      labelNames: ["topic", "partition"] as const,
      registers,
    }),

    // --- transactions ---------------------------------------------------------------------------------------
    transactions: new Counter({
      name: "weir_transactions_total",
      help: "Kafka transactions finished, by outcome (committed|aborted).",
      labelNames: ["outcome"] as const,
      registers,
    }),
    commitDuration: new Histogram({
      name: "weir_commit_duration_seconds",
      help: "Time to commit a transaction (or offsets, in at-least-once mode).",
      buckets: BUCKETS.commit,
      registers,
    }),

    // --- group membership -----------------------------------------------------------------------------------
    rebalances: new Counter({
      name: "weir_rebalances_total",
      help: "Rebalance callbacks, by kind (assigned|revoked|lost).",
      labelNames: ["kind"] as const,
      registers,
    }),
    offsetResets: new Counter({
      name: "weir_offset_resets_total",
      help:
        "Input partitions started without their committed offset, by reason: no-committed-offset (the source's " +
        "offsetReset policy) or offset-lost (the committed offset is no longer in the partition).",
      labelNames: ["topic", "reason"] as const,
      registers,
    }),
    assignedTasks: new Gauge({
      name: "weir_assigned_tasks",
      help: "Tasks (partition groups) currently owned by this worker.",
      registers,
    }),
    assignedPartitions: new Gauge({
      name: "weir_assigned_partitions",
      help: "Source partitions currently assigned to this worker.",
      registers,
    }),

    // --- restore --------------------------------------------------------------------------------------------
    restoreRemaining: new Gauge({
      name: "weir_restore_remaining_records",
      help: "Changelog records still to restore, per store partition.",
      labelNames: ["store", "partition"] as const,
      registers,
    }),
    restoredRecords: new Counter({
      name: "weir_restored_records_total",
      help: "Changelog records applied to local stores during restore.",
      labelNames: ["store"] as const,
      registers,
    }),
    restoreDuration: new Histogram({
      name: "weir_restore_duration_seconds",
      help: "Wall time to restore a store from its changelog.",
      labelNames: ["store"] as const,
      buckets: BUCKETS.restore,
      registers,
    }),
    restoreRate: new Gauge({
      name: "weir_restore_rate_records_per_second",
      help: "Restore throughput over a sliding window, per store.",
      labelNames: ["store"] as const,
      registers,
    }),

    // --- stores ---------------------------------------------------------------------------------------------
    storeEntries: new Gauge({
      name: "weir_store_entries",
      help: "Entries in a local state store partition.",
      labelNames: ["store", "partition"] as const,
      registers,
    }),
    storeBytes: new Gauge({
      name: "weir_store_bytes",
      help: "On-disk size of a local state store partition.",
      labelNames: ["store", "partition"] as const,
      registers,
    }),

    // --- errors and application -----------------------------------------------------------------------------
    deadLetterRecords: new Counter({
      name: "weir_dead_letter_records_total",
      help: "Records sent to the dead-letter topic, by reason and source topic.",
      labelNames: ["reason", "topic"] as const,
      registers,
    }),
    punctuations: new Counter({
      name: "weir_punctuations_total",
      help: "Punctuations fired, by kind (stream-time|wall-clock).",
      labelNames: ["kind"] as const,
      registers,
    }),
    backpressurePausedPartitions: new Gauge({
      name: "weir_backpressure_paused_partitions",
      help: "Partitions currently paused because downstream is saturated.",
      registers,
    }),

    // --- worker ---------------------------------------------------------------------------------------------
    workerReady: new Gauge({
      name: "weir_worker_ready",
      help: "1 when the worker has restored its stores and is processing (what /readyz reports), else 0.",
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
      labelNames: ["client", "broker", "stat"] as const,
      registers,
    }),
    kafkaQueueMessages: new Gauge({
      name: "weir_kafka_queue_messages",
      help: "Messages in librdkafka's queues (stats msg_cnt).",
      labelNames: ["client"] as const,
      registers,
    }),
    kafkaQueueBytes: new Gauge({
      name: "weir_kafka_queue_bytes",
      help: "Bytes in librdkafka's queues (stats msg_size).",
      labelNames: ["client"] as const,
      registers,
    }),
    kafkaTxErrors: new Counter({
      name: "weir_kafka_tx_errors_total",
      help: "Broker transmission errors reported by librdkafka (stats txerrs).",
      labelNames: ["client"] as const,
      registers,
    }),
    kafkaRxErrors: new Counter({
      name: "weir_kafka_rx_errors_total",
      help: "Broker receive errors reported by librdkafka (stats rxerrs).",
      labelNames: ["client"] as const,
      registers,
    }),
  };
  return Object.freeze(metrics);
}

export type WeirMetrics = ReturnType<typeof createMetrics>;

export interface WorkerInfo {
  version: string;
  app: string;
  guarantee: "exactly-once" | "at-least-once" | (string & {});
}

const appCounters = new WeakMap<WeirMetrics, Map<string, { counter: Counter<string>; labels: string }>>();

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
  let byName = appCounters.get(metrics);
  if (!byName) appCounters.set(metrics, (byName = new Map()));
  let entry = byName.get(name);
  if (!entry) {
    entry = {
      counter: new Counter({ name, help, labelNames: [...labelNames], registers: [metrics.registry] }),
      labels: labelNames.join(","),
    };
    byName.set(name, entry);
  } else if (entry.labels !== labelNames.join(","))
    throw new TopologyError(
      `counter '${name}' is declared with labels [${labelNames.join(", ")}] and [${entry.labels}]; use one set`,
    );
  const counter = entry.counter;
  return { inc: (labels, value) => (labels ? counter.inc(labels, value ?? 1) : counter.inc(value ?? 1)) };
}

/** Publish the constant `weir_worker_info` series. */
export function setWorkerInfo(metrics: WeirMetrics, info: WorkerInfo): void {
  metrics.workerInfo.reset();
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

// -------------------------------------------------------------------------------------------------------------
// librdkafka statistics
// -------------------------------------------------------------------------------------------------------------

export type ClientRole = "consumer" | "producer";

/** The few fields of librdkafka's statistics JSON (STATISTICS.md) that weir maps; everything is optional. */
export interface LibrdkafkaStats {
  msg_cnt?: number;
  msg_size?: number;
  txerrs?: number;
  rxerrs?: number;
  brokers?: Record<string, { nodeid?: number; rtt?: { avg?: number; p99?: number } } | undefined>;
  topics?: Record<string, { partitions?: Record<string, { consumer_lag?: number } | undefined> } | undefined>;
}

interface StatsState {
  counters: Map<string, number>;
  brokers: Map<ClientRole, Set<string>>;
}
const statsState = new WeakMap<WeirMetrics, StatsState>();

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Counters in librdkafka's stats are cumulative per client instance; advance ours by the difference. */
function advance(
  state: StatsState,
  counter: Counter<"client">,
  key: string,
  client: ClientRole,
  total: unknown,
) {
  const value = num(total);
  if (value === undefined || value < 0) return;
  const previous = state.counters.get(key);
  // First sight, or a new client instance (its totals restarted): count what it reports from zero.
  const delta = previous === undefined ? value : value >= previous ? value - previous : value;
  state.counters.set(key, value);
  if (delta > 0) counter.inc({ client }, delta);
}

/**
 * Map one parsed librdkafka statistics document (the `event.stats` callback, `statistics.interval.ms`) onto the
 * weir_kafka_* instruments, and for the consumer onto `weir_consumer_lag_records`. RTTs are converted from
 * microseconds to seconds. Logical brokers (GroupCoordinator, bootstrap entries: nodeid -1) and the internal
 * partition -1 are skipped so labels stay bounded; brokers that disappear from the stats lose their series.
 */
export function applyLibrdkafkaStats(metrics: WeirMetrics, clientRole: ClientRole, stats: object): void {
  const s = stats as LibrdkafkaStats;
  let state = statsState.get(metrics);
  if (!state) {
    state = { counters: new Map(), brokers: new Map() };
    statsState.set(metrics, state);
  }
  const client = clientRole;

  const msgCnt = num(s.msg_cnt);
  if (msgCnt !== undefined) metrics.kafkaQueueMessages.set({ client }, msgCnt);
  const msgSize = num(s.msg_size);
  if (msgSize !== undefined) metrics.kafkaQueueBytes.set({ client }, msgSize);
  advance(state, metrics.kafkaTxErrors, `${client}:txerrs`, client, s.txerrs);
  advance(state, metrics.kafkaRxErrors, `${client}:rxerrs`, client, s.rxerrs);

  if (s.brokers && typeof s.brokers === "object") {
    const seen = new Set<string>();
    for (const [name, b] of Object.entries(s.brokers)) {
      if (!b || typeof b !== "object") continue;
      if (name.startsWith("GroupCoordinator") || (num(b.nodeid) ?? 0) < 0) continue;
      seen.add(name);
      for (const stat of ["avg", "p99"] as const) {
        const us = num(b.rtt?.[stat]);
        if (us !== undefined) metrics.kafkaBrokerRtt.set({ client, broker: name, stat }, us / 1e6);
      }
    }
    for (const gone of state.brokers.get(client) ?? []) {
      if (seen.has(gone)) continue;
      for (const stat of ["avg", "p99"]) metrics.kafkaBrokerRtt.remove({ client, broker: gone, stat });
    }
    state.brokers.set(client, seen);
  }

  if (clientRole === "consumer" && s.topics && typeof s.topics === "object") {
    for (const [topic, t] of Object.entries(s.topics)) {
      for (const [partition, p] of Object.entries(t?.partitions ?? {})) {
        if (partition === "-1" || !p) continue;
        const lag = num(p.consumer_lag);
        // -1: unknown (not assigned, or no position/watermark yet); leave the series as the engine set it.
        if (lag !== undefined && lag >= 0) metrics.consumerLag.set({ topic, partition }, lag);
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------------------
// Restore progress
// -------------------------------------------------------------------------------------------------------------

export interface RestoreRange {
  store: string;
  partition: number;
  /** First changelog offset to apply (the checkpointed offset, or the log start). */
  startOffset: number;
  /** End offset, exclusive: the changelog's high watermark when restore began. */
  endOffset: number;
}

export interface RestoreProgressOptions {
  /** Width of the sliding window for ratePerSecond; default 10 s. */
  windowMs?: number;
  /** Clock in milliseconds; injectable for tests. Default Date.now. */
  now?: () => number;
}

interface PartitionProgress {
  store: string;
  partition: number;
  start: number;
  end: number;
  position: number;
}

/**
 * Tracks a restore of several store partitions from their changelogs: records remaining per partition and in
 * total, and a per-store rate over a sliding window (0 when nothing was restored within the window — the "restore
 * stuck" signal). `record(...)` takes the offset of the last record applied (per record or per batch).
 */
export class RestoreProgress {
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly parts = new Map<string, PartitionProgress>();
  /** Per store: (time, records) samples, oldest first, pruned to the window. */
  private readonly samples = new Map<string, { at: number; n: number }[]>();
  private readonly restored = new Map<string, number>();

  constructor(ranges: Iterable<RestoreRange>, options: RestoreProgressOptions = {}) {
    this.windowMs = options.windowMs ?? 10_000;
    if (!(this.windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${this.windowMs}`);
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    for (const r of ranges) {
      const key = RestoreProgress.key(r.store, r.partition);
      if (this.parts.has(key)) throw new Error(`restore range for ${r.store}/${r.partition} given twice`);
      const start = Math.max(0, r.startOffset);
      const end = Math.max(0, r.endOffset);
      this.parts.set(key, {
        store: r.store,
        partition: r.partition,
        start,
        end,
        position: Math.min(start, end),
      });
      if (!this.samples.has(r.store)) this.samples.set(r.store, []);
      if (!this.restored.has(r.store)) this.restored.set(r.store, 0);
    }
  }

  private static key(store: string, partition: number): string {
    return `${store}\u0000${partition}`;
  }

  private part(store: string, partition: number): PartitionProgress {
    const p = this.parts.get(RestoreProgress.key(store, partition));
    if (!p) throw new Error(`no restore in progress for store ${store} partition ${partition}`);
    return p;
  }

  /** The record at `offset` (and everything before it) of `store`/`partition` has been applied. */
  record(store: string, partition: number, offset: number, atMs: number = this.now()): void {
    const p = this.part(store, partition);
    const position = Math.min(offset + 1, p.end);
    if (position <= p.position) return; // duplicate or out-of-order report
    const n = position - p.position;
    p.position = position;
    this.restored.set(store, (this.restored.get(store) ?? 0) + n);
    const samples = this.samples.get(store) ?? [];
    samples.push({ at: atMs, n });
    this.samples.set(store, samples);
    this.prune(store, atMs);
  }

  /**
   * The consumer's position reached the end of this changelog partition (transaction markers can leave the last
   * data record's offset below the end offset, so the engine says so explicitly).
   */
  complete(store: string, partition: number): void {
    const p = this.part(store, partition);
    p.position = p.end;
  }

  remaining(store: string, partition: number): number {
    const p = this.part(store, partition);
    return Math.max(0, p.end - p.position);
  }

  totalRemaining(): number {
    let total = 0;
    for (const p of this.parts.values()) total += Math.max(0, p.end - p.position);
    return total;
  }

  /** Records restored so far for `store`, across its partitions. */
  restoredRecords(store: string): number {
    return this.restored.get(store) ?? 0;
  }

  /** Records per second restored into `store` over the last `windowMs` (shorter at the very start). */
  ratePerSecond(store: string, nowMs: number = this.now()): number {
    const samples = this.samples.get(store);
    if (!samples) return 0;
    this.prune(store, nowMs);
    const since = nowMs - this.windowMs;
    let n = 0;
    for (const s of samples) if (s.at > since && s.at <= nowMs) n += s.n;
    const spanMs = Math.min(this.windowMs, nowMs - this.startedAt);
    return spanMs > 0 ? n / (spanMs / 1000) : 0;
  }

  done(): boolean {
    return this.totalRemaining() === 0;
  }

  stores(): string[] {
    return [...this.samples.keys()];
  }

  /** Set weir_restore_remaining_records and weir_restore_rate_records_per_second from this progress. */
  publish(metrics: WeirMetrics, nowMs: number = this.now()): void {
    for (const p of this.parts.values()) {
      metrics.restoreRemaining.set(
        { store: p.store, partition: String(p.partition) },
        Math.max(0, p.end - p.position),
      );
    }
    for (const store of this.samples.keys())
      metrics.restoreRate.set({ store }, this.ratePerSecond(store, nowMs));
  }

  private prune(store: string, nowMs: number): void {
    const samples = this.samples.get(store);
    if (!samples) return;
    const since = nowMs - this.windowMs;
    let drop = 0;
    while (drop < samples.length && (samples[drop]?.at ?? Infinity) <= since) drop++;
    if (drop > 0) samples.splice(0, drop);
  }
}
