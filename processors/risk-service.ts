/**
 * The risk service the order pipeline calls (processors/app.ts, `risk-check`): a real HTTP server on loopback, for
 * the demo and the tests. `GET /risk?customer=<id>&amount=<decimal total>` answers `{ "score": <0..0.99> }`
 * (processors/risk.ts: the same pure rule the verifier applies), after a random latency in `latencyMs`, or 503 with
 * probability `failureRate` (the pipeline retries those). A request without a customer or a numeric amount is a
 * 400, which the pipeline also retries and then dead-letters: it never happens for a validated order.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { toCents } from "./orders.js";
import { riskScore } from "./risk.js";

export interface RiskServiceOptions {
  /** TCP port; 0 (default): any free port. */
  port?: number;
  /** The address to listen on. @default "127.0.0.1" (0.0.0.0 in a container, for workers in other containers) */
  host?: string;
  /** Each answer waits a uniformly random time in [min, max] ms. @default [1, 20] */
  latencyMs?: readonly [number, number];
  /** Share of requests (0..1) answered 503 instead of a score. @default 0.01 */
  failureRate?: number;
}

export interface RiskServiceStats {
  /** Requests received (every attempt of the pipeline's retries counts). */
  calls: number;
  /** Requests answered 503 on purpose (failureRate). */
  failures: number;
  /** Requests answered 400 (a missing customer or amount). */
  badRequests: number;
}

export interface RiskService {
  /** Base URL, e.g. http://127.0.0.1:40123 (the pipeline calls `${url}/risk?...`). */
  readonly url: string;
  stats(): RiskServiceStats;
  close(): Promise<void>;
}

export async function startRiskService(options: RiskServiceOptions = {}): Promise<RiskService> {
  const [minMs, maxMs] = options.latencyMs ?? [1, 20];
  const failureRate = options.failureRate ?? 0.01;
  if (!(Number.isFinite(minMs) && Number.isFinite(maxMs) && minMs >= 0 && maxMs >= minMs))
    throw new RangeError(`latencyMs must be [min, max] with 0 <= min <= max, got [${minMs}, ${maxMs}]`);
  if (!(failureRate >= 0 && failureRate <= 1))
    throw new RangeError(`failureRate must be in [0, 1], got ${failureRate}`);
  const stats: RiskServiceStats = { calls: 0, failures: 0, badRequests: 0 };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" || url.pathname !== "/risk") {
      res.writeHead(404).end();
      return;
    }
    stats.calls++;
    const latency = minMs + Math.random() * (maxMs - minMs);
    setTimeout(() => {
      if (Math.random() < failureRate) {
        stats.failures++;
        res.writeHead(503, { "content-type": "text/plain" }).end("risk service unavailable (simulated)\n");
        return;
      }
      const customer = url.searchParams.get("customer");
      const amount = Number(url.searchParams.get("amount") ?? NaN);
      if (!customer || !Number.isFinite(amount)) {
        stats.badRequests++;
        res
          .writeHead(400, { "content-type": "text/plain" })
          .end("customer and a numeric amount are required\n");
        return;
      }
      const score = riskScore({ customerId: customer, totalCents: toCents(amount) });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ score }));
    }, latency);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host === undefined || options.host === "0.0.0.0" ? "127.0.0.1" : options.host;
  return {
    url: `http://${host}:${port}`,
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
