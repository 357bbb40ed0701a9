/**
 * A real Prometheus (Debian's `prometheus` package) on loopback, scraping the given targets every second, and a
 * small client for its HTTP API.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { tempDir } from "./worker-process.js";

export function prometheusBinary(): string {
  const found = spawnSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" }).stdout.trim();
  if (!found)
    throw new Error("prometheus is not installed: apt-get install prometheus (scripts/setup.sh does it)");
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

export class PrometheusServer {
  #child: ChildProcess | undefined;
  readonly log: string[] = [];
  url = "";

  async start(targets: string[], job = "weir"): Promise<this> {
    const dir = tempDir("weir-prometheus");
    const port = await freePort();
    const config = join(dir, "prometheus.yml");
    writeFileSync(
      config,
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        `  - job_name: ${job}`,
        "    static_configs:",
        `      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]`,
        "",
      ].join("\n"),
    );
    this.url = `http://127.0.0.1:${port}`;
    this.#child = spawn(
      prometheusBinary(),
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.#child.stderr!.on("data", (c: Buffer) => this.log.push(c.toString()));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const ok = await fetch(`${this.url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return this;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`prometheus did not become ready:\n${this.log.join("").slice(-2000)}`);
  }

  /** An instant query; the vector's samples as [labels, value]. */
  async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== "success") throw new Error(`query ${expr} failed: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  async stop(): Promise<void> {
    if (!this.#child || this.#child.exitCode !== null) return;
    this.#child.kill("SIGTERM");
    await new Promise((r) => this.#child!.once("exit", r));
  }
}
