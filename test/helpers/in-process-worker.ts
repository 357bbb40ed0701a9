/**
 * A worker in this process, for tests that watch its state, readiness and problems directly (the HTTP endpoints
 * read the same getters). Logs are kept as parsed JSON lines.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLogger, Worker, type Topology, type WorkerOptions } from "../../topology/index.js";
import { brokers } from "./kafka.js";

export interface Logged {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export class InProcessWorker {
  readonly logs: Logged[] = [];
  readonly worker: Worker;
  readonly stateDir: string;

  constructor(topology: Topology, options: Partial<WorkerOptions> = {}) {
    this.stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "weir-inproc-"));
    const logger = jsonLogger((line) => {
      this.logs.push(JSON.parse(line) as Logged);
      if (process.env.WEIR_TEST_LOGS) process.stderr.write(line);
    }, "info");
    this.worker = new Worker(topology, {
      brokers: brokers(),
      sessionTimeoutMs: 6000,
      commitIntervalMs: 100,
      ...options,
      stateDir: this.stateDir,
      logger,
    });
  }

  async start(): Promise<this> {
    await this.worker.start();
    return this;
  }

  logged(msg: string | RegExp): Logged[] {
    return this.logs.filter((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)));
  }

  async stop(): Promise<void> {
    await this.worker.stop("test done");
  }
}
