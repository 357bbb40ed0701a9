/**
 * The failure taxonomy: every error weir meets is one of three classes, decided here and nowhere else.
 *
 * - **record**: one input record is at fault (a poison pill). It goes to the dead-letter topic with the reason and
 *   processing carries on — or the worker fails, if the handler for its kind is set to "fail". The kinds are named
 *   after Kafka Streams' handlers:
 *     deserialization  the input's bytes do not decode (DeserializationError, SchemaError)
 *     processing       a processor threw (ProcessingError, and any non-weir error from user code)
 *     production       what the record produced cannot be written: too large for the producer
 *                      (RecordTooLargeError: an output, or a store value whose changelog record would be), or a value
 *                      its serde cannot write and read back (SerializationError)
 * - **transient**: Kafka is passing through something — transport errors, all brokers down, a coordinator loading
 *   or moving, a request or an abort timing out, anything librdkafka flags retriable or abortable, a topic missing
 *   while it is recreated. Wait and retry with back-off, logged once per interval, not ready meanwhile; never fatal
 *   and never a silent stall (the worker's health reports it).
 * - **fatal**: a restart with the same configuration cannot do better — fenced by a newer instance, authentication
 *   or authorization refused, configuration that can never work, a store that cannot open, an offset that cannot
 *   be decided. Stop once, with the reason and what to do (exit 2 for configuration, 1 otherwise).
 */
import {
  ConfigError,
  DeserializationError,
  DroppedRecordError,
  InvalidTimestampError,
  OffsetError,
  ProcessingError,
  ProducerError,
  ProducerFencedError,
  RecordTooLargeError,
  SerializationError,
  StateStoreError,
  TopologyError,
  TransactionAbortedError,
  WeirError,
} from "./errors.js";
import type { LibrdKafkaError } from "./kafka.js";
import { isAuthenticationError } from "./security.js";

/**
 * The class of a failure, which decides what the worker does: `record` (one input record is at fault:
 * dead-letter it or fail, per its kind), `transient` (wait and retry, not ready meanwhile) or `fatal` (stop with
 * the reason). See {@link classify}.
 *
 * @example
 * ```ts
 * import { classify, type FailureClass } from "weir";
 *
 * const cls: FailureClass = classify({ code: -195, message: "Local: Broker transport failure" }); // "transient"
 * ```
 */
export type FailureClass = "record" | "transient" | "fatal";

/**
 * The handler a record-level failure goes to (Kafka Streams: deserialization/processing/production exception
 * handler).
 *
 * @example
 * ```ts
 * import { DeserializationError, recordFailureKind, type RecordFailureKind } from "weir";
 *
 * const kind: RecordFailureKind | undefined = recordFailureKind(new DeserializationError("not valid JSON"));
 * // "deserialization"
 * ```
 */
export type RecordFailureKind = "deserialization" | "processing" | "production";

/**
 * What a record-level handler does: send the input record to the dead-letter topic and go on, or fail (Kafka
 * Streams' `CONTINUE` with a dead-letter queue, or `FAIL`).
 *
 * @example
 * ```ts
 * import type { RecordFailureAction, WorkerOptions } from "weir";
 *
 * const strict: RecordFailureAction = "fail";
 * const options: WorkerOptions = { brokers: "localhost:9092", stateDir: "/var/lib/weir", processingErrors: strict };
 * ```
 */
export type RecordFailureAction = "dead-letter" | "fail";

/**
 * What each kind of record-level failure does: {@link RecordFailureAction} per {@link RecordFailureKind}.
 *
 * @example
 * ```ts
 * import { TopologyTestDriver, type RecordFailureHandlers, type Topology } from "weir";
 *
 * declare const topology: Topology;
 * const handlers: RecordFailureHandlers = {
 *   deserialization: "dead-letter",
 *   processing: "fail",
 *   production: "dead-letter",
 * };
 * const driver = new TopologyTestDriver(topology, { errorHandlers: handlers });
 * ```
 */
export interface RecordFailureHandlers {
  /** An input record that does not decode. */
  readonly deserialization: RecordFailureAction;
  /** A processor that threw. */
  readonly processing: RecordFailureAction;
  /** An output or store value that cannot be produced (too large, not serializable). */
  readonly production: RecordFailureAction;
}

