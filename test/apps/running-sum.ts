/**
 * Echo with a running sum per key: the topology the crash-loop test runs. Input `<prefix>-input` (key: string,
 * value: an integer as text) → output `<prefix>-sums`, one record per input: `{ p, o, v, sum }` with the input's
 * partition and offset, its value and the key's running sum including it. Both topics have the same partition count
 * and keys are placed by murmur2 on both sides, so output partition p is a pure function of input partition p: the
 * running fold of its records in offset order. WEIR_TEST_PREFIX names the topics and the app.
 */
import { map } from "rxjs";
import { Serdes, Stores, TopologyBuilder, type ProcessorFactory } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "sum";

export interface SumOutput {
  p: number;
  o: number;
  v: number;
  sum: number;
}

const runningSum: ProcessorFactory<string, string, string, SumOutput> = (ctx) => {
  const sums = ctx.keyValueStore<string, number>("sums");
  return map((r) => {
    const v = Number(r.value);
    const sum = (sums.get(r.key) ?? 0) + v;
    sums.put(r.key, sum);
    return { key: r.key, value: { p: r.partition, o: r.offset, v, sum } };
  });
};

const builder = new TopologyBuilder(`${prefix}-app`);
builder.store("sums", Stores.keyValue(Serdes.string(), Serdes.number()));
builder
  .stream(`${prefix}-input`, { key: Serdes.string(), value: Serdes.string() })
  .process("running-sum", runningSum, { stores: ["sums"] })
  .to(`${prefix}-sums`, { key: Serdes.string(), value: Serdes.json<SumOutput>() });

export const topology = builder.build();
