/**
 * Hand-overs while a dead worker's transaction is undecided (real broker, workers in child processes). A stand-in
 * transactional producer plays the worker that died between sendOffsetsToTransaction and commitTransaction: its
 * open transaction holds an offset commit for the application's group, or records on a changelog partition.
 *
 * 1. A partition whose committed offset is unstable is not processed until the transaction is decided, and never
 *    from below its committed offset — even when the assignment changes meanwhile (librdkafka, left to look the
 *    offset up itself, re-queues such a partition with an INVALID offset and starts it at auto.offset.reset).
 * 2. A worker whose own transaction is aborted while the group's offsets are unstable waits (not ready) instead of
 *    failing after a lookup timeout, and then continues exactly.
 * 3. A changelog with an undecided transaction below records committed after it: a restore reads to the
 *    read_uncommitted end and waits for the transaction; a checkpoint past the stable offset is not mistaken for a
 *    recreated topic.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CountApp } from "../helpers/count-app.js";
import { consumeAll, endOffsets, produceAll, waitFor } from "../helpers/kafka.js";
import { UndecidedTransaction } from "../helpers/undecided-transaction.js";
import { tempDir, type WorkerProcess } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
const open: UndecidedTransaction[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
  await Promise.all(open.splice(0).map((t) => t.abort().catch(() => t.close())));
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe("hand-overs with an undecided transaction", () => {
  it("an unstable committed offset: nothing is processed until the transaction is decided, never from below it", async () => {
    const app = new CountApp(30, 3);
    await app.createTopics();
    const records = [];
    for (let p = 0; p < 3; p++)
      for (let i = 0; i < 100; i++) records.push({ key: `k${i % 30}`, value: `p${p}-${i}`, partition: p });
    await produceAll(app.input, records);
    const at = (offset: number) => ({
      group: app.appId,
      partitions: [0, 1, 2].map((partition) => ({ topic: app.input, partition, offset })),
    });
    // The group committed 50 everywhere; then a worker died with a commit of 60 in an undecided transaction.
    await (await UndecidedTransaction.open({ offsets: at(50) })).commit();
    const pending = await UndecidedTransaction.open({ offsets: at(60) });
    open.push(pending);

    const a = track(app.worker().start());
    await a.waitForLog((l) => l.msg === "partitions assigned", 60_000, "A's first assignment");
    await sleep(2000);
    // Another worker joins: the assignment changes while A's offset lookup is pending.
    const b = track(app.worker().start());
    await sleep(6000);
    expect(sum(await endOffsets(app.output))).toBe(0); // not even an uncommitted output
    expect((await a.json("/readyz")).status).toBe(503);
    expect(a.logs.some((l) => /waiting for committed offsets/.test(l.msg))).toBe(true);

    await pending.commit();
    open.splice(open.indexOf(pending), 1);
    await app.waitCommitted();
    const out = await consumeAll(app.output, { isolation: "read_committed", timeoutMs: 60_000 });
    const seen = new Map<string, number>();
    for (const r of out) {
      const input = r.value!.split(":")[0]!;
      seen.set(input, (seen.get(input) ?? 0) + 1);
    }
    const belowCommitted = [...seen.keys()].filter((v) => Number(v.split("-")[1]) < 60);
    const doubled = [...seen].filter(([, n]) => n > 1).map(([v]) => v);
    const missing: string[] = [];
    for (let p = 0; p < 3; p++)
      for (let i = 60; i < 100; i++) if (!seen.has(`p${p}-${i}`)) missing.push(`p${p}-${i}`);
    expect({ belowCommitted: belowCommitted.slice(0, 10), doubled, missing }).toEqual({
      belowCommitted: [],
      doubled: [],
      missing: [],
    });
    expect(out.length).toBe(120);
    await b.waitReady();
  });

  it("a worker whose transaction aborts while the group's offsets are unstable waits, then continues exactly", async () => {
    const app = new CountApp(50, 3);
    await app.createTopics();
    const faultFile = join(tempDir("weir-fault"), "fault");
    const a = track(app.worker({ env: { WEIR_TEST_FAULT_FILE: faultFile } }).start());
    await a.waitReady();
    let loading = true;
    const load = (async () => {
      while (loading) {
        await app.produce(300);
        await sleep(200);
      }
    })();
    try {
      await waitFor(
        "some committed output",
        async () => (sum(await endOffsets(app.output, "read_committed")) > 1000 ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      // A dead worker's commit for the group, undecided (it will be aborted: the offsets never count).
      const ends = await endOffsets(app.input);
      const pending = await UndecidedTransaction.open({
        offsets: {
          group: app.appId,
          partitions: [...ends].map(([partition, offset]) => ({ topic: app.input, partition, offset })),
        },
      });
      open.push(pending);
      // A's own transaction fails as an abortable error would; its rewind meets the unstable offsets.
      writeFileSync(faultFile, "abort-after-send-offsets");
      await a.waitForLog((l) => /transaction failed/.test(l.msg), 30_000, "A's aborted transaction");
      // A second worker joins meanwhile: a rebalance during the wait.
      const b = track(app.worker().start());
      await sleep(12_000); // longer than the 10 s lookup timeout that used to fail the worker
      expect(a.logs.filter((l) => l.level === "error").map((l) => l.msg)).toEqual([]);
      expect((await a.json("/readyz")).status).toBe(503);
      expect(a.logs.some((l) => /waiting for committed offsets/.test(l.msg))).toBe(true);

      await pending.abort();
      open.splice(open.indexOf(pending), 1);
      await a.waitReady(120_000);
      await b.waitReady(120_000);
      await sleep(2000);
    } finally {
      loading = false;
      await load;
    }
    await app.waitCommitted();
    await app.expectExactOutput();
    expect(a.logs.some((l) => l.msg === "worker failed")).toBe(false);
  });

  it("a changelog with an undecided transaction: restores wait for it through two hand-overs; nothing is wiped", async () => {
    const app = new CountApp(40, 1);
    await app.createTopics();
    const changelog = `${app.appId}-counts-changelog`;
    await app.produce(2000);
    const a = track(app.worker().start());
    await app.waitCommitted();

    // A dead worker's transaction on the changelog, undecided: a bogus count that must never be restored.
    const pending = await UndecidedTransaction.open({
      records: [{ topic: changelog, partition: 0, key: "k0", value: "999999" }],
    });
    open.push(pending);
    // State committed after it: past the changelog's last stable offset.
    await app.produce(2000);
    await app.waitCommitted();
    const stable = (await endOffsets(changelog, "read_committed")).get(0)!;
    const end = (await endOffsets(changelog)).get(0)!;
    expect(end).toBeGreaterThan(stable + 1);
    await a.stop();

    // Hand-over 1: a worker without state restores to the read_uncommitted end, so it waits for the transaction.
    const b = track(app.worker().start());
    await b.waitForLog((l) => l.msg === "partitions assigned", 60_000, "B's assignment");
    await sleep(5000);
    expect((await b.json("/readyz")).status).toBe(503);
    expect(
      b.logs.some((l) => l.msg === "restore waiting for an undecided transaction on the changelog"),
    ).toBe(true);
    await b.stop();
    expect(b.logs.some((l) => l.msg === "worker failed")).toBe(false);

    // Hand-over 2: back to A's state, whose checkpoint is past the stable offset — not a recreated topic.
    const a2 = track(app.worker({ stateDir: a.stateDir }).start());
    await a2.waitForLog((l) => l.msg === "partitions assigned", 60_000, "A2's assignment");
    await sleep(3000);
    expect((await a2.json("/readyz")).status).toBe(503); // waiting for the transaction, not restored to the LSO
    await pending.abort();
    open.splice(open.indexOf(pending), 1);
    await a2.waitReady(120_000);
    expect(a2.logs.filter((l) => /wip/i.test(l.msg)).map((l) => l.msg)).toEqual([]);

    await app.produce(1000);
    await app.waitCommitted();
    await app.expectExactOutput();
    await app.expectStoreEqualsReference([a2]);
  });
});
