import { describe, expect, it } from "vitest";
import { TaskRegistry } from "./task-registry.js";

const task = (id: string, ...partitions: number[]) => ({
  task: { id },
  partitions: partitions.map((partition) => ({ topic: "in", partition })),
});

describe("TaskRegistry", () => {
  it("indexes tasks by id and by partition", () => {
    const r = new TaskRegistry<ReturnType<typeof task>>();
    const a = task("0_0", 0);
    const b = task("0_1", 1);
    r.add(a);
    r.add(b);
    expect(r.size).toBe(2);
    expect(r.partitionCount).toBe(2);
    expect(r.ofPartition("in/1")).toBe(b);
    expect([...r.tasksOf([{ topic: "in", partition: 0 }])]).toEqual([a]);
    r.remove(a);
    expect(r.get("0_0")).toBeUndefined();
    expect(r.ofPartition("in/0")).toBeUndefined();
  });

  // The revoke-after-failed-commit sequence: a revoke looks its tasks up, its commit fails, the abort reopens every
  // task as new objects, and the revoke then closes what it had looked up. The stale close must not take the
  // reopened task out of the id map while leaving it in the partition index (a leaked task).
  it("closing a stale object never removes its successor", () => {
    const r = new TaskRegistry<ReturnType<typeof task>>();
    const stale = task("0_0", 0);
    r.add(stale);
    const lookedUpByRevoke = [...r.tasksOf([{ topic: "in", partition: 0 }])];
    // abort-and-rewind: close (remove) and reopen every task
    r.remove(stale);
    const reopened = task("0_0", 0);
    r.add(reopened);
    // the revoke closes the object it looked up earlier
    for (const t of lookedUpByRevoke) r.remove(t);
    expect(r.get("0_0")).toBe(reopened);
    expect(r.ofPartition("in/0")).toBe(reopened);
    // looked up again (as the worker's revoke now does), the current object is found and removed consistently
    for (const t of r.tasksOf([{ topic: "in", partition: 0 }])) r.remove(t);
    expect(r.size).toBe(0);
    expect(r.partitionCount).toBe(0);
  });
});
