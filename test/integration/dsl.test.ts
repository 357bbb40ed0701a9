/**
 * The DSL on a real broker under exactly-once: the customer-orders example (a table join, a global table,
 * groupBy → count, aggregate, a table re-grouped with a subtractor) in two worker processes, one SIGKILLed in the
 * middle of the orders and started again on its state directory. The final tables on the output topics equal the
 * reference computed in the test from the inputs alone, and no order is enriched twice.
 */
import { afterEach, describe, expect, it } from "vitest";
import { customerOrdersTopics } from "../../examples/customer-orders.js";
import {
  customerOrdersInputs,
  customerOrdersReference,
  type CustomerOrdersResult,
} from "../helpers/customer-orders.js";
import {
  committedOffsets,
  consumeAll,
  endOffsets,
  produceAll,
  uniqueName,
  waitFor,
  type ConsumedRecord,
} from "../helpers/kafka.js";
import { WorkerProcess, runWeir } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const json = (r: ConsumedRecord): unknown => (r.value === null ? null : JSON.parse(r.value));
const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** The table an output topic carries: the last value per key. */
async function table(topic: string): Promise<Map<string, unknown>> {
  const records = await consumeAll(topic, { isolation: "read_committed", timeoutMs: 60_000 });
  const out = new Map<string, unknown>();
  for (const r of records) out.set(r.key!, json(r));
  return out;
}

describe("the DSL on a real broker", () => {
  it.each([
    ["its own changelog", "0"],
    ["the source topic as its changelog", "1"],
  ])(
    "customer orders under exactly-once, a worker SIGKILLed, the customers table with %s: final tables equal the reference",
    async (_, sourceChangelog) => {
      const prefix = `${uniqueName("dsl")}-`;
      const topics = customerOrdersTopics(prefix);
      const env = { WEIR_TEST_PREFIX: prefix, WEIR_TEST_SOURCE_CHANGELOG: sourceChangelog };
      const app = ["--app", "test/apps/customer-orders.ts"];

      // `weir topics create` makes every topic the app needs: inputs, outputs, the global table's (compacted),
      // repartition topics and changelogs.
      const created = await runWeir(["topics", "create", ...app, "--partitions", "3"], env);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toContain(topics.regions);
      expect(created.stdout.includes(`${prefix}app-customers-changelog`)).toBe(sourceChangelog === "0");

      const inputs = customerOrdersInputs(11, 200, 6000, 90);
      const expected = customerOrdersReference(inputs);
      const produce = (topic: string, records: Array<[string, unknown]>, from: number) =>
        produceAll(
          topic,
          records.map(([key, value], i) => ({
            key,
            value: value === null ? null : JSON.stringify(value),
            timestamp: from + i,
          })),
          { config: { partitioner: "murmur2_random" } },
        );
      const t0 = Date.now() - 3_600_000;
      await produce(topics.regions, inputs.regions, t0);
      await produce(topics.customers, inputs.customers, t0 + 1000);

      const worker = (stateDir?: string) =>
        new WorkerProcess({
          args: [...app, "--commit-interval-ms", "100"],
          env,
          ...(stateDir ? { stateDir } : {}),
        });
      const a = worker().start();
      const b = worker().start();
      running.push(a, b);
      await Promise.all([a.waitReady(120_000), b.waitReady(120_000)]);
      // Each worker restored the global table from its topic before it was ready.
      for (const w of [a, b]) expect(w.logs.some((l) => l.msg === "global tables restored")).toBe(true);

      // Orders in two halves; the first worker is killed once part of the output is committed.
      const half = inputs.orders.length / 2;
      await produce(topics.orders, inputs.orders.slice(0, half), t0 + 100_000);
      await waitFor(
        "some enriched orders to be committed",
        async () =>
          (await endOffsets(topics.enriched, "read_committed").then(sum)) > 500 ? true : undefined,
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      a.kill("SIGKILL");
      await a.exited();
      await produce(topics.orders, inputs.orders.slice(half), t0 + 100_000 + half);
      const again = worker(a.stateDir).start();
      running.push(again);
      await again.waitReady(120_000);

      const settled = async (topic: string, want: Map<string, number>) =>
        waitFor(
          `${topic} to hold the reference table`,
          async () => {
            const got = await table(topic);
            return [...want].every(([k, v]) => got.get(k) === v) ? got : undefined;
          },
          { timeoutMs: 180_000, intervalMs: 1000 },
        );
      await settled(topics.revenuePerCustomer, expected.revenuePerCustomer);
      await settled(topics.ordersPerRegion, expected.ordersPerRegion);

      // Customers change after the orders (moves between regions, deletions, returns) through the table
      // re-grouping, and the worker is SIGKILLed again while it works through them: its table is restored up to the
      // committed offset of the customers topic, the rest processed, so every old value subtracted is the right one.
      const committedCustomers = () => committedOffsets(`${prefix}app`, topics.customers).then(sum);
      const before = await committedCustomers();
      await produce(topics.customers, inputs.changes, t0 + 200_000);
      await waitFor(
        "some customer changes to be committed",
        async () => ((await committedCustomers()) > before + 100 ? true : undefined),
        { timeoutMs: 120_000, intervalMs: 20 },
      );
      again.kill("SIGKILL");
      await again.exited();
      const killedAt = (await committedCustomers()) - before;
      const third = worker(again.stateDir).start();
      running.push(third);
      await third.waitReady(120_000);
      await settled(topics.customersPerRegion, expected.customersPerRegion);
      console.log(
        `dsl: second SIGKILL after ${killedAt} of ${inputs.changes.length} customer changes were committed; ` +
          `the restarted worker restored ${third.restored().reduce((n, r) => n + r.records, 0)} records`,
      );

      const result: CustomerOrdersResult = {
        enriched: new Map(),
        ordersPerRegion: (await table(topics.ordersPerRegion)) as Map<string, number>,
        revenuePerCustomer: (await table(topics.revenuePerCustomer)) as Map<string, number>,
        customersPerRegion: (await table(topics.customersPerRegion)) as Map<string, number>,
      };
      const enriched = await consumeAll(topics.enriched, { isolation: "read_committed", timeoutMs: 60_000 });
      for (const r of enriched) {
        const order = json(r) as { orderId: string; customer: string; region: string; amount: number };
        expect(result.enriched.has(order.orderId), `order ${order.orderId} enriched twice`).toBe(false);
        result.enriched.set(order.orderId, {
          customer: order.customer,
          region: order.region,
          amount: order.amount,
        });
      }
      console.log(
        `dsl: ${inputs.orders.length} orders, ${enriched.length} enriched (${expected.enriched.size} expected), ` +
          `${result.ordersPerRegion.size} regions, ${result.revenuePerCustomer.size} customers with revenue, ` +
          `worker restarted after SIGKILL restored ${again.restored().reduce((n, r) => n + r.records, 0)} records`,
      );
      expect(result).toEqual(expected);
      expect(result.ordersPerRegion.get("unknown")).toBeGreaterThan(0);

      // The tables are stores `weir state` reads: here from the running workers, each answering for its partitions.
      const fromState = new Map<string, number>();
      for (const w of [third, b]) {
        const scan = await runWeir(
          ["state", "scan", "customers-per-region", ...app, "--url", w.url, "--limit", "1000", "--json"],
          env,
        );
        expect(scan.code, scan.stderr).toBe(0);
        for (const e of (JSON.parse(scan.stdout) as { entries: Array<{ key: string; value: number }> })
          .entries)
          fromState.set(e.key, e.value);
      }
      expect(fromState).toEqual(expected.customersPerRegion);
    },
  );
});
