/**
 * What a new user meets first, through the real CLI (`node --import tsx bin/weir.ts`) without a broker: `weir init`
 * and its refusals, and `--app` modules that cannot be used — each message says what to do. (The starter itself is
 * installed, type-checked, tested and run against a broker from the packed package in
 * test/integration/package.test.ts.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { weirOffline as weir } from "../test/helpers/cli.js";
import { initProject } from "./init.js";

const dir = mkdtempSync(join(tmpdir(), "weir-first-use-"));
// An ES module project, as the starter's: a .ts module elsewhere is CommonJS to tsx.
writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A module under the temporary folder; `weir` imports resolve to this repository's sources. */
function module(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text.replaceAll("WEIR", JSON.stringify(join(process.cwd(), "topology/index.js"))));
  return path;
}

describe.concurrent("--app modules a command cannot use", () => {
  it("a path that does not exist: named, exit 2", async () => {
    const r = await weir(["describe", "--app", join(dir, "nope.ts")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--app .*nope\.ts: no such file/);
  });

  it("a module that exports no topology: what it exported and the three shapes that work, exit 2", async () => {
    const path = module("exports-other.mjs", "export const pipeline = 1; export function helper() {}\n");
    const r = await weir(["describe", "--app", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /exports no Topology \(it exports 'helper', 'pipeline'\)|exports no Topology \(it exports 'pipeline', 'helper'\)/,
    );
    expect(r.stderr).toMatch(/export const topology = builder\.build\(\)/);
    expect(r.stderr).toMatch(/createTopology\(settings\)/);
  });

  it("a createTopology that returns something else: says what it returned", async () => {
    const path = module("returns-string.mjs", "export function createTopology() { return 'shop'; }\n");
    const r = await weir(["describe", "--app", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/createTopology\(\) returned a string/);
  });

  it("a module that throws while loading: its error, exit 2", async () => {
    const path = module("throws.mjs", "throw new Error('no config for region eu-3');\n");
    const r = await weir(["describe", "--app", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot load --app .*throws\.mjs: no config for region eu-3/);
  });

  it("a TypeScript module whose default export is an unbuilt TopologyBuilder: built for the user", async () => {
    const path = module(
      "builder-default.ts",
      [
        "import { Serdes, TopologyBuilder } from WEIR;",
        "const b: TopologyBuilder = new TopologyBuilder('first-use');",
        "b.stream('in', { key: Serdes.string(), value: Serdes.string() }).to('out', { key: Serdes.string(), value: Serdes.string() });",
        "export default b;",
      ].join("\n"),
    );
    const r = await weir(["describe", "--app", path]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/first-use/);
    expect(r.stdout).toMatch(/\bin\b/);
  });
});

describe("weir init", () => {
  it("writes the starter with the name and application id filled in", () => {
    const target = join(dir, "Page-Counts");
    const files = initProject({ dir: target, appId: "page-counts-v1", weirVersion: "^9.9.9" });
    expect(files).toEqual([
      ".gitignore",
      "Dockerfile",
      "README.md",
      "package.json",
      "src/topology.test.ts",
      "src/topology.ts",
      "tsconfig.build.json",
      "tsconfig.json",
    ]);
    const pkg = JSON.parse(readFileSync(join(target, "package.json"), "utf8")) as {
      name: string;
      dependencies: Record<string, string>;
    };
    expect(pkg.name).toBe("page-counts");
    expect(pkg.dependencies.weir).toBe("^9.9.9");
    expect(readFileSync(join(target, "src/topology.ts"), "utf8")).toContain('APP_ID = "page-counts-v1"');
    expect(readFileSync(join(target, "README.md"), "utf8")).toMatch(/^# page-counts$/m);
    for (const f of files) expect(readFileSync(join(target, f), "utf8")).not.toMatch(/\{\{\w+\}\}/);
  });

  it("refuses a folder that is not empty, a bad name or application id, and no folder: exit 2, nothing written", async () => {
    const taken = join(dir, "taken");
    initProject({ dir: taken });
    const again = await weir(["init", taken]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not empty; choose a new folder, or pass --force/);

    const badName = await weir(["init", join(dir, "x"), "--name", "Not Valid"]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/'Not Valid' is not a valid npm package name/);
    const badId = await weir(["init", join(dir, "y"), "--app-id", "a/b"]);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/--app-id 'a\/b' may hold only/);
    expect(existsSync(join(dir, "x")) || existsSync(join(dir, "y"))).toBe(false);

    const none = await weir(["init"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/expects one folder: weir init <dir>/);
  });

  it("--force writes into a folder that is not empty", async () => {
    const target = join(dir, "forced");
    initProject({ dir: target });
    writeFileSync(join(target, "src/topology.ts"), "// changed\n");
    const r = await weir(["init", target, "--force"]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(target, "src/topology.ts"), "utf8")).toContain("TopologyBuilder");
  });
});
