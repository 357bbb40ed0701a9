/**
 * The error tree. Every error carries what an operator needs to find the record or store at fault
 * (topic/partition/offset/store) and the underlying `cause`; messages say what to do.
 */

/**
 * Where an error happened, given to a {@link WeirError}'s constructor: the record's coordinates, the store, the
 * topology node and the task (all optional), and the underlying `cause`.
 *
 * @example
 * ```ts
 * import { ProcessingError, type ErrorContext } from "weir";
 *
 * const where: ErrorContext = { topic: "orders", partition: 2, offset: 41, node: "validate" };
 * throw new ProcessingError("order has no items", where);
 * ```
 */
export interface ErrorContext {
  /** The topic of the record at fault. */
  topic?: string;
  /** The partition of the record at fault. */
  partition?: number;
  /** The offset of the record at fault. */
  offset?: number;
  /** The state store involved. */
  store?: string;
  /** The topology node (processor, source, sink) involved. */
  node?: string;
  /** The task id, `<subtopology>_<partition>`. */
  task?: string;
  /** The underlying error, kept as the standard `Error.cause`. */
  cause?: unknown;
}

/**
 * The base class of every error weir raises (the counterpart of Kafka Streams' `StreamsException`): a message
 * that says what to do, where it happened (see {@link ErrorContext}) and the underlying `cause`. Its `name` is the
 * concrete class's name, which is also what dead-letter records carry in their `weir.error.class` header.
 *
 * @example
 * ```ts
 * import { WeirError, type Worker } from "weir";
 *
 * declare const worker: Worker;
 * worker.done.catch((err: unknown) => {
 *   if (err instanceof WeirError) console.error(`${err.name} (${err.where()}): ${err.message}`);
 * });
 * ```
 */
export class WeirError extends Error {
  /** The topic of the record at fault, if any. */
  readonly topic?: string;
  /** The partition of the record at fault, if any. */
  readonly partition?: number;
  /** The offset of the record at fault, if any. */
  readonly offset?: number;
  /** The state store involved, if any. */
  readonly store?: string;
  /** The topology node involved, if any. */
  readonly node?: string;
  /** The task (`<subtopology>_<partition>`) involved, if any. */
  readonly task?: string;

  /**
   * An error with its message and where it happened; `name` becomes the concrete class's name.
   *
   * @param message what went wrong and what to do about it
   * @param context where it happened, and the underlying `cause`
   */
  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.topic = context.topic;
    this.partition = context.partition;
    this.offset = context.offset;
    this.store = context.store;
    this.node = context.node;
    this.task = context.task;
  }

  /** Where it happened, for logs: `topic=orders partition=2 offset=41`. */
  where(): string {
    const parts: string[] = [];
    if (this.task !== undefined) parts.push(`task=${this.task}`);
    if (this.node !== undefined) parts.push(`node=${this.node}`);
    if (this.topic !== undefined) parts.push(`topic=${this.topic}`);
    if (this.partition !== undefined) parts.push(`partition=${this.partition}`);
    if (this.offset !== undefined) parts.push(`offset=${this.offset}`);
    if (this.store !== undefined) parts.push(`store=${this.store}`);
    return parts.join(" ");
  }
}

/**
 * The topology is not well formed (Kafka Streams' `TopologyException`): a duplicate or invalid name, a missing
 * serde, an unknown store, a cycle, sources that are not co-partitioned. Raised by the DSL methods, by
 * {@link TopologyBuilder.build}, or at start when checked against the broker.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, TopologyError } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app.stream("orders", { key: Serdes.string(), value: Serdes.json() });
 * try {
 *   app.stream("orders", { key: Serdes.string(), value: Serdes.json() }); // the topic is read twice
 * } catch (err) {
 *   if (err instanceof TopologyError) console.error(err.message, err.where());
 * }
 * ```
 */
export class TopologyError extends WeirError {}

/**
 * A record's bytes could not be decoded by its serde. The record goes to the dead-letter topic (or the worker
 * fails, with `deserializationErrors: "fail"`), as Kafka Streams' deserialization exception handler decides.
 * Throw it from a custom {@link Serde}'s `deserialize`.
 *
 * @example
 * ```ts
 * import { DeserializationError, type Serde } from "weir";
 *
 * const uint8: Serde<number> = {
 *   name: "uint8",
 *   serialize: (v) => Buffer.from([v]),
 *   deserialize: (b) => {
 *     if (b.length !== 1) throw new DeserializationError(`uint8 needs 1 byte, got ${b.length}`);
 *     return b[0]!;
 *   },
 * };
 * ```
 */
export class DeserializationError extends WeirError {}

/**
 * A record decoded but does not satisfy its schema (see {@link Serdes.json} with a {@link Schema}). The record goes
 * to the dead-letter topic, as any {@link DeserializationError}.
 *
 * @example
 * ```ts
 * import { SchemaError, Serdes } from "weir";
 *
 * const serde = Serdes.json<{ id: string }>({
 *   name: "order",
 *   validate: (v) => {
 *     if (typeof (v as { id?: unknown }).id !== "string") throw new Error("id must be a string");
 *     return v as { id: string };
 *   },
 * });
 * try {
 *   serde.deserialize(Buffer.from('{"id":7}'));
 * } catch (err) {
 *   console.log(err instanceof SchemaError); // true
 * }
 * ```
 */
