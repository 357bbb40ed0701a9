/**
 * The HTTP endpoints of `weir worker --processes N`, on the one port operators know (--http-port): probes, scrapes and
 * interactive queries do not need to know how many processes a host runs. Each process serves its own endpoints on
 * a loopback port of its own; this server answers from theirs:
 *   /healthz                   200 unless a running process's /healthz is not (a process down is being restarted:
 *                              that is readiness, not liveness)
 *   /readyz                    200 only while every process runs and its /readyz is 200; else 503 naming each
 *                              process's problems (`process-down` for one not running)
 *   /metrics                   every process's metrics, each sample labelled `process="<i>"`, and the supervisor's
 *                              weir_supervisor_process_up / weir_supervisor_process_restarts_total
 *   /tasks                     every process's tasks, each with its `process`
 *   /state/...                 passed to a running process, which answers or forwards to the key's owner
 *   /process/<i>/<path>        passed to process i: what other workers forward interactive queries to (each process
 *                              advertises `<advertised url>/process/<i>`), and a look at one process's endpoints
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen } from "./http.js";
import type { ProcessSlot } from "./supervisor.js";

/** How long the supervisor waits for a process's answer. */
const PROCESS_TIMEOUT_MS = 5_000;

/** The processes, as the supervisor knows them now. */
export interface SupervisedProcesses {
  slots(): readonly ProcessSlot[];
  readonly stopping: boolean;
}

/** A process's answer to a GET, or why there is none. */
type Answer = { ok: true; status: number; headers: Headers; text: string } | { ok: false; error: string };

async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS) });
    return { ok: true, status: res.status, headers: res.headers, text: await res.text() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Why a process is not running, for /readyz. */
function downReason(slot: ProcessSlot): string {
  if (slot.state === "starting") return `process ${slot.index} is starting`;
  if (slot.state === "restarting")
    return `process ${slot.index} is waiting to be restarted (last: ${slot.lastExit ?? "unknown"})`;
  return `process ${slot.index} has exited (${slot.lastExit ?? "unknown"})`;
}

/** /readyz of the supervisor: every process running and ready. */
export async function readiness(processes: SupervisedProcesses): Promise<{
  ready: boolean;
  body: Record<string, unknown>;
}> {
  const slots = processes.slots();
  const answers = await Promise.all(
    slots.map(async (slot) => {
      if (slot.state !== "running" || !slot.url)
        return {
          process: slot.index,
          ready: false,
          state: slot.state,
          problems: [{ problem: "process-down", reason: downReason(slot) }],
        };
      const a = await get(`${slot.url}/readyz`);
      const body = a.ok ? (parseJson(a.text) as Record<string, unknown> | undefined) : undefined;
      if (!a.ok || !body)
        return {
          process: slot.index,
          ready: false,
          state: slot.state,
          problems: [
            {
              problem: "process-down",
              reason: `process ${slot.index} did not answer /readyz: ${a.ok ? "not JSON" : a.error}`,
            },
          ],
        };
      return { process: slot.index, pid: slot.pid, ...body, ready: a.status === 200 && body.ready === true };
    }),
  );
  const ready = !processes.stopping && answers.every((a) => a.ready);
  const problems = answers.flatMap((a) =>
    Array.isArray(a.problems)
      ? a.problems.map((p: unknown) => ({ process: a.process, ...(p as object) }))
      : [],
  );
  const tasks = answers.reduce((n, a) => n + ("tasks" in a && typeof a.tasks === "number" ? a.tasks : 0), 0);
  return {
    ready,
    body: {
      ready,
      state: processes.stopping ? "stopping" : "running",
      tasks,
      problems,
      processes: answers,
    },
  };
}

/** One metric family of a Prometheus text exposition: its HELP and TYPE lines and its samples. */
interface Family {
  meta: string[];
  samples: string[];
}

/**
 * Merge Prometheus text expositions of the processes into one: each family once (its HELP and TYPE from the first
 * process that has it), every sample with a `process` label first among its labels.
 */
export function mergeMetrics(sources: ReadonlyArray<{ process: string; text: string }>): string {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { meta: [], samples: [] }));
    return f;
  };
  for (const { process, text } of sources) {
    let current: Family | undefined;
    const label = `process="${process.replace(/["\\\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`))}"`;
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        current = family(meta[2]!);
        // A family's HELP and TYPE lines come from the first process that has it.
        if (!current.meta.some((m) => m.startsWith(`# ${meta[1]} `))) current.meta.push(line);
        continue;
      }
      if (line.startsWith("#")) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
      if (!name) continue;
      (current ?? family(name)).samples.push(
        line[name.length] === "{"
          ? `${name}{${label}${line[name.length + 1] === "}" ? "" : ","}${line.slice(name.length + 1)}`
          : `${name}{${label}}${line.slice(name.length)}`,
      );
    }
  }
  return [...families.values()].flatMap((f) => [...f.meta, ...f.samples]).join("\n") + "\n";
}

