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
import { MAX_DATE_MS, MAX_INT32, NO_MAX, UsageError, intFlag } from "./args.js";

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

/** A number as a token (range-checked by the flag validator, so `-5` or `1.5` get a message with the range). */
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

export function parsePosition(flag: string, text: string): Position {
  const t = text.trim();
  if (t === "beginning" || t === "earliest") return { kind: "beginning" };
  if (t === "end" || t === "latest") return { kind: "end" };
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (ms < 0 || ms > MAX_DATE_MS)
      throw new UsageError(`--${flag}: ${t} is out of range: dates from 1970-01-01 on (Kafka timestamps)`);
    if (Number.isFinite(ms)) return { kind: "timestamp", ms };
  }
  if (NUMBER.test(t)) return { kind: "offset", offset: intFlag(`${flag} offset`, t, 0, 0, NO_MAX) };
  const at = /^@(.*)$/.exec(t);
  if (at && NUMBER.test(at[1]!))
    return { kind: "timestamp", ms: intFlag(`${flag} timestamp`, at[1], 0, 0, MAX_DATE_MS) };
  throw new UsageError(
    `--${flag}: cannot read '${text}': expected an offset (1234), a timestamp in ms (@1700000000000), an ISO date ` +
      `(2024-05-01T12:00:00Z), beginning or end — optionally per partition (0:100,1:250)`,
  );
}

export function parseRangeSpec(flag: string, text: string): RangeSpec {
  const spec: RangeSpec = { partitions: new Map() };
  if (text.trim() === "") throw new UsageError(`--${flag} must not be empty`);
  for (const item of text.split(",")) {
    const m = /^\s*([-+]?\d+):(.+)$/.exec(item);
    if (m) {
      const partition = intFlag(`${flag} partition`, m[1], 0, 0, MAX_INT32 - 1);
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

/**
 * An inverted range (--from after --to) is a UsageError, whatever the topic holds: checked where the two positions
 * compare without the broker (two offsets, two times, end → beginning), for every listed partition and for the
 * others. Positions of different kinds are compared once resolved to offsets (see invertedPartitions).
 */
export function checkRange(from: RangeSpec | undefined, to: RangeSpec | undefined): void {
  const partitions = new Set([...(from?.partitions.keys() ?? []), ...(to?.partitions.keys() ?? [])]);
  const pairs: Array<[partition: number | undefined, from: Position, to: Position]> = [
    [undefined, from?.all ?? { kind: "beginning" }, to?.all ?? { kind: "end" }],
    ...[...partitions].map((p): [number, Position, Position] => [
      p,
      positionOf(from, p, { kind: "beginning" }),
      positionOf(to, p, { kind: "end" }),
    ]),
  ];
  for (const [p, f, t] of pairs) {
    const inverted =
      (f.kind === "offset" && t.kind === "offset" && f.offset > t.offset) ||
      (f.kind === "timestamp" && t.kind === "timestamp" && f.ms > t.ms) ||
      (f.kind === "end" && t.kind === "beginning");
    if (inverted)
      throw new UsageError(
        `inverted range${p === undefined ? "" : ` for partition ${p}`}: --from ${describePosition(f)} is after ` +
          `--to ${describePosition(t)} (--from is the first position, inclusive; --to the end, exclusive)`,
      );
  }
}

/** Resolved ranges where --from lies after --to (positions of different kinds, e.g. a time and an offset). */
export function invertedPartitions(
  ranges: ReadonlyArray<{ partition: number; from: number; to: number }>,
): string | undefined {
  const inverted = ranges.filter((r) => r.from > r.to);
  if (inverted.length === 0) return undefined;
  return (
    `inverted range: --from is after --to on partition${inverted.length > 1 ? "s" : ""} ` +
    inverted.map((r) => `${r.partition} (--from at offset ${r.from}, --to at offset ${r.to})`).join(", ") +
    " (--from is the first position, inclusive; --to the end, exclusive)"
  );
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
