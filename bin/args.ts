import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../topology/errors.js";

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

/** A number in decimal notation: `5`, `-0.5`, `.5`, `1e3`. */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** A negative number as a token: `-5`, `-0.5`, `-.5`, `-1e3`. */
const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * node:util parseArgs reads a token that starts with a dash as an option, so `--from -5` is an error there
 * ("argument is ambiguous") instead of the value -5. A string-typed flag followed by a token that looks like a
 * negative number takes it as its value: rewritten to `--from=-5`, which the flag's own check then judges.
 */
export function joinNegativeValues(argv: readonly string[], options: FlagSpec): string[] {
  const takesValue = (name: string | undefined) => name !== undefined && options[name]?.type === "string";
  const longOf = (short: string) => Object.keys(options).find((n) => options[n]?.short === short);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = /^--[^=]+$/.test(token)
      ? token.slice(2)
      : /^-[^-]$/.test(token)
        ? longOf(token.slice(1))
        : undefined;
    if (next !== undefined && takesValue(name) && NEGATIVE_NUMBER.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
}

/** Strict parsing: unknown flags and missing values are UsageErrors, never ignored. */
export function parse<T extends FlagSpec>(
  argv: string[],
  options: T,
  allowPositionals = false,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  const spec = { ...options, help: { type: "boolean", short: "h" } } as FlagSpec;
  try {
    return parseArgs({
      args: joinNegativeValues(argv, spec),
      options: spec,
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

/** The range a numeric flag accepts, both ends inclusive: every numeric flag states both. */
export interface NumericRange {
  min: number;
  max: number;
  /** Whole numbers only. */
  integer: boolean;
}

/** Upper bound of flags without a natural one: the largest integer a JS number holds exactly. */
export const NO_MAX = Number.MAX_SAFE_INTEGER;
/** The longest delay a Node timer keeps (2^31-1 ms, ~24.8 days): longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;
/** Kafka's int32 counts (partitions). */
export const MAX_INT32 = 2_147_483_647;
/** The latest time a JS Date holds, in ms since the epoch. */
export const MAX_DATE_MS = 8.64e15;

function describeRange(r: NumericRange): string {
  return `${r.integer ? "an integer" : "a number"} ${r.max >= NO_MAX ? `>= ${r.min}` : `between ${r.min} and ${r.max}`}`;
}

/**
 * The one validator of numeric flags (and of numbers inside flag values: offsets, timestamps, partitions): `value`
 * (undefined: `fallback`) must be a number in [min, max], an integer if `integer`; otherwise a UsageError naming
 * the flag and the range. `source` says where a value not given on the command line came from.
 */
export function numericFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  range: NumericRange,
  source?: string,
): number {
  if (value === undefined) return fallback;
  const text = value.trim();
  // Decimal notation only: Number() would also read "0x10", "0b1" and "" (as 0).
  const n = DECIMAL.test(text) ? Number(text) : NaN;
  const ok = range.integer ? Number.isSafeInteger(n) : Number.isFinite(n);
  if (!ok || n < range.min || n > range.max)
    throw new UsageError(
      `--${name}${source ? ` (from ${source})` : ""} must be ${describeRange(range)}, got '${value}'`,
    );
  return n;
}

export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
  source?: string,
): number {
  return numericFlag(name, value, fallback, { min, max, integer: true }, source);
}

export function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
  source?: string,
): number {
  return numericFlag(name, value, fallback, { min, max, integer: false }, source);
}

/** A latency range flag, `MIN,MAX` in ms (or one number: a fixed latency); default [1, 20]. */
export function latencyRange(name: string, value: string | undefined): [number, number] {
  if (value === undefined) return [1, 20];
  const parts = value.split(",");
  if (parts.length > 2) throw new UsageError(`--${name} expects MIN,MAX in ms, got '${value}'`);
  const min = numberFlag(name, parts[0]!.trim(), 0, 0, 60_000);
  const max = numberFlag(name, (parts[1] ?? parts[0]!).trim(), 0, 0, 60_000);
  if (max < min) throw new UsageError(`--${name}: MAX ${max} is below MIN ${min}`);
  return [min, max];
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

/**
 * Run a command body: UsageError → message + hint, exit 2; ConfigError (configuration that can never work, e.g. a
 * Kafka property librdkafka rejects) → message, exit 2; other errors → message, exit 1.
 */
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
    if (err instanceof ConfigError) {
      process.stderr.write(`weir ${name}: ${err.message}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`weir ${name}: ${message}\n`);
    return 1;
  }
}
