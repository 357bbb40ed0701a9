/**
 * The operator commands without a broker: usage errors (message + exit 2) by spawning the CLI, --help, and the
 * pure parts (positions, replay ids, dead-letter routing, progress rendering, DescribeConfigs encoding).
 */
import type { Message } from "@confluentinc/kafka-javascript";
import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import { Serdes, Stores, TopologyBuilder } from "../topology/index.js";
import { decodeDescribeConfigs, encodeDescribeConfigs } from "./topic-configs.js";
import { parsePosition, parseRangeSpec, resolvePosition, selectPartitions } from "./offset-range.js";
import { renderProgress, formatDuration } from "./progress.js";
import { replayId, routeDeadLetter, routeInto } from "./replay.js";
import { parseDatetime } from "./reset.js";
import { parseKey } from "./state.js";
import { planTopics } from "./topics.js";
import { weirOffline } from "../test/helpers/cli.js";

const weir = weirOffline;

describe.concurrent("usage errors exit 2 with a message and a pointer to --help", () => {
  const cases: Array<[string[], RegExp]> = [
    [["topics"], /Usage: weir topics/],
    [["topics", "frobnicate"], /unknown subcommand 'frobnicate'/],
    [["topics", "create", "--partitions", "zero"], /--partitions must be an integer/],
    [["topics", "describe", "--bogus"], /Unknown option '--bogus'/],
    [["describe", "--format", "svg"], /--format must be one of text, json, mermaid/],
    [["replay", "--topic", "t"], /--into <topic>.*--dead-letters/],
    [["replay", "--topic", "t", "--into", "u", "--dead-letters"], /exclude each other/],
    [["replay", "--into", "u"], /--topic is required/],
    [["replay", "--topic", "t", "--into", "u", "--from", "yesterday"], /--from: cannot read 'yesterday'/],
    [["replay", "--topic", "t", "--into", "u", "--rate=-3"], /--rate must be a number >= 0/],
    [["replay", "--topic", "t", "--into", "u", "--rate", "0"], /--rate must be > 0/],
    [["replay", "--topic", "t", "--into", "u", "--kafka", "novalue"], /--kafka expects KEY=VALUE/],
    [["reset", "--to-datetime", "soon"], /--to-datetime/],
    [["reset", "--yes", "--force"], /Unknown option '--force'/],
    [["state"], /missing subcommand/],
    [["state", "get", "counts"], /usage: weir state get <store> <key>/],
    [["state", "scan", "counts", "--limit", "0"], /--limit must be an integer between 1 and 1000000/],
    [["state", "get", "counts", "k", "--url", "localhost:9400"], /--url must look like http/],
  ];
  it.each(cases)("weir %j", async (args, message) => {
    const r = await weir(args);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toMatch(message);
    if (args.length > 1) expect(r.stderr).toMatch(/--help/);
  });

  it.each([["topics", "create"], ["topics", "describe"], ["describe"], ["replay"], ["reset"], ["state"]])(
    "weir %s --help prints usage with examples, exit 0",
    async (...cmd) => {
      const r = await weir([...cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: weir /);
      expect(r.stdout).toMatch(/Examples:\n {2}weir /);
    },
  );

  it("weir --help lists the operator commands", async () => {
    const r = await weir(["--help"]);
    for (const c of ["topics", "describe", "replay", "reset", "state"])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
  });

  it("a broker that cannot be reached is exit 1 with what to check", async () => {
    const r = await weir([
      "replay",
      "--topic",
      "t",
      "--into",
      "u",
      "--kafka",
      "socket.connection.setup.timeout.ms=1000",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot connect to Kafka at 127\.0\.0\.1:1 \(check --brokers/);
  }, 30_000);
});

describe("positions", () => {
  it("parses offsets, timestamps, ISO dates and the ends", () => {
    expect(parsePosition("from", "42")).toEqual({ kind: "offset", offset: 42 });
    expect(parsePosition("from", "@1700000000000")).toEqual({ kind: "timestamp", ms: 1700000000000 });
    expect(parsePosition("from", "2024-05-01T12:00:00Z")).toEqual({
      kind: "timestamp",
      ms: Date.UTC(2024, 4, 1, 12),
    });
    expect(parsePosition("to", "end")).toEqual({ kind: "end" });
    expect(parsePosition("to", "earliest")).toEqual({ kind: "beginning" });
    expect(() => parsePosition("to", "-1")).toThrow(/--to offset must be an integer >= 0, got .-1./);
  });

  it("parses per-partition lists, with or without a default", () => {
    const s = parseRangeSpec("from", "0:100,1:2024-05-01T00:00:00Z");
    expect(s.all).toBeUndefined();
    expect(s.partitions.get(0)).toEqual({ kind: "offset", offset: 100 });
    expect(s.partitions.get(1)).toEqual({ kind: "timestamp", ms: Date.UTC(2024, 4, 1) });
    expect(parseRangeSpec("from", "5,2:0").all).toEqual({ kind: "offset", offset: 5 });
    expect(() => parseRangeSpec("from", "0:1,0:2")).toThrow(/partition 0 is given twice/);
    expect(() => parseRangeSpec("from", "1,2")).toThrow(/more than one value/);
  });

  it("a list without a default selects the listed partitions only", () => {
    expect(selectPartitions(4)).toEqual([0, 1, 2, 3]);
    expect(selectPartitions(4, parseRangeSpec("from", "1:0,3:0"), undefined)).toEqual([1, 3]);
    expect(selectPartitions(4, parseRangeSpec("from", "1:0"), parseRangeSpec("to", "2:5"))).toEqual([1, 2]);
    expect(selectPartitions(4, parseRangeSpec("from", "7,1:0"))).toEqual([0, 1, 2, 3]);
    expect(() => selectPartitions(2, parseRangeSpec("from", "5:0"))).toThrow(/partition 5 does not exist/);
  });

  it("resolves within the watermarks; a time with no record after it is the end", async () => {
    const forTime = async (ms: number) => (ms > 1000 ? -1 : 7);
    expect(await resolvePosition({ kind: "offset", offset: 2 }, 5, 10, forTime)).toBe(5);
    expect(await resolvePosition({ kind: "offset", offset: 99 }, 5, 10, forTime)).toBe(10);
    expect(await resolvePosition({ kind: "timestamp", ms: 10 }, 5, 10, forTime)).toBe(7);
    expect(await resolvePosition({ kind: "timestamp", ms: 5000 }, 5, 10, forTime)).toBe(10);
    expect(parseDatetime("1700000000000")).toBe(1700000000000);
    expect(parseDatetime("2024-05-01T00:00:00Z")).toBe(Date.UTC(2024, 4, 1));
  });
});

describe("replay", () => {
  it("the replay id is stable for the same source, range and target, and differs otherwise", () => {
    const a = replayId({ source: "orders", from: "0", to: "end", target: "copy" });
    expect(a).toMatch(/^weir-replay-orders-[0-9a-f]{16}$/);
    expect(replayId({ source: "orders", from: "0", to: "end", target: "copy" })).toBe(a);
    expect(replayId({ source: "orders", from: "1", to: "end", target: "copy" })).not.toBe(a);
    expect(replayId({ source: "orders", from: "0", to: "end", target: "copy2" })).not.toBe(a);
  });

  const message = (headers: Array<Record<string, Buffer>>): Message =>
    ({
      topic: "app-dlq",
      partition: 0,
      offset: 12,
      key: Buffer.from("k"),
      value: Buffer.from("v"),
      timestamp: 500,
      size: 1,
      headers,
    }) as Message;

  it("--into keeps headers (replacing an older origin) and adds the origin", () => {
    const r = routeInto(
      message([{ a: Buffer.from("1") }, { "weir.replay.origin": Buffer.from("old/0/0") }]),
      "copy",
    );
    expect(r.topic).toBe("copy");
    expect(r.timestamp).toBe(500);
    expect(r.headers).toEqual([
      { a: Buffer.from("1") },
      { "weir.replay.origin": Buffer.from("app-dlq/0/12") },
    ]);
  });

  it("--dead-letters routes by weir.source.topic, strips the weir headers, restores the timestamp", () => {
    const m = message([
      { a: Buffer.from("1") },
      { "weir.error.class": Buffer.from("SchemaError") },
      { "weir.source.topic": Buffer.from("orders") },
      { "weir.source.timestamp": Buffer.from("123") },
    ]);
    const r = routeDeadLetter(m, (t) => t === "orders");
    expect(r).toEqual({
      topic: "orders",
      timestamp: 123,
      headers: [{ a: Buffer.from("1") }, { "weir.replay.origin": Buffer.from("app-dlq/0/12") }],
    });
    expect(routeDeadLetter(m, () => false).skip).toBe("original topic orders does not exist");
    expect(routeDeadLetter(message([]), () => true).skip).toBe("no weir.source.topic header");
  });
});

describe("topics plan", () => {
  const builder = new TopologyBuilder("plan-app");
  builder.store("s", Stores.keyValue(Serdes.string(), Serdes.string()));
  builder.store("w", Stores.window(Serdes.string(), Serdes.string(), { retentionMs: 1000 }));
  builder
    .stream("in", { key: Serdes.string(), value: Serdes.string() })
    .repartition("rekey", { key: Serdes.string(), value: Serdes.string() })
    .process("p", () => map((r) => ({ key: r.key, value: r.value })), { stores: ["s", "w"] })
    .to("out", { key: Serdes.string(), value: Serdes.string() });
  const topology = builder.build();

  it("plans inputs/outputs with --partitions and internal topics from the inputs' actual counts", () => {
    const plan = planTopics(topology, new Map([["in", 6]]), 3);
    expect(plan.map((t) => [t.name, t.role, t.createPartitions, t.config["cleanup.policy"] ?? "-"])).toEqual([
      ["in", "input", 3, "-"],
      ["out", "output", 3, "-"],
      ["plan-app-rekey-repartition", "repartition", 6, "delete"],
      ["plan-app-s-changelog", "changelog", 6, "compact"],
      ["plan-app-w-changelog", "changelog", 6, "compact,delete"],
      ["plan-app-dlq", "dead-letter", 1, "-"],
      ["plan-app-members", "members", 1, "compact"],
    ]);
  });

  it("parses store keys for the key serde", () => {
    expect(parseKey(Stores.keyValue(Serdes.number(), Serdes.string()), "42")).toBe(42);
    expect(() => parseKey(Stores.keyValue(Serdes.int32(), Serdes.string()), "x")).toThrow(/must be a number/);
    expect(parseKey(Stores.keyValue(Serdes.json(), Serdes.string()), '{"a":1}')).toEqual({ a: 1 });
    expect(parseKey(Stores.keyValue(Serdes.json(), Serdes.string()), "plain")).toBe("plain");
  });
});

describe("progress and DescribeConfigs", () => {
  it("renders a bar with rate and ETA", () => {
    expect(renderProgress("replaying", 50, 200, 5, 80)).toMatch(
      /^replaying \[#+-+\] {2}25% 50\/200 10\/s ETA 0:15$/,
    );
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(Infinity)).toBe("--:--");
  });

  it("encodes a DescribeConfigs v1 request and decodes a response", () => {
    const req = encodeDescribeConfigs(7, ["t"], ["cleanup.policy"]);
    expect(req.readInt32BE(0)).toBe(req.length - 4);
    expect(req.readInt16BE(4)).toBe(32);
    expect(req.readInt16BE(6)).toBe(1);
    const s = (x: string) => {
      const b = Buffer.from(x);
      return Buffer.concat([Buffer.from([0, b.length]), b]);
    };
    const i32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const response = Buffer.concat([
      i32(7), i32(0), i32(1),
      Buffer.from([0, 0]), Buffer.from([0xff, 0xff]), Buffer.from([2]), s("t"),
      i32(1), s("cleanup.policy"), s("compact"), Buffer.from([0, 1, 0]), i32(0),
    ]); // prettier-ignore
    expect(decodeDescribeConfigs(response).get("t")?.get("cleanup.policy")).toBe("compact");
  });
});
