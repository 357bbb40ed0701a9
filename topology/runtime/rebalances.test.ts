/**
 * Rebalance handling with fake clients: an assignment (incremental too) is answered after the stable-offset lookup
 * and the restore, with explicit start offsets (the stable committed ones, or the source policy's); a task whose
 * partitions come apart waits paused; a revoke that arrives while the restore runs is handled after it, in callback
 * order, and leaves no task behind.
 */
import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import { openMemoryState } from "../../state/index.js";
import { Stores, TopologyBuilder, type ProcessorFactory } from "../builder.js";
import { ProducerFencedError } from "../errors.js";
import { ErrorCode, Offset, type IAdminClient, type KafkaConsumer, type LibrdKafkaError } from "../kafka.js";
import { silentLogger } from "../log.js";
import { compileWorkerOptions } from "../options.js";
import { Serdes } from "../serdes.js";
import type { Committer } from "./committer.js";
import { Rebalancer } from "./rebalances.js";
import type { RecordCollector } from "./record-collector.js";
import type { Restorer } from "./restorer.js";
import { TaskManager } from "./task-manager.js";

const echo: ProcessorFactory<string, string, string, string> = (ctx) => {
  ctx.keyValueStore("s");
  return map((r) => ({ key: r.key, value: r.value }));
};

function setup(
  committed: Record<number, number | undefined>,
  opts: { twoTopics?: boolean; abortFails?: boolean } = {},
) {
  const b = new TopologyBuilder("app");
  b.store("s", Stores.keyValue(Serdes.string(), Serdes.string()));
  const serdes = { key: Serdes.string(), value: Serdes.string() };
  const input = opts.twoTopics
    ? b.stream("in", serdes).merge("both", b.stream("other", serdes))
    : b.stream("in", serdes);
  input.process("p", echo, { stores: ["s"] }).to("out", serdes);
  const topology = b.build();
  const options = compileWorkerOptions(topology, { brokers: "x:1", stateDir: "/tmp/unused", workerId: "w" });
  const calls: string[] = [];
  const consumer = {
    rebalanceProtocol: () => "COOPERATIVE",
    assignmentLost: () => false,
    incrementalAssign: (tps: Array<{ topic: string; partition: number; offset?: number }>) =>
      calls.push(`assign ${tps.map((t) => `${name(t)}@${t.offset}`).join(",")}`),
    incrementalUnassign: (tps: Array<{ topic: string; partition: number }>) =>
      calls.push(`unassign ${tps.map(name).join(",")}`),
    committed: (
      tps: Array<{ topic: string; partition: number }>,
      _t: number,
      cb: (e: unknown, r: object[]) => void,
    ) =>
      cb(
        null,
        tps.map((tp) =>
          committed[tp.partition] === undefined ? tp : { ...tp, offset: committed[tp.partition] },
        ),
      ),
    pause: (ps: Array<{ topic: string; partition: number }>) => calls.push(`pause ${ps.map(name).join(",")}`),
    resume: (ps: Array<{ topic: string; partition: number }>) =>
      calls.push(`resume ${ps.map(name).join(",")}`),
    assignments: () => tps(0, 1),
    seek: (
      tpo: { topic: string; partition: number; offset: number },
      _t: number,
      cb: (e: unknown) => void,
    ) => {
      calls.push(`seek ${name(tpo)}@${tpo.offset}`);
      cb(null);
    },
  } as unknown as KafkaConsumer;
  const admin = {
    listOffsets: (
      tps: Array<{ topic: string; partition: number; offset: { timestamp: number } }>,
      _o: unknown,
      cb: (e: unknown, r: object[]) => void,
    ) =>
      cb(
        null,
        tps.map((tp) => ({ ...tp, offset: tp.offset.timestamp === -2 ? 0 : 1000 })),
      ),
  } as unknown as IAdminClient;
  const state = openMemoryState();
  const tasks = new TaskManager({
    topology,
    options,
    log: silentLogger,
    metrics: undefined,
    store: () => state,
    consumer: () => consumer,
    collector: {} as RecordCollector,
  });
  let releaseRestore!: () => void;
  const restoreGate = new Promise<void>((r) => (releaseRestore = r));
  const restorer = {
    restoreTask: async (_sub: number, partition: number) => {
      calls.push(`restore ${partition} started`);
      await restoreGate;
      calls.push(`restore ${partition} done`);
    },
  } as unknown as Restorer;
  let lock: Promise<unknown> = Promise.resolve();
  let failure: unknown;
  const rebalancer: Rebalancer = new Rebalancer({
    topology,
    options,
    log: silentLogger,
    metrics: undefined,
    consumer: () => consumer,
    admin: () => admin,
    tasks,
    committer: {
      txnOpen: false,
      committedOffsets: new Map(),
      noteStarts: () => {},
      requestCheckpoint: () => calls.push("checkpoint requested"),
      abort: async () => {
        calls.push("abort");
        if (opts.abortFails) throw new ProducerFencedError("abortTransaction failed: invalid state");
      },
    } as unknown as Committer,
    restorer,
    exclusive: (fn) => {
      const run = lock.then(fn);
      lock = run.catch(() => {});
      return run;
    },
    commit: async () => {
      calls.push("commit");
    },
    retry: (_w, fn) => fn(),
    stopRequested: () => false,
    failed: () => failure !== undefined,
    fail: (e) => (failure ??= e),
    ready: (): boolean => rebalancer.settled,
    assignmentChanged: () => {},
    replaceProducer: async (cause) => {
      calls.push(`replace producer (${cause.message})`);
    },
  });
  const event = (code: number) => ({ code, message: "" }) as LibrdKafkaError;
  return { rebalancer, tasks, calls, releaseRestore, event, failure: () => failure };
}

