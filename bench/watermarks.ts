/**
 * `npx tsx bench/watermarks.ts [--brokers host:port]` — what a read_committed consumer of the client weir uses
 * reports as a partition's position and end, around transactions: the facts a join that waits for its table
 * (Kafka Streams' max.task.idle.ms, KIP-695) would decide from. On a fresh one-partition topic it writes ten records
 * in a committed transaction, then five in a transaction left open, commits that one, then aborts one more, and after
 * each step consumes what there is and prints: the offsets consumed, `position()`, the cached
 * `getWatermarkOffsets()` (from the last fetch) and `queryWatermarkOffsets()` (asked of the broker). docs/benchmarks.md
 * ("Found by the suite") records what it printed.
 */
import {
  Kafka,
  Txn,
  connect,
  consumeBatch,
  disconnect,
  flush,
  watermarks,
  type Message,
  type Producer,
} from "../topology/kafka.js";
import { DEFAULT_BROKERS, adminClient, createTopic, deleteTopics, parseFlags, runId } from "./lib.js";

const HELP = `usage: npx tsx bench/watermarks.ts [--brokers host:port]   (default: $KAFKA_BROKERS, else 127.0.0.1:9092)`;
const flags = parseFlags(process.argv.slice(2), { brokers: DEFAULT_BROKERS }, HELP);
const topic = `bench-watermarks-${runId}`;

async function transactionalProducer(name: string): Promise<Producer> {
  const p = await connect(
    new Kafka.Producer({
      "bootstrap.servers": flags.brokers,
      "transactional.id": `${topic}-${name}`,
      dr_cb: false,
    }),
  );
  await Txn.init(p, 10_000);
  return p;
}

const admin = adminClient(flags.brokers);
await createTopic(admin, topic, 1);
const consumer = await connect(
  new Kafka.KafkaConsumer(
    {
      "bootstrap.servers": flags.brokers,
      "group.id": topic,
      "isolation.level": "read_committed",
      "enable.auto.commit": false,
    },
    {},
  ),
);
consumer.setDefaultConsumeTimeout(500);
consumer.assign([{ topic, partition: 0, offset: 0 }]);

/** Consume for about three seconds, then print what the consumer and the broker say. */
async function report(step: string): Promise<void> {
  let consumed: Message[] = [];
  for (let i = 0; i < 6; i++) consumed = consumed.concat(await consumeBatch(consumer, 100));
  const [position] = consumer.position([{ topic, partition: 0 }]);
  const cached = consumer.getWatermarkOffsets(topic, 0);
  const queried = await watermarks(consumer, topic, 0);
  console.log(
    `${step}\n  consumed: [${consumed.map((m) => m.offset).join(",")}]  position: ${position?.offset}` +
      `  cached end: ${cached.highOffset}  queried end: ${queried.highOffset}`,
  );
}

const producers: Producer[] = [];
try {
  const a = await transactionalProducer("a");
  producers.push(a);
  await Txn.begin(a);
  for (let i = 0; i < 10; i++) a.produce(topic, 0, Buffer.from(`v${i}`), `k${i}`);
  await Txn.commit(a, 10_000);
  await report("ten records committed (0-9, the commit marker at 10):");

  const b = await transactionalProducer("b");
  producers.push(b);
  await Txn.begin(b);
  for (let i = 0; i < 5; i++) b.produce(topic, 0, Buffer.from(`u${i}`), `u${i}`);
  await flush(b, 5000);
  await report("five records of a transaction still open (11-15):");
  await Txn.commit(b, 10_000);
  await report("that transaction committed (its marker at 16):");

  const c = await transactionalProducer("c");
  producers.push(c);
  await Txn.begin(c);
  c.produce(topic, 0, Buffer.from("x"), "x");
  await flush(c, 5000);
  await Txn.abort(c, 10_000);
  await report("one record aborted (17, the abort marker at 18):");
} finally {
  for (const p of producers) await disconnect(p);
  await disconnect(consumer);
  await deleteTopics(admin, [topic]);
  admin.disconnect();
}
