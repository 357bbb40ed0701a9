/**
 * Session store: values by (key, session start, session end), sessions of one key never overlapping (Kafka
 * Streams' SessionStore). Kept in a window store keyed by the session's start, each value stored behind its end
 * (8 bytes), so it shares the window store's byte layout, long-key handling, changelog and restore.
 */
import type { Serde, WindowStore } from "./types.js";

/**
 * A session of a key and its value, as a {@link SessionStore} returns it.
 *
 * @example
 * ```ts
 * import type { SessionEntry, SessionStore } from "weir/state";
 *
 * declare const sessions: SessionStore<string, number>;
 * const open: SessionEntry<string, number>[] = sessions.findSessions("alice", Date.now() - 1_800_000, Date.now());
 * ```
 */
export interface SessionEntry<K, V> {
  /** The key. */
  key: K;
  /** First and last record time of the session, both inclusive. */
  start: number;
  /** The session's last record time (inclusive). */
  end: number;
  /** The session's value (its aggregate). */
  value: V;
}

/**
 * What a session store keeps under (key, start) in its window store: the session's end and its value.
 *
 * @example
 * ```ts
 * import { Serdes } from "weir";
 * import { sessionValueSerde, type SessionValue } from "weir/state";
 *
 * const serde = sessionValueSerde(Serdes.number());
 * const v: SessionValue<number> = serde.deserialize(serde.serialize({ end: 5_000, value: 3 }));
 * ```
 */
export interface SessionValue<V> {
  /** The session's end (inclusive). */
  end: number;
  /** The session's value. */
  value: V;
}

/**
 * Values by (key, session start, session end), sessions of one key never overlapping (Kafka Streams'
 * `SessionStore`); what session-windowed aggregations keep their sessions in. Made by {@link sessionStore} over a
 * window store.
 *
 * @example
 * ```ts
 * import type { SessionStore } from "weir/state";
 *
 * declare const sessions: SessionStore<string, number>;
 * sessions.put("alice", 1_000, 4_000, 3);
 * sessions.fetchSession("alice", 1_000, 4_000); // 3
 * sessions.remove("alice", 1_000, 4_000);
 * ```
 */
export interface SessionStore<K, V> {
  /** Store the session [start, end] of `key` with its value (end before start is a RangeError). */
  put(key: K, start: number, end: number, value: V): void;
  /** Remove the session [start, end] of `key`, if stored with exactly that end. */
  remove(key: K, start: number, end: number): void;
  /** The value of the session [start, end] of `key`, or undefined. */
  fetchSession(key: K, start: number, end: number): V | undefined;
  /** The key's sessions that end at or after `earliestEnd` and start at or before `latestStart`, by start. */
  findSessions(key: K, earliestEnd: number, latestStart: number): Array<SessionEntry<K, V>>;
  /** Every session that ends at or before `latestEnd`, by start. */
  endedBy(latestEnd: number): Array<SessionEntry<K, V>>;
}

/**
 * The value serde of the window store under a session store: the session's end (8 bytes, big-endian) ‖ the value's
 * bytes.
 *
 * @example
 * ```ts
 * import { Serdes, Stores, TopologyBuilder } from "weir";
 * import { sessionValueSerde } from "weir/state";
 *
 * const app = new TopologyBuilder("analytics");
 * const visits = Stores.window(Serdes.string(), sessionValueSerde(Serdes.number()), { retentionMs: 86_400_000 });
 * app.store("visits", visits);
 * ```
 */
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

/**
 * A session store over a window store of {@link SessionValue}s (see {@link sessionValueSerde}): sessions are kept
 * under their start, with their end in the value.
 *
 * @example
 * ```ts
 * import { map } from "rxjs";
 * import type { ProcessorFactory } from "weir";
 * import { sessionStore, type SessionValue } from "weir/state";
 *
 * const visits: ProcessorFactory<string, string, string, number> = (ctx) => {
 *   const sessions = sessionStore(ctx.windowStore<string, SessionValue<number>>("visits"));
 *   return map((r) => {
 *     const [last] = sessions.findSessions(r.key, r.timestamp - 1_800_000, r.timestamp);
 *     const count = (last?.value ?? 0) + 1;
 *     if (last) sessions.remove(r.key, last.start, last.end);
 *     sessions.put(r.key, last?.start ?? r.timestamp, r.timestamp, count);
 *     return { key: r.key, value: count };
 *   });
 * };
 * ```
 */
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
