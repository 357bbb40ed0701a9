/**
 * The processors the DSL compiles to. Each is an ordinary ProcessorFactory over the stores it names, so a DSL node
 * runs, commits, changelogs and restores exactly as a hand-written processor does. Semantics follow Kafka Streams'
 * (kstream/internals/KStreamAggregate, KTableSource, KTableAggregate, KTable*Join ...); where weir differs the
 * method's doc comment says so.
 */
import { mergeMap, type OperatorFunction } from "rxjs";
import type { ProcessorContext, ProcessorFactory } from "../builder.js";
import type { Emit, StreamRecord } from "../record.js";
import type { Change } from "./change.js";

/** Reads the current value of a table row: from its store, or computed through the nodes above it. */
export interface ValueGetter<K, V> {
  /** The stores a processor must declare to use the getter. */
  readonly stores: readonly string[];
  make(context: ProcessorContext): (key: K) => V | null;
}

export function storeGetter<K, V>(store: string): ValueGetter<K, V> {
  return {
    stores: [store],
    make: (ctx) => {
      const s = ctx.keyValueStore<K, V>(store);
      return (key) => (key === null || key === undefined ? null : (s.get(key) ?? null));
    },
  };
}

/**
 * Zero or more outputs per input, synchronously, each with the input's timestamp and headers unless it sets its
 * own (an update forwarded from a punctuation keeps the time it was given, not that of the record being processed).
 */
export function emitting<KI, VI, KO, VO>(
  fn: (record: StreamRecord<KI, VI>) => Array<Emit<KO, VO>>,
): OperatorFunction<StreamRecord<KI, VI>, Emit<KO, VO>> {
  return mergeMap((r) => fn(r).map((e) => ({ timestamp: r.timestamp, headers: r.headers, ...e })));
}

const isNull = (x: unknown): x is null | undefined => x === null || x === undefined;

/**
 * Stream aggregation (KStreamAggregate / KStreamReduce): records with a null key or value are skipped and counted as
 * dropped; otherwise the key's aggregate is updated, written and forwarded as a change (new, old). `first` makes
 * the aggregate of a key that has none; a null result deletes the key (its next record starts afresh).
 */
export function streamAggregate<K, V, VA>(
  store: string,
  first: (key: K, value: V) => VA | null,
  update: (key: K, value: V, aggregate: VA) => VA | null,
): ProcessorFactory<K, V, K, Change<VA>> {
  return (ctx) => {
    const s = ctx.keyValueStore<K, VA>(store);
    return emitting((r) => {
      if (isNull(r.key) || isNull(r.value)) {
        ctx.dropped(isNull(r.key) ? "null-key" : "null-value");
        return [];
      }
      const old = s.get(r.key) ?? null;
      const next = old === null ? first(r.key, r.value) : update(r.key, r.value, old);
      if (next === null) {
        if (old === null) return [];
        s.delete(r.key);
      } else s.put(r.key, next);
      return [{ key: r.key, value: { newValue: next, oldValue: old } }];
    });
  };
}

/**
 * A table materialized from records (KTableSource, KStream.toTable): a value replaces the row, a null value
 * (tombstone) deletes it; a record with a null key is skipped. Forwards the change, except a tombstone for a row that
 * does not exist, which changes nothing.
 */
export function tableSource<K, V>(store: string): ProcessorFactory<K, V | null, K, Change<V>> {
  return (ctx) => {
    const s = ctx.keyValueStore<K, V>(store);
    return emitting((r): Array<Emit<K, Change<V>>> => {
      if (isNull(r.key)) {
        ctx.dropped("null-key");
        return [];
      }
      const old = s.get(r.key) ?? null;
      if (isNull(r.value)) {
        if (old === null) return [];
        s.delete(r.key);
        return [{ key: r.key, value: { newValue: null, oldValue: old } }];
      }
      s.put(r.key, r.value);
      return [{ key: r.key, value: { newValue: r.value, oldValue: old } }];
    });
  };
}

/**
 * A change rewritten value by value (KTableMapValues, KTableFilter): `fn` maps a present value to a value or null
 * (filtered out). The old value is computed only when something downstream needs it (`sendOld`: a re-grouping, a
 * left or outer join), so `fn` runs once per update otherwise, as in Kafka Streams; then the change goes on as
 * (new, null) — a filtered-out update becomes a tombstone downstream. With old values, or with a store (the result
 * materialized, its old value read from there), a change null on both sides changes nothing and is not forwarded.
 */
