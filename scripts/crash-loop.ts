/**
 * The long crash loop (test/helpers/crash-loop.ts) against the broker in KAFKA_BROKERS:
 *   npm run crash-loop -- [--duration SECONDS] [--kills N] [--rate RECORDS_PER_S] [--seed X]
 * Prints the report (kills, records, duplicates, misses) and exits 1 if any output is missing, doubled or wrong.
 */
import { parseArgs } from "node:util";
import { runCrashLoop } from "../test/helpers/crash-loop.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "600" },
    kills: { type: "string", default: "100" },
    rate: { type: "string", default: "2000" },
    seed: { type: "string" },
  },
});
const num = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`crash-loop: --${name} must be a non-negative integer, got '${v}'`);
    process.exit(2);
  }
  return n;
};
const report = await runCrashLoop({
  durationMs: num("duration", values.duration)! * 1000,
  minKills: num("kills", values.kills)!,
  rate: num("rate", values.rate),
  seed: num("seed", values.seed),
  log: (l) => console.log(l),
});
console.log(JSON.stringify(report, null, 2));
process.exit(
  report.duplicates + report.missing + report.wrong === 0 && report.outputs === report.inputs ? 0 : 1,
);
