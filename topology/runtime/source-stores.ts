/**
 * Stores whose changelog is a topic the application reads: a global table's topic, or the source topic of a table
 * declared with `sourceChangelog: true` (Kafka Streams' source-topic optimization). Restoring such a store replays
 * the topic as its records are; a record that processing would have refused must not enter the store at restore
 * either, so the same checks apply: a null key, a key or value the serdes cannot read, an event time the source's
 * extractor cannot give.
 */
import type { SourceNode, StoreDefinition, Topology } from "../builder.js";
import { InvalidTimestampError, errorMessage } from "../errors.js";
import { loggableFailure } from "../failures.js";
import type { RawRecord, StreamRecord } from "../record.js";
import { decodeRecord } from "../serdes.js";

/** The topic a store restores from when it is not its own changelog, or undefined. */
export function sourceChangelogOf(definition: StoreDefinition): string | undefined {
  return definition.globalTopic ?? definition.sourceTopic;
}

/**
 * A record's event time as its source gives it: the extractor's result, or the Kafka timestamp; a problem when it is
 * unusable (the extractor throws, or the result is not a non-negative integer). The future-skew guard, which
 * depends on the wall clock, is the task's own.
 */
export function eventTimeOf(
  source: SourceNode,
  record: StreamRecord,
): { timestamp: number } | { problem: string; cause?: unknown } {
  let timestamp = record.timestamp;
  if (source.timestampExtractor)
    try {
      timestamp = source.timestampExtractor(record);
    } catch (cause) {
      return { problem: `timestamp extractor failed: ${errorMessage(cause)}`, cause };
    }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    return {
      problem: `invalid timestamp ${String(timestamp)}: event time must be a non-negative integer (ms since the epoch)`,
    };
  return { timestamp };
}

/**
 * For a store restored from a source topic, what makes a record of it unusable (undefined: usable) — the checks
 * processing makes before a record reaches the store; undefined for any other store.
 */
export function sourceRecordCheck(
  topology: Topology,
  store: string,
): ((record: RawRecord) => string | undefined) | undefined {
  const definition = topology.stores.get(store);
  if (!definition) return undefined;
  const topic = sourceChangelogOf(definition);
  if (topic === undefined) return undefined;
  const source = topology
    .subtopologyOf(topic)
    ?.nodes.find((n): n is SourceNode => n.type === "source" && n.topic === topic);
  return (raw) => {
    if (raw.key === null) return "null key";
    let record: StreamRecord;
    try {
      record = decodeRecord(definition.keySerde, definition.valueSerde, raw);
    } catch (err) {
      return loggableFailure(err);
    }
    if (!source) return undefined;
    const time = eventTimeOf(source, record);
    return "problem" in time ? loggableFailure(new InvalidTimestampError(time.problem)) : undefined;
  };
}