export function tableTransform<K, V, VO>(
  fn: (value: V, key: K) => VO | null,
  store: string | undefined,
  sendOld: () => boolean,
): ProcessorFactory<K, Change<V>, K, Change<VO>> {
  return (ctx) => {
    const s = store === undefined ? undefined : ctx.keyValueStore<K, VO>(store);
    const withOld = s !== undefined || sendOld();
    return emitting((r) => {
      const newValue = r.value.newValue === null ? null : fn(r.value.newValue, r.key);
      const oldValue = s
        ? (s.get(r.key) ?? null)
        : withOld && r.value.oldValue !== null
          ? fn(r.value.oldValue, r.key)
          : null;
      if (withOld && newValue === null && oldValue === null) return [];
      if (s) {
        if (newValue === null) s.delete(r.key);
        else s.put(r.key, newValue);
      }
      return [{ key: r.key, value: { newValue, oldValue } }];
    });
  };
}

/** Table → stream (KTable.toStream): each change becomes a record of its new value (null for a deletion). */
export function changesToValues<K, V>(): ProcessorFactory<K, Change<V>, K, V | null> {
  return () => emitting((r) => [{ key: r.key, value: r.value.newValue }]);
}

/**
 * The re-keying half of KTable.groupBy (KTableRepartitionMap): a change (new, old) of a row becomes a subtraction
 * of the old value at the old group and an addition of the new value at the new group. When both land in the same
 * group they travel as one record, so the aggregate is updated once (Kafka Streams' KIP-904). Subtraction first, so
 * a row moving between groups never counts twice downstream.
 */
export function regroup<K, V, KG, VG>(
  selector: (key: K, value: V) => { key: KG; value: VG },
): ProcessorFactory<K, Change<V>, KG, Change<VG>> {
  return () =>
    emitting((r) => {
      const before = usable(r.value.oldValue === null ? null : selector(r.key, r.value.oldValue));
      const after = usable(r.value.newValue === null ? null : selector(r.key, r.value.newValue));
      const out: Array<Emit<KG, Change<VG>>> = [];
      if (before !== null && after !== null && sameKey(before.key, after.key))
        return [{ key: after.key, value: { newValue: after.value, oldValue: before.value } }];
      if (before !== null) out.push({ key: before.key, value: { newValue: null, oldValue: before.value } });
      if (after !== null) out.push({ key: after.key, value: { newValue: after.value, oldValue: null } });
      return out;
    });
}

/** A group assignment with a null key or value contributes nothing (skipped, as KTableRepartitionMap does). */
function usable<KG, VG>(pair: { key: KG; value: VG } | null): { key: KG; value: VG } | null {
  return pair === null || isNull(pair.key) || isNull(pair.value) ? null : pair;
}