/** The supervisor's own metrics: whether each process runs, and how often it was restarted. */
export function supervisorMetrics(slots: readonly ProcessSlot[]): string {
  return [
    "# HELP weir_supervisor_process_up 1 while the worker process runs, 0 while it is starting, restarting or has exited",
    "# TYPE weir_supervisor_process_up gauge",
    ...slots.map((s) => `weir_supervisor_process_up{process="${s.index}"} ${s.state === "running" ? 1 : 0}`),
    "# HELP weir_supervisor_process_restarts_total Restarts of the worker process after it died unexpectedly",
    "# TYPE weir_supervisor_process_restarts_total counter",
    ...slots.map((s) => `weir_supervisor_process_restarts_total{process="${s.index}"} ${s.restarts}`),
    "",
  ].join("\n");
}

/** The headers of a request passed on to a process: the bearer token of /state. */
function passedHeaders(req: IncomingMessage): Record<string, string> {
  return req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {};
}

/** Pass a GET to a process and its answer back. */
async function proxy(
  slot: ProcessSlot | undefined,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (!slot || slot.state !== "running" || !slot.url) {
    res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
    res.end(
      JSON.stringify({
        error: slot ? downReason(slot) : "no worker process is running",
      }) + "\n",
    );
    return;
  }
  const a = await get(`${slot.url}${path}`, passedHeaders(req));
  if (!a.ok) {
    res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
    res.end(JSON.stringify({ error: `process ${slot.index} did not answer: ${a.error}` }) + "\n");
    return;
  }
  const headers: Record<string, string> = {};
  for (const name of ["content-type", "retry-after", "www-authenticate"]) {
    const v = a.headers.get(name);
    if (v !== null) headers[name] = v;
  }
  res.writeHead(a.status, headers);
  res.end(a.text);
}

/** Start the supervisor's HTTP server on `host:port` (0: any free port). */
export async function startSupervisorHttpServer(options: {
  processes: SupervisedProcesses;
  host: string;
  port: number;
}): Promise<{ server: Server; url: string }> {
  const { processes } = options;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body) + "\n");
    };
    void (async () => {
      try {
        const slots = processes.slots();
        const running = slots.filter((s) => s.state === "running" && s.url);
        if (url.pathname === "/readyz") {
          const { ready, body } = await readiness(processes);
          json(ready ? 200 : 503, body);
        } else if (url.pathname === "/healthz") {
          const answers = await Promise.all(
            running.map(async (s) => ({ slot: s, answer: await get(`${s.url}/healthz`) })),
          );
          const bad = answers.filter((a) => a.answer.ok && a.answer.status !== 200);
          json(bad.length === 0 ? 200 : 503, {
            status: bad.length === 0 ? "ok" : "unhealthy",
            processes: slots.map((s) => {
              const a = answers.find((x) => x.slot.index === s.index)?.answer;
              const body = a?.ok ? (parseJson(a.text) as { status?: unknown } | undefined) : undefined;
              return { process: s.index, pid: s.pid, state: s.state, status: body?.status ?? null };
            }),
          });
        } else if (url.pathname === "/metrics") {
          const texts = await Promise.all(
            running.map(async (s) => {
              const a = await get(`${s.url}/metrics`);
              return { process: String(s.index), text: a.ok && a.status === 200 ? a.text : "" };
            }),
          );
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
          res.end(mergeMetrics(texts) + supervisorMetrics(slots));
        } else if (url.pathname === "/tasks") {
          const lists = await Promise.all(
            running.map(async (s) => {
              const a = await get(`${s.url}/tasks`);
              const tasks = a.ok ? parseJson(a.text) : undefined;
              return Array.isArray(tasks)
                ? tasks.map((t: unknown) => ({ process: s.index, ...(t as object) }))
                : [];
            }),
          );
          json(200, lists.flat());
        } else if (url.pathname === "/state" || url.pathname.startsWith("/state/")) {
          await proxy(running[0], `${url.pathname}${url.search}`, req, res);
        } else if (/^\/process\/\d+(\/|$)/.test(url.pathname)) {
          const [, , index, ...rest] = url.pathname.split("/");
          await proxy(
            slots.find((s) => s.index === Number(index)),
            `/${rest.join("/")}${url.search}`,
            req,
            res,
          );
        } else {
          json(404, {
            error: "not found",
            endpoints: [
              "/metrics",
              "/healthz",
              "/readyz",
              "/tasks",
              "/state/<store>/<key>",
              "/process/<i>/...",
            ],
          });
        }
      } catch (err) {
        json(500, { error: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  return listen(server, options.host, options.port);
}
