import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import type { WeirMetrics, Worker } from "../topology/index.js";
import { UsageError } from "./args.js";
import { parseKey } from "./state.js";

/**
 * The worker's HTTP endpoints:
 *   /metrics                  Prometheus exposition
 *   /healthz                  liveness: 200 unless the worker failed, stopped, or its loop is wedged (a restart heals
 *                             that); a broker outage or a missing topic is not a liveness failure
 *   /readyz                   readiness: 200 while tasks are restored, running and progressing; 503 with the problems
 *                             (rebalancing, brokers-unreachable, topic-missing, commits-failing, commit-undecided, stalled, split-assignment) in the body
 *   /tasks                    the tasks this worker runs (JSON)
 *   /state/<store>/<key>      a key-value store entry (interactive query) from any worker: answered here when this
 *                             worker holds the key's partition, else forwarded to the worker that does (found through
 *                             the group's assignment and the members topic; `answeredBy`, `forwardedBy`); 404 if
 *                             absent; 503 with Retry-After while the group moves the partition; a window or session
 *                             store's entries of the key with `?from=&to=`; `?stale=ok` from a standby kept here
 *   /state/<store>?prefix=&limit=   a scan of the local partitions of a store
 *
 * With a `token`, `/state/...` requires `Authorization: Bearer <token>` (401 otherwise), and a forwarded query sends
 * it on: the workers of an application share one token. Health, readiness, /tasks and /metrics stay open (probes and
 * Prometheus scrapes carry no token). With `stateApi: "off"` there are no `/state` endpoints (404 saying so).
 */
