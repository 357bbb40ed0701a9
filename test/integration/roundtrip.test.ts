import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { ProduceRecord } from "../helpers/kafka.js";
import {
  consumeAll,
  createTopic,
  deleteTopic,
  endOffsets,
  produceAll,
  uniqueName,
} from "../helpers/kafka.js";

const RECORDS = 10_000;
const KEYS = 97;
const PARTITIONS = 3;
const BASE_TIMESTAMP = Date.UTC(2024, 0, 1);

interface Payload {
  id: number;
  key: string;
  seq: number;
}

/** Record i: key k<i mod KEYS>, value {id, key, seq}, where seq counts that key's records so far. */
function buildRecords(): ProduceRecord[] {
  const seqByKey = new Map<string, number>();
  const records: ProduceRecord[] = [];
  for (let id = 0; id < RECORDS; id++) {
    const key = `k${id % KEYS}`;
    const seq = seqByKey.get(key) ?? 0;
    seqByKey.set(key, seq + 1);
    const payload: Payload = { id, key, seq };
    records.push({
      key,
      value: JSON.stringify(payload),
      timestamp: BASE_TIMESTAMP + id,
      headers: [
        ["id", String(id)],
        ["trace", `trace-${id}-${key}`],
        ["bin", Buffer.from([0x00, 0xff, id % 256, 0x0a])],
      ],
    });
  }
  return records;
}

describe("produce / consume roundtrip", () => {
  const topic = uniqueName("roundtrip");

  beforeAll(async () => {
    await createTopic(topic, PARTITIONS);
  });

  afterAll(async () => {
    await deleteTopic(topic);
  });

  it(`delivers ${RECORDS} keyed records with headers across ${PARTITIONS} partitions exactly once, in per-key order`, async () => {
    const sent = buildRecords();
    const reports = await produceAll(topic, sent);

    // Every delivery report is there, and the (partition, offset) pairs they name are distinct.
    expect(reports).toHaveLength(RECORDS);
    const reportedPositions = new Set(reports.map((r) => `${r.partition}/${r.offset}`));
    expect(reportedPositions.size).toBe(RECORDS);

    // The log holds exactly RECORDS records (nothing was written twice by a retry), on every partition.
    const ends = await endOffsets(topic);
    expect([...ends.keys()].sort()).toEqual([0, 1, 2]);
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(RECORDS);
    for (const end of ends.values()) expect(end).toBeGreaterThan(0);

    // Read to the end of every partition (no `expected`): duplicates would show up as extra records.
    const received = await consumeAll(topic, { timeoutMs: 120_000 });
    expect(received).toHaveLength(RECORDS);

    const seen = new Map<number, (typeof received)[number]>();
    const partitionOfKey = new Map<string, number>();
    const lastSeqOfKey = new Map<string, number>();
    const countOfKey = new Map<string, number>();

    for (const record of received) {
      expect(record.topic).toBe(topic);
      const payload = JSON.parse(record.value ?? "null") as Payload;
      expect(seen.has(payload.id), `record ${payload.id} received twice`).toBe(false);
      seen.set(payload.id, record);

      // Key and headers intact.
      expect(record.key).toBe(payload.key);
      expect(record.headers).toEqual({
        id: String(payload.id),
        trace: `trace-${payload.id}-${payload.key}`,
        bin: Buffer.from([0x00, 0xff, payload.id % 256, 0x0a]).toString("utf8"),
      });
      expect(record.headerList.map(([name]) => name)).toEqual(["id", "trace", "bin"]);
      expect(record.headerList[2]?.[1]).toEqual(Buffer.from([0x00, 0xff, payload.id % 256, 0x0a]));
      expect(record.timestamp).toBe(BASE_TIMESTAMP + payload.id);

      // The delivery report and the consumed record agree on where the record lives.
      const report = reports[payload.id];
      expect({ partition: record.partition, offset: record.offset }).toEqual({
        partition: report?.partition,
        offset: report?.offset,
      });

      // Per key: one partition, and strictly increasing sequence numbers in consumption order.
      const partition = partitionOfKey.get(payload.key);
      if (partition === undefined) partitionOfKey.set(payload.key, record.partition);
      else expect(record.partition, `key ${payload.key} spread over partitions`).toBe(partition);
      const last = lastSeqOfKey.get(payload.key) ?? -1;
      expect(payload.seq, `key ${payload.key} out of order`).toBeGreaterThan(last);
      lastSeqOfKey.set(payload.key, payload.seq);
      countOfKey.set(payload.key, (countOfKey.get(payload.key) ?? 0) + 1);
    }

    // None missing: every id, and every key's full sequence 0..n-1 (strictly increasing + count = n).
    expect(seen.size).toBe(RECORDS);
    for (let id = 0; id < RECORDS; id++) expect(seen.has(id), `record ${id} missing`).toBe(true);
    expect(countOfKey.size).toBe(KEYS);
    for (const [key, count] of countOfKey) expect(lastSeqOfKey.get(key)).toBe(count - 1);

    // Keys really were spread over all partitions, so per-key order was tested across partitions.
    expect(new Set(partitionOfKey.values()).size).toBe(PARTITIONS);
  });
});
