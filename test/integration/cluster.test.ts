/**
 * Exactly-once when a broker dies (issue 17): a three-node cluster of this test's own (ports 19540..19542, not
 * KAFKA_BROKERS: the suite's shared broker keeps serving the other files), topics with replication factor 3 and
 * min.insync.replicas 2 from the cluster's defaults. A `weir worker` (child process, the per-key count of
 * test/apps/count.ts) runs under continuous load; the broker that is the **transaction coordinator** of the worker's
 * transactional id is SIGKILLed (so the coordinator moves along with the partition leaders that broker held), the
 * load keeps running on the two survivors for 10 s and until the worker commits output again without the dead broker,
 * and the broker is started again. Then every input has exactly one committed output with the right running count,
 * the worker never stopped, and weir's topics have RF 3 / min ISR 2.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Producer } from "@confluentinc/kafka-javascript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeTopicConfigs } from "../../bin/topic-configs.js";
import { LocalCluster, describeTopics, transactionCoordinator } from "../helpers/cluster.js";
import { countOutputProblems } from "../helpers/count-app.js";
import {
  connectProducer,
  consumeAll,
  createTopic,
  disconnect,
  endOffsets,
  fromCallback,
  toError,
  uniqueName,
  useBrokers,
  waitAllCommitted,
  waitFor,
  withAdmin,
} from "../helpers/kafka.js";
import { WorkerProcess } from "../helpers/worker-process.js";

const PORT = 19540;
const PARTITIONS = 6;
const KEYS = 60;
/** Records per tick of the load loop (one tick every 50 ms: 400 records/s). */
const PER_TICK = 20;
/** How long the load runs on two brokers at least before the dead one is started again. */
const DOWN_MS = 10_000;

const cluster = new LocalCluster(PORT);

beforeAll(async () => {
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
  useBrokers(cluster.address);
}, 180_000);

afterAll(async () => {
  useBrokers(undefined);
  await cluster.stop();
}, 90_000);

const alive = (pid: number | undefined): boolean => {
  try {
    return pid !== undefined && process.kill(pid, 0);
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Continuous keyed load through one idempotent producer; value `<key>#<sequence within key>`. */
class Load {
  readonly produced = new Map<string, number>();
  readonly failures: string[] = [];
  total = 0;
  delivered = 0;
  #running = true;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {
    producer.on("delivery-report", (err) => {
      if (err) this.failures.push(toError(err).message);
      else this.delivered++;
    });
    producer.setPollInterval(50);
  }

  start(): this {
    this.#loop = (async () => {
      while (this.#running) {
        for (let i = 0; i < PER_TICK; i++) {
          const key = `k${this.total % KEYS}`;
          const seq = (this.produced.get(key) ?? 0) + 1;
          this.produced.set(key, seq);
          this.total++;
          this.producer.produce(this.topic, null, Buffer.from(`${key}#${seq}`), Buffer.from(key));
        }
        await sleep(50);
      }
    })();
    return this;
  }

  /** Stops producing and waits until every record is delivered (or failed). */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await fromCallback((done) => this.producer.flush(60_000, (err) => done(err)));
    // Delivery reports reach JavaScript on the producer's poll interval, after flush returned.
    await waitFor(
      `delivery reports of ${this.total} records (${this.delivered} delivered, ${this.failures.length} failed)`,
      () => this.delivered + this.failures.length === this.total,
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }
}

/** partition leaders per broker id over `topics`, e.g. `{1: 6, 2: 5, 3: 7}`. */
async function leadersPerBroker(topics: string[]): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  for (const t of await describeTopics(topics))
    for (const p of t.partitions) if (p.leader) counts[p.leader.id] = (counts[p.leader.id] ?? 0) + 1;
  return counts;
}

