import {
  Stores,
  type AsyncProcessorFunction,
  type AsyncProcessorOptions,
  type ProcessorFactory,
  type TopologyBuilder,
} from "../builder.js";
import { TopologyError } from "../errors.js";
import { repartitionTopic } from "../topology.js";
import type { StreamRecord } from "../record.js";
import { Serdes, type Serde } from "../serdes.js";
import {
  filterRecords,
  flatMapRecords,
  mapValues as mapValuesOp,
  selectKey as selectKeyOp,
} from "../operators.js";
import { emitting, storeGetter, streamTableJoin, tableSource } from "./processors.js";
import { KGroupedStream } from "./grouped.js";
import { GlobalKTable, KTable } from "./ktable.js";
import {
  JoinWindows,
  listSerde,
  streamStreamJoin,
  type StreamJoinKind,
  type StreamJoinStores,
} from "./stream-join.js";

/**
 * The serdes a stream–table join repartitions the stream with when its key changed upstream and the stream does
 * not carry them (Kafka Streams' `Joined.with`): the key's (default: the table's) and the stream's value.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * type Click = { user: string; page: string };
 * const app = new TopologyBuilder("analytics");
 * const users = app.table("users", { key: Serdes.string(), value: Serdes.json<{ country: string }>() });
 * app
 *   .stream("clicks", { key: Serdes.string(), value: Serdes.json<Click>() })
 *   .selectKey("by-user", (r) => r.value.user) // the key changed: the join repartitions first
 *   .join("click-user", users, (click, user) => ({ ...click, country: user.country }), {
 *     key: Serdes.string(),
 *     value: Serdes.json<Click>(),
 *   });
 * ```
 */
export interface StreamTableJoinSerdes<K, V> {
  /** The key's serde. @default the stream's, else the table's */
  key?: Serde<K>;
  /** The stream's value serde. @default the stream's */
  value?: Serde<V>;
}

/**
 * The serdes a windowed stream join stores its records with, when the streams do not carry them (Kafka Streams'
 * `StreamJoined.with`).
 *
 * @example
 * ```ts
 * import { JoinWindows, Serdes, TopologyBuilder, type StreamJoinSerdes } from "weir";
 *
 * type Order = { amount: number };
 * type Payment = { paid: number };
 * const serdes: StreamJoinSerdes<string, Order, Payment> = {
 *   key: Serdes.string(),
 *   value: Serdes.json<Order>(),
 *   otherValue: Serdes.json<Payment>(),
 * };
 * const app = new TopologyBuilder("shop");
 * const payments = app.stream("payments", { key: Serdes.string(), value: Serdes.json<Payment>() });
 * const withinAMinute = JoinWindows.ofTimeDifferenceWithNoGrace(60_000);
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<Order>() })
 *   .join("order-payment", payments, (o, p) => ({ ...o, ...p }), withinAMinute, serdes);
 * ```
 */
export interface StreamJoinSerdes<K, V, VO> {
  /** The key's serde. @default this stream's, else the other's */
  key?: Serde<K>;
  /** This stream's value serde. @default this stream's */
  value?: Serde<V>;
  /** The other stream's value serde. @default the other stream's */
  otherValue?: Serde<VO>;
}

/** Long enough that an unmatched record waits for its window to close, however far stream time jumps. */
const UNTIL_CLOSED_MS = 100 * 365 * 24 * 3_600_000;

/** What the DSL knows about a stream besides its node: its serdes (when known) and whether its key changed. */
export interface StreamMeta<K, V> {
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  /**
   * The key was changed since the stream was last partitioned by it (map, selectKey, flatMap, process): a grouping or
   * join first repartitions it through an internal topic, as Kafka Streams does.
   */
  readonly repartitionRequired?: boolean;
}

/**
 * A key serde and a value serde together, as repartitions and groupings take them (Kafka Streams' `Grouped.with`,
 * `Repartitioned.with`).
 *
 * @example
 * ```ts
 * import { Serdes, type Serdes2 } from "weir";
 *
 * const orderSerdes: Serdes2<string, { amount: number }> = { key: Serdes.string(), value: Serdes.json() };
 * ```
 */
export interface Serdes2<K, V> {
  /** The key's serde. */
  key: Serde<K>;
  /** The value's serde. */
  value: Serde<V>;
}

