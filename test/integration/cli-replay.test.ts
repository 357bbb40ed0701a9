/**
 * `weir replay` against the real broker: slices by offsets and by timestamps into new topics, idempotence of a
 * repeated run, dry run, dead-letter re-drive. Every result is read back with a separate consumer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  consumeAll,
  createTopic,
  deleteTopic,
  endOffsets,
  produceAll,
  uniqueName,
  type ConsumedRecord,
} from "../helpers/kafka.js";
import { cliJson, runWeir } from "../helpers/worker-process.js";

const BASE = Date.UTC(2024, 4, 1, 12, 0, 0);
const RECORDS = 30;

const byOrigin = (records: ConsumedRecord[]) =>
  new Map(records.map((r) => [r.headers["weir.replay.origin"]!, r]));

describe("weir replay", () => {
  const source = uniqueName("cli-replay-src");
  const created: string[] = [source];
  /** offset of record i: partition i % 3, offset floor(i / 3) (explicit partitions, one producer, in order). */
  const sent = Array.from({ length: RECORDS }, (_, i) => ({
    key: `key-${i}`,
    value: `value-${i}`,
    partition: i % 3,
    timestamp: BASE + i * 1000,
    headers: [
      ["trace", `t-${i}`],
      ["bin", Buffer.from([0x00, 0xff, i])],
    ] as Array<[string, string | Buffer]>,
  }));

  beforeAll(async () => {
    // The records carry 2024 timestamps: without retention.ms=-1 the broker's retention check deletes them mid-test.
    await createTopic(source, 3, { "retention.ms": "-1" });
    await produceAll(source, sent);
  });

  afterAll(async () => {
    for (const t of created) await deleteTopic(t);
  });

  it("replays a per-partition offset range into a new topic, keeping keys, values, headers and timestamps", async () => {
    const target = uniqueName("cli-replay-offsets");
    created.push(target);
    const summary = cliJson(
      await runWeir([
        "replay",
        "--topic",
        source,
        "--from",
        "0:2,1:0",
        "--to",
        "0:7,1:3",
        "--into",
        target,
        "--create-target",
        "--json",
      ]),
    );
    expect(summary.records).toBe(8);
    const got = await consumeAll(target, { timeoutMs: 30_000, isolation: "read_committed" });
    expect(got).toHaveLength(8);
    const origins = byOrigin(got);
    const expected = [...[2, 3, 4, 5, 6].map((o) => ({ p: 0, o })), ...[0, 1, 2].map((o) => ({ p: 1, o }))];
    expect([...origins.keys()].sort()).toEqual(expected.map(({ p, o }) => `${source}/${p}/${o}`).sort());
    for (const { p, o } of expected) {
      const i = o * 3 + p;
      const r = origins.get(`${source}/${p}/${o}`)!;
      expect(r.key).toBe(`key-${i}`);
      expect(r.value).toBe(`value-${i}`);
      expect(r.timestamp).toBe(BASE + i * 1000);
      expect(r.headerList.slice(0, 2)).toEqual([
        ["trace", Buffer.from(`t-${i}`)],
        ["bin", Buffer.from([0x00, 0xff, i])],
      ]);
    }
  });

  it("replays a time range (ms and ISO) into a new topic", async () => {
    const target = uniqueName("cli-replay-times");
    created.push(target);
    const from = `@${BASE + 10_000}`; // records 10..
    const to = new Date(BASE + 20_000).toISOString(); // ..19
    const summary = cliJson(
      await runWeir([
        "replay",
        "--topic",
        source,
        "--from",
        from,
        "--to",
        to,
        "--into",
        target,
        "--create-target",
        "--json",
      ]),
    );
    expect(summary.records).toBe(10);
    const got = await consumeAll(target, { timeoutMs: 30_000, isolation: "read_committed" });
    expect(got.map((r) => r.key).sort()).toEqual(
      Array.from({ length: 10 }, (_, k) => `key-${k + 10}`).sort(),
    );
    for (const r of got) expect(r.timestamp).toBe(BASE + Number(r.key!.slice(4)) * 1000);
  });

  it("run twice with the same range into a transactional target, writes the records once", async () => {
    const target = uniqueName("cli-replay-twice");
    created.push(target);
    await createTopic(target, 2, { "retention.ms": "-1" });
    const args = [
      "replay",
      "--topic",
      source,
      "--from",
      "3",
      "--into",
      target,
      "--batch-size",
      "4",
      "--json",
    ];
    const first = cliJson(await runWeir(args));
    expect(first.records).toBe(21); // offsets 3..9 of each partition: 7 * 3
    const second = cliJson(await runWeir(args));
    expect(second.records).toBe(0);
    expect(second.alreadyReplayedOffsets).toBe(21);
    expect(second.replayId).toBe(first.replayId);
    const ends = await endOffsets(target);
    const got = await consumeAll(target, { timeoutMs: 30_000, isolation: "read_committed" });
    expect(got).toHaveLength(21);
    expect(new Set(got.map((r) => r.headers["weir.replay.origin"])).size).toBe(21);
    // Nothing was appended by the second run either (not even aborted records): the log ends where it did.
    expect(await endOffsets(target)).toEqual(ends);
  });

  it("--dry-run counts and samples but writes nothing", async () => {
    const target = uniqueName("cli-replay-dry");
    created.push(target);
    await createTopic(target, 1, { "retention.ms": "-1" });
    const summary = cliJson(
      await runWeir([
        "replay",
        "--topic",
        source,
        "--to",
        "4",
        "--into",
        target,
        "--dry-run",
        "--sample",
        "2",
        "--json",
      ]),
    );
    expect(summary.dryRun).toBe(true);
    expect(summary.records).toBe(12);
    const samples = summary.samples as Array<{ headers: Record<string, string>; target: string }>;
    expect(samples).toHaveLength(2);
    expect(samples[0]!.target).toBe(target);
    expect(samples[0]!.headers["weir.replay.origin"]).toMatch(new RegExp(`^${source}/\\d/\\d$`));
    expect([...(await endOffsets(target)).values()]).toEqual([0]);
    // And the dry run recorded no progress: a real run afterwards replays everything.
    expect(
      cliJson(await runWeir(["replay", "--topic", source, "--to", "4", "--into", target, "--json"])).records,
    ).toBe(12);
  });

  it("--dead-letters re-drives DLQ records into their original topic without the error headers", async () => {
    const prefix = uniqueName("cli-redrive");
    const input = `${prefix}-input`;
    const dlq = `${prefix}-app-dlq`;
    created.push(input, dlq);
    await createTopic(input, 3, { "retention.ms": "-1" });
    await createTopic(dlq, 1, { "retention.ms": "-1" });
    const originalTs = BASE - 5000;
    await produceAll(dlq, [
      {
        key: "bad-key",
        value: Buffer.from([0xc3, 0x28]),
        timestamp: BASE,
        headers: {
          app: "kept",
          "weir.error.class": "DeserializationError",
          "weir.error.message": "not valid UTF-8",
          "weir.source.topic": input,
          "weir.source.partition": "1",
          "weir.source.offset": "41",
          "weir.source.timestamp": String(originalTs),
        },
      },
      { key: "orphan", value: "no source header", headers: { "weir.error.class": "X" } },
    ]);
    const summary = cliJson(
      await runWeir(["replay", "--dead-letters", "--app", "test/apps/count.ts", "--json"], {
        WEIR_TEST_PREFIX: prefix,
      }),
    );
    expect(summary.source).toBe(dlq);
    expect(summary.records).toBe(1);
    expect(summary.skipped).toBe(1);
    const got = await consumeAll(input, { timeoutMs: 30_000, isolation: "read_committed" });
    expect(got).toHaveLength(1);
    const r = got[0]!;
    expect(r.key).toBe("bad-key");
    expect(r.valueBytes).toEqual(Buffer.from([0xc3, 0x28]));
    expect(r.timestamp).toBe(originalTs);
    expect(r.headers).toEqual({ app: "kept", "weir.replay.origin": `${dlq}/0/0` });
    // Re-driving again is a no-op.
    const again = cliJson(
      await runWeir(["replay", "--dead-letters", "--app", "test/apps/count.ts", "--json"], {
        WEIR_TEST_PREFIX: prefix,
      }),
    );
    expect(again.records).toBe(0);
  });

  it("says what is wrong with a missing source or target topic (exit 1)", async () => {
    const missing = await runWeir(["replay", "--topic", uniqueName("nope"), "--into", "x"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    const noTarget = await runWeir(["replay", "--topic", source, "--into", uniqueName("nope")]);
    expect(noTarget.code).toBe(1);
    expect(noTarget.stderr).toMatch(/--create-target/);
  });
});
