/**
 * The restore loop against a fake changelog partition that behaves as Kafka does for a read_committed reader:
 * records below the last stable offset (LSO) are delivered, transaction markers and aborted records are skipped
 * (the position moves past them), the read_uncommitted end is the high watermark, and a position below the log
 * start is an out-of-range error (auto.offset.reset=error).
 */
import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import { openMemoryState } from "../../state/index.js";
import { Stores, TopologyBuilder, type ProcessorFactory } from "../builder.js";
import type { IAdminClient, KafkaConsumer } from "../kafka.js";
import { silentLogger } from "../log.js";
import { compileWorkerOptions } from "../options.js";
import { Serdes } from "../serdes.js";
import { Restorer } from "./restorer.js";

type Entry = { offset: number; kind: "data" | "marker" | "aborted"; key?: string; value?: string };

/** One changelog partition as a read_committed consumer and ListOffsets see it. */
class FakeChangelog {
  entries: Entry[] = [];
  lso = 0;
  logStart = 0;
  #pos = 0;
  #topic = "";
  get hw(): number {
    return this.entries.length === 0 ? 0 : this.entries.at(-1)!.offset + 1;
  }
  consumer(): KafkaConsumer {
    return {
      assign: ([tp]: Array<{ topic: string; offset: number }>) => {
        this.#topic = tp!.topic;
        this.#pos = tp!.offset;
      },
      unassign: () => {},
      position: ([tp]: Array<{ topic: string; partition: number }>) => [{ ...tp, offset: this.#pos }],
      queryWatermarkOffsets: (_t: string, _p: number, _ms: number, cb: (e: unknown, w: object) => void) =>
        cb(null, { lowOffset: this.logStart, highOffset: this.lso }),
      consume: (max: number, cb: (e: unknown, m?: object[]) => void) =>
        setTimeout(() => {
          if (this.#pos < this.logStart)
            return cb({ message: "Local: No offset to automatically reset to", code: -140 });
          const out: object[] = [];
          for (const e of this.entries) {
            if (e.offset < this.#pos || e.offset >= this.lso || out.length >= max) continue;
            if (e.kind === "data")
              out.push({
                topic: this.#topic,
                partition: 0,
                offset: e.offset,
                key: Buffer.from(e.key!),
                value: Buffer.from(e.value!),
              });
            this.#pos = e.offset + 1;
          }
          cb(null, out);
        }, 5),
    } as unknown as KafkaConsumer;
  }
  admin(): IAdminClient {
    return {
      listOffsets: (
        tps: Array<{ topic: string; partition: number; offset: { timestamp: number } }>,
        o: { isolationLevel: number },
        cb: (e: unknown, r: object[]) => void,
      ) =>
        cb(
          null,
          tps.map((tp) => ({
            ...tp,
            offset: tp.offset.timestamp === -2 ? this.logStart : o.isolationLevel === 1 ? this.lso : this.hw,
          })),
        ),
    } as unknown as IAdminClient;
  }
}

const count: ProcessorFactory<string, string, string, string> = (ctx) => {
  ctx.keyValueStore("counts");
  return map((r) => ({ key: r.key, value: r.value }));
};

function setup(log: FakeChangelog) {
  const b = new TopologyBuilder("app");
  b.store("counts", Stores.keyValue(Serdes.string(), Serdes.string()));
  b.stream("in", { key: Serdes.string(), value: Serdes.string() })
    .process("p", count, { stores: ["counts"] })
    .to("out", { key: Serdes.string(), value: Serdes.string() });
  const topology = b.build();
  const state = openMemoryState();
  const restorer = new Restorer({
    topology,
    options: compileWorkerOptions(topology, { brokers: "x:1", stateDir: "/tmp/unused", workerId: "w" }),
    log: silentLogger,
    metrics: undefined,
    store: () => state,
    consumer: () => log.consumer(),
    admin: () => log.admin(),
    stopRequested: () => false,
    retry: (_what, fn) => fn(),
  });
  const contents = () =>
    Object.fromEntries([...state.open("counts", 0).range()].map(([k, v]) => [k.toString(), v?.toString()]));
  return { restorer, state, contents };
}

describe("Restorer", () => {
  it("reads to the read_uncommitted end: waits for an undecided transaction, keeps what was committed after it", async () => {
    const log = new FakeChangelog();
    // txn A: a, b committed (marker 2); txn S undecided (its record at 3); txn B: c committed after it (marker 5).
    log.entries = [
      { offset: 0, kind: "data", key: "a", value: "1" },
      { offset: 1, kind: "data", key: "b", value: "1" },
      { offset: 2, kind: "marker" },
      { offset: 3, kind: "aborted", key: "a", value: "999" },
      { offset: 4, kind: "data", key: "c", value: "1" },
      { offset: 5, kind: "marker" },
    ];
    log.lso = 3;
    const { restorer, state, contents } = setup(log);
    let done = false;
    const restore = restorer.restoreTask(0, 0).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false); // a restore to the LSO would have ended here, without c
    // S is aborted: its marker is written and the LSO reaches the end.
    log.entries.push({ offset: 6, kind: "marker" });
    log.lso = 7;
    await restore;
    expect(contents()).toEqual({ a: "1", b: "1", c: "1" });
    expect(state.open("counts", 0).checkpoint()).toBe(4);
  });

  it("a checkpoint past the stable offset is not a recreated topic: nothing is wiped", async () => {
    const log = new FakeChangelog();
    log.entries = [
      { offset: 0, kind: "data", key: "a", value: "1" },
      { offset: 1, kind: "aborted", key: "zz", value: "bogus" },
      { offset: 2, kind: "data", key: "b", value: "2" },
      { offset: 3, kind: "marker" },
    ];
    log.lso = 1; // the aborted-to-be transaction is still open
    const { restorer, state, contents } = setup(log);
    state.apply([
      {
        store: "counts",
        partition: 0,
        writes: [
          [Buffer.from("a"), Buffer.from("1")],
          [Buffer.from("b"), Buffer.from("2")],
        ],
        checkpoint: 2,
      },
    ]);
    const restore = restorer.restoreTask(0, 0);
    await new Promise((r) => setTimeout(r, 100));
    log.entries.push({ offset: 4, kind: "marker" });
    log.lso = 5;
    await restore;
    expect(contents()).toEqual({ a: "1", b: "2" });
    expect(state.open("counts", 0).checkpoint()).toBe(2);
  });

  it("records deleted under the restore: planned again, wiped and rebuilt from what is left", async () => {
    const log = new FakeChangelog();
    log.entries = [
      { offset: 0, kind: "data", key: "old", value: "1" },
      { offset: 1, kind: "marker" },
      { offset: 2, kind: "data", key: "gone", value: "1" },
      { offset: 3, kind: "marker" },
      { offset: 4, kind: "data", key: "new", value: "1" },
      { offset: 5, kind: "marker" },
    ];
    log.lso = 6;
    const { restorer, state, contents } = setup(log);
    state.apply([
      { store: "counts", partition: 0, writes: [[Buffer.from("old"), Buffer.from("1")]], checkpoint: 0 },
    ]);
    log.logStart = 4; // retention deleted 0..3 before this restore read them
    await restorer.restoreTask(0, 0);
    expect(contents()).toEqual({ new: "1" });
    expect(state.open("counts", 0).checkpoint()).toBe(4);
  });
});
