/**
 * The chaos run (test/helpers/chaos.ts): the order pipeline on a local three-broker cluster under continuous load,
 * with seeded faults — workers killed, stopped, added, removed and paused past the session timeout, brokers killed.
 *
 *   npm run chaos -- [--orders N] [--workers W] [--duration SECONDS] [--seed X] [--fault-every SECONDS]
 *                    [--kinds worker-kill,broker-kill,...] [--bad-input N] [--cluster-port P] [--out FILE]
 *
 * Prints the report as JSON (and writes it to --out) and exits 1 if any order's status is missing or doubled, a stock
 * level is wrong, or any other check of the verifier fails.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { FAULT_KINDS, runChaos, type FaultKind } from "../test/helpers/chaos.js";

const { values } = parseArgs({
  options: {
    orders: { type: "string", default: "60000" },
    workers: { type: "string", default: "3" },
    duration: { type: "string", default: "1800" },
    seed: { type: "string" },
    "fault-every": { type: "string", default: "30" },
    kinds: { type: "string" },
    "bad-input": { type: "string", default: "0" },
    "cluster-port": { type: "string", default: "19900" },
    out: { type: "string" },
  },
});
const num = (name: string, v: string | undefined, min = 0): number => {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) {
    console.error(`chaos: --${name} must be an integer >= ${min}, got '${v}'`);
    process.exit(2);
  }
  return n;
};
const kinds = (values.kinds?.split(",") ?? [...FAULT_KINDS]) as FaultKind[];
for (const k of kinds)
  if (!FAULT_KINDS.includes(k)) {
    console.error(`chaos: unknown fault kind '${k}' (kinds: ${FAULT_KINDS.join(", ")})`);
    process.exit(2);
  }
const report = await runChaos({
  orders: num("orders", values.orders, 1),
  workers: num("workers", values.workers, 1),
  durationMs: num("duration", values.duration, 10) * 1000,
  seed: values.seed === undefined ? Math.floor(Math.random() * 1e6) : num("seed", values.seed),
  faultEveryMs: num("fault-every", values["fault-every"], 1) * 1000,
  kinds,
  badInput: num("bad-input", values["bad-input"]),
  clusterPort: num("cluster-port", values["cluster-port"], 1024),
  log: (l) => console.error(l),
});
const text = JSON.stringify(report, null, 2);
if (values.out) writeFileSync(values.out, text + "\n");
console.log(text);
process.exit(
  report.ok && report.duplicated === 0 && report.missing === 0 && report.stockViolations === 0 ? 0 : 1,
);
