/**
 * Security plumbing shared by the worker and the CLI: secret librdkafka properties kept out of logs and messages
 * (one redaction), and a broker refusing the client's SASL turned into a fatal, clear error instead of a broker
 * that merely seems unreachable.
 *
 * What librdkafka reports (observed with @confluentinc/kafka-javascript 1.10.1, librdkafka 2.15.1, against Kafka 4.4
 * with a SASL_PLAINTEXT/SCRAM-SHA-256 listener; test/integration/sasl.test.ts):
 *  - a wrong password or an unknown user: the broker answers SASL_AUTHENTICATION_FAILED (58) and closes the
 *    connection; librdkafka logs, at severity 3 with facility FAIL, "<broker>: SASL authentication error:
 *    Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256
 *    (after 307ms in state AUTH_REQ)" and reconnects with back-off. A connect() waiting for metadata fails only at
 *    its timeout, with ERR__TRANSPORT (-195) "broker transport failure": the reason is only in that log line (the
 *    error event, ERR__AUTHENTICATION -169, reaches the application only once the client is polled: a connected
 *    client's `event.error` says code -1, "authentication failure").
 *  - SASL against a PLAINTEXT listener: "<broker>: SASL SCRAM-SHA-256 mechanism handshake failed: Broker: Request not
 *    valid in current SASL state: broker's supported mechanisms:  (after 0ms in state AUTH_HANDSHAKE)".
 *  - no SASL against a SASL listener: the broker closes the connection at the first request other than ApiVersions:
 *    "<broker>: Disconnected: connection closed by peer: receive 0 after POLLIN (after 5ms in state UP)" — which a
 *    broker going down says too, so that stays a passing fault, with a hint.
 * No retry heals the first two (Kafka's own clients throw a non-retriable SaslAuthenticationException): a
 * ConfigError, which the worker never retries and the CLI reports with exit 2.
 */
import { ConfigError } from "./errors.js";

/** What a redacted value is shown as. */
export const REDACTED = "[redacted]";

/**
 * Parts of librdkafka property names whose values are secrets: passwords and passphrases, client secrets, private
 * keys and keystores, JAAS and OAUTHBEARER configurations (which hold credentials), tokens.
 */
const SECRET_NAME =
  /password|passphrase|secret|private\.key|ssl\.key|ssl_key|ssl\.keystore|sasl\.jaas\.config|sasl\.oauthbearer\.config|token|credential/i;

/** Whether a librdkafka property's value is a secret that must never be logged or printed. */
export function isSecretProperty(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * A copy of `config` with the value of every secret property ({@link isSecretProperty}) replaced by
 * {@link REDACTED}; anything else (callbacks included) as it was.
 */
export function redactConfig<V>(config: Readonly<Record<string, V>>): Record<string, V | typeof REDACTED> {
  const out: Record<string, V | typeof REDACTED> = {};
  for (const [k, v] of Object.entries(config)) out[k] = isSecretProperty(k) ? REDACTED : v;
  return out;
}

/** `name=value` for messages, the value redacted when the property is a secret. */
export function showProperty(name: string, value: unknown): string {
  return `${name}=${isSecretProperty(name) ? REDACTED : String(value)}`;
}

/**
 * `text` with every occurrence of a secret value of `config` replaced by {@link REDACTED}: for text weir does not
 * write itself (librdkafka's log and error messages), which should never hold a secret but is not weir's to vouch
 * for. Values shorter than 4 characters are left alone (they would redact ordinary words).
 */
export function redactText(text: string, config: Readonly<Record<string, unknown>> | undefined): string {
  if (!config) return text;
  let out = text;
  for (const [k, v] of Object.entries(config))
    if (isSecretProperty(k) && typeof v === "string" && v.length >= 4) out = out.split(v).join(REDACTED);
  return out;
}

/** A broker refused the client's SASL: its address, what librdkafka said, and which step failed. */
export interface SaslFailure {
  /** `authentication`: the credentials were refused; `mechanism`: the listener does not offer the mechanism. */
  readonly kind: "authentication" | "mechanism";
  /** The broker's address, host:port, as librdkafka names it. */
  readonly broker: string;
  /** librdkafka's reason, without the broker prefix and the timing suffix. */
  readonly reason: string;
}

const AUTHENTICATION_FAILED = /SASL authentication (error|failed)|Authentication failed/i;
const HANDSHAKE_FAILED = /SASL .*mechanism handshake failed|SASL mechanism .* not supported/i;
const CLOSED_BY_PEER = /connection closed by peer/i;

/** `sasl_plaintext://127.0.0.1:9094/bootstrap: reason (after 307ms in state AUTH_REQ)` → broker and reason. */
function splitBrokerMessage(message: string): { broker: string; reason: string } {
  const m = /^(?:([a-z_]+):\/\/)?([^\s/]+)\/[^:\s]*:\s*(.*)$/i.exec(message);
  const broker = m?.[2] ?? "?";
  const reason = (m?.[3] ?? message).replace(/\s*\(after \d+ms in state .*\)\s*$/, "").trim();
  return { broker, reason };
}

/**
 * The SASL failure a librdkafka log line reports, or undefined. `message` is the log event's message, e.g.
 * `[thrd:sasl_plaintext://127.0.0.1:9094/bootstrap]: sasl_plaintext://127.0.0.1:9094/bootstrap: SASL authentication
 * error: ...`.
 */
export function saslFailureOf(message: string): SaslFailure | undefined {
  const text = message.replace(/^\[thrd:[^\]]*\]:\s*/, "");
  const kind = HANDSHAKE_FAILED.test(text)
    ? "mechanism"
    : AUTHENTICATION_FAILED.test(text)
      ? "authentication"
      : undefined;
  return kind === undefined ? undefined : { kind, ...splitBrokerMessage(text) };
}

