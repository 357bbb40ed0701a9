import { execFileSync } from "node:child_process";

/**
 * Integration tests run against a real Kafka broker: KAFKA_BROKERS if set (scripts/run.sh sets it),
 * otherwise the project's local broker, started here if it is not running (it is left running).
 */
export default function setup(): void {
  if (!process.env.KAFKA_BROKERS) {
    const address = execFileSync("bash", ["scripts/broker.sh", "start"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    })
      .trim()
      .split("\n")
      .pop();
    process.env.KAFKA_BROKERS = address;
  }
  process.stderr.write(`integration tests use the Kafka cluster at ${process.env.KAFKA_BROKERS}\n`);
}