export class SchemaError extends DeserializationError {}

/**
 * A record's event time is not usable: negative, not an integer, more than the source's `maxFutureSkewMs` ahead of
 * wall-clock time, or its timestamp extractor threw. The record goes to the dead-letter topic (the deserialization
 * handler) and never touches stream time or stores; its offset is passed.
 *
 * @example
 * ```ts
 * import { InvalidTimestampError, type Worker } from "weir";
 *
 * declare const worker: Worker;
 * worker.done.catch((err: unknown) => {
 *   // only with deserializationErrors: "fail"; by default such records are dead-lettered
 *   if (err instanceof InvalidTimestampError) console.error(`bad event time at ${err.where()}`);
 * });
 * ```
 */
export class InvalidTimestampError extends DeserializationError {}

/**
 * A processor threw while handling a record. The input record is dead-lettered, or the worker fails, as the
 * `processingErrors` option says (Kafka Streams' processing exception handler). Any other error thrown by user code
 * counts as a processing error too; throwing a ProcessingError lets a processor name the node and the reason.
 *
 * @example
 * ```ts
 * import { ProcessingError, Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ items: string[] }>() })
 *   .peek("check-items", (r) => {
 *     if (r.value.items.length === 0) throw new ProcessingError("order has no items", { node: "check-items" });
 *   });
 * ```
 */
export class ProcessingError extends WeirError {}

/**
 * An asynchronous processor's call for a record failed on its last attempt (it threw, or passed its time limit):
 * the record goes to the processing handler as any processing failure does. Its `cause` is the last attempt's
 * error.
 *
 * @example
 * ```ts
 * import { AsyncProcessingError, DeadLetterHeader, type RawRecord } from "weir";
 *
 * declare const letter: RawRecord; // a record read from the dead-letter topic
 * if (letter.headers[DeadLetterHeader.errorClass] === AsyncProcessingError.name)
 *   console.log("risk call failed:", letter.headers[DeadLetterHeader.errorMessage]);
 * ```
 */
export class AsyncProcessingError extends ProcessingError {}

/**
 * A record an operator discarded on purpose (too late for its window, a null key an aggregation skips), sent to the
 * dead-letter topic instead of only being counted when the worker runs with `droppedRecords: "dead-letter"`.
 *
 * @example
 * ```ts
 * import { DeadLetterHeader, DroppedRecordError, type RawRecord } from "weir";
 *
 * declare const letter: RawRecord; // a record read from the dead-letter topic
 * if (letter.headers[DeadLetterHeader.errorClass] === DroppedRecordError.name)
 *   console.log("dropped:", letter.headers[DeadLetterHeader.dropReason]); // e.g. "late"
 * ```
 */
export class DroppedRecordError extends WeirError {
  /**
   * A dropped record's error, with the reason it was dropped.
   *
   * @param reason why the record was dropped (`expired-window`, `null-key`, ...), as in
   *   `weir_dropped_records_total{reason}`
   * @param message what happened
   * @param context where it happened
   */
  constructor(
    /** Why the record was dropped, e.g. `expired-window`, `null-key`, `late`. */
    readonly reason: string,
    message: string,
    context: ConstructorParameters<typeof WeirError>[1] = {},
  ) {
    super(message, context);
  }
}

/**
 * A record could not be produced (after the client's retries). Never silently dropped: the open transaction is
 * aborted and rewound (a passing fault) or the worker stops (a fatal one); see {@link classify}.
 *
 * @example
 * ```ts
 * import { ProducerError, classify } from "weir";
 *
 * const err = new ProducerError("delivery failed: broker not available");
 * classify(err); // "transient": the transaction is aborted and redone
 * ```
 */
export class ProducerError extends WeirError {}

/**
 * A value the serde cannot write, or would write in a form it cannot read back (e.g. a non-finite number): a
 * record-level failure, raised where the value is written (a store put, a sink), so the input record that caused it
 * is dead-lettered instead of a store holding a value no restore could read.
 *
 * @example
 * ```ts
 * import { SerializationError, Serdes } from "weir";
 *
 * try {
 *   Serdes.number().serialize(Number.NaN);
 * } catch (err) {
 *   console.log(err instanceof SerializationError); // true: NaN could never be read back
 * }
 * ```
 */
export class SerializationError extends WeirError {}

/**
 * A record (an output, a changelog record of a store write, a dead letter) larger than the producer may send
 * (`message.max.bytes`): a record-level production failure, raised before the record enters the transaction, so
 * the input record that caused it is dead-lettered and the rest of the transaction commits.
 *
 * @example
 * ```ts
 * import { RecordTooLargeError } from "weir";
 *
 * const err = new RecordTooLargeError("record too large", 1_200_000, 1_000_000, "order-status");
 * console.log(`${err.size} > ${err.limit} bytes for ${err.targetTopic}`);
 * ```
 */
