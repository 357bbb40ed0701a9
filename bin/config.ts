import { readFileSync } from "node:fs";
import { MAX_INT32, MAX_TIMER_MS, UsageError, choiceFlag, intFlag } from "./args.js";
import type { LogLevel } from "../topology/index.js";

/**
 * Worker configuration. Precedence, highest first:
 *   1. command-line flags            (--brokers, --state-dir, ...)
 *   2. environment                   (KAFKA_BROKERS, WEIR_STATE_DIR, WEIR_GUARANTEE, WEIR_HTTP_PORT, ...,
 *                                     WEIR_KAFKA_<PROPERTY> for librdkafka: WEIR_KAFKA_SASL_MECHANISMS=PLAIN)
 *   3. the config file               (--config weir.json / WEIR_CONFIG: the same keys in camelCase, and "kafka": {})
 *   4. defaults
 */
export interface WeirConfig {
  brokers: string;
  stateDir: string;
  guarantee: "exactly_once" | "at_least_once";
  commitIntervalMs?: number;
  taskTimeoutMs?: number;
  httpHost: string;
  httpPort: number;
  /** When set, `/state/...` requires `Authorization: Bearer <token>` (bin/http.ts). */
  httpToken?: string;
  /** "off": no `/state` endpoints at all. */
  stateApi: "on" | "off";
  logLevel: LogLevel;
  app?: string;
  partitions: number;
  processingErrors: "dead-letter" | "fail";
  deserializationErrors: "dead-letter" | "fail";
  productionErrors: "dead-letter" | "fail";
  droppedRecords: "drop" | "dead-letter";
  stallTimeoutMs?: number;
  groupProtocol?: "classic" | "consumer";
  remoteAssignor?: string;
  staticMembership?: boolean;
  advertisedUrl?: string;
  standbyReplicas?: number;
  /** The order pipeline's risk service (processors/risk-service.ts); required when running it (no --app). */
  riskUrl?: string;
  /** Worker processes on this host (`--processes`): 1 runs the worker in this process, N > 1 a supervisor of N. */
  processes: number;
  kafka: Record<string, string>;
}

export const DEFAULT_BROKERS = "127.0.0.1:9092";

/**
 * The longest --task-timeout-ms: the consumer's max.poll.interval.ms is the task timeout + 60 s
 * (topology/runtime/clients.ts), and librdkafka accepts at most 86400000 (24 h) there.
 */
export const MAX_TASK_TIMEOUT_MS = 86_400_000 - 60_000;

/** The most worker processes `--processes` starts on one host. */
export const MAX_PROCESSES = 256;

type Flags = Partial<Record<string, string | boolean | string[] | undefined>>;

export const workerFlagSpec = {
  brokers: { type: "string" },
  "state-dir": { type: "string" },
  guarantee: { type: "string" },
  "commit-interval-ms": { type: "string" },
  "task-timeout-ms": { type: "string" },
  "http-host": { type: "string" },
  "http-port": { type: "string" },
  "http-token": { type: "string" },
  "state-api": { type: "string" },
  "log-level": { type: "string" },
  app: { type: "string" },
  partitions: { type: "string" },
  "processing-errors": { type: "string" },
  "deserialization-errors": { type: "string" },
  "production-errors": { type: "string" },
  "dropped-records": { type: "string" },
  "stall-timeout-ms": { type: "string" },
  "group-protocol": { type: "string" },
  "remote-assignor": { type: "string" },
  "static-membership": { type: "string" },
  "advertised-url": { type: "string" },
  "standby-replicas": { type: "string" },
  "risk-url": { type: "string" },
  processes: { type: "string" },
  config: { type: "string" },
  kafka: { type: "string", multiple: true },
} as const;

