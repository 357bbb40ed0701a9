/**
 * The per-key count of bench/apps.ts as an app file for `weir worker --app` (the suite's `--processes` runs):
 * WEIR_BENCH_APP_ID, WEIR_BENCH_INPUT and WEIR_BENCH_OUTPUT name the app and its topics.
 */
import { countTopology } from "./apps.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set (bench/count-app.ts is run by 'npm run bench -- --processes N')`);
  return value;
};

export const topology = countTopology(
  env("WEIR_BENCH_APP_ID"),
  env("WEIR_BENCH_INPUT"),
  env("WEIR_BENCH_OUTPUT"),
);