/**
 * A record stream (Kafka Streams' KStream). Every method names the node it adds; names are stable identifiers of
 * the topology (they name stores, internal topics and metrics), so renaming one is a topology change. Made by
 * {@link TopologyBuilder.stream} and by the methods that return streams.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder } from "weir";
 *
 * type Order = { customer: string; amount: number; items: string[] };
 * const app = new TopologyBuilder("shop");
 * const { valid, invalid } = app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<Order>() })
 *   .branch("validate", { valid: (r) => r.value.items.length > 0, invalid: () => true });
 * invalid
 *   .mapValues("reject", () => "REJECTED_INVALID")
 *   .to("order-status", { key: Serdes.string(), value: Serdes.string() });
 * valid.to("valid-orders", { key: Serdes.string(), value: Serdes.json<Order>() });
 * ```
 */
export class KStream<K, V> {
  /** @internal made by TopologyBuilder and the DSL methods */
  constructor(
    private readonly builder: TopologyBuilder,
    /** The node whose output this stream is. */
    readonly node: string,
    /** @internal what the DSL knows about the stream (serdes, whether its key changed) */
    readonly meta: StreamMeta<K, V> = {},
  ) {}

  /**
   * Run records through a processor (an RxJS operator factory) that may use the named stores: the Processor API, the
   * escape hatch under every other method. The processor may change keys, so a following grouping repartitions.
   *
   * @example
   * ```ts
   * import { map } from "rxjs";
   * import { Serdes, Stores, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app.store("reserved", Stores.keyValue(Serdes.string(), Serdes.int32()));
   * app
   *   .stream("reservations", { key: Serdes.string(), value: Serdes.int32() })
   *   .process(
   *     "reserve",
   *     (ctx) => {
   *       const reserved = ctx.keyValueStore<string, number>("reserved");
   *       return map((r) => {
   *         const total = (reserved.get(r.key) ?? 0) + r.value;
   *         reserved.put(r.key, total);
   *         return { key: r.key, value: total };
   *       });
   *     },
   *     { stores: ["reserved"] },
   *   )
   *   .to("reserved-totals", { key: Serdes.string(), value: Serdes.int32() });
   * ```
   */
  process<KO, VO>(
    name: string,
    factory: ProcessorFactory<K, V, KO, VO>,
    options: { stores?: string[] } = {},
  ): KStream<KO, VO> {
    if (typeof factory !== "function")
      throw new TopologyError(`processor '${name}' needs a factory function (context) => OperatorFunction`, {
        node: name,
      });
    this.#processor(name, factory, options.stores ?? []);
    return new KStream<KO, VO>(this.builder, name, { repartitionRequired: true });
  }

