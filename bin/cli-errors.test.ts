/**
 * Configuration that can never work, through the real CLI (`node --import tsx bin/weir.ts`), without a broker:
 * out-of-range and negative numeric flags and inverted replay ranges exit 2 with the flag and the range, as does a
 * --kafka property librdkafka refuses in an operator command; `weir state
 * get --url` tells a missing store, a missing key and a server that is not a weir worker apart (against the
 * worker's real HTTP handler, bin/http.ts, over a stand-in worker).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { map } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Serdes, Stores, TopologyBuilder, type WeirMetrics, type Worker } from "../topology/index.js";
import { startHttpServer } from "./http.js";
import { weirOffline } from "../test/helpers/cli.js";

const weir = weirOffline;

describe.concurrent("numeric flags out of range and inverted ranges: exit 2, the flag and its range", () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ["worker", "--http-port", "70000"],
      /^weir worker: --http-port must be an integer between 0 and 65535, got '70000'$/m,
    ],
    [["worker", "--http-port", "-1"], /--http-port must be an integer between 0 and 65535, got '-1'/],
    [
      ["worker", "--task-timeout-ms", "99999999999"],
      /--task-timeout-ms must be an integer between 1 and 86340000/,
    ],
    [
      ["replay", "--topic", "t", "--into", "u", "--from", "100", "--to", "50"],
      /inverted range: --from 100 is after --to 50/,
    ],
    [
      ["replay", "--topic", "t", "--into", "u", "--from", "0:100", "--to", "0:99"],
      /inverted range for partition 0/,
    ],
    [
      ["replay", "--topic", "t", "--into", "u", "--from", "-5"],
      /--from offset must be an integer >= 0, got '-5'/,
    ],
    [
      ["replay", "--topic", "t", "--into", "u", "--to", "-1"],
      /--to offset must be an integer >= 0, got '-1'/,
    ],
    [["replay", "--topic", "t", "--into", "u", "--rate", "-3"], /--rate must be a number >= 0, got '-3'/],
    [
      ["replay", "--topic", "t", "--into", "u", "--batch-size", "0"],
      /--batch-size must be an integer between 1 and/,
    ],
    [
      ["generate", "--orders", "10", "--seed", "-1"],
      /--seed must be an integer between 0 and 4294967295, got '-1'/,
    ],
    [["generate", "--orders", "10", "--scarce", "2"], /--scarce must be a number between 0 and 1, got '2'/],
    [["demo", "--workers", "0"], /--workers must be an integer between 1 and 64, got '0'/],
    [["reset", "--to-datetime", "-5"], /--to-datetime must be an integer between 0 and/],
    [
      ["state", "scan", "counts", "--limit", "-5"],
      /--limit must be an integer between 1 and 1000000, got '-5'/,
    ],
  ];
  it.each(cases)("weir %j", async (args, message) => {
    const r = await weir(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/Unknown option|ambiguous/);
  });
});

describe.concurrent(
  "operator commands: a --kafka property librdkafka refuses is exit 2, before connecting",
  () => {
    it.each([
      [
        ["replay", "--topic", "t", "--into", "u", "--kafka", "foo.bar=1"],
        /kafka option foo\.bar=1 \(No such configuration property: "foo\.bar"\)/,
      ],
      [
        ["topics", "create", "--kafka", "linger.ms=soon"],
        /kafka option linger\.ms=soon \(Invalid value for configuration property/,
      ],
    ])("weir %j", async (args, message) => {
      const r = await weir(args);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/cannot connect/);
      expect(r.code).toBe(2);
    });
  },
);

describe("weir state get/scan --url: a missing store, a missing key and not a weir worker are told apart", () => {
  const builder = new TopologyBuilder("state-404-app");
  builder.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
  builder.store("totals", Stores.keyValue(Serdes.string(), Serdes.number()));
  builder
    .stream("state-404-in", { key: Serdes.string(), value: Serdes.string() })
    .process("count", () => map((r) => r), { stores: ["counts", "totals"] })
    .to("state-404-out", { key: Serdes.string(), value: Serdes.string() });
  const topology = builder.build();
  // The worker's real HTTP handler over a stand-in worker that holds counts: {alpha: 4}.
  const worker = {
    topology,
    options: { workerId: "stand-in" },
    advertisedUrl: undefined,
    queryStore: (_store: string, key: unknown) =>
      key === "alpha"
        ? { found: true, value: 4, partition: 0, local: true }
        : { found: false, partition: 1, local: true },
    scanStore: function* () {
      yield { key: "alpha", value: 4, partition: 0 };
    },
  } as unknown as Worker;
  let weirUrl = "";
  let weirServer: Server | undefined;
  let otherUrl = "";
  const other = createServer((_req, res) => {
    res.writeHead(404, { "content-type": "text/html" });
    res.end("<h1>Not Found</h1>");
  });

  beforeAll(async () => {
    const http = await startHttpServer({ worker, metrics: {} as WeirMetrics, host: "127.0.0.1", port: 0 });
    weirServer = http.server;
    weirUrl = http.url;
    await new Promise<void>((res) => other.listen(0, "127.0.0.1", () => res()));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    weirServer?.close();
    other.close();
  });

  it("a key that is there: its value, exit 0", async () => {
    const r = await weir(["state", "get", "counts", "alpha", "--url", weirUrl]);
    expect(r.stdout.trim()).toBe("4");
    expect(r.code).toBe(0);
  });

  it("a key that is not there: 'key not found', exit 1", async () => {
    const r = await weir(["state", "get", "counts", "zeta", "--url", weirUrl]);
    expect(r.stderr).toMatch(/key "zeta" not found in store counts/);
    expect(r.code).toBe(1);
  });

  it("a store the worker does not have: named, with the stores it has, exit 2 (as offline)", async () => {
    for (const args of [
      ["state", "get", "nope", "alpha", "--url", weirUrl],
      ["state", "scan", "nope", "--url", weirUrl],
    ]) {
      const r = await weir(args);
      expect(r.stderr).toMatch(
        new RegExp(
          `no store named 'nope' on the worker at ${weirUrl.replace(/\./g, "\\.")}; its stores: counts, totals`,
        ),
      );
      expect(r.stderr).not.toMatch(/key .* not found/);
      expect(r.code).toBe(2);
    }
  });

  it("a 404 from a server that is not a weir worker: says so, exit 1", async () => {
    for (const args of [
      ["state", "get", "counts", "alpha", "--url", otherUrl],
      ["state", "scan", "counts", "--url", otherUrl],
    ]) {
      const r = await weir(args);
      expect(r.stderr).toMatch(/answered 404 Not Found to GET \/state\/counts.*not as a weir worker does/);
      expect(r.stderr).not.toMatch(/not found in store/);
      expect(r.code).toBe(1);
    }
  });

  it("a weir worker's address with a path after it: says to drop the path, exit 1", async () => {
    const r = await weir(["state", "get", "counts", "alpha", "--url", `${weirUrl}/api`]);
    expect(r.stderr).toMatch(/with a path after it: give --url as http:\/\/<host>:<port> only/);
    expect(r.code).toBe(1);
  });
});
