/**
 * Testing without a broker (`weir/testing`): {@link TopologyTestDriver} runs a whole topology in-process, as Kafka
 * Streams' TopologyTestDriver does; {@link ProcessorTester} runs one processor factory against a
 * {@link MockProcessorContext}, as Kafka Streams' MockProcessorContext does for a single Processor.
 *
 * @example
 * ```ts
 * import { Serdes, Stores } from "weir";
 * import { ProcessorTester } from "weir/testing";
 * import { map } from "rxjs";
 *
 * const tester = new ProcessorTester<string, string, string, number>(
 *   (ctx) => {
 *     const counts = ctx.keyValueStore<string, number>("counts");
 *     return map((r) => {
 *       const n = (counts.get(r.key) ?? 0) + 1;
 *       counts.put(r.key, n);
 *       return { key: r.key, value: n };
 *     });
 *   },
 *   { stores: { counts: Stores.keyValue(Serdes.string(), Serdes.number()) } },
 * );
 * tester.pipe("alice", "click"); // [{ key: "alice", value: 1 }]
 * tester.pipe("alice", "click"); // [{ key: "alice", value: 2 }]
 * ```
 *
 * @module weir/testing
 */
import { Subject, type Observable, type Subscription } from "rxjs";
import { BufferedStore, keyValueStore, openMemoryState, windowStore } from "../state/index.js";
import type { KeyValueStore, StateBackend, WindowStore } from "../state/index.js";
import type {
  AppCounter,
  ProcessorContext,
  ProcessorFactory,
  PunctuationKind,
  StoreDefinition,
} from "./builder.js";
import { ConfigError } from "./errors.js";
import { duePunctuators, type Punctuator } from "./runtime/punctuation.js";
import type { Emit, Headers, StreamRecord } from "./record.js";

export { TopologyTestDriver, type TestRecord, type DriverOptions } from "./driver.js";

/**
 * Where {@link MockProcessorContext} and {@link ProcessorTester} start.
 *
 * @example
 * ```ts
 * import { Serdes, Stores } from "weir";
 * import { MockProcessorContext, type MockContextOptions } from "weir/testing";
 *
 * const options: MockContextOptions = {
 *   stores: { stock: Stores.keyValue(Serdes.string(), Serdes.int32()) },
 *   partition: 3,
 *   processor: "reserve",
 *   wallClockMs: Date.parse("2024-01-01T00:00:00Z"),
 * };
 * const ctx = new MockProcessorContext(options); // ctx.taskId === "0_3"
 * ```
 */
export interface MockContextOptions {
  /** The stores the processor uses, by name (what `.process(name, factory, { stores })` declares). */
  stores?: Readonly<Record<string, StoreDefinition>>;
  /** @default "test" */
  appId?: string;
  /** @default 0 */
  partition?: number;
  /** The processor's node name. @default "processor" */
  processor?: string;
  /** The topic records appear to come from. @default "input" */
  topic?: string;
  /** Initial wall-clock time, epoch ms. @default 0 */
  wallClockMs?: number;
}

/**
 * A record the processor discarded on purpose through `ctx.dropped(reason)`.
 *
 * @example
 * ```ts
 * import { MockProcessorContext, type DroppedRecord } from "weir/testing";
 *
 * const ctx = new MockProcessorContext();
 * ctx.dropped("null-key");
 * const [drop]: DroppedRecord[] = ctx.droppedRecords;
 * // drop: { reason: "null-key", record: undefined, deadLetter: undefined }
 * ```
 */
export interface DroppedRecord {
  /** The reason given to `dropped(reason)`, e.g. `null-key`. */
  reason: string;
  /** The input record being processed when it was dropped (undefined during a punctuation). */
  record: StreamRecord | undefined;
  /** The `deadLetter` option given to `dropped` (undefined: the worker's `droppedRecords` option decides). */
  deadLetter: boolean | undefined;
}

/**
 * A {@link ProcessorContext} for unit tests, as Kafka Streams' MockProcessorContext: in-memory stores from their
 * definitions, stream time and wall-clock time set by the test, application counters and dropped records kept for
 * assertions. Punctuation follows the runtime's rule: a punctuator fires when its clock has advanced by at least
 * its interval since it last fired (a stream-time schedule starts at the first record, a wall-clock one when
 * registered).
 *
 * @example
 * ```ts
 * import { Serdes, Stores } from "weir";
 * import { MockProcessorContext } from "weir/testing";
 *
 * const ctx = new MockProcessorContext({ stores: { seen: Stores.keyValue(Serdes.string(), Serdes.number()) } });
 * ctx.keyValueStore<string, number>("seen").put("a", 1);
 * ctx.counter("orders_total").inc({ status: "CONFIRMED" });
 * ctx.counterValue("orders_total", { status: "CONFIRMED" }); // 1
 * ```
 */
