#!/usr/bin/env node
// The @kafkats/flow contender of `npm run bench`: the contract of bench/peers/README.md on @kafkats/flow 0.12.0
// (a pure-TypeScript Kafka client and its Kafka Streams-like DSL), written as its documentation recommends: the
// DSL's groupByKey().aggregate() in a changelogged LMDB store (@kafkats/flow-state-lmdb, the provider its docs
// name for production), native CRC32C (@node-rs/crc32), default client and producer settings.
//
// The packages are not in the root package.json: bash bench/peers/kafkats/setup.sh installs them into
// .weir/bench/kafkats, and they are loaded from there (their CommonJS builds, through createRequire).
//
//   node bench/peers/kafkats/peer.mjs --brokers H:P --input T --output T --app-id ID --workload count
//        --guarantee exactly_once|at_least_once --commit-interval-ms N --state-dir DIR
//
// Exit status: 0 after SIGTERM/SIGINT and a clean close; 3 with one stderr line `unsupported: <reason>` for what the
// library cannot do; 2 for bad flags; 1 for a fatal error (the app in state ERROR, a failed start or close).
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { clearInterval, setInterval } from "node:timers";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const INSTALL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../.weir/bench/kafkats");
const FLAGS = [
  "brokers",
  "input",
  "output",
  "app-id",
  "workload",
  "guarantee",
  "commit-interval-ms",
  "state-dir",
];
const USAGE =
  "usage: peer.mjs --brokers host:port --input TOPIC --output TOPIC --app-id ID " +
  "--workload count|windowed-count|join|restore --guarantee exactly_once|at_least_once --commit-interval-ms N " +
  "--state-dir DIR [--table TOPIC (join)]";

/** Writes one line to stderr and exits with `status`. */
function exit(status, line) {
  process.stderr.write(`${line}\n`);
  process.exit(status);
}

/** The contract's flags, checked; exits 2 with the usage on anything missing or malformed. */
function flags() {
  let values;
  try {
    ({ values } = parseArgs({
      options: Object.fromEntries([...FLAGS, "table"].map((name) => [name, { type: "string" }])),
    }));
  } catch (err) {
    exit(2, `${err.message}\n${USAGE}`);
  }
  const missing = FLAGS.filter((name) => values[name] === undefined);
  if (missing.length > 0) exit(2, `missing --${missing.join(", --")}\n${USAGE}`);
  if (!["count", "windowed-count", "join", "restore"].includes(values.workload))
    exit(2, `unknown --workload ${values.workload}`);
  if (values.workload === "join" && values.table === undefined)
    exit(2, `--workload join needs --table\n${USAGE}`);
  if (!["exactly_once", "at_least_once"].includes(values.guarantee))
    exit(2, `unknown --guarantee ${values.guarantee}`);
  const commitIntervalMs = Number(values["commit-interval-ms"]);
  if (!Number.isInteger(commitIntervalMs) || commitIntervalMs <= 0)
    exit(2, "--commit-interval-ms must be a positive integer");
  return {
    brokers: values.brokers.split(","),
    input: values.input,
    output: values.output,
    appId: values["app-id"],
    workload: values.workload,
    guarantee: values.guarantee,
    commitIntervalMs,
    stateDir: resolve(values["state-dir"]),
    table: values.table,
  };
}

/** A @kafkats/client Logger writing JSON lines to stderr (the client's own logger writes to stdout). */
function stderrLogger(level, context = {}) {
  const levels = ["error", "warn", "info", "debug"];
  const log = (at) => (message, extra) => {
    if (levels.indexOf(at) > levels.indexOf(level)) return;
    process.stderr.write(
      `${JSON.stringify({ level: at, message, time: new Date().toISOString(), ...context, ...extra })}\n`,
    );
  };
  return {
    error: log("error"),
    warn: log("warn"),
    info: log("info"),
    debug: log("debug"),
    child: (more) => stderrLogger(level, { ...context, ...more }),
  };
}

