/**
 * A windowed count with final results: `<prefix>-in` (key, any value) counted per key in tumbling 1-second windows
 * (no grace), each window's count forwarded once when it closes, to `<prefix>-out` keyed `<key>@<window start>`.
 */
import { Serdes, TimeWindows, TopologyBuilder } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "windowed";
const s = Serdes.string();

const builder = new TopologyBuilder(`${prefix}-app`);
builder
  .stream(`${prefix}-in`, { key: s, value: s })
  .groupByKey("by-key")
  .windowedBy(TimeWindows.ofSizeWithNoGrace(1000))
  .count("counts", { emit: "onWindowClose" })
  .toStream("finals")
  .map("window-key", (r) => ({ key: `${r.key.key}@${r.key.start}`, value: r.value }))
  .to(`${prefix}-out`, { key: s, value: Serdes.json<number | null>() });

export const topology = builder.build();
