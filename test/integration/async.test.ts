/**
 * An asynchronous processor under exactly-once on the real broker (issue: asynchronous processors): 100,000 records
 * through an HTTP enrichment on loopback with random latency (1–50 ms) and 1 % failed answers (each retried), some
 * inputs the service always refuses (dead-lettered), and the worker SIGKILLed mid-run and restarted on its state.
 *
 * Checked from the topics alone: every input is in the output exactly once or in the dead-letter topic exactly once
 * (never both); each key's outputs are in input order; and the per-key count after the asynchronous processor runs
 * 1..n without a gap or a repeat — it would repeat if a commit had passed a record still in flight (the record
 * replayed after the kill, counted twice) and skip if outputs were lost.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeadLetterHeader } from "../../topology/index.js";
import {
  consumeAll,
  createTopic,
  produceAll,
  uniqueName,
  waitAllCommitted,
  waitFor,
  endOffsets,
} from "../helpers/kafka.js";
import { WorkerProcess } from "../helpers/worker-process.js";

const RECORDS = 100_000;
const KEYS = 200;
/** Inputs whose sequence number ends in 777 are always refused: they must end in the dead-letter topic. */
const refused = (i: number) => i % 1000 === 777;

let server: Server;
let url = "";
const calls = { total: 0, failed: 0 };

beforeAll(async () => {
  server = createServer((req, res) => {
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    const value = Number(q.get("value"));
    calls.total++;
    setTimeout(
      () => {
        if (refused(value) || Math.random() < 0.01) {
          calls.failed++;
          res.writeHead(503).end("busy");
          return;
        }
        res.writeHead(200).end(`e${value}`);
      },
      1 + Math.floor(Math.random() * 50),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server?.closeAllConnections();
  server?.close();
});

describe("an asynchronous processor under exactly-once", () => {
  it("100k records through a flaky HTTP service with a SIGKILL mid-run: each input once in the output or the dead letters, per-key order and counts exact", async () => {
    const prefix = uniqueName("async");
    const input = `${prefix}-input`;
    const output = `${prefix}-out`;
    await createTopic(input, 4);
    await createTopic(output, 4);
    const records = Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i % KEYS}`, value: String(i) }));
    await produceAll(input, records, { config: { partitioner: "murmur2_random" } });

    const worker = (stateDir?: string) =>
      new WorkerProcess({
        args: ["--app", "test/apps/async-enrich.ts", "--commit-interval-ms", "200"],
        env: { WEIR_TEST_PREFIX: prefix, WEIR_TEST_ENRICH_URL: url },
        ...(stateDir ? { stateDir } : {}),
      }).start();
    const started = Date.now();
    const first = worker();
    try {
      await waitFor(
        "a fifth of the outputs (committed or not)",
        async () => {
          const ends = await endOffsets(output);
          return [...ends.values()].reduce((a, b) => a + b, 0) > RECORDS / 5 ? true : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 200 },
      );
    } finally {
      first.kill("SIGKILL");
    }
    expect((await first.exited()).signal).toBe("SIGKILL");
    const killedAt = Date.now() - started;
    const second = worker(first.stateDir);
    try {
      await waitAllCommitted(`${prefix}-app`, input, { timeoutMs: 240_000 });
      console.log(`async: SIGKILL after ${killedAt} ms, all committed after ${Date.now() - started} ms`);
      const inFlightSeen = second.logs.some((l) => l.msg === "worker failed");
      expect(inFlightSeen).toBe(false);
    } finally {
      await second.stop();
    }

    const out = await consumeAll(output, { isolation: "read_committed", timeoutMs: 120_000 });
    const dlq = await consumeAll(`${prefix}-app-dlq`, { isolation: "read_committed", timeoutMs: 60_000 });
    const seen = new Map<number, string>();
    const twice: string[] = [];
    const byKey = new Map<string, Array<{ seq: number; count: number }>>();
    for (const r of out) {
      const [answer, count] = r.value!.split(":") as [string, string];
      const seq = Number(answer.slice(1));
      if (seen.has(seq)) twice.push(`input ${seq}: ${seen.get(seq)} and output ${r.partition}@${r.offset}`);
      seen.set(seq, `output ${r.partition}@${r.offset}`);
      if (!byKey.has(r.key!)) byKey.set(r.key!, []);
      byKey.get(r.key!)!.push({ seq, count: Number(count) });
    }
    for (const r of dlq) {
      const seq = Number(r.value!.toString());
      expect(r.headers[DeadLetterHeader.errorClass]).toBe("AsyncProcessingError");
      expect(String(r.headers[DeadLetterHeader.errorMessage])).toMatch(/failed after 4 attempt\(s\)/);
      if (seen.has(seq)) twice.push(`input ${seq}: ${seen.get(seq)} and dead letter ${r.offset}`);
      seen.set(seq, `dead letter ${r.offset}`);
    }
    console.log(
      `async: ${out.length} outputs, ${dlq.length} dead letters, ${calls.total} calls (${calls.failed} refused)`,
    );
    expect(twice.slice(0, 10), `${twice.length} inputs seen twice`).toEqual([]);
    const missing = records.map((_, i) => i).filter((i) => !seen.has(i));
    expect(missing.slice(0, 10), `${missing.length} inputs missing`).toEqual([]);
    // Every always-refused input is a dead letter (and, with 4 attempts at 1 % failures, almost nothing else is).
    const lettered = new Set(dlq.map((r) => Number(r.value!.toString())));
    for (let i = 0; i < RECORDS; i++) if (refused(i)) expect(lettered.has(i), `input ${i}`).toBe(true);
    for (const [key, list] of byKey) {
      const seqs = list.map((x) => x.seq);
      expect(
        seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
        `${key}: outputs in input order`,
      ).toBe(true);
      expect(
        list.map((x) => x.count),
        `${key}: counts 1..n`,
      ).toEqual(list.map((_, i) => i + 1));
    }
  });
});
