/**
 * Asynchronous processors (KStream.processAsync) in the test driver: the ordering modes with calls completing out of
 * order, the concurrency limit, time limits and retries ending in the dead-letter topic, and a stateful processor
 * after an asynchronous one seeing each key's records in offset order.
 */
import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import {
  Stores,
  TopologyBuilder,
  type AsyncOrdering,
  type AsyncProcessorFunction,
  type AsyncProcessorOptions,
} from "../builder.js";
import { DeadLetterHeader } from "../dead-letter.js";
import { describeText } from "../describe.js";
import { TopologyTestDriver } from "../driver.js";
import { ConfigError, TopologyError } from "../errors.js";
import type { StreamRecord } from "../record.js";
import { Serdes } from "../serdes.js";

const s = Serdes.string();

/** A call the test completes by hand: `release(value)` resolves the call made for that input value. */
function handCompleted() {
  const waiting = new Map<string, (v: string) => void>();
  const started: string[] = [];
  const fn = (r: StreamRecord<string, string>) =>
    new Promise<{ key: string; value: string }>((resolve) => {
      started.push(r.value);
      waiting.set(r.value, (v) => resolve({ key: r.key, value: v }));
    });
  const release = (value: string) => {
    const done = waiting.get(value);
    if (!done) throw new Error(`no call in flight for ${value} (started: ${started.join(",")})`);
    waiting.delete(value);
    done(`${value}!`);
  };
  return { fn, started, release };
}

function app(fn: AsyncProcessorFunction<string, string, string, string>, options: AsyncProcessorOptions) {
  const b = new TopologyBuilder("app");
  b.stream("in", { key: s, value: s }).processAsync("call", fn, options).to("out", { key: s, value: s });
  return new TopologyTestDriver(b.build());
}

const values = (d: TopologyTestDriver) => d.readOutput<string, string>("out").map((r) => r.value);

describe("processAsync ordering", () => {
  it("per-key: a key's records are called one at a time and emit in offset order; other keys overtake", async () => {
    const h = handCompleted();
    const d = app(h.fn, { ordering: "per-key" });
    d.pipeInput("in", [
      { key: "A", value: "a1" },
      { key: "B", value: "b1" },
      { key: "A", value: "a2" },
    ]);
    await d.pollAsync();
    expect(h.started).toEqual(["a1", "b1"]); // a2 waits for a1
    h.release("b1");
    await d.pollAsync();
    expect(values(d)).toEqual(["b1!"]);
    h.release("a1");
    await d.pollAsync();
    expect(values(d)).toEqual(["a1!"]);
    expect(h.started).toEqual(["a1", "b1", "a2"]); // started once a1's output went downstream
    h.release("a2");
    await d.settle();
    expect(values(d)).toEqual(["a2!"]);
    d.close();
  });

  it("none: calls overlap freely and emit as they complete", async () => {
    const h = handCompleted();
    const d = app(h.fn, { ordering: "none" });
    d.pipeInput("in", [
      { key: "A", value: "a1" },
      { key: "A", value: "a2" },
    ]);
    await d.pollAsync();
    expect(h.started).toEqual(["a1", "a2"]);
    h.release("a2");
    h.release("a1");
    await d.settle();
    expect(values(d)).toEqual(["a2!", "a1!"]);
    d.close();
  });

  it("in-order: calls overlap, and a result waits for every earlier one to go downstream", async () => {
    const h = handCompleted();
    const d = app(h.fn, { ordering: "in-order" });
    d.pipeInput("in", [
      { key: "A", value: "a1" },
      { key: "B", value: "b1" },
      { key: "A", value: "a2" },
      { key: "C", value: "c1" },
    ]);
    await d.pollAsync();
    expect(h.started).toEqual(["a1", "b1", "a2", "c1"]); // all at once, the same key too
    h.release("c1");
    h.release("b1");
    await d.pollAsync();
    expect(values(d)).toEqual([]); // a1 is not back: nothing may pass it
    h.release("a1");
    await d.pollAsync();
    expect(values(d)).toEqual(["a1!", "b1!"]); // then a2 holds c1 back
    h.release("a2");
    await d.settle();
    expect(values(d)).toEqual(["a2!", "c1!"]);
    d.close();
  });

  it("per-partition: one call at a time, in input order", async () => {
    const h = handCompleted();
    const d = app(h.fn, { ordering: "per-partition" });
    d.pipeInput("in", [
      { key: "A", value: "a1" },
      { key: "B", value: "b1" },
    ]);
    await d.pollAsync();
    expect(h.started).toEqual(["a1"]);
    h.release("a1");
    await d.pollAsync();
    expect(h.started).toEqual(["a1", "b1"]);
    h.release("b1");
    await d.settle();
    expect(values(d)).toEqual(["a1!", "b1!"]);
    d.close();
  });

  it("a counter after the asynchronous processor sees each key in offset order, whatever order calls complete in", async () => {
    const b = new TopologyBuilder("app");
    b.store("counts", Stores.keyValue(s, Serdes.number()));
    b.stream("in", { key: s, value: s })
      .processAsync(
        "slow",
        async (r) => {
          await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 8)));
          return { key: r.key, value: r.value };
        },
        { concurrency: 8 },
      )
      .process(
        "count",
        (ctx) => {
          const counts = ctx.keyValueStore<string, number>("counts");
          return map((r: StreamRecord<string, string>) => {
            const n = (counts.get(r.key) ?? 0) + 1;
            counts.put(r.key, n);
            return { key: r.key, value: `${r.value}:${n}` };
          });
        },
        { stores: ["counts"] },
      )
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build());
    const input = Array.from({ length: 60 }, (_, i) => ({ key: `k${i % 4}`, value: String(i) }));
    d.pipeInput("in", input);
    await d.settle();
    const out = d.readOutput<string, string>("out");
    expect(out).toHaveLength(60);
    for (let k = 0; k < 4; k++) {
      const mine = out.filter((r) => r.key === `k${k}`).map((r) => r.value);
      // Input order per key, and the count 1..n with it.
      expect(mine).toEqual(input.filter((r) => r.key === `k${k}`).map((r, i) => `${r.value}:${i + 1}`));
    }
    d.close();
  });
});

