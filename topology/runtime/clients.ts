/**
 * The worker's Kafka clients: their configurations (every librdkafka key weir sets, and why), creation with the
 * worker's handlers, connect with retry, error logging without floods, librdkafka's own log, statistics, and close.
 */
import { hostname } from "node:os";
import { WeirError } from "../errors.js";
import {
  Kafka,
  RdKafka,
  baseClientConfig,
  connect,
  describeKafkaError,
  disconnect,
  extras,
  flush,
  type IAdminClient,
  type KafkaConfig,
  type KafkaConsumer,
  type LibrdKafkaError,
  type Producer,
  type TopicPartition,
  sleep,
} from "../kafka.js";
import { applyLibrdkafkaStats, type WeirMetrics } from "../metrics.js";
import type { RuntimeContext } from "./context.js";

export type ClientContext = RuntimeContext;

export function clientConfig(ctx: ClientContext, role: string): KafkaConfig {
  return baseClientConfig(ctx.options.brokers, `${ctx.topology.appId}-${role}-${hostname()}-${process.pid}`, {
    [RdKafka.socketKeepalive]: true,
    [RdKafka.reconnectBackoffMaxMs]: 5000,
    ...ctx.options.kafka,
  });
}

/** librdkafka repeats the same error many times a second while a broker is down: one line per error per 10 s. */
export class ClientErrorLog {
  readonly #seen = new Map<string, { since: number; repeats: number }>();
  constructor(private readonly ctx: ClientContext) {}

  report(client: string, err: LibrdKafkaError): void {
    const key = `${client}:${err.code}:${err.message}`;
    const now = Date.now();
    const seen = this.#seen.get(key);
    if (seen && now - seen.since < 10_000) {
      seen.repeats++;
      return;
    }
    this.#seen.set(key, { since: now, repeats: 0 });
    this.ctx.log.warn(`${client} error`, {
      error: describeKafkaError(err),
      brokers: this.ctx.options.brokers,
      ...(seen?.repeats ? { repeatedInLast10s: seen.repeats } : {}),
    });
  }
}

/**
 * librdkafka's own log (its `debug` contexts, e.g. `--kafka debug=cgrp,fetch`, and its notices) into weir's
 * logger at debug level: run with `--log-level debug` to see why a client did what it did.
 */
function forwardLog(ctx: ClientContext, client: KafkaConsumer | Producer, name: string): void {
  (client as unknown as NodeJS.EventEmitter).on(
    "event.log",
    (e: { severity?: number; fac?: string; message?: string }) =>
      ctx.log.debug("librdkafka", {
        client: name,
        severity: e.severity,
        facility: e.fac,
        message: e.message,
      }),
  );
}

function applyStats(metrics: WeirMetrics, role: "consumer" | "producer", event: unknown): void {
  try {
    const message = (event as { message?: string })?.message;
    if (message) applyLibrdkafkaStats(metrics, role, JSON.parse(message) as object);
  } catch {
    // statistics are best effort
  }
}

export function createProducer(
  ctx: ClientContext,
  errors: ClientErrorLog,
  onDelivery: (
    err: LibrdKafkaError | null | undefined,
    report: { topic: string; partition: number; offset: number },
  ) => void,
): Producer {
  const o = ctx.options;
  const eos = o.guarantee === "exactly_once";
  const producer = new Kafka.Producer({
    ...clientConfig(ctx, "producer"),
    [RdKafka.enableIdempotence]: true,
    [RdKafka.acks]: "all",
    [RdKafka.lingerMs]: 5,
    [RdKafka.batchNumMessages]: 10_000,
    [RdKafka.queueBufferingMaxMessages]: 2_000_000,
    [RdKafka.queueBufferingMaxKbytes]: 1_048_576,
    [RdKafka.partitioner]: "murmur2_random",
    [RdKafka.deliveryReports]: true,
    ...(eos
      ? {
          [RdKafka.transactionalId]: `${ctx.topology.appId}-${o.workerId}`,
          [RdKafka.transactionTimeoutMs]: o.transactionTimeoutMs,
        }
      : {}),
    ...(o.statisticsIntervalMs > 0 ? { [RdKafka.statisticsIntervalMs]: o.statisticsIntervalMs } : {}),
    ...o.kafka,
  } as never);
  producer.on("delivery-report", (err, report) => onDelivery(err, report));
  producer.on("event.error", (err) => errors.report("producer", err));
  forwardLog(ctx, producer, "producer");
  const metrics = ctx.metrics;
  if (metrics) producer.on("event.stats", (s) => applyStats(metrics, "producer", s));
  return producer;
}

