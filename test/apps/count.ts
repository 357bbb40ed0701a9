/**
 * A per-key count: the stateful topology the engine's integration tests run in worker processes.
 * Input `<prefix>-input` (key: string, value: anything) → output `<prefix>-counts` (key, "n" as the
 * running count of that key, one output per input). WEIR_TEST_PREFIX names the topics and the app.
 */
import { map } from "rxjs";
import { Serdes, Stores, TopologyBuilder, type ProcessorFactory } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "count";

const count: ProcessorFactory<string, string, string, string> = (ctx) => {
  const counts = ctx.keyValueStore<string, number>("counts");
  return map((r) => {
    const n = (counts.get(r.key) ?? 0) + 1;
    counts.put(r.key, n);
    return { key: r.key, value: `${r.value}:${n}` };
  });
};

const builder = new TopologyBuilder(`${prefix}-app`);
builder.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
builder
  .stream(`${prefix}-input`, { key: Serdes.string(), value: Serdes.string() })
  .process("count", count, { stores: ["counts"] })
  .to(`${prefix}-counts`, { key: Serdes.string(), value: Serdes.string() });

export const topology = builder.build();
