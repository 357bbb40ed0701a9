/**
 * The chaos run: the order pipeline with W workers on a three-broker cluster under continuous generated load, and
 * faults on a seeded schedule — a worker SIGKILLed and restarted, one stopped (SIGTERM) and restarted, a worker added
 * and one removed (rebalances), a broker SIGKILLed and restarted, a worker paused (SIGSTOP) longer than the session
 * timeout and resumed (a zombie the group has replaced and whose transactions must be fenced). Workers that exit on
 * their own are restarted as a supervisor would, and counted. At the end the load drains, the verifier checks every
 * order (`weir verify`'s checks), and a report says what was injected and what came out.
 *
 * Used by `npm run chaos` (scripts/chaos.ts) and, shortened, by test/integration/chaos.test.ts.
 */
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APP_ID, DEFAULT_PIPELINE_OPTIONS } from "../../processors/app.js";
import { startRiskService } from "../../processors/risk-service.js";
import { DEFAULT_WORKLOAD, generateWorkload, prng, type WorkloadOptions } from "../../processors/workload.js";
import {
  orderPipelineTopics,
  spawnWorker,
  waitIdle,
  waitReady,
  watchStatuses,
  type WorkerProcess,
} from "../../bin/demo.js";
import { verifyOnKafka } from "../../bin/verify.js";
import {
  createTopics,
  deleteGroup,
  deleteTopics,
  toProduce,
  workloadProducer,
} from "../../bin/workload-kafka.js";
import { disconnect, produceInOrder } from "../../topology/kafka.js";
import { LocalCluster, waitInSync } from "./cluster.js";

/** Kafka's own topics that weir's exactly-once writes to. */
const KAFKA_INTERNAL = ["__consumer_offsets", "__transaction_state"];

export const FAULT_KINDS = [
  "worker-kill",
  "worker-term",
  "worker-add",
  "worker-remove",
  "broker-kill",
  "zombie",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  /** Orders over the whole run (with their payments and restocks). */
  orders: number;
  /** Workers at the start (the run keeps between W-1 and W+1). */
  workers: number;
  /** How long the load is produced, ms; faults happen within it. */
  durationMs: number;
  seed: number;
  /** An explicit schedule (ms after the load starts); otherwise seeded, one fault every `faultEveryMs` on average. */
  schedule?: Array<{ atMs: number; kind: FaultKind }>;
  faultEveryMs?: number;
  /** Fault kinds the seeded schedule draws from (default all). */
  kinds?: readonly FaultKind[];
  /** Client port of the cluster's node 1 (started and stopped by the run). */
  clusterPort: number;
  partitions?: number;
  /** Bad records mixed into the load (processors/hostile.ts). */
  badInput?: number;
  log?: (line: string) => void;
}

export interface FaultRecord {
  /** Seconds after the load started. */
  atS: number;
  kind: FaultKind;
  target: string;
  /** How long the fault's own steps took (a restart, a pause), s. */
  tookS: number;
  /** The worst end-to-end latency of a status seen in the 60 s after the fault, ms. */
  worstLatencyMs?: number;
}

