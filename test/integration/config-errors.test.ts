/**
 * Configuration that can never work fails fast, once, with exit 2 and a message naming the property — never a
 * retry loop as if Kafka were unreachable (issue 20, case 8). Against the real broker, so that a configuration that
 * slipped through would connect, serve HTTP and join a group (and the test would see it):
 *  - `weir worker --kafka <bad>`: an unknown property (refused when the client is constructed: the Worker
 *    constructor) and unsupported combinations (refused by rd_kafka_new: the CLI's check before its HTTP server);
 *  - the Worker API without the CLI's check: the first connect of the client throws a ConfigError at once;
 *  - `weir state get --url` on a running worker: a missing store (exit 2) vs a missing key (exit 1).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { map } from "rxjs";
import { afterAll, describe, expect, it } from "vitest";
import {
  ConfigError,
  Serdes,
  Stores,
  TopologyBuilder,
  Worker,
  jsonLogger,
  type Topology,
} from "../../topology/index.js";
import { brokers, createTopic, deleteTopic, uniqueName } from "../helpers/kafka.js";
import { runWeir, WorkerProcess } from "../helpers/worker-process.js";

const app = ["--app", "test/apps/count.ts"];

function countTopology(prefix: string): Topology {
  const builder = new TopologyBuilder(`${prefix}-app`);
  builder.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
  builder
    .stream(`${prefix}-input`, { key: Serdes.string(), value: Serdes.string() })
    .process("count", () => map((r) => r), { stores: ["counts"] })
    .to(`${prefix}-counts`, { key: Serdes.string(), value: Serdes.string() });
  return builder.build();
}

describe("weir worker: librdkafka configuration errors exit 2 naming the property, before the HTTP server", () => {
  const prefix = uniqueName("cfg-err");
  const stateDir = mkdtempSync(join(tmpdir(), "weir-cfg-err-"));
  const env = { WEIR_TEST_PREFIX: prefix, KAFKA_BROKERS: brokers() };
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  const worker = async (kafka: string[], args: string[] = []) => {
    const started = Date.now();
    const r = await runWeir(
      [
        "worker",
        ...app,
        "--state-dir",
        stateDir,
        "--http-port",
        "0",
        ...kafka.flatMap((k) => ["--kafka", k]),
        ...args,
      ],
      env,
    );
    return { ...r, ms: Date.now() - started };
  };

  it("an unknown property: exit 2, the property named, once; no HTTP server, no worker start", async () => {
    const r = await worker(["foo.bar=1"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /^weir worker: librdkafka rejects the producer's configuration: No such configuration property: "foo\.bar"\. Caused by the kafka option foo\.bar=1: change or remove it\./m,
    );
    expect(r.stderr.match(/foo\.bar/g)?.length).toBe(2); // said once: the reason and the option
    expect(r.stderr).not.toMatch(/http server listening/);
    expect(r.stderr).not.toMatch(/worker starting/);
  });

  it("an invalid value: names the property the user gave (linger.ms), not only librdkafka's alias", async () => {
    const r = await worker(["linger.ms=soon"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/"queue\.buffering\.max\.ms"\. Caused by the kafka option linger\.ms=soon/);
    expect(r.stderr).not.toMatch(/http server listening/);
  });

  it.each([
    [
      "acks=1",
      /the producer's configuration: `acks` must be set to `all` when `enable\.idempotence` is true\. Caused by the kafka option acks=1 \(weir sets enable\.idempotence=true for its producer\)/,
    ],
    [
      "enable.idempotence=false",
      /the producer's configuration: `transactional\.id` requires `enable\.idempotence=true`\. Caused by the kafka option enable\.idempotence=false \(weir sets transactional\.id=/,
    ],
    [
      "max.poll.interval.ms=1000",
      /the consumer's configuration: `max\.poll\.interval\.ms`must be >= `session\.timeout\.ms`\. Caused by the kafka option max\.poll\.interval\.ms=1000 \(weir sets session\.timeout\.ms=\d+ for its consumer\)/,
    ],
  ])(
    "an unsupported combination (%s): exit 2 naming it within seconds, not a retry loop",
    async (kafka, message) => {
      const r = await worker([kafka]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.ms).toBeLessThan(10_000);
      expect(r.stderr).not.toMatch(/retrying|unreachable/);
      expect(r.stderr).not.toMatch(/http server listening/);
    },
  );

  it.each([
    ["session.timeout.ms=10000", /`session\.timeout\.ms` is not supported for `group\.protocol=consumer`/],
    ["partition.assignment.strategy=range", /use `group\.remote\.assignor` instead/],
  ])(
    "under --group-protocol consumer (KIP-848), a classic-only property (%s): exit 2 within seconds, named",
    async (kafka, message) => {
      const r = await worker([kafka], ["--group-protocol", "consumer"]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain(`Caused by the kafka option ${kafka}`);
      expect(r.ms).toBeLessThan(10_000);
      expect(r.stderr).not.toMatch(/retrying|unreachable|http server listening/);
    },
  );

  it("a worker option of the other protocol: exit 2 naming what to set instead", async () => {
    const r = await worker([], ["--group-protocol", "classic", "--remote-assignor", "range"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/remoteAssignor applies only under groupProtocol consumer/);
    const both = await worker(["group.protocol=consumer"], ["--group-protocol", "classic"]);
    expect(both.code, both.stderr).toBe(2);
    expect(both.stderr).toMatch(/group\.protocol is "consumer": set one of them/);
  });
});

describe("the Worker API: ConfigError from the constructor, or at once from the first connect", () => {
  const prefix = uniqueName("cfg-err-api");
  const topology = countTopology(prefix);
  const stateDir = mkdtempSync(join(tmpdir(), "weir-cfg-err-api-"));
  const topics = [
    `${prefix}-input`,
    `${prefix}-counts`,
    `${prefix}-app-counts-changelog`,
    `${prefix}-app-dlq`,
  ];
  afterAll(async () => {
    rmSync(stateDir, { recursive: true, force: true });
    for (const t of topics) await deleteTopic(t);
  });

  it("new Worker throws a ConfigError for a property librdkafka does not know", () => {
    const create = () => new Worker(topology, { brokers: brokers(), stateDir, kafka: { "foo.bar": "1" } });
    expect(create).toThrow(ConfigError);
    expect(create).toThrow(
      /No such configuration property: "foo\.bar"\. Caused by the kafka option foo\.bar=1/,
    );
    expect(
      () => new Worker(topology, { brokers: brokers(), stateDir, kafka: { "linger.ms": "5" } }),
    ).not.toThrow();
  });

  it("start() rejects with a ConfigError at the producer's first connect, logged as no retry", async () => {
    const lines: string[] = [];
    const worker = new Worker(topology, {
      brokers: brokers(),
      stateDir,
      kafka: { acks: "1" },
      logger: jsonLogger((l) => lines.push(l), "debug"),
    });
    const started = Date.now();
    const err = await worker.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /librdkafka rejects the producer's configuration: `acks` must be set to `all`.*Caused by the kafka option acks=1/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(worker.state).toBe("failed");
    expect(lines.join("")).not.toMatch(/retrying/);
    await expect(worker.done).rejects.toBeInstanceOf(ConfigError);
  });

  it("and at the restore consumer's first connect, after the producer connected", async () => {
    await createTopic(`${prefix}-input`, 2);
    await createTopic(`${prefix}-counts`, 2);
    const lines: string[] = [];
    const worker = new Worker(topology, {
      brokers: brokers(),
      stateDir,
      guarantee: "at_least_once",
      // The producer ignores a consumer property; librdkafka refuses it for a consumer (default session 45 s).
      kafka: { "max.poll.interval.ms": "1000" },
      logger: jsonLogger((l) => lines.push(l), "debug"),
    });
    const err = await worker.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /librdkafka rejects the restore consumer's configuration: `max\.poll\.interval\.ms`must be >= `session\.timeout\.ms`\. Caused by the kafka option max\.poll\.interval\.ms=1000/,
    );
    expect(lines.join("")).toMatch(/producer connected/);
    expect(lines.join("")).not.toMatch(/retrying/);
  });
});

describe("weir state get --url on a running worker: a missing store and a missing key are told apart", () => {
  const prefix = uniqueName("cfg-err-state");
  const env = { WEIR_TEST_PREFIX: prefix };
  const topics = [
    `${prefix}-input`,
    `${prefix}-counts`,
    `${prefix}-app-counts-changelog`,
    `${prefix}-app-dlq`,
  ];
  const worker = new WorkerProcess({ args: app, env });
  afterAll(async () => {
    await worker.stop();
    rmSync(worker.stateDir, { recursive: true, force: true });
    for (const t of topics) await deleteTopic(t);
  });

  it("missing store: exit 2 naming it and the worker's stores; missing key: 'key not found', exit 1", async () => {
    await createTopic(`${prefix}-input`, 2);
    await createTopic(`${prefix}-counts`, 2);
    worker.start();
    await worker.waitReady(90_000);

    const store = await runWeir(["state", "get", "no-such-store", "k", ...app, "--url", worker.url], env);
    expect(store.stderr).toMatch(
      `weir state: no store named 'no-such-store' on the worker at ${worker.url}; its stores: counts`,
    );
    expect(store.stderr).not.toMatch(/key .* not found/);
    expect(store.code).toBe(2);

    const key = await runWeir(["state", "get", "counts", "no-such-key", ...app, "--url", worker.url], env);
    expect(key.stderr).toMatch(/weir state: key "no-such-key" not found in store counts/);
    expect(key.code).toBe(1);
  });
});
