/**
 * Windowed stream–stream joins (Kafka Streams' KStream.join/leftJoin/outerJoin with JoinWindows): two records of
 * the same key join when their times are at most `before` / `after` apart. Each side's records wait in a window
 * store of their own; either side may arrive first. A record whose own window has closed (its time + after, or +
 * before for a right record, + grace is behind stream time) is dropped and counted. A left (outer) join emits a
 * record that found no partner with null on the other side only once no partner can come any more — stream time
 * past its time + before + after + grace — never early (Kafka Streams since 3.1 does not emit early either; weir
 * waits the whole window, both sides, so that no partner accepted later meets a record already emitted alone).
 *
 * weir adds one mode Kafka Streams does not have, `JoinWindows.closeOnPartnerTime(retentionMs)`: windows close on
 * the partner stream's own time instead of the task's stream time, so that what a record joins with does not depend
 * on how the two inputs interleave (see there).
 */
import { merge, mergeMap } from "rxjs";
import type { ProcessorFactory } from "../builder.js";
import { DeserializationError, TopologyError } from "../errors.js";
import type { Emit, StreamRecord } from "../record.js";
import type { Serde } from "../serdes.js";
import { emitting } from "./processors.js";
import { requireMs } from "./checks.js";

/**
 * How far apart in time two records of a key may be to join (Kafka Streams' JoinWindows), for
 * {@link KStream.join}, {@link KStream.leftJoin} and {@link KStream.outerJoin} of two streams.
 *
 * @example
 * ```ts
 * import { JoinWindows } from "weir";
 *
 * const within5m = JoinWindows.ofTimeDifferenceAndGrace(5 * 60_000, 30_000);
 * const paymentAfterOrder = JoinWindows.ofTimeDifferenceWithNoGrace(10 * 60_000).before(0); // right side only later
 * const deterministic = within5m.closeOnPartnerTime(24 * 3_600_000);
 * ```
 */
export class JoinWindows {
  private constructor(
    /** How much earlier than a left record a right record may be. */
    readonly beforeMs: number,
    /** How much later than a left record a right record may be. */
    readonly afterMs: number,
    /** How long after a window's end (in stream time) records may still join, ms. */
    readonly graceMs: number,
    /** Set by closeOnPartnerTime: windows close on the partner side's own time; buffers kept this long. */
    readonly partnerTime?: {
      /** How long each side's records are buffered, ms of their own side's time. */
      readonly retentionMs: number;
    },
  ) {}

  /** Records at most `differenceMs` apart join; no grace. */
  static ofTimeDifferenceWithNoGrace(differenceMs: number): JoinWindows {
    return JoinWindows.ofTimeDifferenceAndGrace(differenceMs, 0);
  }

  /** Records at most `differenceMs` apart join; records up to `graceMs` late (in stream time) still do. */
  static ofTimeDifferenceAndGrace(differenceMs: number, graceMs: number): JoinWindows {
    requireMs(differenceMs, "join window time difference", { zero: true });
    requireMs(graceMs, "join window grace", { zero: true });
    return new JoinWindows(differenceMs, differenceMs, graceMs);
  }

  /** Right records up to `ms` before a left record join it. */
  before(ms: number): JoinWindows {
    requireMs(ms, "join window before", { zero: true });
    return new JoinWindows(ms, this.afterMs, this.graceMs, this.partnerTime);
  }

  /** Right records up to `ms` after a left record join it. */
  after(ms: number): JoinWindows {
    requireMs(ms, "join window after", { zero: true });
    return new JoinWindows(this.beforeMs, ms, this.graceMs, this.partnerTime);
  }

