/**
 * The `orders` workload of `npm run bench` (bench/suite.ts): weir's order pipeline (processors/app.ts) against the
 * same pipeline written for each peer (Kafka Streams: bench/peers/kafka-streams, Orders.java), on one generated
 * input, each verified by weir's verifier.
 *
 * - Input: `weir generate`'s workload (processors/workload.ts `generateWorkload`, produced by bin/generate.ts
 *   `produceWorkload`) of N orders into the pipeline's own topics `orders`, `payments` and `restocks`, once. Its
 *   simulated clock ends two minutes before the run, so no record is ahead of the wall clock.
 * - The pipeline's topic names are fixed (processors/app.ts `Topics`): before each contender the harness deletes and
 *   recreates every topic the pipeline writes (bin/demo.ts `orderPipelineTopics`, as `weir demo` does) and weir's
 *   group `weir-orders`. A peer's own internal topics carry its `--app-id`.
 * - The risk service (processors/risk-service.ts) runs in the harness, without latency or failures; contenders get
 *   its URL in `WEIR_BENCH_RISK_URL`.
 * - Done: every generated order has its status on `order-status` (read_committed, read as it grows).
 *   Committed inputs are not enough: statuses come out of two repartition hops and a feedback loop after the inputs
 *   are committed. The clock stops at the last status; then the harness waits until the pipeline's topics stop
 *   moving (releases of rejected orders still restore stock after the last status), reads `order-status`,
 *   `stock-levels` and the contender's dead-letter topic, and checks them with processors/workload.ts
 *   `verifyWorkload` (exactly one status per order, the statuses the seed implies, stock never negative and
 *   balanced, every malformed record dead-lettered).
 */
import { APP_ID, DEFAULT_PIPELINE_OPTIONS, Topics } from "../processors/app.js";
import { startRiskService } from "../processors/risk-service.js";
import { DEFAULT_WORKLOAD, type Workload } from "../processors/workload.js";
import { orderPipelineTopics } from "../bin/demo.js";
import { produceWorkload } from "../bin/generate.js";
import { verifyTopics } from "../bin/verify.js";
import {
  createTopics,
  deleteGroup,
  deleteTopics,
  endOffsets,
  topicPartitions,
} from "../bin/workload-kafka.js";
import {
  Kafka,
  RdKafka,
  baseClientConfig,
  connect,
  consumeBatch,
  disconnect,
  extras,
  type KafkaConsumer,
} from "../topology/kafka.js";
import { log, sleep, now } from "./lib.js";

/** Orders of the default run: about a minute for weir on a 2-core machine. */
export const DEFAULT_ORDERS = 30_000;
/** Contenders with an order pipeline; the others get a row saying so. */
const SUPPORTED = new Set(["weir", "kafka-streams"]);

/** What the suite gives this workload: how to start and stop a contender, as for its other workloads. */
export interface OrdersHarness<S extends StartedLike> {
  brokers: string;
  partitions: number;
  orders: number;
  timeoutS: number;
  start: (contender: string, input: string, output: string) => Promise<S>;
  stop: (s: S) => Promise<void>;
  exitReason: (s: S, code: number | null, signal: string | null) => { unsupported?: string; failed?: string };
  /** Keep the pipeline's topics after the run (they are deleted otherwise). */
  keep: boolean;
  /** Why a contender cannot run (its set-up failed), or undefined. */
  unavailable: (contender: string) => string | undefined;
}

export interface StartedLike {
  child: { exitCode: number | null; signalCode: NodeJS.Signals | null };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  sampler: { sample(): void; cpuSeconds(): number; peakRssKiB: number };
  appId: string;
}

export interface OrdersResult {
  contender: string;
  orders?: number;
  seconds?: number;
  ordersPerSecond?: number;
  /** Orders ÷ (last status − first status). */
  steadyOrdersPerSecond?: number;
  cpuSecondsPerMillion?: number;
  peakRssMiB?: number;
  output?: string;
  note?: string;
}

const deadLetterTopic = (contender: string, appId: string) =>
  contender === "weir" ? Topics.deadLetter : `${appId}-dlq`;

/** The topics the pipeline writes (outputs, weir's internal topics and dead letters), not its inputs. */
const INPUTS = new Set<string>([Topics.orders, Topics.payments, Topics.restocks]);