const tps = (...ps: number[]) => ps.map((partition) => ({ topic: "in", partition }));
const other = (...ps: number[]) => ps.map((partition) => ({ topic: "other", partition }));
/** A partition as the calls log shows it: `0` for in/0 (the single-topic tests), `other/0`. */
const name = (t: { topic: string; partition: number }) =>
  t.topic === "in" ? String(t.partition) : `${t.topic}/${t.partition}`;

describe("Rebalancer", () => {
  it("an abort the producer fails for good goes to the producer's replacement, which rewinds; otherwise it rewinds itself", async () => {
    const failing = setup({ 0: 5 }, { abortFails: true });
    failing.releaseRestore();
    failing.rebalancer.onRebalance(failing.event(ErrorCode.ASSIGN_PARTITIONS), tps(0));
    await failing.rebalancer.chain;
    failing.calls.length = 0;
    await failing.rebalancer.abortAndRewind();
    expect(failing.calls).toEqual(["abort", "replace producer (abortTransaction failed: invalid state)"]);

    const healthy = setup({ 0: 5 });
    healthy.releaseRestore();
    healthy.rebalancer.onRebalance(healthy.event(ErrorCode.ASSIGN_PARTITIONS), tps(0));
    await healthy.rebalancer.chain;
    healthy.calls.length = 0;
    await healthy.rebalancer.abortAndRewind();
    expect(healthy.calls).toEqual(["abort", "seek 0@5"]);
  });

  it("assigns new partitions at explicit start offsets after the restore; a revoke during the restore waits, leaving no task", async () => {
    const { rebalancer, tasks, calls, releaseRestore, event, failure } = setup({ 0: 42, 1: undefined });
    rebalancer.onRebalance(event(ErrorCode.ASSIGN_PARTITIONS), tps(0, 1));
    // Not answered before the work: an answer at the log end and a seek later let librdkafka skip records.
    expect(calls).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual(["restore 0 started"]);
    expect(rebalancer.settled).toBe(false);
    rebalancer.onRebalance(event(ErrorCode.REVOKE_PARTITIONS), tps(0, 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual(["restore 0 started"]); // the revoke waits its turn
    releaseRestore();
    await rebalancer.chain;
    expect(calls).toEqual([
      "restore 0 started",
      "restore 0 done",
      "restore 1 started",
      "restore 1 done",
      // partition 0 at its stable committed offset; partition 1 has none: the source policy (earliest)
      `assign 0@42,1@${Offset.BEGINNING}`,
      "checkpoint requested", // the revoked tasks close after this commit
      "commit",
      "unassign 0,1",
    ]);
    expect(tasks.tasks.size).toBe(0);
    expect(tasks.tasks.partitionCount).toBe(0);
    expect(failure()).toBeUndefined();
  });

  it("a task whose partitions come apart waits, paused, unopened, until it is whole; then starts from its committed offsets", async () => {
    const { rebalancer, tasks, calls, releaseRestore, event, failure } = setup({ 0: 7 }, { twoTopics: true });
    releaseRestore();
    // Only in/0 of task 0_0 (which reads in and other): not opened; assigned and paused, and it stays paused.
    rebalancer.onRebalance(event(ErrorCode.ASSIGN_PARTITIONS), tps(0));
    await rebalancer.chain;
    expect(tasks.tasks.size).toBe(0);
    expect(rebalancer.settled).toBe(false);
    expect(rebalancer.incompleteTasks()).toMatchObject([{ id: "0_0", missing: ["other/0"] }]);
    expect(calls).toEqual(["assign 0@7", "pause 0"]);

    // other/0 arrives: the task restores and opens with both; in/0 starts again from its committed offset.
    calls.length = 0;
    rebalancer.onRebalance(event(ErrorCode.ASSIGN_PARTITIONS), other(0));
    await rebalancer.chain;
    expect(tasks.tasks.get("0_0")?.partitions.map(name).sort()).toEqual(["0", "other/0"]);
    expect(rebalancer.settled).toBe(true);
    expect(calls).toEqual([
      "restore 0 started",
      "restore 0 done",
      "seek 0@7",
      "resume 0",
      "assign other/0@7",
    ]);

    // An incremental revoke takes other/0: the task commits and closes; in/0 stays assigned, paused, waiting.
    calls.length = 0;
    rebalancer.onRebalance(event(ErrorCode.REVOKE_PARTITIONS), other(0));
    await rebalancer.chain;
    expect(tasks.tasks.size).toBe(0);
    expect(calls).toEqual(["checkpoint requested", "commit", "unassign other/0", "pause 0"]);
    expect(rebalancer.incompleteTasks()).toMatchObject([{ id: "0_0", missing: ["other/0"] }]);

    // in/0 goes too: nothing waits any more.
    calls.length = 0;
    rebalancer.onRebalance(event(ErrorCode.REVOKE_PARTITIONS), tps(0));
    await rebalancer.chain;
    expect(calls).toEqual(["checkpoint requested", "commit", "unassign 0"]);
    expect(rebalancer.incompleteTasks()).toEqual([]);
    expect(rebalancer.settled).toBe(true);
    expect(failure()).toBeUndefined();
  });

  it("an empty incremental assignment is answered too (librdkafka waits for every answer)", async () => {
    const { rebalancer, calls, event, failure } = setup({});
    rebalancer.onRebalance(event(ErrorCode.ASSIGN_PARTITIONS), []);
    await rebalancer.chain;
    expect(calls).toEqual(["assign "]);
    expect(rebalancer.settled).toBe(true);
    expect(failure()).toBeUndefined();
  });
});
