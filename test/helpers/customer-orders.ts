/**
 * Inputs for the customer-orders example and the results they must give, computed here from the inputs alone
 * (plain maps and loops, no weir code), for the driver test and the real-broker test.
 */
import type { Customer, Order, Region } from "../../examples/customer-orders.js";
import { prng } from "../../processors/workload.js";

export interface CustomerOrdersInputs {
  regions: Array<[string, Region]>;
  /** Customers before any order. */
  customers: Array<[string, Customer]>;
  orders: Array<[string, Order]>;
  /** Customer changes after every order is processed: a move to another region, or a deletion (null). */
  changes: Array<[string, Customer | null]>;
}

/** `rounds`: how many times a third of the customers change (move region, or are deleted and later come back). */
export function customerOrdersInputs(
  seed: number,
  customers: number,
  orders: number,
  rounds = 1,
): CustomerOrdersInputs {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const regionCodes = ["eu", "us", "apac", "latam"];
  // "mars" has no row in the regions table: its orders are enriched with region "unknown" (the left join).
  const customerRegions = [...regionCodes, "mars"];
  const result: CustomerOrdersInputs = {
    regions: regionCodes.map((code) => [code, { name: `region-${code}` }]),
    customers: [],
    orders: [],
    changes: [],
  };
  for (let c = 0; c < customers; c++)
    result.customers.push([`c${c}`, { name: `customer ${c}`, region: pick(customerRegions) }]);
  for (let o = 0; o < orders; o++) {
    // One order in ten is for a customer who does not exist: the inner join drops it.
    const customerId = rnd() < 0.1 ? `ghost${o % 7}` : `c${Math.floor(rnd() * customers)}`;
    result.orders.push([`o${o}`, { orderId: `o${o}`, customerId, amount: 1 + Math.floor(rnd() * 100) }]);
  }
  for (let r = 0; r < rounds; r++)
    for (let c = r % 3; c < customers; c += 3)
      result.changes.push([
        `c${c}`,
        rnd() < 0.3 ? null : { name: `customer ${c}`, region: pick(customerRegions) },
      ]);
  return result;
}

export interface CustomerOrdersResult {
  enriched: Map<string, { customer: string; region: string; amount: number }>;
  ordersPerRegion: Map<string, number>;
  revenuePerCustomer: Map<string, number>;
  customersPerRegion: Map<string, number>;
}

export function customerOrdersReference(inputs: CustomerOrdersInputs): CustomerOrdersResult {
  const regions = new Map(inputs.regions);
  const customers = new Map<string, Customer>(inputs.customers);
  const result: CustomerOrdersResult = {
    enriched: new Map(),
    ordersPerRegion: new Map(),
    revenuePerCustomer: new Map(),
    customersPerRegion: new Map(),
  };
  const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
  for (const [, order] of inputs.orders) {
    const customer = customers.get(order.customerId);
    if (!customer) continue;
    const region = regions.get(customer.region)?.name ?? "unknown";
    result.enriched.set(order.orderId, { customer: customer.name, region, amount: order.amount });
    add(result.ordersPerRegion, region, 1);
    add(result.revenuePerCustomer, order.customerId, order.amount);
  }
  // Regions ever holding a customer keep a row (a count that fell to 0 stays 0, as in Kafka Streams).
  for (const [, c] of inputs.customers) add(result.customersPerRegion, c.region, 1);
  for (const [id, change] of inputs.changes) {
    const before = customers.get(id);
    if (before) add(result.customersPerRegion, before.region, -1);
    if (change) {
      customers.set(id, change);
      add(result.customersPerRegion, change.region, 1);
    } else customers.delete(id);
  }
  return result;
}
