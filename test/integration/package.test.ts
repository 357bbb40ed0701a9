/**
 * weir as a user meets it: the package packed as npm would publish it, installed into fresh projects outside the
 * repository, `weir init` run from the installed package, the starter's own type check and tests, and its topology
 * run by the installed CLI (`weir worker --app src/topology.ts`, TypeScript without a build step) against the real
 * broker until the output topic holds the counts. Nothing from the repository is on the path: the projects live in
 * a temporary folder and resolve `weir` from their own node_modules.
 *
 * One difference from a user's machine, and only one: a user's `npm install` downloads the prebuilt librdkafka
 * binding from GitHub; this machine has no route there and npm strips the variable that would point node-pre-gyp
 * at a mirror. So the installs run with --ignore-scripts and the binding built by set-up is unpacked where the
 * download would have put it (lmdb, msgpackr and esbuild load their prebuilt optional packages without scripts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokers, consumeAll, deleteTopic, produceAll, uniqueName, waitFor } from "../helpers/kafka.js";
import { REPO } from "../helpers/worker-process.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; rejects with its output when it exits non-zero (unless `allowFail`). */
function run(
  command: string,
  args: string[],
  cwd: string,
  options: { env?: Record<string, string>; timeoutMs?: number; allowFail?: boolean } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...cleanEnv(), ...options.env }, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr };
      if (code !== 0 && !options.allowFail)
        reject(
          new Error(
            `${command} ${args.join(" ")} (in ${cwd}) exited ${code}\n--- stdout\n${stdout.slice(-4000)}\n--- stderr\n${stderr.slice(-4000)}`,
          ),
        );
      else resolve(result);
    });
  });
}

/** The environment without what vitest and npm set for the repository (a user's shell has none of it). */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(npm_|VITEST|NODE_OPTIONS$|TSX_|INIT_CWD$)/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

const BINDING = join(REPO, "node_modules/@confluentinc/kafka-javascript/build");

/**
 * `npm install --ignore-scripts …`, then the librdkafka binding where its install script would have put it: the
 * module and the librdkafka libraries it links (build/Release, build/deps), as the prebuilt release holds them.
 */
async function npmInstall(cwd: string, args: string[]): Promise<void> {
  await run("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", ...args], cwd, {
    timeoutMs: 600_000,
  });
  const build = join(cwd, "node_modules/@confluentinc/kafka-javascript/build");
  if (existsSync(join(build, "Release/confluent-kafka-javascript.node"))) return;
  mkdirSync(join(build, "Release"), { recursive: true });
  cpSync(
    join(BINDING, "Release/confluent-kafka-javascript.node"),
    join(build, "Release/confluent-kafka-javascript.node"),
  );
  cpSync(join(BINDING, "deps"), join(build, "deps"), { recursive: true });
}

