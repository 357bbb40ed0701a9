/**
 * The worker's Kafka clients: their configurations (every librdkafka key weir sets, and why), creation with the
 * worker's handlers, connect with retry, error logging without floods, librdkafka's own log, statistics, and close.
 */
import { hostname } from "node:os";
import { ConfigError, WeirError, errorMessage } from "../errors.js";
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
import { classify } from "../failures.js";
import { redactText, showProperty } from "../security.js";
import { DEFAULT_MAX_RECORD_BYTES } from "./record-collector.js";

export type ClientContext = RuntimeContext;

/** A client's librdkafka configuration: properties, and callbacks (the consumer's rebalance_cb). */
export type ClientConfig = Record<string, string | number | boolean | ((...args: never[]) => void)>;

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
      error: redactText(describeKafkaError(err), this.ctx.options.kafka),
      brokers: this.ctx.options.brokers,
      ...(seen?.repeats ? { repeatedInLast10s: seen.repeats } : {}),
    });
  }
}

/**
 * librdkafka's own log (its `debug` contexts, e.g. `--kafka debug=cgrp,fetch`, and its notices) into weir's
 * logger at debug level: run with `--log-level debug` to see why a client did what it did. librdkafka shows secret
 * properties as [redacted] in its `conf` dumps; any secret value of the user's properties is redacted here too.
 */
