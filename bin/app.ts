import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Topology } from "../topology/index.js";
import { UsageError } from "./args.js";

export interface AppSettings {
  partitions: number;
}

/**
 * The topology a command works on. A module exports `topology` (a built Topology) or
 * `createTopology(settings)`; without --app, weir runs its own application, the order pipeline.
 */
export async function loadTopology(app: string | undefined, settings: AppSettings): Promise<Topology> {
  let mod: Record<string, unknown>;
  if (!app) {
    mod = (await import("../processors/app.js")) as Record<string, unknown>;
  } else {
    try {
      mod = (await import(pathToFileURL(resolve(app)).href)) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`cannot load --app ${app}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const candidate =
    typeof mod.createTopology === "function"
      ? (mod.createTopology as (s: AppSettings) => unknown)(settings)
      : (mod.topology ?? mod.default);
  if (!(candidate instanceof Topology))
    throw new UsageError(
      `--app ${app ?? "(default)"} exports no Topology: export 'topology' or 'createTopology(settings)'`,
    );
  return candidate;
}
