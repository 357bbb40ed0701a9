import type { Serde as StoreSerde } from "../state/types.js";
import { DeserializationError, SchemaError, SerializationError } from "./errors.js";
import type { RawRecord, StreamRecord } from "./record.js";

/** A serde; `nullable: false` makes a null (tombstone) payload a deserialization error. */
export interface Serde<T> extends StoreSerde<T> {
  readonly nullable?: boolean;
}

/** Validates a decoded value and returns it typed; throws (any error) with a message saying what is wrong. */
export interface Schema<T> {
  readonly name: string;
  validate(value: unknown): T;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export const Serdes = {
  string(): Serde<string> {
    return {
      name: "string",
      serialize: (v) => Buffer.from(v, "utf8"),
      deserialize: (b) => {
        try {
          return utf8.decode(b);
        } catch (cause) {
          throw new DeserializationError("not valid UTF-8", { cause });
        }
      },
    };
  },

  bytes(): Serde<Buffer> {
    return { name: "bytes", serialize: (v) => v, deserialize: (b) => b };
  },

  /**
   * A JSON number as UTF-8 text ("42"), readable by kcat and any client. Only finite numbers: writing Infinity or
   * NaN is a SerializationError (it would be written as text no reader accepts).
   */
  number(): Serde<number> {
    return {
      name: "number",
      serialize: (v) => {
        if (typeof v !== "number" || !Number.isFinite(v))
          throw new SerializationError(`serde number cannot write ${String(v)}: only finite numbers`);
        return Buffer.from(String(v));
      },
      deserialize: (b) => {
        const n = Number(b.toString("utf8"));
        if (b.length === 0 || !Number.isFinite(n))
          throw new DeserializationError(`not a number: ${preview(b)}`);
        return n;
      },
    };
  },

  /** Big-endian 32-bit signed integer, as Kafka's IntegerSerializer. */
  int32(): Serde<number> {
    return {
      name: "int32",
      serialize: (v) => {
        if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
          throw new SerializationError(`serde int32 cannot write ${String(v)}: not a 32-bit integer`);
        const b = Buffer.allocUnsafe(4);
        b.writeInt32BE(v);
        return b;
      },
      deserialize: (b) => {
        if (b.length !== 4) throw new DeserializationError(`int32 needs 4 bytes, got ${b.length}`);
        return b.readInt32BE(0);
      },
    };
  },

  /** UTF-8 JSON; with a schema, decoded values are validated and a failure is a SchemaError (→ dead letter). */
  json<T = unknown>(schema?: Schema<T>): Serde<T> {
    return {
      name: schema ? `json(${schema.name})` : "json",
      nullable: schema === undefined,
      serialize: (v) => {
        const text = JSON.stringify(v) as string | undefined;
        if (text === undefined)
          throw new SerializationError(
            `serde ${schema ? `json(${schema.name})` : "json"} cannot write ${typeof v}`,
          );
        return Buffer.from(text);
      },
      deserialize: (b) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(utf8.decode(b));
        } catch (cause) {
          throw new DeserializationError(`not valid JSON: ${preview(b)}`, { cause });
        }
        if (!schema) return parsed as T;
        try {
          return schema.validate(parsed);
        } catch (cause) {
          throw new SchemaError(
            `does not match schema ${schema.name}: ${cause instanceof Error ? cause.message : String(cause)}`,
            {
              cause,
            },
          );
        }
      },
    };
  },
} as const;

function preview(b: Buffer): string {
  const s = b
    .subarray(0, 40)
    .toString("utf8")
    .replace(/[^\x20-\x7e]/g, "?");
  return JSON.stringify(b.length > 40 ? s + "…" : s);
}

/** Decodes a payload, honouring `nullable`. */
export function decode<T>(serde: Serde<T>, bytes: Buffer | null, what: "key" | "value"): T {
  if (bytes === null) {
    if (serde.nullable === false)
      throw new SchemaError(`${what} is null but serde ${serde.name} requires a value`);
    return null as T;
  }
  return serde.deserialize(bytes);
}

/** A record off Kafka as processors see it: key and value decoded (throws what the serdes throw). */
export function decodeRecord<K, V>(key: Serde<K>, value: Serde<V>, raw: RawRecord): StreamRecord<K, V> {
  return {
    key: decode(key, raw.key, "key"),
    value: decode(value, raw.value, "value"),
    timestamp: raw.timestamp,
    headers: raw.headers,
    topic: raw.topic,
    partition: raw.partition,
    offset: raw.offset,
  };
}

export function encode<T>(serde: Serde<T>, value: T): Buffer | null {
  return value === null || value === undefined ? null : serde.serialize(value);
}