describe("the packed package, installed as a user installs it", () => {
  const root = mkdtempSync(join(tmpdir(), "weir-package-"));
  const tools = join(root, "tools");
  const app = join(root, "page-counts");
  let tarball = "";
  const input = uniqueName("pkg-views");
  const output = uniqueName("pkg-counts");
  const appId = uniqueName("pkg-app");
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    // npm pack runs prepack (a clean build of dist/) as publishing would.
    const packed = await run("npm", ["pack", "--json", "--pack-destination", root], REPO, {
      timeoutMs: 300_000,
    });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    tarball = join(root, info!.filename);
    const files = info!.files.map((f) => f.path);
    // What a user needs, and no tests, sources or repository tooling.
    expect(files).toContain("dist/bin/weir.js");
    expect(files).toContain("dist/topology/index.d.ts");
    expect(files).toContain("dist/topology/testing.d.ts");
    expect(files).toContain("templates/starter/src/topology.ts");
    expect(
      files.filter(
        (f) => /\.test\.|test-support|\.ts$/.test(f) && !f.endsWith(".d.ts") && !f.startsWith("templates/"),
      ),
    ).toEqual([]);
    expect(
      files.filter(
        (f) => f.startsWith("scripts/") && f !== "scripts/broker.sh" && !f.startsWith("scripts/broker/"),
      ),
    ).toEqual([]);
  }, 600_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill("SIGKILL");
    for (const t of [input, output]) await deleteTopic(t).catch(() => {});
    rmSync(root, { recursive: true, force: true });
  });

  it("weir init, run from the installed package, writes a starter whose type check and tests pass", async () => {
    mkdirSync(tools);
    writeFileSync(join(tools, "package.json"), JSON.stringify({ name: "tools", private: true }));
    await npmInstall(tools, [tarball]);
    const version = await run(join(tools, "node_modules/.bin/weir"), ["--version"], tools);
    expect(version.stdout.trim()).toBe(
      `weir ${JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version}`,
    );

    const init = await run(join(tools, "node_modules/.bin/weir"), ["init", app, "--app-id", appId], root);
    expect(init.stdout).toContain("npm install");
    expect(readdirSync(app).sort()).toEqual(
      [
        ".gitignore",
        "Dockerfile",
        "README.md",
        "package.json",
        "src",
        "tsconfig.build.json",
        "tsconfig.json",
      ].sort(),
    );
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies.weir).toMatch(/^\^\d+\.\d+\.\d+/);

    // A user edits the topic names; the test needs its own topics on a shared broker.
    const topologyFile = join(app, "src/topology.ts");
    writeFileSync(
      topologyFile,
      readFileSync(topologyFile, "utf8")
        .replace('"page-views"', JSON.stringify(input))
        .replace('"page-view-counts"', JSON.stringify(output)),
    );

    // The weir dependency from the tarball (npm has no such version yet), the rest from the registry.
    await npmInstall(app, [tarball]);
    await run("npx", ["tsc", "--noEmit"], app, { timeoutMs: 120_000 });
    const tests = await run("npm", ["test"], app, { timeoutMs: 120_000 });
    // eslint-disable-next-line no-control-regex -- vitest colours its summary
    expect(tests.stdout.replace(/\x1b\[[0-9;]*m/g, "")).toMatch(/Tests\s+2 passed \(2\)/);
    // The production build compiles too.
    await run("npm", ["run", "build"], app, { timeoutMs: 120_000 });
    expect(existsSync(join(app, "dist/topology.js"))).toBe(true);
    expect(existsSync(join(app, "dist/topology.test.js"))).toBe(false);
  }, 900_000);

  it("the installed CLI runs the TypeScript topology against the broker until the output holds the counts", async () => {
    expect(existsSync(join(app, "node_modules/weir"))).toBe(true);
    const env = { KAFKA_BROKERS: brokers() };
    const topics = await run(
      "npx",
      ["weir", "topics", "create", "--app", "src/topology.ts", "--partitions", "2"],
      app,
      {
        env,
      },
    );
    expect(topics.stdout + topics.stderr).toMatch(/created/);

    const views = Array.from({ length: 300 }, (_, i) => ({
      key: `user-${i % 17}`,
      value: JSON.stringify({ page: `/page-${i % 5}` }),
    }));
    await produceAll(input, views);

    const stateDir = join(root, "state");
    worker = spawn(
      join(app, "node_modules/.bin/weir"),
      [
        "worker",
        "--app",
        "src/topology.ts",
        "--state-dir",
        stateDir,
        "--http-port",
        "0",
        "--commit-interval-ms",
        "100",
      ],
      { cwd: app, env: { ...cleanEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    worker.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    worker.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => worker!.on("exit", (code) => resolve(code)));

    const counts = await consumeAll(output, {
      expected: views.length,
      timeoutMs: 120_000,
      isolation: "read_committed",
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- worker log\n${log.slice(-6000)}`);
    });
    // Per page, the counts 1..60 in order: each view counted once.
    const byPage = new Map<string, number[]>();
    for (const r of counts) {
      const page = r.key!.toString();
      byPage.set(page, [...(byPage.get(page) ?? []), JSON.parse(r.value!.toString()) as number]);
    }
    expect([...byPage.keys()].sort()).toEqual(["/page-0", "/page-1", "/page-2", "/page-3", "/page-4"]);
    for (const series of byPage.values()) expect(series).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));

    // The state is queryable on the worker's HTTP port, as the starter's README says.
    const url = await waitFor(
      "the worker's HTTP address in its log",
      () => /"url":"(http:[^"]+)"/.exec(log)?.[1],
    );
    const state = (await (await fetch(`${url}/state/views-per-page/%2Fpage-3`)).json()) as {
      value?: unknown;
    };
    expect(state.value).toBe(60);

    worker.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 300_000);
});
