/**
 * The error tree. Every error carries what an operator needs to find the record or store at fault
 * (topic/partition/offset/store) and the underlying `cause`; messages say what to do.
 */
export interface ErrorContext {
  topic?: string;
  partition?: number;
  offset?: number;
  store?: string;
  node?: string;
  task?: string;
  cause?: unknown;
}

export class WeirError extends Error {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  readonly store?: string;
  readonly node?: string;
  readonly task?: string;

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

/** The topology is not well formed; raised by `build()` or at start against the broker. */
export class TopologyError extends WeirError {}

/** A record's bytes could not be decoded by its serde. The record goes to the dead-letter topic. */
export class DeserializationError extends WeirError {}

/** A record decoded but does not satisfy its schema. The record goes to the dead-letter topic. */
export class SchemaError extends DeserializationError {}

/**
 * A record's event time is not usable: negative, not an integer, more than the source's `maxFutureSkewMs` ahead of
 * wall-clock time, or its timestamp extractor threw. The record goes to the dead-letter topic (the deserialization
 * handler) and never touches stream time or stores; its offset is passed.
 */
export class InvalidTimestampError extends DeserializationError {}

/** A processor threw while handling a record. Dead-lettered or fatal, by configuration. */
export class ProcessingError extends WeirError {}

/**
 * An asynchronous processor's call for a record failed on its last attempt (it threw, or passed its time limit):
 * the record goes to the processing handler as any processing failure does.
 */
export class AsyncProcessingError extends ProcessingError {}

/**
 * A record an operator discarded on purpose (too late for its window, a null key an aggregation skips), sent to the
 * dead-letter topic instead of only being counted when the worker runs with `droppedRecords: "dead-letter"`.
 */
export class DroppedRecordError extends WeirError {
  constructor(
    readonly reason: string,
    message: string,
    context: ConstructorParameters<typeof WeirError>[1] = {},
  ) {
    super(message, context);
  }
}

/** A record could not be produced (after the client's retries). Never silently dropped: the open transaction is
 *  aborted and rewound (a passing fault) or the worker stops (a fatal one); see topology/failures.ts. */
export class ProducerError extends WeirError {}

/**
 * A value the serde cannot write, or would write in a form it cannot read back (e.g. a non-finite number): a
 * record-level failure, raised where the value is written (a store put, a sink), so the input record that caused it
 * is dead-lettered instead of a store holding a value no restore could read.
 */
export class SerializationError extends WeirError {}

/**
 * A record (an output, a changelog record of a store write, a dead letter) larger than the producer may send
 * (`message.max.bytes`): a record-level production failure, raised before the record enters the transaction, so
 * the input record that caused it is dead-lettered and the rest of the transaction commits.
 */
export class RecordTooLargeError extends WeirError {
  constructor(
    message: string,
    readonly size: number,
    readonly limit: number,
    readonly targetTopic: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/** A state store failed (LMDB error, closed store, restore failure). */
export class StateStoreError extends WeirError {}

/** Kafka refused the transaction; the task's uncommitted work was dropped and processing resumes from the
 *  committed offsets. */
export class TransactionAbortedError extends WeirError {}

/** Another instance with the same transactional id or a newer group generation took over: this worker is a
 *  zombie and must not commit. */
export class ProducerFencedError extends WeirError {}

/**
 * Where to start reading an input partition could not be decided: no committed offset under the `none` policy, a
 * committed offset lost under `none`, or committed offsets that stayed unstable (an undecided transaction holding an
 * offset commit for the group) for longer than the task timeout. Fatal: the worker stops with the reason.
 */
export class OffsetError extends WeirError {}

/** The worker was asked to stop while it waited (restore, offset lookup, start-up): not a failure. */
export class StopRequestedError extends WeirError {}

/** Invalid configuration given to a worker or a command. */
export class ConfigError extends WeirError {}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  // librdkafka errors from the client are plain objects with a message and a code.
  if (err && typeof err === "object" && "message" in err)
    return String((err as { message: unknown }).message);
  return String(err);
}