const options = flags();
if (options.workload === "windowed-count") {
  // Checked in the 0.12.0 source: windowed aggregations forward every update (no suppress, no emit-on-close),
  // and TimeWindows has of() and advanceBy() only (no grace period).
  exit(
    3,
    "unsupported: @kafkats/flow 0.12.0 has no suppress or final-results emission for windows (every update is emitted)",
  );
}
if (options.workload === "restore") {
  exit(
    3,
    "unsupported: not written for the @kafkats/flow peer: the harness writes no changelog in flow's format to restore from",
  );
}
if (!existsSync(join(INSTALL_DIR, "node_modules/.weir-installed"))) {
  exit(1, `@kafkats/flow is not installed in ${INSTALL_DIR}: run bash bench/peers/kafkats/setup.sh`);
}
const require = createRequire(join(INSTALL_DIR, "package.json"));
const { flow, json, string } = require("@kafkats/flow");
const { lmdb } = require("@kafkats/flow-state-lmdb");

mkdirSync(options.stateDir, { recursive: true });
const app = flow({
  applicationId: options.appId, // also the consumer group id and the changelog topics' prefix
  client: { clientId: options.appId, brokers: options.brokers, logger: stderrLogger("info") },
  processingGuarantee: options.guarantee, // exactly_once: Kafka transactions (output, changelog, offsets)
  commitIntervalMs: options.commitIntervalMs, // the transaction commit interval (exactly_once)
  runEach: { autoCommitIntervalMs: options.commitIntervalMs }, // the offset commit interval (at_least_once)
  stateStoreProvider: lmdb({ stateDir: options.stateDir }),
});

if (options.workload === "join") {
  // The inner stream-table join of the DSL: app.table() (a changelogged LMDB store "table") and stream.join(table).
  const rows = app.table(options.table, {
    key: string(),
    value: string(),
    offsetReset: "earliest",
    materialized: { storeName: "table", key: string(), value: string() },
  });
  app
    .stream(options.input, { key: string(), value: string(), offsetReset: "earliest" })
    .join(rows, (value, row) => `${value}|${row}`, { key: string(), value: string(), otherValue: string() })
    .to(options.output, { key: string(), value: string() });
} else {
  // The per-key count: one output per input, `<input value>:<n>`. count() would keep only n, so the aggregate keeps
  // the last value beside it; the store is changelogged (<app-id>-counts-changelog), as every flow store by default.
  app
    .stream(options.input, { key: string(), value: string(), offsetReset: "earliest" })
    .groupByKey()
    .aggregate(
      () => ({ n: 0, value: "" }),
      (_key, value, count) => ({ n: count.n + 1, value }),
      { storeName: "counts", key: string(), value: json() },
    )
    .toStream()
    .mapValues((count) => `${count.value}:${count.n}`)
    .to(options.output, { key: string(), value: string() });
}

let closing = false;
/** Closes the app once (commits the open transaction, stops the consumer, closes LMDB) and exits. */
async function close(status, reason) {
  if (closing) return;
  closing = true;
  clearInterval(watch);
  if (reason) process.stderr.write(`${reason}\n`);
  try {
    await app.close();
  } catch (err) {
    exit(1, `close failed: ${err.stack ?? err}`);
  }
  process.exit(status);
}

// FlowApp reports a fatal error only through its state (ERROR): poll it.
const watch = setInterval(() => {
  if (app.state() === "ERROR")
    void close(1, `fatal: @kafkats/flow app in state ERROR: ${app.getError?.()?.stack ?? "no error"}`);
}, 500);
process.once("SIGTERM", () => void close(0));
process.once("SIGINT", () => void close(0));

try {
  await app.start();
  process.stderr.write(
    `kafkats peer: running (${options.workload}, ${options.guarantee}, group ${options.appId})\n`,
  );
} catch (err) {
  await close(1, `fatal: start failed: ${err.stack ?? err}`);
}
