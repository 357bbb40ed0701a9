/**
 * How long a weir worker takes to restore its stores, from its own log events: used by `npm run bench:restore`
 * (bench/restore.ts, in process) and by weir's contender of `npm run bench`'s `restore` workload
 * (bench/peers/weir-peer.ts, a child process).
 */
import type { LogLevel, Logger } from "../topology/index.js";
import { now } from "./lib.js";

export interface RestoreEvent {
  msg: string;
  at: number;
  fields: Record<string, unknown>;
}

/**
 * A logger that records the worker's log events with the time they happened (performance.now()); warnings and errors
 * also go to `warn` (by default stderr, as JSON lines).
 */
export function recordingLogger(
  events: RestoreEvent[],
  base: Record<string, unknown> = {},
  warn: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const emit =
    (level: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      events.push({ msg, at: now(), fields: { ...base, ...fields } });
      if (level === "warn" || level === "error")
        warn(JSON.stringify({ level, msg, ...base, ...fields }) + "\n");
    };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (f) => recordingLogger(events, { ...base, ...f }, warn),
  };
}

/**
 * The restore spans in the events: `sumMs`, each store partition's "restoring store" → "store restored" added up
 * (a worker restores its partitions one after another); `wallMs`, the first "restoring store" to the last "store
 * restored"; `reportedSeconds`, the durations the worker itself put in its "store restored" events.
 */
export function restoreSpans(events: RestoreEvent[]): {
  sumMs: number;
  wallMs: number;
  reportedSeconds: number;
} {
  let sumMs = 0;
  let reportedSeconds = 0;
  let first: number | undefined;
  let last: number | undefined;
  const begun = new Map<string, number>();
  for (const e of events) {
    const key = `${String(e.fields.store)}/${String(e.fields.partition)}`;
    if (e.msg === "restoring store") {
      begun.set(key, e.at);
      first ??= e.at;
    }
    if (e.msg === "store restored" && begun.has(key)) {
      sumMs += e.at - begun.get(key)!;
      reportedSeconds += Number(e.fields.seconds ?? 0);
      last = e.at;
    }
  }
  return { sumMs, wallMs: first !== undefined && last !== undefined ? last - first : 0, reportedSeconds };
}
