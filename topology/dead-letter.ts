import { DroppedRecordError, RecordTooLargeError, type WeirError } from "./errors.js";
import type { Headers, RawRecord } from "./record.js";

/**
 * Header names on dead-letter records (the topic `<appId>-dlq`). A dead letter keeps the input record's key, value
 * and headers, and adds these. `weir replay --dead-letters` reads them to re-drive records.
 *
 * @example
 * ```ts
 * import { DeadLetterHeader, type RawRecord } from "weir";
 *
 * function source(letter: RawRecord): string {
 *   const h = letter.headers;
 *   const where = `${h[DeadLetterHeader.topic]}/${h[DeadLetterHeader.partition]}@${h[DeadLetterHeader.offset]}`;
 *   return `${where}: ${h[DeadLetterHeader.errorClass]}`;
 * }
 * ```
 */
export const DeadLetterHeader = {
  /** The error's class name, e.g. `DeserializationError`. */
  errorClass: "weir.error.class",
  /** The error's message (at most 2000 characters). */
  errorMessage: "weir.error.message",
  /** The input record's topic. */
  topic: "weir.source.topic",
  /** The input record's partition. */
  partition: "weir.source.partition",
  /** The input record's offset. */
  offset: "weir.source.offset",
  /** The input record's timestamp, epoch ms. */
  timestamp: "weir.source.timestamp",
  /** The topology node where the error happened, when known. */
  node: "weir.error.node",
  /** RecordTooLargeError: the record's size, the limit it exceeded and the topic it was for. */
  size: "weir.error.size",
  /** RecordTooLargeError: the limit the record exceeded (`message.max.bytes`). */
  limit: "weir.error.limit",
  /** RecordTooLargeError: the topic the record was for. */
  targetTopic: "weir.error.topic",
  /**
   * Set when the dead letter itself had to be cut to fit `message.max.bytes`: what was cut and the original sizes,
   * e.g. `value 1020000->998000`. The original is still at the source coordinates (weir.source.*).
   */
  truncated: "weir.dead-letter.truncated",
  /** DroppedRecordError: why the record was dropped (expired-window, null-key, ...), as in weir_dropped_records_total. */
  dropReason: "weir.drop.reason",
} as const;

/** The reason label for metrics: the error class, a bounded set. */
export const deadLetterReason = (error: WeirError): string => error.name;

export function deadLetterHeaders(record: RawRecord, error: WeirError): Headers {
  const headers: Headers = {
    [DeadLetterHeader.errorClass]: error.name,
    [DeadLetterHeader.errorMessage]: error.message.slice(0, 2000),
    [DeadLetterHeader.topic]: record.topic,
    [DeadLetterHeader.partition]: String(record.partition),
    [DeadLetterHeader.offset]: String(record.offset),
    [DeadLetterHeader.timestamp]: String(record.timestamp),
  };
  if (error.node !== undefined) headers[DeadLetterHeader.node] = error.node;
  if (error instanceof DroppedRecordError) headers[DeadLetterHeader.dropReason] = error.reason;
  if (error instanceof RecordTooLargeError) {
    headers[DeadLetterHeader.size] = String(error.size);
    headers[DeadLetterHeader.limit] = String(error.limit);
    headers[DeadLetterHeader.targetTopic] = error.targetTopic;
  }
  return headers;
}
