import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Topology } from "./builder.js";
import { ConfigError } from "./errors.js";
import type { RecordFailureAction, RecordFailureHandlers } from "./failures.js";
import type { KafkaConfig } from "./kafka.js";
import type { Logger } from "./log.js";
import type { WeirMetrics } from "./metrics.js";

/**
 * The processing guarantee (Kafka Streams' `processing.guarantee`): `exactly_once` commits outputs, changelog
 * records and consumed offsets in one Kafka transaction (Kafka Streams' `exactly_once_v2`); `at_least_once`
 * commits offsets after the outputs are delivered, without transactions.
 *
 * @example
 * ```ts
 * import { Worker, type ProcessingGuarantee, type Topology } from "weir";
 *
 * declare const topology: Topology;
 * const guarantee: ProcessingGuarantee = "at_least_once";
 * const worker = new Worker(topology, { brokers: "localhost:9092", stateDir: "/var/lib/weir", guarantee });
 * ```
 */
export type ProcessingGuarantee = "exactly_once" | "at_least_once";

/**
 * The consumer group protocol (librdkafka's `group.protocol`): `classic`, or `consumer` (KIP-848, Apache Kafka
 * 4.0+). See {@link WorkerOptions.groupProtocol}.
 *
 * @example
 * ```ts
 * import type { GroupProtocol, WorkerOptions } from "weir";
 *
 * const groupProtocol: GroupProtocol = "consumer";
 * const options: WorkerOptions = {
 *   brokers: "localhost:9092",
 *   stateDir: "/var/lib/weir",
 *   groupProtocol,
 *   remoteAssignor: "uniform",
 * };
 * ```
 */
export type GroupProtocol = "classic" | "consumer";

/**
 * What users pass to a worker (Kafka Streams' `StreamsConfig`). Every field but `brokers` and `stateDir` is
 * optional; {@link compileWorkerOptions} checks them and applies the defaults.
 *
 * @example
 * ```ts
 * import { Worker, createMetrics, jsonLogger, type Topology, type WorkerOptions } from "weir";
 *
 * declare const topology: Topology;
 * const options: WorkerOptions = {
 *   brokers: "kafka-1:9092,kafka-2:9092",
 *   stateDir: "/var/lib/weir",
 *   guarantee: "exactly_once",
 *   commitIntervalMs: 100,
 *   processingErrors: "dead-letter",
 *   kafka: { "security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN" },
 *   logger: jsonLogger(),
 *   metrics: createMetrics(),
 * };
 * const worker = new Worker(topology, options);
 * ```
 */
