/**
 * `count`, `reduce` and `aggregate` of a grouped stream, windowed or not (Kafka Streams' KGroupedStream and
 * TimeWindowedKStream share them too): each is one fold — a first value from the first record of a group, then an
 * update per later record — that the concrete class turns into processors and a store (`fold`).
 */
import { Serdes, type Serde } from "../serdes.js";
import { requireFunctions, requireValueSerde } from "./checks.js";
import type { KStream } from "./kstream.js";
import type { KTable } from "./ktable.js";

export abstract class StreamAggregations<K, V, KR, O extends object> {
  constructor(protected readonly stream: KStream<K, V>) {}

  /** The aggregation node `name` over the stream, materialized as a table of `KR` (a key, or a key and window). */
  protected abstract fold<VA>(
    name: string,
    value: Serde<VA>,
    first: (key: K, value: V) => VA,
    update: (key: K, value: V, aggregate: VA) => VA,
    options: O,
  ): KTable<KR, VA>;

  /**
   * The number of records per group (key, or key and window), as a table (count).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json() }) // keyed by customer
   *   .groupByKey("orders-by-customer")
   *   .count("orders-per-customer");
   * ```
   */
  count(name: string, options: O = {} as O): KTable<KR, number> {
    return this.fold(
      name,
      Serdes.number(),
      () => 1,
      (_k, _v, n) => n + 1,
      options,
    );
  }

  /**
   * The first value of a group, then `reducer(aggregate, value)` for each later one (reduce). Needs the value serde,
   * given here or known from the stream.
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * const app = new TopologyBuilder("sensors");
   * app
   *   .stream("temperatures", { key: Serdes.string(), value: Serdes.number() })
   *   .groupByKey("by-sensor")
   *   .reduce("max-temperature", (max, t) => Math.max(max, t));
   * ```
   */
  reduce(
    name: string,
    reducer: (aggregate: V, value: V) => V,
    options: O & { value?: Serde<V> } = {} as O,
  ): KTable<KR, V> {
    requireFunctions(name, { reducer }, ["reducer"]);
    return this.fold(
      name,
      requireValueSerde(name, options.value ?? this.stream.meta.value),
      (_k, v) => v,
      (_k, v, a) => reducer(a, v),
      options,
    );
  }

  /**
   * Fold the values of a group into an aggregate that starts at `initializer()` (aggregate).
   *
   * @example
   * ```ts
   * import { Serdes, TopologyBuilder } from "weir";
   *
   * type Stats = { count: number; sum: number };
   * const app = new TopologyBuilder("shop");
   * app
   *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
   *   .groupByKey("orders-by-customer")
   *   .aggregate(
   *     "order-stats",
   *     {
   *       initializer: (): Stats => ({ count: 0, sum: 0 }),
   *       aggregator: (_customer, order, s) => ({ count: s.count + 1, sum: s.sum + order.amount }),
   *     },
   *     { value: Serdes.json<Stats>() },
   *   );
   * ```
   */
  aggregate<VA>(
    name: string,
    fns: { initializer: () => VA; aggregator: (key: K, value: V, aggregate: VA) => VA },
    options: O & { value: Serde<VA> },
  ): KTable<KR, VA> {
    requireFunctions(name, fns, ["initializer", "aggregator"]);
    return this.fold(
      name,
      requireValueSerde(name, options?.value),
      (k, v) => fns.aggregator(k, v, fns.initializer()),
      fns.aggregator,
      options,
    );
  }
}