describe("a three-broker cluster", () => {
  it("a broker SIGKILLed under load (the transaction coordinator): every input counted exactly once, the worker never stops", async () => {
    const started = Date.now();
    const phases: string[] = [];
    const phase = (what: string) => phases.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
    const prefix = uniqueName("cluster");
    const input = `${prefix}-input`;
    const output = `${prefix}-counts`;
    const appId = `${prefix}-app`;
    // Replication factor -1: the cluster's default (3), as weir creates its own topics.
    await createTopic(input, PARTITIONS, {}, { replicationFactor: -1 });
    await createTopic(output, PARTITIONS, {}, { replicationFactor: -1 });
    const worker = new WorkerProcess({
      args: ["--app", "test/apps/count.ts", "--commit-interval-ms", "100", "--brokers", cluster.address],
      env: { WEIR_TEST_PREFIX: prefix, KAFKA_BROKERS: cluster.address },
    }).start();
    const producer = await connectProducer({
      partitioner: "murmur2_random",
      "enable.idempotence": true,
      "linger.ms": 5,
      dr_cb: true,
    });
    const load = new Load(producer, input);
    let victim: number | undefined;
    try {
      await worker.waitReady(60_000);
      phase("worker ready");
      load.start();
      await waitFor(
        "the worker to commit 500 outputs",
        async () =>
          [...(await endOffsets(output, "read_committed")).values()].reduce((a, c) => a + c, 0) >= 500
            ? true
            : undefined,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      phase("500 outputs committed");

      const workerId = readFileSync(join(worker.stateDir, appId, "worker-id"), "utf8").trim();
      victim = await transactionCoordinator(`${appId}-${workerId}`);
      const appTopics = [input, output, `${appId}-counts-changelog`];
      const leaders = await leadersPerBroker(appTopics);
      console.log(
        `killing broker ${victim}: transaction coordinator of ${appId}-${workerId}; partition leaders of the app's topics per broker: ${JSON.stringify(leaders)}`,
      );
      const committedOutputs = async () =>
        [...(await endOffsets(output, "read_committed")).values()].reduce((a, c) => a + c, 0);
      const atKill = await committedOutputs();
      await cluster.kill(victim);
      phase(`broker ${victim} SIGKILLed`);
      const killedAt = Date.now();
      // Down for DOWN_MS, and longer (up to 45 s) until the worker commits output again without it: its partition
      // leaders and the coordinator move once the controller fences it (broker.session.timeout.ms, 9 s), and the
      // commit that was in flight is repeated until it stands.
      let resumedAt: number | undefined;
      while ((Date.now() - killedAt < DOWN_MS || resumedAt === undefined) && Date.now() - killedAt < 45_000) {
        // Unanswered while a partition of the output has no leader (the dead broker is not fenced yet).
        const outputs = resumedAt === undefined ? await committedOutputs().catch(() => atKill) : atKill;
        if (outputs > atKill) resumedAt = Date.now();
        await sleep(250);
      }
      phase(
        `load ran ${((Date.now() - killedAt) / 1000).toFixed(1)} s on two brokers; output committed again ` +
          `${resumedAt === undefined ? "never" : `${((resumedAt - killedAt) / 1000).toFixed(1)} s`} after the kill`,
      );
      expect(resumedAt, "output committed again while the broker was down").toBeDefined();
      await cluster.startNode(victim);
      phase(`broker ${victim} started again`);
      await load.stop();
      phase(`load stopped: ${load.total} records, ${load.delivered} delivered`);
      expect(load.failures.slice(0, 5), "failed deliveries").toEqual([]);
      expect(load.delivered).toBe(load.total);

      await waitAllCommitted(appId, input, { timeoutMs: 120_000 });
      phase("every input committed");

      // The committed output: one record per input, with the key's running count.
      const out = await consumeAll(output, { isolation: "read_committed", timeoutMs: 60_000 });
      phase(`${out.length} outputs read`);
      expect(countOutputProblems(out, load.produced)).toEqual({ duplicates: [], missing: [], wrong: [] });
      expect(out.length).toBe(load.total);

      // The worker rode it out: still running, never failed.
      expect(() => process.kill(worker.pid!, 0), "the worker process is alive").not.toThrow();
      expect(worker.logs.filter((l) => l.msg === "worker failed")).toEqual([]);

      // weir's topics (and the test's) got the cluster's defaults: 3 replicas, min.insync.replicas 2.
      const topics = (
        await withAdmin((admin) =>
          fromCallback<string[]>((done) =>
            admin.listTopics({ timeout: 10_000 }, (err, list) => done(err, list)),
          ),
        )
      ).filter((t) => t.startsWith(prefix));
      expect(topics).toContain(`${appId}-counts-changelog`);
      const replicas = (await describeTopics(topics)).flatMap((t) =>
        t.partitions.map((p) => `${t.name}-${p.partition}: ${p.replicas.length}`),
      );
      expect(replicas.filter((r) => !r.endsWith(": 3"))).toEqual([]);
      const configs = await describeTopicConfigs(cluster.address, {}, topics, ["min.insync.replicas"]);
      expect(Object.fromEntries(topics.map((t) => [t, configs?.get(t)?.get("min.insync.replicas")]))).toEqual(
        Object.fromEntries(topics.map((t) => [t, "2"])),
      );
      phase("checked");
      // What the worker went through, for the test log: its warnings and errors by message.
      const troubles = new Map<string, number>();
      for (const l of worker.logs.filter((x) => x.level === "warn" || x.level === "error"))
        troubles.set(l.msg, (troubles.get(l.msg) ?? 0) + 1);
      console.log(`worker warnings and errors: ${JSON.stringify(Object.fromEntries(troubles))}`);
      console.log(`phases:\n${phases.join("\n")}\ntopics: ${topics.join(", ")}`);
    } catch (err) {
      console.log(
        `phases:\n${phases.join("\n")}\nfailed after ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      for (const l of worker.logs.filter((x) => x.level !== "debug").slice(-80))
        console.log(JSON.stringify(l));
      if (victim !== undefined) console.log(`broker ${victim} log tail:\n${cluster.logTail(victim)}`);
      // CI keeps only the tail of the run's output: the failure itself carries what the worker went through.
      const recent = worker.logs
        .filter((l) => l.level === "warn" || l.level === "error")
        .slice(-12)
        .map((l) => JSON.stringify(l).slice(0, 300));
      const error = err instanceof Error ? err : new Error(String(err));
      error.message +=
        `\nphases:\n${phases.join("\n")}\nworker process alive: ${alive(worker.pid)}` +
        `\nthe worker's last warnings and errors:\n${recent.join("\n")}`;
      throw error;
    } finally {
      await load.stop().catch(() => undefined);
      await disconnect(producer);
      await worker.stop();
    }
  }, 240_000);
});