export interface WorkerOptions {
  /** Kafka bootstrap servers, `host:port[,host:port]`. */
  brokers: string;
  /** Folder holding this worker's LMDB environment and its persisted worker id. */
  stateDir: string;
  /** The processing guarantee. @default "exactly_once" */
  guarantee?: ProcessingGuarantee;
  /** How often to commit. @default 100 under exactly_once, 1000 under at_least_once */
  commitIntervalMs?: number;
  /** Commit early once this many records were processed since the last commit. @default 20000 */
  maxUncommittedRecords?: number;
  /** What a processor exception does: dead-letter the input record, or fail the worker. @default "dead-letter" */
  processingErrors?: RecordFailureAction;
  /** What an input record that does not decode does: dead-letter it, or fail the worker. @default "dead-letter" */
  deserializationErrors?: RecordFailureAction;
  /**
   * What a record-level production failure does — an output or a store value too large for the producer, a value
   * its serde cannot write: dead-letter the input record that caused it, or fail the worker. @default "dead-letter"
   */
  productionErrors?: RecordFailureAction;
  /**
   * What becomes of a record an operator drops on purpose (too late for its window, a null key an aggregation
   * skips): counted in weir_dropped_records_total only (`drop`), or also sent to the dead-letter topic with header
   * `weir.drop.reason`, for `weir replay --dead-letters` to re-drive (`dead-letter`). @default "drop"
   */
  droppedRecords?: "drop" | "dead-letter";
  /**
   * A worker with work waiting (lag or queued records) that has not committed for this long is stalled: not ready,
   * `weir_worker_stalled` 1, an error log naming the cause. @default 60000
   */
  stallTimeoutMs?: number;
  /** Records fetched per poll. @default 2000 */
  maxPollRecords?: number;
  /** Pause a partition when this many of its records wait in the task's queue; resume at half. @default 10000 */
  maxBufferedRecordsPerPartition?: number;
  /**
   * The consumer group protocol. `classic`: the group's members assign partitions themselves (client-side
   * assignors, `assignor`), and every rebalance stops the whole group while it joins again. `consumer` (KIP-848,
   * Apache Kafka 4.0+): the broker assigns partitions (`remoteAssignor`) and moves them one member at a time; the
   * session timeout and heartbeat interval are the broker's (`group.consumer.session.timeout.ms`,
   * `group.consumer.heartbeat.interval.ms`), so `sessionTimeoutMs` and `assignor` are refused with it. Also taken
   * from the librdkafka property `group.protocol` when only that is given. @default "classic"
   */
  groupProtocol?: GroupProtocol;
  /**
   * Under `groupProtocol: "consumer"`, the broker-side assignor (librdkafka's `group.remote.assignor`).
   * @default "range" when a sub-topology reads several topics (its partitions p of each topic belong together),
   * else the broker's default (`uniform`)
   */
  remoteAssignor?: string;
  /**
   * Classic protocol only: the consumer group session timeout, how fast a dead worker's partitions move.
   * @default 10000
   */
  sessionTimeoutMs?: number;
  /** A transaction left open by a dead worker blocks read_committed readers at most this long. @default 10000 */
  transactionTimeoutMs?: number;
  /**
   * How long one sendOffsetsToTransaction or commitTransaction call waits for the brokers before it returns (the
   * Java producer's `max.block.ms`). Not a correctness setting: a call without an answer is repeated until Kafka
   * decides the transaction (runtime/committer.ts), never given up; this only sets how soon the worker says its
   * commit is undecided. @default 10000
   */
  transactionCallTimeoutMs?: number;
  /**
   * How long a task may stall on something that will pass — committed offsets kept unstable by an undecided
   * transaction, a changelog whose stable offset has not reached its end — before the worker stops with the reason
   * (Kafka Streams' `task.timeout.ms`). @default 300000
   */
  taskTimeoutMs?: number;
  /** Partition assignor. @default "range" when a sub-topology reads several topics (co-partitioning needs it),
   *  else "cooperative-sticky" */
  assignor?: "range" | "cooperative-sticky" | "roundrobin";
  /** Stable id of this worker: names its transactional id, so a restarted worker fences its predecessor at once.
   *  @default a UUID persisted in stateDir */
  workerId?: string;
  /**
   * Static group membership (KIP-345, Kafka Streams' `group.instance.id`): the worker joins as the static member
   * `<appId>-<workerId>`, so a worker restarted within the session timeout (the same state directory, hence the same
   * persisted worker id) gets its partitions back without a rebalance of the others. The cost: a static member does
   * not leave the group when it stops, so the partitions of a worker stopped for good wait out the session timeout
   * before they move, as a killed worker's do. A `group.instance.id` among the Kafka properties takes precedence.
   * Off unless asked for, because librdkafka makes two situations fatal for a static member, and a worker then stops
   * with the reason for its supervisor to restart it: a broker outage longer than the session timeout (the member is
   * fenced when the brokers return), and, under the consumer protocol (KIP-848), a restart before the crashed
   * member's session timed out (UNRELEASED_INSTANCE_ID). Turn it on where a supervisor restarts workers and rolling
   * restarts matter more. @default false
   */
  staticMembership?: boolean;
  /**
   * Where this worker answers interactive queries (its HTTP server, e.g. `http://10.0.0.7:9400`), Kafka Streams'
   * `application.server`: written to the members topic so that any worker can forward a query for a key to the
   * worker that holds it. `weir worker` sets it from `--advertised-url`, or its HTTP host and port. Without it, a
   * query for a key held elsewhere cannot be forwarded to this worker.
   */
  advertisedUrl?: string;
  /**
   * Standby replicas (Kafka Streams' `num.standby.replicas`): warm copies of other workers' store partitions this
   * many workers keep, tailing their changelogs, so that a partition moving to a worker that kept its standby
   * restores only the tail (runtime/standbys.ts says how they are placed). @default 0
   */
  standbyReplicas?: number;
  /** Restore records applied per LMDB transaction (bigger batches write LMDB pages once). @default 100000 */
  restoreBatchRecords?: number;
  /** Bound on graceful shutdown. @default 30000 */
  shutdownTimeoutMs?: number;
  /** librdkafka properties passed through to every client (SASL, SSL, ...). */
  kafka?: KafkaConfig;
  /** Where the worker logs. @default silentLogger */
  logger?: Logger;
  /** weir's Prometheus instruments to record into (see {@link createMetrics}); none when absent. */
  metrics?: WeirMetrics;
  /** Test only (never set in production): arms fault points through a file, see runtime/test-faults.ts. */
  testFaultFile?: string;
  /** librdkafka statistics interval (0 = off). @default 0, 5000 when metrics are given */
  statisticsIntervalMs?: number;
}