export async function startHttpServer(options: {
  worker: Worker;
  metrics: WeirMetrics;
  host: string;
  port: number;
  /** Required as a bearer token on `/state/...` when set. */
  token?: string;
  /** "off": no `/state` endpoints. Default "on". */
  stateApi?: "on" | "off";
}): Promise<{ server: Server; url: string }> {
  const { worker, metrics, token } = options;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(
        JSON.stringify(body, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("base64") : v)) + "\n",
      );
    };
    void (async () => {
      try {
        if (url.pathname === "/metrics") {
          worker.refreshLagMetrics();
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(await metrics.registry.metrics());
        } else if (url.pathname === "/healthz") {
          const ok = worker.live;
          json(ok ? 200 : 503, { status: ok ? "ok" : worker.state === "running" ? "wedged" : worker.state });
        } else if (url.pathname === "/readyz") {
          json(worker.ready ? 200 : 503, {
            ready: worker.ready,
            state: worker.state,
            tasks: worker.tasks().length,
            problems: worker.problems(),
          });
        } else if (url.pathname === "/tasks") {
          json(200, worker.tasks());
        } else if (url.pathname === "/state" || url.pathname.startsWith("/state/")) {
          if (options.stateApi === "off")
            return json(404, {
              error: "the /state endpoints (interactive queries) are off on this worker (--state-api off)",
            });
          if (token !== undefined && !authorized(req, token)) {
            res.setHeader(
              "www-authenticate",
              req.headers.authorization === undefined
                ? 'Bearer realm="weir"'
                : 'Bearer realm="weir", error="invalid_token"',
            );
            return json(401, {
              error:
                "/state needs 'Authorization: Bearer <token>': the worker's --http-token (weir state get --url: --http-token or WEIR_HTTP_TOKEN)",
            });
          }
          if (url.pathname === "/state")
            return json(400, { error: "usage: /state/<store>/<key> or /state/<store>?prefix=P&limit=N" });
          const [store, ...rest] = url.pathname.slice("/state/".length).split("/").map(decodeURIComponent);
          if (!store)
            return json(400, { error: "usage: /state/<store>/<key> or /state/<store>?prefix=P&limit=N" });
          const def = worker.topology.stores.get(store);
          if (!def)
            return json(404, {
              error: `no store named '${store}'`,
              stores: [...worker.topology.stores.keys()],
            });
          if (rest.length > 0) {
            const text = rest.join("/");
            const range = def.kind === "window" ? timeRange(url.searchParams) : undefined;
            const result = range
              ? worker.queryWindowStore(store, parseKey(def, text), range.from, range.to)
              : worker.queryStore(store, parseKey(def, text));
            const answeredBy = { workerId: worker.options.workerId, url: worker.advertisedUrl };
            if (result.local)
              return json("found" in result && !result.found ? 404 : 200, {
                store,
                key: text,
                ...result,
                answeredBy,
              });
            // Routed interactive queries: the key's partition is another worker's. A forwarded request is answered
            // here or not at all (the assignment moved between the two lookups): never forwarded twice.
            const retry = (reason: string) => {
              res.setHeader("retry-after", "1");
              json(503, { store, key: text, partition: result.partition, error: reason });
            };
            // A stale read (`?stale=ok`): from the standby this worker keeps of the partition, when it keeps one.
            if (!range && url.searchParams.get("stale") === "ok") {
              const stale = worker.queryStandby(store, parseKey(def, text));
              if (stale)
                return json(stale.found ? 200 : 404, {
                  store,
                  key: text,
                  ...stale,
                  local: false,
                  stale: true,
                  answeredBy,
                });
            }
            if (url.searchParams.has("forwarded"))
              return retry(
                `partition ${result.partition} is not on this worker any more (the group is moving it)`,
              );
            const owner = await worker.ownerOf(store, result.partition);
            if (owner.kind !== "owner") return retry(owner.reason);
            const target = new URL(`${owner.url.replace(/\/$/, "")}${url.pathname}`);
            for (const [k, v] of url.searchParams) target.searchParams.set(k, v);
            target.searchParams.set("forwarded", worker.options.workerId);
            const answer = await fetch(target, {
              signal: AbortSignal.timeout(10_000),
              // The workers of an application share the token: the worker asked passes it on.
              ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
            }).catch((err: unknown) => err as Error);
            if (answer instanceof Error)
              return retry(`worker ${owner.workerId} at ${owner.url} did not answer: ${answer.message}`);
            const body = (await answer.json().catch(() => ({}))) as Record<string, unknown>;
            const after = answer.headers.get("retry-after");
            if (after) res.setHeader("retry-after", after);
            return json(answer.status, { ...body, forwardedBy: answeredBy });
          }
          const prefixText = url.searchParams.get("prefix");
          const prefix = prefixText === null ? undefined : parseKey(def, prefixText);
          const limit = Number(url.searchParams.get("limit") ?? 100);
          json(200, { store, entries: [...worker.scanStore(store, prefix, limit)] });
        } else {
          json(404, {
            error: "not found",
            endpoints: ["/metrics", "/healthz", "/readyz", "/tasks", "/state/<store>/<key>"],
          });
        }
      } catch (err) {
        json(err instanceof UsageError ? 400 : 500, {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    })();
  });
  return listen(server, options.host, options.port);
}

/** Whether the request carries `Authorization: Bearer <token>`, compared in constant time. */
/** Listen on `host:port` (port 0: any free one); resolves with the server and its URL once it listens. */
export async function listen(
  server: Server,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host.includes(":") ? `[${host}]` : host}:${address.port}` };
}

export function authorized(req: Pick<IncomingMessage, "headers">, token: string): boolean {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  if (!match) return false;
  // Digests of equal length: timingSafeEqual needs that, and the token's length does not leak either.
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * A window store query's time range: `?from=&to=` as epoch milliseconds or ISO dates, both inclusive (default: the
 * last hour up to now). Bad values are a 400.
 */
function timeRange(params: URLSearchParams): { from: number; to: number } {
  const parse = (name: string, fallback: number): number => {
    const text = params.get(name);
    if (text === null || text === "") return fallback;
    const n = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(n))
      throw new UsageError(`${name} must be epoch milliseconds or an ISO date, got '${text}'`);
    return n;
  };
  const to = parse("to", Date.now());
  const from = parse("from", to - 3_600_000);
  if (from > to) throw new UsageError(`from (${from}) is after to (${to})`);
  return { from, to };
}

/** The server's URL as other machines reach it: a wildcard bind address is replaced by the host name. */
export function reachableUrl(url: string, host: string): string {
  if (host !== "0.0.0.0" && host !== "::" && host !== "[::]") return url;
  const u = new URL(url);
  u.hostname = hostname();
  return u.toString().replace(/\/$/, "");
}
