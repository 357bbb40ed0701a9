import type { TopologyBuilder } from "../builder.js";
import { TopologyError } from "../errors.js";
import type { Serde } from "../serdes.js";
import { KStream } from "./kstream.js";
import { KGroupedTable } from "./grouped.js";
import {
  changesToValues,
  joinGetter,
  storeGetter,
  tableTableJoin,
  tableTransform,
  transformGetter,
  type JoinKind,
  type ValueGetter,
} from "./processors.js";

export interface TableMeta<K, V> {
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  /** How a join or a lookup reads the table's current row. */
  readonly getter: ValueGetter<K, V>;
  /** The store that materializes the table, if it has one. */
  readonly store?: string;
  /** Whether the table's changes carry old values (see OldValues); absent: always (they come from a store). */
  readonly oldValues?: OldValues;
}

/**
 * Whether a table computed from other tables (a filter, mapValues or join without a store) computes the old value
 * of each change: only once something downstream needs it (a re-grouping, a left or outer join), as Kafka Streams'
 * `enableSendingOldValues`, so user functions run no more often than needed. Turning it on turns it on upstream.
 */
export interface OldValues {
  on: boolean;
  readonly upstream: readonly OldValues[];
}

function enableOldValues(flags: OldValues | undefined): void {
  if (!flags || flags.on) return;
  flags.on = true;
  flags.upstream.forEach(enableOldValues);
}

const upstreamOf = (...tables: Array<KTable<unknown, unknown>>): OldValues[] =>
  tables.map((t) => t.meta.oldValues).filter((f): f is OldValues => f !== undefined);

/**
 * Options of a table method that may materialize its result in a store of its own (Kafka Streams' `Materialized`).
 * Without `store`, the result is computed from its input tables when it is read.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .table("customers", { key: Serdes.string(), value: Serdes.json<{ tier: string; email: string }>() })
 *   .filter("gold-customers", (c) => c.tier === "gold", { store: "gold-customers", ttlMs: 30 * 24 * 3_600_000 });
 * ```
 */
export interface MaterializeOptions<V> {
  /** Materialize the result in this key-value store (queryable with `weir state`, joinable without recomputing). */
  store?: string;
  /** The serde of the result's values (needed with `store` when it is not the input's). */
  value?: Serde<V>;
  /** Entries of the store expire this long after their last update, in stream time (see Stores.keyValue). */
  ttlMs?: number;
}

/**
 * A changelog stream seen as a table: the latest value per key (Kafka Streams' KTable). Updates flow downstream as
 * changes (new value, old value), so aggregations over a table can subtract what a row contributed before. Made by
 * {@link TopologyBuilder.table}, {@link KStream.toTable} and aggregations.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * const customers = app.table("customers", { key: Serdes.string(), value: Serdes.json<{ country: string }>() });
 * customers
 *   .groupBy("by-country", (id, c) => ({ key: c.country, value: id }), {
 *     key: Serdes.string(),
 *     value: Serdes.string(),
 *   })
 *   .count("customers-per-country")
 *   .toStream("country-counts")
 *   .to("customers-per-country", { key: Serdes.string(), value: Serdes.json<number | null>() });
 * ```
 */
export class KTable<K, V> {
  /** @internal made by TopologyBuilder and the DSL methods */
  constructor(
    private readonly builder: TopologyBuilder,
    /** The node whose output (Change records) this table is. */
    readonly node: string,
    /** @internal what the DSL knows about the table (serdes, how to read it, its store) */
    readonly meta: TableMeta<K, V>,
  ) {}

  /** @internal */
  get getter(): ValueGetter<K, V> {
    return this.meta.getter;
  }

  /**
   * The table's updates as a stream of new values; a deleted row is a record with a null value (KTable.toStream).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ customer: string }>() })
   *   .groupBy("by-customer", (r) => r.value.customer, {
   *     key: Serdes.string(),
   *     value: Serdes.json<{ customer: string }>(),
   *   })
   *   .count("orders-per-customer")
   *   .toStream("order-count-updates")
   *   .to("orders-per-customer", { key: Serdes.string(), value: Serdes.json<number | null>() });
   * ```
   */
  toStream(name: string): KStream<K, V | null> {
    this.#processor(name, changesToValues<K, V>(), []);
    return new KStream<K, V | null>(this.builder, name, this.meta.key ? { key: this.meta.key } : {});
  }

  /**
   * A table of `fn(value, key)` per row (KTable.mapValues).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const emails = app
   *   .table("customers", { key: Serdes.string(), value: Serdes.json<{ email: string }>() })
   *   .mapValues("customer-emails", (c) => c.email.toLowerCase(), {
   *     store: "customer-emails",
   *     value: Serdes.string(),
   *   });
   * ```
   */
  mapValues<VO>(
    name: string,
    fn: (value: V, key: K) => VO,
    options: MaterializeOptions<VO> = {},
  ): KTable<K, VO> {
    this.#function(name, fn);
    return this.#transform(name, fn, options, undefined);
  }

