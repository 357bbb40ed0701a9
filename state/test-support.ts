/** Helpers for the state tests only (not exported from index.ts). */
import type { Serde } from "./types.js";

export const stringSerde: Serde<string> = {
  name: "string",
  serialize: (value) => Buffer.from(value, "utf8"),
  deserialize: (bytes) => bytes.toString("utf8"),
};

export const jsonSerde = <T>(): Serde<T> => ({
  name: "json",
  serialize: (value) => Buffer.from(JSON.stringify(value), "utf8"),
  deserialize: (bytes) => JSON.parse(bytes.toString("utf8")) as T,
});

export const b = (text: string): Buffer => Buffer.from(text, "utf8");
export const text = (entries: Iterable<[Buffer, Buffer]>): string[] =>
  [...entries].map(([key, value]) => `${key.toString("utf8")}=${value.toString("utf8")}`);
