/**
 * An asynchronous dependency slower than the transaction timeout, under exactly-once. A commit waits for the records
 * inside asynchronous processors; had it waited past the transaction timeout, the broker would abort the transaction
 * and fence the producer, and after three producer replacements in ten minutes the worker would stop (the 500,000-
 * order benchmark run met it). The worker aborts and rewinds itself first, counts it as a failed commit and retries;
 * once the dependency is fast again every input is counted exactly once, with no producer replaced.
 */
import { afterEach, describe, expect, it } from "vitest";
import { map } from "rxjs";
import { Serdes, Stores, TopologyBuilder } from "../../topology/index.js";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import { createTopic, endOffsets, uniqueName, waitAllCommitted, waitFor } from "../helpers/kafka.js";
import { expectExactlyOnce, produceKeys } from "../helpers/offset-count-app.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The transaction timeout: a transaction may wait for asynchronous records for 70 % of it (2.8 s). */
const TRANSACTION_TIMEOUT_MS = 4000;

let running: InProcessWorker | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe("an asynchronous dependency slower than the transaction timeout", () => {
  it("aborts and rewinds before the broker would: no producer fenced or replaced, every input counted once", async () => {
    const p = uniqueName("async-txn-time");
    /** Calls made before this moment take 5 s (longer than the transaction may stay open); later ones are quick. */
    let slowUntil = Number.POSITIVE_INFINITY;
    let calls = 0;
    const b = new TopologyBuilder(`${p}-app`);
    b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
    b.stream(`${p}-in`, { key: Serdes.string(), value: Serdes.string() })
      .processAsync(
        "slow",
        async (r) => {
          calls++;
          if (Date.now() < slowUntil) await sleep(5000);
          return { key: r.key, value: `${r.partition}:${r.offset}` };
        },
        { concurrency: 16, timeoutMs: 20_000 },
      )
      .process(
        "count",
        (ctx) => {
          const counts = ctx.keyValueStore<string, number>("counts");
          return map((r) => {
            const n = (counts.get(r.key) ?? 0) + 1;
            counts.put(r.key, n);
            return { key: r.key, value: `${r.value}:${n}` };
          });
        },
        { stores: ["counts"] },
      )
      .to(`${p}-out`, { key: Serdes.string(), value: Serdes.string() });
    await createTopic(`${p}-in`, 2);
    await createTopic(`${p}-out`, 2);
    const w = (running = new InProcessWorker(b.build(), {
      transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
    }));
    await w.start();
    expect(w.logged(/may take longer than a transaction may stay open/)).toHaveLength(1);

    await produceKeys(p, 0, 300);
    await waitFor(
      "the worker to abort a transaction that waited for the slow calls",
      () => (w.logged(/did not settle within the transaction's time/).length >= 2 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    slowUntil = Date.now(); // the dependency recovers
    await produceKeys(p, 300, 200);
    await waitAllCommitted(`${p}-app`, `${p}-in`, { timeoutMs: 90_000 });
    await expectExactlyOnce(p, await endOffsets(`${p}-in`));

    expect(calls).toBeGreaterThan(500); // the aborted records were called again
    expect(w.logged(/producer failed fatally|transactional call never returned/)).toEqual([]);
    expect(w.logged("worker failed")).toEqual([]);
    expect(w.worker.state).toBe("running");
  }, 180_000);
});
