/**
 * The commit protocol with fake Kafka clients and the in-memory state backend: Kafka first, LMDB after; an
 * abortable failure commits nothing locally and the rewound tasks see the last committed state; a fenced producer is
 * fatal.
 */
import { describe, expect, it, vi } from "vitest";
import { openMemoryState, type StateBackend } from "../../state/index.js";
import { Stores, TopologyBuilder, type ProcessorFactory } from "../builder.js";
import { OffsetError, ProducerFencedError } from "../errors.js";
import type { IAdminClient, KafkaConsumer, Message, Producer } from "../kafka.js";
import { silentLogger } from "../log.js";
import { compileWorkerOptions } from "../options.js";
import { Serdes } from "../serdes.js";
import { map } from "rxjs";
import { Committer, TransactionCallStuckError } from "./committer.js";
import { RecordCollector } from "./record-collector.js";
import { TaskManager } from "./task-manager.js";
import { Health } from "./health.js";

const count: ProcessorFactory<string, string, string, string> = (ctx) => {
  const counts = ctx.keyValueStore<string, number>("counts");
  return map((r) => {
    const n = (counts.get(r.key) ?? 0) + 1;
    counts.put(r.key, n);
    return { key: r.key, value: String(n) };
  });
};

function topology() {
  const b = new TopologyBuilder("unit-app");
  b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
  b.stream("in", { key: Serdes.string(), value: Serdes.string() })
    .process("count", count, { stores: ["counts"] })
    .to("out", { key: Serdes.string(), value: Serdes.string() });
  return b.build();
}

type Call = string;
/** What the fake producer answers: `commit` one error for every call, or one per call in order (then success). */
interface Failures {
  /** "hang": the call is made and never answered (a call librdkafka lost). */
  commit?: object | object[] | "hang";
  abort?: object[];
  /** One error per sendOffsetsToTransaction call, in order (then success). */
  sendOffsets?: object[];
  /** Called as a commitTransaction stands (before its answer), with the end offsets: another writer's turn. */
  afterCommit?: (ends: Map<string, number>) => void;
}
const timedOut = { message: "Local: Timed out", code: -185, isRetriable: true, isFatal: false };
const abortable = {
  message: "Broker: Producer attempted an operation with an old epoch",
  code: 47,
  isTxnRequiresAbort: true,
  isFatal: false,
};

/**
 * A producer whose transactional calls are recorded and answered as the test says. Every record it takes gets the
 * next offset of one log (`ends`: the end offset per topic-partition, what the fake admin answers); no delivery
 * reports, as the worker's producer sends none for delivered records.
 */
function fakeProducer(calls: Call[], ends: Map<string, number>, fail: Failures = {}) {
  let offset = 0;
  return {
    beginTransaction: (cb: (e: unknown) => void) => (calls.push("begin"), cb(null)),
    sendOffsetsToTransaction: (
      offsets: Array<{ topic: string; offset: number }>,
      _c: unknown,
      _t: number,
      cb: (e: unknown) => void,
    ) => {
      calls.push(`sendOffsets ${offsets.map((o) => `${o.topic}@${o.offset}`).join(",")}`);
      cb(fail.sendOffsets?.shift() ?? null);
    },
    commitTransaction: (_t: number, cb: (e: unknown) => void) => {
      calls.push("commit");
      if (fail.commit === "hang") return;
      fail.afterCommit?.(ends);
      cb((Array.isArray(fail.commit) ? fail.commit.shift() : fail.commit) ?? null);
    },
    abortTransaction: (_t: number, cb: (e: unknown) => void) => (
      calls.push("abort"),
      cb(fail.abort?.shift() ?? null)
    ),
    produce: (topic: string, partition: number) => {
      calls.push(`produce ${topic}`);
      ends.set(`${topic}/${partition}`, ++offset);
    },
  };
}

/**
 * An admin client answering `listOffsets` (latest) from `ends`, and recording each call. `undecided` holds, per
 * topic-partition, the first offset of a transaction still undecided: the read_committed answer (the last stable
 * offset) stops there.
 */
function fakeAdmin(calls: Call[], ends: Map<string, number>, undecided: Map<string, number>) {
  return {
    listOffsets: (
      partitions: Array<{ topic: string; partition: number }>,
      o: { isolationLevel: number },
      cb: (e: unknown, r: Array<{ topic: string; partition: number; offset: number }>) => void,
    ) => {
      const committed = o.isolationLevel === 1;
      const tps = partitions.map((p) => `${p.topic}/${p.partition}`);
      calls.push(`listOffsets ${committed ? "stable" : "end"} ${tps.join(",")}`);
      cb(
        null,
        partitions.map((p, i) => {
          const end = ends.get(tps[i]!) ?? 0;
          return { ...p, offset: committed ? Math.min(end, undecided.get(tps[i]!) ?? end) : end };
        }),
      );
    },
  };
}

