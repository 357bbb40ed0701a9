/**
 * A local Kafka cluster of three KRaft nodes of a test's own (`scripts/broker.sh start --brokers 3` on ports of its
 * own), with the faults a test needs: one node SIGKILLed or stopped, and started again. The shared broker of the
 * integration suite (KAFKA_BROKERS) keeps running and is not touched.
 *
 * Ports, with `port` the first client port: clients `port`..`port+2`, KRaft controllers `port+10`..`port+12`.
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TopicDescription } from "@confluentinc/kafka-javascript";
import { baseClientConfig, createAdmin } from "../../topology/kafka.js";
import { fromCallback, withAdmin } from "./kafka.js";
import { REPO } from "./worker-process.js";

const SCRIPT = join(REPO, "scripts/broker.sh");

/** Nodes 1..n of a local cluster, driven through scripts/broker.sh. */
export class LocalCluster {
  constructor(
    /** Client port of node 1; node N listens on `port + N - 1`. */
    readonly port: number,
    readonly nodes = 3,
  ) {}

  /** The comma-separated bootstrap list of every node. */
  get address(): string {
    return Array.from({ length: this.nodes }, (_, i) => `127.0.0.1:${this.port + i}`).join(",");
  }

  /** The folder scripts/broker.sh keeps this cluster in (WEIR_HOME/broker-<port>). */
  get runDir(): string {
    return join(process.env.WEIR_HOME ?? join(REPO, ".weir"), `broker-${this.port}`);
  }

  /** Starts a fresh cluster (what an earlier run left on these ports is stopped and wiped); resolves when every node answers. */
  async start(): Promise<void> {
    await this.script("stop").catch(() => undefined);
    rmSync(this.runDir, { recursive: true, force: true });
    await this.script("start", "--brokers", String(this.nodes));
  }

  /** SIGKILL node `node` (1..n). */
  async kill(node: number): Promise<void> {
    await this.script("kill", "--node", String(node));
  }

  /** SIGTERM node `node` and wait until it is gone (a controlled shutdown). */
  async stopNode(node: number): Promise<void> {
    await this.script("stop", "--node", String(node));
  }

  /** Starts a stopped or killed node again; resolves when it answers and the metadata lists it as a broker. */
  async startNode(node: number): Promise<void> {
    await this.script("start", "--node", String(node));
  }

  /** Stops every node; safe to call when some or all are down. */
  async stop(): Promise<void> {
    await this.script("stop");
  }

  /** The pid of node `node`'s JVM, or undefined when it is not running. */
  pid(node: number): number | undefined {
    try {
      return Number(readFileSync(join(this.runDir, `node-${node}`, "broker.pid"), "utf8").trim());
    } catch {
      return undefined;
    }
  }

  /** The last `lines` lines of node `node`'s broker log (for a failing test's output). */
  logTail(node: number, lines = 40): string {
    try {
      return readFileSync(join(this.runDir, `node-${node}`, "broker.log"), "utf8")
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch (err) {
      return `(no log: ${(err as Error).message})`;
    }
  }

  /**
   * Runs scripts/broker.sh for this cluster: its ports, never KAFKA_BROKERS (which would make the script do
   * nothing). Rejects with the script's stderr when it fails. Asynchronous, so child processes' pipes keep draining.
   */
  private script(...args: string[]): Promise<string> {
    const env: NodeJS.ProcessEnv = { ...process.env, WEIR_BROKER_PORT: String(this.port) };
    delete env.KAFKA_BROKERS;
    delete env.WEIR_CONTROLLER_PORT;
    return new Promise((resolve, reject) => {
      execFile("bash", [SCRIPT, ...args], { env, timeout: 240_000 }, (err, stdout, stderr) =>
        err
          ? reject(new Error(`scripts/broker.sh ${args.join(" ")} failed: ${err.message}\n${stderr}`))
          : resolve(stdout.trim()),
      );
    });
  }
}

/** The description (partitions, leaders, replicas, ISR) of each of `topics`, from the cluster the helpers use. */
export async function describeTopics(topics: string[]): Promise<TopicDescription[]> {
  return withAdmin((admin) =>
    fromCallback<TopicDescription[]>((done) =>
      admin.describeTopics(topics, { timeout: 10_000 }, (err, result) => done(err, result)),
    ),
  );
}

/**
 * Waits until every partition of `topics` on the cluster at `address` has its full ISR again (a restarted broker has
 * caught up): what an operator's rolling restart waits for before the next broker. Resolves with the time it took,
 * ms; rejects after `timeoutMs`.
 */
export async function waitInSync(address: string, topics: string[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  const admin = createAdmin(baseClientConfig(address, "weir-test-isr"));
  try {
    for (;;) {
      const described = await fromCallback<TopicDescription[]>((done) =>
        admin.describeTopics(topics, { timeout: 10_000 }, (err, result) => done(err, result)),
      ).catch(() => undefined);
      const lagging = described?.flatMap((t) =>
        t.partitions.filter((p) => p.isr.length < p.replicas.length).map((p) => `${t.name}-${p.partition}`),
      );
      if (lagging !== undefined && lagging.length === 0) return Date.now() - started;
      if (Date.now() - started > timeoutMs)
        throw new Error(
          `partitions still under-replicated after ${timeoutMs} ms: ${lagging?.slice(0, 5).join(", ")}`,
        );
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    admin.disconnect();
  }
}

/** Java's String.hashCode, which Kafka uses to place a transactional id or group id on a partition. */
function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The broker that is the transaction coordinator of `transactionalId`: the leader of its partition of
 * `__transaction_state` (Kafka's `Utils.abs(transactionalId.hashCode) % partitions`).
 */
export async function transactionCoordinator(transactionalId: string): Promise<number> {
  const [state] = await describeTopics(["__transaction_state"]);
  if (!state || state.error || state.partitions.length === 0)
    throw new Error(`__transaction_state cannot be described: ${state?.error?.message ?? "no partitions"}`);
  const h = javaHashCode(transactionalId);
  const partition = (h === -2147483648 ? 0 : Math.abs(h)) % state.partitions.length;
  const leader = state.partitions.find((p) => p.partition === partition)?.leader;
  if (!leader || leader.id < 0) throw new Error(`__transaction_state-${partition} has no leader`);
  return leader.id;
}
