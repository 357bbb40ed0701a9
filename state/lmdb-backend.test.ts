/** LMDB-only behaviour: durability across a real reopen of the environment, and transaction atomicity. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BufferedStore,
  keyValueStore,
  MAX_INLINE_KEY_BYTES,
  openLmdbState,
  windowStore,
  type StateBackend,
} from "./index.js";
import { b, stringSerde, text } from "./test-support.js";

describe("LMDB state backend", () => {
  let dir: string;
  const opened: StateBackend[] = [];
  const openState = () => {
    const state = openLmdbState({ path: dir, mapSizeBytes: 256 * 1024 ** 2 });
    opened.push(state);
    return state;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "weir-state-lmdb-"));
  });
  afterEach(() => {
    for (const state of opened.splice(0)) state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps data and checkpoints across closing and reopening the directory", () => {
    const first = openState();
    expect(first.path).toBe(dir);
    first.apply([
      {
        store: "stock",
        partition: 2,
        writes: [
          [b("sku-1"), b("5")],
          [b("sku-2"), b("7")],
        ],
        checkpoint: 1_234,
      },
      { store: "dedupe", partition: 0, writes: [[b("o1"), b("1")]], checkpoint: 9 },
    ]);
    first.apply([{ store: "stock", partition: 2, writes: [[b("sku-2"), null]], checkpoint: 1_236 }]);
    first.close();

    const second = openState();
    expect(text(second.open("stock", 2).range())).toEqual(["sku-1=5"]);
    expect(second.open("stock", 2).checkpoint()).toBe(1_236);
    expect(second.open("dedupe", 0).checkpoint()).toBe(9);
    expect(second.open("dedupe", 1).checkpoint()).toBeUndefined();
  });

  it("lists the store-partitions an earlier process wrote, without opening them first", () => {
    const first = openState();
    first.apply([
      {
        store: "stock",
        partition: 1,
        writes: [
          [b("a"), b("1")],
          [b("b"), b("2")],
        ],
        checkpoint: 40,
      },
      { store: "orders:v2", partition: 12, writes: [[b("a"), b("1")]] },
    ]);
    first.close();

    expect(openState().list()).toEqual([
      { store: "orders:v2", partition: 12, checkpoint: undefined, entries: 1 },
      { store: "stock", partition: 1, checkpoint: 40, entries: 2 },
    ]);
  });

  it("window store retention survives a reopen (the newest timestamp is derived from the data)", () => {
    const first = openState();
    const buffered = new BufferedStore(first.open("joins", 0));
    const store = windowStore("joins", buffered, { key: stringSerde, value: stringSerde }, 1_000);
    store.put("k", "old", 1_000);
    store.put("k", "new", 5_000);
    first.apply([{ store: "joins", partition: 0, writes: buffered.drain(), checkpoint: 1 }]);
    first.close();

    const second = openState();
    const reopened = windowStore(
      "joins",
      new BufferedStore(second.open("joins", 0)),
      { key: stringSerde, value: stringSerde },
      1_000,
    );
    expect([...reopened.fetch("k", 0, 10_000)].map((e) => e.value)).toEqual(["new"]);
  });

  it("apply is atomic: a throw mid-iteration leaves neither writes nor checkpoints, even after reopen", () => {
    const state = openState();
    state.apply([{ store: "kv", partition: 0, writes: [[b("a"), b("committed")]], checkpoint: 10 }]);
    function* writesThatFail(): Generator<readonly [Buffer, Buffer | null]> {
      for (let i = 0; i < 1_000; i++) yield [b(`k${i}`), b("x")];
      yield [b("a"), null];
      throw new Error("changelog record could not be decoded");
    }
    expect(() =>
      state.apply([
        { store: "kv", partition: 1, writes: [[b("other"), b("x")]], checkpoint: 50 },
        { store: "kv", partition: 0, writes: writesThatFail(), checkpoint: 1_011 },
      ]),
    ).toThrow("changelog record could not be decoded");
    const check = (s: StateBackend) => {
      expect(text(s.open("kv", 0).range())).toEqual(["a=committed"]);
      expect(s.open("kv", 0).checkpoint()).toBe(10);
      expect(s.open("kv", 1).get(b("other"))).toBeUndefined();
      expect(s.open("kv", 1).checkpoint()).toBeUndefined();
    };
    check(state);
    state.close();
    check(openState());
  });

  it("a key beyond LMDB's 1978-byte limit is stored under its digest and read back by its full key", () => {
    const state = openState();
    const key = Buffer.alloc(5_000, 1);
    state.apply([
      {
        store: "big",
        partition: 3,
        writes: [
          [b("ok"), b("1")],
          [key, b("x")],
        ],
        checkpoint: 1,
      },
    ]);
    const store = state.open("big", 3) as unknown as {
      get(k: Buffer): Buffer | undefined;
      db: { getKeys(): Iterable<Uint8Array> };
    };
    expect(store.get(key)?.toString()).toBe("x");
    expect(store.get(Buffer.alloc(5_000, 2))).toBeUndefined();
    // On disk: the short key as it is, the long one as prefix ‖ SHA-256 ‖ probe.
    expect([...store.db.getKeys()].map((k) => k.length).sort((x, y) => x - y)).toEqual([
      2,
      MAX_INLINE_KEY_BYTES + 33,
    ]);
    expect(state.open("big", 3).checkpoint()).toBe(1);
  });

  it("reads right after apply see the data (no async write queue)", () => {
    const state = openState();
    const buffered = new BufferedStore(state.open("kv", 0));
    const store = keyValueStore("kv", buffered, { key: stringSerde, value: stringSerde });
    for (let i = 0; i < 100; i++) {
      store.put(`k${i}`, `v${i}`);
      state.apply([{ store: "kv", partition: 0, writes: buffered.drain(), checkpoint: i }]);
      expect(
        state
          .open("kv", 0)
          .get(b(`k${i}`))
          ?.toString(),
      ).toBe(`v${i}`);
    }
    expect(state.open("kv", 0).approximateCount()).toBe(100);
    expect(state.open("kv", 0).checkpoint()).toBe(99);
  });

  it("a large restore batch applies in one call", () => {
    const state = openState();
    const writes = Array.from({ length: 100_000 }, (_, i) => [b(`key-${i}`), b(`value-${i}`)] as const);
    state.apply([{ store: "restore", partition: 0, writes, checkpoint: 99_999 }]);
    expect(state.open("restore", 0).approximateCount()).toBe(100_000);
    expect(state.open("restore", 0).get(b("key-54321"))?.toString()).toBe("value-54321");
  });
});
