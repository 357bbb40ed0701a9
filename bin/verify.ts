import { DeadLetterHeader } from "../topology/index.js";
import { Topics } from "../processors/app.js";
import { parse, renderHelp, runCommand, type CommandHelp } from "./args.js";
import type { Command } from "./command.js";
import { DEFAULT_BROKERS } from "./config.js";
import { workloadFlagHelp, workloadFlagSpec, workloadOptions } from "./generate.js";
import { readToEnd, type ReadRecord } from "./workload-kafka.js";
import {
  generateWorkload,
  verifyWorkload,
  type VerifyReport,
  type Workload,
  type WorkloadOptions,
} from "../processors/workload.js";

const decodeJson = (r: ReadRecord) => {
  let value: unknown = null;
  try {
    value = r.value === null ? null : JSON.parse(r.value.toString("utf8"));
  } catch {
    value = { undecodable: r.value?.toString("base64") };
  }
  return { key: r.key?.toString("utf8") ?? null, value };
};

/** Read order-status, stock-levels and the dead-letter topic (read_committed) and check them against the seed. */
export async function verifyOnKafka(
  brokers: string,
  options: Omit<WorkloadOptions, "paymentPartitions">,
): Promise<VerifyReport & { seconds: number }> {
  const started = Date.now();
  const workload = generateWorkload({ ...options, paymentPartitions: 1 });
  const { report } = await verifyTopics(brokers, workload, Topics.deadLetter);
  return { ...report, seconds: (Date.now() - started) / 1000 };
}

/**
 * Check a generated workload against order-status, stock-levels and `deadLetterTopic` as they are on Kafka
 * (read_committed): the dead-letter topic is a parameter for pipelines that are not weir's (bench/orders.ts).
 * `statusRecords`: the records read from order-status.
 */
export async function verifyTopics(
  brokers: string,
  workload: Workload,
  deadLetterTopic: string,
): Promise<{ report: VerifyReport; statusRecords: number }> {
  const [statuses, levels, deadLetters] = await Promise.all([
    readToEnd(brokers, Topics.orderStatus),
    readToEnd(brokers, Topics.stockLevels),
    readToEnd(brokers, deadLetterTopic),
  ]);
  const report = verifyWorkload(workload, {
    statuses: statuses.map(decodeJson),
    levels: levels.map(decodeJson),
    deadLetters: deadLetters.map((d) => ({
      key: d.key?.toString("utf8") ?? null,
      value: d.value,
      sourceTopic: d.headers[DeadLetterHeader.topic],
      truncated: d.headers[DeadLetterHeader.truncated] !== undefined,
    })),
  });
  return { report, statusRecords: statuses.length };
}

const help: CommandHelp = {
  usage: "weir verify --orders N [--seed S] [--rate R] [--skus K] [--scarce F]",
  summary:
    "Check the order pipeline's output against the workload a seed implies. Reads order-status, stock-levels and\n" +
    "the dead-letter topic (read_committed) to their ends and checks: every order has exactly one status (none\n" +
    "missing, none duplicated, none unknown); outcomes that do not depend on interleaving (validation, the risk\n" +
    "rule of processors/risk.ts, payment) are the expected ones, paid orders are CONFIRMED or REJECTED_STOCK\n" +
    "(CONFIRMED when all their skus are plentiful); per sku initial + restocks - confirmed = final level >= 0;\n" +
    "every malformed record is dead-lettered and nothing else is. Pass the flags given to 'weir generate'. Prints a JSON summary.\n" +
    "Exit status: 0 all checks pass, 1 differences, 2 usage error.",
  flags: [
    ...workloadFlagHelp,
    ["--brokers LIST", "Kafka bootstrap servers (env KAFKA_BROKERS; default 127.0.0.1:9092)"],
  ],
  examples: [
    "weir verify --orders 10000 --seed 42",
    "weir verify --orders 500 --seed 7 --scarce 0.5 --skus 10 | jq .checks",
  ],
};

export const verifyCommand: Command = {
  name: "verify",
  summary: "check order-status, stock-levels and the dead letters against the workload's seed",
  run: (argv) =>
    runCommand("verify", help, async () => {
      const { values } = parse(argv, { ...workloadFlagSpec, brokers: { type: "string" } });
      if (values.help) {
        process.stdout.write(renderHelp(help));
        return 0;
      }
      const options = workloadOptions(values);
      const brokers = (values.brokers as string | undefined) ?? process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS;
      const report = await verifyOnKafka(brokers, options);
      process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      return report.ok ? 0 : 1;
    }),
};