function setup(fail: Failures = {}, groupOffsets: Record<string, number> = {}) {
  const topo = topology();
  const options = compileWorkerOptions(topo, {
    brokers: "x:1",
    stateDir: "/tmp/unused",
    workerId: "w1",
    transactionCallTimeoutMs: 50,
  });
  const calls: Call[] = [];
  const memory = openMemoryState();
  const store: StateBackend = {
    ...memory,
    open: (name: string, partition: number) => memory.open(name, partition),
    apply: (batches) => {
      calls.push(`lmdb apply ${batches.map((b) => `${b.store}/${b.partition}@${b.checkpoint}`).join(",")}`);
      memory.apply(batches);
    },
  } as StateBackend;
  const ends = new Map<string, number>();
  const producer = fakeProducer(calls, ends, fail) as unknown as Producer;
  const undecided = new Map<string, number>();
  const admin = fakeAdmin(calls, ends, undecided) as unknown as IAdminClient;
  // The group's committed offsets as Kafka answers them (`topic/partition` → offset).
  const consumer = {
    pause() {},
    resume() {},
    committed: (
      ps: Array<{ topic: string; partition: number }>,
      _t: number,
      cb: (e: unknown, r: unknown) => void,
    ) =>
      cb(
        null,
        ps.map((p) => ({ ...p, offset: groupOffsets[`${p.topic}/${p.partition}`] ?? -1001 })),
      ),
  } as unknown as KafkaConsumer;
  const common = { topology: topo, options, log: silentLogger, metrics: undefined };
  const collector = new RecordCollector({ ...common, producer: () => producer });
  const tasks = new TaskManager({ ...common, store: () => store, consumer: () => consumer, collector });
  const health = new Health(common);
  const raised: string[] = [];
  const raise = health.raise.bind(health);
  health.raise = (problem, reason, fields) => (raised.push(problem), raise(problem, reason, fields));
  const committer = new Committer({
    ...common,
    store: () => store,
    producer: () => producer,
    consumer: () => consumer,
    admin: () => admin,
    collector,
    tasks,
    health,
    stopRequested: () => false,
  });
  tasks.open(0, 0, [{ topic: "in", partition: 0 }]);
  let next = 0;
  const feed = async (...keys: string[]) => {
    tasks.enqueue(
      keys.map(
        (k) =>
          ({
            topic: "in",
            partition: 0,
            offset: next++,
            key: Buffer.from(k),
            value: Buffer.from("x"),
            timestamp: 1,
            size: 1,
          }) as Message,
      ),
    );
    await committer.beginIfNeeded();
    tasks.processQueued(Date.now());
  };
  const countOf = (k: string) => tasks.queryStore("counts", k).value;
  return { calls, committer, tasks, collector, feed, countOf, memory, health, raised, ends, undecided };
}

