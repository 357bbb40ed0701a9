/**
 * Stream time survives a restart: weir commits each task's stream time with its offsets (as Kafka Streams commits
 * partition time), and a task resumed from those offsets starts from it. A count with a time to live then gives, on
 * out-of-order input across a restart, exactly what one uninterrupted run gives (the test driver): without the
 * committed stream time, the restarted task would take a late record's time as its clock and expire an entry the
 * uninterrupted run keeps.
 */
import { afterEach, describe, expect, it } from "vitest";
import { TopologyTestDriver } from "../../topology/index.js";
import { ttlCount } from "../apps/ttl-count.js";
import { consumeAll, createTopic, produceAll, uniqueName } from "../helpers/kafka.js";
import { WorkerProcess, cliJson, runWeir } from "../helpers/worker-process.js";

const running: WorkerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

// x moves stream time to 5000; after the restart k arrives late (1000), then y (1200), then k again (1300).
const BEFORE = [{ key: "x", value: "1", timestamp: 5000 }];
const AFTER = [
  { key: "k", value: "2", timestamp: 1000 },
  { key: "y", value: "3", timestamp: 1200 },
  { key: "k", value: "4", timestamp: 1300 },
];

/** Runs `check`; if it fails, prints what the worker logged (above debug) first, for an output that never came. */
async function explainFailure(worker: WorkerProcess, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (err) {
    console.log(worker.stderr.filter((l) => !l.includes('"level":"debug"')).join("\n"));
    throw err;
  }
}

describe("stream time across a restart", () => {
  it("a TTL count over a restart equals one uninterrupted run", async () => {
    const prefix = uniqueName("st");
    const driver = new TopologyTestDriver(ttlCount(prefix), { wallClockMs: Date.now() });
    driver.pipeInput(`${prefix}-in`, [...BEFORE, ...AFTER]);
    const expected = driver.readOutput<string, number>(`${prefix}-out`).map((r) => `${r.key}=${r.value}`);
    driver.close();
    // The uninterrupted run keeps k (stream time stays 5000): its second record counts 2.
    expect(expected).toEqual(["x=1", "k=1", "y=1", "k=2"]);

    // The records carry 1970 timestamps: under the broker's default retention (7 days, checked every 30 s on the
    // test broker) a retention check deletes them within seconds of being written, input or output.
    const keep = { "retention.ms": "-1" };
    await createTopic(`${prefix}-in`, 1, keep);
    await createTopic(`${prefix}-out`, 1, keep);
    const worker = () =>
      new WorkerProcess({
        args: ["--app", "test/apps/ttl-count.ts", "--commit-interval-ms", "100"],
        env: { WEIR_TEST_PREFIX: prefix },
      });
    const read = async (n: number) =>
      (
        await consumeAll(`${prefix}-out`, { isolation: "read_committed", expected: n, timeoutMs: 60_000 })
      ).map((r) => `${r.key}=${r.value}`);
    const first = worker().start();
    running.push(first);
    await first.waitReady(120_000);
    await produceAll(`${prefix}-in`, BEFORE);
    await explainFailure(first, async () => expect(await read(1)).toEqual(["x=1"]));
    await first.stop();

    // A new worker with an empty state directory: the store comes from its changelog, stream time from the commit.
    const second = worker().start();
    running.push(second);
    await second.waitReady(120_000);
    await produceAll(`${prefix}-in`, AFTER);
    await explainFailure(second, async () => expect(await read(4)).toEqual(expected));

    // A store with a time to live keeps the write's stream time beside each value; weir state shows the value.
    const app = ["--app", "test/apps/ttl-count.ts"];
    const env = { WEIR_TEST_PREFIX: prefix };
    const live = await runWeir(["state", "get", "counts", "k", ...app, "--url", second.url, "--json"], env);
    expect(live.code, live.stderr).toBe(0);
    expect(cliJson(live)).toMatchObject({ found: true, value: 2 });
    await second.stop();
    const offline = await runWeir(
      ["state", "get", "counts", "k", ...app, "--state-dir", second.stateDir, "--json"],
      env,
    );
    expect(offline.code, offline.stderr).toBe(0);
    expect(cliJson(offline)).toMatchObject({ found: true, value: 2 });
  });
});
