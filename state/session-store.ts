/**
 * Session store: values by (key, session start, session end), sessions of one key never overlapping (Kafka
 * Streams' SessionStore). Kept in a window store keyed by the session's start, each value stored behind its end
 * (8 bytes), so it shares the window store's byte layout, long-key handling, changelog and restore.
 */
import type { Serde, WindowStore } from "./types.js";

export interface SessionEntry<K, V> {
  key: K;
  /** First and last record time of the session, both inclusive. */
  start: number;
  end: number;
  value: V;
}

/** What a session store keeps under (key, start): the session's end and its value. */
export interface SessionValue<V> {
  end: number;
  value: V;
}

export interface SessionStore<K, V> {
  put(key: K, start: number, end: number, value: V): void;
  remove(key: K, start: number, end: number): void;
  fetchSession(key: K, start: number, end: number): V | undefined;
  /** The key's sessions that end at or after `earliestEnd` and start at or before `latestStart`, by start. */
  findSessions(key: K, earliestEnd: number, latestStart: number): Array<SessionEntry<K, V>>;
  /** Every session that ends at or before `latestEnd`, by start. */
  endedBy(latestEnd: number): Array<SessionEntry<K, V>>;
}

/** The value serde of the window store under a session store. */
export function sessionValueSerde<V>(value: Serde<V>): Serde<SessionValue<V>> {
  return {
    name: `session(${value.name})`,
    serialize: (v) => {
      const bytes = value.serialize(v.value);
      const out = Buffer.allocUnsafe(8 + bytes.length);
      out.writeBigInt64BE(BigInt(v.end), 0);
      bytes.copy(out, 8);
      return out;
    },
    deserialize: (bytes) => {
      if (bytes.length < 8) throw new RangeError("a session store value needs 8 bytes of session end");
      return { end: Number(bytes.readBigInt64BE(0)), value: value.deserialize(bytes.subarray(8)) };
    },
  };
}

const entry = <K, V>(e: { key: K; timestamp: number; value: SessionValue<V> }): SessionEntry<K, V> => ({
  key: e.key,
  start: e.timestamp,
  end: e.value.end,
  value: e.value.value,
});

/** A session store over a window store of SessionValues (see sessionValueSerde). */
export function sessionStore<K, V>(windows: WindowStore<K, SessionValue<V>>): SessionStore<K, V> {
  return {
    put: (key, start, end, value) => {
      if (end < start) throw new RangeError(`a session cannot end (${end}) before it starts (${start})`);
      windows.put(key, { end, value }, start);
    },
    remove: (key, start, end) => {
      if (windows.get(key, start)?.end === end) windows.delete(key, start);
    },
    fetchSession: (key, start, end) => {
      const found = windows.get(key, start);
      return found?.end === end ? found.value : undefined;
    },
    findSessions: (key, earliestEnd, latestStart) =>
      [...windows.fetch(key, 0, latestStart)].filter((e) => e.value.end >= earliestEnd).map(entry),
    endedBy: (latestEnd) =>
      [...windows.fetchAll(0, latestEnd)].filter((e) => e.value.end <= latestEnd).map(entry),
  };
}