export async function runOrders<S extends StartedLike>(
  h: OrdersHarness<S>,
  contenders: string[],
): Promise<OrdersResult[]> {
  const specs = orderPipelineTopics(h.partitions);
  const outputs = specs.filter((t) => !INPUTS.has(t.name));
  const rate = DEFAULT_WORKLOAD.rate;
  const spanMs = Math.ceil((h.orders * 1000) / rate) + 60_000;
  const options = {
    orders: h.orders,
    seed: 1,
    rate,
    skus: DEFAULT_WORKLOAD.skus,
    scarce: 0.2,
    startMs: Math.floor(Date.now() / 1000) * 1000 - spanMs - 120_000,
    pipeline: DEFAULT_PIPELINE_OPTIONS,
    badInput: 0,
  };
  log(`orders: recreating the pipeline's topics and producing ${h.orders.toLocaleString("en-US")} orders`);
  await deleteTopics(h.brokers, await withWeirTopics(h.brokers, specs));
  await deleteGroup(h.brokers, APP_ID);
  await createTopics(h.brokers, specs);
  const { workload, seconds } = await produceWorkload(h.brokers, options, false);
  log(`  produced ${workload.records.length.toLocaleString("en-US")} records in ${seconds.toFixed(1)} s`);

  const risk = await startRiskService({ latencyMs: [0, 0], failureRate: 0 });
  process.env.WEIR_BENCH_RISK_URL = risk.url;
  const results: OrdersResult[] = [];
  try {
    for (const c of contenders) {
      const row: OrdersResult = { contender: c };
      results.push(row);
      if (!SUPPORTED.has(c)) {
        row.note = `unsupported: no order pipeline written for ${c} (bench/peers/README.md)`;
        continue;
      }
      const unavailable = h.unavailable(c);
      if (unavailable !== undefined) {
        row.note = unavailable;
        continue;
      }
      log(`orders: ${c}`);
      // A fresh start: the outputs of the previous contender, weir's group and internal topics gone.
      await deleteTopics(h.brokers, await withWeirTopics(h.brokers, outputs));
      await deleteGroup(h.brokers, APP_ID);
      await createTopics(h.brokers, outputs);
      Object.assign(row, await runOne(h, c, workload));
      log(row.ordersPerSecond ? `  ${row.ordersPerSecond} orders/s, ${row.output}` : `  ${row.note}`);
    }
  } finally {
    delete process.env.WEIR_BENCH_RISK_URL;
    await risk.close();
    if (!h.keep) {
      await deleteTopics(h.brokers, await withWeirTopics(h.brokers, specs));
      await deleteGroup(h.brokers, APP_ID);
    }
  }
  return results;
}

async function runOne<S extends StartedLike>(
  h: OrdersHarness<S>,
  contender: string,
  workload: Workload,
): Promise<Partial<OrdersResult>> {
  const expected = new Set(workload.orders.map((o) => o.orderId));
  const seen = new Set<string>();
  let first: number | undefined;
  let last: number | undefined;
  const started = now();
  const s = await h.start(contender, Topics.orders, Topics.orderStatus);
  const watcher = await watchStatuses(h.brokers, h.partitions, (id) => {
    if (!expected.has(id) || seen.has(id)) return;
    seen.add(id);
    first ??= now();
    if (seen.size === expected.size) last = now();
  });
  try {
    while (last === undefined) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        const { code, signal } = await s.exited;
        const r = h.exitReason(s, code, signal);
        return { note: r.unsupported ? `unsupported: ${r.unsupported}` : `failed: ${r.failed}` };
      }
      if (now() - started > h.timeoutS * 1000) {
        s.sampler.sample();
        const secs = (now() - started) / 1000;
        return {
          orders: seen.size,
          seconds: Math.round(secs * 100) / 100,
          ordersPerSecond: Math.round(seen.size / secs),
          cpuSecondsPerMillion: Math.round((s.sampler.cpuSeconds() / Math.max(1, seen.size)) * 1e8) / 100,
          peakRssMiB: Math.round(s.sampler.peakRssKiB / 1024),
          note: `timed out after ${h.timeoutS} s with ${seen.size} of ${expected.size} orders decided: the rate is over those`,
        };
      }
      await sleep(100);
    }
    s.sampler.sample();
    const cpuSeconds = s.sampler.cpuSeconds();
    const seconds = (last - started) / 1000;
    await waitQuiet(h.brokers, s.appId, 60_000);
    const dlq = deadLetterTopic(contender, s.appId);
    const { report, statusRecords } = await verifyTopics(h.brokers, workload, dlq);
    const failed = Object.entries(report.checks)
      .filter(([, c]) => !c.ok)
      .map(([name, c]) => `${name} ${JSON.stringify(c)}`);
    const counts = Object.entries(report.statuses)
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    return {
      orders: expected.size,
      seconds: Math.round(seconds * 100) / 100,
      ordersPerSecond: Math.round(expected.size / seconds),
      steadyOrdersPerSecond:
        first === undefined ? undefined : Math.round(expected.size / ((last - first) / 1000)),
      cpuSecondsPerMillion: Math.round((cpuSeconds / expected.size) * 1e8) / 100,
      peakRssMiB: Math.round(s.sampler.peakRssKiB / 1024),
      output: report.ok
        ? `right: ${statusRecords} statuses (${counts}); stock, dead letters ok`
        : `WRONG: ${failed.join("; ").slice(0, 600)}`,
    };
  } finally {
    await watcher.stop();
    await h.stop(s);
  }
}

