/**
 * Short-lived Kafka clients for the operator commands: configured like the worker's (brokers, the user's --kafka
 * properties), connected with a bounded timeout, always closed, and with librdkafka's plain-object errors turned
 * into Errors whose message says which step failed.
 */
import { hostname } from "node:os";
import {
  Kafka,
  connect,
  createAdmin,
  describeKafkaError,
  disconnect,
  type IAdminClient,
  type KafkaConfig,
  type KafkaConsumer,
  type Producer,
} from "../topology/kafka.js";
import { ConfigError, errorMessage } from "../topology/errors.js";
import { redactText, saslError, showProperty, watchSecurity } from "../topology/security.js";
import type { WeirConfig } from "./config.js";

/**
 * The user's librdkafka properties that librdkafka refuses one by one (unknown, or an invalid value): a ConfigError
 * (exit 2) naming them, before a command connects anywhere. Constructing a client checks each property as it is
 * set and throws; it creates no librdkafka handle.
 */
export function checkKafkaProperties(kafka: Readonly<KafkaConfig>): void {
  const refused: string[] = [];
  for (const [k, v] of Object.entries(kafka))
    try {
      new Kafka.Producer({ [k]: v } as never);
    } catch (err) {
      refused.push(`${showProperty(k, v)} (${redactText(errorMessage(err), kafka)})`);
    }
  if (refused.length > 0)
    throw new ConfigError(
      `librdkafka rejects the kafka option${refused.length > 1 ? "s" : ""} ${refused.join(", ")}: change or remove ` +
        `${refused.length > 1 ? "them" : "it"} (--kafka KEY=VALUE, WEIR_KAFKA_<KEY>, or "kafka" in the config file)`,
    );
}

/** librdkafka config of a CLI client: brokers, a recognisable client.id, then the user's --kafka properties. */
export function cliClientConfig(config: WeirConfig, role: string): KafkaConfig {
  checkKafkaProperties(config.kafka);
  return {
    "bootstrap.servers": config.brokers,
    "client.id": `weir-cli-${role}-${hostname()}-${process.pid}`,
    ...config.kafka,
  };
}

/**
 * Runs a Kafka step; a failure becomes an Error naming the step and the broker's reason. A ConfigError (a broker
 * refusing the client's SASL, see topology/security.ts) says everything itself and stays one (exit 2).
 */
export async function kafkaStep<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new Error(`${what}: ${describeKafkaError(err)}`, { cause: err });
  }
}

export async function withProducer<T>(config: KafkaConfig, fn: (p: Producer) => Promise<T>): Promise<T> {
  const producer = new Kafka.Producer(config as never);
  await kafkaStep(
    `cannot connect to Kafka at ${String(config["bootstrap.servers"])} (check --brokers / KAFKA_BROKERS)`,
    () => connect(producer),
  );
  try {
    return await fn(producer);
  } finally {
    await disconnect(producer);
  }
}

export async function withConsumer<T>(config: KafkaConfig, fn: (c: KafkaConsumer) => Promise<T>): Promise<T> {
  const consumer = new Kafka.KafkaConsumer(config as never, {});
  await kafkaStep(
    `cannot connect to Kafka at ${String(config["bootstrap.servers"])} (check --brokers / KAFKA_BROKERS)`,
    () => connect(consumer),
  );
  try {
    return await fn(consumer);
  } finally {
    await disconnect(consumer);
  }
}

/**
 * An admin client for `fn`, always closed. A request that fails after the broker refused the client's SASL fails
 * with that ConfigError instead (the admin client has no connect step that would say so).
 */
export async function withAdmin<T>(config: KafkaConfig, fn: (a: IAdminClient) => Promise<T>): Promise<T> {
  const admin = createAdmin(config);
  const watch = watchSecurity(admin as unknown as Parameters<typeof watchSecurity>[0], config);
  try {
    return await fn(admin);
  } catch (err) {
    const failure = watch.failure();
    throw failure ? saslError(failure, config) : err;
  } finally {
    watch.stop();
    admin.disconnect();
  }
}

/** Polls until `check` is true or the timeout passes; returns whether it became true. */
export async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