  /**
   * weir's own mode: each side keeps its own time (the largest timestamp of its records processed so far, kept in a
   * store) and a record's window closes on its **partner side's** time, not on the task's stream time (the largest
   * of both). With Kafka Streams' rule, an input that is read far ahead of the other (a topic written by an upstream
   * stage that lags, a backlog on one side) moves stream time past windows whose partners are simply not read yet:
   * they close early, and the result depends on how the inputs interleaved. Here:
   *  - a record whose window the partner side's time has passed (its time + the partner window's far end + grace)
   *    still joins every buffered partner in its window, and without one is joined with null at once (left and
   *    outer joins) — it is not dropped as late;
   *  - an unmatched record is joined with null when its partner side's time passes its window's end + grace (not
   *    before + after + grace: the partner side is in time order up to grace, so nothing in the window can follow);
   *  - each side's records are buffered for `retentionMs` of their own side's time (at least before + after +
   *    grace), long enough for the other side to catch up; a record more than grace behind its own side's time is
   *    dropped and counted (`expired-window`): each input must be in time order up to grace.
   * Given that, a record's result depends only on the two inputs' contents, not on their interleaving. The cost: a
   * side that stops receiving records holds the other side's unmatched records back (nothing closes them), and the
   * buffers hold `retentionMs` of records.
   */
  closeOnPartnerTime(retentionMs: number): JoinWindows {
    requireMs(retentionMs, "join retention");
    const window = this.beforeMs + this.afterMs + this.graceMs;
    if (retentionMs < window)
      throw new TopologyError(
        `join retention ${retentionMs} must be at least before + after + grace (${window} ms)`,
      );
    return new JoinWindows(this.beforeMs, this.afterMs, this.graceMs, { retentionMs });
  }
}

export type StreamJoinKind = "inner" | "left" | "outer";

/** Several values under one (key, time): the records of a side that share a key and a timestamp. */
export function listSerde<V>(inner: Serde<V>): Serde<V[]> {
  return {
    name: `list(${inner.name})`,
    nullable: false,
    serialize: (values) => {
      const parts = values.map((v) => inner.serialize(v));
      const out = Buffer.allocUnsafe(4 + parts.reduce((n, p) => n + 4 + p.length, 0));
      let at = out.writeUInt32BE(parts.length, 0);
      for (const p of parts) {
        at = out.writeUInt32BE(p.length, at);
        at += p.copy(out, at);
      }
      return out;
    },
    deserialize: (bytes) => {
      if (bytes.length < 4) throw new DeserializationError("not a list");
      const n = bytes.readUInt32BE(0);
      const values: V[] = [];
      let at = 4;
      for (let i = 0; i < n; i++) {
        const length = bytes.readUInt32BE(at);
        values.push(inner.deserialize(bytes.subarray(at + 4, at + 4 + length)));
        at += 4 + length;
      }
      return values;
    },
  };
}

export interface StreamJoinStores {
  /** Each side's buffered records: (key, time) → values. */
  left: string;
  right: string;
  /** Records that found no partner yet, per side, until their window closes. */
  leftUnmatched: string;
  rightUnmatched: string;
  /** closeOnPartnerTime: key-value store of each side's time ("left", "right"). */
  times?: string;
}

/**
 * One side of a stream–stream join. `thisIsLeft`: the joiner's first argument. A record is buffered, joined with
 * every buffered record of the other side in its window, and, for the sides a left or outer join completes,
 * remembered as unmatched until a partner arrives or its window closes.
 */