/**
 * The frozen form of {@link WorkerOptions} the runtime sees: checked, with every default applied (see the options
 * for what each field means). A worker's is {@link Worker.options}.
 *
 * @example
 * ```ts
 * import type { Worker } from "weir";
 *
 * declare const worker: Worker;
 * const { guarantee, commitIntervalMs, workerId, appStateDir } = worker.options;
 * console.log(`${workerId}: ${guarantee}, commit every ${commitIntervalMs} ms, state in ${appStateDir}`);
 * ```
 */
export interface CompiledWorkerOptions {
  /** Kafka bootstrap servers. */
  readonly brokers: string;
  /** The worker's state folder. */
  readonly stateDir: string;
  /** This application's folder in it, `<stateDir>/<appId>` (LMDB environment and worker id). */
  readonly appStateDir: string;
  /** The processing guarantee. */
  readonly guarantee: ProcessingGuarantee;
  /** How often to commit, ms. */
  readonly commitIntervalMs: number;
  /** Commit early after this many records. */
  readonly maxUncommittedRecords: number;
  /** What each kind of record-level failure does. */
  readonly errorHandlers: RecordFailureHandlers;
  /** Whether dropped records are also dead-lettered. */
  readonly droppedRecords: "drop" | "dead-letter";
  /** When a worker with work waiting and no commit counts as stalled, ms. */
  readonly stallTimeoutMs: number;
  /** Records fetched per poll. */
  readonly maxPollRecords: number;
  /** Queued records per partition before it is paused. */
  readonly maxBufferedRecordsPerPartition: number;
  /** The consumer group protocol. */
  readonly groupProtocol: GroupProtocol;
  /** `consumer` protocol: the broker-side assignor weir asks for (undefined: the broker's default). */
  readonly remoteAssignor: string | undefined;
  /** Classic protocol only. */
  readonly sessionTimeoutMs: number;
  /** The producer's transaction timeout, ms. */
  readonly transactionTimeoutMs: number;
  /** How long one transaction call waits for an answer, ms. */
  readonly transactionCallTimeoutMs: number;
  /** How long a task may stall on a passing condition before the worker stops, ms. */
  readonly taskTimeoutMs: number;
  /** The classic protocol's partition assignor. */
  readonly assignor: "range" | "cooperative-sticky" | "roundrobin";
  /** This worker's stable id (part of its transactional id). */
  readonly workerId: string;
  /** The consumer's `group.instance.id`: `<appId>-<workerId>` under static membership, else undefined. */
  readonly groupInstanceId: string | undefined;
  /** Where this worker answers interactive queries, if it says. */
  readonly advertisedUrl: string | undefined;
  /** Standby replicas kept of every changelogged task (0: none). */
  readonly standbyReplicas: number;
  /** Restore records applied per LMDB transaction. */
  readonly restoreBatchRecords: number;
  /** Bound on graceful shutdown, ms. */
  readonly shutdownTimeoutMs: number;
  /** librdkafka statistics interval, ms (0: off). */
  readonly statisticsIntervalMs: number;
  /** librdkafka properties passed to every client. */
  readonly kafka: Readonly<KafkaConfig>;
  /** Test only: the fault-injection file, if any. */
  readonly testFaultFile: string | undefined;
}