export class MockProcessorContext implements ProcessorContext {
  readonly appId: string;
  readonly taskId: string;
  readonly partition: number;
  readonly processor: string;
  /** What `dropped(reason)` recorded, oldest first. */
  readonly droppedRecords: DroppedRecord[] = [];
  readonly #definitions: Readonly<Record<string, StoreDefinition>>;
  readonly #state: StateBackend = openMemoryState();
  readonly #stores = new Map<string, unknown>();
  readonly #counters = new Map<string, number>();
  readonly #punctuators = new Map<string, Punctuator>();
  #streamTime = -1;
  #wallClock: number;
  #current: StreamRecord | undefined;

  /** A context with the given stores and identity (task `0_<partition>`), stream time -1 and no record. */
  constructor(options: MockContextOptions = {}) {
    this.appId = options.appId ?? "test";
    this.partition = options.partition ?? 0;
    this.taskId = `0_${this.partition}`;
    this.processor = options.processor ?? "processor";
    this.#definitions = options.stores ?? {};
    this.#wallClock = options.wallClockMs ?? 0;
  }

  keyValueStore<K, V>(name: string): KeyValueStore<K, V> {
    return this.#store(name, "key-value") as KeyValueStore<K, V>;
  }

  windowStore<K, V>(name: string): WindowStore<K, V> {
    return this.#store(name, "window") as WindowStore<K, V>;
  }

  streamTime(): number {
    return this.#streamTime;
  }

  wallClockTime(): number {
    return this.#wallClock;
  }

  punctuate(kind: PunctuationKind, intervalMs: number): Observable<number> {
    const key = `${kind}/${intervalMs}`;
    let p = this.#punctuators.get(key);
    if (!p) {
      p = {
        kind,
        intervalMs,
        last: kind === "wall-clock" ? this.#wallClock : -1,
        subject: new Subject<number>(),
      };
      this.#punctuators.set(key, p);
    }
    return p.subject.asObservable();
  }

  currentRecord(): StreamRecord | undefined {
    return this.#current;
  }

  counter(name: string, _help?: string, _labelNames?: readonly string[]): AppCounter {
    return {
      inc: (labels, value = 1) => {
        const key = counterKey(name, labels);
        this.#counters.set(key, (this.#counters.get(key) ?? 0) + value);
      },
    };
  }