export class RecordTooLargeError extends WeirError {
  /**
   * A too-large record's error, with its size, the limit and the topic it was for.
   *
   * @param message what happened
   * @param size the record's size in bytes, as librdkafka counts it
   * @param limit the producer's `message.max.bytes`
   * @param targetTopic the topic the record was for
   * @param context where it happened
   */
  constructor(
    message: string,
    /** The record's size in bytes, as librdkafka counts it. */
    readonly size: number,
    /** The limit it exceeded (`message.max.bytes`). */
    readonly limit: number,
    /** The topic the record was for (an output, a changelog or the dead-letter topic). */
    readonly targetTopic: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/**
 * A state store failed (LMDB error, closed store, restore failure, an unknown store name in a query). Fatal: the
 * worker stops with the store's name.
 *
 * @example
 * ```ts
 * import { StateStoreError, type Worker } from "weir";
 *
 * declare const worker: Worker;
 * try {
 *   worker.queryStore("no-such-store", "alice");
 * } catch (err) {
 *   if (err instanceof StateStoreError) console.error(err.message, err.store);
 * }
 * ```
 */
export class StateStoreError extends WeirError {}

/**
 * Kafka refused the transaction; the task's uncommitted work was dropped and processing resumes from the
 * committed offsets. A passing fault ({@link classify} says `transient`), never fatal on its own.
 *
 * @example
 * ```ts
 * import { TransactionAbortedError, classify } from "weir";
 *
 * classify(new TransactionAbortedError("commit aborted")); // "transient"
 * ```
 */
export class TransactionAbortedError extends WeirError {}

/**
 * Another instance with the same transactional id or a newer group generation took over: this worker is a
 * zombie and must not commit (Kafka's `ProducerFencedException`). Fatal.
 *
 * @example
 * ```ts
 * import { ProducerFencedError, classify } from "weir";
 *
 * classify(new ProducerFencedError("fenced by a newer instance")); // "fatal"
 * ```
 */
export class ProducerFencedError extends WeirError {}

/**
 * Where to start reading an input partition could not be decided: no committed offset under the `none` policy, a
 * committed offset lost under `none`, or committed offsets that stayed unstable (an undecided transaction holding an
 * offset commit for the group) for longer than the task timeout. Fatal: the worker stops with the reason.
 *
 * @example
 * ```ts
 * import { OffsetError, type Worker } from "weir";
 *
 * declare const worker: Worker;
 * worker.done.catch((err: unknown) => {
 *   if (err instanceof OffsetError) console.error(`cannot decide where to start ${err.where()}: ${err.message}`);
 * });
 * ```
 */
export class OffsetError extends WeirError {}

/**
 * The worker was asked to stop while it waited (restore, offset lookup, start-up): not a failure.
 *
 * @example
 * ```ts
 * import { StopRequestedError, type Worker } from "weir";
 *
 * declare const worker: Worker;
 * try {
 *   await worker.start();
 * } catch (err) {
 *   if (!(err instanceof StopRequestedError)) throw err; // stopped during start-up: fine
 * }
 * ```
 */
export class StopRequestedError extends WeirError {}

/**
 * Invalid configuration given to a worker or a command (a bad option value, options of the other group protocol).
 * Fatal; the CLI exits with code 2.
 *
 * @example
 * ```ts
 * import { ConfigError, Serdes, TopologyBuilder, compileWorkerOptions } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * const serdes = { key: Serdes.string(), value: Serdes.json() };
 * app.stream("orders", serdes).to("out", serdes);
 * try {
 *   compileWorkerOptions(app.build(), { brokers: "localhost:9092", stateDir: "/tmp/weir", commitIntervalMs: -1 });
 * } catch (err) {
 *   console.log(err instanceof ConfigError); // true
 * }
 * ```
 */
export class ConfigError extends WeirError {}

/**
 * The message of anything thrown: an `Error`'s message, the `message` of a plain object (librdkafka's errors are
 * plain objects with a message and a code), or the value as a string.
 *
 * @example
 * ```ts
 * import { errorMessage } from "weir";
 *
 * errorMessage(new Error("boom")); // "boom"
 * errorMessage({ message: "Broker: Not coordinator", code: 16 }); // "Broker: Not coordinator"
 * errorMessage("plain"); // "plain"
 * ```
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  // librdkafka errors from the client are plain objects with a message and a code.
  if (err && typeof err === "object" && "message" in err)
    return String((err as { message: unknown }).message);
  return String(err);
}

/**
 * The worker's state directory (`<stateDir>/<appId>`) is held by another live worker: two workers were given the
 * same state directory (Kafka Streams refuses the same way, with a lock on the directory). The worker refuses to
 * start before it opens any store or joins its group; the CLI exits with code 2. A lock whose worker died (killed,
 * crashed) does not block: it is taken over.
 *
 * @example
 * ```ts
 * import { StateDirectoryLockedError, type Worker } from "weir";
 *
 * declare const worker: Worker;
 * try {
 *   await worker.start();
 * } catch (err) {
 *   if (err instanceof StateDirectoryLockedError) console.error(err.message); // names the holder: id, pid, host
 * }
 * ```
 */
export class StateDirectoryLockedError extends ConfigError {}
