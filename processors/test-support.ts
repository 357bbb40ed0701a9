/**
 * For the processors' tests only: a ProcessorContext over in-memory stores, with punctuation driven by the test
 * (an observable of times, e.g. a TestScheduler hot observable) and counted metrics.
 */
import type { Order } from "./orders.js";
import { EMPTY, type Observable } from "rxjs";
import { afterAll, beforeAll } from "vitest";
import { startRiskService, type RiskService, type RiskServiceOptions } from "./risk-service.js";
import { BufferedStore, keyValueStore, openMemoryState, windowStore } from "../state/index.js";
import type {
  Emit,
  KeyValueStore,
  ProcessorContext,
  StoreDefinition,
  StreamRecord,
  WindowStore,
} from "../topology/index.js";

export interface TestContext extends ProcessorContext {
  /** Application counter increments by their `status` label. */
  readonly counts: Map<string, number>;
}

export function testContext(
  stores: Record<string, StoreDefinition>,
  options: { punctuations?: Observable<number> } = {},
): TestContext {
  const state = openMemoryState();
  const opened = new Map<string, unknown>();
  const counts = new Map<string, number>();
  const store = (name: string): unknown => {
    let s = opened.get(name);
    if (s) return s;
    const def = stores[name];
    if (!def) throw new Error(`test context has no store '${name}'`);
    const buffer = new BufferedStore(state.open(name, 0));
    const serdes = { key: def.keySerde, value: def.valueSerde };
    s =
      def.kind === "window"
        ? windowStore(name, buffer, serdes, def.retentionMs!)
        : keyValueStore(name, buffer, serdes);
    opened.set(name, s);
    return s;
  };
  return {
    appId: "test",
    taskId: "0_0",
    partition: 0,
    processor: "test",
    keyValueStore: <K, V>(name: string) => store(name) as KeyValueStore<K, V>,
    windowStore: <K, V>(name: string) => store(name) as WindowStore<K, V>,
    streamTime: () => -1,
    wallClockTime: () => 0,
    punctuate: () => options.punctuations ?? EMPTY,
    currentRecord: () => undefined,
    dropped: () => {},
    counter: () => ({
      inc: (labels) => {
        const label = labels?.status ?? "";
        counts.set(label, (counts.get(label) ?? 0) + 1);
      },
    }),
    counts,
  };
}

let offset = 0;
/** A record envelope as a source would deliver it. */
export function record<K, V>(key: K, value: V, timestamp: number, topic = "test"): StreamRecord<K, V> {
  return { key, value, timestamp, headers: {}, topic, partition: 0, offset: offset++ };
}

/** An emitted record reduced to what tests compare. */
export const emitted = <K, V>(e: Emit<K, V>) => ({ key: e.key, value: e.value });

/** An order of one line of sku A (what the topology tests feed to `orders`). */
export const oneLineOrder = (createdAt: number, total = 5): Order => ({
  customerId: "c",
  lines: [{ sku: "A", qty: 1, unitPrice: total }],
  total,
  currency: "EUR",
  createdAt,
});

/**
 * A real risk service on loopback (processors/risk-service.ts) for the tests of a file: started before them, closed
 * after. Defaults for tests: 0-2 ms, no failures. `url` and `stats()` are valid inside the tests.
 */
export function useRiskService(options: RiskServiceOptions = {}): {
  readonly url: string;
  stats(): ReturnType<RiskService["stats"]>;
} {
  let service: RiskService | undefined;
  beforeAll(async () => {
    service = await startRiskService({ latencyMs: [0, 2], failureRate: 0, ...options });
  });
  afterAll(async () => {
    await service?.close();
  });
  const started = (): RiskService => {
    if (!service) throw new Error("useRiskService: the service starts in beforeAll; use it inside a test");
    return service;
  };
  return {
    get url() {
      return started().url;
    },
    stats: () => started().stats(),
  };
}
