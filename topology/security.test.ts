/**
 * Secret librdkafka properties redacted in one place, and a broker refusing the client's SASL told apart from an
 * unreachable one: what librdkafka logs for it (the lines below are copied from a run against Kafka 4.4, see
 * topology/security.ts), the ConfigError it becomes, and how classify() sees it.
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { classify } from "./failures.js";
import { describeKafkaError } from "./kafka.js";
import {
  REDACTED,
  SECURITY_PROTOCOL_HINT,
  isAuthenticationError,
  isSecretProperty,
  redactConfig,
  redactText,
  saslError,
  saslFailureOf,
  showProperty,
  watchSecurity,
} from "./security.js";

const AUTH_FAIL =
  "[thrd:sasl_plaintext://127.0.0.1:19602/bootstrap]: sasl_plaintext://127.0.0.1:19602/bootstrap: SASL " +
  "authentication error: Authentication failed during authentication due to invalid credentials with SASL " +
  "mechanism SCRAM-SHA-256 (after 311ms in state AUTH_REQ, 1 identical error(s) suppressed)";
const HANDSHAKE_FAIL =
  "[thrd:sasl_plaintext://127.0.0.1:19600/bootstrap]: sasl_plaintext://127.0.0.1:19600/bootstrap: SASL " +
  "SCRAM-SHA-256 mechanism handshake failed: Broker: Request not valid in current SASL state: broker's supported " +
  "mechanisms:  (after 0ms in state AUTH_HANDSHAKE)";
const CLOSED =
  "[thrd:127.0.0.1:19602/bootstrap]: 127.0.0.1:19602/bootstrap: Disconnected: connection closed by peer: receive 0 " +
  "after POLLIN (after 5ms in state UP)";

const SASL = {
  "bootstrap.servers": "127.0.0.1:19602",
  "security.protocol": "SASL_PLAINTEXT",
  "sasl.mechanisms": "SCRAM-SHA-256",
  "sasl.username": "alice",
  "sasl.password": "hunter2-secret",
};

describe("redaction", () => {
  it("knows the secret properties by name, and only those", () => {
    for (const k of [
      "sasl.password",
      "SASL.PASSWORD",
      "ssl.key.password",
      "ssl.key.pem",
      "ssl_key",
      "ssl.keystore.location",
      "ssl.keystore.password",
      "sasl.oauthbearer.config",
      "sasl.oauthbearer.client.secret",
      "sasl.oauthbearer.assertion.private.key.passphrase",
      "sasl.oauthbearer.assertion.private.key.pem",
      "sasl.jaas.config",
    ])
      expect(isSecretProperty(k), k).toBe(true);
    for (const k of [
      "sasl.username",
      "sasl.mechanisms",
      "security.protocol",
      "bootstrap.servers",
      "ssl.ca.location",
      "client.id",
      "debug",
    ])
      expect(isSecretProperty(k), k).toBe(false);
  });

  it("redacts a configuration's secret values and keeps the rest", () => {
    const callback = () => {};
    const redacted = redactConfig({ ...SASL, "ssl.key.pem": "-----BEGIN", rebalance_cb: callback });
    expect(redacted).toEqual({
      ...SASL,
      "sasl.password": REDACTED,
      "ssl.key.pem": REDACTED,
      rebalance_cb: callback,
    });
    expect(JSON.stringify(redacted)).not.toContain("hunter2");
    expect(SASL["sasl.password"]).toBe("hunter2-secret"); // a copy: the original is untouched
  });

  it("shows a property as name=value, a secret as name=[redacted]", () => {
    expect(showProperty("sasl.username", "alice")).toBe("sasl.username=alice");
    expect(showProperty("sasl.password", "hunter2-secret")).toBe(`sasl.password=${REDACTED}`);
  });

  it("removes secret values from text weir did not write, but not short ones", () => {
    expect(redactText("bad value hunter2-secret for x", SASL)).toBe(`bad value ${REDACTED} for x`);
    expect(redactText("user alice", SASL)).toBe("user alice");
    expect(redactText("a b c", { "sasl.password": "b" })).toBe("a b c");
    expect(redactText("anything", undefined)).toBe("anything");
  });
});

describe("SASL failures", () => {
  it("reads librdkafka's log line for refused credentials: the broker and the reason", () => {
    expect(saslFailureOf(AUTH_FAIL)).toEqual({
      kind: "authentication",
      broker: "127.0.0.1:19602",
      reason:
        "SASL authentication error: Authentication failed during authentication due to invalid credentials " +
        "with SASL mechanism SCRAM-SHA-256",
    });
  });

  it("reads the line for a listener that does not offer the mechanism", () => {
    expect(saslFailureOf(HANDSHAKE_FAIL)).toMatchObject({ kind: "mechanism", broker: "127.0.0.1:19600" });
  });

  it("does not take a closed connection or a transport failure for a SASL failure", () => {
    expect(saslFailureOf(CLOSED)).toBeUndefined();
    expect(saslFailureOf("127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed")).toBeUndefined();
  });

  it("becomes a ConfigError naming what failed, the user, the mechanism and the broker, never the password", () => {
    const err = saslError(saslFailureOf(AUTH_FAIL)!, SASL);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(
      /^SASL authentication failed: the broker 127\.0\.0\.1:19602 refused user 'alice'/,
    );
    expect(err.message).toContain("mechanism SCRAM-SHA-256");
    expect(err.message).toContain("sasl.password");
    expect(err.message).not.toContain("hunter2");
    expect(classify(err)).toBe("fatal");

    const handshake = saslError(saslFailureOf(HANDSHAKE_FAIL)!, SASL);
    expect(handshake.message).toMatch(/^SASL handshake failed: the broker 127\.0\.0\.1:19600 does not offer/);
    expect(handshake.message).toContain("PLAINTEXT");
  });

  it("authentication errors are fatal whichever way librdkafka reports them; others are not", () => {
    for (const e of [
      { code: 58, message: "Broker: SASL Authentication failed" },
      { code: -169, message: "Local: Authentication failure" },
      // A connected client's error event.
      { code: -1, message: "authentication failure" },
    ]) {
      expect(isAuthenticationError(e), e.message).toBe(true);
      expect(classify(e), e.message).toBe("fatal");
    }
    const transport = { code: -195, message: "broker transport failure" };
    expect(isAuthenticationError(transport)).toBe(false);
    expect(classify(transport)).toBe("transient");
    expect(isAuthenticationError({ code: -1, message: "all broker connections are down" })).toBe(false);
  });
});

describe("watchSecurity", () => {
  const log = (client: EventEmitter, message: string, fac = "FAIL") =>
    client.emit("event.log", { severity: 3, fac, message });

  it("keeps the last SASL failure a client logged, until stopped", () => {
    const client = new EventEmitter();
    const watch = watchSecurity(client, SASL);
    expect(watch.failure()).toBeUndefined();
    log(client, AUTH_FAIL);
    expect(watch.failure()?.kind).toBe("authentication");
    watch.stop();
    expect(client.listenerCount("event.log")).toBe(0);
  });

  it("hints at a SASL or SSL listener when a plaintext client's connections are closed at once", () => {
    const client = new EventEmitter();
    const watch = watchSecurity(client, { "bootstrap.servers": "127.0.0.1:19602" });
    log(client, CLOSED);
    expect(watch.failure()).toBeUndefined();
    expect(watch.hint()).toBe(SECURITY_PROTOCOL_HINT);
    // The hint travels with librdkafka's error (kafka.ts connect) into every message about it.
    expect(
      describeKafkaError({ code: -195, message: "broker transport failure", hint: watch.hint() }),
    ).toContain("security.protocol");
    // A SASL client's closed connections are not a missing security.protocol.
    const sasl = new EventEmitter();
    const saslWatch = watchSecurity(sasl, SASL);
    log(sasl, CLOSED);
    expect(saslWatch.hint()).toBeUndefined();
  });
});
