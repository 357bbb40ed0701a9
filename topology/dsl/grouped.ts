import type { ProcessorFactory, TopologyBuilder } from "../builder.js";
import { TopologyError } from "../errors.js";
import { repartitionTopic } from "../topology.js";
import { Serdes, type Serde } from "../serdes.js";
import { changeSerde, type Change } from "./change.js";
import type { KStream } from "./kstream.js";
import { KTable } from "./ktable.js";
import { regroup, storeGetter, streamAggregate, tableAggregate } from "./processors.js";
import { requireFunctions, requireValueSerde } from "./checks.js";
import { StreamAggregations } from "./stream-aggregations.js";
import { SessionWindowedKStream, SessionWindows, TimeWindowedKStream, TimeWindows } from "./windows.js";
import { SlidingWindowedKStream, SlidingWindows } from "./sliding.js";

/**
 * Where an aggregation keeps its result (Kafka Streams' `Materialized.as(store)`), and how long an idle group
 * lives.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("carts", { key: Serdes.string(), value: Serdes.json<{ sku: string }>() })
 *   .groupByKey("carts-by-user")
 *   .count("cart-size", { store: "cart-sizes", ttlMs: 24 * 3_600_000 });
 * ```
 */
export interface AggregateOptions {
  /** The key-value store (and changelog `<app>-<store>-changelog`). @default the aggregation's name */
  store?: string;
  /** Groups not updated for this long (stream time) are deleted, through the changelog (see Stores.keyValue). */
  ttlMs?: number;
}

/** An aggregation node over `parent`, materialized in its changelogged store, as a table. */
function aggregation<K, VA>(
  builder: TopologyBuilder,
  name: string,
  parent: string,
  serdes: { key: Serde<K> | undefined; value: Serde<VA> },
  options: AggregateOptions,
  factory: (store: string) => ProcessorFactory<never, never, K, Change<VA>>,
): KTable<K, VA> {
  const { key, value } = serdes;
  if (!key)
    throw new TopologyError(
      `'${name}' needs the key serde of its store; pass { key } to groupByKey or groupBy`,
      {
        node: name,
      },
    );
  const store = options.store ?? name;
  builder.dslStore(store, key, value, options.ttlMs, name);
  builder.add({
    type: "processor",
    name,
    parents: [parent],
    factory: factory(store) as never,
    stores: [store],
  });
  return new KTable<K, VA>(builder, name, { key, value, getter: storeGetter(store), store });
}

/**
 * A stream grouped by key (Kafka Streams' KGroupedStream), partitioned so that all records of a key meet in one
 * task. Each aggregation materializes its result in a changelogged key-value store and returns it as a table.
 * Records with a null key or value are skipped and counted (`weir_dropped_records_total`), as in Kafka Streams.
 * Made by {@link KStream.groupByKey} and {@link KStream.groupBy}.
 *
 * @example
 * ```ts
 * import { Serdes, TimeWindows, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("analytics");
 * const byPage = app
 *   .stream("clicks", { key: Serdes.string(), value: Serdes.json<{ page: string }>() })
 *   .groupBy("by-page", (r) => r.value.page, { key: Serdes.string(), value: Serdes.json<{ page: string }>() });
 * byPage.count("clicks-per-page");
 * byPage.windowedBy(TimeWindows.ofSizeWithNoGrace(60_000)).count("clicks-per-page-per-minute");
 * ```
 */
export class KGroupedStream<K, V> extends StreamAggregations<K, V, K, AggregateOptions> {
  /** @internal made by KStream.groupByKey and KStream.groupBy */
  constructor(
    private readonly builder: TopologyBuilder,
    /** The grouping's node name (and its repartition topic's, when it repartitions). */
    readonly name: string,
    stream: KStream<K, V>,
    private readonly key: Serde<K> | undefined,
  ) {
    super(stream);
  }

  /**
   * Cut each key's records into time windows (tumbling or hopping) before aggregating them
   * (KGroupedStream.windowedBy).
   *
   * @example
   * ```ts
   * import { Serdes, TimeWindows, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("analytics");
   * app
   *   .stream("page-views", { key: Serdes.string(), value: Serdes.json() })
   *   .groupByKey("views-by-user")
   *   .windowedBy(TimeWindows.ofSizeAndGrace(5 * 60_000, 30_000).advanceBy(60_000))
   *   .count("views-per-user-5m", { emit: "onWindowClose" });
   * ```
   */
  windowedBy(windows: TimeWindows): TimeWindowedKStream<K, V>;
  /** Cut each key's records into sessions separated by an inactivity gap before aggregating them. */
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  /** Cut each key's records into sliding windows: [t − d, t], bounds inclusive, defined by the records' times. */
  windowedBy(windows: SlidingWindows): SlidingWindowedKStream<K, V>;
  windowedBy(
    windows: TimeWindows | SessionWindows | SlidingWindows,
  ): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> | SlidingWindowedKStream<K, V> {
    if (windows instanceof TimeWindows)
      return new TimeWindowedKStream(this.builder, this.stream, this.key, windows);
    if (windows instanceof SessionWindows)
      return new SessionWindowedKStream(this.builder, this.stream, this.key, windows);
    if (windows instanceof SlidingWindows)
      return new SlidingWindowedKStream(this.builder, this.stream, this.key, windows);
    throw new TopologyError(`windowedBy '${this.name}' needs TimeWindows, SessionWindows or SlidingWindows`, {
      node: this.name,
    });
  }