export interface ChaosReport {
  ok: boolean;
  seed: number;
  settings: { orders: number; workers: number; durationS: number; partitions: number; badInput: number };
  faults: Record<string, number>;
  faultLog: FaultRecord[];
  /** Workers that exited without being told to (restarted by the run, as a supervisor would). */
  unexpectedExits: Array<{ atS: number; worker: number; code: number | null; signal: string | null }>;
  orders: number;
  statuses: Record<string, number>;
  duplicated: number;
  missing: number;
  unknown: number;
  stockViolations: number;
  checks: Record<string, { ok: boolean }>;
  /** The largest restore any worker did (records), and when (s after the load started). */
  largestRestore: { records: number; store: string; partition: number; atS: number } | null;
  latencyMs: { p50: number; p99: number; max: number; statuses: number };
  seconds: { load: number; drain: number; total: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Classic group session timeout weir uses (10 s): a pause longer than this makes the worker a zombie. */
const SESSION_TIMEOUT_MS = 10_000;

/** The seeded schedule: faults at random gaps around `every`, kinds drawn uniformly (never two at once). */
export function chaosSchedule(
  seed: number,
  durationMs: number,
  everyMs: number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
): Array<{ atMs: number; kind: FaultKind }> {
  const random = prng(seed ^ 0xc4a05);
  const out: Array<{ atMs: number; kind: FaultKind }> = [];
  for (let at = everyMs * (0.5 + random()); at < durationMs - 5_000; at += everyMs * (0.5 + random()))
    out.push({ atMs: Math.round(at), kind: kinds[Math.floor(random() * kinds.length)]! });
  return out;
}

interface Slot {
  index: number;
  generation: number;
  worker: WorkerProcess;
  /** Set while the run itself stops this worker (SIGTERM, SIGKILL, removal): its exit is expected. */
  expectingExit: boolean;
  removed: boolean;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => {});
  const partitions = o.partitions ?? 4;
  const random = prng(o.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const started = Date.now();
  const cluster = new LocalCluster(o.clusterPort);
  log(`chaos: seed ${o.seed}; starting a three-broker cluster on ${cluster.address}`);
  await cluster.start();
  const brokers = cluster.address;
  const risk = await startRiskService({ failureRate: 0.01 });
  const runDir = mkdtempSync(join(tmpdir(), "weir-chaos-"));
  const slots: Slot[] = [];
  const unexpectedExits: ChaosReport["unexpectedExits"] = [];
  let loadStarted = 0;
  const sinceLoad = () => (loadStarted === 0 ? 0 : (Date.now() - loadStarted) / 1000);
  let finished = false;

  const launch = (index: number, generation: number): Slot => {
    const slot: Slot = {
      index,
      generation,
      worker: spawnWorker(index, brokers, partitions, runDir, generation, risk.url),
      expectingExit: false,
      removed: false,
    };
    // A worker that exits on its own is restarted after a second, as a supervisor (systemd, Kubernetes) would.
    void slot.worker.exited.then(async (code) => {
      if (slot.expectingExit || finished) return;
      unexpectedExits.push({ atS: sinceLoad(), worker: index, code, signal: slot.worker.child.signalCode });
      log(`chaos: worker ${index} exited on its own (${code}); restarting it`);
      await sleep(1000);
      if (finished) return;
      const i = slots.indexOf(slot);
      if (i >= 0) slots[i] = launch(index, slot.generation + 1);
    });
    return slot;
  };
  const live = () => slots.filter((s) => !s.removed);
  const stopSlot = async (slot: Slot, signal: NodeJS.Signals) => {
    slot.expectingExit = true;
    slot.worker.child.kill(signal);
    await Promise.race([slot.worker.exited, sleep(60_000)]);
    if (slot.worker.child.exitCode === null && slot.worker.child.signalCode === null) {
      slot.worker.child.kill("SIGKILL");
      await slot.worker.exited;
    }
  };
  const restartSlot = (slot: Slot) => {
    const i = slots.indexOf(slot);
    slots[i] = launch(slot.index, slot.generation + 1);
    return slots[i]!;
  };

  let watcher: Awaited<ReturnType<typeof watchStatuses>> | undefined;
  try {
    const specs = orderPipelineTopics(partitions);
    await deleteTopics(
      brokers,
      specs.map((t) => t.name),
    );
    await deleteGroup(brokers, APP_ID);
    await createTopics(brokers, specs);
    for (let i = 0; i < o.workers; i++) slots.push(launch(i, 0));
    await waitReady(
      slots.map((s) => s.worker),
      120_000,
    );
    log(`chaos: ${o.workers} workers ready; logs in ${runDir}`);

    // The workload: event time runs with the wall clock (the simulated rate is the produced rate).
    const durationS = o.durationMs / 1000;
    const options: Omit<WorkloadOptions, "paymentPartitions"> = {
      ...DEFAULT_WORKLOAD,
      orders: o.orders,
      seed: o.seed,
      rate: o.orders / durationS,
      startMs: Math.floor(Date.now() / 1000) * 1000 + 5000,
      pipeline: DEFAULT_PIPELINE_OPTIONS,
      badInput: o.badInput ?? 0,
    };
    const workload = generateWorkload({ ...options, paymentPartitions: partitions });
    const expected = new Set(workload.orders.map((x) => x.orderId));
    const producedAt = new Map<string, number>();
    const seen = new Map<string, { at: number; latencyMs: number | undefined }>();
    watcher = await watchStatuses(brokers, partitions, (id, value) => {
      const now = Date.now();
      if (seen.has(id)) return; // a second status is counted by the verifier, which reads the topic itself
      // End-to-end latency: from the order's last input record (the order, or its payment) to its status. Timeouts
      // wait for the join window by design and are not latencies.
      const status = value?.toString() ?? "";
      const from = producedAt.get(id);
      seen.set(id, {
        at: now,
        latencyMs: from === undefined || status.includes('"timeout"') ? undefined : now - from,
      });
    });

    // The load, paced over the duration, with one producer (idempotent, acks=all).
    const producer = await workloadProducer(brokers);
    loadStarted = Date.now();
    const records = workload.records;
    const load = (async () => {
      const sliceMs = 500;
      let next = 0;
      while (next < records.length) {
        const due = Math.min(
          records.length,
          Math.ceil(((Date.now() - loadStarted + sliceMs) / o.durationMs) * records.length),
        );
        const from = next;
        if (due > from) {
          const now = Date.now();
          for (let i = from; i < due; i++) {
            const key = records[i]!.key;
            if (key !== null) producedAt.set(key, now);
          }
          await produceInOrder(producer, due - from, (i) => toProduce(records[from + i]!), {
            timeoutMs: 120_000,
          });
          next = due;
        }
        await sleep(sliceMs);
      }
    })();

    // The faults.
    const schedule =
      o.schedule ?? chaosSchedule(o.seed, o.durationMs, o.faultEveryMs ?? 30_000, o.kinds ?? FAULT_KINDS);
    const faultLog: FaultRecord[] = [];
    const faults = (async () => {
      for (const f of schedule) {
        const wait = loadStarted + f.atMs - Date.now();
        if (wait > 0) await sleep(wait);
        const t0 = Date.now();
        const record = (target: string) =>
          faultLog.push({
            atS: (t0 - loadStarted) / 1000,
            kind,
            target,
            tookS: (Date.now() - t0) / 1000,
          });
        const running = live();
        // The group stays between W-1 and W+1 workers: an add at the top removes one instead, a remove at the
        // bottom adds one (the schedule's rebalance happens either way).
        const kind: FaultKind =
          f.kind === "worker-add" && running.length > o.workers
            ? "worker-remove"
            : f.kind === "worker-remove" && running.length < o.workers
              ? "worker-add"
              : f.kind;
        switch (kind) {
          case "worker-kill": {
            const victim = pick(running);
            log(`chaos: ${sinceLoad().toFixed(0)} s: SIGKILL worker ${victim.index}; restart at once`);
            await stopSlot(victim, "SIGKILL");
            restartSlot(victim);
            record(`worker ${victim.index}`);
            break;
          }
          case "worker-term": {
            const victim = pick(running);
            log(`chaos: ${sinceLoad().toFixed(0)} s: SIGTERM worker ${victim.index}; restart when it exited`);
            await stopSlot(victim, "SIGTERM");
            restartSlot(victim);
            record(`worker ${victim.index}`);
            break;
          }
          case "worker-add": {
            const index = Math.max(...slots.map((s) => s.index)) + 1;
            slots.push(launch(index, 0));
            log(`chaos: ${sinceLoad().toFixed(0)} s: added worker ${index} (rebalance)`);
            record(`worker ${index}`);
            break;
          }
          case "worker-remove": {
            const victim = pick(running);
            victim.removed = true;
            log(`chaos: ${sinceLoad().toFixed(0)} s: removing worker ${victim.index} (SIGTERM, rebalance)`);
            await stopSlot(victim, "SIGTERM");
            record(`worker ${victim.index}`);
            break;
          }
          case "broker-kill": {
            const node = 1 + Math.floor(random() * 3);
            log(`chaos: ${sinceLoad().toFixed(0)} s: SIGKILL broker ${node}`);
            await cluster.kill(node);
            await sleep(10_000 + random() * 10_000);
            await cluster.startNode(node);
            // As a rolling restart does: the next broker fault waits until this one has caught up (every partition's
            // ISR full again). Without it, a second broker down leaves partitions below min.insync.replicas (2) and
            // Kafka refuses their writes until the first catches up: a stall of the cluster, not of weir.
            const caughtUp = await waitInSync(
              brokers,
              [...specs.map((t) => t.name), ...KAFKA_INTERNAL],
              300_000,
            );
            log(`chaos: ${sinceLoad().toFixed(0)} s: broker ${node} back, in sync after ${caughtUp} ms`);
            record(`broker ${node}`);
            break;
          }
          case "zombie": {
            const victim = pick(running);
            const pauseMs = SESSION_TIMEOUT_MS + 5_000;
            log(`chaos: ${sinceLoad().toFixed(0)} s: SIGSTOP worker ${victim.index} for ${pauseMs / 1000} s`);
            victim.worker.child.kill("SIGSTOP");
            await sleep(pauseMs);
            victim.worker.child.kill("SIGCONT");
            record(`worker ${victim.index}`);
            break;
          }
        }
      }
    })();
    await Promise.all([load, faults]);
    producer.setPollInterval(0);
    await disconnect(producer);
    const loadSeconds = sinceLoad();
    log(`chaos: load done (${records.length} records, ${faultLog.length} faults); draining`);

    // Drain: every order has its status (or 5 minutes pass), then the topics stop moving.
    const drainStarted = Date.now();
    while ([...expected].some((id) => !seen.has(id)) && Date.now() - drainStarted < 300_000) await sleep(500);
    await waitIdle(
      brokers,
      specs.map((t) => t.name),
      60_000,
      async () => Promise.all(live().map((s) => s.worker.url)),
    );
    const drainSeconds = (Date.now() - drainStarted) / 1000;
    const report = await verifyOnKafka(brokers, options);

    // Latency: overall, and the worst in the minute after each fault.
    const latencies = [...seen.values()].filter((s) => s.latencyMs !== undefined);
    const sorted = latencies.map((s) => s.latencyMs!).sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    for (const f of faultLog) {
      const from = loadStarted + f.atS * 1000;
      const around = latencies.filter((s) => s.at >= from && s.at < from + 60_000).map((s) => s.latencyMs!);
      f.worstLatencyMs = around.length > 0 ? Math.max(...around) : undefined;
    }
    const faultsByKind: Record<string, number> = {};
    for (const f of faultLog) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
    const restore = largestRestore(runDir, loadStarted);
    const c = report.checks;
    const result: ChaosReport = {
      ok: report.ok,
      seed: o.seed,
      settings: {
        orders: o.orders,
        workers: o.workers,
        durationS,
        partitions,
        badInput: o.badInput ?? 0,
      },
      faults: faultsByKind,
      faultLog,
      unexpectedExits,
      orders: workload.orders.length,
      statuses: report.statuses,
      duplicated: Number(c.exactlyOneStatus.duplicated ?? 0),
      missing: Number(c.exactlyOneStatus.missing ?? 0),
      unknown: Number(c.exactlyOneStatus.unknown ?? 0),
      stockViolations: Array.isArray(c.stock.mismatches) ? c.stock.mismatches.length : 0,
      checks: c as unknown as Record<string, { ok: boolean }>,
      largestRestore: restore,
      latencyMs: { p50: q(0.5), p99: q(0.99), max: sorted.at(-1) ?? 0, statuses: sorted.length },
      seconds: { load: loadSeconds, drain: drainSeconds, total: (Date.now() - started) / 1000 },
    };
    return result;
  } finally {
    finished = true;
    await watcher?.stop().catch(() => undefined);
    await Promise.all(live().map((s) => stopSlot(s, "SIGTERM")));
    await risk.close();
    await cluster.stop().catch(() => undefined);
  }
}

/** The largest "store restored" any worker logged after the load started (the restores that faults caused). */
function largestRestore(runDir: string, loadStarted: number): ChaosReport["largestRestore"] {
  let best: ChaosReport["largestRestore"] = null;
  for (const file of readdirSync(runDir).filter((f) => f.endsWith(".log")))
    for (const line of readFileSync(join(runDir, file), "utf8").split("\n")) {
      if (!line.includes('"store restored"')) continue;
      try {
        const l = JSON.parse(line) as { time: string; store: string; partition: number; records?: number };
        const at = Date.parse(l.time);
        if (at < loadStarted || (l.records ?? 0) <= (best?.records ?? -1)) continue;
        best = {
          records: l.records ?? 0,
          store: l.store,
          partition: l.partition,
          atS: (at - loadStarted) / 1000,
        };
      } catch {
        // not a JSON line
      }
    }
  return best;
}
