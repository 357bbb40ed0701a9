/**
 * `weir state get|scan|list`: read the state stores of an application.
 *
 * Offline (default): opens the LMDB environment of a stopped worker's state directory (<state-dir>/<app id>) and
 * decodes keys and values with the store's serdes from the topology; a scan covers every partition present.
 * Online (--url): asks a running worker's HTTP endpoint (/state/<store>/<key>, /state/<store>?prefix=&limit=),
 * which answers from the partitions that worker owns.
 */
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import type { StoreDefinition, Topology } from "../topology/index.js";
import { openLmdbState, type StateBackend } from "../state/index.js";
import { prefixUpperBound } from "../state/key-value-store.js";
import { decodeWindowEntry } from "../state/window-store.js";
import { decodeTtlValue } from "../state/ttl-store.js";
import { loadTopology } from "./app.js";
import { UsageError, intFlag, parse, renderHelp, runCommand, type CommandHelp } from "./args.js";
import type { Command } from "./command.js";
import { sharedFlags } from "./command-flags.js";
import { loadConfig } from "./config.js";
import { inspectLock, lockedMessage } from "../topology/runtime/state-directory.js";
import { printJson, table } from "./output.js";

const common = sharedFlags(["app", "state-dir", "config", "partitions"]);
const spec = {
  ...common.spec,
  url: { type: "string" },
  "http-token": { type: "string" },
  prefix: { type: "string" },
  limit: { type: "string" },
  json: { type: "boolean" },
} as const;

const help: CommandHelp = {
  usage: "weir state <get STORE KEY | scan STORE [--prefix P] [--limit N] | list> [options]",
  summary:
    "Read state stores. Without --url: the LMDB state of a STOPPED worker (<state-dir>/<app id>), every partition\n" +
    "present, keys and values decoded with the store's serdes (the key argument is parsed for the key serde: text\n" +
    "for string, a number for number/int32, JSON — or plain text — for json). With --url: the /state endpoint of a\n" +
    "running worker, which answers for the partitions it owns. 'list' shows the store partitions in the directory.\n" +
    "Exit status: 0 found, 1 key not found or error, 2 bad usage (also: no such store, offline or on the worker).",
  flags: [
    ["--url URL", "a running worker's HTTP address (http://host:port, see --http-port of weir worker)"],
    ["--http-token T", "with --url: the worker's --http-token, sent as a bearer token (env WEIR_HTTP_TOKEN)"],
    ["--prefix P", "scan: only keys starting with P (in the key serde's bytes)"],
    ["--limit N", "scan: at most N entries (default 100)"],
    ["--json", "print JSON"],
    ...common.help,
  ],
  examples: [
    "weir state get stock sku-42",
    "weir state scan orders-seen --prefix o-1 --limit 20 --json",
    "weir state get counts user-7 --app ./count.js --state-dir /var/lib/weir",
    "weir state get stock sku-42 --url http://127.0.0.1:9400",
    "weir state list --state-dir /var/lib/weir",
  ],
};

export const state: Command = {
  name: "state",
  summary: "read state stores (a stopped worker's LMDB directory, or a running worker over HTTP)",
  run: (argv) => runCommand("state", help, () => stateCommand(argv)),
};

/** The CLI's key text as a value of the key serde's type. */
export function parseKey(def: StoreDefinition, text: string): unknown {
  const name = def.keySerde.name;
  if (name === "number" || name === "int32") {
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n))
      throw new UsageError(`store key must be a number (key serde ${name}), got '${text}'`);
    return n;
  }
  if (name === "bytes")
    return text.startsWith("hex:") ? Buffer.from(text.slice(4), "hex") : Buffer.from(text, "utf8");
  if (name.startsWith("json")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

interface Entry {
  key: unknown;
  value: unknown;
  partition: number;
  timestamp?: number;
}

function storeOf(topology: Topology, store: string): StoreDefinition {
  const def = topology.stores.get(store);
  if (!def)
    throw new UsageError(
      `no store named '${store}' in ${topology.appId}; stores: ${[...topology.stores.keys()].join(", ") || "(none)"}`,
    );
  return def;
}

/** Processes (other than this one) that have the LMDB data file open: a running worker. Linux only; else []. */
export function processesUsing(dir: string): number[] {
  const target = resolve(dir);
  const pids: number[] = [];
  let procs: string[];
  try {
    procs = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return pids;
  }
  for (const pid of procs) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(target + "/")) {
          pids.push(Number(pid));
          break;
        }
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return pids;
}