/**
 * Whether an error a client emitted (`event.error`) or returned says the broker refused its authentication:
 * SASL_AUTHENTICATION_FAILED (58), librdkafka's ERR__AUTHENTICATION (-169), or — as a connected client's error event
 * reports it — code -1 with "authentication failure".
 */
export function isAuthenticationError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (!e || typeof e !== "object") return false;
  if (e.code === 58 || e.code === -169) return true;
  return typeof e.message === "string" && /authentication fail/i.test(e.message);
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/**
 * The ConfigError for a broker that refused the client's SASL: what failed (authentication or the mechanism
 * handshake), the mechanism, the user, the broker, librdkafka's reason, and what to check. `config` is the client's
 * librdkafka configuration (only its non-secret SASL settings are named).
 */
export function saslError(failure: SaslFailure, config: Readonly<Record<string, unknown>> = {}): ConfigError {
  const mechanism = text(config["sasl.mechanisms"]) ?? text(config["sasl.mechanism"]) ?? "GSSAPI";
  const user = text(config["sasl.username"]);
  const protocol = text(config["security.protocol"]) ?? "plaintext";
  const reason = redactText(failure.reason, config).replace(/[\s.]+$/, "");
  const message =
    failure.kind === "authentication"
      ? `SASL authentication failed: the broker ${failure.broker} refused ${user !== undefined ? `user '${user}'` : "the client"} ` +
        `with mechanism ${mechanism} (${reason}). Check sasl.username and sasl.password (--kafka KEY=VALUE, or ` +
        `WEIR_KAFKA_SASL_USERNAME / WEIR_KAFKA_SASL_PASSWORD), sasl.mechanisms, and that the user exists on the ` +
        `cluster with that mechanism (kafka-configs --describe --entity-type users). No retry can fix this.`
      : `SASL handshake failed: the broker ${failure.broker} does not offer mechanism ${mechanism} on that port ` +
        `(${reason}). Check that the address is the broker's SASL listener and not a PLAINTEXT one ` +
        `(security.protocol is ${protocol}), and sasl.mechanisms. No retry can fix this.`;
  return new ConfigError(message, {
    cause: { code: failure.kind === "authentication" ? -169 : 33, message: reason },
  });
}

/** What to check when a plaintext client's connections are closed by the broker at once. */
export const SECURITY_PROTOCOL_HINT =
  "the broker closed every connection right after it opened: if that address is a SASL or SSL listener, set " +
  "security.protocol (e.g. WEIR_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT) and the sasl.* properties";

/** What {@link watchSecurity} saw while it watched a client. */
export interface SecurityWatch {
  /** The last SASL failure logged, if any. */
  failure(): SaslFailure | undefined;
  /** A hint when the broker closed a plaintext client's connections at once (a SASL or SSL listener?). */
  hint(): string | undefined;
  /** Stops watching. */
  stop(): void;
}

interface LogEvent {
  severity?: number;
  fac?: string;
  message?: string;
}

/**
 * Watches a client's librdkafka log (`event.log`, which librdkafka delivers even while connect() waits, unlike its
 * error events) for a broker refusing its SASL, or closing a plaintext client's connections at once. `config` is
 * the client's configuration: only whether it uses SASL is read.
 */
export function watchSecurity(
  client: { on(event: "event.log", fn: (e: LogEvent) => void): unknown },
  config: Readonly<Record<string, unknown>> = {},
): SecurityWatch {
  let failure: SaslFailure | undefined;
  let closed = false;
  const plaintext = !/^sasl|^ssl/i.test(text(config["security.protocol"]) ?? "plaintext");
  const onLog = (e: LogEvent) => {
    const message = e.message ?? "";
    if (e.fac !== "FAIL" && !/SASL/.test(message)) return;
    failure = saslFailureOf(message) ?? failure;
    if (plaintext && CLOSED_BY_PEER.test(message) && /in state (UP|APIVERSION_QUERY)/.test(message))
      closed = true;
  };
  client.on("event.log", onLog);
  const emitter = client as unknown as { removeListener?(event: string, fn: (e: LogEvent) => void): unknown };
  return {
    failure: () => failure,
    hint: () => (closed && failure === undefined ? SECURITY_PROTOCOL_HINT : undefined),
    stop: () => emitter.removeListener?.("event.log", onLog),
  };
}
