import type { Serde as StoreSerde } from "../state/types.js";
import { DeserializationError, SchemaError, SerializationError } from "./errors.js";
import type { RawRecord, StreamRecord } from "./record.js";

/**
 * A serializer/deserializer pair for keys or values (Kafka's `Serde`), as sources, sinks and stores take them.
 * `nullable: false` makes a null (tombstone) payload a deserialization error. Ready-made ones are in
 * {@link Serdes}.
 *
 * @example
 * ```ts
 * import { DeserializationError, type Serde } from "weir";
 *
 * const date: Serde<Date> = {
 *   name: "iso-date",
 *   serialize: (d) => Buffer.from(d.toISOString()),
 *   deserialize: (b) => {
 *     const d = new Date(b.toString("utf8"));
 *     if (Number.isNaN(d.getTime())) throw new DeserializationError("not an ISO date");
 *     return d;
 *   },
 * };
 * ```
 */
export interface Serde<T> extends StoreSerde<T> {
  /** false: a null payload (a tombstone) is a deserialization error instead of a null value. @default true */
  readonly nullable?: boolean;
}

/**
 * Validates a decoded value and returns it typed; throws (any error) with a message saying what is wrong. Give
 * one to {@link Serdes.json} to check values as they are read (a failure is a {@link SchemaError}, so the record is
 * dead-lettered). A zod schema fits with a small adapter.
 *
 * @example
 * ```ts
 * import { Serdes, type Schema } from "weir";
 *
 * type Payment = { orderId: string; amount: number };
 * const payment: Schema<Payment> = {
 *   name: "payment",
 *   validate(value) {
 *     const v = value as Partial<Payment>;
 *     if (typeof v?.orderId !== "string" || typeof v.amount !== "number")
 *       throw new Error("orderId and amount required");
 *     return v as Payment;
 *   },
 * };
 * const payments = Serdes.json(payment);
 * ```
 */
export interface Schema<T> {
  /** The schema's name, used in serde names and error messages. */
  readonly name: string;
  /** The value, typed, or a throw saying what is wrong with it. */
  validate(value: unknown): T;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Ready-made serdes (Kafka's `Serdes`): strings, bytes, numbers as text, 32-bit integers and JSON with an optional
 * schema.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
 *   .mapValues("amount", (order) => order.amount)
 *   .to("order-amounts", { key: Serdes.string(), value: Serdes.number() });
 * ```
 */
export const Serdes = {
  /** UTF-8 text; bytes that are not valid UTF-8 are a DeserializationError. */
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

  /** The bytes as they are, a Buffer. */
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
  try {
    return serde.deserialize(bytes);
  } catch (err) {
    // Say which half of the record and which serde: the first record a new application meets is often written in
    // another format than the serde given to stream()/table() expects.
    if (err instanceof DeserializationError && !err.message.startsWith(`${what} `))
      throw new (err.constructor as typeof DeserializationError)(
        `${what} does not decode with serde ${serde.name}: ${err.message}`,
        { cause: err.cause ?? err },
      );
    throw err;
  }
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
