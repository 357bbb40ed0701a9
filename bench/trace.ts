/**
 * `--trace`: where a worker's wall-clock time goes, measured from outside the engine by wrapping the client's
 * prototype methods (no change to topology/): time spent waiting for consume(n) callbacks, for each transaction
 * call and flush, in commitSync, and in produce() itself. Whatever is left is JavaScript processing time.
 */
import { Kafka } from "../topology/kafka.js";

export interface Phase {
  calls: number;
  ms: number;
  /** consume: messages returned */
  items?: number;
}

type AnyFn = (...args: unknown[]) => unknown;
const phases = new Map<string, Phase>();
let installed = false;

function add(name: string, ms: number, items?: number): void {
  const p = phases.get(name) ?? { calls: 0, ms: 0 };
  p.calls++;
  p.ms += ms;
  if (items !== undefined) p.items = (p.items ?? 0) + items;
  phases.set(name, p);
}

/** Wrap a callback-last method: the phase lasts from the call to its callback. */
function wrapAsync(
  proto: Record<string, unknown>,
  method: string,
  name = method,
  count?: (result: unknown) => number,
): void {
  const original = proto[method] as AnyFn;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    const i = args.length - 1;
    const cb = args[i];
    if (typeof cb !== "function") return original.apply(this, args);
    const t0 = performance.now();
    args[i] = (err: unknown, result: unknown) => {
      add(name, performance.now() - t0, count ? count(result) : undefined);
      return (cb as AnyFn)(err, result);
    };
    return original.apply(this, args);
  };
}

/** Wrap a synchronous method. */
function wrapSync(proto: Record<string, unknown>, method: string, name = method): void {
  const original = proto[method] as AnyFn;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      add(name, performance.now() - t0);
    }
  };
}

export function installTrace(): void {
  if (installed) return;
  installed = true;
  const producer = Kafka.Producer.prototype as unknown as Record<string, unknown>;
  const consumer = Kafka.KafkaConsumer.prototype as unknown as Record<string, unknown>;
  for (const m of ["beginTransaction", "sendOffsetsToTransaction", "commitTransaction", "flush"])
    wrapAsync(producer, m);
  wrapSync(producer, "produce");
  wrapAsync(consumer, "consume", "consume", (messages) => (Array.isArray(messages) ? messages.length : 0));
  wrapSync(consumer, "commitSync");
}

export function resetTrace(): void {
  phases.clear();
}

/** Phases as a table-ready list, with their share of `wallMs`. */
export function traceReport(
  wallMs: number,
): Array<{ phase: string; calls: number; ms: number; share: string; perCallMs: string; items?: number }> {
  return [...phases]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([phase, p]) => ({
      phase,
      calls: p.calls,
      ms: Math.round(p.ms),
      share: `${((100 * p.ms) / wallMs).toFixed(1)}%`,
      perCallMs: (p.ms / p.calls).toFixed(p.ms / p.calls < 1 ? 3 : 1),
      ...(p.items !== undefined ? { items: p.items } : {}),
    }));
}
