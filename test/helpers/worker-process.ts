/**
 * A `weir worker` in a child process, as operators run it: spawned through the CLI, JSON logs on stderr parsed
 * into events, HTTP endpoints discovered from the log, killed with real signals.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface WorkerProcessOptions {
  /** Extra CLI arguments after `weir worker`. */
  args?: string[];
  env?: Record<string, string>;
  stateDir?: string;
  /** Echo the worker's log lines to this process's stderr (debugging). */
  echo?: boolean;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/** Run the CLI as a user would: node with tsx, so no build step is needed. */
export function weirCommand(args: string[]): { command: string; argv: string[] } {
  return { command: process.execPath, argv: ["--import", "tsx", join(REPO, "bin/weir.ts"), ...args] };
}

export class WorkerProcess {
  readonly stateDir: string;
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  /** What the worker wrote to stdout, line by line (it writes nothing there: its logs go to stderr). */
  readonly stdout: string[] = [];
  #child: ChildProcess | undefined;
  #url: string | undefined;
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  #waiters: Array<() => void> = [];

  constructor(private readonly options: WorkerProcessOptions = {}) {
    this.stateDir = options.stateDir ?? tempDir("weir-worker");
  }

  get url(): string {
    if (!this.#url) throw new Error("worker HTTP server not up yet");
    return this.#url;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): this {
    const { command, argv } = weirCommand([
      "worker",
      "--state-dir",
      this.stateDir,
      "--http-port",
      "0",
      ...(this.options.args ?? []),
    ]);
    const child = spawn(command, argv, {
      cwd: REPO,
      env: { ...process.env, ...this.options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    this.#exit = new Promise((res) => child.once("exit", (code, signal) => res({ code, signal })));
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      const lines = (out + chunk).split("\n");
      out = lines.pop()!;
      this.stdout.push(...lines);
    });
    child.stdout!.on("end", () => out !== "" && this.stdout.push(out));
    let buffered = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.stderr.push(line);
        if (this.options.echo) process.stderr.write(`[worker ${child.pid}] ${line}\n`);
        try {
          const parsed = JSON.parse(line) as LogLine;
          this.logs.push(parsed);
          if (parsed.msg === "http server listening") this.#url = String(parsed.url);
        } catch {
          // not a log line (e.g. a Node warning)
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    });
    return this;
  }

  /** Resolves with the first log line (from the start) matching `predicate`. */
  async waitForLog(
    predicate: (l: LogLine) => boolean,
    timeoutMs = 60_000,
    what = "log line",
  ): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(predicate);
      if (found) return found;
      const exited = this.#child?.exitCode ?? this.#child?.signalCode ?? null;
      if (exited !== null)
        throw new Error(
          `the worker exited (${exited}) while waiting for ${what}; last lines:\n${this.stderr.slice(-15).join("\n")}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; last lines:\n${this.stderr.slice(-15).join("\n")}`);
      await new Promise<void>((res) => {
        this.#waiters.push(res);
        setTimeout(res, 200);
      });
    }
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    await this.waitForLog((l) => l.msg === "http server listening", timeoutMs, "the HTTP server");
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await fetch(`${this.url}/readyz`).catch(() => undefined);
      if (res?.status === 200) return;
      if (Date.now() > deadline)
        throw new Error(
          `worker not ready after ${timeoutMs} ms; last lines:\n${this.stderr.slice(-15).join("\n")}`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async json<T = unknown>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    this.#child?.kill(signal);
  }

  async exited(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.#exit) throw new Error("not started");
    const timeout = new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error(`worker did not exit within ${timeoutMs} ms`)), timeoutMs).unref(),
    );
    return Promise.race([this.#exit, timeout]);
  }

  /** Stop (SIGTERM, then SIGKILL after the timeout); safe to call on an exited worker. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.#child || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.kill("SIGTERM");
    try {
      await this.exited(timeoutMs);
    } catch {
      this.kill("SIGKILL");
      await this.exited(10_000);
    }
  }

  /** Records replayed per store-partition by restores, from the worker's log ("store up to date" = 0). */
  restored(): Array<{ store: string; partition: number; records: number }> {
    return this.logs
      .filter((l) => l.msg === "store restored" || l.msg === "store up to date")
      .map((l) => ({
        store: String(l.store),
        partition: Number(l.partition),
        records: Number(l.records ?? 0),
      }));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `weir <args>` to completion, as a user would from the repository (bounded at two minutes). */
export function runWeir(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { command, argv } = weirCommand(args);
  return new Promise((resolve) => {
    execFile(
      command,
      argv,
      { cwd: REPO, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The JSON a successful `weir ... --json` printed. */
export function cliJson(result: CliResult): Record<string, unknown> {
  // Not vitest's expect: these helpers also run outside vitest (scripts/crash-loop.ts).
  if (result.code !== 0) throw new Error(`weir exited with ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}
