/**
 * Reads topic configurations (cleanup.policy, ...) with Kafka's DescribeConfigs request (API key 32, version 1)
 * over a plain TCP connection: the node-rdkafka-style client of @confluentinc/kafka-javascript has no
 * describeConfigs. Best effort: only PLAINTEXT listeners are supported (with SSL/SASL configured the caller gets
 * `undefined` and says the policy could not be read).
 */
import { Socket } from "node:net";

const DESCRIBE_CONFIGS = 32;
const VERSION = 1;
const TOPIC_RESOURCE = 2;

function str(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** The request bytes (size-prefixed): header v1, body v1. */
export function encodeDescribeConfigs(
  correlationId: number,
  topics: string[],
  configNames: string[] | null,
): Buffer {
  const header = Buffer.concat([
    Buffer.from([0, DESCRIBE_CONFIGS, 0, VERSION]),
    int32(correlationId),
    str("weir-cli"),
  ]);
  const resources = topics.map((t) =>
    Buffer.concat([
      Buffer.from([TOPIC_RESOURCE]),
      str(t),
      configNames === null ? int32(-1) : Buffer.concat([int32(configNames.length), ...configNames.map(str)]),
    ]),
  );
  const body = Buffer.concat([int32(resources.length), ...resources, Buffer.from([0])]); // include_synonyms=false
  const payload = Buffer.concat([header, body]);
  return Buffer.concat([int32(payload.length), payload]);
}

class Reader {
  #at = 0;
  constructor(private readonly b: Buffer) {}
  int8(): number {
    return this.b.readInt8(this.#at++);
  }
  int16(): number {
    const v = this.b.readInt16BE(this.#at);
    this.#at += 2;
    return v;
  }
  int32(): number {
    const v = this.b.readInt32BE(this.#at);
    this.#at += 4;
    return v;
  }
  string(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    const v = this.b.toString("utf8", this.#at, this.#at + len);
    this.#at += len;
    return v;
  }
}

/** topic → (config name → value); topics the broker reported an error for are absent. */
export function decodeDescribeConfigs(response: Buffer): Map<string, Map<string, string | null>> {
  const r = new Reader(response);
  r.int32(); // correlation id
  r.int32(); // throttle time
  const out = new Map<string, Map<string, string | null>>();
  for (let n = r.int32(), i = 0; i < n; i++) {
    const error = r.int16();
    r.string(); // error message
    r.int8(); // resource type
    const name = r.string() ?? "";
    const configs = new Map<string, string | null>();
    for (let m = r.int32(), j = 0; j < m; j++) {
      const key = r.string() ?? "";
      const value = r.string();
      r.int8(); // read only
      r.int8(); // config source
      r.int8(); // sensitive
      for (let s = r.int32(), k = 0; k < s; k++) {
        r.string();
        r.string();
        r.int8();
      }
      configs.set(key, value);
    }
    if (error === 0) out.set(name, configs);
  }
  return out;
}

/**
 * The named configs of the topics, from the first reachable bootstrap broker, or undefined when they cannot be
 * read (non-PLAINTEXT security, broker unreachable, timeout).
 */
export async function describeTopicConfigs(
  brokers: string,
  kafka: Record<string, string>,
  topics: string[],
  configNames: string[] | null,
  timeoutMs = 5000,
): Promise<Map<string, Map<string, string | null>> | undefined> {
  const protocol = (kafka["security.protocol"] ?? "plaintext").toLowerCase();
  if (protocol !== "plaintext" || topics.length === 0) return topics.length === 0 ? new Map() : undefined;
  for (const broker of brokers.split(",").map((b) => b.trim().replace(/^[a-z]+:\/\//i, ""))) {
    const i = broker.lastIndexOf(":");
    const host = broker.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(broker.slice(i + 1));
    if (!host || !Number.isInteger(port)) continue;
    try {
      const response = await roundTrip(host, port, encodeDescribeConfigs(1, topics, configNames), timeoutMs);
      return decodeDescribeConfigs(response);
    } catch {
      // try the next bootstrap broker
    }
  }
  return undefined;
}

function roundTrip(host: string, port: number, request: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("timeout"));
    }, timeoutMs);
    const finish = (err: Error | null, value?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    socket.on("error", (err) => finish(err));
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0))
        finish(null, buffered.subarray(4, 4 + buffered.readInt32BE(0)));
    });
    socket.on("close", () => finish(new Error("connection closed")));
    socket.connect(port, host, () => socket.write(request));
  });
}
