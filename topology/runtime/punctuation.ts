/**
 * The punctuation rule, shared by the runtime's tasks and weir/testing's MockProcessorContext: a punctuator fires
 * when its clock has advanced by at least its interval since it last fired; a stream-time schedule starts at the
 * first record (its `last` is -1 until then), a wall-clock one when it is registered.
 */
import type { Subject } from "rxjs";
import type { PunctuationKind } from "../builder.js";

export interface Punctuator {
  kind: PunctuationKind;
  intervalMs: number;
  /** The time it last fired, or started; -1: not started. */
  last: number;
  subject: Subject<number>;
}

/** The punctuators of `kind` that are due at `now`, each marked as fired at `now`; starts the ones not started. */
export function duePunctuators(
  punctuators: Iterable<Punctuator>,
  kind: PunctuationKind,
  now: number,
): Punctuator[] {
  const due: Punctuator[] = [];
  if (now < 0) return due;
  for (const p of punctuators) {
    if (p.kind !== kind) continue;
    if (p.last < 0) {
      p.last = now;
      continue;
    }
    if (now - p.last < p.intervalMs) continue;
    p.last = now;
    due.push(p);
  }
  return due;
}
