/**
 * `weir worker --processes N` (N > 1): both sides of it. {@link superviseProcesses} is the supervisor — it forks N
 * `weir worker` processes of the same command line (bin/supervisor.ts decides what happens when one exits) and
 * serves their HTTP endpoints on --http-port (bin/supervisor-http.ts). {@link ProcessMember} is what a forked process
 * knows of it: its index, its state directory `<state dir>/process-<i>`, the URL it advertises, and the IPC channel
 * over which it says where its HTTP server is and why it exits.
 */
import { fork } from "node:child_process";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jsonLogger } from "../topology/index.js";
import { UsageError } from "./args.js";
import type { WeirConfig } from "./config.js";
import { reachableUrl } from "./http.js";
import { Supervisor, type ProcessMessage, type SupervisedProcess } from "./supervisor.js";
import { startSupervisorHttpServer } from "./supervisor-http.js";

/** Set by the supervisor for the processes it forks: the process's index. Not an operator setting. */
const INDEX_ENV = "WEIR_PROCESS_INDEX";
/** Set by the supervisor: the URL the process advertises to the other workers (`<supervisor's URL>/process/<i>`). */
const URL_ENV = "WEIR_PROCESS_ADVERTISED_URL";

/**
 * Past a worker's own shutdown bound (its shutdownTimeoutMs, 30 s, plus 5 s: bin/worker.ts), the supervisor kills a
 * process still running.
 */
const KILL_AFTER_MS = 40_000;

/** Kafka properties that name one member of the group: N processes cannot share them. */
const PER_MEMBER_KAFKA = ["group.instance.id", "transactional.id"];

/** The `weir` entry script (bin/weir.ts from the sources, dist/bin/weir.js when built), forked once per process. */
function weirEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return join(here, "..", `weir${extname(here)}`);
}

/** A process forked by `weir worker --processes N`, as it sees itself. */
export class ProcessMember {
  #reason: string | undefined;

  private constructor(
    /** Its index, 0 to N-1: its state directory is `<state dir>/process-<index>`. */
    readonly index: number,
    /** Where the other workers reach its HTTP server: through the supervisor's, `<url>/process/<index>`. */
    readonly advertisedUrl: string,
  ) {}

  /** The member this process is, if the supervisor forked it; undefined for a worker started on its own. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): ProcessMember | undefined {
    const index = env[INDEX_ENV];
    if (index === undefined || index === "") return undefined;
    if (!/^\d+$/.test(index) || !process.send || !env[URL_ENV])
      throw new UsageError(
        `${INDEX_ENV} is set only by 'weir worker --processes N' for the processes it forks: unset it`,
      );
    return new ProcessMember(Number(index), env[URL_ENV]);
  }

  /** Its state directory under the worker's --state-dir. */
  stateDir(base: string): string {
    return join(base, `process-${this.index}`);
  }

  /** Tell the supervisor where its HTTP server listens. */
  listening(url: string): void {
    this.#send({ type: "http", url });
  }

  /** Call `stop` when the supervisor is gone (killed): a process does not outlive it. */
  onSupervisorGone(stop: () => void): void {
    process.once("disconnect", stop);
  }

  /** Why it is about to fail: said to the supervisor with the exit status. */
  failed(reason: string): void {
    this.#reason ??= reason;
  }

  /** Tell the supervisor the status it exits with (and why), then close the channel so the process can exit. */
  async exiting(status: number): Promise<void> {
    if (status !== 0 && this.#reason !== undefined)
      await new Promise<void>((resolve) =>
        this.#send({ type: "exiting", status, reason: this.#reason! }, resolve),
      );
    process.removeAllListeners("disconnect");
    if (process.connected) process.disconnect();
  }

  #send(message: ProcessMessage, done?: () => void): void {
    if (!process.connected || !process.send) return done?.();
    process.send(message, undefined, undefined, () => done?.());
  }
}

/**
 * Run `weir worker` as N processes: fork them (the same command line, each told its index), serve their endpoints on
 * --http-port, forward SIGTERM/SIGINT, and return the exit status once every process has exited.
 */
export async function superviseProcesses(argv: readonly string[], config: WeirConfig): Promise<number> {
  const shared = PER_MEMBER_KAFKA.filter((k) => config.kafka[k] !== undefined);
  if (shared.length > 0)
    throw new UsageError(
      `--kafka ${shared.join(", ")} names one member of the group, and --processes ${config.processes} starts ` +
        `${config.processes}: leave it unset (each process derives its own from its worker id; for static membership ` +
        "use --static-membership on)",
    );
  const log = jsonLogger((l) => process.stderr.write(l), config.logLevel, { role: "supervisor" });
  let base = "";
  const supervisor = new Supervisor({
    processes: config.processes,
    log,
    killAfterMs: KILL_AFTER_MS,
    spawn: (index): SupervisedProcess =>
      fork(weirEntry(), ["worker", ...argv], {
        execArgv: process.execArgv,
        env: { ...process.env, [INDEX_ENV]: String(index), [URL_ENV]: `${base}/process/${index}` },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which forwards it once (twice
        // would be a worker's "second signal: exit now"). A process whose supervisor died stops (onSupervisorGone).
        detached: true,
      }),
  });
  const http = await startSupervisorHttpServer({
    processes: supervisor,
    host: config.httpHost,
    port: config.httpPort,
  });
  log.info("http server listening", { url: http.url, processes: config.processes });
  base = (config.advertisedUrl ?? reachableUrl(http.url, config.httpHost)).replace(/\/$/, "");

  const onSignal = (signal: NodeJS.Signals) => {
    log.info(
      supervisor.stopping
        ? "signal received again: passed on (the processes exit now)"
        : "signal received: stopping every process",
      { signal },
    );
    supervisor.stop(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    supervisor.start();
    return await supervisor.done;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    http.server.close();
  }
}