export const workerFlagHelp: Array<[string, string]> = [
  ["--brokers LIST", "Kafka bootstrap servers (env KAFKA_BROKERS; default 127.0.0.1:9092)"],
  ["--state-dir DIR", "local state (LMDB) folder (env WEIR_STATE_DIR; default ./.weir/state)"],
  ["--guarantee G", "exactly_once (default) or at_least_once (env WEIR_GUARANTEE)"],
  ["--commit-interval-ms N", "commit interval (env WEIR_COMMIT_INTERVAL_MS; default 100 / 1000)"],
  [
    "--task-timeout-ms N",
    "how long a task may wait for unstable committed offsets or an undecided changelog transaction before the worker stops (env WEIR_TASK_TIMEOUT_MS; default 300000)",
  ],
  [
    "--http-host H",
    "HTTP bind address for /metrics /healthz /readyz /state (env WEIR_HTTP_HOST; default 127.0.0.1)",
  ],
  ["--http-port N", "HTTP port, 0 = any free port (env WEIR_HTTP_PORT; default 9400)"],
  [
    "--http-token T",
    "require 'Authorization: Bearer T' on /state (interactive queries); /healthz, /readyz and /metrics stay open. Give every worker of the application the same token: forwarded queries carry it (env WEIR_HTTP_TOKEN)",
  ],
  [
    "--state-api on|off",
    "off: no /state endpoints (interactive queries) at all (env WEIR_STATE_API; default on)",
  ],
  ["--log-level L", "debug|info|warn|error (env WEIR_LOG_LEVEL; default info)"],
  ["--app MODULE", "topology module to run (env WEIR_APP; default: the order pipeline)"],
  ["--partitions N", "partitions for topics weir creates (env WEIR_PARTITIONS; default 3)"],
  [
    "--processing-errors M",
    "dead-letter (default) or fail, when a processor throws (env WEIR_PROCESSING_ERRORS)",
  ],
  [
    "--deserialization-errors M",
    "dead-letter (default) or fail, when an input record does not decode (env WEIR_DESERIALIZATION_ERRORS)",
  ],
  [
    "--production-errors M",
    "dead-letter (default) or fail, when what a record produces cannot be written: too large, or a value its serde cannot write (env WEIR_PRODUCTION_ERRORS)",
  ],
  [
    "--dropped-records M",
    "drop (default: counted in weir_dropped_records_total) or dead-letter (also sent to the dead-letter topic with weir.drop.reason, for weir replay --dead-letters), for records an operator drops on purpose: too late for a window, a null key (env WEIR_DROPPED_RECORDS)",
  ],
  [
    "--stall-timeout-ms N",
    "a worker with lag that has not committed for this long is stalled: /readyz 503, weir_worker_stalled 1 (env WEIR_STALL_TIMEOUT_MS; default 60000)",
  ],
  [
    "--group-protocol P",
    "classic (default) or consumer: the KIP-848 protocol of Kafka 4.x, where the broker assigns partitions and a rebalance moves only the partitions that change owner (env WEIR_GROUP_PROTOCOL)",
  ],
  [
    "--remote-assignor A",
    "with --group-protocol consumer, the broker-side assignor: range (default when a sub-topology joins topics) or uniform (env WEIR_REMOTE_ASSIGNOR)",
  ],
  [
    "--standby-replicas N",
    "warm copies of every changelogged task kept on N other workers, so a partition moving to one of them restores only the tail (env WEIR_STANDBY_REPLICAS; default 0)",
  ],
  [
    "--advertised-url URL",
    "where other workers reach this one's HTTP server, to forward interactive queries for keys it holds (env WEIR_ADVERTISED_URL; default: http://<http host>:<port>, the machine's host name when bound to 0.0.0.0)",
  ],
  [
    "--static-membership on|off",
    "off (default) or on: join as the static member <app>-<worker id> (KIP-345), so a worker restarted within the session timeout gets its partitions back without a rebalance; a worker stopped for good then leaves its partitions idle for the session timeout (env WEIR_STATIC_MEMBERSHIP)",
  ],
  [
    "--risk-url URL",
    "the order pipeline's risk service, e.g. http://127.0.0.1:8400 (env WEIR_RISK_URL); required without --app (weir demo starts one)",
  ],
  [
    "--processes N",
    "worker processes on this host, one core each (env WEIR_PROCESSES; default 1: this process). N > 1: a supervisor forks N members of the group, each with its own worker id and state directory <state dir>/process-<i>, restarts one that dies, and serves their HTTP endpoints on --http-port",
  ],
  ["--kafka KEY=VALUE", "librdkafka property for every client, repeatable (env WEIR_KAFKA_<KEY>)"],
  ["--config FILE", "JSON config file (env WEIR_CONFIG)"],
];