  protected fold<VA>(
    name: string,
    value: Serde<VA>,
    first: (key: K, value: V) => VA | null,
    update: (key: K, value: V, aggregate: VA) => VA | null,
    options: AggregateOptions,
  ): KTable<K, VA> {
    return aggregation(this.builder, name, this.stream.node, { key: this.key, value }, options, (store) =>
      streamAggregate(store, first, update),
    );
  }
}

/**
 * A table re-grouped under new keys (Kafka Streams' KGroupedTable): each update of a row arrives as the value it
 * stops contributing (subtracted from its old group) and the value it now contributes (added to its new group).
 * Made by {@link KTable.groupBy}.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .table("customers", { key: Serdes.string(), value: Serdes.json<{ country: string }>() })
 *   .groupBy("by-country", (id, c) => ({ key: c.country, value: id }), {
 *     key: Serdes.string(),
 *     value: Serdes.string(),
 *   })
 *   .count("customers-per-country");
 * ```
 */
export class KGroupedTable<K, V> {
  private constructor(
    private readonly builder: TopologyBuilder,
    /** The grouping's node name (and its repartition topic's). */
    readonly name: string,
    /** The repartition source node: Change records keyed by group. */
    private readonly node: string,
    private readonly serdes: { key: Serde<K>; value: Serde<V> },
  ) {}

  /** @internal KTable.groupBy */
  static create<KI, VI, K, V>(
    builder: TopologyBuilder,
    name: string,
    parent: string,
    selector: (key: KI, value: VI) => { key: K; value: V },
    serdes: { key: Serde<K>; value: Serde<V> },
  ): KGroupedTable<K, V> {
    builder.add({
      type: "processor",
      name,
      parents: [parent],
      factory: regroup(selector) as never,
      stores: [],
    });
    const changes = changeSerde(serdes.value) as Serde<unknown>;
    builder.add({
      type: "sink",
      name: `${name}-repartition-sink`,
      parents: [name],
      topic: repartitionTopic(builder.appId, name),
      keySerde: serdes.key as Serde<unknown>,
      valueSerde: changes,
      internal: true,
      feedback: false,
    });
    const source = builder.repartitionSource<K, Change<V>>(name, {
      key: serdes.key,
      value: changes as Serde<Change<V>>,
    });
    return new KGroupedTable<K, V>(builder, name, source.node, serdes);
  }

  /** The number of rows per group (a group that loses its last row keeps the count 0, as in Kafka Streams). */
  count(name: string, options: AggregateOptions = {}): KTable<K, number> {
    return this.#aggregate(
      name,
      Serdes.number(),
      (_k, _v, n) => (n ?? 0) + 1,
      (_k, _v, n) => n - 1,
      options,
    );
  }

  /** Combine rows with `adder`, and take a row's old value out with `subtractor` (KGroupedTable.reduce). */
  reduce(
    name: string,
    fns: { adder: (aggregate: V, value: V) => V; subtractor: (aggregate: V, value: V) => V },
    options: AggregateOptions = {},
  ): KTable<K, V> {
    requireFunctions(name, fns, ["adder", "subtractor"]);
    return this.#aggregate(
      name,
      this.serdes.value,
      (_k, v, a) => (a === null ? v : fns.adder(a, v)),
      (_k, v, a) => fns.subtractor(a, v),
      options,
    );
  }

  /**
   * Fold rows into a per-group aggregate: `adder` for a row's new value, `subtractor` for the value it replaces, so
   * a row moving between groups leaves one aggregate and enters the other (KGroupedTable.aggregate).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * type Account = { region: string; balance: number };
   * const app = new TopologyBuilder("bank");
   * app
   *   .table("accounts", { key: Serdes.string(), value: Serdes.json<Account>() })
   *   .groupBy("by-region", (_id, a) => ({ key: a.region, value: a }), {
   *     key: Serdes.string(),
   *     value: Serdes.json<Account>(),
   *   })
   *   .aggregate(
   *     "region-stats",
   *     {
   *       initializer: () => ({ accounts: 0, total: 0 }),
   *       adder: (_region, a, s) => ({ accounts: s.accounts + 1, total: s.total + a.balance }),
   *       subtractor: (_region, a, s) => ({ accounts: s.accounts - 1, total: s.total - a.balance }),
   *     },
   *     { value: Serdes.json<{ accounts: number; total: number }>() },
   *   );
   * ```
   */
  aggregate<VA>(
    name: string,
    fns: {
      initializer: () => VA;
      adder: (key: K, value: V, aggregate: VA) => VA;
      subtractor: (key: K, value: V, aggregate: VA) => VA;
    },
    options: AggregateOptions & { value: Serde<VA> },
  ): KTable<K, VA> {
    requireFunctions(name, fns, ["initializer", "adder", "subtractor"]);
    return this.#aggregate(
      name,
      requireValueSerde(name, options?.value),
      (k, v, a) => fns.adder(k, v, a ?? fns.initializer()),
      fns.subtractor,
      options,
    );
  }

  #aggregate<VA>(
    name: string,
    value: Serde<VA>,
    add: (key: K, value: V, aggregate: VA | null) => VA | null,
    subtract: (key: K, value: V, aggregate: VA) => VA | null,
    options: AggregateOptions,
  ): KTable<K, VA> {
    return aggregation(this.builder, name, this.node, { key: this.serdes.key, value }, options, (store) =>
      tableAggregate(store, add, subtract),
    );
  }
}
