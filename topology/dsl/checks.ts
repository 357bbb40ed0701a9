/** Argument checks the DSL's aggregations share: each a TopologyError naming the node. */
import { TopologyError } from "../errors.js";
import type { Serde } from "../serdes.js";

/** Throws unless every named member of `fns` is a function. */
export function requireFunctions(
  name: string,
  fns: Record<string, unknown> | undefined,
  names: string[],
): void {
  if (names.some((n) => typeof fns?.[n] !== "function"))
    throw new TopologyError(`'${name}' needs { ${names.join(", ")} } functions`, { node: name });
}

/** The value serde of an aggregation's store, or a TopologyError asking for it. */
export function requireValueSerde<VA>(name: string, value: Serde<VA> | undefined): Serde<VA> {
  if (!value)
    throw new TopologyError(`'${name}' needs a value serde for its store; pass { value }`, { node: name });
  return value;
}

/** A window's length in milliseconds: an integer, positive or (`zero: true`) at least 0; else a TopologyError. */
export function requireMs(ms: number, what: string, { zero = false }: { zero?: boolean } = {}): void {
  if (!Number.isSafeInteger(ms) || ms < 0 || (ms === 0 && !zero))
    throw new TopologyError(`${what} must be a ${zero ? "non-negative" : "positive"} integer, got ${ms}`);
}
