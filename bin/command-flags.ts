/**
 * Flags shared by the operator commands (topics, describe, replay, reset, state): the subset of the worker's flags
 * that a command needs, with the same names, help lines and config precedence (bin/config.ts), so that
 * `--brokers`, `--app`, `--partitions`, `--kafka k=v`, `--state-dir` and `--config` mean the same thing everywhere.
 */
import { workerFlagHelp, workerFlagSpec } from "./config.js";

type WorkerFlag = keyof typeof workerFlagSpec;

/** The spec and help lines of the named worker flags, in the order given. */
export function sharedFlags<N extends WorkerFlag>(
  names: readonly N[],
): { spec: Pick<typeof workerFlagSpec, N>; help: Array<[string, string]> } {
  const spec = {} as Record<string, unknown>;
  const help: Array<[string, string]> = [];
  for (const name of names) {
    spec[name] = workerFlagSpec[name];
    const line = workerFlagHelp.find(([flag]) => flag === `--${name}` || flag.startsWith(`--${name} `));
    if (line) help.push(line);
  }
  return { spec: spec as Pick<typeof workerFlagSpec, N>, help };
}
