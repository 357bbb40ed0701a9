/** librdkafka's statistics JSON (STATISTICS.md) mapped onto weir's metrics. */
import type { Counter } from "prom-client";
import type { WeirMetrics } from "./metrics.js";

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
