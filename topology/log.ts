/** Structured logs: one JSON object per line, as log shippers expect. */

/**
 * A log level, least to most severe: a logger writes its level and the ones above it.
 *
 * @example
 * ```ts
 * import { jsonLogger, type LogLevel } from "weir";
 *
 * const level: LogLevel = process.env.DEBUG ? "debug" : "info";
 * const logger = jsonLogger(undefined, level);
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Structured fields of a log line, merged into the JSON object (errors are written as name, message and cause).
 *
 * @example
 * ```ts
 * import { jsonLogger, type LogFields } from "weir";
 *
 * const fields: LogFields = { topic: "orders", partition: 3, lag: 1200 };
 * jsonLogger().warn("consumer lagging", fields);
 * ```
 */
export type LogFields = Record<string, unknown>;

/**
 * The logger a {@link Worker} writes to (`WorkerOptions.logger`): four levels with structured fields, and child
 * loggers that add fields to every line. {@link jsonLogger} writes JSON lines; adapt pino or winston to it in a
 * few lines.
 *
 * @example
 * ```ts
 * import type { Logger } from "weir";
 *
 * const consoleLogger: Logger = {
 *   debug: (msg, fields) => console.debug(msg, fields ?? {}),
 *   info: (msg, fields) => console.info(msg, fields ?? {}),
 *   warn: (msg, fields) => console.warn(msg, fields ?? {}),
 *   error: (msg, fields) => console.error(msg, fields ?? {}),
 *   child: () => consoleLogger,
 * };
 * ```
 */
export interface Logger {
  /** Detail for debugging. */
  debug(msg: string, fields?: LogFields): void;
  /** Normal operation: started, assigned, restored, stopped. */
  info(msg: string, fields?: LogFields): void;
  /** Something unusual that weir handles. */
  warn(msg: string, fields?: LogFields): void;
  /** Something that keeps the worker from progress, or a failure. */
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A {@link Logger} writing one JSON object per line (`time`, `level`, `msg`, then the fields), to stderr by default.
 *
 * @param write where each line goes (it ends with a newline)
 * @param level the least severe level written
 * @param base fields added to every line
 *
 * @example
 * ```ts
 * import { Worker, jsonLogger, type Topology } from "weir";
 *
 * declare const topology: Topology;
 * const worker = new Worker(topology, {
 *   brokers: "localhost:9092",
 *   stateDir: "/var/lib/weir",
 *   logger: jsonLogger((line) => process.stdout.write(line), "info", { service: "orders" }),
 * });
 * ```
 */
export function jsonLogger(
  write: (line: string) => void = (l) => process.stderr.write(l),
  level: LogLevel = "info",
  base: LogFields = {},
): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (order[lvl] < order[level]) return;
    write(
      JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields }, replacer) +
        "\n",
    );
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => jsonLogger(write, level, { ...base, ...fields }),
  };
}

/**
 * A {@link Logger} that writes nothing: what a {@link Worker} uses when it is given none.
 *
 * @example
 * ```ts
 * import { jsonLogger, silentLogger, type Logger } from "weir";
 *
 * const logger: Logger = process.env.QUIET ? silentLogger : jsonLogger();
 * ```
 */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error)
    return {
      name: value.name,
      message: value.message,
      ...(value.cause ? { cause: String(value.cause) } : {}),
    };
  if (typeof value === "bigint") return value.toString();
  return value;
}
