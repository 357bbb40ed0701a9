/**
 * The consumer configuration per group protocol: what weir sets under classic and under KIP-848's consumer
 * protocol, and the settings each protocol refuses, refused before any client exists.
 */
import { describe, expect, it } from "vitest";
import { TopologyBuilder } from "../builder.js";
import { ConfigError } from "../errors.js";
import { silentLogger } from "../log.js";
import { compileWorkerOptions, type WorkerOptions } from "../options.js";
import { Serdes } from "../serdes.js";
import { saslError, saslFailureOf } from "../security.js";
import { checkClientConfigs, consumerConfig, retry } from "./clients.js";

const serdes = { key: Serdes.string(), value: Serdes.string() };

function topology(join: boolean) {
  const b = new TopologyBuilder("app");
  const s = b.stream("a", serdes);
  (join ? s.merge("both", b.stream("b", serdes)) : s).to("out", serdes);
  return b.build();
}

function config(join: boolean, o: Partial<WorkerOptions>) {
  const t = topology(join);
  const options = compileWorkerOptions(t, { brokers: "x:1", stateDir: "/tmp/unused", workerId: "w", ...o });
  return consumerConfig({ topology: t, options, log: silentLogger, metrics: undefined }, () => {});
}

describe("consumer configuration by group protocol", () => {
  it("classic: the client-side assignor, the session timeout and a heartbeat at a fifth of it; no group.protocol", () => {
    const c = config(true, { sessionTimeoutMs: 6000 });
    expect(c["partition.assignment.strategy"]).toBe("range");
    expect(c["session.timeout.ms"]).toBe(6000);
    expect(c["heartbeat.interval.ms"]).toBe(1200);
    expect(c["group.protocol"]).toBeUndefined();
    expect(c["group.remote.assignor"]).toBeUndefined();
    expect(config(false, {})["partition.assignment.strategy"]).toBe("cooperative-sticky");
  });

  it("consumer: the protocol and the broker-side assignor only (range for a join, the broker's own otherwise)", () => {
    const joined = config(true, { groupProtocol: "consumer" });
    expect(joined["group.protocol"]).toBe("consumer");
    expect(joined["group.remote.assignor"]).toBe("range");
    for (const refused of ["partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms"])
      expect(joined[refused]).toBeUndefined();
    expect(config(false, { groupProtocol: "consumer" })["group.remote.assignor"]).toBeUndefined();
    expect(
      config(true, { groupProtocol: "consumer", remoteAssignor: "uniform" })["group.remote.assignor"],
    ).toBe("uniform");
  });

  it("static membership: opt-in; group.instance.id is <app>-<worker id> when on, the Kafka property's if given", () => {
    // Off by default: librdkafka makes a static member's fencing after a long broker outage fatal.
    expect(config(false, {})["group.instance.id"]).toBeUndefined();
    expect(config(false, { staticMembership: true })["group.instance.id"]).toBe("app-w");
    expect(config(false, { groupProtocol: "consumer" })["group.instance.id"]).toBeUndefined();
    expect(config(false, { groupProtocol: "consumer", staticMembership: true })["group.instance.id"]).toBe(
      "app-w",
    );
    expect(config(false, { kafka: { "group.instance.id": "mine" } })["group.instance.id"]).toBe("mine");
  });

  it("the librdkafka property group.protocol selects the protocol as the option does", () => {
    const c = config(true, { kafka: { "group.protocol": "consumer" } });
    expect(c["group.protocol"]).toBe("consumer");
    expect(c["session.timeout.ms"]).toBeUndefined();
  });

  it("settings of the other protocol, and two answers for one, are ConfigErrors naming what to do", () => {
    const t = topology(true);
    const compile = (o: Partial<WorkerOptions>) =>
      compileWorkerOptions(t, { brokers: "x:1", stateDir: "/tmp/unused", workerId: "w", ...o });
    expect(() => compile({ groupProtocol: "consumer", sessionTimeoutMs: 10_000 })).toThrow(
      /sessionTimeoutMs does not apply .* group\.consumer\.session\.timeout\.ms/,
    );
    expect(() => compile({ groupProtocol: "consumer", assignor: "range" })).toThrow(/use remoteAssignor/);
    expect(() => compile({ remoteAssignor: "range" })).toThrow(ConfigError);
    expect(() => compile({ groupProtocol: "classic", kafka: { "group.protocol": "consumer" } })).toThrow(
      /set one of them/,
    );
    expect(() => compile({ groupProtocol: "eager" as never })).toThrow(/must be "classic" or "consumer"/);
  });
});

describe("retry while the broker is unreachable", () => {
  it("logs each attempt, says once what to check, and returns what the call finally answers", async () => {
    const t = topology(false);
    const options = compileWorkerOptions(t, { brokers: "nowhere:9", stateDir: "/tmp/unused", workerId: "w" });
    const lines: Array<{ msg: string; fields: Record<string, unknown> | undefined }> = [];
    const log = {
      ...silentLogger,
      warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }),
    };
    let calls = 0;
    const transport = Object.assign(new Error("broker transport failure"), { code: -195 });
    const result = await retry(
      { topology: t, options, log, metrics: undefined, stopRequested: () => false },
      "metadata",
      async () => {
        if (++calls < 3) throw transport;
        return "answered";
      },
    );
    expect(result).toBe("answered");
    expect(lines.map((l) => l.msg)).toEqual([
      "metadata failed; Kafka at nowhere:9 unreachable? retrying",
      "metadata failed; Kafka at nowhere:9 unreachable? retrying",
    ]);
    expect(lines[0]!.fields?.hint).toMatch(/not ready.*--brokers \/ KAFKA_BROKERS/);
    expect(lines[1]!.fields?.hint).toBeUndefined();
  });
});

describe("secrets and authentication", () => {
  const ctx = (kafka: Record<string, string>) => {
    const t = topology(false);
    const options = compileWorkerOptions(t, {
      brokers: "x:1",
      stateDir: "/tmp/unused",
      workerId: "w",
      kafka,
    });
    return { topology: t, options, log: silentLogger, metrics: undefined, stopRequested: () => false };
  };

  it("a configuration librdkafka rejects is named without the secret values in it", async () => {
    const kafka = {
      "security.protocol": "SSL",
      "ssl.key.pem": "not-a-pem-hunter2",
      "ssl.key.password": "hunter2-secret",
    };
    const err = await checkClientConfigs(ctx(kafka)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain("ssl.key.pem=[redacted]");
    expect(message).not.toContain("hunter2");
  });

  it("a broker refusing the client's SASL is not retried", async () => {
    const lines: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => lines.push(msg) };
    const refused = saslError(
      saslFailureOf(
        "sasl_plaintext://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed (after 3ms in state AUTH_REQ)",
      )!,
      { "sasl.username": "alice" },
    );
    let calls = 0;
    await expect(
      retry({ ...ctx({}), log }, "connect producer", async () => {
        calls++;
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(lines).toEqual([]);
  });
});
