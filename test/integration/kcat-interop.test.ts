import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { consumeAll, createTopic, deleteTopic, kcat, produceAll, uniqueName } from "../helpers/kafka.js";

// Field separator for kcat's -f output: a byte that appears in none of the test's keys, values or headers.
const SEP = "\u001f";

/** Parses kcat's `%h` (headers as `name=value` CSV). Only for values without `,` or `=`. */
function parseKcatHeaders(text: string): Record<string, string> {
  if (text === "") return {};
  return Object.fromEntries(
    text.split(",").map((pair) => {
      const at = pair.indexOf("=");
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

describe("interoperability with kcat", () => {
  const fromKcat = uniqueName("kcat-to-client");
  const toKcat = uniqueName("client-to-kcat");

  beforeAll(async () => {
    await createTopic(fromKcat, 1);
    await createTopic(toKcat, 1);
  });

  afterAll(async () => {
    await deleteTopic(fromKcat);
    await deleteTopic(toKcat);
  });

  it("reads a message produced by kcat with key, value and headers intact", async () => {
    // -P reads one message per line of stdin; -k and -H apply to every message.
    kcat(
      ["-P", "-t", fromKcat, "-k", "order-17", "-H", "trace-id=abc-123", "-H", "source=kcat"],
      "value from kcat: ünïcødé\n",
    );

    const records = await consumeAll(fromKcat, { timeoutMs: 30_000 });
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record?.key).toBe("order-17");
    expect(record?.value).toBe("value from kcat: ünïcødé");
    expect(record?.headers).toEqual({ "trace-id": "abc-123", source: "kcat" });
    expect(record?.headerList.map(([name, value]) => [name, value.toString("utf8")])).toEqual([
      ["trace-id", "abc-123"],
      ["source", "kcat"],
    ]);
  });

  it("lets kcat read a message produced by the client with key, value and headers intact", async () => {
    const [report] = await produceAll(toKcat, [
      {
        key: "customer-42",
        value: "value from weir: ünïcødé",
        headers: { "content-type": "text/plain", "weir-origin": "client" },
        timestamp: 1_700_000_000_123,
      },
    ]);
    expect(report?.offset).toBe(0);

    // -e: exit at the end of the partition, so this cannot block.
    const out = kcat([
      "-C",
      "-t",
      toKcat,
      "-o",
      "beginning",
      "-e",
      "-q",
      "-f",
      `%p${SEP}%o${SEP}%T${SEP}%k${SEP}%s${SEP}%h\n`,
    ]);
    const lines = out.split("\n").filter((line) => line !== "");
    expect(lines).toHaveLength(1);
    const [partition, offset, timestamp, key, value, headers] = lines[0]!.split(SEP);
    expect({ partition, offset, timestamp, key, value }).toEqual({
      partition: "0",
      offset: "0",
      timestamp: "1700000000123",
      key: "customer-42",
      value: "value from weir: ünïcødé",
    });
    expect(parseKcatHeaders(headers ?? "")).toEqual({
      "content-type": "text/plain",
      "weir-origin": "client",
    });
  });
});
