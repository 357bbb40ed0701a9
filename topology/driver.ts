import { BufferedStore, keyValueStore, openMemoryState, type StateBackend } from "../state/index.js";
import { globalBatch } from "./runtime/global-tables.js";
import type { KeyValueStore, WindowStore } from "../state/types.js";
import type { Topology } from "./builder.js";
import { WeirError } from "./errors.js";
import { deadLetterHeaders } from "./dead-letter.js";
import { partitionForKey } from "./partitioner.js";
import type { Headers, OutgoingRecord, RawRecord } from "./record.js";
import { decode, type Serde } from "./serdes.js";
import { StreamTask, taskId } from "./runtime/task.js";
import { applyStaged, changelogSizeCheck, stageChangelogs } from "./runtime/task-stores.js";
import { DEFAULT_MAX_RECORD_BYTES, checkRecordSize, fitDeadLetter } from "./runtime/record-collector.js";
import type { RecordFailureAction, RecordFailureHandlers } from "./failures.js";

/**
 * An output record as {@link TopologyTestDriver.readOutput} returns it (Kafka Streams' `TestRecord`): decoded key
 * and value, timestamp, headers and where it was written.
 *
 * @example
 * ```ts
 * import type { TestRecord, TopologyTestDriver } from "weir";
 *
 * declare const driver: TopologyTestDriver;
 * const out: TestRecord<string, string>[] = driver.readOutput<string, string>("order-status");
 * console.log(out.map((r) => `${r.key}=${r.value} @${r.timestamp}`));
 * ```
 */
export interface TestRecord<K, V> {
  /** The decoded key. */
  key: K;
  /** The decoded value. */
  value: V;
  /** The record's timestamp, epoch ms. */
  timestamp: number;
  /** The record's headers. */
  headers: Headers;
  /** The partition it was written to. */
  partition: number;
  /** Its offset in that partition. */
  offset: number;
}

/**
 * Options of a {@link TopologyTestDriver}: partitions per topic, the initial wall clock, error handling and the
 * state backend (Kafka Streams' driver takes these as properties).
 *
 * @example
 * ```ts
 * import { TopologyTestDriver, type DriverOptions, type Topology } from "weir";
 * import { openLmdbState } from "weir/state";
 *
 * declare const topology: Topology;
 * const options: DriverOptions = {
 *   partitions: 4,
 *   wallClockMs: Date.parse("2024-01-01T00:00:00Z"),
 *   errorHandlers: { processing: "fail" },
 *   state: openLmdbState({ path: "/tmp/weir-test-state" }),
 * };
 * const driver = new TopologyTestDriver(topology, options);
 * ```
 */
export interface DriverOptions {
  /** Partitions of every topic (default 1). */
  partitions?: number;
  /** Initial wall-clock time (default: now). Sources refuse records stamped more than maxFutureSkewMs ahead. */
  wallClockMs?: number;
  /** Shorthand for `errorHandlers.processing`. */
  onProcessingError?: RecordFailureAction;
  /** What record-level failures do, per kind (default: dead-letter all). */
  errorHandlers?: Partial<RecordFailureHandlers>;
  /** The state backend (default: in memory); pass `openLmdbState({ path })` to run on LMDB as the worker does. */
  state?: StateBackend;
  /** The producer's message.max.bytes the worker would check records against (default 1000000). */
  maxRecordBytes?: number;
  /** Dropped records are also dead-lettered (the worker's `droppedRecords`). @default "drop" */
  droppedRecords?: "drop" | "dead-letter";
}

/**
 * Runs a topology in-process without a broker, as Kafka Streams' TopologyTestDriver: in-memory stores, a commit
 * after every input record, records to internal (repartition) topics processed at once, outputs kept per topic.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, TopologyTestDriver } from "weir";
 *
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key: Serdes.string(), value: Serdes.json<{ amount: number }>() })
 *   .groupByKey("orders-by-customer")
 *   .count("orders-per-customer")
 *   .toStream("count-updates")
 *   .to("order-counts", { key: Serdes.string(), value: Serdes.json<number | null>() });
 *
 * const driver = new TopologyTestDriver(app.build());
 * driver.pipeInput("orders", [
 *   { key: "alice", value: { amount: 10 } },
 *   { key: "alice", value: { amount: 25 } },
 * ]);
 * console.log(driver.readOutput("order-counts").map((r) => r.value)); // [1, 2]
 * console.log(driver.keyValueStore<string, number>("orders-per-customer").get("alice")); // 2
 * driver.close();
 * ```
 */
