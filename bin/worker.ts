import {
  ConfigError,
  createMetrics,
  jsonLogger,
  setWorkerInfo,
  StateDirectoryLockedError,
  Worker,
} from "../topology/index.js";
import { checkClientConfigs } from "../topology/runtime/clients.js";
import { inspectLock, lockedMessage } from "../topology/runtime/state-directory.js";
import { fatalForLog } from "../topology/runtime/worker.js";
import { loadTopology } from "./app.js";
import { parse, renderHelp, runCommand, type CommandHelp } from "./args.js";
import { version, type Command } from "./command.js";
import { loadConfig, workerFlagHelp, workerFlagSpec } from "./config.js";
import { reachableUrl, startHttpServer } from "./http.js";
import { ProcessMember, superviseProcesses } from "./processes.js";

const help: CommandHelp = {
  usage: "weir worker [options]",
  summary:
    "Run the application as a long-running worker: joins the consumer group, restores and runs its tasks, serves\n" +
    "/metrics, /healthz, /readyz and /state over HTTP. SIGTERM/SIGINT: graceful shutdown (commit, close, leave the\n" +
    "group), exit 0; a second signal exits at once. Logs are JSON lines on stderr.\n" +
    "Exit status: 0 stopped by a signal, 1 the worker failed, 2 bad usage or a configuration that can never work\n" +
    "(e.g. a --kafka property librdkafka rejects; checked before the HTTP server starts, never retried), or a state\n" +
    "directory another live worker holds (its lock file <state-dir>/<app id>/worker.lock names it; a dead worker's\n" +
    "lock is taken over).\n" +
    "--processes N > 1: a supervisor of N worker processes; it exits once all have, 0 if all exited 0, else the first\n" +
    "non-zero status; a process exiting 1 or 2 is not restarted but stops the others (one killed is restarted).",
  flags: workerFlagHelp,
  examples: [
    "weir worker                                   # the order pipeline against KAFKA_BROKERS or 127.0.0.1:9092",
    "weir worker --state-dir /var/lib/weir --http-port 9401",
    "weir worker --app ./my-topology.js --guarantee at_least_once",
    "weir worker --kafka security.protocol=SASL_SSL --kafka sasl.mechanisms=PLAIN",
    "weir worker --processes 4                     # four processes (cores) on this host, one HTTP port",
  ],
};

export const workerCommand: Command = {
  name: "worker",
  summary: "run the application as a long-running worker",
  run: async (argv) => {
    let member: ProcessMember | undefined;
    const code = await runCommand("worker", help, async () => {
      try {
        member = ProcessMember.fromEnv();
        return await runWorker(argv, member);
      } catch (err) {
        member?.failed(err instanceof Error ? err.message : String(err));
        throw err;
      }
    });
    await member?.exiting(code);
    return code;
  },
};

/**
 * `weir worker`: the worker in this process — on its own, or as process `member` of `weir worker --processes N` —
 * or, with --processes N > 1, the supervisor of N of them.
 */
async function runWorker(argv: string[], member: ProcessMember | undefined): Promise<number> {
  const { values } = parse(argv, workerFlagSpec);
  if (values.help) {
    process.stdout.write(renderHelp(help));
    return 0;
  }
  const loaded = loadConfig(values);
  if (!member && loaded.processes > 1) return superviseProcesses(argv, loaded);
  // A supervised process: its own state directory (its own worker id, lock and stores), its HTTP server on a
  // free loopback port behind the supervisor's.
  const config = member
    ? { ...loaded, stateDir: member.stateDir(loaded.stateDir), httpHost: "127.0.0.1", httpPort: 0 }
    : loaded;
  const log = jsonLogger(
    (l) => process.stderr.write(l),
    config.logLevel,
    member ? { process: member.index } : {},
  );
  // The order pipeline (no --app) calls its risk service for every valid order: without one it could only
  // dead-letter them, so it does not start.
  if (!config.app && !config.riskUrl)
    throw new ConfigError(
      "the order pipeline needs its risk service: pass --risk-url URL or set WEIR_RISK_URL (weir demo starts one)",
    );
  const settings = { partitions: config.partitions, riskUrl: config.riskUrl };
  const topology = await loadTopology(config.app, settings);
  const metrics = createMetrics();
  const worker = new Worker(topology, {
    brokers: config.brokers,
    stateDir: config.stateDir,
    guarantee: config.guarantee,
    commitIntervalMs: config.commitIntervalMs,
    taskTimeoutMs: config.taskTimeoutMs,
    // Test-only fault points (topology/runtime/test-faults.ts); unset in production.
    testFaultFile: process.env.WEIR_TEST_FAULT_FILE || undefined,
    processingErrors: config.processingErrors,
    deserializationErrors: config.deserializationErrors,
    productionErrors: config.productionErrors,
    droppedRecords: config.droppedRecords,
    stallTimeoutMs: config.stallTimeoutMs,
    groupProtocol: config.groupProtocol,
    remoteAssignor: config.remoteAssignor,
    staticMembership: config.staticMembership,
    standbyReplicas: config.standbyReplicas,
    kafka: config.kafka,
    logger: log,
    metrics,
  });
  // Kafka client configuration librdkafka refuses (an unknown property, a combination it does not support)
  // is a ConfigError, exit 2 (runCommand), before anything is served or connected.
  await checkClientConfigs({ topology, options: worker.options, log, metrics: undefined });
  // A second worker on a live worker's state directory is told so before it serves or binds anything (its HTTP
  // port is likely the first one's); worker.start() takes the lock itself, so a race between the two is judged there.
  const dirLock = inspectLock(worker.options.appStateDir);
  if (dirLock.kind === "held" && dirLock.sameHost)
    throw new StateDirectoryLockedError(lockedMessage(worker.options.appStateDir, dirLock));
  setWorkerInfo(metrics, { version: version(), app: topology.appId, guarantee: config.guarantee });
  const http = await startHttpServer({
    worker,
    metrics,
    host: config.httpHost,
    port: config.httpPort,
    token: config.httpToken,
    stateApi: config.stateApi,
  });
  if (member) {
    log.info("process http server listening", { url: http.url });
    member.listening(http.url);
  } else log.info("http server listening", { url: http.url });
  // Where the other workers forward interactive queries for keys this one holds.
  worker.advertise(member?.advertisedUrl ?? config.advertisedUrl ?? reachableUrl(http.url, config.httpHost));

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn("second signal: exiting now", { signal });
      process.exit(130);
    }
    log.info("signal received: graceful shutdown", { signal });
    // The bound is the worker's: past it (plus a margin for closing the clients), exit regardless.
    const bound = worker.options.shutdownTimeoutMs + 5000;
    setTimeout(() => {
      log.error("graceful shutdown exceeded its bound: exiting", { boundMs: bound });
      process.exit(1);
    }, bound).unref();
    void worker.stop(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  member?.onSupervisorGone(() => {
    log.warn("the supervisor is gone: graceful shutdown");
    void worker.stop("supervisor gone");
  });

  let code = 0;
  try {
    await worker.start();
    await worker.done;
  } catch (err) {
    // Configuration that can never work: said once, by runCommand (exit 2), not logged as a failure too.
    if (err instanceof ConfigError) throw err;
    // Never a record's content in the log (a record failing under a "fail" handler: its failure and where).
    log.error("worker failed", { error: fatalForLog(err) });
    member?.failed(fatalForLog(err));
    code = 1;
  } finally {
    http.server.close();
  }
  return code;
}
