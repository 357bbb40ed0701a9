import { existsSync } from "node:fs";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Topology, TopologyBuilder } from "../topology/index.js";
import { UsageError } from "./args.js";

export interface AppSettings {
  partitions: number;
}

const TYPESCRIPT = new Set([".ts", ".mts", ".cts", ".tsx"]);
let typescriptLoader: Promise<void> | undefined;
/**
 * This CLI itself runs from TypeScript sources (the repository's `npm run weir`, tsx): a TypeScript loader is in
 * place already, and registering a second one would load a second copy of every module the app shares with the CLI.
 */
const RUNNING_FROM_SOURCE = import.meta.url.endsWith(".ts");

/**
 * TypeScript apps run without a build step: the first `.ts` module registers tsx's ESM loader (a dependency of
 * weir) for the rest of the process, so the app and everything it imports load as one module graph — `weir`
 * imported by the app is the same instance the CLI uses.
 */
async function loadTypeScript(): Promise<void> {
  typescriptLoader ??= import("tsx/esm/api").then(({ register }) => {
    register();
  });
  return typescriptLoader;
}

/**
 * The topology a command works on. A module exports `topology` (a built Topology), `createTopology(settings)`, or a
 * default export of either; without --app, weir runs its own application, the order pipeline.
 */
export async function loadTopology(app: string | undefined, settings: AppSettings): Promise<Topology> {
  let mod: Record<string, unknown>;
  if (!app) {
    mod = (await import("../processors/app.js")) as Record<string, unknown>;
  } else {
    const path = resolve(app);
    if (!existsSync(path))
      throw new UsageError(`--app ${app}: no such file (${path}); pass the path of your topology module`);
    try {
      if (TYPESCRIPT.has(extname(path)) && !RUNNING_FROM_SOURCE) await loadTypeScript();
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(
        `cannot load --app ${app}: ${err instanceof Error ? err.message : String(err)}` +
          (err instanceof Error && /Cannot find (package|module) 'weir'/.test(err.message)
            ? " (install weir in the app's project: npm install weir)"
            : ""),
      );
    }
  }
  const factory =
    typeof mod.createTopology === "function"
      ? mod.createTopology
      : typeof mod.default === "function" && !(mod.default instanceof Topology)
        ? mod.default
        : undefined;
  let candidate: unknown = factory
    ? await (factory as (s: AppSettings) => unknown)(settings)
    : (mod.topology ?? mod.default);
  if (candidate instanceof TopologyBuilder) candidate = candidate.build();
  if (candidate instanceof Topology) return candidate;
  throw new UsageError(exportsNoTopology(app ?? "(default)", mod, candidate));
}

/** What a module that exports no Topology did export, and what it should. */
function exportsNoTopology(app: string, mod: Record<string, unknown>, candidate: unknown): string {
  const names = Object.keys(mod);
  const exported = names.length === 0 ? "nothing" : names.map((n) => `'${n}'`).join(", ");
  const sameName = (v: unknown) =>
    typeof v === "object" &&
    v !== null &&
    (v.constructor?.name === "Topology" || v.constructor?.name === "TopologyBuilder");
  const hint = sameName(candidate)
    ? " It exports a Topology from another copy of weir: the app and the CLI must use the same installed weir (npm ls weir)," +
      ' and a TypeScript app must be an ES module (its package.json says "type": "module"), or it loads weir a second time as CommonJS.'
    : candidate === undefined
      ? ""
      : ` Its ${typeof mod.createTopology === "function" ? "createTopology() returned" : "export is"} ${describe(candidate)}.`;
  return (
    `--app ${app} exports no Topology (it exports ${exported}).${hint} Export one of: ` +
    "`export const topology = builder.build()`, `export function createTopology(settings) { ...; return builder.build() }`, " +
    "or a default export of either (a TopologyBuilder is built for you)."
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  if (typeof value === "function") return "a function";
  return `a ${typeof value}`;
}
