/**
 * A per-key count over two co-partitioned input topics in one sub-topology (a merge): task p reads partition p of
 * `<prefix>-left` and of `<prefix>-right` and counts both into one store, as a join's task holds both sides. Output
 * `<prefix>-counts`: one record per input, value `<input value>:<running count of the key over both topics>`.
 */
import { Serdes, TopologyBuilder } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "two";
const s = { key: Serdes.string(), value: Serdes.string() };

const builder = new TopologyBuilder(`${prefix}-app`);
builder
  .stream(`${prefix}-left`, s)
  .merge("both", builder.stream(`${prefix}-right`, s))
  .groupByKey("by-key", s)
  .aggregate(
    "count",
    {
      initializer: () => ({ n: 0, last: "" }),
      aggregator: (_key, value: string, agg: { n: number; last: string }) => ({ n: agg.n + 1, last: value }),
    },
    { value: Serdes.json<{ n: number; last: string }>() },
  )
  .toStream("changes")
  .mapValues("format", (agg) => (agg ? `${agg.last}:${agg.n}` : ""))
  .to(`${prefix}-counts`, s);

export const topology = builder.build();
