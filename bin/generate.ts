import { DEFAULT_PIPELINE_OPTIONS, Topics } from "../processors/app.js";
import {
  MAX_DATE_MS,
  NO_MAX,
  intFlag,
  numberFlag,
  parse,
  renderHelp,
  runCommand,
  UsageError,
  type CommandHelp,
} from "./args.js";
import type { Command } from "./command.js";
import { DEFAULT_BROKERS } from "./config.js";
import { produceRecords, topicPartitions } from "./workload-kafka.js";
import {
  DEFAULT_WORKLOAD,
  generateWorkload,
  type Workload,
  type WorkloadOptions,
} from "../processors/workload.js";

/** Flags shared by generate, verify and demo: the workload's shape (verify must be given the same values). */
export const workloadFlagSpec = {
  orders: { type: "string" },
  seed: { type: "string" },
  rate: { type: "string" },
  skus: { type: "string" },
  scarce: { type: "string" },
  "bad-input": { type: "string" },
} as const;

export const workloadFlagHelp: Array<[string, string]> = [
  ["--orders N", "number of orders (distinct orderIds)"],
  ["--seed S", "PRNG seed: the same seed and flags give the same records, byte for byte (default 1)"],
  ["--rate R", `orders per second of simulated event time (default ${DEFAULT_WORKLOAD.rate})`],
  ["--skus K", `distinct skus; about a tenth are scarce (default ${DEFAULT_WORKLOAD.skus})`],
  ["--scarce F", `share of orders with a line of a scarce sku, 0..1 (default ${DEFAULT_WORKLOAD.scarce})`],
  [
    "--bad-input N",
    "also N bad records among the valid ones: invalid JSON, garbage, null keys and values, oversized, wrong types, unknown currencies, late, strays... (processors/hostile.ts; default 0)",
  ],
];

type Values = Record<string, string | boolean | string[] | undefined>;

export function workloadOptions(
  values: Values,
  defaults: { orders?: number } = {},
): Omit<WorkloadOptions, "paymentPartitions"> {
  if (values.orders === undefined && defaults.orders === undefined)
    throw new UsageError("--orders N is required");
  return {
    // The workload is generated in memory before it is produced.
    orders: intFlag("orders", values.orders as string | undefined, defaults.orders ?? 0, 1, 10_000_000),
    // mulberry32 takes a 32-bit seed.
    seed: intFlag("seed", values.seed as string | undefined, 1, 0, 0xffff_ffff),
    rate: numberFlag("rate", values.rate as string | undefined, DEFAULT_WORKLOAD.rate, 0.001, NO_MAX),
    skus: intFlag("skus", values.skus as string | undefined, DEFAULT_WORKLOAD.skus, 1, 1_000_000),
    scarce: numberFlag("scarce", values.scarce as string | undefined, DEFAULT_WORKLOAD.scarce, 0, 1),
    startMs: DEFAULT_WORKLOAD.startMs,
    pipeline: DEFAULT_PIPELINE_OPTIONS,
    badInput: intFlag("bad-input", values["bad-input"] as string | undefined, 0, 0, 1_000_000),
  };
}

export function parseStart(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === "now") return Math.floor(Date.now() / 1000) * 1000;
  if (/^[-+]?\d+$/.test(value.trim())) return intFlag("start", value, 0, 0, MAX_DATE_MS);
  const ms = Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new UsageError(`--start must be epoch ms, an ISO date or 'now', got '${value}'`);
  return ms;
}

/** A progress line: a bar on a TTY (redrawn in place), plain lines every 10% otherwise. */
export function progressReporter(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
  let lastDecile = -1;
  let lastDraw = 0;
  const started = Date.now();
  return {
    update(done: number) {
      const fraction = total === 0 ? 1 : Math.min(1, done / total);
      if (stream.isTTY) {
        const now = Date.now();
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        const width = 30;
        const filled = Math.round(fraction * width);
        const rate = done / Math.max(0.001, (now - started) / 1000);
        stream.write(
          `\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ` +
            `${(fraction * 100).toFixed(0).padStart(3)}% ${Math.round(rate)}/s `,
        );
      } else {
        const decile = Math.floor(fraction * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          stream.write(`${label}: ${done}/${total} (${decile * 10}%)\n`);
        }
      }
    },
    done() {
      if (stream.isTTY) stream.write("\n");
    },
  };
}

