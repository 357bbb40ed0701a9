/**
 * `weir init <dir>`: a new project from the starter in templates/starter — a DSL topology, its TopologyTestDriver
 * test (vitest), tsconfig, Dockerfile and README. A command of the one package rather than a separate `create-weir`
 * package: `npx -p weir weir init my-app` works with nothing else published, and the starter always matches the
 * weir that wrote it (its dependency is `^<this version>`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { UsageError, parse, renderHelp, runCommand, type CommandHelp } from "./args.js";
import { packageRoot, version, type Command } from "./command.js";

const spec = {
  name: { type: "string" },
  "app-id": { type: "string" },
  "weir-version": { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const help: CommandHelp = {
  usage: "weir init <dir> [--name NAME] [--app-id ID] [--force]",
  summary:
    "Write a new weir project into <dir>: a topology (src/topology.ts), its tests without a broker\n" +
    "(src/topology.test.ts, vitest), tsconfig.json, a Dockerfile and a README. Then: cd <dir> && npm install && npm test.",
  flags: [
    ["--name NAME", "npm package name (default: the folder's name)"],
    ["--app-id ID", "the application id: consumer group, prefix of internal topics (default: the name)"],
    ["--weir-version SPEC", "the weir dependency written to package.json (default: ^<this weir's version>)"],
    ["--force", "write into a folder that is not empty (existing files of the same name are overwritten)"],
  ],
  examples: ["npx -p weir weir init page-counts", "weir init services/orders --app-id orders"],
};

/** An npm package name: lower case, URL-safe, optionally scoped. */
const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
/** An application id is the consumer group and a prefix of topic names: Kafka's legal topic characters. */
const APP_ID = /^[a-zA-Z0-9._-]{1,200}$/;

/** Files of the starter whose names npm would not pack as they are. */
const RENAMED: Record<string, string> = { gitignore: ".gitignore" };

export interface InitOptions {
  dir: string;
  name?: string;
  appId?: string;
  weirVersion?: string;
  force?: boolean;
}

/** Writes the starter; returns the files written, relative to the project folder. */
export function initProject(options: InitOptions): string[] {
  const dir = resolve(options.dir);
  const name = options.name ?? basename(dir).toLowerCase();
  if (!PACKAGE_NAME.test(name))
    throw new UsageError(
      `'${name}' is not a valid npm package name (lower case letters, digits, '-', '.', '_'); pass --name`,
    );
  const appId = options.appId ?? name.replace(/^@[^/]+\//, "");
  if (!APP_ID.test(appId))
    throw new UsageError(
      `--app-id '${appId}' may hold only letters, digits, '.', '_' and '-' (it names topics)`,
    );
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`${options.dir} exists and is not a folder`);
    if (readdirSync(dir).length > 0 && !options.force)
      throw new UsageError(
        `${options.dir} is not empty; choose a new folder, or pass --force to write into it`,
      );
  }
  const template = join(packageRoot(), "templates", "starter");
  if (!existsSync(template))
    throw new Error(`the starter is missing from this weir installation (${template})`);
  const values: Record<string, string> = {
    name,
    appId,
    weirVersion: options.weirVersion ?? `^${version()}`,
  };
  const written: string[] = [];
  const copy = (from: string, to: string) => {
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const source = join(from, entry.name);
      const target = join(to, RENAMED[entry.name] ?? entry.name);
      if (entry.isDirectory()) {
        copy(source, target);
        continue;
      }
      mkdirSync(to, { recursive: true });
      const text = readFileSync(source, "utf8").replace(
        /\{\{(\w+)\}\}/g,
        (whole, key: string) => values[key] ?? whole,
      );
      writeFileSync(target, text);
      written.push(relative(dir, target));
    }
  };
  copy(template, dir);
  return written.sort();
}

export const initCommand: Command = {
  name: "init",
  summary: "write a new weir project (topology, tests, Dockerfile) into a folder",
  run: (argv) =>
    runCommand("init", help, async () => {
      const { values, positionals } = parse(argv, spec, true);
      if (values.help) {
        process.stdout.write(renderHelp(help));
        return 0;
      }
      if (positionals.length !== 1) throw new UsageError("expects one folder: weir init <dir>");
      const dir = positionals[0]!;
      const files = initProject({
        dir,
        name: values.name as string | undefined,
        appId: values["app-id"] as string | undefined,
        weirVersion: values["weir-version"] as string | undefined,
        force: values.force === true,
      });
      process.stdout.write(
        `wrote ${files.length} files to ${dir}: ${files.join(", ")}\n\n` +
          `next:\n  cd ${dir}\n  npm install\n  npm test    # the topology in the test driver, no broker\n` +
          `  npm start   # a worker against KAFKA_BROKERS (default 127.0.0.1:9092)\n`,
      );
      return 0;
    }),
};
