/**
 * Test-only fault points, reached through an environment variable that production never sets.
 *
 * `WEIR_TEST_FAULT_FILE=<path>` (the worker option `testFaultFile`): at each fault point the worker checks whether the file exists and names that
 * point's action; if so it deletes the file and acts. A harness arms one fault by writing the file, so the fault
 * lands exactly where it is wanted (e.g. between `sendOffsetsToTransaction` and `commitTransaction`), once.
 *
 *   kill-after-send-offsets    SIGKILL this process after the offsets were added to the transaction, before the
 *                              commit: the transaction stays undecided until fenced or timed out.
 *   abort-after-send-offsets   fail the commit as an abortable Kafka error would: abort, discard, rewind.
 *   hold-after-send-offsets    create `<file>.held` and wait (without blocking the process) until the harness
 *                              deletes it: the harness acts on the broker (e.g. freezes it) before the commit.
 *   stuck-send-offsets         the next sendOffsetsToTransaction is made, and its answer is never delivered: the call
 *   stuck-commit               (commitTransaction) hangs, as librdkafka's do when the cached group coordinator is
 *                              gone (confluentinc/librdkafka#5456, #5511). The commit still happens in Kafka.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { TransactionAbortedError } from "../errors.js";

export type FaultPoint = "after-send-offsets";

/** Whether the fault file names exactly `action`; if so it is taken (deleted), so the fault acts once. */
export function armedFault(file: string | undefined, action: string): boolean {
  if (!file || !existsSync(file)) return false;
  try {
    if (readFileSync(file, "utf8").trim() !== action) return false;
    unlinkSync(file);
    return true;
  } catch {
    return false; // gone meanwhile, or somebody else took it
  }
}

/** `file`: the worker's `testFaultFile` option (bin/worker.ts passes WEIR_TEST_FAULT_FILE). */
export async function faultPoint(file: string | undefined, point: FaultPoint): Promise<void> {
  if (!file || !existsSync(file)) return;
  let action: string;
  try {
    action = readFileSync(file, "utf8").trim();
  } catch {
    return;
  }
  if (!action.endsWith(point)) return;
  try {
    unlinkSync(file);
  } catch {
    return; // somebody else took it
  }
  if (action === `kill-${point}`) {
    process.kill(process.pid, "SIGKILL");
    // The signal is delivered at once; make sure not one more instruction of the commit runs meanwhile.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
  }
  if (action === `abort-${point}`)
    throw new TransactionAbortedError(`test fault: ${action} (WEIR_TEST_FAULT_FILE)`);
  if (action === `hold-${point}`) {
    const held = `${file}.held`;
    writeFileSync(held, `${process.pid}\n`);
    const until = Date.now() + 120_000;
    while (existsSync(held) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
}
