/**
 * Stores whose changelog is a topic the application reads: a global table's topic, or the source topic of a table
 * declared with `sourceChangelog: true` (Kafka Streams' source-topic optimization). Restoring such a store replays
 * the topic as its records are; a record that processing would have refused must not enter the store at restore
 * either, so the same checks apply: a null key, a key or value the serdes cannot read, an event time the source's
 * extractor cannot give.
 */
import type { SourceNode, StoreDefinition, Topology } from "../builder.js";
import { errorMessage } from "../errors.js";
import { decode } from "../serdes.js";

/** The topic a store restores from when it is not its own changelog, or undefined. */
export function sourceChangelogOf(definition: StoreDefinition): string | undefined {
  return definition.globalTopic ?? definition.sourceTopic;
}

/**
 * For a store restored from a source topic, what makes a record of it unusable (undefined: usable); undefined for
 * any other store.
 */
export function sourceRecordCheck(
  topology: Topology,
  store: string,
): ((key: Buffer | null, value: Buffer | null, timestamp: number) => string | undefined) | undefined {
  const definition = topology.stores.get(store);
  if (!definition) return undefined;
  const topic = sourceChangelogOf(definition);
  if (topic === undefined) return undefined;
  const source = topology
    .subtopologyOf(topic)
    ?.nodes.find((n): n is SourceNode => n.type === "source" && n.topic === topic);
  return (key, value, timestamp) => {
    if (key === null) return "null key";
    let decodedKey: unknown;
    let decodedValue: unknown;
    try {
      decodedKey = decode(definition.keySerde, key, "key");
      decodedValue = value === null ? null : decode(definition.valueSerde, value, "value");
    } catch (err) {
      return errorMessage(err);
    }
    if (!source?.timestampExtractor) return undefined;
    try {
      const t = source.timestampExtractor({
        key: decodedKey,
        value: decodedValue,
        timestamp,
        headers: {},
        topic,
        partition: -1,
        offset: -1,
      });
      return Number.isSafeInteger(t) && t >= 0 ? undefined : `invalid timestamp ${String(t)}`;
    } catch (err) {
      return `timestamp extractor failed: ${errorMessage(err)}`;
    }
  };
}
