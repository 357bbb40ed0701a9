/**
 * The tasks a worker runs, by id and by input partition. A task object can be replaced while a caller still holds
 * the old one (an abort reopens every task; a revoke that started before it then closes what it looked up): removing
 * an object removes only the entries that still point to that object, so a stale close never drops its successor.
 */
import { tpKey } from "../kafka.js";

export interface RegisteredTask {
  readonly task: { readonly id: string };
  readonly partitions: ReadonlyArray<{ topic: string; partition: number }>;
}

export class TaskRegistry<T extends RegisteredTask> {
  readonly #byId = new Map<string, T>();
  readonly #byPartition = new Map<string, T>();

  get size(): number {
    return this.#byId.size;
  }

  get partitionCount(): number {
    return this.#byPartition.size;
  }

  values(): IterableIterator<T> {
    return this.#byId.values();
  }

  partitionKeys(): IterableIterator<string> {
    return this.#byPartition.keys();
  }

  get(id: string): T | undefined {
    return this.#byId.get(id);
  }

  ofPartition(key: string): T | undefined {
    return this.#byPartition.get(key);
  }

  add(active: T): void {
    this.#byId.set(active.task.id, active);
    for (const tp of active.partitions) this.#byPartition.set(tpKey(tp.topic, tp.partition), active);
  }

  /** A partition added to a task that already runs (a co-partitioned topic assigned in a later rebalance). */
  addPartition(active: T, topic: string, partition: number): void {
    this.#byPartition.set(tpKey(topic, partition), active);
  }

  /** Remove this object's entries; entries already taken over by a newer object of the same task stay. */
  remove(active: T): void {
    if (this.#byId.get(active.task.id) === active) this.#byId.delete(active.task.id);
    for (const tp of active.partitions) {
      const k = tpKey(tp.topic, tp.partition);
      if (this.#byPartition.get(k) === active) this.#byPartition.delete(k);
    }
  }

  /** The current task objects of these partitions (looked up now, not earlier). */
  tasksOf(partitions: ReadonlyArray<{ topic: string; partition: number }>): Set<T> {
    const out = new Set<T>();
    for (const tp of partitions) {
      const t = this.#byPartition.get(tpKey(tp.topic, tp.partition));
      if (t) out.add(t);
    }
    return out;
  }
}
