/**
 * The positions of `weir replay --from/--to` (and `weir reset --to-datetime`): offsets, timestamps or ISO dates,
 * for every partition or per partition, and their resolution to offsets against the broker.
 *
 *   1234                   offset 1234
 *   @1700000000000         the first record with timestamp >= 1700000000000 (ms since the epoch)
 *   2024-05-01T12:00:00Z   the same for an ISO-8601 date
 *   beginning | earliest   the log start
 *   end | latest           the end of the log when the command starts
 *   0:100,1:250            per partition (each value in any of the forms above); a list without an
 *                          all-partitions item selects only the listed partitions
 *   1000,2:0               all partitions from 1000, except partition 2 from 0
 */
import { UsageError } from "./args.js";

export type Position =
  | { kind: "offset"; offset: number }
  | { kind: "timestamp"; ms: number }
  | { kind: "beginning" }
  | { kind: "end" };

export interface RangeSpec {
  /** The position of partitions not listed. */
  all?: Position;
  partitions: Map<number, Position>;
}

export function parsePosition(flag: string, text: string): Position {
  const t = text.trim();
  if (t === "beginning" || t === "earliest") return { kind: "beginning" };
  if (t === "end" || t === "latest") return { kind: "end" };
  if (/^\d+$/.test(t)) return { kind: "offset", offset: Number(t) };
  const at = /^@(\d+)$/.exec(t);
  if (at) return { kind: "timestamp", ms: Number(at[1]) };
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return { kind: "timestamp", ms };
  }
  throw new UsageError(
    `--${flag}: cannot read '${text}': expected an offset (1234), a timestamp in ms (@1700000000000), an ISO date ` +
      `(2024-05-01T12:00:00Z), beginning or end — optionally per partition (0:100,1:250)`,
  );
}

export function parseRangeSpec(flag: string, text: string): RangeSpec {
  const spec: RangeSpec = { partitions: new Map() };
  if (text.trim() === "") throw new UsageError(`--${flag} must not be empty`);
  for (const item of text.split(",")) {
    const m = /^\s*(\d+):(.+)$/.exec(item);
    if (m) {
      const partition = Number(m[1]);
      if (spec.partitions.has(partition))
        throw new UsageError(`--${flag}: partition ${partition} is given twice`);
      spec.partitions.set(partition, parsePosition(flag, m[2]!));
    } else {
      if (spec.all) throw new UsageError(`--${flag}: more than one value for all partitions in '${text}'`);
      spec.all = parsePosition(flag, item);
    }
  }
  return spec;
}

/**
 * The partitions a replay reads: all of them, unless a flag is a per-partition list without an all-partitions
 * item; then only the listed ones. Listed partitions that do not exist are a UsageError.
 */
export function selectPartitions(count: number, ...specs: Array<RangeSpec | undefined>): number[] {
  for (const s of specs)
    for (const p of s?.partitions.keys() ?? [])
      if (p >= count)
        throw new UsageError(`partition ${p} does not exist: the topic has partitions 0..${count - 1}`);
  const restricting = specs.filter(
    (s): s is RangeSpec => s !== undefined && s.all === undefined && s.partitions.size > 0,
  );
  const all = Array.from({ length: count }, (_, p) => p);
  if (restricting.length === 0) return all;
  return all.filter((p) => restricting.some((s) => s.partitions.has(p)));
}

export function positionOf(spec: RangeSpec | undefined, partition: number, fallback: Position): Position {
  return spec?.partitions.get(partition) ?? spec?.all ?? fallback;
}

export function describePosition(p: Position): string {
  switch (p.kind) {
    case "offset":
      return String(p.offset);
    case "timestamp":
      return new Date(p.ms).toISOString();
    default:
      return p.kind;
  }
}

/**
 * An offset for a position within the partition's [low, high] watermarks. `forTime` answers offsetsForTimes:
 * the first offset with a timestamp >= ms, or a negative number when there is none (then: high).
 */
export async function resolvePosition(
  p: Position,
  low: number,
  high: number,
  forTime: (ms: number) => Promise<number>,
): Promise<number> {
  switch (p.kind) {
    case "beginning":
      return low;
    case "end":
      return high;
    case "offset":
      return Math.min(Math.max(p.offset, low), high);
    case "timestamp": {
      const o = await forTime(p.ms);
      return o < 0 ? high : Math.min(Math.max(o, low), high);
    }
  }
}