describe("processAsync limits and failures", () => {
  it("never runs more than `concurrency` calls at once", async () => {
    let running = 0;
    let most = 0;
    const d = app(
      async (r: StreamRecord<string, string>) => {
        most = Math.max(most, ++running);
        await new Promise((res) => setTimeout(res, 2 + Math.floor(Math.random() * 5)));
        running--;
        return { key: r.key, value: r.value };
      },
      { concurrency: 3, ordering: "none" },
    );
    d.pipeInput(
      "in",
      Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
    );
    await d.settle();
    expect(most).toBe(3);
    expect(values(d).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 30 }, (_, i) => String(i)),
    );
    d.close();
  });

  it("a call past its time limit is aborted and its record dead-lettered with the reason", async () => {
    let aborted: unknown;
    const d = app(
      (r: StreamRecord<string, string>, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => (aborted = ctx.signal.reason));
          if (r.value !== "hang") resolve({ key: r.key, value: r.value });
        }),
      { timeoutMs: 30 },
    );
    d.pipeInput("in", [
      { key: "a", value: "hang" },
      { key: "b", value: "fine" },
    ]);
    await d.settle();
    expect(values(d)).toEqual(["fine"]);
    const [letter, ...more] = d.deadLetters();
    expect(more).toEqual([]);
    expect(letter!.value!.toString()).toBe("hang");
    expect(letter!.headers[DeadLetterHeader.errorClass]).toBe("AsyncProcessingError");
    expect(letter!.headers[DeadLetterHeader.errorMessage]).toMatch(
      /async processor 'call' failed after 1 attempt\(s\): timed out after 30 ms/,
    );
    expect(letter!.headers[DeadLetterHeader.offset]).toBe("0");
    expect(String(aborted)).toMatch(/timed out after 30 ms/);
    d.close();
  });

  it("retries with back-off; the record is dead-lettered only when every attempt failed", async () => {
    const calls = new Map<string, number[]>();
    const fn = async (r: StreamRecord<string, string>, ctx: { attempt: number }) => {
      if (!calls.has(r.value)) calls.set(r.value, []);
      calls.get(r.value)!.push(ctx.attempt);
      // "flaky" fails twice, "broken" always.
      if (r.value === "broken" || ctx.attempt < 3) throw new Error(`refused ${r.value}`);
      return { key: r.key, value: r.value };
    };
    const d = app(fn, { retry: { attempts: 3, backoffMs: 5 } });
    d.pipeInput("in", [
      { key: "a", value: "flaky" },
      { key: "b", value: "broken" },
    ]);
    await d.settle();
    expect(values(d)).toEqual(["flaky"]);
    expect(calls.get("flaky")).toEqual([1, 2, 3]);
    expect(calls.get("broken")).toEqual([1, 2, 3]);
    const [letter] = d.deadLetters();
    expect(letter!.value!.toString()).toBe("broken");
    expect(letter!.headers[DeadLetterHeader.errorMessage]).toMatch(
      /failed after 3 attempt\(s\): refused broken/,
    );
    d.close();
  });

  it("retry.when decides which failures get another call; weir's ConfigError never does", async () => {
    const calls = new Map<string, number>();
    const fn = async (r: StreamRecord<string, string>) => {
      calls.set(r.value, (calls.get(r.value) ?? 0) + 1);
      if (r.value === "bad-request") throw new Error("400 bad request");
      if (r.value === "no-config") throw new ConfigError("no service URL");
      throw new Error("503 busy");
    };
    const d = app(fn, {
      retry: { attempts: 3, backoffMs: 1, when: (e) => !/^400/.test((e as Error).message) },
    });
    d.pipeInput("in", [
      { key: "a", value: "bad-request" },
      { key: "b", value: "no-config" },
      { key: "c", value: "busy" },
    ]);
    await d.settle();
    expect(Object.fromEntries(calls)).toEqual({ "bad-request": 1, "no-config": 1, busy: 3 });
    expect(d.deadLetters().map((l) => l.headers[DeadLetterHeader.errorMessage])).toEqual([
      "async processor 'call' failed after 1 attempt(s): 400 bad request",
      "async processor 'call' failed after 1 attempt(s): no service URL",
      "async processor 'call' failed after 3 attempt(s): 503 busy",
    ]);
    d.close();
  });

  it("outputs keep the input's timestamp and headers unless the call sets them; a list emits several, null none", async () => {
    const d = app(
      async (r: StreamRecord<string, string>) =>
        r.value === "none"
          ? null
          : r.value === "two"
            ? [
                { key: r.key, value: "x" },
                { key: r.key, value: "y", timestamp: 7 },
              ]
            : { key: r.key, value: r.value },
      {},
    );
    d.pipeInput("in", [
      { key: "a", value: "one", timestamp: 100, headers: { trace: "t" } },
      { key: "b", value: "none", timestamp: 101 },
      { key: "c", value: "two", timestamp: 102 },
    ]);
    await d.settle();
    expect(d.readOutput<string, string>("out").map((r) => [r.key, r.value, r.timestamp, r.headers])).toEqual([
      ["a", "one", 100, { trace: "t" }],
      ["c", "x", 102, {}],
      ["c", "y", 7, {}],
    ]);
    d.close();
  });

  it("under the 'fail' processing handler, a failed call fails the task", async () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .processAsync("call", async () => {
        throw new Error("down");
      })
      .to("out", { key: s, value: s });
    const d = new TopologyTestDriver(b.build(), { errorHandlers: { processing: "fail" } });
    d.pipeInput("in", [{ key: "a", value: "v" }]);
    await expect(d.settle()).rejects.toThrow(/async processor 'call' failed after 1 attempt\(s\): down/);
    d.close();
  });

  it("describe shows the processor's limits", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", { key: s, value: s })
      .processAsync("call", async () => null, { concurrency: 8, ordering: "none", timeoutMs: 500 })
      .to("out", { key: s, value: s });
    expect(describeText(b.build())).toContain(
      "Processor: call (async: concurrency 8, none, timeout 500 ms, 1 attempt(s))",
    );
  });

  it.each<[string, AsyncProcessorOptions]>([
    ["concurrency must be an integer >= 1", { concurrency: 0 }],
    ["retry.attempts must be an integer >= 1", { retry: { attempts: 0 } }],
    ["unknown ordering 'random'", { ordering: "random" as AsyncOrdering }],
    ["timeoutMs must be a positive number", { timeoutMs: 0 }],
  ])("refuses bad options at build time: %s", (message, options) => {
    const b = new TopologyBuilder("app");
    expect(() =>
      b.stream("in", { key: s, value: s }).processAsync("call", async () => null, options),
    ).toThrow(TopologyError);
    expect(() =>
      b.stream("in2", { key: s, value: s }).processAsync("call2", async () => null, options),
    ).toThrow(message);
  });
});