  /**
   * A table of the rows for which `predicate` holds; a row that stops matching is deleted downstream (KTable.filter).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const active = app
   *   .table("accounts", { key: Serdes.string(), value: Serdes.json<{ active: boolean }>() })
   *   .filter("active-accounts", (account) => account.active);
   * ```
   */
  filter(
    name: string,
    predicate: (value: V, key: K) => boolean,
    options: MaterializeOptions<V> = {},
  ): KTable<K, V> {
    this.#function(name, predicate);
    return this.#transform(name, (v, k) => (predicate(v, k) ? v : null), options, this.meta.value);
  }

  /** A table of the rows for which `predicate` does not hold (KTable.filterNot). */
  filterNot(
    name: string,
    predicate: (value: V, key: K) => boolean,
    options: MaterializeOptions<V> = {},
  ): KTable<K, V> {
    this.#function(name, predicate);
    return this.#transform(name, (v, k) => (predicate(v, k) ? null : v), options, this.meta.value);
  }

  /**
   * Re-group the rows under a new key (KTable.groupBy): `selector` maps a row to its group's key and the value it
   * contributes. The rows travel through `<app>-<name>-repartition`; the grouped table's `aggregate` gets an adder and
   * a subtractor, so a row that changes group leaves the old group's aggregate and enters the new one.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * type Account = { region: string; balance: number };
   * const app = new TopologyBuilder("bank");
   * app
   *   .table("accounts", { key: Serdes.string(), value: Serdes.json<Account>() })
   *   .groupBy("by-region", (_id, a) => ({ key: a.region, value: a.balance }), {
   *     key: Serdes.string(),
   *     value: Serdes.number(),
   *   })
   *   .reduce("balance-per-region", { adder: (sum, b) => sum + b, subtractor: (sum, b) => sum - b });
   * ```
   */
  groupBy<KG, VG>(
    name: string,
    selector: (key: K, value: V) => { key: KG; value: VG },
    serdes: { key: Serde<KG>; value: Serde<VG> },
  ): KGroupedTable<KG, VG> {
    this.#function(name, selector);
    if (!serdes?.key || !serdes?.value)
      throw new TopologyError(`groupBy '${name}' needs key and value serdes for its repartition topic`, {
        node: name,
      });
    // A row's old value is what its old group subtracts.
    enableOldValues(this.meta.oldValues);
    return KGroupedTable.create(this.builder, name, this.node, selector, serdes);
  }

  /**
   * Rows present in both tables, joined (KTable.join): either side's update re-computes the row. Both tables must be
   * co-partitioned.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const names = app.table("customer-names", { key: Serdes.string(), value: Serdes.string() });
   * const tiers = app.table("customer-tiers", { key: Serdes.string(), value: Serdes.string() });
   * const profiles = names.join("profiles", tiers, (name, tier) => ({ name, tier }), {
   *   store: "profiles",
   *   value: Serdes.json<{ name: string; tier: string }>(),
   * });
   * ```
   */
  join<VR, VO>(
    name: string,
    other: KTable<K, VR>,
    joiner: (left: V, right: VR) => VO,
    options: MaterializeOptions<VO> = {},
  ): KTable<K, VO> {
    return this.#join("inner", name, other, joiner as (l: V | null, r: VR | null) => VO, options);
  }

  /**
   * Every row of this table, joined with the other's row or null (KTable.leftJoin).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const names = app.table("customer-names", { key: Serdes.string(), value: Serdes.string() });
   * const tiers = app.table("customer-tiers", { key: Serdes.string(), value: Serdes.string() });
   * names.leftJoin("names-with-tier", tiers, (name, tier) => `${name} (${tier ?? "basic"})`);
   * ```
   */
  leftJoin<VR, VO>(
    name: string,
    other: KTable<K, VR>,
    joiner: (left: V, right: VR | null) => VO,
    options: MaterializeOptions<VO> = {},
  ): KTable<K, VO> {
    return this.#join("left", name, other, joiner as (l: V | null, r: VR | null) => VO, options);
  }

  /** Every row of either table, joined with the other's row or null (KTable.outerJoin). */
  outerJoin<VR, VO>(
    name: string,
    other: KTable<K, VR>,
    joiner: (left: V | null, right: VR | null) => VO,
    options: MaterializeOptions<VO> = {},
  ): KTable<K, VO> {
    return this.#join("outer", name, other, joiner, options);
  }