export function streamStreamJoin<K>(
  kind: StreamJoinKind,
  thisIsLeft: boolean,
  windows: JoinWindows,
  stores: StreamJoinStores,
  joiner: (left: unknown, right: unknown, record: StreamRecord) => unknown,
): ProcessorFactory<K, unknown, K, unknown> {
  // For a left record at t, right records in [t − before, t + after] join; for a right one, the mirror image.
  const earlier = thisIsLeft ? windows.beforeMs : windows.afterMs;
  const later = thisIsLeft ? windows.afterMs : windows.beforeMs;
  const emitsThisUnmatched = kind === "outer" || (kind === "left" && thisIsLeft);
  const otherEmitsUnmatched = kind === "outer" || (kind === "left" && !thisIsLeft);
  return (ctx) => {
    const mine = ctx.windowStore<K, unknown[]>(thisIsLeft ? stores.left : stores.right);
    const theirs = ctx.windowStore<K, unknown[]>(thisIsLeft ? stores.right : stores.left);
    // Records that found no partner yet, per side: joined with null when their window closes on the sides a left or
    // outer join completes, else counted as dropped (`no-partner`, the partner that never came).
    const myUnmatched = ctx.windowStore<K, unknown[]>(
      thisIsLeft ? stores.leftUnmatched : stores.rightUnmatched,
    );
    const theirUnmatched = ctx.windowStore<K, unknown[]>(
      thisIsLeft ? stores.rightUnmatched : stores.leftUnmatched,
    );
    const J = (mineValue: unknown, theirValue: unknown, r: StreamRecord) =>
      thisIsLeft ? joiner(mineValue, theirValue, r) : joiner(theirValue, mineValue, r);
    /** No unmatched record of this side is older than this (unknown after a restart: the first check scans). */
    let earliestUnmatched = -Infinity;
    const append = (store: typeof mine, key: K, t: number, value: unknown) =>
      store.put(key, [...(store.get(key, t) ?? []), value], t);
    /**
     * A record that never found a partner, once its window closed: joined with null (as the joiner sees it then) on
     * a side the join completes, else counted. `current`: it is the record being processed (then dead-lettered too
     * under `droppedRecords: "dead-letter"`), not a buffered one another record closed.
     */
    const closed = (key: K, value: unknown, timestamp: number, thisSide: boolean, current: boolean) => {
      if (thisSide ? emitsThisUnmatched : otherEmitsUnmatched)
        return [alone(key, value, timestamp, thisSide)];
      ctx.dropped("no-partner", current ? {} : { deadLetter: false });
      return [];
    };
    const alone = (key: K, value: unknown, timestamp: number, thisSide: boolean): Emit<K, unknown> => {
      const r: StreamRecord = {
        key,
        value,
        timestamp,
        headers: {},
        topic: "",
        partition: ctx.partition,
        offset: -1,
      };
      return { key, value: thisSide ? J(value, null, r) : J(null, value, r), timestamp };
    };

    // closeOnPartnerTime: each side's own time, and the partner side's unmatched records this side's time closes.
    const partner = windows.partnerTime;
    const times = partner ? ctx.keyValueStore<string, number>(stores.times!) : undefined;
    const timeOf = (left: boolean) => times!.get(left ? "left" : "right") ?? -Infinity;
    /**
     * The unmatched records of a side older than `lastOpen`, deleted and closed, in one scan of its store, which also
     * finds the oldest record that stays: the next scan is due only once that one can close (a scan per advance of
     * time would read the whole store for every record).
     */
    const closeOlder = (store: typeof mine, lastOpen: number, thisSide: boolean) => {
      const out: Array<Emit<K, unknown>> = [];
      let oldest = Number.MAX_SAFE_INTEGER;
      for (const e of [...store.fetchAll(0, Number.MAX_SAFE_INTEGER)]) {
        if (e.timestamp >= lastOpen) {
          oldest = Math.min(oldest, e.timestamp);
          continue;
        }
        store.delete(e.key, e.timestamp);
        for (const value of e.value) out.push(...closed(e.key, value, e.timestamp, thisSide, false));
      }
      return { out, oldest };
    };
    /**
     * On partner time: no unmatched record of a side is older than `<side>-unmatched-from` in the times store (the
     * closing side sets it after a scan, the appending side lowers it; unset after a restart: the first check scans).
     */
    const unmatchedFrom = (left: boolean) => `${left ? "left" : "right"}-unmatched-from`;
    /** The partner side's unmatched records whose window this side's time `now` has closed: joined with null. */
    const closeTheirs = (now: number): Array<Emit<K, unknown>> => {
      // A partner record at u waits for this side's records up to u + earlier (its `later`), + grace.
      const lastOpen = now - earlier - windows.graceMs;
      if (lastOpen <= 0 || lastOpen <= (times!.get(unmatchedFrom(!thisIsLeft)) ?? -Infinity)) return [];
      const { out, oldest } = closeOlder(theirUnmatched, lastOpen, false);
      times!.put(unmatchedFrom(!thisIsLeft), oldest);
      return out;
    };

    const records = emitting<K, unknown, K, unknown>((r) => {
      if (r.value === null || r.value === undefined) {
        ctx.dropped("null-value");
        return [];
      }
      if (r.key === null || r.key === undefined) {
        // No key, no partner: a left (outer) join passes it on with null at once (Kafka Streams 3.7+, KIP-962).
        if (emitsThisUnmatched) return [{ key: r.key, value: J(r.value, null, r) }];
        ctx.dropped("null-key");
        return [];
      }
      const t = r.timestamp;
      const own = partner ? timeOf(thisIsLeft) : undefined;
      if (own !== undefined ? t + windows.graceMs < own : t + later + windows.graceMs < ctx.streamTime()) {
        ctx.dropped("expired-window");
        return [];
      }
      if (own !== undefined && t > own) times!.put(thisIsLeft ? "left" : "right", t);
      append(mine, r.key, t, r.value);
      const out: Array<Emit<K, unknown>> = [];
      for (const match of theirs.fetch(r.key, t - earlier, t + later)) {
        for (const value of match.value)
          out.push({ key: r.key, value: J(r.value, value, r), timestamp: Math.max(t, match.timestamp) });
        // The other side's records here have a partner now: not emitted with null when their window closes.
        theirUnmatched.delete(r.key, match.timestamp);
      }
      if (out.length === 0) {
        // On partner time, a window the partner side has already passed gets no partner any more: closed now.
        if (partner && t + later + windows.graceMs < timeOf(!thisIsLeft))
          out.push(...closed(r.key, r.value, t, true, true));
        else {
          append(myUnmatched, r.key, t, r.value);
          if (t < earliestUnmatched) earliestUnmatched = t;
          const from = partner ? times!.get(unmatchedFrom(thisIsLeft)) : undefined;
          if (from !== undefined && t < from) times!.put(unmatchedFrom(thisIsLeft), t);
        }
      }
      if (own !== undefined && t > own) out.push(...closeTheirs(t));
      return out;
    });
    // Buffered records past the window's retention are invisible; delete them (through the changelog) as stream
    // time (on partner time: this side's time) moves on, once per window length.
    const retention = partner?.retentionMs ?? windows.beforeMs + windows.afterMs + windows.graceMs + 1;
    const expiry = ctx.punctuate("stream-time", Math.max(1, windows.beforeMs + windows.afterMs)).pipe(
      mergeMap((now) => {
        const time = partner ? timeOf(thisIsLeft) : now;
        if (Number.isFinite(time)) mine.expire(time - retention);
        return [] as Array<Emit<K, unknown>>;
      }),
    );
    // On partner time, this side's unmatched records are closed by the partner side's records (closeTheirs).
    if (partner) return (source) => merge(records(source), expiry);
    // This side's records that never found a partner, once no partner can come: joined with null, or counted.
    const closes = ctx.punctuate("stream-time", 1).pipe(
      mergeMap((now) => {
        // A partner of a record at t lies in [t − earlier, t + later]; the latest one is accepted while
        // (t + later) + earlier + grace ≥ stream time. Past that, no partner can come.
        const lastOpen = now - later - earlier - windows.graceMs;
        if (lastOpen <= 0 || lastOpen <= earliestUnmatched) return [];
        const { out, oldest } = closeOlder(myUnmatched, lastOpen, true);
        earliestUnmatched = oldest;
        return out;
      }),
    );
    return (source) => merge(records(source), closes, expiry);
  };
}
