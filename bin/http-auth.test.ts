/**
 * The worker's HTTP server as an operator protects it, without a broker (the real handler, bin/http.ts, over
 * stand-in workers): it binds 127.0.0.1 unless told otherwise; with --http-token, /state needs the bearer token (401
 * with WWW-Authenticate otherwise) while /healthz, /readyz and /metrics stay open; a query forwarded to the worker
 * holding the key carries the token; `weir state get --url` sends it (flag or WEIR_HTTP_TOKEN) and says what is
 * wrong without it; --state-api off removes /state. The token is refused in config when it cannot be a header value.
 */
import type { Server } from "node:http";
import { map } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Serdes,
  Stores,
  TopologyBuilder,
  createMetrics,
  type PartitionOwner,
  type Worker,
} from "../topology/index.js";
import { UsageError } from "./args.js";
import { loadConfig } from "./config.js";
import { authorized, startHttpServer } from "./http.js";
import { weirOffline } from "../test/helpers/cli.js";

const TOKEN = "s3cret-Token_42";

const builder = new TopologyBuilder("auth-app");
builder.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
builder
  .stream("in", { key: Serdes.string(), value: Serdes.string() })
  .process("count", () => map((r) => r), { stores: ["counts"] })
  .to("out", { key: Serdes.string(), value: Serdes.string() });
const topology = builder.build();

/** A stand-in worker holding {alpha: 4} locally; any other key is on `owner` (when given). */
function standIn(id: string, owner?: () => PartitionOwner): Worker {
  return {
    topology,
    options: { workerId: id },
    advertisedUrl: undefined,
    live: true,
    ready: true,
    state: "running",
    tasks: () => [],
    problems: () => [],
    refreshLagMetrics: () => {},
    queryStore: (_store: string, key: unknown) =>
      key === "alpha"
        ? { found: true, value: 4, partition: 0, local: true }
        : owner
          ? { found: false, partition: 1, local: false }
          : { found: false, partition: 1, local: true },
    ownerOf: () => Promise.resolve(owner!()),
    scanStore: function* () {
      yield { key: "alpha", value: 4, partition: 0 };
    },
  } as unknown as Worker;
}

const servers: Server[] = [];
async function serve(worker: Worker, options: { token?: string; stateApi?: "on" | "off" } = {}) {
  const http = await startHttpServer({
    worker,
    metrics: createMetrics(),
    host: "127.0.0.1",
    port: 0,
    ...options,
  });
  servers.push(http.server);
  return http.url;
}
afterAll(() => servers.forEach((s) => s.close()));

const get = (url: string, token?: string) =>
  fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

describe("the HTTP server's address", () => {
  it("binds 127.0.0.1 by default; --http-host, WEIR_HTTP_HOST and the config file change it", () => {
    expect(loadConfig({}, {}).httpHost).toBe("127.0.0.1");
    expect(loadConfig({ "http-host": "0.0.0.0" }, {}).httpHost).toBe("0.0.0.0");
    expect(loadConfig({}, { WEIR_HTTP_HOST: "::1" }).httpHost).toBe("::1");
  });
});

