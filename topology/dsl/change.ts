/**
 * A table update as it travels between DSL nodes: the row's new value and the value it replaces (null when the row
 * did not exist, or is deleted). Kafka Streams forwards the same pair (`Change<V>`) internally so that a downstream
 * aggregation can subtract the old value before adding the new one.
 */
import { DeserializationError } from "../errors.js";
import type { Serde } from "../serdes.js";

export interface Change<V> {
  readonly newValue: V | null;
  readonly oldValue: V | null;
}

const NEW = 1;
const OLD = 2;

/**
 * The serde of a Change on a repartition topic: one flag byte (bit 0: new present, bit 1: old present), the new
 * value's length (4 bytes, big-endian) and bytes, then the old value's bytes.
 */
export function changeSerde<V>(value: Serde<V>): Serde<Change<V>> {
  return {
    name: `change(${value.name})`,
    nullable: false,
    serialize: (change) => {
      const n = change.newValue === null ? null : value.serialize(change.newValue);
      const o = change.oldValue === null ? null : value.serialize(change.oldValue);
      const head = Buffer.alloc(5);
      head[0] = (n ? NEW : 0) | (o ? OLD : 0);
      head.writeUInt32BE(n?.length ?? 0, 1);
      return Buffer.concat([head, n ?? Buffer.alloc(0), o ?? Buffer.alloc(0)]);
    },
    deserialize: (bytes) => {
      if (bytes.length < 5 || (bytes[0]! & ~(NEW | OLD)) !== 0)
        throw new DeserializationError(`not a table change record (${bytes.length} bytes)`);
      const flags = bytes[0]!;
      const length = bytes.readUInt32BE(1);
      if (5 + length > bytes.length)
        throw new DeserializationError(`table change record cut short: ${bytes.length} bytes`);
      return {
        newValue: flags & NEW ? value.deserialize(bytes.subarray(5, 5 + length)) : null,
        oldValue: flags & OLD ? value.deserialize(bytes.subarray(5 + length)) : null,
      };
    },
  };
}
