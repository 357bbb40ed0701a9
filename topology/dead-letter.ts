import { DroppedRecordError, RecordTooLargeError, type WeirError } from "./errors.js";
import type { Headers, RawRecord } from "./record.js";

/** Header names on dead-letter records. `weir replay --dead-letters` reads them to re-drive records. */
export const DeadLetterHeader = {
  errorClass: "weir.error.class",
  errorMessage: "weir.error.message",
  topic: "weir.source.topic",
  partition: "weir.source.partition",
  offset: "weir.source.offset",
  timestamp: "weir.source.timestamp",
  node: "weir.error.node",
  /** RecordTooLargeError: the record's size, the limit it exceeded and the topic it was for. */
  size: "weir.error.size",
  limit: "weir.error.limit",
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
