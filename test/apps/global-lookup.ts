/**
 * A stream left-joined with a global table: `<prefix>-lookups` (key: anything, value: a reference id) joined with
 * the global table of `<prefix>-refs` → `<prefix>-joined` (value `<id>=<ref value or "none">`).
 */
import { Serdes, TopologyBuilder } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "global";
const s = Serdes.string();

const builder = new TopologyBuilder(`${prefix}-app`);
const refs = builder.globalTable(`${prefix}-refs`, {
  key: s,
  value: Serdes.json<{ label: string }>(),
  store: "refs",
});
builder
  .stream(`${prefix}-lookups`, { key: s, value: s })
  .leftJoin(
    "lookup",
    refs,
    (r) => r.value,
    (id, ref) => `${id}=${ref?.label ?? "none"}`,
  )
  .to(`${prefix}-joined`, { key: s, value: s });

export const topology = builder.build();