  /**
   * Run each record through an asynchronous function (an HTTP call, a database, a model) that resolves to zero or
   * more outputs, with up to `concurrency` calls in flight per task, in `ordering` (default per key: a key's records
   * are called one at a time and emit in offset order; different keys overlap). Exactly-once holds: each output is
   * attributed to its input, and a commit waits until every record taken before it has completed, so the offsets it
   * commits never pass a record still in flight. A call that throws or passes `timeoutMs` is retried (`retry`), then
   * the input goes to the dead-letter topic with the error (the processing handler).
   *
   * The function gets no stores: state read before an `await` may be stale after it, and a write after it would race
   * the key's next record. Read state in a processor before this one (put it in the value) and write it in one after
   * it: those run in the key's order. The processor may change keys, so a following grouping repartitions.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * type Order = { customer: string; amount: number };
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<Order>() })
   *   .processAsync(
   *     "risk-check",
   *     async (r, ctx) => {
   *       const res = await fetch(`http://risk:8080/risk?customer=${r.value.customer}&amount=${r.value.amount}`, {
   *         signal: ctx.signal,
   *       });
   *       const { score } = (await res.json()) as { score: number };
   *       return { key: r.key, value: { ...r.value, score } };
   *     },
   *     { concurrency: 32, timeoutMs: 2000, retry: { attempts: 8 } },
   *   )
   *   .to("scored-orders", { key: Serdes.string(), value: Serdes.json<Order & { score: number }>() });
   * ```
   */
  processAsync<KO, VO>(
    name: string,
    fn: AsyncProcessorFunction<K, V, KO, VO>,
    options: AsyncProcessorOptions = {},
  ): KStream<KO, VO> {
    this.#function(name, fn);
    const concurrency = options.concurrency ?? 16;
    const attempts = options.retry?.attempts ?? 1;
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new TopologyError(`async processor '${name}': ${what}`, { node: name });
    };
    check(
      Number.isInteger(concurrency) && concurrency >= 1,
      `concurrency must be an integer >= 1, got ${concurrency}`,
    );
    check(
      Number.isInteger(attempts) && attempts >= 1,
      `retry.attempts must be an integer >= 1, got ${attempts}`,
    );
    const ordering = options.ordering ?? "per-key";
    check(
      ["per-key", "per-partition", "in-order", "none"].includes(ordering),
      `unknown ordering '${ordering}'`,
    );
    const timeoutMs = options.timeoutMs ?? 30_000;
    const backoffMs = options.retry?.backoffMs ?? 100;
    check(
      timeoutMs > 0 && Number.isFinite(timeoutMs),
      `timeoutMs must be a positive number, got ${timeoutMs}`,
    );
    check(backoffMs >= 0 && Number.isFinite(backoffMs), `retry.backoffMs must be >= 0, got ${backoffMs}`);
    const when = options.retry?.when;
    check(
      when === undefined || typeof when === "function",
      "retry.when must be a function (error) => boolean",
    );
    this.builder.add({
      type: "processor",
      name,
      parents: [this.node],
      factory: () => {
        throw new TopologyError(`internal: async processor '${name}' has no operator`, { node: name });
      },
      stores: [],
      async: {
        fn: fn as AsyncProcessorFunction<unknown, unknown, unknown, unknown>,
        concurrency,
        ordering,
        timeoutMs,
        attempts,
        backoffMs,
        retryWhen: options.retry?.when ?? (() => true),
      },
    });
    return new KStream<KO, VO>(this.builder, name, { repartitionRequired: true });
  }

  /**
   * Records for which `predicate` is false are dropped (KStream.filter).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
   *   .filter("large-orders", (r) => r.value.amount >= 1000)
   *   .to("large-orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() });
   * ```
   */
  filter(name: string, predicate: (record: StreamRecord<K, V>) => boolean): KStream<K, V> {
    this.#function(name, predicate);
    this.builder.add({
      type: "branch",
      name,
      parents: [this.node],
      predicate: predicate as (r: StreamRecord) => boolean,
    });
    return new KStream<K, V>(this.builder, name, this.meta);
  }

  /** Records for which `predicate` is true are dropped (KStream.filterNot). */
  filterNot(name: string, predicate: (record: StreamRecord<K, V>) => boolean): KStream<K, V> {
    this.#function(name, predicate);
    return this.filter(name, (r) => !predicate(r));
  }

  /**
   * A new key and value per record (KStream.map). Marks the stream for repartitioning.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ customer: string; amount: number }>() })
   *   .map("by-customer", (r) => ({ key: r.value.customer, value: r.value.amount }))
   *   .to("amounts-by-customer", { key: Serdes.string(), value: Serdes.number() });
   * ```
   */
  map<KO, VO>(name: string, fn: (record: StreamRecord<K, V>) => { key: KO; value: VO }): KStream<KO, VO> {
    this.#function(name, fn);
    this.#processor(name, () => flatMapRecords((r: StreamRecord<K, V>) => [fn(r)]));
    return new KStream<KO, VO>(this.builder, name, { repartitionRequired: true });
  }

  /**
   * A new value per record; the key (and its partitioning) is kept (KStream.mapValues).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
   *   .mapValues("with-vat", (order) => ({ ...order, gross: order.amount * 1.2 }));
   * ```
   */
  mapValues<VO>(name: string, fn: (value: V, record: StreamRecord<K, V>) => VO): KStream<K, VO> {
    this.#function(name, fn);
    this.#processor(name, () => mapValuesOp(fn));
    return new KStream<K, VO>(this.builder, name, this.#sameKey());
  }

  /** Zero or more records per record, each with a new key and value (KStream.flatMap). Marks the stream for repartitioning. */
  flatMap<KO, VO>(
    name: string,
    fn: (record: StreamRecord<K, V>) => Iterable<{ key: KO; value: VO }>,
  ): KStream<KO, VO> {
    this.#function(name, fn);
    this.#processor(name, () => flatMapRecords(fn));
    return new KStream<KO, VO>(this.builder, name, { repartitionRequired: true });
  }

  /**
   * Zero or more values per record, each under the record's key (KStream.flatMapValues).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ items: string[] }>() })
   *   .flatMapValues("items", (order) => order.items)
   *   .to("order-items", { key: Serdes.string(), value: Serdes.string() });
   * ```
   */
  flatMapValues<VO>(
    name: string,
    fn: (value: V, record: StreamRecord<K, V>) => Iterable<VO>,
  ): KStream<K, VO> {
    this.#function(name, fn);
    this.#processor(name, () =>
      flatMapRecords((r: StreamRecord<K, V>) =>
        Array.from(fn(r.value, r), (value) => ({ key: r.key, value })),
      ),
    );
    return new KStream<K, VO>(this.builder, name, this.#sameKey());
  }

  /**
   * A new key per record, the value kept (KStream.selectKey). Marks the stream for repartitioning.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ customer: string }>() })
   *   .selectKey("key-by-customer", (r) => r.value.customer);
   * ```
   */
  selectKey<KO>(name: string, fn: (record: StreamRecord<K, V>) => KO): KStream<KO, V> {
    this.#function(name, fn);
    this.#processor(name, () => selectKeyOp(fn));
    return new KStream<KO, V>(this.builder, name, {
      ...(this.meta.value ? { value: this.meta.value } : {}),
      repartitionRequired: true,
    });
  }

  /** Calls `fn` for each record and passes the record on unchanged (KStream.peek: logging, metrics). */
  peek(name: string, fn: (record: StreamRecord<K, V>) => void): KStream<K, V> {
    this.#function(name, fn);
    this.#processor(name, () => filterRecords((r: StreamRecord<K, V>) => (fn(r), true)));
    return new KStream<K, V>(this.builder, name, this.meta);
  }

  /** Calls `fn` for each record; a terminal node, nothing flows on (KStream.foreach). */
  foreach(name: string, fn: (record: StreamRecord<K, V>) => void): void {
    this.#function(name, fn);
    this.#processor(name, () => emitting((r: StreamRecord<K, V>) => (fn(r), [])));
  }

  /**
   * Split the stream: each record goes to the first branch whose predicate matches (records matching none are
   * dropped). Branch nodes are named `<name>-<branch>` (Kafka Streams' `split().branch()`).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const { large, small } = app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
   *   .branch("by-size", { large: (r) => r.value.amount >= 1000, small: () => true });
   * large.to("large-orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() });
   * small.to("small-orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() });
   * ```
   */
  branch<B extends string>(
    name: string,
    predicates: Record<B, (record: StreamRecord<K, V>) => boolean>,
  ): Record<B, KStream<K, V>> {
    const entries = Object.entries(predicates) as Array<[B, (record: StreamRecord<K, V>) => boolean]>;
    if (entries.length === 0) throw new TopologyError(`branch '${name}' has no branches`, { node: name });
    const out = {} as Record<B, KStream<K, V>>;
    entries.forEach(([branch, predicate], i) => {
      const earlier = entries.slice(0, i).map(([, p]) => p);
      const first = (r: StreamRecord) =>
        predicate(r as StreamRecord<K, V>) && !earlier.some((p) => p(r as StreamRecord<K, V>));
      this.builder.add({ type: "branch", name: `${name}-${branch}`, parents: [this.node], predicate: first });
      out[branch] = new KStream<K, V>(this.builder, `${name}-${branch}`, this.meta);
    });
    return out;
  }

  /**
   * One stream of the records of this stream and the others, in processing order (KStream.merge).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const web = app.stream("web-orders", { key: Serdes.string(), value: Serdes.json() });
   * const store = app.stream("store-orders", { key: Serdes.string(), value: Serdes.json() });
   * web.merge("all-orders", store).to("orders", { key: Serdes.string(), value: Serdes.json() });
   * ```
   */
  merge(name: string, ...others: KStream<K, V>[]): KStream<K, V> {
    this.builder.add({ type: "merge", name, parents: [this.node, ...others.map((o) => o.node)] });
    const all = [this, ...others];
    return new KStream<K, V>(this.builder, name, {
      ...(all.every((s) => s.meta.key === this.meta.key) && this.meta.key ? { key: this.meta.key } : {}),
      ...(all.every((s) => s.meta.value === this.meta.value) && this.meta.value
        ? { value: this.meta.value }
        : {}),
      repartitionRequired: all.some((s) => s.meta.repartitionRequired),
    });
  }

  /**
   * Write to a topic. The sink node is named `<topic>-sink` unless `name` is given. `feedback: true` declares an
   * intended loop to a topic read upstream (e.g. compensation records); any other loop is a TopologyError
   * (KStream.to with `Produced.with`).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ status: string }>() })
   *   .mapValues("status", (order) => order.status)
   *   .to("order-status", {
   *     key: Serdes.string(),
   *     value: Serdes.string(),
   *     topicConfig: { "cleanup.policy": "compact" },
   *   });
   * ```
   */
  to(
    topic: string,
    serdes: {
      /** The key's serde. */
      key: Serde<K>;
      /** The value's serde. */
      value: Serde<V>;
      /** The sink node's name. @default `<topic>-sink` */
      name?: string;
      /** An intended loop to a topic read upstream (exempt from the cycle check). @default false */
      feedback?: boolean;
      /** Configs for creating the topic (`weir topics create`), e.g. `{ "cleanup.policy": "compact" }`. */
      topicConfig?: Record<string, string>;
    },
  ): void {
    const name = serdes?.name ?? `${topic}-sink`;
    if (!serdes?.key || !serdes?.value)
      throw new TopologyError(
        `sink '${name}' (topic ${topic}) is missing a key or value serde; pass { key, value }`,
        { node: name, topic },
      );
    this.builder.add({
      type: "sink",
      name,
      parents: [this.node],
      topic,
      keySerde: serdes.key as Serde<unknown>,
      valueSerde: serdes.value as Serde<unknown>,
      internal: false,
      feedback: serdes.feedback ?? false,
      ...(serdes.topicConfig ? { topicConfig: Object.freeze({ ...serdes.topicConfig }) } : {}),
    });
  }

  /**
   * Re-key through the internal topic `<app>-<name>-repartition`: records are written partitioned by their
   * (new) key and read back by a new sub-topology, so that all records of a key meet in one task
   * (KStream.repartition).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ customer: string }>() })
   *   .selectKey("key-by-customer", (r) => r.value.customer)
   *   .repartition("by-customer", { key: Serdes.string(), value: Serdes.json<{ customer: string }>() });
   * ```
   */
  repartition(name: string, serdes: Serdes2<K, V>): KStream<K, V> {
    const topic = repartitionTopic(this.builder.appId, name);
    if (!serdes?.key || !serdes?.value)
      throw new TopologyError(`repartition '${name}' is missing a key or value serde; pass { key, value }`, {
        node: name,
      });
    this.builder.add({
      type: "sink",
      name: `${name}-repartition-sink`,
      parents: [this.node],
      topic,
      keySerde: serdes.key as Serde<unknown>,
      valueSerde: serdes.value as Serde<unknown>,
      internal: true,
      feedback: false,
    });
    return this.builder.repartitionSource<K, V>(name, serdes);
  }

  /**
   * Group by the current key (Kafka Streams' groupByKey). If the key was changed upstream, the records are first
   * repartitioned through `<app>-<name>-repartition`, which needs both serdes (given here, or known from the source).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("payments", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
   *   .groupByKey("payments-by-order")
   *   .aggregate(
   *     "paid",
   *     { initializer: () => 0, aggregator: (_key, payment, total) => total + payment.amount },
   *     { value: Serdes.number() },
   *   );
   * ```
   */
  groupByKey(name: string, serdes: Partial<Serdes2<K, V>> = {}): KGroupedStream<K, V> {
    const key = serdes.key ?? this.meta.key;
    const value = serdes.value ?? this.meta.value;
    const stream = this.#partitioned(name, key, value);
    return new KGroupedStream<K, V>(this.builder, name, stream, key);
  }

  /**
   * Group by a new key (KStream.groupBy): `keySelector` picks it, and the records go through
   * `<app>-<name>-repartition`.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * type Click = { page: string };
   * const app = new TopologyBuilder("analytics");
   * app
   *   .stream("clicks", { key: Serdes.string(), value: Serdes.json<Click>() })
   *   .groupBy("by-page", (r) => r.value.page, { key: Serdes.string(), value: Serdes.json<Click>() })
   *   .count("clicks-per-page");
   * ```
   */
  groupBy<KG>(
    name: string,
    keySelector: (record: StreamRecord<K, V>) => KG,
    serdes: Serdes2<KG, V>,
  ): KGroupedStream<KG, V> {
    return this.selectKey(`${name}-key`, keySelector).groupByKey(name, serdes);
  }

  /**
   * The stream as a table (KStream.toTable): each record upserts its key's row in store `options.store` (default
   * `name`), a null value deletes it. Needs the serdes of the store.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const latestStatus = app
   *   .stream("order-status", { key: Serdes.string(), value: Serdes.string() })
   *   .toTable("latest-status", { store: "order-status" });
   * ```
   */
  toTable(name: string, options: Partial<Serdes2<K, V>> & { store?: string } = {}): KTable<K, V> {
    const key = options.key ?? this.meta.key;
    const value = options.value ?? this.meta.value;
    if (!key || !value)
      throw new TopologyError(
        `toTable '${name}' needs key and value serdes for its store; pass { key, value }`,
        {
          node: name,
        },
      );
    const stream = this.#partitioned(name, key, value);
    const store = options.store ?? name;
    this.builder.dslStore(store, key, value, undefined, name);
    stream.#processor(name, tableSource<K, V>(store), [store]);
    return new KTable<K, V>(this.builder, name, { key, value, getter: storeGetter(store), store });
  }

  /**
   * Join each record with the table's current row for its key (KStream.join(KTable)): no row, no output. The table
   * must be co-partitioned with this stream (checked at start); only stream records trigger output.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const customers = app.table("customers", { key: Serdes.string(), value: Serdes.json<{ tier: string }>() });
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() }) // keyed by customer
   *   .join("order-customer", customers, (order, customer) => ({ ...order, tier: customer.tier }))
   *   .to("orders-with-tier", { key: Serdes.string(), value: Serdes.json<{ amount: number; tier: string }>() });
   * ```
   */
  join<VT, VO>(
    name: string,
    table: KTable<K, VT>,
    joiner: (value: V, row: VT, record: StreamRecord<K, V>) => VO,
    serdes?: StreamTableJoinSerdes<K, V>,
  ): KStream<K, VO>;
  /**
   * Join with a global table (every worker has all of it): `keySelector` picks the row; no co-partitioning needed
   * (KStream.join(GlobalKTable)).
   */
  join<KT, VT, VO>(
    name: string,
    table: GlobalKTable<KT, VT>,
    keySelector: (record: StreamRecord<K, V>) => KT,
    joiner: (value: V, row: VT, record: StreamRecord<K, V>) => VO,
  ): KStream<K, VO>;
  /**
   * Join with another stream within a time window (KStream.join(KStream, JoinWindows)): records of the same key at
   * most `windows` apart join, whichever arrives first. Both streams must be co-partitioned (a changed key is
   * repartitioned first).
   *
   * @example
   * ```ts
   * import { JoinWindows, Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const payments = app.stream("payments", { key: Serdes.string(), value: Serdes.json<{ paid: number }>() });
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() }) // both keyed by order id
   *   .join(
   *     "order-payment",
   *     payments,
   *     (order, payment) => order.amount === payment.paid,
   *     JoinWindows.ofTimeDifferenceAndGrace(5 * 60_000, 30_000),
   *   )
   *   .to("payment-checks", { key: Serdes.string(), value: Serdes.json<boolean>() });
   * ```
   */
  join<VO2, VO>(
    name: string,
    other: KStream<K, VO2>,
    joiner: (value: V, otherValue: VO2, record: StreamRecord) => VO,
    windows: JoinWindows,
    serdes?: StreamJoinSerdes<K, V, VO2>,
  ): KStream<K, VO>;
  join(name: string, table: object, ...rest: unknown[]): unknown {
    if (table instanceof KStream) return this.#streamJoin("inner", name, table, rest);
    return this.#tableJoin("inner", name, table, rest);
  }

  /**
   * As `join`, but a record without a row is joined with null (KStream.leftJoin(KTable)).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const stock = app.table("stock", { key: Serdes.string(), value: Serdes.int32() });
   * app
   *   .stream("reservations", { key: Serdes.string(), value: Serdes.int32() }) // keyed by SKU
   *   .leftJoin("check-stock", stock, (wanted, available) => (available ?? 0) >= wanted)
   *   .to("reservation-results", { key: Serdes.string(), value: Serdes.json<boolean>() });
   * ```
   */
  leftJoin<VT, VO>(
    name: string,
    table: KTable<K, VT>,
    joiner: (value: V, row: VT | null, record: StreamRecord<K, V>) => VO,
    serdes?: StreamTableJoinSerdes<K, V>,
  ): KStream<K, VO>;
  /** As the global table `join`, but a record without a row is joined with null (KStream.leftJoin(GlobalKTable)). */
  leftJoin<KT, VT, VO>(
    name: string,
    table: GlobalKTable<KT, VT>,
    keySelector: (record: StreamRecord<K, V>) => KT,
    joiner: (value: V, row: VT | null, record: StreamRecord<K, V>) => VO,
  ): KStream<K, VO>;
  /**
   * As the windowed `join`, and a record of this stream that found no partner is joined with null once its window
   * has closed (never before).
   */
  leftJoin<VO2, VO>(
    name: string,
    other: KStream<K, VO2>,
    joiner: (value: V, otherValue: VO2 | null, record: StreamRecord) => VO,
    windows: JoinWindows,
    serdes?: StreamJoinSerdes<K, V, VO2>,
  ): KStream<K, VO>;
  leftJoin(name: string, table: object, ...rest: unknown[]): unknown {
    if (table instanceof KStream) return this.#streamJoin("left", name, table, rest);
    return this.#tableJoin("left", name, table, rest);
  }

  /**
   * As the windowed `leftJoin`, for the records of both streams (KStream.outerJoin): a record of either side that
   * found no partner is joined with null once its window has closed.
   *
   * @example
   * ```ts
   * import { JoinWindows, Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * const shipments = app.stream("shipments", { key: Serdes.string(), value: Serdes.json<{ carrier: string }>() });
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
   *   .outerJoin(
   *     "order-shipment",
   *     shipments,
   *     (order, shipment) => ({ ordered: order !== null, shipped: shipment !== null }),
   *     JoinWindows.ofTimeDifferenceWithNoGrace(24 * 3_600_000),
   *   )
   *   .to("fulfilment", { key: Serdes.string(), value: Serdes.json<{ ordered: boolean; shipped: boolean }>() });
   * ```
   */
  outerJoin<VO2, VO>(
    name: string,
    other: KStream<K, VO2>,
    joiner: (value: V | null, otherValue: VO2 | null, record: StreamRecord) => VO,
    windows: JoinWindows,
    serdes?: StreamJoinSerdes<K, V, VO2>,
  ): KStream<K, VO> {
    return this.#streamJoin("outer", name, other as KStream<unknown, unknown>, [
      joiner,
      windows,
      serdes,
    ]) as never;
  }

  #streamJoin(
    kind: StreamJoinKind,
    name: string,
    other: KStream<unknown, unknown>,
    rest: unknown[],
  ): KStream<unknown, unknown> {
    const [joiner, windows, serdes = {}] = rest as [
      (l: unknown, r: unknown, record: StreamRecord) => unknown,
      JoinWindows,
      StreamJoinSerdes<unknown, unknown, unknown> | undefined,
    ];
    this.#function(name, joiner);
    if (!(windows instanceof JoinWindows))
      throw new TopologyError(
        `stream join '${name}' needs JoinWindows (JoinWindows.ofTimeDifferenceAndGrace(...))`,
        {
          node: name,
        },
      );
    const key = (serdes.key ?? this.meta.key ?? other.meta.key) as Serde<unknown> | undefined;
    const value = (serdes.value ?? this.meta.value) as Serde<unknown> | undefined;
    const otherValue = (serdes.otherValue ?? other.meta.value) as Serde<unknown> | undefined;
    if (!key || !value || !otherValue)
      throw new TopologyError(
        `stream join '${name}' needs the key serde and both value serdes for its stores; pass { key, value, otherValue }`,
        { node: name },
      );
    const self = this as unknown as KStream<unknown, unknown>;
    const left = self.meta.repartitionRequired ? self.repartition(`${name}-left`, { key, value }) : self;
    const right = other.meta.repartitionRequired
      ? other.repartition(`${name}-right`, { key, value: otherValue })
      : other;
    const { beforeMs, afterMs, graceMs } = windows;
    const stores: StreamJoinStores = {
      left: `${name}-left-store`,
      right: `${name}-right-store`,
      leftUnmatched: `${name}-left-unmatched`,
      rightUnmatched: `${name}-right-unmatched`,
    };
    const window = (store: string, v: Serde<unknown>, retentionMs: number) =>
      this.builder.store(store, {
        kind: "window",
        keySerde: key,
        valueSerde: listSerde(v),
        retentionMs,
        changelog: true,
      });
    const buffered = windows.partnerTime?.retentionMs ?? beforeMs + afterMs + graceMs + 1;
    window(stores.left, value, buffered);
    window(stores.right, otherValue, buffered);
    if (windows.partnerTime)
      this.builder.store((stores.times = `${name}-times`), Stores.keyValue(Serdes.string(), Serdes.number()));
    window(stores.leftUnmatched, value, UNTIL_CLOSED_MS);
    window(stores.rightUnmatched, otherValue, UNTIL_CLOSED_MS);
    const all = Object.values(stores) as string[];
    for (const [side, stream, thisIsLeft] of [
      ["this", left, true],
      ["other", right, false],
    ] as const)
      this.builder.add({
        type: "processor",
        name: `${name}-${side}`,
        parents: [stream.node],
        factory: streamStreamJoin(kind, thisIsLeft, windows, stores, joiner) as never,
        stores: all,
      });
    this.builder.add({ type: "merge", name, parents: [`${name}-this`, `${name}-other`] });
    return new KStream<unknown, unknown>(this.builder, name, { key });
  }

  #tableJoin(
    kind: "inner" | "left",
    name: string,
    table: object,
    rest: unknown[],
  ): KStream<unknown, unknown> {
    type J = (value: unknown, row: unknown, record: StreamRecord) => unknown;
    if (!(table instanceof KTable) && !(table instanceof GlobalKTable))
      throw new TopologyError(`join '${name}' needs a KTable or a GlobalKTable`, { node: name });
    if (table instanceof KTable) {
      const joiner = rest[0] as J;
      const serdes = (rest[1] ?? {}) as StreamTableJoinSerdes<K, V>;
      this.#function(name, joiner);
      // Keys changed upstream: repartition by the table's key serde (the stream's key is the table's key type).
      const stream = this.meta.repartitionRequired
        ? this.#partitioned(
            `${name}-left`,
            serdes.key ?? this.meta.key ?? (table.meta.key as Serde<K> | undefined),
            serdes.value ?? this.meta.value,
          )
        : this;
      stream.#processor(
        name,
        streamTableJoin(kind, table.getter, (r) => r.key, false, joiner as never),
        [...table.getter.stores],
      );
      const key = this.meta.key ?? table.meta.key;
      return new KStream<unknown, unknown>(this.builder, name, {
        ...(key ? { key: key as Serde<unknown> } : {}),
      });
    }
    const [keySelector, joiner] = rest as [(r: StreamRecord) => unknown, J];
    this.#function(name, keySelector);
    this.#function(name, joiner);
    this.#processor(name, streamTableJoin(kind, table.getter, keySelector as never, true, joiner as never), [
      ...table.getter.stores,
    ]);
    return new KStream<unknown, unknown>(this.builder, name, this.#sameKey() as StreamMeta<unknown, unknown>);
  }

  /** This stream, repartitioned by its key first when the key was changed upstream. */
  #partitioned(name: string, key: Serde<K> | undefined, value: Serde<V> | undefined): KStream<K, V> {
    if (!this.meta.repartitionRequired) return this;
    if (!key || !value)
      throw new TopologyError(
        `'${name}' needs to repartition the stream (its key was changed upstream), which needs key and value serdes: ` +
          `pass { key, value } as its last argument (or repartition the stream first)`,
        { node: name },
      );
    return this.repartition(name, { key, value });
  }

  #sameKey(): StreamMeta<K, never> {
    return {
      ...(this.meta.key ? { key: this.meta.key } : {}),
      ...(this.meta.repartitionRequired ? { repartitionRequired: true } : {}),
    };
  }

  #processor(
    name: string,
    factory: ProcessorFactory<never, never, unknown, unknown>,
    stores: string[] = [],
  ): void {
    this.builder.add({
      type: "processor",
      name,
      parents: [this.node],
      factory: factory as ProcessorFactory<unknown, unknown, unknown, unknown>,
      stores,
    });
  }

  #function(name: string, fn: unknown): void {
    if (typeof fn !== "function")
      throw new TopologyError(`'${name}' needs a function, got ${typeof fn}`, { node: name });
  }
}