const positive = (name: string, v: number | undefined, dflt: number): number => {
  const value = v ?? dflt;
  if (!Number.isFinite(value) || value <= 0)
    throw new ConfigError(`${name} must be a positive number, got ${String(v)}`);
  return value;
};

const count = (name: string, v: number | undefined, dflt: number): number => {
  const value = v ?? dflt;
  if (!Number.isSafeInteger(value) || value < 0)
    throw new ConfigError(`${name} must be an integer >= 0, got ${String(v)}`);
  return value;
};

const action = (name: string, v: RecordFailureAction | undefined): RecordFailureAction => {
  if (v === undefined) return "dead-letter";
  if (v !== "dead-letter" && v !== "fail")
    throw new ConfigError(`${name} must be "dead-letter" or "fail", got ${String(v)}`);
  return v;
};

/**
 * Check worker options against a topology and apply the defaults: what a {@link Worker}'s constructor does. Throws
 * a ConfigError naming the option at fault. Without `workerId`, it reads (or creates) the id persisted in
 * `<stateDir>/<appId>/worker-id`, so it touches the file system.
 *
 * @example
 * ```ts
 * import { compileWorkerOptions, type Topology } from "weir";
 *
 * declare const topology: Topology;
 * const compiled = compileWorkerOptions(topology, {
 *   brokers: "localhost:9092",
 *   stateDir: "/tmp/weir",
 *   workerId: "w-1",
 * });
 * console.log(compiled.commitIntervalMs, compiled.assignor); // 100, and "range" or "cooperative-sticky"
 * ```
 */
export function compileWorkerOptions(topology: Topology, o: WorkerOptions): CompiledWorkerOptions {
  if (!o.brokers) throw new ConfigError("brokers is required (KAFKA_BROKERS or --brokers)");
  if (!o.stateDir) throw new ConfigError("stateDir is required (WEIR_STATE_DIR or --state-dir)");
  const guarantee = o.guarantee ?? "exactly_once";
  if (guarantee !== "exactly_once" && guarantee !== "at_least_once")
    throw new ConfigError(`guarantee must be exactly_once or at_least_once, got ${String(guarantee)}`);
  const needsCopartitioning = topology.subtopologies.some((s) => s.sourceTopics.length > 1);
  const appStateDir = join(o.stateDir, topology.appId);
  const groupProtocol = groupProtocolOf(o);
  const workerId = o.workerId ?? persistedWorkerId(appStateDir);
  return Object.freeze({
    brokers: o.brokers,
    stateDir: o.stateDir,
    appStateDir,
    guarantee,
    commitIntervalMs: positive(
      "commitIntervalMs",
      o.commitIntervalMs,
      guarantee === "exactly_once" ? 100 : 1000,
    ),
    maxUncommittedRecords: positive("maxUncommittedRecords", o.maxUncommittedRecords, 20_000),
    errorHandlers: Object.freeze({
      deserialization: action("deserializationErrors", o.deserializationErrors),
      processing: action("processingErrors", o.processingErrors),
      production: action("productionErrors", o.productionErrors),
    }),
    droppedRecords: dropAction(o.droppedRecords),
    stallTimeoutMs: positive("stallTimeoutMs", o.stallTimeoutMs, 60_000),
    maxPollRecords: positive("maxPollRecords", o.maxPollRecords, 2000),
    maxBufferedRecordsPerPartition: positive(
      "maxBufferedRecordsPerPartition",
      o.maxBufferedRecordsPerPartition,
      10_000,
    ),
    groupProtocol,
    remoteAssignor:
      groupProtocol === "consumer"
        ? (o.remoteAssignor ?? (needsCopartitioning ? "range" : undefined))
        : undefined,
    sessionTimeoutMs: positive("sessionTimeoutMs", o.sessionTimeoutMs, 10_000),
    transactionTimeoutMs: positive("transactionTimeoutMs", o.transactionTimeoutMs, 10_000),
    transactionCallTimeoutMs: positive("transactionCallTimeoutMs", o.transactionCallTimeoutMs, 10_000),
    taskTimeoutMs: positive("taskTimeoutMs", o.taskTimeoutMs, 300_000),
    assignor: o.assignor ?? (needsCopartitioning ? "range" : "cooperative-sticky"),
    workerId,
    advertisedUrl: o.advertisedUrl,
    standbyReplicas: count("standbyReplicas", o.standbyReplicas, 0),
    groupInstanceId:
      typeof o.kafka?.["group.instance.id"] === "string"
        ? o.kafka["group.instance.id"]
        : (o.staticMembership ?? false)
          ? `${topology.appId}-${workerId}`
          : undefined,
    restoreBatchRecords: positive("restoreBatchRecords", o.restoreBatchRecords, 100_000),
    shutdownTimeoutMs: positive("shutdownTimeoutMs", o.shutdownTimeoutMs, 30_000),
    statisticsIntervalMs: o.statisticsIntervalMs ?? (o.metrics ? 5000 : 0),
    kafka: Object.freeze({ ...(o.kafka ?? {}) }),
    testFaultFile: o.testFaultFile,
  });
}

