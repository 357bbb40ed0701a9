/**
 * An asynchronous enrichment: each record is sent to an HTTP service (WEIR_TEST_ENRICH_URL) and its answer becomes
 * the value, then a per-key count runs after it — the count is exact and in input order per key only if the
 * asynchronous processor emits each key's records once, in offset order. Input `<prefix>-input` (value: the input's
 * sequence number) → `<prefix>-out` (value: `<answer>:<running count of the key>`). WEIR_TEST_PREFIX names topics
 * and app.
 */
import { map } from "rxjs";
import { Serdes, Stores, TopologyBuilder } from "../../topology/index.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "async";
const url = process.env.WEIR_TEST_ENRICH_URL ?? "http://127.0.0.1:8099";
const s = Serdes.string();

const builder = new TopologyBuilder(`${prefix}-app`);
builder.store("counts", Stores.keyValue(s, Serdes.number()));
builder
  .stream(`${prefix}-input`, { key: s, value: s })
  .processAsync(
    "enrich",
    async (r, { signal }) => {
      const res = await fetch(`${url}/enrich?key=${encodeURIComponent(r.key)}&value=${r.value}`, { signal });
      if (!res.ok) throw new Error(`enrichment service answered ${res.status}`);
      return { key: r.key, value: await res.text() };
    },
    { concurrency: 32, timeoutMs: 2000, retry: { attempts: 4, backoffMs: 20 } },
  )
  .process(
    "count",
    (ctx) => {
      const counts = ctx.keyValueStore<string, number>("counts");
      return map((r) => {
        const n = (counts.get(r.key) ?? 0) + 1;
        counts.put(r.key, n);
        return { key: r.key, value: `${r.value}:${n}` };
      });
    },
    { stores: ["counts"] },
  )
  .to(`${prefix}-out`, { key: s, value: s });

export const topology = builder.build();