  dropped(reason: string, options?: { deadLetter?: boolean }): void {
    this.droppedRecords.push({ reason, record: this.#current, deadLetter: options?.deadLetter });
  }

  /** The total an application counter reached for exactly these labels (0 if never incremented). */
  counterValue(name: string, labels?: Readonly<Record<string, string>>): number {
    return this.#counters.get(counterKey(name, labels)) ?? 0;
  }

  /**
   * Set the record `currentRecord()` returns. As the runtime does when it takes a record, a later timestamp moves
   * stream time; punctuators fire only after the record was processed (call `advanceStreamTime(timestamp)` then).
   */
  setRecord(record: StreamRecord | undefined): void {
    this.#current = record;
    if (record && record.timestamp > this.#streamTime) this.#streamTime = record.timestamp;
  }

  /** Move stream time forward (never back) and fire the stream-time punctuators that became due. */
  advanceStreamTime(timestamp: number): void {
    if (timestamp > this.#streamTime) this.#streamTime = timestamp;
    this.#fire("stream-time", this.#streamTime);
  }

  /** Move the wall clock (never back) and fire the wall-clock punctuators that became due. */
  advanceWallClock(byMs: number): void {
    if (!(byMs >= 0)) throw new ConfigError(`advanceWallClock: ${byMs} is not a duration >= 0`);
    this.#wallClock += byMs;
    this.#fire("wall-clock", this.#wallClock);
  }

  /** Complete every punctuation stream and close the stores. */
  close(): void {
    for (const p of this.#punctuators.values()) p.subject.complete();
    this.#state.close();
  }

  #fire(kind: PunctuationKind, now: number): void {
    for (const p of duePunctuators(this.#punctuators.values(), kind, now)) p.subject.next(now);
  }

  #store(name: string, kind: StoreDefinition["kind"]): unknown {
    const open = this.#stores.get(name);
    if (open) return open;
    const def = this.#definitions[name];
    if (!def) {
      const known = Object.keys(this.#definitions);
      throw new ConfigError(
        `store '${name}' is not declared: pass it in the stores option (${known.length > 0 ? `declared: ${known.join(", ")}` : "none declared"}), as .process(name, factory, { stores: ['${name}'] }) would`,
        { store: name },
      );
    }
    if (def.kind !== kind)
      throw new ConfigError(`store '${name}' is a ${def.kind} store, not a ${kind} store`, { store: name });
    const buffer = new BufferedStore(this.#state.open(name, this.partition));
    const serdes = { key: def.keySerde, value: def.valueSerde };
    const facade =
      def.kind === "window"
        ? windowStore(name, buffer, serdes, def.retentionMs ?? Number.MAX_SAFE_INTEGER)
        : keyValueStore(name, buffer, serdes);
    this.#stores.set(name, facade);
    return facade;
  }
}

function counterKey(name: string, labels?: Readonly<Record<string, string>>): string {
  const sorted = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${name}${JSON.stringify(sorted)}`;
}

/**
 * Optional parts of a record piped into a {@link ProcessorTester}.
 *
 * @example
 * ```ts
 * import type { PipeOptions } from "weir/testing";
 *
 * const late: PipeOptions = { timestamp: 1_000, headers: { source: "replay" }, topic: "orders" };
 * ```
 */
export interface PipeOptions {
  /** Event time, epoch ms. @default the tester's wall-clock time */
  timestamp?: number;
  /** The record's headers. @default {} */
  headers?: Headers;
  /** @default the tester's topic */
  topic?: string;
}

/**
 * Runs one processor factory (what `.process(name, factory, { stores })` takes) without a topology or a broker: each
 * piped record is processed synchronously, as the runtime does, and what the processor emitted for it is returned;
 * punctuations fire when the test moves the clocks. An error inside the operator is thrown from the `pipe` call that
 * caused it. For several processors wired together, use {@link TopologyTestDriver}.
 *
 * @example
 * ```ts
 * import { map } from "rxjs";
 * import { expect } from "vitest";
 * import { Serdes, Stores, type ProcessorFactory } from "weir";
 * import { ProcessorTester } from "weir/testing";
 *
 * const countClicks: ProcessorFactory<string, string, string, number> = (ctx) => {
 *   const clicks = ctx.keyValueStore<string, number>("clicks-per-user");
 *   return map((r) => {
 *     const n = (clicks.get(r.key) ?? 0) + 1;
 *     clicks.put(r.key, n);
 *     return { key: r.key, value: n };
 *   });
 * };
 * const tester = new ProcessorTester(countClicks, {
 *   stores: { "clicks-per-user": Stores.keyValue(Serdes.string(), Serdes.number()) },
 * });
 * expect(tester.pipe("u1", "home")).toEqual([{ key: "u1", value: 1 }]);
 * expect(tester.context.keyValueStore("clicks-per-user").get("u1")).toBe(1);
 * ```
 */
export class ProcessorTester<KI, VI, KO, VO> {
  /** The context the processor was built with: stores, clocks, counters, dropped records. */
  readonly context: MockProcessorContext;
  readonly #input = new Subject<StreamRecord<KI, VI>>();
  readonly #subscription: Subscription;
  readonly #topic: string;
  #outputs: Emit<KO, VO>[] = [];
  #error: unknown;
  #failed = false;
  #offset = 0;

  /** Build the processor with a fresh {@link MockProcessorContext} from `options` and subscribe it. */
  constructor(factory: ProcessorFactory<KI, VI, KO, VO>, options: MockContextOptions = {}) {
    this.context = new MockProcessorContext(options);
    this.#topic = options.topic ?? "input";
    this.#subscription = this.#input.pipe(factory(this.context)).subscribe({
      next: (out) => this.#outputs.push(out),
      error: (err: unknown) => {
        this.#failed = true;
        this.#error = err;
      },
    });
  }

  /** Process one record; returns what the processor emitted for it (and for punctuations it made due). */
  pipe(key: KI, value: VI, options: PipeOptions = {}): Emit<KO, VO>[] {
    const record: StreamRecord<KI, VI> = {
      key,
      value,
      timestamp: options.timestamp ?? this.context.wallClockTime(),
      headers: options.headers ?? {},
      topic: options.topic ?? this.#topic,
      partition: this.context.partition,
      offset: this.#offset++,
    };
    return this.#run(() => {
      this.context.setRecord(record);
      try {
        this.#input.next(record);
      } finally {
        this.context.setRecord(undefined);
      }
      // As the runtime: stream-time punctuators fire after the record that moved stream time was processed.
      if (!this.#failed) this.context.advanceStreamTime(record.timestamp);
    });
  }

  /** Move the wall clock; returns what wall-clock punctuations emitted. */
  advanceWallClock(byMs: number): Emit<KO, VO>[] {
    return this.#run(() => this.context.advanceWallClock(byMs));
  }

  /** Unsubscribe the processor and close its stores. */
  close(): void {
    this.#subscription.unsubscribe();
    this.context.close();
  }

  #run(push: () => void): Emit<KO, VO>[] {
    if (this.#failed) throw new ConfigError("the processor failed earlier; build a new ProcessorTester");
    this.#outputs = [];
    push();
    if (this.#failed) throw this.#error;
    const outputs = this.#outputs;
    this.#outputs = [];
    return outputs;
  }
}