/**
 * The group protocol: the option, or librdkafka's `group.protocol` among the Kafka properties (a user coming from
 * librdkafka sets that), never two different answers. Settings of the other protocol are refused, naming what to do.
 */
function groupProtocolOf(o: WorkerOptions): GroupProtocol {
  const fromKafka = o.kafka?.["group.protocol"];
  const protocol = o.groupProtocol ?? fromKafka ?? "classic";
  if (protocol !== "classic" && protocol !== "consumer")
    throw new ConfigError(`groupProtocol must be "classic" or "consumer", got ${JSON.stringify(protocol)}`);
  if (fromKafka !== undefined && fromKafka !== protocol)
    throw new ConfigError(
      `groupProtocol is "${protocol}" but the Kafka property group.protocol is "${String(fromKafka)}": set one of them`,
    );
  if (protocol === "consumer") {
    if (o.sessionTimeoutMs !== undefined)
      throw new ConfigError(
        "sessionTimeoutMs does not apply under groupProtocol consumer (KIP-848): the session timeout is the " +
          "broker's — set group.consumer.session.timeout.ms on the broker, or consumer.session.timeout.ms on " +
          "the group (kafka-configs.sh --entity-type groups)",
      );
    if (o.assignor !== undefined)
      throw new ConfigError(
        "assignor does not apply under groupProtocol consumer (KIP-848): the broker assigns partitions — " +
          "use remoteAssignor (librdkafka's group.remote.assignor), e.g. range or uniform",
      );
  } else if (o.remoteAssignor !== undefined) {
    throw new ConfigError(
      `remoteAssignor applies only under groupProtocol consumer (KIP-848); with classic, use assignor`,
    );
  }
  return protocol;
}

/** The worker id lives with the state: a restarted worker reuses it (and so fences its dead predecessor). */
function persistedWorkerId(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "worker-id");
  if (existsSync(file)) {
    const id = readFileSync(file, "utf8").trim();
    if (id) return id;
  }
  const id = randomUUID();
  writeFileSync(file, id + "\n");
  return id;
}

function dropAction(value: unknown): "drop" | "dead-letter" {
  if (value === undefined) return "drop";
  if (value === "drop" || value === "dead-letter") return value;
  throw new ConfigError(`droppedRecords must be "drop" or "dead-letter", got ${JSON.stringify(value)}`);
}
