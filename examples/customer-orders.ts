/**
 * Customer orders: the DSL end to end, runnable with `weir worker --app examples/customer-orders.ts`.
 *
 *   customers (table)  ──────────────┐
 *   orders ── selectKey(customerId) ─ join ── leftJoin(regions, global) ── orders-enriched
 *                                                 ├─ groupBy(region).count()          ── orders-per-region
 *                                                 └─ groupByKey().aggregate(sum)      ── revenue-per-customer
 *   customers ── groupBy(region).count() (moves between regions subtract, then add)   ── customers-per-region
 *
 * Inputs (JSON values, string keys): `customers` keyed by customer id ({ name, region }; a null value deletes the
 * customer), `regions` keyed by region code ({ name }), `orders` keyed by order id ({ orderId, customerId, amount }).
 */
import { Serdes, TopologyBuilder, type Topology } from "../topology/index.js";

export interface Customer {
  name: string;
  region: string;
}
export interface Region {
  name: string;
}
export interface Order {
  orderId: string;
  customerId: string;
  amount: number;
}
export interface EnrichedOrder extends Order {
  customer: string;
  region: string;
}

export interface CustomerOrdersOptions {
  appId?: string;
  /** Prefix of every topic name (tests run the app on topics of their own). */
  prefix?: string;
  /** Use the customers topic as the customers table's changelog (Kafka Streams' source-topic optimization). */
  sourceChangelog?: boolean;
}

export function customerOrdersTopics(prefix = "") {
  return {
    customers: `${prefix}customers`,
    regions: `${prefix}regions`,
    orders: `${prefix}orders`,
    enriched: `${prefix}orders-enriched`,
    ordersPerRegion: `${prefix}orders-per-region`,
    revenuePerCustomer: `${prefix}revenue-per-customer`,
    customersPerRegion: `${prefix}customers-per-region`,
  };
}

export function customerOrders(options: CustomerOrdersOptions = {}): Topology {
  const topics = customerOrdersTopics(options.prefix);
  const key = Serdes.string();
  const count = { key, value: Serdes.json<number | null>(), topicConfig: { "cleanup.policy": "compact" } };
  const builder = new TopologyBuilder(options.appId ?? "customer-orders");

  const customers = builder.table(topics.customers, {
    key,
    value: Serdes.json<Customer>(),
    store: "customers",
    sourceChangelog: options.sourceChangelog ?? false,
  });
  const regions = builder.globalTable(topics.regions, {
    key,
    value: Serdes.json<Region>(),
    store: "regions",
  });

  const enriched = builder
    .stream(topics.orders, { key, value: Serdes.json<Order>() })
    .selectKey("by-customer", (r) => r.value.customerId)
    .join("with-customer", customers, (order, customer) => ({
      ...order,
      customer: customer.name,
      region: customer.region,
    }))
    .leftJoin(
      "with-region",
      regions,
      (r) => r.value.region,
      (order, region) => ({ ...order, region: region?.name ?? "unknown" }) as EnrichedOrder,
    );
  enriched.to(topics.enriched, { key, value: Serdes.json<EnrichedOrder>() });

  enriched
    .groupBy("orders-by-region", (r) => r.value.region, { key, value: Serdes.json<EnrichedOrder>() })
    .count("orders-per-region")
    .toStream("orders-per-region-updates")
    .to(topics.ordersPerRegion, count);

  enriched
    .groupByKey("orders-by-customer", { key, value: Serdes.json<EnrichedOrder>() })
    .aggregate(
      "revenue-per-customer",
      { initializer: () => 0, aggregator: (_customer, order, sum) => sum + order.amount },
      { value: Serdes.number() },
    )
    .toStream("revenue-updates")
    .to(topics.revenuePerCustomer, count);

  customers
    .groupBy("customers-by-region", (id, c) => ({ key: c.region, value: id }), { key, value: key })
    .count("customers-per-region")
    .toStream("customers-per-region-updates")
    .to(topics.customersPerRegion, count);

  return builder.build();
}

/** What `weir worker --app examples/customer-orders.ts` runs. */
export function createTopology(): Topology {
  return customerOrders();
}
