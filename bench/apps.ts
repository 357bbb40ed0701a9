/** The topologies the benchmarks run, parameterised by app id and topics (test/apps/count.ts reads env vars). */
import { map } from "rxjs";
import {
  Serdes,
  Stores,
  TimeWindows,
  TopologyBuilder,
  type ProcessorFactory,
  type Topology,
} from "../topology/index.js";

/** source → sink, string serdes: the framework's per-record cost with no processor and no state. */
export function passthroughTopology(appId: string, input: string, output: string): Topology {
  const builder = new TopologyBuilder(appId);
  builder
    .stream(input, { key: Serdes.string(), value: Serdes.string() })
    .to(output, { key: Serdes.string(), value: Serdes.string() });
  return builder.build();
}

/** The store of the count topology, as test/apps/count.ts: string key → number (UTF-8 decimal text). */
export const COUNT_STORE = "counts";
export const countStoreSerdes = { key: Serdes.string(), value: Serdes.number() };

/** The per-key count of test/apps/count.ts: one output `<value>:<n>` per input, n the key's running count. */
export function countTopology(appId: string, input: string, output: string): Topology {
  const count: ProcessorFactory<string, string, string, string> = (ctx) => {
    const counts = ctx.keyValueStore<string, number>(COUNT_STORE);
    return map((r) => {
      const n = (counts.get(r.key) ?? 0) + 1;
      counts.put(r.key, n);
      return { key: r.key, value: `${r.value}:${n}` };
    });
  };
  const builder = new TopologyBuilder(appId);
  builder.store(COUNT_STORE, Stores.keyValue(countStoreSerdes.key, countStoreSerdes.value));
  builder
    .stream(input, { key: Serdes.string(), value: Serdes.string() })
    .process("count", count, { stores: [COUNT_STORE] })
    .to(output, { key: Serdes.string(), value: Serdes.string() });
  return builder.build();
}

/**
 * The same per-key count in the DSL: `groupByKey().count()` into store "counts", its updates mapped to
 * `<value>:<n>` — what the DSL's nodes (an aggregation forwarding changes, toStream, mapValues) cost over the
 * hand-written processor of countTopology. The current record's value is read from the context, as countTopology's
 * output carries it.
 */
export function dslCountTopology(appId: string, input: string, output: string): Topology {
  const builder = new TopologyBuilder(appId);
  builder
    .stream(input, { key: Serdes.string(), value: Serdes.string() })
    .groupByKey("by-key")
    .count(COUNT_STORE)
    .toStream("count-updates")
    .process<string, string>("format", (ctx) =>
      map((r) => ({ key: r.key, value: `${String(ctx.currentRecord()?.value)}:${String(r.value)}` })),
    )
    .to(output, { key: Serdes.string(), value: Serdes.string() });
  return builder.build();
}

/** The window of the windowed count: tumbling, 10 s, no grace. */
export const WINDOW_SIZE_MS = 10_000;

/**
 * Final counts per key and tumbling 10 s event-time window, grace 0, as a weir user writes them:
 * `groupByKey().windowedBy(TimeWindows).count()` with `emit: "onWindowClose"` (Kafka Streams'
 * `suppress(untilWindowCloses)`), into window store "counts". One record per closed window and key: key
 * `<key>@<window start ms>`, value the count. The peers' `windowed-count` workload (bench/peers/README.md).
 */
export function windowedCountTopology(appId: string, input: string, output: string): Topology {
  const builder = new TopologyBuilder(appId);
  builder
    .stream(input, { key: Serdes.string(), value: Serdes.string() })
    .groupByKey("by-key")
    .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW_SIZE_MS, 0))
    .count(COUNT_STORE, { emit: "onWindowClose" })
    .toStream("window-counts")
    .map("format", (r) => ({ key: `${r.key.key}@${r.key.start}`, value: String(r.value) }))
    .to(output, { key: Serdes.string(), value: Serdes.string() });
  return builder.build();
}

/** The table store of the join topology. */
export const JOIN_TABLE_STORE = "table";

/**
 * The peers' `join` workload (bench/peers/README.md) in the DSL: `builder.table(table)` (a changelogged store
 * "table") and `stream.join(table)`, inner; one output `<stream value>|<table value>` per stream record whose key
 * has a row, key unchanged.
 */
export function joinTopology(appId: string, input: string, output: string, table: string): Topology {
  const builder = new TopologyBuilder(appId);
  const rows = builder.table(table, {
    key: Serdes.string(),
    value: Serdes.string(),
    store: JOIN_TABLE_STORE,
  });
  builder
    .stream(input, { key: Serdes.string(), value: Serdes.string() })
    .join("join", rows, (value, row) => `${value}|${row}`)
    .to(output, { key: Serdes.string(), value: Serdes.string() });
  return builder.build();
}