/** Broker error codes (Kafka protocol) that no retry heals: authentication and authorization. */
const AUTH_CODES = new Set([
  29, // TOPIC_AUTHORIZATION_FAILED
  30, // GROUP_AUTHORIZATION_FAILED
  31, // CLUSTER_AUTHORIZATION_FAILED
  53, // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
  58, // SASL_AUTHENTICATION_FAILED
  -169, // librdkafka: __AUTHENTICATION
]);

/**
 * The record-level kind of an error, or undefined if it is not a record-level error. Any error that is not a
 * {@link WeirError} (a TypeError from user code, a library's error) is a processing error.
 *
 * @example
 * ```ts
 * import { RecordTooLargeError, TopologyError, recordFailureKind } from "weir";
 *
 * recordFailureKind(new TypeError("x is undefined")); // "processing"
 * recordFailureKind(new RecordTooLargeError("too large", 2_000_000, 1_000_000, "out")); // "production"
 * recordFailureKind(new TopologyError("bad topology")); // undefined
 * ```
 */
export function recordFailureKind(err: unknown): RecordFailureKind | undefined {
  if (err instanceof DeserializationError) return "deserialization";
  if (err instanceof RecordTooLargeError || err instanceof SerializationError) return "production";
  if (err instanceof ProcessingError) return "processing";
  // Anything thrown by user code that weir did not classify (TypeError, a library's error) is a processing error.
  if (!(err instanceof WeirError)) return "processing";
  return undefined;
}

/**
 * What a log line says of a record's failure: never the record's content (its value, or its key: a customer's
 * email is a key too), which the dead letter keeps. The log line locates the record (topic, partition, offset; the
 * dead letter carries them in its weir.source.* headers) and says which failure it was:
 *   - messages weir writes from sizes, offsets and names (too large, dropped, a timestamp ahead) as they are;
 *   - a deserialization error by its head, naming the serde ("value does not decode with serde json"): its tail
 *     quotes the bytes;
 *   - a value a serde cannot write, a processor's error, a schema's, a timestamp extractor's: by class and node
 *     only. They come from user code or quote the value, and may carry the record's content.
 * The full message is in the dead letter's `weir.error.message` header.
 */
export function loggableFailure(err: unknown): string {
  if (err instanceof RecordTooLargeError || err instanceof DroppedRecordError) return err.message;
  if (err instanceof InvalidTimestampError)
    return /^timestamp \d+ \(\S+\) is \d+ ms ahead of wall-clock time/.test(err.message)
      ? err.message
      : err.message.startsWith("timestamp extractor failed")
        ? "the timestamp extractor failed"
        : "invalid timestamp: event time must be a non-negative integer";
  if (err instanceof DeserializationError) {
    const head =
      /^(key|value) (does not decode with serde [^:]+|is null but serde \S+ requires a value)/.exec(
        err.message,
      );
    return `${err.name}: ${head ? head[0] : "the record does not decode"}`;
  }
  if (err instanceof SerializationError) return `${err.name}: a value its serde cannot write`;
  const name = err instanceof Error ? err.name : typeof err;
  const node = err instanceof WeirError && err.node !== undefined ? ` in '${err.node}'` : "";
  const cause = err instanceof Error && err.cause instanceof Error ? ` (caused by ${err.cause.name})` : "";
  return `${name}${node}${cause}: message withheld from the log (it may quote the record)`;
}

/**
 * The class of an error met outside a processor (committing, producing, consuming, administering): the one place
 * weir decides whether to dead-letter, retry or stop. librdkafka errors are fatal when librdkafka says so or on
 * authentication and authorization failures, and transient otherwise.
 *
 * @example
 * ```ts
 * import { ConfigError, ProducerFencedError, TransactionAbortedError, classify } from "weir";
 *
 * classify(new TransactionAbortedError("aborted")); // "transient"
 * classify(new ProducerFencedError("fenced")); // "fatal"
 * classify(new ConfigError("bad option")); // "fatal"
 * classify({ code: 30, message: "Group authorization failed" }); // "fatal"
 * ```
 */
