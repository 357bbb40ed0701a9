import { parseArgs, type ParseArgsConfig } from "node:util";

/** A bad flag or argument: the command prints the message and its usage, and exits 2. */
export class UsageError extends Error {}

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

export interface CommandHelp {
  usage: string;
  summary: string;
  flags: Array<[flag: string, description: string]>;
  examples: string[];
}

export function renderHelp(help: CommandHelp): string {
  const width = Math.max(...help.flags.map(([f]) => f.length), 10) + 2;
  return [
    `Usage: ${help.usage}`,
    "",
    help.summary,
    "",
    "Options:",
    ...help.flags.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
    `  ${"-h, --help".padEnd(width)}show this help`,
    "",
    "Examples:",
    ...help.examples.map((e) => `  ${e}`),
    "",
  ].join("\n");
}

/** Strict parsing: unknown flags and missing values are UsageErrors, never ignored. */
export function parse<T extends FlagSpec>(
  argv: string[],
  options: T,
  allowPositionals = false,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals,
      strict: true,
    }) as {
      values: Record<string, string | boolean | string[] | undefined>;
      positionals: string[];
    };
  } catch (err) {
    throw new UsageError(
      err instanceof Error ? err.message.replace(/\. To specify a positional.*$/s, "") : String(err),
    );
  }
}

export function intFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

export function numberFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} must be a number >= ${min}, got '${value}'`);
  return n;
}

export function choiceFlag<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T))
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got '${value}'`);
  return value as T;
}

/** Run a command body: UsageError → message + hint, exit 2; other errors → message, exit 1. */
export async function runCommand(
  name: string,
  help: CommandHelp,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`weir ${name}: ${err.message}\nRun 'weir ${name} --help' for usage.\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`weir ${name}: ${message}\n`);
    return 1;
  }
}