function forwardLog(ctx: ClientContext, client: KafkaConsumer | Producer, name: string): void {
  (client as unknown as NodeJS.EventEmitter).on(
    "event.log",
    (e: { severity?: number; fac?: string; message?: string }) =>
      ctx.log.debug("librdkafka", {
        client: name,
        severity: e.severity,
        facility: e.fac,
        message: e.message === undefined ? undefined : redactText(e.message, ctx.options.kafka),
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

/** The producer's librdkafka configuration: idempotent (and transactional under exactly-once), then the user's. */
export function producerConfig(ctx: ClientContext): KafkaConfig {
  const o = ctx.options;
  const eos = o.guarantee === "exactly_once";
  return {
    ...clientConfig(ctx, "producer"),
    [RdKafka.enableIdempotence]: true,
    [RdKafka.acks]: "all",
    [RdKafka.lingerMs]: 5,
    [RdKafka.batchNumMessages]: 10_000,
    [RdKafka.queueBufferingMaxMessages]: 2_000_000,
    [RdKafka.queueBufferingMaxKbytes]: 1_048_576,
    [RdKafka.partitioner]: "murmur2_random",
    [RdKafka.deliveryReports]: true,
    // Reports for failed records only: a report per record (two per input of a stateful count) was the largest
    // single cost of a worker's main thread (bench/README.md). Nothing needs a successful one: a transaction's
    // commit fails when any of its records was not delivered, at-least-once flushes before committing offsets, and
    // stores are checkpointed from the changelogs' end offsets (Committer).
    [RdKafka.deliveryReportOnlyError]: true,
    // Records are checked against this limit before they enter a transaction (RecordCollector.checkSize).
    [RdKafka.messageMaxBytes]: DEFAULT_MAX_RECORD_BYTES,
    // A sink deleted under a running worker must not come back auto-created with the broker's default partition
    // count: producing to a missing topic fails, and the worker's topic check says which topic is missing.
    [RdKafka.allowAutoCreateTopics]: false,
    ...(eos
      ? {
          [RdKafka.transactionalId]: `${ctx.topology.appId}-${o.workerId}`,
          [RdKafka.transactionTimeoutMs]: o.transactionTimeoutMs,
        }
      : {}),
    ...(o.statisticsIntervalMs > 0 ? { [RdKafka.statisticsIntervalMs]: o.statisticsIntervalMs } : {}),
    ...o.kafka,
  };
}

export function createProducer(
  ctx: ClientContext,
  errors: ClientErrorLog,
  onDelivery: (
    err: LibrdKafkaError | null | undefined,
    report: { topic: string; partition: number; offset: number },
  ) => void,
): Producer {
  const producer = new Kafka.Producer(producerConfig(ctx) as never);
  producer.on("delivery-report", (err, report) => onDelivery(err, report));
  producer.on("event.error", (err) => errors.report("producer", err));
  forwardLog(ctx, producer, "producer");
  const metrics = ctx.metrics;
  if (metrics) producer.on("event.stats", (s) => applyStats(metrics, "producer", s));
  return producer;
}

/** The group consumer's librdkafka configuration: weir commits and positions itself, then the user's. */
export function consumerConfig(
  ctx: ClientContext,
  onRebalance: (err: LibrdKafkaError, assignment: TopicPartition[]) => void,
): ClientConfig {
  const o = ctx.options;
  return {
    ...clientConfig(ctx, "consumer"),
    [RdKafka.groupId]: ctx.topology.appId,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.enableAutoOffsetStore]: false,
    [RdKafka.isolationLevel]: "read_committed",
    // weir decides where every partition starts and assigns explicit offsets (runtime/start-offsets.ts); should a
    // position ever be invalid, librdkafka must stop and say so rather than reset silently.
    [RdKafka.autoOffsetReset]: "error",
    ...groupProtocolConfig(o),
    ...(o.groupInstanceId !== undefined ? { [RdKafka.groupInstanceId]: o.groupInstanceId } : {}),
    // A rewind can wait for unstable committed offsets under the processing lock for up to the task timeout;
    // the member must not be evicted from the group for that.
    [RdKafka.maxPollIntervalMs]: Math.max(300_000, o.taskTimeoutMs + 60_000),
    [RdKafka.fetchWaitMaxMs]: 50,
    [RdKafka.allowAutoCreateTopics]: false,
    [RdKafka.rebalanceCallback]: onRebalance,
    ...(o.statisticsIntervalMs > 0 ? { [RdKafka.statisticsIntervalMs]: o.statisticsIntervalMs } : {}),
    ...o.kafka,
  };
}

/**
 * What the group protocol lets a member set. Classic: the client-side assignor, the session timeout and a heartbeat
 * at a fifth of it. Consumer (KIP-848): the protocol and the broker-side assignor only — librdkafka refuses the
 * session timeout, heartbeat interval and client-side assignor there (the broker's group configs hold them).
 */
function groupProtocolConfig(o: ClientContext["options"]): KafkaConfig {
  if (o.groupProtocol === "consumer")
    return {
      [RdKafka.groupProtocol]: "consumer",
      ...(o.remoteAssignor !== undefined ? { [RdKafka.groupRemoteAssignor]: o.remoteAssignor } : {}),
    };
  return {
    [RdKafka.assignmentStrategy]: o.assignor,
    [RdKafka.sessionTimeoutMs]: o.sessionTimeoutMs,
    [RdKafka.heartbeatIntervalMs]: Math.max(500, Math.floor(o.sessionTimeoutMs / 5)),
  };
}

export function createConsumer(
  ctx: ClientContext,
  errors: ClientErrorLog,
  onRebalance: (err: LibrdKafkaError, assignment: TopicPartition[]) => void,
): KafkaConsumer {
  const consumer = new Kafka.KafkaConsumer(consumerConfig(ctx, onRebalance) as never);
  consumer.setDefaultConsumeTimeout(100);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  consumer.on("event.error", (err) => errors.report("consumer", err));
  forwardLog(ctx, consumer, "consumer");
  const metrics = ctx.metrics;
  if (metrics) consumer.on("event.stats", (s) => applyStats(metrics, "consumer", s));
  return consumer;
}

/** The restore consumer's librdkafka configuration: assigned changelog partitions only, then the user's. */
export function restoreConsumerConfig(ctx: ClientContext): KafkaConfig {
  return {
    ...clientConfig(ctx, "restore"),
    // Never joins the group nor commits: it is only assigned changelog partitions.
    [RdKafka.groupId]: `${ctx.topology.appId}-restore`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.enableAutoOffsetStore]: false,
    [RdKafka.isolationLevel]: "read_committed",
    // A restore plans its own start; a position that is gone must be reported, not silently moved to the end.
    [RdKafka.autoOffsetReset]: "error",
    [RdKafka.allowAutoCreateTopics]: false,
    [RdKafka.fetchWaitMaxMs]: 10,
    [RdKafka.queuedMinMessages]: 200_000,
    [RdKafka.queuedMaxMessagesKbytes]: 262_144,
    ...ctx.options.kafka,
  };
}

/**
 * The global-table consumer's configuration: assigned every partition of the global tables' topics after their
 * restore, it tails them (read_committed) from the restored checkpoints; records deleted before it reads them are
 * gone from the topic too, so a missing position starts at the earliest record left.
 */
export function globalConsumerConfig(ctx: ClientContext): KafkaConfig {
  return {
    ...restoreConsumerConfig(ctx),
    ...clientConfig(ctx, "global"),
    [RdKafka.fetchWaitMaxMs]: 100,
    ...ctx.options.kafka,
    // What the tail depends on, after the user's settings (meant for the main consumer): never a group of its own,
    // committed data only, and the earliest record left when a checkpoint's position is gone.
    [RdKafka.groupId]: `${ctx.topology.appId}-global`,
    [RdKafka.enableAutoCommit]: false,
    [RdKafka.isolationLevel]: "read_committed",
    [RdKafka.autoOffsetReset]: "earliest",
  };
}

/** A consumer that is only ever assigned partitions (never subscribes): the restore and global-table consumers. */
function assignedConsumer(ctx: ClientContext, config: KafkaConfig, role: string): KafkaConsumer {
  const consumer = new Kafka.KafkaConsumer(config as never);
  consumer.setDefaultConsumeTimeout(200);
  extras(consumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
  forwardLog(ctx, consumer, role);
  return consumer;
}

export function createGlobalConsumer(ctx: ClientContext): KafkaConsumer {
  return assignedConsumer(ctx, globalConsumerConfig(ctx), "global");
}

export function createRestoreConsumer(ctx: ClientContext): KafkaConsumer {
  return assignedConsumer(ctx, restoreConsumerConfig(ctx), "restore");
}

// ---- configuration that can never work -------------------------------------------------------------------------
//
// librdkafka checks a configuration in two steps (observed with @confluentinc/kafka-javascript 1.10.1):
//  1. Each property as it is set, when the client object is constructed: `new Kafka.Producer(...)` /
//     `new Kafka.KafkaConsumer(...)` (and `AdminClient.create`) throw a plain Error, e.g.
//     `No such configuration property: "foo.bar"`, `Invalid value "nope" for configuration property
//     "isolation.level"`, `Configuration property "queue.buffering.max.ms" value 1e+08 is outside allowed range`.
//  2. The combination, in rd_kafka_new, which the client calls first in connect(), before any network I/O: the
//     connect callback fails at once (0-2 ms, no broker needed) with librdkafka's reason as the message — a
//     producer with code -172 (ERR__STATE), e.g. "`acks` must be set to `all` when `enable.idempotence` is true",
//     "`transactional.id` requires `enable.idempotence=true`"; a consumer with code -1, e.g. "`max.poll.interval.ms`
//     must be >= `session.timeout.ms`" (the client lowercases it and splits "x: y" into origin x and message y).
//     Only a client that got past rd_kafka_new emits "connection.failure" when its connect then fails (a broker
//     unreachable: code -195 after the timeout); that event is what tells the two apart, not the code.
// Neither heals with time: both are ConfigErrors (exit 2 from the CLI), never retried.

type ClientKind = "producer" | "consumer";

interface ClientSpec {
  role: string;
  /** The rd_kafka_t type: the admin client is a producer-type handle. */
  kind: ClientKind;
  config: (ctx: ClientContext) => ClientConfig;
}

/** The clients a worker creates, with the configurations it creates them with. */
const WORKER_CLIENTS: readonly ClientSpec[] = [
  { role: "producer", kind: "producer", config: producerConfig },
  { role: "consumer", kind: "consumer", config: (ctx) => consumerConfig(ctx, () => {}) },
  { role: "restore consumer", kind: "consumer", config: restoreConsumerConfig },
  { role: "admin client", kind: "producer", config: (ctx) => clientConfig(ctx, "admin") },
];

function construct(kind: ClientKind, config: ClientConfig): KafkaConsumer | Producer {
  return kind === "producer" ? new Kafka.Producer(config as never) : new Kafka.KafkaConsumer(config as never);
}

/** The error constructing the client throws (step 1), or undefined. Creates no rd_kafka_t, opens nothing. */
function constructionError(kind: ClientKind, config: ClientConfig): unknown {
  try {
    construct(kind, config);
    return undefined;
  } catch (err) {
    return err;
  }
}

/**
 * The error rd_kafka_new gives for this configuration (step 2), or undefined. Without bootstrap.servers, so that
 * the handle it creates talks to no broker; it is destroyed at once (a few ms).
 */
async function creationError(kind: ClientKind, config: ClientConfig): Promise<unknown> {
  const offline = { ...config };
  delete offline[RdKafka.bootstrapServers];
  let client: KafkaConsumer | Producer;
  try {
    client = construct(kind, offline);
  } catch (err) {
    return err;
  }
  let created = false;
  (client as unknown as NodeJS.EventEmitter).once("connection.failure", () => (created = true));
  const err = await new Promise<unknown>((res) => client.connect({ timeout: 1 }, (e) => res(e)));
  if (client.isConnected()) await disconnect(client, 1000);
  return err && !created ? err : undefined;
}

function withKafka(ctx: ClientContext, kafka: KafkaConfig): ClientContext {
  return { ...ctx, options: { ...ctx.options, kafka } };
}

/** librdkafka's reason, put back together where the client split "x: y" into origin and message. */
function librdkafkaReason(err: unknown): string {
  const e = err as { message?: unknown; origin?: unknown };
  const message = errorMessage(err);
  return typeof e?.origin === "string" && !["kafka", "local", "unknown"].includes(e.origin)
    ? `${e.origin}: ${message}`
    : message;
}

const printable = (v: unknown): string | undefined =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;

/** The properties of `config` that librdkafka's reason names. */
function propertiesNamed(reason: string, config: ClientConfig): string[] {
  const escape = (k: string) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return Object.keys(config).filter(
    (k) =>
      printable(config[k]) !== undefined &&
      new RegExp(`(^|[^A-Za-z0-9_.])${escape(k)}($|[^A-Za-z0-9_.])`, "i").test(reason),
  );
}

function clientConfigError(
  ctx: ClientContext,
  spec: ClientSpec,
  err: unknown,
  culprits: readonly string[] | undefined,
): ConfigError {
  const config = spec.config(ctx);
  const user = ctx.options.kafka;
  const reason = librdkafkaReason(err);
  const named = propertiesNamed(reason, config);
  const given = (culprits ?? named.filter((k) => k in user)).map((k) =>
    showProperty(k, printable(user[k]) ?? "?"),
  );
  const weirs = named.filter((k) => !(k in user)).map((k) => showProperty(k, printable(config[k])));
  const parts = [
    `librdkafka rejects the ${spec.role}'s configuration: ${redactText(reason, user).replace(/[\s.]+$/, "")}.`,
  ];
  if (given.length > 0)
    parts.push(
      `Caused by the kafka option${given.length > 1 ? "s" : ""} ${given.join(", ")}` +
        (weirs.length > 0 ? ` (weir sets ${weirs.join(", ")} for its ${spec.role})` : "") +
        `: change or remove ${given.length > 1 ? "them" : "it"}.`,
    );
  else if (weirs.length > 0) parts.push(`weir sets ${weirs.join(", ")} for its ${spec.role}.`);
  parts.push(
    "No retry can fix this; see https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md",
  );
  return new ConfigError(parts.join(" "), { cause: err });
}

/**
 * Fails fast, with a ConfigError naming the property, when a property of a client the worker will create is unknown
 * or has an invalid value (step 1 above). Synchronous and offline: the Worker constructor calls it.
 */
export function validateClientConfigs(ctx: ClientContext): void {
  for (const spec of WORKER_CLIENTS) {
    const err = constructionError(spec.kind, spec.config(ctx));
    if (err === undefined) continue;
    // Each property is checked on its own: the culprits are the user's properties that fail alone.
    const user = ctx.options.kafka;
    const culprits = Object.keys(user).filter(
      (k) => constructionError(spec.kind, spec.config(withKafka(ctx, { [k]: user[k]! }))) !== undefined,
    );
    throw clientConfigError(ctx, spec, err, culprits.length > 0 ? culprits : undefined);
  }
}

/**
 * validateClientConfigs, and then the combinations (step 2 above): creates each client's librdkafka handle without
 * brokers and destroys it again, a few ms in all. A ConfigError names librdkafka's reason and the user's properties
 * without which the configuration is accepted. For callers that can wait before they start the worker (the CLI
 * runs it before its HTTP server); a worker started without it finds the same at its first connect, at once.
 */
export async function checkClientConfigs(ctx: ClientContext): Promise<void> {
  validateClientConfigs(ctx);
  for (const spec of WORKER_CLIENTS) {
    const err = await creationError(spec.kind, spec.config(ctx));
    if (err === undefined) continue;
    const user = ctx.options.kafka;
    const culprits: string[] = [];
    for (const k of Object.keys(user)) {
      const { [k]: _omitted, ...rest } = user;
      if ((await creationError(spec.kind, spec.config(withKafka(ctx, rest)))) === undefined) culprits.push(k);
    }
    throw clientConfigError(ctx, spec, err, culprits.length > 0 ? culprits : undefined);
  }
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
      // A ConfigError (e.g. librdkafka refusing a client's configuration at connect) never heals: thrown at once.
      if (err instanceof ConfigError) throw err;
      if (ctx.stopRequested() || err instanceof WeirError) throw err;
      // A fatal answer from Kafka (topology/failures.ts: fatal errors, authentication and authorization refused)
      // is not an unreachable broker.
      if (typeof e?.code === "number" && classify(err) === "fatal") throw err;
      const delay = Math.min(500 * 2 ** Math.min(attempt - 1, 4), 8000);
      ctx.log.warn(`${what} failed; Kafka at ${ctx.options.brokers} unreachable? retrying`, {
        attempt,
        retryInMs: delay,
        // With a hint when the broker closed a plaintext client's connections at once (kafka.ts connect).
        error: redactText(describeKafkaError(err), ctx.options.kafka),
        // The first thing a new user meets: say what to check once, not on every attempt.
        ...(attempt === 1
          ? {
              hint: "the worker stays not ready (/readyz 503) and retries until a broker answers; check that Kafka runs at that address, or set it with --brokers / KAFKA_BROKERS",
            }
          : {}),
      });
      await sleep(delay);
    }
  }
}

/**
 * Connect with retry while the broker is unreachable. A connect that fails in rd_kafka_new (the client's
 * configuration, see above: no "connection.failure" event) is a ConfigError, thrown at once.
 */
export function connectWithRetry<C extends KafkaConsumer | Producer>(
  ctx: ClientContext & { stopRequested: () => boolean },
  client: C,
  what: string,
): Promise<C> {
  return retry(ctx, `connect ${what}`, async () => {
    let created = false;
    const onFailure = () => (created = true);
    const events = client as unknown as NodeJS.EventEmitter;
    events.once("connection.failure", onFailure);
    try {
      return (await connect(client as never, 10_000)) as C;
    } catch (err) {
      if (created) throw err;
      const spec = WORKER_CLIENTS.find((s) => s.role === what) ?? {
        role: what,
        kind: client instanceof Kafka.Producer ? "producer" : "consumer",
        config: () => ({ ...ctx.options.kafka }),
      };
      throw clientConfigError(ctx, spec, err, undefined);
    } finally {
      events.removeListener("connection.failure", onFailure);
    }
  });
}

export async function closeClients(clients: {
  admin?: IAdminClient;
  consumer?: KafkaConsumer;
  restoreConsumer?: KafkaConsumer;
  globalConsumer?: KafkaConsumer;
  producer?: Producer;
}): Promise<void> {
  clients.admin?.disconnect();
  if (clients.consumer) await disconnect(clients.consumer, 10_000);
  if (clients.restoreConsumer) await disconnect(clients.restoreConsumer, 5000);
  if (clients.globalConsumer) await disconnect(clients.globalConsumer, 5000);
  if (clients.producer) {
    await flush(clients.producer, 5000).catch(() => {});
    await disconnect(clients.producer, 5000);
  }
}
