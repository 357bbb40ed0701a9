import { it } from "vitest";
import Kafka from "@confluentinc/kafka-javascript";
import { consumeAll, createTopic, deleteTopic, produceAll, uniqueName } from "../helpers/kafka.js";
it("stress", async () => {
  const t = uniqueName("zz-stress");
  await createTopic(t, 3);
  try {
    await produceAll(t, Array.from({ length: 10000 }, (_, i) => ({ key: `k${i % 97}`, value: String(i), headers: [["id", String(i)]] })));
    const orig = Kafka.KafkaConsumer.prototype.emit;
    const log: string[] = [];
    Kafka.KafkaConsumer.prototype.emit = function (this: unknown, ev: string, ...args: unknown[]) {
      if (ev === "partition.eof") log.push(`eof ${JSON.stringify(args[0])}`);
      return (orig as (...a: unknown[]) => boolean).call(this, ev, ...args);
    } as typeof orig;
    for (let i = 0; i < 30; i++) {
      log.length = 0;
      const rs = await consumeAll(t, { timeoutMs: 30000 });
      const per = [0, 0, 0];
      for (const r of rs) per[r.partition]!++;
      if (rs.length !== 10000) console.log(i, rs.length, per, log);
    }
    console.log("done");
  } finally { await deleteTopic(t); }
});
