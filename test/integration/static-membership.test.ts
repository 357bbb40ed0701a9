/**
 * Static membership (KIP-345; `--static-membership on`, weir's default): a worker SIGKILLed and restarted on its
 * state directory within the session timeout rejoins as the same static member and gets its partitions back, and the
 * other worker sees no rebalance at all — no revocation, no new assignment. The same run with `--static-membership
 * off` is the control: there the restarted worker is a new member and the other worker's assignment changes. Both
 * on the classic protocol with the per-key count, outputs checked exact from the topics.
 */
import { afterEach, describe, expect, it } from "vitest";
import { consumeAll, createTopic, produceAll, uniqueName, waitAllCommitted } from "../helpers/kafka.js";
import { WorkerProcess, type LogLine } from "../helpers/worker-process.js";

const PARTITIONS = 6;
const running: WorkerProcess[] = [];
const track = (w: WorkerProcess) => (running.push(w), w);

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

const REBALANCE_LOGS = new Set(["partitions assigned", "partitions revoked", "partitions lost"]);

/** The partitions a worker holds after the log lines from `from` on: assigned minus revoked or lost. */
function held(logs: LogLine[], from = 0): string[] {
  const now = new Set<string>();
  for (const l of logs.slice(from)) {
    const parts = (l.partitions as string[] | undefined) ?? [];
    if (l.msg === "partitions assigned") for (const p of parts) now.add(p);
    if (l.msg === "partitions revoked" || l.msg === "partitions lost") for (const p of parts) now.delete(p);
  }
  return [...now].sort();
}

async function run(staticMembership: "on" | "off") {
  const prefix = uniqueName(`static-${staticMembership}`);
  const input = `${prefix}-input`;
  await createTopic(input, PARTITIONS);
  await createTopic(`${prefix}-counts`, PARTITIONS);
  const args = [
    "--app",
    "test/apps/count.ts",
    "--static-membership",
    staticMembership,
    // Long enough for a restart on a busy machine; the heartbeat stays at 2 s.
    "--kafka",
    "session.timeout.ms=15000",
  ];
  const env = { WEIR_TEST_PREFIX: prefix };
  const produced = new Map<string, number>();
  const produce = async (n: number, round: number) => {
    const records = Array.from({ length: n }, (_, i) => {
      const key = `k${i % 90}`;
      produced.set(key, (produced.get(key) ?? 0) + 1);
      return { key, value: `${round}-${i}` };
    });
    await produceAll(input, records, { config: { partitioner: "murmur2_random" } });
  };

  const a = track(new WorkerProcess({ args, env }).start());
  const b = track(new WorkerProcess({ args, env }).start());
  await Promise.all([a.waitReady(90_000), b.waitReady(90_000)]);
  await produce(3000, 1);
  await waitAllCommitted(`${prefix}-app`, input, { timeoutMs: 120_000 });
  // Settled: between them, every partition once.
  const heldByA = held(a.logs);
  const heldByB = held(b.logs);
  expect([...heldByA, ...heldByB].sort()).toEqual(
    Array.from({ length: PARTITIONS }, (_, p) => `${input}/${p}`).sort(),
  );

  const aLogsAtKill = a.logs.length;
  b.kill("SIGKILL");
  await b.exited();
  const b2 = track(new WorkerProcess({ args, env, stateDir: b.stateDir }).start());
  await b2.waitReady(90_000);
  await produce(3000, 2);
  await waitAllCommitted(`${prefix}-app`, input, { timeoutMs: 120_000 });

  // Exact either way: per key the counts 1..n, one output per input.
  const out = await consumeAll(`${prefix}-counts`, { isolation: "read_committed", timeoutMs: 60_000 });
  const counts = new Map<string, number[]>();
  for (const r of out) {
    const key = String(r.key);
    counts.set(key, [...(counts.get(key) ?? []), Number(String(r.value).split(":").pop())]);
  }
  for (const [key, total] of produced)
    expect(
      (counts.get(key) ?? []).sort((x, y) => x - y),
      key,
    ).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  expect(out.length).toBe(6000);

  return {
    heldByA,
    heldByB,
    aRebalanceLogsAfterKill: a.logs.slice(aLogsAtKill).filter((l) => REBALANCE_LOGS.has(l.msg)),
    heldByB2: held(b2.logs),
    aHeldAfter: held(a.logs),
  };
}

describe("static membership: a worker restarted within the session timeout", () => {
  it("on: gets its partitions back, and the other worker sees no rebalance", async () => {
    const r = await run("on");
    expect(r.aRebalanceLogsAfterKill).toEqual([]);
    expect(r.heldByB2).toEqual(r.heldByB);
    expect(r.aHeldAfter).toEqual(r.heldByA);
  }, 300_000);

  it("off (the control): the restarted worker is a new member and the other worker's assignment changes", async () => {
    const r = await run("off");
    expect(r.aRebalanceLogsAfterKill.length).toBeGreaterThan(0);
  }, 300_000);
});