/** Generate and produce a workload; returns it (for the demo). */
export async function produceWorkload(
  brokers: string,
  options: Omit<WorkloadOptions, "paymentPartitions">,
  progress: boolean,
): Promise<{ workload: Workload; seconds: number }> {
  const partitions = await topicPartitions(brokers);
  const missing = [Topics.orders, Topics.payments, Topics.restocks].filter((t) => !partitions.has(t));
  if (missing.length > 0)
    throw new Error(
      `input topics do not exist: ${missing.join(", ")}; create them first (weir topics create, or weir demo)`,
    );
  const workload = generateWorkload({ ...options, paymentPartitions: partitions.get(Topics.payments)! });
  const bar = progress ? progressReporter("producing", workload.records.length) : undefined;
  const started = Date.now();
  await produceRecords(brokers, workload.records, { onProgress: (n) => bar?.update(n) });
  bar?.done();
  return { workload, seconds: (Date.now() - started) / 1000 };
}

const help: CommandHelp = {
  usage: "weir generate --orders N [--seed S] [--rate R] [--skus K] [--scarce F] [--start T] [--json]",
  summary:
    "Produce a deterministic order workload to the input topics (orders, payments, restocks): valid orders, each\n" +
    "kind of invalid order, malformed bytes, duplicate orders; payments in window, early, late, missing, declined,\n" +
    "with a wrong amount, duplicated; initial stock then restocks, with a share of orders competing for scarce\n" +
    "stock. Event times come from a simulated clock and are the records' Kafka timestamps. Idempotent producer,\n" +
    "murmur2_random partitioner; waits for every delivery report. Writes nothing but the input topics, which must\n" +
    "exist. Check the result with 'weir verify' and the same flags.",
  flags: [
    ...workloadFlagHelp,
    [
      "--start T",
      "clock start: epoch ms, ISO date or 'now' (default now: old timestamps fall to retention.ms; a fixed start gives identical bytes)",
    ],
    ["--brokers LIST", "Kafka bootstrap servers (env KAFKA_BROKERS; default 127.0.0.1:9092)"],
    ["--json", "print the summary as JSON"],
  ],
  examples: [
    "weir generate --orders 10000 --seed 42",
    "weir generate --orders 500 --seed 7 --scarce 0.5 --skus 10 --json",
    "weir generate --orders 2000 --seed 3 && weir verify --orders 2000 --seed 3",
    "weir generate --orders 100 --seed 3 --start 2026-01-01T00:00:00Z   # the same bytes every run",
  ],
};

export const generateCommand: Command = {
  name: "generate",
  summary: "produce a deterministic order workload to the input topics",
  run: (argv) =>
    runCommand("generate", help, async () => {
      const { values } = parse(argv, {
        ...workloadFlagSpec,
        start: { type: "string" },
        brokers: { type: "string" },
        json: { type: "boolean" },
      });
      if (values.help) {
        process.stdout.write(renderHelp(help));
        return 0;
      }
      const options = {
        ...workloadOptions(values),
        startMs: parseStart(values.start as string | undefined, Math.floor(Date.now() / 1000) * 1000),
      };
      const brokers = (values.brokers as string | undefined) ?? process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS;
      const { workload, seconds } = await produceWorkload(brokers, options, !values.json);
      const summary = { ...workload.summary, seed: options.seed, startMs: options.startMs, seconds };
      if (values.json) process.stdout.write(JSON.stringify(summary) + "\n");
      else {
        const produced = Object.values(workload.summary.records).reduce((a, b) => a + b, 0);
        process.stdout.write(
          `produced ${produced} records in ${seconds.toFixed(1)} s (${Math.round(produced / Math.max(seconds, 0.001))}/s)\n` +
            Object.entries(workload.summary.records)
              .map(([t, n]) => `  ${t.padEnd(10)} ${n}\n`)
              .join("") +
            `orders by kind: ${Object.entries(workload.summary.kinds)
              .map(([k, n]) => `${k}=${n}`)
              .join(" ")}\n` +
            `duplicate orders: ${workload.summary.duplicateOrders}, malformed records: ${workload.summary.malformed}, ` +
            `risk-rejected orders (expected REJECTED_RISK): ${workload.summary.riskRejected}, ` +
            `scarce skus: ${workload.summary.scarceSkus.join(", ")}\n`,
        );
      }
      return 0;
    }),
};
