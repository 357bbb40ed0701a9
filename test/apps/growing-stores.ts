/**
 * Two processors whose store values grow until they cannot be written, for the failure tests (unit and
 * integration): a per-key list that outgrows the record limit, and a per-key number that overflows to Infinity.
 */
import { map } from "rxjs";
import { Serdes, Stores, type ProcessorFactory, type TopologyBuilder } from "../../topology/index.js";

export const LISTS_STORE = "lists";
export const LEVELS_STORE = "levels";

export function declareListsStore(b: TopologyBuilder): void {
  b.store(LISTS_STORE, Stores.keyValue(Serdes.string(), Serdes.json<string[]>()));
}

export function declareLevelsStore(b: TopologyBuilder): void {
  b.store(LEVELS_STORE, Stores.keyValue(Serdes.string(), Serdes.number()));
}

/** Appends each value to the key's list in "lists" and emits the list's new length. */
export const appendToList: ProcessorFactory<string, string, string, string> = (ctx) => {
  const lists = ctx.keyValueStore<string, string[]>(LISTS_STORE);
  return map((r) => {
    const list = [...(lists.get(r.key) ?? []), r.value];
    lists.put(r.key, list);
    return { key: r.key, value: String(list.length) };
  });
};

/** Adds each value to the key's level in "levels" and emits the new level. */
export const addToLevel: ProcessorFactory<string, number, string, number> = (ctx) => {
  const levels = ctx.keyValueStore<string, number>(LEVELS_STORE);
  return map((r) => {
    const level = (levels.get(r.key) ?? 0) + r.value;
    levels.put(r.key, level);
    return { key: r.key, value: level };
  });
};
