/**
 * A transactional call that never returns. librdkafka's sendOffsetsToTransaction can wait forever when the group
 * coordinator it cached is gone (confluentinc/librdkafka#5456, #5511): the clean-clone CI's three-broker test saw a
 * worker wait in it for minutes after a broker came back, its partitions assigned and nothing committed. The test
 * fault `stuck-<call>` makes the real call and withholds its answer, so the hang lands exactly there:
 *
 * - sendOffsetsToTransaction: the transaction cannot have committed. The worker replaces its producer (the new
 *   one's initTransactions fences the old; Kafka aborts its transaction) and rewinds.
 * - commitTransaction: the commit did happen in Kafka. After the replacement the group's committed offsets show it
 *   stood; its store writes are applied and processing goes on without redoing anything.
 *
 * Either way every input is counted exactly once and the worker never fails.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import { endOffsets, uniqueName, waitAllCommitted, waitFor } from "../helpers/kafka.js";
import { countingApp, expectExactlyOnce, produceKeys } from "../helpers/offset-count-app.js";

/** Each call times out in librdkafka after 2 s; a call still pending 2 × 2 s + 10 s later is taken as lost. */
const CALL_TIMEOUT_MS = 2000;

const committedOutputs = async (p: string) =>
  [...(await endOffsets(`${p}-out`, "read_committed")).values()].reduce((a, c) => a + c, 0);

describe("a transactional call that never returns", () => {
  it.each([
    {
      fault: "stuck-send-offsets",
      outcome: "producer replaced; resuming from the committed offsets",
    },
    {
      fault: "stuck-commit",
      outcome:
        "producer replaced; the commit that hung had stood: its writes are applied, processing goes on",
    },
  ])(
    "$fault: the producer is replaced, Kafka's decision is found, every input counted once",
    async ({ fault, outcome }) => {
      const p = uniqueName(fault);
      const faultFile = join(tmpdir(), `${p}.fault`);
      const w = new InProcessWorker(await countingApp(p), {
        testFaultFile: faultFile,
        transactionCallTimeoutMs: CALL_TIMEOUT_MS,
      });
      await w.start();
      try {
        await produceKeys(p, 0, 500);
        await waitFor("the first outputs", async () =>
          (await committedOutputs(p)) >= 500 ? true : undefined,
        );
        writeFileSync(faultFile, fault);
        await produceKeys(p, 500, 300);
        await waitFor(
          "the hung call to be found and the producer replaced",
          () => (w.logged(/^producer replaced/).length > 0 ? true : undefined),
          { timeoutMs: 60_000, intervalMs: 200 },
        );
        expect(w.logged(/a transactional call never returned/)).toHaveLength(1);
        // The worker goes on with its new producer.
        await produceKeys(p, 800, 200);
        await waitAllCommitted(`${p}-app`, `${p}-in`, { timeoutMs: 60_000 });
        const ends = await endOffsets(`${p}-in`);
        await expectExactlyOnce(p, ends);
        expect(w.worker.state).toBe("running");
        expect(w.logged("worker failed")).toEqual([]);
        // Which decision the worker found: the commit withheld by stuck-commit did stand.
        expect(w.logged(/^producer replaced/).map((l) => l.msg)).toEqual([outcome]);
        if (fault === "stuck-commit") expect(w.logged(/transaction failed/)).toEqual([]);
      } finally {
        await w.stop();
      }
    },
    120_000,
  );
});