export function loadConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env): WeirConfig {
  const configPath = (flags.config as string | undefined) ?? env.WEIR_CONFIG;
  const file = readConfigFile(configPath);
  /** The value and where it came from (undefined: the command line, or not set). */
  const source = (
    flag: string,
    envName: string,
    fileKey: string,
  ): [string | undefined, string | undefined] => {
    const f = flags[flag];
    if (typeof f === "string") return [f, undefined];
    if (env[envName] !== undefined && env[envName] !== "") return [env[envName], envName];
    const v = file[fileKey];
    return v === undefined || v === null
      ? [undefined, undefined]
      : [String(v), `"${fileKey}" in ${configPath}`];
  };
  const pick = (flag: string, envName: string, fileKey: string): string | undefined =>
    source(flag, envName, fileKey)[0];
  /** An integer setting in [min, max] (the flag's range), or undefined if not set. */
  const int = (flag: string, envName: string, fileKey: string, min: number, max: number) => {
    const [value, from] = source(flag, envName, fileKey);
    return value === undefined ? undefined : intFlag(flag, value, 0, min, max, from);
  };
  /** A record-level failure handler (topology/failures.ts): dead-letter (default) or fail. */
  const handler = (flag: string, envName: string, fileKey: string) =>
    choiceFlag(flag, pick(flag, envName, fileKey), ["dead-letter", "fail"] as const, "dead-letter");
  const kafka: Record<string, string> = {};
  for (const [k, v] of Object.entries((file.kafka as Record<string, unknown> | undefined) ?? {}))
    kafka[k] = String(v);
  for (const [k, v] of Object.entries(env))
    if (k.startsWith("WEIR_KAFKA_") && v !== undefined)
      kafka[k.slice("WEIR_KAFKA_".length).toLowerCase().replace(/_/g, ".")] = v;
  for (const kv of (flags.kafka as string[] | undefined) ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new UsageError(`--kafka expects KEY=VALUE (a librdkafka property), got '${kv}'`);
    kafka[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    brokers: pick("brokers", "KAFKA_BROKERS", "brokers") ?? DEFAULT_BROKERS,
    stateDir: pick("state-dir", "WEIR_STATE_DIR", "stateDir") ?? ".weir/state",
    guarantee: choiceFlag(
      "guarantee",
      pick("guarantee", "WEIR_GUARANTEE", "guarantee"),
      ["exactly_once", "at_least_once"] as const,
      "exactly_once",
    ),
    commitIntervalMs: int(
      "commit-interval-ms",
      "WEIR_COMMIT_INTERVAL_MS",
      "commitIntervalMs",
      1,
      MAX_TIMER_MS,
    ),
    taskTimeoutMs: int("task-timeout-ms", "WEIR_TASK_TIMEOUT_MS", "taskTimeoutMs", 1, MAX_TASK_TIMEOUT_MS),
    httpHost: pick("http-host", "WEIR_HTTP_HOST", "httpHost") ?? "127.0.0.1",
    // 0: any free port.
    httpPort: int("http-port", "WEIR_HTTP_PORT", "httpPort", 0, 65_535) ?? 9400,
    httpToken: httpToken(...source("http-token", "WEIR_HTTP_TOKEN", "httpToken")),
    stateApi: choiceFlag(
      "state-api",
      pick("state-api", "WEIR_STATE_API", "stateApi"),
      ["on", "off"] as const,
      "on",
    ),
    logLevel: choiceFlag(
      "log-level",
      pick("log-level", "WEIR_LOG_LEVEL", "logLevel"),
      ["debug", "info", "warn", "error"] as const,
      "info",
    ),
    app: pick("app", "WEIR_APP", "app"),
    partitions: int("partitions", "WEIR_PARTITIONS", "partitions", 1, MAX_INT32) ?? 3,
    processingErrors: handler("processing-errors", "WEIR_PROCESSING_ERRORS", "processingErrors"),
    deserializationErrors: handler(
      "deserialization-errors",
      "WEIR_DESERIALIZATION_ERRORS",
      "deserializationErrors",
    ),
    productionErrors: handler("production-errors", "WEIR_PRODUCTION_ERRORS", "productionErrors"),
    droppedRecords: choiceFlag(
      "dropped-records",
      pick("dropped-records", "WEIR_DROPPED_RECORDS", "droppedRecords"),
      ["drop", "dead-letter"] as const,
      "drop",
    ),
    stallTimeoutMs: int("stall-timeout-ms", "WEIR_STALL_TIMEOUT_MS", "stallTimeoutMs", 1, MAX_TIMER_MS),
    groupProtocol: optionalChoice(
      "group-protocol",
      pick("group-protocol", "WEIR_GROUP_PROTOCOL", "groupProtocol"),
      ["classic", "consumer"] as const,
    ),
    remoteAssignor: optionalChoice(
      "remote-assignor",
      pick("remote-assignor", "WEIR_REMOTE_ASSIGNOR", "remoteAssignor"),
      ["range", "uniform"] as const,
    ),
    // Unset: the worker's default for its group protocol.
    staticMembership: ((v) => (v === undefined ? undefined : v === "on"))(
      optionalChoice(
        "static-membership",
        pick("static-membership", "WEIR_STATIC_MEMBERSHIP", "staticMembership"),
        ["on", "off"] as const,
      ),
    ),
    riskUrl: httpUrl("risk-url", ...source("risk-url", "WEIR_RISK_URL", "riskUrl")),
    standbyReplicas: int("standby-replicas", "WEIR_STANDBY_REPLICAS", "standbyReplicas", 0, 100),
    advertisedUrl: httpUrl(
      "advertised-url",
      ...source("advertised-url", "WEIR_ADVERTISED_URL", "advertisedUrl"),
    ),
    processes: int("processes", "WEIR_PROCESSES", "processes", 1, MAX_PROCESSES) ?? 1,
    kafka,
  };
}

/**
 * The HTTP token, or undefined if not set. It goes into an HTTP header, so it is printable ASCII without spaces;
 * the error never repeats it.
 */
export function httpToken(value: string | undefined, from: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^[\x21-\x7e]+$/.test(value))
    throw new UsageError(
      `--http-token${from ? ` (${from})` : ""} must be printable ASCII without spaces (it is sent in an HTTP header)`,
    );
  return value;
}

/** An http(s) URL setting, or undefined if not set. */
function httpUrl(flag: string, value: string | undefined, from: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
    throw new UsageError(`--${flag}${from ? ` (${from})` : ""} must be an http(s) URL, got '${value}'`);
  return value;
}

/** A choice with no default of its own (the worker decides it, e.g. from other settings). */
function optionalChoice<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  return value === undefined ? undefined : choiceFlag(flag, value, choices, choices[0]!);
}

function readConfigFile(path: string | undefined): Record<string, unknown> {
  if (!path) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(
      `cannot read config file ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
