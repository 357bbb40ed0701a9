/**
 * The crash loop: three workers of the running-sum app (test/apps/running-sum.ts) in one group on a keyed input
 * under continuous load, 100 ms commits; again and again one worker is SIGKILLed **between sendOffsetsToTransaction
 * and commitTransaction** (the test-only fault point, armed through WEIR_TEST_FAULT_FILE) and restarted — sometimes
 * at once with its state (same worker id: its successor fences the undecided transaction), sometimes after a pause,
 * sometimes on a fresh state directory (a new worker id: the dead transaction stays undecided until the broker's
 * transaction timeout, holding unstable offsets and an undecided changelog tail for whoever gets the partitions).
 *
 * At the end the load stops, the group drains, and every output partition is compared with the running fold of its
 * input partition up to the committed offset: same records in the same order, none missing, none doubled.
 */
import { writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import {
  committedOffsets,
  connectProducer,
  consumeAll,
  createTopic,
  disconnect,
  endOffsets,
  fromCallback,
  uniqueName,
  waitFor,
} from "./kafka.js";
import { WorkerProcess, tempDir } from "./worker-process.js";
import { prng } from "../../processors/workload.js";

export interface CrashLoopOptions {
  /** Load and faults run at least this long. */
  durationMs: number;
  /** ... and until this many workers were killed mid-commit (bounded by 3 × durationMs). */
  minKills: number;
  workers?: number;
  partitions?: number;
  keys?: number;
  /** Input records per second. */
  rate?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface CrashLoopReport {
  kills: number;
  restartsFresh: number;
  /** Times a worker waited for committed offsets held unstable by a dead worker's undecided transaction. */
  offsetWaits: number;
  /** Times a restore waited for an undecided transaction on a changelog. */
  restoreWaits: number;
  inputs: number;
  outputs: number;
  duplicates: number;
  missing: number;
  wrong: number;
  firstProblems: string[];
  seconds: number;
}

interface SumOutput {
  p: number;
  o: number;
  v: number;
  sum: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runCrashLoop(o: CrashLoopOptions): Promise<CrashLoopReport> {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const seed = o.seed ?? Date.now() % 100_000;
  // Two streams from the seed: the fault schedule (which worker, how it restarts) does not depend on how many
  // records the load loop drew meanwhile.
  const random = prng(seed);
  const data = prng(seed ^ 0x5bd1e995);
  const partitions = o.partitions ?? 3;
  const keys = o.keys ?? 200;
  const rate = o.rate ?? 2000;
  const prefix = uniqueName("crash");
  const input = `${prefix}-input`;
  const output = `${prefix}-sums`;
  const appId = `${prefix}-app`;
  log(`crash loop: seed ${seed}, app ${appId}`);
  await createTopic(input, partitions);
  await createTopic(output, partitions);

  const faultDir = tempDir("weir-faults");
  const slots = Array.from({ length: o.workers ?? 3 }, (_, i) => ({
    i,
    faultFile: join(faultDir, `fault-${i}`),
    stateDir: tempDir(`weir-crash-${i}`),
    worker: undefined as WorkerProcess | undefined,
    down: false,
  }));
  const retired: WorkerProcess[] = [];
  const startSlot = (slot: (typeof slots)[number]) => {
    if (slot.worker) retired.push(slot.worker);
    slot.worker = new WorkerProcess({
      stateDir: slot.stateDir,
      // A session timeout shorter than the transaction timeout: a dead worker's partitions move to the survivors
      // while its last transaction (offsets and changelog records) is still undecided.
      args: [
        "--app",
        "test/apps/running-sum.ts",
        "--commit-interval-ms",
        "100",
        "--kafka",
        "session.timeout.ms=6000",
        "--kafka",
        "transaction.timeout.ms=15000",
      ],
      env: { WEIR_TEST_PREFIX: prefix, WEIR_TEST_FAULT_FILE: slot.faultFile },
    }).start();
  };
  slots.forEach(startSlot);

  // Load: keyed records, values 1..100, placed by murmur2 as the workers' producers place outputs.
  const producer = await connectProducer({ partitioner: "murmur2_random", "linger.ms": 5, dr_cb: false });
  let inputs = 0;
  let loadRunning = true;
  const load = (async () => {
    const perTick = Math.max(1, Math.round(rate / 10));
    while (loadRunning) {
      for (let n = 0; n < perTick; n++) {
        const k = `k${Math.floor(data() * keys)}`;
        producer.produce(input, null, Buffer.from(String(1 + Math.floor(data() * 100))), k);
        inputs++;
      }
      producer.poll();
      await sleep(100);
    }
    await fromCallback((done) => producer.flush(30_000, (err) => done(err)));
  })();

  let kills = 0;
  let restartsFresh = 0;
  try {
    await Promise.all(slots.map((s) => s.worker!.waitReady(120_000)));
    const hardStop = started + 3 * o.durationMs;
    const restarts: Array<Promise<void>> = [];
    while ((Date.now() - started < o.durationMs || kills < o.minKills) && Date.now() < hardStop) {
      await sleep(1000 + random() * 2000);
      // Kill only while at least two workers run, so the group keeps making progress.
      const up = slots.filter((s) => !s.down);
      if (up.length < 2) continue;
      const slot = up[Math.floor(random() * up.length)]!;
      const w = slot.worker!;
      writeFileSync(slot.faultFile, "kill-after-send-offsets");
      const exit = await w.exited(6000).catch(() => undefined);
      if (!exit) {
        // No commit with offsets on that worker in 6 s (it may own nothing right now): disarm, try another.
        rmSync(slot.faultFile, { force: true });
        continue;
      }
      if (exit.signal !== "SIGKILL")
        throw new Error(
          `worker ${slot.i} exited with ${JSON.stringify(exit)}, not by the fault point:\n${w.stderr.slice(-20).join("\n")}`,
        );
      kills++;
      slot.down = true;
      const restart = () => {
        startSlot(slot);
        slot.down = false;
      };
      // Restart on a fresh state directory (a new machine: a new worker id, so nothing fences the dead
      // transaction and it stays undecided until the broker's transaction timeout), or after the session timeout
      // (its partitions move first, while its transaction is undecided), or at once (the successor fences it).
      const roll = random();
      let how = "at once";
      if (roll < 0.2) {
        slot.stateDir = tempDir(`weir-crash-${slot.i}`);
        restartsFresh++;
        how = "on a fresh state dir";
        restart();
      } else if (roll < 0.5) {
        const pause = 6000 + random() * 4000;
        how = `after ${Math.round(pause)} ms`;
        restarts.push(sleep(pause).then(restart));
      } else restart();
      log(`kill ${kills} of worker ${slot.i} mid-commit; restart ${how}`);
    }
    await Promise.all(restarts);
    loadRunning = false;
    await load;
    log(`load stopped after ${inputs} records and ${kills} kills; draining`);
    const ends = await endOffsets(input);
    await waitFor(
      `group ${appId} to commit the end of ${input}`,
      async () => {
        for (const s of slots) if (s.worker && existsSync(s.faultFile)) rmSync(s.faultFile, { force: true });
        const committed = await committedOffsets(appId, input).catch(() => new Map<number, number>());
        return [...ends].every(([p, end]) => (committed.get(p) ?? -1) >= end) ? true : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 500 },
    );
  } finally {
    loadRunning = false;
    await load.catch(() => {});
    await disconnect(producer);
    await Promise.all(slots.map((s) => s.worker?.stop()));
  }

  // Verify: each output partition is the running fold of its input partition up to the committed offset.
  const committed = await committedOffsets(appId, input);
  const inRecords = await consumeAll(input, { timeoutMs: 120_000 });
  const outRecords = await consumeAll(output, { isolation: "read_committed", timeoutMs: 120_000 });
  const problems: string[] = [];
  let duplicates = 0;
  let missing = 0;
  let wrong = 0;
  for (let p = 0; p < partitions; p++) {
    const upTo = committed.get(p) ?? 0;
    const ins = inRecords
      .filter((r) => r.partition === p && r.offset < upTo)
      .sort((a, b) => a.offset - b.offset);
    const sums = new Map<string, number>();
    const expected = ins.map((r) => {
      const v = Number(r.value);
      const sum = (sums.get(r.key!) ?? 0) + v;
      sums.set(r.key!, sum);
      return { key: r.key!, p, o: r.offset, v, sum };
    });
    const actual = outRecords
      .filter((r) => r.partition === p)
      .map((r) => ({ key: r.key!, ...(JSON.parse(r.value!) as SumOutput) }));
    const seen = new Map<number, number>();
    for (const a of actual) seen.set(a.o, (seen.get(a.o) ?? 0) + 1);
    for (const n of seen.values()) if (n > 1) duplicates += n - 1;
    for (const e of expected) if (!seen.has(e.o)) missing++;
    const n = Math.max(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      const e = expected[i];
      const a = actual[i];
      if (!e || !a || e.key !== a.key || e.o !== a.o || e.p !== a.p || e.v !== a.v || e.sum !== a.sum) {
        wrong++;
        if (problems.length < 10)
          problems.push(
            `partition ${p} position ${i}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`,
          );
      }
    }
  }
  const all = [...retired, ...slots.map((s) => s.worker!)];
  const count = (msg: RegExp) => all.reduce((n, w) => n + w.logs.filter((l) => msg.test(l.msg)).length, 0);
  return {
    kills,
    restartsFresh,
    offsetWaits: count(/^waiting for committed offsets/),
    restoreWaits: count(/^restore waiting for an undecided transaction/),
    inputs: inRecords.length,
    outputs: outRecords.length,
    duplicates,
    missing,
    wrong,
    firstProblems: problems,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