function sameKey(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The aggregating half of KTable.groupBy (KTableAggregate / KTableReduce): the old value is subtracted from the
 * group's aggregate (when it has one), then the new value added (`add` gets null for a group without an aggregate),
 * and the result written and forwarded. A null result deletes the group's row.
 */
export function tableAggregate<K, V, VA>(
  store: string,
  add: (key: K, value: V, aggregate: VA | null) => VA | null,
  subtract: (key: K, value: V, aggregate: VA) => VA | null,
): ProcessorFactory<K, Change<V>, K, Change<VA>> {
  return (ctx) => {
    const s = ctx.keyValueStore<K, VA>(store);
    return emitting((r) => {
      if (isNull(r.key)) {
        ctx.dropped("null-key");
        return [];
      }
      const old: VA | null = s.get(r.key) ?? null;
      let aggregate: VA | null = old;
      if (r.value.oldValue !== null && aggregate !== null)
        aggregate = subtract(r.key, r.value.oldValue, aggregate);
      if (r.value.newValue !== null) aggregate = add(r.key, r.value.newValue, aggregate);
      if (aggregate === null) {
        if (old === null) return [];
        s.delete(r.key);
      } else s.put(r.key, aggregate);
      return [{ key: r.key, value: { newValue: aggregate, oldValue: old } }];
    });
  };
}

export type JoinKind = "inner" | "left" | "outer";

/**
 * A stream–table join (KStreamKTableJoin): each stream record looks up the table's current row for its key; the
 * table side never triggers output. Inner: no row, no output. Left: the joiner sees null. A record with a null value
 * is skipped (both kinds), and so is one with a null key (a null lookup key, for a global table) on an inner join; a
 * left join passes it to the joiner with no row (Kafka Streams 3.7+, KAFKA-12317; 4.1+ for global tables).
 */
export function streamTableJoin<K, V, KT, VT, VO>(
  kind: "inner" | "left",
  table: ValueGetter<KT, VT>,
  lookupKey: (record: StreamRecord<K, V>) => KT | null,
  global: boolean,
  joiner: (value: V, row: VT | null, record: StreamRecord<K, V>) => VO,
): ProcessorFactory<K, V, K, VO> {
  return (ctx) => {
    const get = table.make(ctx);
    return emitting((r) => {
      if (isNull(r.value)) {
        ctx.dropped("null-value");
        return [];
      }
      const key = isNull(r.key) && !global ? null : lookupKey(r);
      if (isNull(key) && kind === "inner") {
        ctx.dropped("null-key");
        return [];
      }
      const row = isNull(key) ? null : get(key);
      if (row === null && kind === "inner") return [];
      return [{ key: r.key, value: joiner(r.value, row, r) }];
    });
  };
}

/**
 * One side of a table–table join, as Kafka Streams' KTableKTableInnerJoin / LeftJoin / RightJoin / OuterJoin: a
 * change (new, old) on this side is joined with the other side's current row `o`.
 *
 * - inner: nothing when `o` is null; else new = J(new, o) when new is present, else null (a tombstone).
 * - left join, left side: nothing when `o`, new and old are all null; new = J(new, o) when new is present.
 * - left join, right side: nothing when the left row is null; new = J(left, new) even when new is null.
 * - outer: nothing when `o`, new and old are all null; new = J(new, o) when either is present.
 *
 * The old value is joined the same way, only when something downstream needs it (`sendOld`); the joiner is called
 * for nothing else.
 */
export function tableTableJoin<K, VL, VR, VO>(
  kind: JoinKind,
  thisIsLeft: boolean,
  other: ValueGetter<K, unknown>,
  joiner: (left: VL | null, right: VR | null) => VO,
  sendOld: () => boolean,
): ProcessorFactory<K, Change<unknown>, K, Change<VO>> {
  return (ctx) => {
    const get = other.make(ctx);
    const withOld = sendOld();
    const J = (mine: unknown, theirs: unknown): VO =>
      thisIsLeft
        ? joiner(mine as VL | null, theirs as VR | null)
        : joiner(theirs as VL | null, mine as VR | null);
    /** The joined value for one side of the change, or null (no row). */
    const side: (mine: unknown, theirs: unknown) => VO | null =
      kind === "inner"
        ? (mine, theirs) => (mine === null ? null : J(mine, theirs))
        : kind === "outer"
          ? (mine, theirs) => (mine === null && theirs === null ? null : J(mine, theirs))
          : thisIsLeft
            ? (mine, theirs) => (mine === null ? null : J(mine, theirs))
            : (mine, theirs) => J(mine, theirs);
    return emitting((r) => {
      if (isNull(r.key)) {
        ctx.dropped("null-key");
        return [];
      }
      const theirs = get(r.key);
      const { newValue: n, oldValue: o } = r.value;
      const skip =
        kind === "inner" || (kind === "left" && !thisIsLeft)
          ? theirs === null
          : theirs === null && n === null && o === null;
      if (skip) return [];
      return [
        { key: r.key, value: { newValue: side(n, theirs), oldValue: withOld ? side(o, theirs) : null } },
      ];
    });
  };
}

/** The current joined row of a table–table join, computed from both sides' getters (no store of its own). */
export function joinGetter<K, VL, VR, VO>(
  kind: JoinKind,
  left: ValueGetter<K, VL>,
  right: ValueGetter<K, VR>,
  joiner: (left: VL | null, right: VR | null) => VO,
): ValueGetter<K, VO> {
  return {
    stores: [...new Set([...left.stores, ...right.stores])],
    make: (ctx) => {
      const l = left.make(ctx);
      const r = right.make(ctx);
      return (key) => {
        const lv = l(key);
        const rv = r(key);
        if (lv === null && rv === null) return null;
        if (kind !== "outer" && lv === null) return null;
        if (kind === "inner" && rv === null) return null;
        return joiner(lv, rv);
      };
    },
  };
}

/** A getter through a value transformation (KTableMapValues / KTableFilter without a store of their own). */
export function transformGetter<K, V, VO>(
  parent: ValueGetter<K, V>,
  fn: (value: V, key: K) => VO | null,
): ValueGetter<K, VO> {
  return {
    stores: parent.stores,
    make: (ctx) => {
      const get = parent.make(ctx);
      return (key) => {
        const v = get(key);
        return v === null ? null : fn(v, key);
      };
    },
  };
}