function openOffline(topology: Topology, stateRoot: string): StateBackend {
  const dir = resolve(join(stateRoot, topology.appId));
  if (!existsSync(dir))
    throw new Error(
      `no state of ${topology.appId} in ${dir}: check --state-dir (the worker's), or query a running worker with --url`,
    );
  // A live worker's directory is not read offline: its lock file names it (runtime/state-directory.ts); a process
  // with the LMDB files open and no lock (a worker of an older weir) is refused too.
  const lock = inspectLock(dir);
  if (lock.kind === "held")
    throw new Error(
      `${lockedMessage(dir, lock).replace(/; give each worker.*$/, "")}: an offline read needs a stopped worker. ` +
        `Query the running worker with --url http://<its --http-host>:<its --http-port> instead`,
    );
  const users = processesUsing(dir);
  if (users.length > 0)
    throw new Error(
      `the state directory ${dir} is in use by a running worker (pid ${users.join(", ")}): stop it, or query it ` +
        `with --url http://<its --http-host>:<its --http-port>`,
    );
  try {
    return openLmdbState({ path: dir });
  } catch (err) {
    throw new Error(
      `cannot open the LMDB state in ${dir}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function decodeEntry(def: StoreDefinition, key: Buffer, value: Buffer, partition: number): Entry {
  if (def.kind === "window") {
    const entry = decodeWindowEntry(key, value);
    return {
      key: def.keySerde.deserialize(entry.key),
      timestamp: entry.timestamp,
      value: def.valueSerde.deserialize(entry.value),
      partition,
    };
  }
  // A store with a time to live keeps the stream time of the last write before the value.
  const stored = def.ttlMs === undefined ? value : decodeTtlValue(value).value;
  return { key: def.keySerde.deserialize(key), value: def.valueSerde.deserialize(stored), partition };
}

async function stateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, spec, true);
  if (values.help) {
    process.stdout.write(renderHelp(help));
    return 0;
  }
  const [sub, store, key, ...extra] = positionals;
  if (sub === undefined) throw new UsageError("missing subcommand: get, scan or list");
  if (!["get", "scan", "list"].includes(sub))
    throw new UsageError(`unknown subcommand '${sub}': expected get, scan or list`);
  if (sub === "get" && (store === undefined || key === undefined || extra.length > 0))
    throw new UsageError("usage: weir state get <store> <key>");
  if (sub === "scan" && (store === undefined || key !== undefined))
    throw new UsageError("usage: weir state scan <store> [--prefix P] [--limit N]");
  if (sub === "list" && (store !== undefined || values.url !== undefined))
    throw new UsageError("usage: weir state list [--state-dir DIR] (offline only)");
  if (sub !== "scan" && (values.prefix !== undefined || values.limit !== undefined))
    throw new UsageError("--prefix and --limit go with scan");
  const limit = intFlag("limit", values.limit as string | undefined, 100, 1, 1_000_000);
  const json = values.json === true;
  const url = values.url as string | undefined;
  if (url !== undefined && !/^https?:\/\/[^/]+/.test(url))
    throw new UsageError(`--url must look like http://host:port, got '${url}'`);
  const config = loadConfig(values);
  if (values["http-token"] !== undefined && url === undefined)
    throw new UsageError("--http-token goes with --url (an offline read needs no token)");

  if (url !== undefined)
    return online(
      url.replace(/\/+$/, ""),
      sub as "get" | "scan",
      store!,
      key,
      values.prefix as string | undefined,
      limit,
      json,
      config.httpToken,
    );

  const topology = await loadTopology(config.app, { partitions: config.partitions });
  if (sub === "list") {
    const backend = openOffline(topology, config.stateDir);
    try {
      const inventory = backend.list();
      if (json) printJson({ app: topology.appId, stateDir: backend.path, stores: inventory });
      else
        process.stdout.write(
          table([
            ["STORE", "PARTITION", "ENTRIES", "CHECKPOINT"],
            ...inventory.map((e) => [
              e.store,
              String(e.partition),
              String(e.entries),
              e.checkpoint === undefined ? "-" : String(e.checkpoint),
            ]),
          ]),
        );
      return 0;
    } finally {
      backend.close();
    }
  }
  const def = storeOf(topology, store!);
  const backend = openOffline(topology, config.stateDir);
  try {
    const partitions = backend
      .list()
      .filter((e) => e.store === store)
      .map((e) => e.partition);
    if (sub === "get") {
      if (def.kind === "window")
        throw new UsageError(
          `store '${store}' is a window store: use 'weir state scan ${store} --prefix <key>'`,
        );
      const k = def.keySerde.serialize(parseKey(def, key!) as never);
      for (const p of partitions) {
        const v = backend.open(store!, p).get(k);
        if (v !== undefined) {
          const { value } = decodeEntry(def, k, v, p);
          if (json) printJson({ store, key: parseKey(def, key!), found: true, value, partition: p });
          else process.stdout.write(render(value) + "\n");
          return 0;
        }
      }
      if (json) printJson({ store, key: parseKey(def, key!), found: false });
      else
        process.stderr.write(
          `weir state: key ${JSON.stringify(key)} not found in store ${store} (partitions ${partitions.join(", ") || "none"} of ${backend.path})\n`,
        );
      return 1;
    }
    const prefix =
      values.prefix === undefined
        ? undefined
        : def.keySerde.serialize(parseKey(def, values.prefix as string) as never);
    const entries: Entry[] = [];
    for (const p of partitions) {
      if (entries.length >= limit) break;
      const range = prefix === undefined ? {} : { from: prefix, to: prefixUpperBound(prefix) };
      for (const [k, v] of backend.open(store!, p).range({ ...range, limit: limit - entries.length }))
        entries.push(decodeEntry(def, k, v, p));
    }
    printEntries(store!, entries, json);
    return 0;
  } finally {
    backend.close();
  }
}

const render = (v: unknown): string =>
  typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("base64") : JSON.stringify(v);

function printEntries(store: string, entries: Entry[], json: boolean): void {
  if (json) {
    printJson({ store, entries });
    return;
  }
  const windowed = entries.some((e) => e.timestamp !== undefined);
  process.stdout.write(
    table([
      ["PARTITION", "KEY", ...(windowed ? ["TIMESTAMP"] : []), "VALUE"],
      ...entries.map((e) => [
        String(e.partition),
        render(e.key),
        ...(windowed ? [e.timestamp === undefined ? "-" : new Date(e.timestamp).toISOString()] : []),
        render(e.value),
      ]),
    ]),
  );
  process.stderr.write(`${entries.length} entr${entries.length === 1 ? "y" : "ies"}\n`);
}

async function online(
  url: string,
  sub: "get" | "scan",
  store: string,
  key: string | undefined,
  prefix: string | undefined,
  limit: number,
  json: boolean,
  token: string | undefined,
): Promise<number> {
  const target =
    sub === "get"
      ? `${url}/state/${encodeURIComponent(store)}/${encodeURIComponent(key!)}`
      : `${url}/state/${encodeURIComponent(store)}?${new URLSearchParams({ ...(prefix !== undefined ? { prefix } : {}), limit: String(limit) }).toString()}`;
  let res: Response;
  try {
    res = await fetch(target, {
      signal: AbortSignal.timeout(10_000),
      ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
  } catch (err) {
    throw new Error(
      `cannot reach the worker at ${url}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`,
    );
  }
  const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  // The worker's /state answers (bin/http.ts): 404 {error, stores} for a store it does not have; a get 200/404
  // {store, key, found, ...}; a scan 200 {store, entries}; 400/500 {error}. Anything else is not a weir worker.
  if (
    body !== undefined &&
    res.status === 404 &&
    Array.isArray(body.stores) &&
    typeof body.error === "string"
  ) {
    const stores = (body.stores as unknown[]).map(String);
    throw new UsageError(
      `no store named '${store}' on the worker at ${url}; its stores: ${stores.join(", ") || "(none)"}`,
    );
  }
  if (res.status === 401 && res.headers.get("www-authenticate")?.startsWith("Bearer"))
    throw new Error(
      token === undefined
        ? `the worker at ${url} requires a token for /state: pass --http-token T or set WEIR_HTTP_TOKEN (its --http-token)`
        : `the worker at ${url} refused the token given (--http-token / WEIR_HTTP_TOKEN): it is not the worker's --http-token`,
    );
  if (res.status === 404 && typeof body?.error === "string" && body.error.includes("--state-api off"))
    throw new Error(`the worker at ${url} serves no /state endpoints: it runs with --state-api off`);
  if (body !== undefined && (res.status >= 500 || res.status === 400) && typeof body.error === "string")
    throw new Error(`worker at ${url} answered ${res.status}: ${body.error}`);
  const weirAnswer =
    body !== undefined &&
    body.store === store &&
    (sub === "get"
      ? typeof body.found === "boolean" &&
        (res.status === 200 || (res.status === 404 && body.found === false))
      : res.status === 200 && Array.isArray(body.entries));
  if (!weirAnswer && res.status === 404 && Array.isArray(body?.endpoints))
    throw new Error(
      `${url} is a weir worker's address with a path after it: give --url as http://<host>:<port> only`,
    );
  if (!weirAnswer)
    throw new Error(
      `${url} answered ${res.status} ${res.statusText} to GET ${new URL(target).pathname}, not as a weir worker does: ` +
        `is it one? (--url is a worker's http://<--http-host>:<--http-port>)`,
    );
  if (sub === "get") {
    if (json) printJson(body);
    else if (body.found === true) process.stdout.write(render(body.value) + "\n");
    else
      process.stderr.write(
        body.local === false
          ? `weir state: key ${JSON.stringify(key)} belongs to partition ${String(body.partition)}, which this worker does not own: ask the worker that runs it\n`
          : `weir state: key ${JSON.stringify(key)} not found in store ${store}\n`,
      );
    return body.found === true ? 0 : 1;
  }
  const entries = (body.entries as Entry[] | undefined) ?? [];
  printEntries(store, entries, json);
  return 0;
}
