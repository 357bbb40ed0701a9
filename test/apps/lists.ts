/**
 * A processor that appends each value to a per-key list in the key-value store "lists" and emits the list's new
 * length: a store value that grows with every record of its key (the failure tests drive it past the record limit).
 */
import { map } from "rxjs";
import { Serdes, Stores, type ProcessorFactory, type TopologyBuilder } from "../../topology/index.js";

export const LISTS_STORE = "lists";

export function declareListsStore(b: TopologyBuilder): void {
  b.store(LISTS_STORE, Stores.keyValue(Serdes.string(), Serdes.json<string[]>()));
}

export const appendToList: ProcessorFactory<string, string, string, string> = (ctx) => {
  const lists = ctx.keyValueStore<string, string[]>(LISTS_STORE);
  return map((r) => {
    const list = [...(lists.get(r.key) ?? []), r.value];
    lists.put(r.key, list);
    return { key: r.key, value: String(list.length) };
  });
};