describe("Committer", () => {
  it("commits in Kafka first (outputs, changelog, offsets), then applies state and checkpoint to the store; tasks closing get a second commit that checkpoints the first", async () => {
    const { calls, committer, feed, memory } = setup();
    await feed("a", "a", "b");
    committer.requestCheckpoint();
    await committer.commit();
    expect(calls).toEqual([
      "begin",
      "produce out",
      "produce out",
      "produce out",
      // last write per key since the previous commit: one changelog record per key
      "produce unit-app-counts-changelog",
      "produce unit-app-counts-changelog",
      "sendOffsets in@3",
      "commit",
      // nothing was checkpointed before: no checkpoint asked for, none applied
      "lmdb apply counts/0@undefined",
      // the tasks close: the same offsets again, the stable offset asked for before they go (- 1 = end - 1 here)
      "begin",
      "listOffsets stable unit-app-counts-changelog/0",
      "listOffsets end unit-app-counts-changelog/0",
      "sendOffsets in@3",
      "commit",
      "lmdb apply counts/0@4",
    ]);
    expect(memory.open("counts", 0).checkpoint()).toBe(4);
  });

  it("checkpoints only when due: commits in between apply their writes and leave the checkpoint behind", async () => {
    const { calls, committer, feed, memory, countOf } = setup();
    await feed("a");
    await committer.commit(); // not due: no end-offset request, no checkpoint
    expect(calls.filter((c) => c.startsWith("listOffsets"))).toEqual([]);
    expect(calls.at(-1)).toBe("lmdb apply counts/0@undefined");
    expect(memory.open("counts", 0).checkpoint()).toBeUndefined();
    expect(countOf("a")).toBe(1);
    // A commit with nothing to do still checkpoints what earlier commits changed, when asked to (tasks closing):
    // it commits the last offsets again first, which proves this worker still owns the partitions.
    committer.requestCheckpoint();
    await committer.commit();
    expect(calls.slice(-6)).toEqual([
      "begin",
      "listOffsets stable unit-app-counts-changelog/0",
      "listOffsets end unit-app-counts-changelog/0",
      "sendOffsets in@1",
      "commit",
      "lmdb apply counts/0@1",
    ]);
    expect(memory.open("counts", 0).checkpoint()).toBe(1);
    // Checkpointed: a further requested commit without changes asks nothing.
    committer.requestCheckpoint();
    await committer.commit();
    expect(calls.filter((c) => c.startsWith("listOffsets"))).toHaveLength(2);
  });

  it("a due checkpoint waits for a commit with offsets: with nothing to commit it asks nothing", async () => {
    // A zombie (frozen past its session) that checkpointed on an idle turn could take the changelog's end as its
    // checkpoint after another worker wrote there; a commit whose offsets the group coordinator took cannot be a
    // zombie's.
    const { calls, committer, feed, memory } = setup();
    await feed("a");
    await committer.commit();
    const now = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(now + 11_000); // a checkpoint is due
    try {
      await committer.commit(); // nothing to commit
      expect(calls.filter((c) => c.startsWith("listOffsets") || c.startsWith("sendOffsets"))).toEqual([
        "sendOffsets in@1",
      ]);
      expect(memory.open("counts", 0).checkpoint()).toBeUndefined();
      await feed("b");
      // Offsets: the due checkpoint is asked for before they go, and applied once the commit stands. It covers the
      // commits before this one (changelog@2), not this one's own record.
      await committer.commit();
      expect(calls.slice(-6)).toEqual([
        "listOffsets stable unit-app-counts-changelog/0",
        "listOffsets end unit-app-counts-changelog/0",
        "produce unit-app-counts-changelog",
        "sendOffsets in@2",
        "commit",
        "lmdb apply counts/0@1",
      ]);
      expect(memory.open("counts", 0).checkpoint()).toBe(1);
    } finally {
      clock.mockRestore();
    }
  });

  it("an undecided transaction on the changelog keeps the checkpoint below it until Kafka decides it", async () => {
    const { calls, committer, feed, memory, ends, undecided } = setup();
    await feed("a");
    await committer.commit(); // out@0, changelog@1
    // A dead worker's transaction, undecided, at offset 2; this worker's next commit writes past it.
    undecided.set("unit-app-counts-changelog/0", 2);
    ends.set("unit-app-counts-changelog/0", 3);
    await feed("a");
    committer.requestCheckpoint();
    await committer.commit(); // changelog@3
    // Checkpointed below the undecided transaction (a restore from it waits for the decision), after 20 asks
    // before the commit and 20 before the offsets-only commit that follows it (the tasks are closing).
    expect(calls.at(-1)).toBe("lmdb apply counts/0@1");
    expect(calls.filter((c) => c.startsWith("listOffsets stable"))).toHaveLength(40);
    expect(memory.open("counts", 0).checkpoint()).toBe(1);
    // Decided: the partition is still due a checkpoint, and the next one covers everything.
    undecided.clear();
    committer.requestCheckpoint();
    await committer.commit();
    expect(calls.at(-1)).toBe("lmdb apply counts/0@3");
    expect(memory.open("counts", 0).checkpoint()).toBe(3);
  });

  it("a checkpoint never covers what a new owner wrote after this worker's commit: the stable offset is read before the offsets go", async () => {
    // A worker frozen right after its commit stood loses its partitions; the new owner commits changelog records of
    // its own. A stable offset asked after the commit would cover them, and a restore from that checkpoint (if the
    // partition came back to this worker) would skip them. Asked before the offsets are sent, it cannot: the group
    // coordinator took those offsets under this worker's generation, so nobody else owned the partition yet.
    const changelog = "unit-app-counts-changelog/0";
    const staleGeneration = {
      message: "Broker: Specified group generation id is not valid",
      code: 22,
      isTxnRequiresAbort: true,
      isFatal: false,
    };
    const fail: Failures = {};
    const { calls, committer, feed, memory } = setup(fail);
    await feed("a");
    await committer.commit(); // out@1, changelog@2; not checkpointed (not due)
    await feed("b"); // out@3
    let ours = 0;
    fail.afterCommit = (e) => {
      fail.afterCommit = undefined;
      ours = e.get(changelog)!; // this commit's last changelog record (changelog@4)
      e.set(changelog, ours + 10); // the new owner's, committed
      fail.sendOffsets = [staleGeneration]; // and this worker's next offsets are refused
    };
    committer.requestCheckpoint(); // tasks about to close
    // The commit stands with the checkpoint asked before it; the offsets-only commit that would checkpoint its own
    // records is refused (another generation owns the partition), so nothing of it is applied.
    const failed = await committer.commit().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(ours).toBe(4);
    expect(memory.open("counts", 0).checkpoint()).toBeLessThanOrEqual(ours);
    expect(memory.open("counts", 0).checkpoint()).toBe(1);
    expect(calls.filter((c) => c.startsWith("lmdb apply"))).toEqual([
      "lmdb apply counts/0@undefined",
      "lmdb apply counts/0@1",
    ]);
    expect(failed).toMatchObject({ code: 22 });
  });

  it("a transaction without new input offsets (a wall-clock punctuation's outputs) sends the last ones again", async () => {
    // Without offsets, the group coordinator never sees the transaction: a zombie's punctuation could commit.
    const punctuation = {
      topic: "out",
      partition: 0,
      key: Buffer.from("window"),
      value: Buffer.from("closed"),
      timestamp: 1,
      headers: {},
    };
    const startedAt = (offset: number) => ({
      topic: "in",
      partition: 0,
      offset,
      decision: { kind: "committed" as const, offset, reason: `committed offset ${offset}` },
    });
    const s = setup();
    // Nothing committed yet, and the partition started without a committed offset: nothing to send.
    await s.committer.beginIfNeeded();
    s.collector.send(punctuation);
    await s.committer.commit();
    expect(s.calls.filter((c) => c.startsWith("sendOffsets"))).toEqual([]);
    // Started from the group's committed offset 7: that one.
    s.committer.noteStarts([startedAt(7)]);
    await s.committer.beginIfNeeded();
    s.collector.send(punctuation);
    await s.committer.commit();
    expect(s.calls.slice(-2)).toEqual(["sendOffsets in@7", "commit"]);
    // After a commit of its own: the offset it committed last.
    await s.feed("a");
    await s.committer.commit();
    expect(s.calls.filter((c) => c.startsWith("sendOffsets")).at(-1)).toBe("sendOffsets in@1");
    s.collector.send(punctuation);
    await s.committer.commit();
    expect(s.calls.slice(-2)).toEqual(["sendOffsets in@1", "commit"]);
    // The partition moved away and came back at 50 (another worker committed meanwhile): 50, never this worker's
    // older 1, which would move the group's offset back.
    s.committer.noteStarts([startedAt(50)]);
    s.collector.send(punctuation);
    await s.committer.commit();
    expect(s.calls.slice(-2)).toEqual(["sendOffsets in@50", "commit"]);
  });

  it("never checkpoints a store-partition of a task this worker no longer runs", async () => {
    const { calls, committer, feed, tasks } = setup();
    await feed("a");
    await committer.commit(); // changed, not checkpointed
    for (const a of [...tasks.tasks.values()]) tasks.close(a, "discard"); // the partition was lost
    committer.requestCheckpoint();
    await committer.commit();
    expect(calls.filter((c) => c.startsWith("listOffsets"))).toEqual([]);
    expect(calls.filter((c) => c.startsWith("lmdb apply"))).toEqual(["lmdb apply counts/0@undefined"]);
  });

  it("an abortable commit failure applies nothing locally; after abort and reopen the tasks see the committed state", async () => {
    const failing = {
      commit: { message: "Broker: Concurrent transactions (abortable)", code: 48, isFatal: false },
    };
    const s = setup(failing);
    await s.feed("a");
    await expect(s.committer.commit()).rejects.toMatchObject({ code: 48 });
    expect(() => s.committer.classifyFailure(failing.commit)).not.toThrow();
    await s.committer.abort();
    s.tasks.discardAndReopenAll();
    expect(s.calls).toContain("abort");
    expect(s.calls.some((c) => c.startsWith("lmdb apply"))).toBe(false);
    expect(s.countOf("a")).toBeUndefined(); // the uncommitted count is gone
    expect(s.tasks.positions.size).toBe(0);
    expect(s.collector.sinceCommit).toBe(0);
  });

  it("a commit that times out is repeated until Kafka decides: it stood, so nothing is aborted or redone", async () => {
    const s = setup({ commit: [timedOut, timedOut] });
    await s.feed("a", "a");
    await s.committer.commit();
    expect(s.calls.filter((c) => c === "commit")).toHaveLength(3);
    expect(s.calls).not.toContain("abort");
    expect(s.calls.at(-1)).toBe("lmdb apply counts/0@undefined"); // applied; a checkpoint is not due yet
    expect(s.committer.txnOpen).toBe(false);
    expect(s.countOf("a")).toBe(2);
    // Not ready while undecided, ready again once decided.
    expect(s.raised).toContain("commit-undecided");
    expect(s.health.has("commit-undecided")).toBe(false);
  }, 15_000);

  it("a commit that times out and then must be aborted is thrown to the abort path, the problem cleared", async () => {
    const s = setup({ commit: [timedOut, abortable] });
    await s.feed("a");
    await expect(s.committer.commit()).rejects.toMatchObject({ code: 47 });
    expect(s.calls.filter((c) => c === "commit")).toHaveLength(2);
    expect(s.calls.some((c) => c.startsWith("lmdb apply"))).toBe(false);
    expect(s.health.has("commit-undecided")).toBe(false);
    await s.committer.abort();
    expect(s.committer.txnOpen).toBe(false);
  }, 15_000);

  it("an abort that times out (brokers unreachable) is retried until it stands, never turned fatal", async () => {
    const failing = { commit: abortable, abort: [timedOut, timedOut] };
    const s = setup(failing);
    await s.feed("a");
    await expect(s.committer.commit()).rejects.toMatchObject({ code: 47 });
    expect(() => s.committer.classifyFailure(failing.commit)).not.toThrow();
    await s.committer.abort();
    expect(s.calls.filter((c) => c === "abort")).toHaveLength(3);
    expect(s.committer.txnOpen).toBe(false);
  }, 15_000);

  it("a fatal answer to an abort is fatal", async () => {
    const s = setup({
      commit: abortable,
      abort: [{ message: "Local: Fatal error", code: -150, isFatal: true }],
    });
    await s.feed("a");
    await expect(s.committer.commit()).rejects.toMatchObject({ code: 47 });
    await expect(s.committer.abort()).rejects.toThrow(ProducerFencedError);
  });

  describe("a commitTransaction that never returns (librdkafka lost the call)", () => {
    // transactionCallTimeoutMs 50: the call is taken as lost 2 × 50 ms + 10 s after it was made.
    const hung = async (groupOffsets: Record<string, number>) => {
      const s = setup({ commit: "hang" }, groupOffsets);
      await s.feed("a", "a");
      const err = await s.committer.commit().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransactionCallStuckError);
      expect(err).toMatchObject({ call: "commitTransaction", mayHaveCommitted: true });
      expect(s.calls.some((c) => c.startsWith("lmdb apply"))).toBe(false);
      return s;
    };

    it("stood (the group's offsets are the transaction's): its writes are applied, nothing is redone", async () => {
      const s = await hung({ "in/0": 2 });
      await expect(s.committer.settleStuckCommit()).resolves.toBe("committed");
      // Applied without a checkpoint: that waits for a commit whose offsets prove the ownership.
      expect(s.calls.at(-1)).toBe("lmdb apply counts/0@undefined");
      expect(s.countOf("a")).toBe(2);
      expect(s.tasks.positions.size).toBe(0);
      expect(s.committer.committedOffsets.get("in/0")).toBe(2);
    }, 15_000);

    it("aborted (the group's offsets are older): nothing is applied, the caller rewinds", async () => {
      const s = await hung({});
      await expect(s.committer.settleStuckCommit()).resolves.toBe("aborted");
      expect(s.calls.some((c) => c.startsWith("lmdb apply"))).toBe(false);
      // Settled once: a later settle finds nothing to decide.
      await expect(s.committer.settleStuckCommit()).resolves.toBe("aborted");
    }, 15_000);

    it("neither (offsets moved past the transaction's): fatal, a restart starts from Kafka's state", async () => {
      const s = await hung({ "in/0": 7 });
      await expect(s.committer.settleStuckCommit()).rejects.toThrow(OffsetError);
      expect(s.calls.some((c) => c.startsWith("lmdb apply"))).toBe(false);
    }, 15_000);
  });

  it("a fatal failure (fenced) is thrown as ProducerFencedError, not rewound", () => {
    const { committer } = setup();
    expect(() =>
      committer.classifyFailure({ message: "Local: Fatal error", code: -150, isFatal: true }),
    ).toThrow(ProducerFencedError);
  });
});
