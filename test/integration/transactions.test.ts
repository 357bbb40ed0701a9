import type { KafkaConsumer, Producer } from "@confluentinc/kafka-javascript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  committedOffsets,
  connectConsumer,
  connectProducer,
  consumeAll,
  createTopic,
  deleteTopic,
  disconnect,
  endOffsets,
  fromCallback,
  pollRecords,
  produceAll,
  uniqueName,
  waitFor,
} from "../helpers/kafka.js";

const TXN_TIMEOUT_MS = 30_000;

describe("transactions: consume-transform-produce with offsets in the transaction", () => {
  const input = uniqueName("txn-in");
  const output = uniqueName("txn-out");
  const group = uniqueName("txn-group");
  let consumer: KafkaConsumer | undefined;
  let producer: Producer | undefined;

  beforeAll(async () => {
    await createTopic(input, 1);
    await createTopic(output, 1);
  });

  afterAll(async () => {
    await disconnect(consumer);
    await disconnect(producer);
    await deleteTopic(input);
    await deleteTopic(output);
  });

  it("commits the first transaction's outputs and offsets, and discards the aborted one's", async () => {
    await produceAll(
      input,
      ["a", "b", "c", "d"].map((v) => ({ key: `key-${v}`, value: v })),
    );

    // The input side: a member of group G that never commits by itself.
    consumer = await connectConsumer(
      { "group.id": group, "enable.auto.commit": false, "isolation.level": "read_committed" },
      { "auto.offset.reset": "earliest" },
    );
    consumer.subscribe([input]);
    const inputs = await pollRecords(consumer, { until: (rs) => rs.length >= 4, timeoutMs: 30_000 });
    expect(inputs.map((r) => [r.offset, r.value])).toEqual([
      [0, "a"],
      [1, "b"],
      [2, "c"],
      [3, "d"],
    ]);
    expect(await committedOffsets(group, input)).toEqual(new Map());

    producer = await connectProducer({ "transactional.id": uniqueName("txn-id"), dr_cb: true });
    producer.setPollInterval(10);
    const p = producer;
    const c = consumer;
    await fromCallback((done) => p.initTransactions(TXN_TIMEOUT_MS, done));

    const transform = (records: typeof inputs) =>
      records.map((r) => ({
        key: r.key,
        value: `${r.value}-out`,
        headers: { from: `${r.partition}/${r.offset}` },
      }));

    // Transaction 1: outputs for inputs 0..1, input offset 2 (next to read); committed.
    await fromCallback((done) => p.beginTransaction(done));
    await produceAll(output, transform(inputs.slice(0, 2)), { producer: p });
    await fromCallback((done) =>
      p.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 2 }], c, TXN_TIMEOUT_MS, done),
    );
    await fromCallback((done) => p.commitTransaction(TXN_TIMEOUT_MS, done));
    expect(await committedOffsets(group, input)).toEqual(new Map([[0, 2]]));

    // Transaction 2: outputs for inputs 2..3, input offset 4; aborted.
    await fromCallback((done) => p.beginTransaction(done));
    await produceAll(output, transform(inputs.slice(2, 4)), { producer: p });
    await fromCallback((done) =>
      p.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 4 }], c, TXN_TIMEOUT_MS, done),
    );
    await fromCallback((done) => p.abortTransaction(TXN_TIMEOUT_MS, done));

    // The aborted transaction's offset did not move the group.
    expect(await committedOffsets(group, input)).toEqual(new Map([[0, 2]]));

    // The output log: 2 records, commit marker, 2 records, abort marker. Once the abort marker is written the
    // last stable offset catches up with the high watermark; only then is read_committed's end the real end.
    const highWatermark = await endOffsets(output, "read_uncommitted");
    expect(highWatermark).toEqual(new Map([[0, 6]]));
    await waitFor("the output's last stable offset to reach its high watermark", async () => {
      const stable = await endOffsets(output, "read_committed");
      return stable.get(0) === 6;
    });

    const committed = await consumeAll(output, { isolation: "read_committed", timeoutMs: 30_000 });
    expect(committed.map((r) => [r.offset, r.key, r.value, r.headers])).toEqual([
      [0, "key-a", "a-out", { from: "0/0" }],
      [1, "key-b", "b-out", { from: "0/1" }],
    ]);

    // The aborted records were written (offsets 3 and 4, after the commit marker at 2): read_uncommitted sees them.
    const uncommitted = await consumeAll(output, { isolation: "read_uncommitted", timeoutMs: 30_000 });
    expect(uncommitted.map((r) => [r.offset, r.value])).toEqual([
      [0, "a-out"],
      [1, "b-out"],
      [3, "c-out"],
      [4, "d-out"],
    ]);
  });
});
