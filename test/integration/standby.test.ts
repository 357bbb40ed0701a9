/**
 * Standby replicas: three workers of the per-key count over a store of 200,000 keys in six partitions. With
 * `--standby-replicas 2` every worker keeps warm copies of the tasks it does not run (the two other workers are each
 * task's only candidates), so whichever worker a killed worker's partitions move to holds their standby: the
 * restore before processing reads only the tail of the changelog, not the partition's ~33,000 records. The same run
 * with no standbys is the control (full restores). Both print the failover figures: records restored and the time
 * from the SIGKILL to the new owner processing the partition again. Outputs are checked exact from the topics.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  consumeAll,
  createTopic,
  endOffsets,
  produceAll,
  uniqueName,
  waitAllCommitted,
  waitFor,
} from "../helpers/kafka.js";
import { WorkerProcess, type LogLine } from "../helpers/worker-process.js";
import { partitionForKey } from "../../topology/index.js";

const PARTITIONS = 6;
// WEIR_STANDBY_TEST_KEYS: a larger store for a one-off failover measurement (the figures in the README).
const KEYS = Number(process.env.WEIR_STANDBY_TEST_KEYS ?? 200_000);
/** Records per partition of the changelog at the kill: the keys spread over the partitions. */
const PER_PARTITION = KEYS / PARTITIONS;
const running: WorkerProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const at = (l: LogLine) => Date.parse(String(l.time));

async function standbyLag(w: WorkerProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`${w.url}/metrics`)).text();
  const lag = new Map<string, number>();
  for (const m of text.matchAll(/^weir_standby_lag_records\{([^}]*)\} (\d+)/gm)) {
    const partition = /partition="(\d+)"/.exec(m[1]!)?.[1];
    lag.set(String(partition), Number(m[2]));
  }
  return lag;
}

async function failover(standbys: number) {
  const prefix = uniqueName(`standby-${standbys}`);
  const input = `${prefix}-input`;
  const changelog = `${prefix}-app-counts-changelog`;
  await createTopic(input, PARTITIONS);
  await createTopic(`${prefix}-counts`, PARTITIONS);
  const args = ["--app", "test/apps/count.ts", "--standby-replicas", String(standbys)];
  const env = { WEIR_TEST_PREFIX: prefix };
  const workers = [0, 1, 2].map(() => new WorkerProcess({ args, env }).start());
  running.push(...workers);
  await Promise.all(workers.map((w) => w.waitReady(120_000)));

  const records = (from: number, n: number, round: string) =>
    Array.from({ length: n }, (_, i) => ({ key: `key-${from + i}`, value: round }));
  await produceAll(input, records(0, KEYS, "a"), {
    config: { partitioner: "murmur2_random" },
    timeoutMs: 60_000 + KEYS / 10,
  });
  await waitAllCommitted(`${prefix}-app`, input, { timeoutMs: 240_000 + KEYS / 10 });
  await Promise.all(workers.map((w) => w.waitReady(60_000)));

  const victim = workers[0]!;
  const survivors = workers.slice(1);
  const victimTasks = (await victim.json<Array<{ id: string }>>("/tasks")).body.map((t) =>
    Number(t.id.split("_")[1]),
  );
  expect(victimTasks.length).toBeGreaterThan(0);
  const ends = await endOffsets(changelog);
  if (standbys > 0)
    // Each survivor keeps every task it does not run, caught up with the changelog.
    await waitFor(
      "the survivors' standbys of the victim's partitions to catch up",
      async () => {
        for (const w of survivors) {
          const lag = await standbyLag(w);
          for (const p of victimTasks) if (lag.get(String(p)) !== 0) return false;
        }
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

  if (standbys > 0) {
    // A stale read (`?stale=ok`) of a key in the victim's partition, answered by a survivor from its standby.
    const key = Array.from({ length: 1000 }, (_, i) => `key-${i}`).find((k) =>
      victimTasks.includes(partitionForKey(Buffer.from(k), PARTITIONS)),
    )!;
    const stale = await survivors[0]!.json<Record<string, unknown>>(`/state/counts/${key}?stale=ok`);
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({ value: 1, stale: true, local: false });
  }

  const logsAtKill = survivors.map((w) => w.logs.length);
  const killedAt = Date.now();
  victim.kill("SIGKILL");
  // Input keeps coming: the tail a new owner restores is what the standby had not applied yet.
  await produceAll(input, records(KEYS, 6000, "b"), { config: { partitioner: "murmur2_random" } });

  // Every partition of the victim's restored and processed again by a survivor.
  const moved = new Map<
    number,
    { owner: number; restored: number; restoreSeconds: number; resumedMs: number }
  >();
  await waitFor(
    "the victim's partitions to start on the survivors",
    () => {
      for (const [i, w] of survivors.entries()) {
        const since = w.logs.slice(logsAtKill[i]);
        for (const p of victimTasks) {
          if (moved.has(p)) continue;
          const restore = since.find(
            (l) =>
              (l.msg === "store restored" || l.msg === "store up to date") &&
              l.store === "counts" &&
              l.partition === p,
          );
          const start = since.find(
            (l) =>
              l.msg === "partitions start" &&
              (l.offsets as string[]).some((o) => o.startsWith(`${input}/${p}@`)),
          );
          if (restore && start)
            moved.set(p, {
              owner: i + 1,
              restored: Number(restore.records ?? 0),
              restoreSeconds: Number(restore.seconds ?? 0),
              resumedMs: at(start) - killedAt,
            });
        }
      }
      return moved.size === victimTasks.length;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  await waitAllCommitted(`${prefix}-app`, input, { timeoutMs: 120_000 });

  // Exact: one output per input, each key's count 1 (round a) then 2 only for none (all keys distinct).
  const out = await consumeAll(`${prefix}-counts`, {
    isolation: "read_committed",
    timeoutMs: 120_000,
    expected: KEYS + 6000,
  });
  const seen = new Set<string>();
  for (const r of out) {
    const key = String(r.key);
    expect(seen.has(key), `${key} output twice`).toBe(false);
    seen.add(key);
    expect(String(r.value).endsWith(":1"), `${key}: ${String(r.value)}`).toBe(true);
  }
  expect(seen.size).toBe(KEYS + 6000);
  return { moved, changelogEnds: ends };
}

describe("standby replicas", () => {
  it("a killed worker's partitions move to workers that kept their standbys: only the tail is restored", async () => {
    const { moved, changelogEnds } = await failover(2);
    console.log("failover with standbys:", JSON.stringify([...moved.entries()]));
    for (const [p, m] of moved) {
      // The partition's changelog held ~33,000 records at the kill; the new owner replayed at most the tail.
      expect(changelogEnds.get(p)).toBeGreaterThan(0.75 * PER_PARTITION);
      expect(m.restored, `partition ${p}`).toBeLessThan(2_000);
      // Processing resumes once the group notices the death (the session timeout, 10 s) and the tail is read.
      expect(m.resumedMs, `partition ${p}`).toBeLessThan(30_000);
    }
  }, 600_000);

  it("without standbys (the control), the new owners restore each partition in full", async () => {
    const { moved, changelogEnds } = await failover(0);
    console.log("failover without standbys:", JSON.stringify([...moved.entries()]));
    // A full restore: every key of the partition (~33,000; the changelog's end also counts transaction markers).
    for (const [p, m] of moved) {
      expect(changelogEnds.get(p)).toBeGreaterThan(0.75 * PER_PARTITION);
      expect(m.restored, `partition ${p}`).toBeGreaterThan(0.75 * PER_PARTITION);
    }
  }, 600_000);
});
