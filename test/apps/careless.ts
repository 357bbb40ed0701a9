/**
 * A topology that meets bad records, for the log-hygiene test: input `<prefix>-input` (key: string, value: JSON) →
 * output `<prefix>-out`. A value that is not JSON fails to decode; a value `{ "kind": "boom", ... }` makes the
 * processor throw an error that quotes the whole value, as careless user code does. Both go to the dead-letter topic.
 * WEIR_TEST_PREFIX names the topics and the app.
 */
import { map } from "rxjs";
import { Serdes, TopologyBuilder } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "careless";

const builder = new TopologyBuilder(`${prefix}-app`);
builder
  .stream(`${prefix}-input`, { key: Serdes.string(), value: Serdes.json() })
  .process("check", () =>
    map((r) => {
      const value = r.value as { kind?: string };
      if (value.kind === "boom") throw new Error(`cannot handle ${JSON.stringify(value)}`);
      return { key: r.key, value: "ok" };
    }),
  )
  .to(`${prefix}-out`, { key: Serdes.string(), value: Serdes.string() });

export const topology = builder.build();
