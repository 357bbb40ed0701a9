import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { filterRecords, flatMapRecords, mapValues, selectKey } from "./operators.js";
import type { StreamRecord } from "./record.js";

const rec = (key: string, value: number, timestamp = 1): StreamRecord<string, number> => ({
  key,
  value,
  timestamp,
  headers: { h: key },
  topic: "t",
  partition: 0,
  offset: timestamp,
});

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe("record operators (marble tests)", () => {
  const a = rec("a", 1, 10);
  const b = rec("b", 2, 20);
  const c = rec("c", 3, 30);

  it("mapValues keeps key, timestamp and headers", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold("-a-b-|", { a, b });
      expectObservable(source.pipe(mapValues((v) => v * 10))).toBe("-x-y-|", {
        x: { key: "a", value: 10, timestamp: 10, headers: { h: "a" } },
        y: { key: "b", value: 20, timestamp: 20, headers: { h: "b" } },
      });
    });
  });

  it("selectKey re-keys and keeps the value", () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold("-a-|", { a }).pipe(selectKey((r) => `${r.key}!`))).toBe("-x-|", {
        x: { key: "a!", value: 1, timestamp: 10, headers: { h: "a" } },
      });
    });
  });

  it("filterRecords drops what does not match, in the same frame", () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold("-a-b-c-|", { a, b, c }).pipe(filterRecords((r) => r.value % 2 === 1))).toBe(
        "-x---z-|",
        {
          x: { key: "a", value: 1, timestamp: 10, headers: { h: "a" } },
          z: { key: "c", value: 3, timestamp: 30, headers: { h: "c" } },
        },
      );
    });
  });

  it("flatMapRecords emits zero or more records synchronously, inheriting the timestamp", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const split = flatMapRecords<string, number, string, number>((r) =>
        Array.from({ length: r.value - 1 }, (_, i) => ({ key: `${r.key}${i}`, value: i })),
      );
      expectObservable(cold("-a-b-c---|", { a, b, c }).pipe(split)).toBe("---x-(yz)|", {
        x: { key: "b0", value: 0, timestamp: 20, headers: { h: "b" } },
        y: { key: "c0", value: 0, timestamp: 30, headers: { h: "c" } },
        z: { key: "c1", value: 1, timestamp: 30, headers: { h: "c" } },
      });
    });
  });
});