export class TopologyTestDriver {
  readonly #topology: Topology;
  readonly #partitions: number;
  readonly #state: StateBackend;
  readonly #tasks = new Map<string, StreamTask>();
  /** Each task's buffered stores, by task id. */
  readonly #taskStores = new Map<string, { partition: number; stores: Map<string, BufferedStore> }>();
  readonly #topics = new Map<string, RawRecord[]>();
  readonly #offsets = new Map<string, number>();
  readonly #pending: RawRecord[] = [];
  readonly #errorHandlers: RecordFailureHandlers;
  readonly #dropped: Array<{ reason: string; node: string }> = [];
  readonly #maxRecordBytes: number;
  readonly #droppedAction: "drop" | "dead-letter";
  #wallClock: number;
  /** Wakes settle() when an asynchronous call settles. */
  #wake: () => void = () => {};

  /**
   * A driver for `topology`; tasks and stores are created as records arrive.
   *
   * @param topology the built topology to run
   * @param options partitions, wall clock, error handling and state backend
   */
  constructor(topology: Topology, options: DriverOptions = {}) {
    this.#topology = topology;
    this.#partitions = options.partitions ?? 1;
    // As Kafka Streams' TopologyTestDriver: the wall clock starts at the real time unless given.
    this.#wallClock = options.wallClockMs ?? Date.now();
    this.#errorHandlers = {
      deserialization: options.errorHandlers?.deserialization ?? "dead-letter",
      processing: options.errorHandlers?.processing ?? options.onProcessingError ?? "dead-letter",
      production: options.errorHandlers?.production ?? "dead-letter",
    };
    this.#maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.#droppedAction = options.droppedRecords ?? "drop";
    this.#state = options.state ?? openMemoryState();
  }

  /**
   * Serialize with the source's serdes and process, record by record (Kafka Streams' `TestInputTopic.pipeInput`).
   * Timestamps default to the wall clock; the partition defaults to the key's (murmur2) partition.
   *
   * @example
   * ```ts
   * import type { TopologyTestDriver } from "weir";
   *
   * declare const driver: TopologyTestDriver;
   * driver.pipeInput("orders", [
   *   { key: "o-1", value: { amount: 10 }, timestamp: 1_000 },
   *   { key: "o-2", value: { amount: 99 }, timestamp: 2_000, headers: { source: "web" } },
   * ]);
   * ```
   */
  pipeInput<K, V>(
    topic: string,
    records: Array<{ key: K; value: V; timestamp?: number; headers?: Headers; partition?: number }>,
  ): void {
    const source = this.#source(topic);
    for (const r of records)
      this.pipeRaw(topic, {
        key: r.key === null || r.key === undefined ? null : source.keySerde.serialize(r.key),
        value: r.value === null || r.value === undefined ? null : source.valueSerde.serialize(r.value),
        timestamp: r.timestamp,
        headers: r.headers,
        partition: r.partition,
      });
  }

  /**
   * Process raw bytes (e.g. a malformed record, to test dead-lettering).
   *
   * @example
   * ```ts
   * import type { TopologyTestDriver } from "weir";
   *
   * declare const driver: TopologyTestDriver;
   * driver.pipeRaw("orders", { key: Buffer.from("o-1"), value: Buffer.from("{not json") });
   * console.log(driver.deadLetters().length); // 1
   * ```
   */
  pipeRaw(
    topic: string,
    record: {
      key: Buffer | null;
      value: Buffer | null;
      timestamp?: number;
      headers?: Headers;
      partition?: number;
    },
  ): void {
    this.#source(topic);
    const appended = this.#append({
      topic,
      partition: record.partition ?? this.#partitionOf(record.key),
      key: record.key,
      value: record.value,
      timestamp: record.timestamp ?? this.#wallClock,
      headers: record.headers ?? {},
    });
    const global = this.#topology.globalStores.find((g) => g.topic === topic);
    if (global) {
      // A global table's record updates its store at once, as the worker's global consumer would.
      const batch = globalBatch(this.#topology, global.store, appended.partition, [appended], () =>
        this.#dropped.push({ reason: "global-table-invalid", node: global.store }),
      );
      this.#state.apply(batch);
    }
    this.#drain();
  }

  /**
   * Wait until no asynchronous processor (processAsync) holds a record: each settled call's outputs are applied as
   * the worker applies them (downstream, into the output topics), and the calls waiting behind them start. Fails
   * after `timeoutMs` naming how many records are still in flight.
   *
   * @example
   * ```ts
   * import type { TopologyTestDriver } from "weir";
   *
   * declare const driver: TopologyTestDriver;
   * driver.pipeInput("orders", [{ key: "o-1", value: { customer: "c-1", amount: 250 } }]);
   * await driver.settle(); // the risk check's call has completed and its output is written
   * console.log(driver.readOutput("scored-orders"));
   * ```
   */
  async settle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.pollAsync();
      const pending = [...this.#tasks.values()].reduce((n, t) => n + t.asyncPending, 0);
      if (pending === 0) return;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new WeirError(
          `settle(): ${pending} record(s) still in asynchronous processors after ${timeoutMs} ms`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Apply the results of the asynchronous calls that have settled so far (without waiting for the others). */
  async pollAsync(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    for (const task of this.#tasks.values()) task.applyAsyncCompletions();
    this.#drain();
  }

  /**
   * Move the wall clock by `ms` and fire wall-clock punctuators that became due (Kafka Streams'
   * `advanceWallClockTime`).
   */
  advanceWallClock(ms: number): void {
    this.#wallClock += ms;
    for (const task of this.#tasks.values()) task.punctuateWallClock(this.#wallClock);
    this.#drain();
  }

  /**
   * Records written to a topic, decoded with the topology's sink serdes for it (or the given ones), and removed
   * (Kafka Streams' `TestOutputTopic.readRecordsToList`).
   *
   * @example
   * ```ts
   * import { Serdes, type TopologyTestDriver } from "weir";
   *
   * declare const driver: TopologyTestDriver;
   * const statuses = driver.readOutput<string, string>("order-status");
   * const changelog = driver.readOutput("shop-stock-changelog", { key: Serdes.string(), value: Serdes.int32() });
   * ```
   */
  readOutput<K = unknown, V = unknown>(
    topic: string,
    serdes?: { key: Serde<K>; value: Serde<V> },
  ): TestRecord<K, V>[] {
    const raw = this.#topics.get(topic) ?? [];
    this.#topics.set(topic, []);
    const sink = this.#topology.subtopologies
      .flatMap((s) => s.nodes)
      .find((n) => n.type === "sink" && n.topic === topic);
    const keySerde = (serdes?.key ?? (sink?.type === "sink" ? sink.keySerde : undefined)) as
      Serde<K> | undefined;
    const valueSerde = (serdes?.value ?? (sink?.type === "sink" ? sink.valueSerde : undefined)) as
      Serde<V> | undefined;
    if (!keySerde || !valueSerde)
      throw new WeirError(`no sink writes '${topic}'; pass serdes to readOutput`, { topic });
    return raw.map((r) => ({
      key: decode(keySerde, r.key, "key"),
      value: decode(valueSerde, r.value, "value"),
      timestamp: r.timestamp,
      headers: r.headers,
      partition: r.partition,
      offset: r.offset,
    }));
  }

  /** Raw records of a topic (not removed). */
  records(topic: string): readonly RawRecord[] {
    return this.#topics.get(topic) ?? [];
  }

  /** Records stores or operators discarded (what the worker counts in weir_dropped_records_total). */
  droppedRecords(): ReadonlyArray<{
    /** Why, e.g. `expired-window`, `null-key`. */
    reason: string;
    /** The node (or store) that dropped it. */
    node: string;
  }> {
    return this.#dropped;
  }

  /**
   * Records sent to the dead-letter topic (not removed), with the `weir.*` headers of {@link DeadLetterHeader}.
   *
   * @example
   * ```ts
   * import { DeadLetterHeader, type TopologyTestDriver } from "weir";
   *
   * declare const driver: TopologyTestDriver;
   * for (const letter of driver.deadLetters())
   *   console.log(letter.headers[DeadLetterHeader.errorClass], letter.headers[DeadLetterHeader.errorMessage]);
   * ```
   */
  deadLetters(): readonly RawRecord[] {
    return this.records(this.#topology.deadLetterTopic);
  }

  /**
   * A key-value store of the task for `partition` (or a global table's store), to read in assertions (Kafka
   * Streams' `getKeyValueStore`).
   */
  keyValueStore<K, V>(name: string, partition = 0): KeyValueStore<K, V> {
    const global = this.#topology.globalStores.find((g) => g.store === name);
    if (global)
      return keyValueStore(name, new BufferedStore(this.#state.open(name, 0)), {
        key: global.definition.keySerde,
        value: global.definition.valueSerde,
      }) as KeyValueStore<K, V>;
    return this.#task(this.#subtopologyOfStore(name), partition).store(name) as unknown as KeyValueStore<
      K,
      V
    >;
  }

  /** A window store of the task for `partition`, to read in assertions (Kafka Streams' `getWindowStore`). */
  windowStore<K, V>(name: string, partition = 0): WindowStore<K, V> {
    return this.#task(this.#subtopologyOfStore(name), partition).store(name) as unknown as WindowStore<K, V>;
  }

  /** The driver's wall-clock time, epoch ms. */
  get wallClockMs(): number {
    return this.#wallClock;
  }

  /** Close the tasks and the state backend. */
  close(): void {
    for (const t of this.#tasks.values()) t.close();
    this.#state.close();
  }

  #source(topic: string): { keySerde: Serde<unknown>; valueSerde: Serde<unknown> } {
    const global = this.#topology.globalStores.find((g) => g.topic === topic);
    if (global) return global.definition;
    const node = this.#topology.subtopologies
      .flatMap((s) => s.nodes)
      .find((n) => n.type === "source" && n.topic === topic);
    if (!node || node.type !== "source")
      throw new WeirError(`the topology does not read topic '${topic}'`, { topic });
    return node;
  }

  #partitionOf(key: Buffer | null): number {
    return key === null ? 0 : partitionForKey(key, this.#partitions);
  }

  #append(record: Omit<RawRecord, "offset">): RawRecord {
    const tp = `${record.topic}/${record.partition}`;
    const offset = this.#offsets.get(tp) ?? 0;
    this.#offsets.set(tp, offset + 1);
    const full = { ...record, offset };
    if (!this.#topics.has(record.topic)) this.#topics.set(record.topic, []);
    this.#topics.get(record.topic)!.push(full);
    if (this.#topology.subtopologyOf(record.topic)) this.#pending.push(full);
    return full;
  }

  #drain(): void {
    while (this.#pending.length > 0) {
      const record = this.#pending.shift()!;
      const sub = this.#topology.subtopologyOf(record.topic)!;
      this.#task(sub.id, record.partition).process(record);
      this.#commit();
    }
    this.#commit();
  }

  /** The worker's commit-time store handling (runtime/task-stores.ts), with the driver's topics as the changelog. */
  #commit(): void {
    const staged = stageChangelogs(
      this.#topology,
      this.#taskStores.values(),
      (r) => this.#append(r),
      this.#wallClock,
    );
    applyStaged(this.#state, staged, (changelog) => {
      const offset = this.#offsets.get(changelog);
      return offset === undefined ? undefined : offset - 1;
    });
  }

  #subtopologyOfStore(name: string): number {
    const sub = this.#topology.subtopologies.find((s) => s.stores.includes(name));
    if (!sub) throw new WeirError(`no store named '${name}'`, { store: name });
    return sub.id;
  }

  #task(subtopology: number, partition: number): StreamTask {
    const id = taskId(subtopology, partition);
    let task = this.#tasks.get(id);
    if (task) return task;
    const topology = this.#topology;
    task = new StreamTask({
      appId: topology.appId,
      topology,
      subtopology: topology.subtopologies[subtopology]!,
      partition,
      wallClock: () => this.#wallClock,
      errorHandlers: this.#errorHandlers,
      droppedRecords: this.#droppedAction,
      globalStore: (name) => this.#state.open(name, 0),
      hooks: {
        dropped: (reason, node) => this.#dropped.push({ reason, node }),
        asyncSettled: () => this.#wake(),
      },
      store: (name) => {
        let entry = this.#taskStores.get(id);
        if (!entry) this.#taskStores.set(id, (entry = { partition, stores: new Map() }));
        let buffer = entry.stores.get(name);
        if (!buffer)
          entry.stores.set(
            name,
            (buffer = new BufferedStore(
              this.#state.open(name, partition),
              undefined,
              changelogSizeCheck(topology, name, this.#maxRecordBytes),
            )),
          );
        return buffer;
      },
      output: {
        send: (r: OutgoingRecord) => {
          checkRecordSize(r.topic, r.key, r.value, r.headers, this.#maxRecordBytes);
          this.#append({ ...r, partition: r.partition ?? this.#partitionOf(r.key) });
        },
        deadLetter: (r, error) => {
          const letter = fitDeadLetter(
            r,
            deadLetterHeaders(r, error),
            topology.deadLetterTopic,
            this.#maxRecordBytes,
            this.#wallClock,
          );
          this.#append({ ...letter, partition: 0, headers: letter.headers ?? {} });
        },
      },
    });
    this.#tasks.set(id, task);
    return task;
  }
}
