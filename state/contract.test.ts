/**
 * One contract suite, run against every StateBackend implementation: the engine must not be able to tell them apart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BufferedStore,
  keyValueStore,
  openLmdbState,
  openMemoryState,
  StoreClosedError,
  sessionStore,
  sessionValueSerde,
  windowStore,
  type StateBackend,
} from "./index.js";
import { b, jsonSerde, stringSerde, text } from "./test-support.js";

interface BackendFactory {
  create(): StateBackend;
  cleanup(): void;
}

function memoryFactory(): BackendFactory {
  return { create: () => openMemoryState(), cleanup: () => {} };
}

function lmdbFactory(): BackendFactory {
  let dir: string | undefined;
  return {
    create: () => {
      dir = mkdtempSync(join(tmpdir(), "weir-state-contract-"));
      return openLmdbState({ path: dir, mapSizeBytes: 256 * 1024 ** 2 });
    },
    cleanup: () => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stateBackendContract(kind: "memory" | "lmdb", makeFactory: () => BackendFactory): void {
  let factory: BackendFactory;
  let state: StateBackend;

  beforeEach(() => {
    factory = makeFactory();
    state = factory.create();
  });
  afterEach(() => {
    state.close();
    factory.cleanup();
  });

  const seed = (store: string, partition: number, entries: Record<string, string>, checkpoint?: number) =>
    state.apply([
      {
        store,
        partition,
        writes: Object.entries(entries).map(([k, v]) => [b(k), b(v)] as const),
        checkpoint,
      },
    ]);

  it("reports its kind", () => {
    expect(state.kind).toBe(kind);
    expect(state.path === undefined).toBe(kind === "memory");
  });

  it("open is idempotent per store-partition and separates partitions", () => {
    expect(state.open("s", 0)).toBe(state.open("s", 0));
    expect(state.open("s", 0)).not.toBe(state.open("s", 1));
    seed("s", 0, { a: "zero" });
    seed("s", 1, { a: "one" });
    seed("t", 0, { a: "other-store" });
    expect(state.open("s", 0).get(b("a"))?.toString()).toBe("zero");
    expect(state.open("s", 1).get(b("a"))?.toString()).toBe("one");
    expect(state.open("t", 0).get(b("a"))?.toString()).toBe("other-store");
  });

  it("get, put and delete through apply; later writes to a key win", () => {
    const store = state.open("kv", 0);
    expect(store.get(b("k"))).toBeUndefined();
    state.apply([
      {
        store: "kv",
        partition: 0,
        writes: [
          [b("k"), b("v1")],
          [b("k"), b("v2")],
          [b("gone"), b("x")],
          [b("gone"), null],
        ],
      },
    ]);
    expect(store.get(b("k"))?.toString()).toBe("v2");
    expect(store.get(b("gone"))).toBeUndefined();
    state.apply([{ store: "kv", partition: 0, writes: [[b("k"), null]] }]);
    expect(store.get(b("k"))).toBeUndefined();
    expect(store.approximateCount()).toBe(0);
  });

  it("returns copies: mutating a returned buffer does not change the store", () => {
    seed("kv", 0, { k: "value" });
    const store = state.open("kv", 0);
    const value = store.get(b("k")) as Buffer;
    value.fill(0);
    expect(store.get(b("k"))?.toString()).toBe("value");
  });

  it("range honours from (inclusive), to (exclusive), limit and reverse in byte order", () => {
    // Byte order, not locale order: "B" (0x42) < "a" (0x61) < "ab" < "b" < "\u00e9" (0xc3 0xa9).
    seed("kv", 0, { b: "4", a: "2", ab: "3", B: "1", "\u00e9": "5", c: "6" });
    const store = state.open("kv", 0);
    expect(text(store.range())).toEqual(["B=1", "a=2", "ab=3", "b=4", "c=6", "\u00e9=5"]);
    expect(text(store.range({ from: b("a"), to: b("c") }))).toEqual(["a=2", "ab=3", "b=4"]);
    expect(text(store.range({ from: b("aa") }))).toEqual(["ab=3", "b=4", "c=6", "\u00e9=5"]);
    expect(text(store.range({ to: b("ab") }))).toEqual(["B=1", "a=2"]);
    expect(text(store.range({ from: b("a"), to: b("c"), reverse: true }))).toEqual(["b=4", "ab=3", "a=2"]);
    expect(text(store.range({ reverse: true, limit: 2 }))).toEqual(["\u00e9=5", "c=6"]);
    expect(text(store.range({ from: b("a"), limit: 2 }))).toEqual(["a=2", "ab=3"]);
    expect(text(store.range({ limit: 0 }))).toEqual([]);
    expect(text(store.range({ from: b("x"), to: b("y") }))).toEqual([]);
    expect(text(store.range({ from: b("c"), to: b("a") }))).toEqual([]);
    expect(text(store.range({ from: b("c"), to: b("a"), reverse: true }))).toEqual([]);
  });

  describe("keys of any length (10 KB)", () => {
    /** A 10 KB key: `fill` repeated, then `tail` — keys differing only after 10,000 bytes share the long prefix. */
    const long = (fill: string, tail: string) => Buffer.concat([Buffer.alloc(10_000, fill), b(tail)]);

    it("put, get, overwrite and delete through apply", () => {
      const k1 = long("a", "1");
      const k2 = long("a", "2");
      state.apply([
        {
          store: "big",
          partition: 0,
          writes: [
            [k1, b("one")],
            [k2, b("two")],
          ],
        },
      ]);
      const store = state.open("big", 0);
      expect(store.get(k1)?.toString()).toBe("one");
      expect(store.get(k2)?.toString()).toBe("two");
      expect(store.get(long("a", "3"))).toBeUndefined();
      state.apply([
        {
          store: "big",
          partition: 0,
          writes: [
            [k1, b("uno")],
            [k2, null],
          ],
        },
      ]);
      expect(store.get(k1)?.toString()).toBe("uno");
      expect(store.get(k2)).toBeUndefined();
      expect(store.approximateCount()).toBe(1);
      state.apply([{ store: "big", partition: 0, writes: [[k1, null]] }]);
      expect(store.get(k1)).toBeUndefined();
      expect(store.approximateCount()).toBe(0);
    });

    it("range returns full keys with exact bounds; long and short keys keep byte order when they differ early", () => {
      const keys = [b("m"), long("b", "x"), long("c", "y"), b("zz"), long("a", "k")];
      state.apply([{ store: "big", partition: 0, writes: keys.map((k, i) => [k, b(String(i))] as const) }]);
      const store = state.open("big", 0);
      const all = [...store.range()].map(([k]) => k);
      expect(all.map((k) => k.length)).toEqual([10_001, 10_001, 10_001, 1, 2]);
      expect(all.map((k) => k.toString("latin1", 0, 1) + k.toString("latin1", k.length - 1))).toEqual([
        "ak",
        "bx",
        "cy",
        "mm",
        "zz",
      ]);
      // Bounds that are themselves long keys: from inclusive, to exclusive, by full key.
      const inside = [...store.range({ from: long("b", "x"), to: long("c", "y") })].map(([, v]) =>
        v?.toString(),
      );
      expect(inside).toEqual(["1"]);
      const reversed = [...store.range({ to: long("c", "z"), reverse: true, limit: 2 })].map(([, v]) =>
        v?.toString(),
      );
      expect(reversed).toEqual(["2", "1"]);
    });

    it("survives a restart and goes through the write buffer and a typed store", () => {
      const typed = keyValueStore("kv", new BufferedStore(state.open("kv", 0)), {
        key: stringSerde,
        value: stringSerde,
      });
      const id = "order-" + "9".repeat(10_000);
      typed.put(id, "waiting");
      expect(typed.get(id)).toBe("waiting");
      expect([...typed.prefixScan("order-")].map((e) => e.value)).toEqual(["waiting"]);
    });

    it("a window store keeps one long key's entries in time order", () => {
      const win = windowStore(
        "w",
        new BufferedStore(state.open("w", 0)),
        { key: stringSerde, value: stringSerde },
        1e9,
      );
      const id = "x".repeat(10_000);
      win.put(id, "third", 3000);
      win.put(id, "first", 1000);
      win.put(id + "!", "other key", 2000);
      win.put(id, "second", 2000);
      expect([...win.fetch(id, 0, 5000)].map((e) => e.value)).toEqual(["first", "second", "third"]);
      expect([...win.fetchAll(0, 5000)].map((e) => [e.key.length, e.value])).toEqual([
        [10_000, "first"],
        [10_001, "other key"],
        [10_000, "second"],
        [10_000, "third"],
      ]);
    });
  });

  it("approximateCount and approximateBytes grow with the data", () => {
    const store = state.open("kv", 0);
    expect(store.approximateCount()).toBe(0);
    const before = store.approximateBytes();
    seed("kv", 0, Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key-${i}`, "x".repeat(100)])));
    expect(store.approximateCount()).toBe(500);
    expect(store.approximateBytes()).toBeGreaterThan(before);
    expect(store.approximateBytes()).toBeGreaterThanOrEqual(500 * 100);
  });

  it("checkpoints round-trip per store-partition and are unchanged by a batch without one", () => {
    expect(state.open("kv", 0).checkpoint()).toBeUndefined();
    seed("kv", 0, { a: "1" }, 41);
    seed("kv", 1, { a: "1" }, 7);
    expect(state.open("kv", 0).checkpoint()).toBe(41);
    expect(state.open("kv", 1).checkpoint()).toBe(7);
    seed("kv", 0, { b: "2" });
    expect(state.open("kv", 0).checkpoint()).toBe(41);
    state.apply([{ store: "kv", partition: 0, writes: [], checkpoint: 2 ** 40 }]);
    expect(state.open("kv", 0).checkpoint()).toBe(2 ** 40);
  });

  it("apply writes several store-partitions in one call", () => {
    state.apply([
      { store: "a", partition: 0, writes: [[b("k"), b("a0")]], checkpoint: 10 },
      { store: "b", partition: 3, writes: [[b("k"), b("b3")]], checkpoint: 20 },
    ]);
    expect(state.open("a", 0).get(b("k"))?.toString()).toBe("a0");
    expect(state.open("b", 3).get(b("k"))?.toString()).toBe("b3");
    expect(state.open("a", 0).checkpoint()).toBe(10);
    expect(state.open("b", 3).checkpoint()).toBe(20);
  });

  it("apply is all-or-nothing when a writes iterable throws halfway", () => {
    seed("kv", 0, { kept: "old" }, 5);
    function* failing(): Generator<readonly [Buffer, Buffer | null]> {
      yield [b("kept"), b("new")];
      yield [b("fresh"), b("x")];
      throw new Error("serializer exploded");
    }
    expect(() =>
      state.apply([
        { store: "other", partition: 0, writes: [[b("o"), b("1")]], checkpoint: 99 },
        { store: "kv", partition: 0, writes: failing(), checkpoint: 6 },
      ]),
    ).toThrow("serializer exploded");
    expect(state.open("kv", 0).get(b("kept"))?.toString()).toBe("old");
    expect(state.open("kv", 0).get(b("fresh"))).toBeUndefined();
    expect(state.open("kv", 0).checkpoint()).toBe(5);
    expect(state.open("other", 0).get(b("o"))).toBeUndefined();
    expect(state.open("other", 0).checkpoint()).toBeUndefined();
  });

  it("rejects empty keys with an error naming the store, leaving state unchanged", () => {
    expect(() =>
      state.apply([
        {
          store: "kv",
          partition: 0,
          writes: [
            [b("a"), b("1")],
            [b(""), b("x")],
          ],
        },
      ]),
    ).toThrow(/state store "kv".*empty/);
    expect(state.open("kv", 0).get(b("a"))).toBeUndefined();
    const buffered = new BufferedStore(state.open("kv", 0));
    expect(() => buffered.put(b(""), b("x"))).toThrow(/"kv".*empty/);
  });

  it("wipe deletes entries and the checkpoint of one store-partition only", () => {
    seed("kv", 0, { a: "1", b: "2" }, 10);
    seed("kv", 1, { a: "1" }, 11);
    state.wipe("kv", 0);
    const wiped = state.open("kv", 0);
    expect([...wiped.range()]).toEqual([]);
    expect(wiped.checkpoint()).toBeUndefined();
    expect(wiped.approximateCount()).toBe(0);
    expect(state.open("kv", 1).get(b("a"))?.toString()).toBe("1");
    expect(state.open("kv", 1).checkpoint()).toBe(11);
    seed("kv", 0, { c: "3" }, 1);
    expect(text(wiped.range())).toEqual(["c=3"]);
  });

  it("list reports store-partitions with checkpoint and entry count", () => {
    seed("orders", 1, { a: "1", b: "2" }, 8);
    seed("orders", 0, { a: "1" });
    seed("dedupe", 2, { a: "1", b: "2", c: "3" }, 30);
    expect(state.list()).toEqual([
      { store: "dedupe", partition: 2, checkpoint: 30, entries: 3 },
      { store: "orders", partition: 0, checkpoint: undefined, entries: 1 },
      { store: "orders", partition: 1, checkpoint: 8, entries: 2 },
    ]);
  });

  it("a range iterator started before close throws on its next step", () => {
    seed("kv", 0, { a: "1", b: "2" });
    const entries = state.open("kv", 0).range();
    expect(entries.next().value?.[0].toString()).toBe("a");
    state.close();
    expect(() => entries.next()).toThrow(/"kv" partition 0 is closed/);
  });

  it("close is safe twice and any later use throws an error naming the store", () => {
    const store = state.open("seen-orders", 3);
    state.close();
    state.close();
    expect(() => store.get(b("a"))).toThrow(StoreClosedError);
    expect(() => store.get(b("a"))).toThrow(/"seen-orders" partition 3 is closed/);
    expect(() => store.range()).toThrow(/"seen-orders"/);
    expect(() => store.checkpoint()).toThrow(/"seen-orders"/);
    expect(() => store.approximateCount()).toThrow(/"seen-orders"/);
    expect(() => state.open("seen-orders", 3)).toThrow(/"seen-orders"/);
    expect(() => state.apply([{ store: "x", partition: 0, writes: [] }])).toThrow(StoreClosedError);
  });

  describe("BufferedStore", () => {
    it("reads its own writes before they are applied, and applies nothing by itself", () => {
      seed("kv", 0, { a: "stored", b: "stored" });
      const buffered = new BufferedStore(state.open("kv", 0));
      buffered.put(b("a"), b("buffered"));
      buffered.delete(b("b"));
      buffered.put(b("c"), b("new"));
      expect(buffered.get(b("a"))?.toString()).toBe("buffered");
      expect(buffered.get(b("b"))).toBeUndefined();
      expect(buffered.get(b("c"))?.toString()).toBe("new");
      expect(buffered.pendingWrites).toBe(3);
      expect(state.open("kv", 0).get(b("a"))?.toString()).toBe("stored");
      expect(state.open("kv", 0).get(b("c"))).toBeUndefined();
    });

    it("merges the buffer over the backend in range, with limit and reverse", () => {
      seed("kv", 0, { a: "1", c: "3", e: "5", g: "7" });
      const buffered = new BufferedStore(state.open("kv", 0));
      buffered.put(b("b"), b("2*"));
      buffered.put(b("c"), b("3*"));
      buffered.delete(b("e"));
      buffered.delete(b("zz")); // deleting an absent key hides nothing
      buffered.put(b("h"), b("8*"));
      expect(text(buffered.range())).toEqual(["a=1", "b=2*", "c=3*", "g=7", "h=8*"]);
      expect(text(buffered.range({ reverse: true }))).toEqual(["h=8*", "g=7", "c=3*", "b=2*", "a=1"]);
      expect(text(buffered.range({ from: b("b"), to: b("g") }))).toEqual(["b=2*", "c=3*"]);
      expect(text(buffered.range({ limit: 3 }))).toEqual(["a=1", "b=2*", "c=3*"]);
      expect(text(buffered.range({ from: b("c"), limit: 2 }))).toEqual(["c=3*", "g=7"]);
      expect(text(buffered.range({ reverse: true, limit: 2, to: b("h") }))).toEqual(["g=7", "c=3*"]);
    });

    it("honours limit when buffered deletes hide many backend entries", () => {
      seed("kv", 0, { a: "1", b: "2", c: "3", d: "4", e: "5" });
      const buffered = new BufferedStore(state.open("kv", 0));
      for (const k of ["a", "b", "c"]) buffered.delete(b(k));
      expect(text(buffered.range({ limit: 2 }))).toEqual(["d=4", "e=5"]);
    });

    it("calls the changelog hook on every put and delete", () => {
      const logged: string[] = [];
      const buffered = new BufferedStore(state.open("kv", 0), (key, value) =>
        logged.push(`${key.toString()}=${value === null ? "null" : value.toString()}`),
      );
      buffered.put(b("a"), b("1"));
      buffered.put(b("a"), b("2"));
      buffered.delete(b("a"));
      expect(logged).toEqual(["a=1", "a=2", "a=null"]);
    });

    it("drain returns the last write per key and clears the buffer; applying it persists", () => {
      seed("kv", 0, { old: "x" });
      const buffered = new BufferedStore(state.open("kv", 0));
      buffered.put(b("b"), b("1"));
      buffered.put(b("b"), b("2"));
      buffered.put(b("a"), b("3"));
      buffered.delete(b("old"));
      const writes = buffered.drain();
      expect(writes.map(([k, v]) => `${k.toString()}=${v === null ? "null" : v.toString()}`)).toEqual([
        "a=3",
        "b=2",
        "old=null",
      ]);
      expect(buffered.pendingWrites).toBe(0);
      expect(buffered.get(b("b"))).toBeUndefined(); // drained but not applied yet
      state.apply([{ store: "kv", partition: 0, writes, checkpoint: 3 }]);
      expect(text(buffered.range())).toEqual(["a=3", "b=2"]);
      expect(state.open("kv", 0).checkpoint()).toBe(3);
    });

    it("discard drops buffered writes", () => {
      seed("kv", 0, { a: "1" });
      const buffered = new BufferedStore(state.open("kv", 0));
      buffered.put(b("a"), b("changed"));
      buffered.put(b("new"), b("x"));
      buffered.discard();
      expect(buffered.pendingWrites).toBe(0);
      expect(buffered.get(b("a"))?.toString()).toBe("1");
      expect(text(buffered.range())).toEqual(["a=1"]);
      expect(buffered.drain()).toEqual([]);
    });

    it("approximateCount adds the pending delta to the backend count", () => {
      seed("kv", 0, { a: "1", b: "2" });
      const buffered = new BufferedStore(state.open("kv", 0));
      buffered.put(b("a"), b("overwrite")); // no change
      buffered.put(b("c"), b("3")); // +1
      buffered.delete(b("b")); // -1
      buffered.delete(b("absent")); // no change
      buffered.put(b("d"), b("4")); // +1
      expect(buffered.approximateCount()).toBe(3);
    });
  });

  describe("keyValueStore", () => {
    const kv = () =>
      keyValueStore("stock", new BufferedStore(state.open("stock", 0)), {
        key: stringSerde,
        value: jsonSerde<{ qty: number }>(),
      });

    it("get, put, delete typed values", () => {
      const store = kv();
      expect(store.name).toBe("stock");
      store.put("sku-1", { qty: 3 });
      expect(store.get("sku-1")).toEqual({ qty: 3 });
      store.delete("sku-1");
      expect(store.get("sku-1")).toBeUndefined();
    });

    it("range over serialized keys with from/to/limit/reverse", () => {
      const store = kv();
      for (const [i, sku] of ["sku-3", "sku-1", "sku-2", "sku-4"].entries()) store.put(sku, { qty: i });
      const keys = (it: Iterable<{ key: string }>) => [...it].map((e) => e.key);
      expect(keys(store.range())).toEqual(["sku-1", "sku-2", "sku-3", "sku-4"]);
      expect(keys(store.range({ from: "sku-2", to: "sku-4" }))).toEqual(["sku-2", "sku-3"]);
      expect(keys(store.range({ reverse: true, limit: 2 }))).toEqual(["sku-4", "sku-3"]);
      expect([...store.range({ from: "sku-3", limit: 1 })]).toEqual([{ key: "sku-3", value: { qty: 0 } }]);
    });

    it("prefixScan returns exactly the keys starting with the prefix, across buffer and backend", () => {
      seed("stock", 0, { "order-1:a": '{"qty":1}', "order-1:b": '{"qty":2}', "order-10:a": '{"qty":3}' });
      const store = kv();
      store.put("order-1:c", { qty: 4 });
      store.put("order-2:a", { qty: 5 });
      store.put("order-0:z", { qty: 6 });
      expect([...store.prefixScan("order-1:")].map((e) => `${e.key}=${e.value.qty}`)).toEqual([
        "order-1:a=1",
        "order-1:b=2",
        "order-1:c=4",
      ]);
      // Byte order: "0" (0x30) sorts before ":" (0x3a).
      expect([...store.prefixScan("order-1")].map((e) => e.key)).toEqual([
        "order-10:a",
        "order-1:a",
        "order-1:b",
        "order-1:c",
      ]);
      expect([...store.prefixScan("order-1:", 2)].map((e) => e.key)).toEqual(["order-1:a", "order-1:b"]);
      expect([...store.prefixScan("nothing")]).toEqual([]);
    });

    it("prefixScan handles prefixes ending in 0xff bytes", () => {
      const raw = { name: "raw", serialize: (v: Buffer) => v, deserialize: (v: Buffer) => v };
      const store = keyValueStore("raw", new BufferedStore(state.open("raw", 0)), { key: raw, value: raw });
      const keys = [[0x01, 0xff], [0x01, 0xff, 0x00], [0x01, 0xff, 0xff], [0x02], [0x01, 0xfe, 0xff]];
      for (const k of keys) store.put(Buffer.from(k), Buffer.from([1]));
      expect([...store.prefixScan(Buffer.from([0x01, 0xff]))].map((e) => [...e.key])).toEqual([
        [0x01, 0xff],
        [0x01, 0xff, 0x00],
        [0x01, 0xff, 0xff],
      ]);
    });

    it("approximateCount includes pending writes", () => {
      seed("stock", 0, { a: '{"qty":1}' });
      const store = kv();
      store.put("b", { qty: 2 });
      expect(store.approximateCount()).toBe(2);
    });

    it("close is safe twice; later use throws naming the store", () => {
      const store = kv();
      store.close();
      store.close();
      expect(() => store.get("a")).toThrow(StoreClosedError);
      expect(() => store.put("a", { qty: 1 })).toThrow(/state store "stock" partition 0 is closed/);
      expect(() => store.range()).toThrow(/"stock"/);
    });
  });

  describe("windowStore", () => {
    const ws = (retentionMs = 1_000, partition = 0) =>
      windowStore(
        "joins",
        new BufferedStore(state.open("joins", partition)),
        {
          key: stringSerde,
          value: stringSerde,
        },
        retentionMs,
      );
    const show = (entries: Iterable<{ key: string; timestamp: number; value: string }>) =>
      [...entries].map((e) => `${e.key}@${e.timestamp}=${e.value}`);

    it("put/get/delete by key and timestamp", () => {
      const store = ws();
      store.put("o1", "a", 100);
      store.put("o1", "b", 200);
      expect(store.get("o1", 100)).toBe("a");
      expect(store.get("o1", 200)).toBe("b");
      expect(store.get("o1", 150)).toBeUndefined();
      store.delete("o1", 100);
      expect(store.get("o1", 100)).toBeUndefined();
      expect(store.retentionMs).toBe(1_000);
    });

    it("fetch returns one key's values in [from, to] in time order", () => {
      const store = ws(10_000);
      store.put("o1", "t300", 300);
      store.put("o1", "t100", 100);
      store.put("o2", "other", 200);
      store.put("o1", "t200", 200);
      store.put("o1", "t400", 400);
      expect(show(store.fetch("o1", 100, 300))).toEqual(["o1@100=t100", "o1@200=t200", "o1@300=t300"]);
      expect(show(store.fetch("o1", 150, 250))).toEqual(["o1@200=t200"]);
      expect(show(store.fetch("o3", 0, 1_000))).toEqual([]);
    });

    it("orders negative and large timestamps numerically", () => {
      const store = ws(Number.MAX_SAFE_INTEGER);
      for (const t of [5, -5, 2 ** 40, 0]) store.put("k", String(t), t);
      expect(show(store.fetch("k", -10, 2 ** 41))).toEqual([
        "k@-5=-5",
        "k@0=0",
        "k@5=5",
        `k@${2 ** 40}=${2 ** 40}`,
      ]);
    });

    it("fetch does not return entries of a longer key that starts with the same bytes", () => {
      const store = ws(10_000);
      store.put("a", "a@100", 100);
      store.put("ab", "ab@100", 100);
      store.put("a\u0000", "a0@150", 150);
      store.put("a", "a@200", 200);
      expect(show(store.fetch("a", 0, 1_000))).toEqual(["a@100=a@100", "a@200=a@200"]);
      expect(show(store.fetch("ab", 0, 1_000))).toEqual(["ab@100=ab@100"]);
      expect(store.get("a", 150)).toBeUndefined();
    });

    it("skips a longer key whose extra bytes fall inside this key's timestamp range", () => {
      // Timestamp bytes start with 0x80 (sign bit flipped), so key [0x61, 0x80, 0, ...] stored at any time sorts
      // between [0x61]‖ts(0) and [0x61]‖ts(1001): a pure range scan for key [0x61] would return it.
      const raw = { name: "raw", serialize: (v: Buffer) => v, deserialize: (v: Buffer) => Buffer.from(v) };
      const store = windowStore(
        "joins",
        new BufferedStore(state.open("joins", 0)),
        { key: raw, value: stringSerde },
        1e9,
      );
      const short = Buffer.from([0x61]);
      const long = Buffer.from([0x61, 0x80, 0, 0, 0, 0, 0, 0]);
      store.put(long, "long", 100);
      store.put(short, "short", 500);
      expect([...store.fetch(short, 0, 1_000)].map((e) => `${e.timestamp}=${e.value}`)).toEqual([
        "500=short",
      ]);
      expect(
        [...store.fetch(long, 0, 1_000)].map((e) => `${[...e.key].join(",")}@${e.timestamp}=${e.value}`),
      ).toEqual(["97,128,0,0,0,0,0,0@100=long"]);
      expect([...store.fetchAll(0, 1_000)].map((e) => `${e.key.length}@${e.timestamp}`)).toEqual([
        "8@100",
        "1@500",
      ]);
    });

    it("fetchAll returns every key's entries in [from, to] in time order", () => {
      const store = ws(10_000);
      store.put("b", "b1", 100);
      store.put("a", "a2", 200);
      store.put("a", "a1", 100);
      store.put("c", "c3", 300);
      expect(show(store.fetchAll(100, 200))).toEqual(["a@100=a1", "b@100=b1", "a@200=a2"]);
      expect(show(store.fetchAll(0, 1_000))).toEqual(["a@100=a1", "b@100=b1", "a@200=a2", "c@300=c3"]);
    });

    it("hides entries older than retention behind the newest timestamp and drops too-late puts", () => {
      const store = ws(1_000);
      store.put("k", "old", 1_000);
      store.put("k", "mid", 2_000);
      expect(show(store.fetch("k", 0, 5_000))).toEqual(["k@1000=old", "k@2000=mid"]);
      store.put("other", "new", 2_500); // newest is 2500: everything before 1500 is expired
      expect(show(store.fetch("k", 0, 5_000))).toEqual(["k@2000=mid"]);
      expect(show(store.fetchAll(0, 5_000))).toEqual(["k@2000=mid", "other@2500=new"]);
      expect(store.get("k", 1_000)).toBeUndefined();
      store.put("k", "late", 1_400);
      expect(store.get("k", 1_400)).toBeUndefined();
      store.put("k", "in-time", 1_500);
      expect(store.get("k", 1_500)).toBe("in-time");
    });

    it("expire physically deletes entries before a time, through the changelogged buffer", () => {
      const logged: string[] = [];
      const buffered = new BufferedStore(state.open("joins", 0), (key, value) => {
        if (value === null) logged.push(key.subarray(0, key.length - 8).toString());
      });
      const store = windowStore("joins", buffered, { key: stringSerde, value: stringSerde }, 10_000);
      store.put("a", "1", 100);
      store.put("b", "2", 150);
      store.put("a", "3", 300);
      state.apply([{ store: "joins", partition: 0, writes: buffered.drain(), checkpoint: 2 }]);
      expect(store.expire(200)).toBe(2);
      expect(logged.sort()).toEqual(["a", "b"]);
      expect(store.approximateCount()).toBe(1);
      state.apply([{ store: "joins", partition: 0, writes: buffered.drain(), checkpoint: 4 }]);
      expect(state.open("joins", 0).approximateCount()).toBe(1);
      expect(show(store.fetchAll(0, 1_000))).toEqual(["a@300=3"]);
      expect(store.expire(200)).toBe(0);
    });

    it("derives the newest timestamp from stored data when reopened", () => {
      const first = new BufferedStore(state.open("joins", 0));
      const store = windowStore("joins", first, { key: stringSerde, value: stringSerde }, 1_000);
      store.put("k", "old", 1_000);
      store.put("k", "new", 5_000);
      state.apply([{ store: "joins", partition: 0, writes: first.drain() }]);
      const reopened = ws(1_000);
      expect(show(reopened.fetch("k", 0, 10_000))).toEqual(["k@5000=new"]);
      reopened.put("k", "late", 3_000);
      expect(reopened.get("k", 3_000)).toBeUndefined();
    });

    it("forgets the newest timestamp of an aborted put", () => {
      const buffered = new BufferedStore(state.open("joins", 0));
      const store = windowStore("joins", buffered, { key: stringSerde, value: stringSerde }, 1_000);
      store.put("k", "kept", 1_000);
      state.apply([{ store: "joins", partition: 0, writes: buffered.drain() }]);
      store.put("k", "far-future", 100_000);
      buffered.discard();
      expect(show(store.fetch("k", 0, 10_000))).toEqual(["k@1000=kept"]);
    });

    it("session store over it: put, find overlapping sessions, fetch, remove, sessions ended by a time", () => {
      const sessions = sessionStore(
        windowStore(
          "sessions",
          new BufferedStore(state.open("sessions", 0)),
          {
            key: stringSerde,
            value: sessionValueSerde(stringSerde),
          },
          Number.MAX_SAFE_INTEGER,
        ),
      );
      sessions.put("a", 100, 150, "a1");
      sessions.put("a", 300, 300, "a2");
      sessions.put("b", 120, 400, "b1");
      const found = (k: string, earliestEnd: number, latestStart: number) =>
        sessions
          .findSessions(k, earliestEnd, latestStart)
          .map((e) => `${e.key}[${e.start},${e.end}]=${e.value}`);
      expect(found("a", 140, 310)).toEqual(["a[100,150]=a1", "a[300,300]=a2"]);
      expect(found("a", 151, 310)).toEqual(["a[300,300]=a2"]);
      expect(found("a", 0, 299)).toEqual(["a[100,150]=a1"]);
      expect(sessions.fetchSession("a", 100, 150)).toBe("a1");
      expect(sessions.fetchSession("a", 100, 151)).toBeUndefined();
      expect(sessions.endedBy(300).map((e) => `${e.key}@${e.start}`)).toEqual(["a@100", "a@300"]);
      sessions.remove("a", 100, 149); // not that session: kept
      expect(sessions.fetchSession("a", 100, 150)).toBe("a1");
      sessions.remove("a", 100, 150);
      expect(found("a", 0, 1_000)).toEqual(["a[300,300]=a2"]);
      expect(() => sessions.put("a", 10, 5, "x")).toThrow(/cannot end/);
    });

    it("close is safe twice; later use throws naming the store", () => {
      const store = ws();
      store.close();
      store.close();
      expect(() => store.fetch("k", 0, 1)).toThrow(/state store "joins" partition 0 is closed/);
      expect(() => store.put("k", "v", 1)).toThrow(StoreClosedError);
    });
  });
}

describe.each([
  ["memory", memoryFactory],
  ["lmdb", lmdbFactory],
] as const)("StateBackend contract: %s", (kind, makeFactory) => {
  stateBackendContract(kind, makeFactory);
});
