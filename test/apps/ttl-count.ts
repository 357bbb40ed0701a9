/**
 * A count per key whose entries expire 100 ms (stream time) after their last update: `<prefix>-in` → `<prefix>-out`
 * (the running count). Its results depend on stream time, which is what the stream-time test makes survive a restart.
 */
import { Serdes, TopologyBuilder } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "ttl";
const s = Serdes.string();

export function ttlCount(prefix: string) {
  const builder = new TopologyBuilder(`${prefix}-app`);
  builder
    .stream(`${prefix}-in`, { key: s, value: s })
    .groupByKey("by-key")
    .count("counts", { ttlMs: 100 })
    .toStream("updates")
    .to(`${prefix}-out`, { key: s, value: Serdes.json<number | null>() });
  return builder.build();
}

export const topology = ttlCount(prefix);