describe("--http-token and --state-api in the configuration", () => {
  it("come from the flag, the environment or the config file; unset means no token and /state on", () => {
    expect(loadConfig({}, {})).toMatchObject({ httpToken: undefined, stateApi: "on" });
    expect(loadConfig({ "http-token": TOKEN }, {}).httpToken).toBe(TOKEN);
    expect(loadConfig({}, { WEIR_HTTP_TOKEN: TOKEN, WEIR_STATE_API: "off" })).toMatchObject({
      httpToken: TOKEN,
      stateApi: "off",
    });
  });

  it("a token that cannot be a header value is refused without repeating it", () => {
    const bad = "has a space";
    expect(() => loadConfig({ "http-token": bad }, {})).toThrow(UsageError);
    expect(() => loadConfig({ "http-token": bad }, {})).toThrow(/printable ASCII without spaces/);
    let message = "";
    try {
      loadConfig({}, { WEIR_HTTP_TOKEN: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/--http-token \(WEIR_HTTP_TOKEN\) must be printable ASCII/);
    expect(message).not.toContain(bad);
    expect(() => loadConfig({ "state-api": "maybe" }, {})).toThrow(/--state-api must be one of on, off/);
  });

  it("authorized() accepts exactly 'Bearer <token>'", () => {
    const req = (authorization?: string) => ({
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(authorized(req(`Bearer ${TOKEN}`), TOKEN)).toBe(true);
    expect(authorized(req(`bearer ${TOKEN}`), TOKEN)).toBe(true);
    expect(authorized(req(), TOKEN)).toBe(false);
    expect(authorized(req(TOKEN), TOKEN)).toBe(false);
    expect(authorized(req(`Bearer ${TOKEN}x`), TOKEN)).toBe(false);
    expect(authorized(req(`Bearer ${TOKEN.slice(0, -1)}`), TOKEN)).toBe(false);
    expect(authorized(req(`Basic ${TOKEN}`), TOKEN)).toBe(false);
  });
});

describe("a worker with --http-token", () => {
  let url = "";
  beforeAll(async () => {
    url = await serve(standIn("w1"), { token: TOKEN });
  });

  it("/state without the token: 401 with WWW-Authenticate: Bearer; a wrong one: invalid_token", async () => {
    for (const path of ["/state/counts/alpha", "/state/counts?prefix=a", "/state"]) {
      const none = await get(`${url}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="weir"');
      const body = (await none.json()) as { error: string; value?: unknown };
      expect(body.error).toMatch(/Authorization: Bearer/);
      expect(body.value).toBeUndefined();
      const wrong = await get(`${url}${path}`, "not-the-token");
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/);
      expect(await wrong.text()).not.toContain(TOKEN);
    }
  });

  it("/state with the token answers", async () => {
    const r = await get(`${url}/state/counts/alpha`, TOKEN);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { value: number }).value).toBe(4);
    const scan = await get(`${url}/state/counts`, TOKEN);
    expect(scan.status).toBe(200);
  });

  it("/healthz, /readyz and /metrics stay open", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const r = await get(`${url}${path}`);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
    }
  });

  it("weir state get --url: the token from --http-token or WEIR_HTTP_TOKEN; without it, says what to pass", async () => {
    const flag = await weirOffline(["state", "get", "counts", "alpha", "--url", url, "--http-token", TOKEN]);
    expect(flag.stdout.trim()).toBe("4");
    expect(flag.code).toBe(0);
    const env = await weirOffline(["state", "get", "counts", "alpha", "--url", url], {
      WEIR_HTTP_TOKEN: TOKEN,
    });
    expect(env.stdout.trim()).toBe("4");
    expect(env.code).toBe(0);
    const none = await weirOffline(["state", "get", "counts", "alpha", "--url", url]);
    expect(none.stderr).toMatch(/requires a token for \/state: pass --http-token T or set WEIR_HTTP_TOKEN/);
    expect(none.code).toBe(1);
    const wrong = await weirOffline([
      "state",
      "get",
      "counts",
      "alpha",
      "--url",
      url,
      "--http-token",
      "nope",
    ]);
    expect(wrong.stderr).toMatch(/refused the token given/);
    expect(wrong.stderr).not.toContain("nope");
    expect(wrong.code).toBe(1);
  });

  it("--http-token without --url is a usage error", async () => {
    const r = await weirOffline(["state", "get", "counts", "alpha", "--http-token", TOKEN]);
    expect(r.stderr).toMatch(/--http-token goes with --url/);
    expect(r.code).toBe(2);
  });
});

describe("a forwarded query carries the token", () => {
  it("the asked worker sends its token to the worker holding the key, which answers", async () => {
    let seen: string | undefined;
    // The holder: a real handler with the same token, behind a recorder of the Authorization header.
    const holderUrl = await serve(standIn("holder"), { token: TOKEN });
    const { createServer } = await import("node:http");
    const proxy = createServer((req, res) => {
      seen = req.headers.authorization;
      void fetch(`${holderUrl}${req.url}`, {
        headers: req.headers.authorization ? { authorization: req.headers.authorization } : {},
      }).then(async (r) => {
        res.writeHead(r.status, { "content-type": "application/json" });
        res.end(await r.text());
      });
    });
    await new Promise<void>((res) => proxy.listen(0, "127.0.0.1", () => res()));
    servers.push(proxy);
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    // The holder answers "alpha" only: the asked worker holds no key, so everything is forwarded.
    const asked = await serve(
      {
        ...standIn("asked", () => ({ kind: "owner", workerId: "holder", url: proxyUrl })),
        queryStore: () => ({ found: false, partition: 0, local: false }),
      } as unknown as Worker,
      { token: TOKEN },
    );
    const r = await get(`${asked}/state/counts/alpha`, TOKEN);
    const body = (await r.json()) as { value?: number; answeredBy?: { workerId: string } };
    expect(r.status).toBe(200);
    expect(body.value).toBe(4);
    expect(body.answeredBy?.workerId).toBe("holder");
    expect(seen).toBe(`Bearer ${TOKEN}`);
  });
});

describe("--state-api off", () => {
  it("/state is a 404 saying it is off, the rest is served; weir state get --url says so", async () => {
    const url = await serve(standIn("w2"), { stateApi: "off" });
    const r = await get(`${url}/state/counts/alpha`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: string }).error).toMatch(/off on this worker \(--state-api off\)/);
    expect((await get(`${url}/healthz`)).status).toBe(200);
    const cli = await weirOffline(["state", "get", "counts", "alpha", "--url", url]);
    expect(cli.stderr).toMatch(/serves no \/state endpoints: it runs with --state-api off/);
    expect(cli.code).toBe(1);
  });
});