export function classify(err: unknown): FailureClass {
  if (err instanceof WeirError) {
    if (recordFailureKind(err) !== undefined) return "record";
    if (err instanceof TransactionAbortedError) return "transient";
    if (
      err instanceof ProducerFencedError ||
      err instanceof ConfigError ||
      err instanceof TopologyError ||
      err instanceof StateStoreError ||
      err instanceof OffsetError
    )
      return "fatal";
    const cause = (err as { cause?: unknown }).cause;
    // A record that could not be produced: the transaction is aborted and redone (and the worker reports failing
    // commits); only what Kafka said about it (fenced, authorization) can make it fatal.
    if (err instanceof ProducerError) return cause === undefined ? "transient" : classify(cause);
    return cause === undefined ? "fatal" : classify(cause);
  }
  const e = err as Partial<LibrdKafkaError> | undefined;
  if (e && typeof e === "object" && typeof e.code === "number") {
    if (e.isFatal || e.code === -150) return "fatal";
    // A connected client's error event says code -1 and "authentication failure" (topology/security.ts).
    if (AUTH_CODES.has(e.code) || isAuthenticationError(e)) return "fatal";
    // Everything else passes: transport failures, all brokers down, timeouts, unknown topics or partitions while
    // leaders move or a topic is recreated (the topic watch tells a deleted one apart), coordinators loading or
    // moving, concurrent transactions, what librdkafka flags retriable or abortable — and any other answer it does
    // not call fatal: abort, rewind and try again. Should it keep failing, the worker's health says commits are
    // failing, then stalled, rather than the worker dying on a guess.
    return "transient";
  }
  return "fatal";
}

/** PRODUCER_FENCED: a newer producer with the same transactional id (KIP-588). */
const PRODUCER_FENCED = 90;
/** librdkafka's __FENCED: how it reports either of the two below once the producer is fenced. */
const FENCED = -144;
/** librdkafka's __FATAL: what a produce() call throws once the producer has failed, whatever the cause (most often
 *  a fence): the cause is not in it, so it is judged as a fence. */
const FATAL = -150;
/** INVALID_PRODUCER_EPOCH: the producer's epoch was bumped — by a twin, or by the broker aborting a timed-out transaction. */
const INVALID_PRODUCER_EPOCH = 47;

/**
 * What a fatal producer error calls for under exactly-once: a new producer, or a stop. A fatal error kills the
 * producer instance, not necessarily the worker — librdkafka marks the instance unusable (an abort refused as
 * INVALID_TXN_STATE after a sink topic was deleted under an open transaction, an epoch the broker bumped when it
 * aborted a transaction that outlived transaction.timeout.ms). A new producer with the same transactional id heals
 * it: initTransactions makes the coordinator decide (abort) whatever the old one left open and fences it, and the
 * caller drops the tasks' uncommitted state and rewinds (Kafka Streams does the same on a TaskMigratedException).
 *
 * A stop instead when a new producer cannot do better or would do harm:
 * - fenced (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, librdkafka's __FENCED) while the transaction was younger
 *   than the transaction timeout: the broker did not abort it, so another instance runs with this worker's id —
 *   replacing would fence it back, and the two would take turns (fenced after the timeout, the broker aborted it:
 *   replaced, bounded by the count below should a twin be behind it after all);
 * - authorization refused (the new producer would be refused too);
 * - too many replacements in a row (the caller counts them): the cause is not passing;
 * - at-least-once: no transactions to decide, a fatal idempotence error is not healed by a new instance here.
 */
export function fatalProducerRemedy(
  err: unknown,
  ctx: { exactlyOnce: boolean; transactionTimedOut: boolean; replacementsLeft: boolean },
): "replace-producer" | "stop" {
  if (!ctx.exactlyOnce || !ctx.replacementsLeft) return "stop";
  let e = err as { cause?: unknown; code?: unknown; message?: unknown } | undefined;
  while (e && typeof e === "object" && typeof e.code !== "number" && e.cause !== undefined)
    e = e.cause as typeof e;
  if (!e || typeof e !== "object" || typeof e.code !== "number") return "stop";
  const message = typeof e.message === "string" ? e.message : "";
  // The epoch was bumped: by a twin, or by the broker aborting a transaction past the transaction timeout. The
  // client cannot tell which (librdkafka reports both as "fenced by a newer instance"); the transaction's age can.
  if (
    e.code === PRODUCER_FENCED ||
    e.code === INVALID_PRODUCER_EPOCH ||
    e.code === FENCED ||
    e.code === FATAL ||
    /fence|epoch/i.test(message)
  )
    return ctx.transactionTimedOut ? "replace-producer" : "stop";
  if (AUTH_CODES.has(e.code)) return "stop";
  return "replace-producer";
}
