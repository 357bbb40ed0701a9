/**
 * State restore against a real broker and real LMDB, workers in child processes: after SIGKILL only the committed
 * tail past the checkpoint is replayed; a clean restart replays nothing; a deleted state directory is rebuilt; a
 * partition moved to another worker arrives with its state.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openLmdbState } from "../../state/index.js";
import { CountApp } from "../helpers/count-app.js";
import { endOffsets, waitFor } from "../helpers/kafka.js";
import type { WorkerProcess } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const changelog = (app: CountApp) => `${app.appId}-counts-changelog`;
const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Checkpoints written by a stopped worker: partition → last changelog offset applied. */
function checkpoints(app: CountApp, stateDir: string): Map<number, number | undefined> {
  const state = openLmdbState({ path: join(stateDir, app.appId) });
  try {
    return new Map(
      state
        .list()
        .filter((e) => e.store === "counts")
        .map((e) => [e.partition, e.checkpoint]),
    );
  } finally {
    state.close();
  }
}

describe("restore from changelogs", () => {
  it("SIGKILL: replays at most the committed tail past the checkpoint; state equals the reference", async () => {
    const app = new CountApp(500, 3);
    await app.createTopics();
    await app.produce(40_000);
    const first = track(app.worker().start());
    await waitFor(
      "the first worker to commit some output",
      async () => {
        const out = sum(await endOffsets(app.output, "read_committed"));
        return out >= 5000 ? out : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 20 },
    );
    first.kill("SIGKILL");
    await first.exited();

    const local = checkpoints(app, first.stateDir);
    const ends = await endOffsets(changelog(app));
    // What a restore may replay per partition: the changelog after the local checkpoint.
    const bound = new Map([...ends].map(([p, end]) => [p, end - ((local.get(p) ?? -1) + 1)]));

    const second = track(app.worker({ stateDir: first.stateDir }).start());
    await second.waitReady();
    const replayed = second.restored();
    console.log(
      "after SIGKILL, replayed per partition:",
      replayed
        .map(
          (r) =>
            `p${r.partition}=${r.records} (bound ${bound.get(r.partition)}, changelog end ${ends.get(r.partition)})`,
        )
        .join(", "),
    );
    expect(replayed.map((r) => r.partition).sort()).toEqual([0, 1, 2]);
    for (const r of replayed) expect(r.records).toBeLessThanOrEqual(bound.get(r.partition)!);
    // The checkpoint was not lost: far less than the whole changelog is replayed.
    expect(replayed.reduce((a, r) => a + r.records, 0)).toBeLessThan(sum(ends));

    await app.waitCommitted();
    await app.expectExactOutput();
    await app.expectStoreEqualsReference([second]);
  });

  it("clean stop and restart replays nothing", async () => {
    const app = new CountApp(300, 3);
    await app.createTopics();
    await app.produce(10_000);
    const first = track(app.worker().start());
    await app.waitCommitted();
    await first.stop();
    expect((await first.exited()).code).toBe(0);

    const second = track(app.worker({ stateDir: first.stateDir }).start());
    await second.waitReady();
    expect(second.restored()).toEqual(
      [0, 1, 2].map((p) => expect.objectContaining({ partition: p, records: 0 })),
    );
    await app.expectStoreEqualsReference([second]);
  });

  it("a deleted state directory is rebuilt in full from the changelog", async () => {
    const app = new CountApp(300, 3);
    await app.createTopics();
    await app.produce(10_000);
    const first = track(app.worker().start());
    await app.waitCommitted();
    await first.stop();
    rmSync(join(first.stateDir, app.appId), { recursive: true, force: true });

    const second = track(app.worker({ stateDir: first.stateDir }).start());
    await second.waitReady();
    const replayed = second.restored().reduce((a, r) => a + r.records, 0);
    console.log(`rebuilt from nothing: ${replayed} changelog records replayed for ${app.keys} keys`);
    expect(replayed).toBeGreaterThanOrEqual(app.keys);
    await app.expectStoreEqualsReference([second]);
    await app.produce(3000);
    await app.waitCommitted();
    await app.expectExactOutput();
  });

  it("a partition moved to a second worker arrives with its state", async () => {
    const app = new CountApp(300, 4);
    await app.createTopics();
    await app.produce(12_000);
    const a = track(app.worker().start());
    await app.waitCommitted();

    const b = track(app.worker().start());
    await b.waitReady();
    await waitFor(
      "partitions to move to the second worker",
      async () => {
        const tasks = await b.json<unknown[]>("/tasks");
        return tasks.body.length > 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await a.waitReady();
    const moved = b.restored();
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((r) => r.records > 0)).toBe(true);
    console.log(
      "moved to the second worker:",
      moved.map((r) => `p${r.partition}: ${r.records} records restored`).join(", "),
    );
    await app.expectStoreEqualsReference([a, b]);

    await app.produce(4000);
    await app.waitCommitted();
    await app.expectExactOutput();
    await app.expectStoreEqualsReference([a, b]);
  });
});
