import { describe, expect, it } from "vitest";
import { TopologyTestDriver } from "../topology/index.js";
import { customerOrdersInputs, customerOrdersReference } from "../test/helpers/customer-orders.js";
import { customerOrders, customerOrdersTopics } from "./customer-orders.js";

function lastValuesBy<R extends { value: unknown }>(
  id: (r: R) => string,
  records: R[],
): Map<string, R["value"]> {
  const out = new Map<string, R["value"]>();
  for (const r of records) out.set(id(r), r.value);
  return out;
}

/** The last value per key of an output topic: the table it carries. */
function lastValues<V>(records: Array<{ key: unknown; value: V }>): Map<string, V> {
  const out = new Map<string, V>();
  for (const r of records) out.set(String(r.key), r.value);
  return out;
}

describe("the customer-orders example in the test driver", () => {
  it("gives the reference results, computed from the inputs alone", () => {
    const inputs = customerOrdersInputs(7, 40, 600);
    const expected = customerOrdersReference(inputs);
    const topics = customerOrdersTopics();
    const driver = new TopologyTestDriver(customerOrders(), { partitions: 3, wallClockMs: 10_000_000 });
    let t = 1000;
    const pipe = (topic: string, records: Array<[string, unknown]>) =>
      driver.pipeInput(
        topic,
        records.map(([key, value]) => ({ key, value, timestamp: t++ })),
      );
    pipe(topics.regions, inputs.regions);
    pipe(topics.customers, inputs.customers);
    pipe(topics.orders, inputs.orders);
    pipe(topics.customers, inputs.changes);

    // One record per order that found its customer, none twice.
    expect(driver.records(topics.enriched).length).toBe(expected.enriched.size);
    // Keyed by customer: one record per order that found its customer.
    const enriched = lastValuesBy(
      (r) => r.value.orderId,
      driver.readOutput<string, { orderId: string; customer: string; region: string; amount: number }>(
        topics.enriched,
      ),
    );
    expect(enriched.size).toBe(expected.enriched.size);
    for (const [, order] of enriched) {
      const want = expected.enriched.get(order.orderId);
      expect(order).toMatchObject(want!);
    }
    expect(lastValues(driver.readOutput(topics.ordersPerRegion))).toEqual(expected.ordersPerRegion);
    expect(lastValues(driver.readOutput(topics.revenuePerCustomer))).toEqual(expected.revenuePerCustomer);
    expect(lastValues(driver.readOutput(topics.customersPerRegion))).toEqual(expected.customersPerRegion);
    expect(driver.deadLetters()).toEqual([]);
    driver.close();
  });
});