export function createConsumer(
  ctx: ClientContext,
  errors: ClientErrorLog,
  onRebalance: (err: LibrdKafkaError, assignment: TopicPartition[]) => void,
): KafkaConsumer {
  const o = ctx.options;
  const consumer = new Kafka.KafkaConsumer({
    ...clientConfig(ctx, "consumer"),
    [RdKafka.groupId]: ctx.topology.appId,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.enableAutoOffsetStore]: false,
    [RdKafka.isolationLevel]: "read_committed",
    // weir decides where every partition starts and assigns explicit offsets (runtime/start-offsets.ts); should a
    // position ever be invalid, librdkafka must stop and say so rather than reset silently.
    [RdKafka.autoOffsetReset]: "error",
    [RdKafka.assignmentStrategy]: o.assignor,
    [RdKafka.sessionTimeoutMs]: o.sessionTimeoutMs,
    [RdKafka.heartbeatIntervalMs]: Math.max(500, Math.floor(o.sessionTimeoutMs / 5)),
    // A rewind can wait for unstable committed offsets under the processing lock for up to the task timeout;
    // the member must not be evicted from the group for that.
    [RdKafka.maxPollIntervalMs]: Math.max(300_000, o.taskTimeoutMs + 60_000),
    [RdKafka.fetchWaitMaxMs]: 50,
    [RdKafka.allowAutoCreateTopics]: false,
    [RdKafka.rebalanceCallback]: onRebalance,
    ...(o.statisticsIntervalMs > 0 ? { [RdKafka.statisticsIntervalMs]: o.statisticsIntervalMs } : {}),
    ...o.kafka,
  } as never);
  consumer.setDefaultConsumeTimeout(100);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  consumer.on("event.error", (err) => errors.report("consumer", err));
  forwardLog(ctx, consumer, "consumer");
  const metrics = ctx.metrics;
  if (metrics) consumer.on("event.stats", (s) => applyStats(metrics, "consumer", s));
  return consumer;
}

export function createRestoreConsumer(ctx: ClientContext): KafkaConsumer {
  const consumer = new Kafka.KafkaConsumer({
    ...clientConfig(ctx, "restore"),
    // Never joins the group nor commits: it is only assigned changelog partitions.
    [RdKafka.groupId]: `${ctx.topology.appId}-restore`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.enableAutoOffsetStore]: false,
    [RdKafka.isolationLevel]: "read_committed",
    // A restore plans its own start; a position that is gone must be reported, not silently moved to the end.
    [RdKafka.autoOffsetReset]: "error",
    [RdKafka.fetchWaitMaxMs]: 10,
    [RdKafka.queuedMinMessages]: 200_000,
    [RdKafka.queuedMaxMessagesKbytes]: 262_144,
    ...ctx.options.kafka,
  } as never);
  consumer.setDefaultConsumeTimeout(200);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  forwardLog(ctx, consumer, "restore");
  return consumer;
}

/** Retry while the broker is unreachable: a clear log line each time, growing back-off, never a crash loop. */
export async function retry<T>(
  ctx: ClientContext & { stopRequested: () => boolean },
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await fn();
      if (attempt > 1) ctx.log.info(`${what}: succeeded`, { attempt });
      return result;
    } catch (err) {
      const e = err as LibrdKafkaError;
      if (e?.isFatal || ctx.stopRequested() || err instanceof WeirError) throw err;
      const delay = Math.min(500 * 2 ** Math.min(attempt - 1, 4), 8000);
      ctx.log.warn(`${what} failed; Kafka at ${ctx.options.brokers} unreachable? retrying`, {
        attempt,
        retryInMs: delay,
        error: describeKafkaError(err),
      });
      await sleep(delay);
    }
  }
}

export function connectWithRetry<C extends KafkaConsumer | Producer>(
  ctx: ClientContext & { stopRequested: () => boolean },
  client: C,
  what: string,
): Promise<C> {
  return retry(ctx, `connect ${what}`, () => connect(client as never, 10_000) as Promise<C>);
}

export async function closeClients(clients: {
  admin?: IAdminClient;
  consumer?: KafkaConsumer;
  restoreConsumer?: KafkaConsumer;
  producer?: Producer;
}): Promise<void> {
  clients.admin?.disconnect();
  if (clients.consumer) await disconnect(clients.consumer, 10_000);
  if (clients.restoreConsumer) await disconnect(clients.restoreConsumer, 5000);
  if (clients.producer) {
    await flush(clients.producer, 5000).catch(() => {});
    await disconnect(clients.producer, 5000);
  }
}