/**
 * Reads `order-status` (read_committed) from the beginning as it grows, calling `onStatus` with each key. Unlike
 * bin/demo.ts's watcher, a batch returns as soon as a record is there (kafka-javascript's consume(n) otherwise
 * waits up to its timeout for each of the n), so the time of the last status is not held back.
 */
async function watchStatuses(brokers: string, partitions: number, onStatus: (orderId: string) => void) {
  const consumer: KafkaConsumer = new Kafka.KafkaConsumer({
    ...baseClientConfig(brokers, `weir-bench-orders-watch-${process.pid}`),
    [RdKafka.groupId]: `weir-bench-orders-watch-${process.pid}-${Date.now()}`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.isolationLevel]: "read_committed",
    [RdKafka.fetchWaitMaxMs]: 10,
  } as never);
  await connect(consumer);
  consumer.setDefaultConsumeTimeout(100);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  consumer.assign(
    Array.from({ length: partitions }, (_, partition) => ({
      topic: Topics.orderStatus,
      partition,
      offset: 0,
    })),
  );
  let stopped = false;
  const loop = (async () => {
    while (!stopped)
      for (const m of await consumeBatch(consumer, 5000)) if (m.key) onStatus(m.key.toString());
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => undefined);
      await disconnect(consumer);
    },
  };
}

/** The topics' names, and every existing topic of weir's pipeline (`weir-orders-*`, e.g. its members topic). */
async function withWeirTopics(brokers: string, topics: Array<{ name: string }>): Promise<string[]> {
  const existing = [...(await topicPartitions(brokers)).keys()].filter((t) => t.startsWith(`${APP_ID}-`));
  return [...new Set([...topics.map((t) => t.name), ...existing])];
}

/**
 * Until the end offsets of every topic the contender writes (the pipeline's outputs, weir's internal topics, the
 * peer's topics named after its app id) stay the same for 2 s: the releases after the last status are applied.
 */
async function waitQuiet(brokers: string, appId: string, timeoutMs: number): Promise<void> {
  const counts = await topicPartitions(brokers);
  const topics = [...counts.keys()].filter(
    (t) =>
      t === Topics.orderStatus ||
      t === Topics.stockLevels ||
      t === Topics.ordersPaid ||
      t.startsWith(`${APP_ID}-`) ||
      t.includes(appId),
  );
  const snapshot = async () => {
    const parts: string[] = [];
    for (const t of topics)
      parts.push(`${t}:${[...(await endOffsets(brokers, t, counts.get(t) ?? 1)).values()].join(",")}`);
    return parts.join(" ");
  };
  const deadline = Date.now() + timeoutMs;
  let previous = await snapshot();
  while (Date.now() < deadline) {
    await sleep(2000);
    const current = await snapshot();
    if (current === previous) return;
    previous = current;
  }
}