  #join<VR, VO>(
    kind: JoinKind,
    name: string,
    other: KTable<K, VR>,
    joiner: (left: V | null, right: VR | null) => VO,
    options: MaterializeOptions<VO>,
  ): KTable<K, VO> {
    this.#function(name, joiner);
    if (!(other instanceof KTable))
      throw new TopologyError(`table join '${name}' needs a KTable to join with`, { node: name });
    const stores = [...new Set([...this.getter.stores, ...other.getter.stores])];
    // A left (outer) join must see the old value of a deleted left (either) row to delete the joined row.
    if (kind !== "inner") enableOldValues(this.meta.oldValues);
    if (kind === "outer") enableOldValues(other.meta.oldValues);
    const oldValues: OldValues = {
      on: false,
      upstream: upstreamOf(this as KTable<unknown, unknown>, other as KTable<unknown, unknown>),
    };
    for (const [side, table, thisIsLeft, opposite] of [
      ["left", this as KTable<K, unknown>, true, other as KTable<K, unknown>],
      ["right", other as KTable<K, unknown>, false, this as KTable<K, unknown>],
    ] as const)
      this.builder.add({
        type: "processor",
        name: `${name}-${side}`,
        parents: [table.node],
        factory: tableTableJoin(kind, thisIsLeft, opposite.getter, joiner, () => oldValues.on) as never,
        stores,
      });
    this.builder.add({ type: "merge", name: `${name}-merge`, parents: [`${name}-left`, `${name}-right`] });
    const getter = joinGetter(kind, this.getter, other.getter, joiner);
    return this.#materialized(name, `${name}-merge`, getter, options, options.value, oldValues);
  }

  #transform<VO>(
    name: string,
    fn: (value: V, key: K) => VO | null,
    options: MaterializeOptions<VO>,
    sameSerde: Serde<VO> | undefined,
  ): KTable<K, VO> {
    if (options.store === undefined) {
      const oldValues: OldValues = { on: false, upstream: upstreamOf(this as KTable<unknown, unknown>) };
      this.#processor(
        name,
        tableTransform(fn, undefined, () => oldValues.on),
        [],
      );
      return new KTable<K, VO>(this.builder, name, {
        ...(this.meta.key ? { key: this.meta.key } : {}),
        ...((options.value ?? sameSerde) ? { value: options.value ?? sameSerde } : {}),
        getter: transformGetter(this.getter, fn),
        oldValues,
      });
    }
    const value = this.#storeSerdes(name, options.value ?? sameSerde);
    this.builder.dslStore(options.store, value.key, value.value, options.ttlMs, name);
    this.#processor(
      name,
      tableTransform(fn, options.store, () => true),
      [options.store],
    );
    return new KTable<K, VO>(this.builder, name, {
      ...value,
      getter: storeGetter(options.store),
      store: options.store,
    });
  }

  /** A join result, materialized by a node of its own when `options.store` is given. */
  #materialized<VO>(
    name: string,
    parent: string,
    getter: ValueGetter<K, VO>,
    options: MaterializeOptions<VO>,
    valueSerde: Serde<VO> | undefined,
    oldValues: OldValues,
  ): KTable<K, VO> {
    if (options.store === undefined)
      return new KTable<K, VO>(this.builder, parent, {
        ...(this.meta.key ? { key: this.meta.key } : {}),
        ...(valueSerde ? { value: valueSerde } : {}),
        getter,
        oldValues,
      });
    const serdes = this.#storeSerdes(name, valueSerde);
    this.builder.dslStore(options.store, serdes.key, serdes.value, options.ttlMs, name);
    this.builder.add({
      type: "processor",
      name,
      parents: [parent],
      factory: tableTransform(
        (v: VO) => v,
        options.store,
        () => true,
      ) as never,
      stores: [options.store],
    });
    return new KTable<K, VO>(this.builder, name, {
      ...serdes,
      getter: storeGetter(options.store),
      store: options.store,
    });
  }

  #storeSerdes<VO>(name: string, value: Serde<VO> | undefined): { key: Serde<K>; value: Serde<VO> } {
    if (!this.meta.key || !value)
      throw new TopologyError(
        `'${name}' materializes a store, which needs key and value serdes; pass { value }`,
        {
          node: name,
        },
      );
    return { key: this.meta.key, value };
  }

  #processor(name: string, factory: unknown, stores: string[]): void {
    this.builder.add({
      type: "processor",
      name,
      parents: [this.node],
      factory: factory as never,
      stores,
    });
  }

  #function(name: string, fn: unknown): void {
    if (typeof fn !== "function")
      throw new TopologyError(`'${name}' needs a function, got ${typeof fn}`, { node: name });
  }
}

/**
 * A table every worker holds in full (Kafka Streams' GlobalKTable): all partitions of its topic, read without a
 * consumer group, restored before the worker is ready and tailed while it runs. Streams join it through a key
 * selector, without co-partitioning. Read-only for processors. Made by {@link TopologyBuilder.globalTable}.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * const rates = app.globalTable("fx-rates", { key: Serdes.string(), value: Serdes.number(), store: "fx-rates" });
 * app
 *   .stream("payments", { key: Serdes.string(), value: Serdes.json<{ currency: string; amount: number }>() })
 *   .leftJoin("in-eur", rates, (r) => r.value.currency, (p, rate) => ({ eur: p.amount * (rate ?? 1) }));
 * ```
 */
export class GlobalKTable<K, V> {
  /** @internal made by TopologyBuilder.globalTable */
  constructor(
    /** The topic every worker reads in full. */
    readonly topic: string,
    /** The store it is materialized in. */
    readonly store: string,
    /** @internal the table's serdes */
    readonly meta: { key: Serde<K>; value: Serde<V> },
  ) {}

  /** @internal */
  get getter(): ValueGetter<K, V> {
    return storeGetter(this.store);
  }
}
