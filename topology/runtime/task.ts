import { Subject, type Observable, type Subscription } from "rxjs";
import { BufferedStore, keyValueStore, windowStore, type StoreBackend } from "../../state/index.js";
import { ttlKeyValueStore, type TtlKeyValueStore } from "../../state/ttl-store.js";
import type { KeyValueStore, WindowStore } from "../../state/types.js";
import type {
  ProcessorContext,
  ProcessorNode,
  PunctuationKind,
  StoreDefinition,
  SubTopology,
  Topology,
  AppCounter,
  SourceNode,
} from "../builder.js";
import {
  AsyncProcessingError,
  DeserializationError,
  DroppedRecordError,
  InvalidTimestampError,
  ProcessingError,
  StateStoreError,
  WeirError,
  errorMessage,
} from "../errors.js";
import type { Emit, OutgoingRecord, RawRecord, StreamRecord } from "../record.js";
import { recordFailureKind, type RecordFailureHandlers } from "../failures.js";
import { decodeRecord, encode, type Serde } from "../serdes.js";
import { eventTimeOf } from "./source-stores.js";
import { AsyncStage } from "./async-stage.js";
import { duePunctuators, type Punctuator } from "./punctuation.js";

export type TaskId = string;
export const taskId = (subtopology: number, partition: number): TaskId => `${subtopology}_${partition}`;

/** Where a task's results go. The worker produces them into the open transaction; the test driver keeps them. */
export interface TaskOutput {
  send(record: OutgoingRecord): void;
  deadLetter(record: RawRecord, error: WeirError): void;
}

export interface TaskHooks {
  /** Called with sampled processing durations (seconds). */
  processed?(processor: string, seconds: number): void;
  punctuated?(kind: PunctuationKind): void;
  /** A record a store or operator discarded (too late, expired), by reason and processor node. */
  dropped?(reason: string, node: string): void;
  /** The application's own counters (ProcessorContext.counter). */
  counter?(name: string, help: string, labelNames: readonly string[]): AppCounter;
  /** An asynchronous processor's call settled (seconds, outcome), or was retried. */
  asyncCalled?(processor: string, seconds: number, outcome: "ok" | "error" | "timeout"): void;
  asyncRetried?(processor: string): void;
  /** Every call for a record failed: it goes to the processing handler. */
  asyncFailed?(processor: string): void;
  /** A job of an asynchronous processor settled and waits to be applied (the worker's loop wakes). */
  asyncSettled?(): void;
}

export interface TaskOptions {
  appId: string;
  topology: Topology;
  subtopology: SubTopology;
  partition: number;
  /** The task's buffered store for a store name (the runtime wires the changelog hook). */
  store(name: string): BufferedStore;
  /** A global table's store (all of its topic, kept up to date by the runtime); read-only here. */
  globalStore?(name: string): StoreBackend;
  output: TaskOutput;
  wallClock(): number;
  /**
   * What a record-level failure does, per kind (topology/failures.ts): send the input record to the dead-letter
   * topic and go on, or fail the task.
   */
  errorHandlers: RecordFailureHandlers;
  /** A dropped record is also dead-lettered (with weir.drop.reason) when "dead-letter". @default "drop" */
  droppedRecords?: "drop" | "dead-letter";
  hooks?: TaskHooks;
}

const SAMPLE_EVERY = 16;

/**
 * One task: one partition of one sub-topology. Builds the sub-topology's RxJS pipeline once, then pushes records
 * through it synchronously in offset order. Shared by the Kafka worker and the test driver.
 */
export class StreamTask {
  readonly id: TaskId;
  readonly partition: number;
  readonly subtopology: SubTopology;
  /** Largest timestamp seen; -1 before the first record. */
  streamTime = -1;
  /** Records processed since creation. */
  processedRecords = 0;

  readonly #options: TaskOptions;
  readonly #subjects = new Map<string, Subject<StreamRecord>>();
  readonly #sourceByTopic = new Map<string, { node: string; key: SourceNode }>();
  readonly #subscriptions: Subscription[] = [];
  readonly #punctuators = new Map<string, Punctuator>();
  readonly #stores = new Map<string, KeyValueStore<unknown, unknown> | WindowStore<unknown, unknown>>();
  /** Stores with a time to live: expired entries are deleted when stream time moves. */
  readonly #ttlStores: Array<{ store: TtlKeyValueStore<unknown, unknown>; changeNode?: string }> = [];
  /** Asynchronous processors (processAsync), with the subject their results go downstream through. */
  readonly #asyncStages: Array<{ stage: AsyncStage; out: Subject<StreamRecord> }> = [];
  #current: StreamRecord | undefined;
  /** The processor node running now (what a dropped record is counted against). */
  #node: string | undefined;
  #currentRaw: RawRecord | undefined;
  /** The input record last dead-lettered as dropped (at most once each). */
  #letteredDrop: RawRecord | undefined;
  #inside = false;
  #failure: WeirError | undefined;
  #closed = false;

  constructor(options: TaskOptions) {
    this.#options = options;
    this.subtopology = options.subtopology;
    this.partition = options.partition;
    this.id = taskId(options.subtopology.id, options.partition);
    this.#build();
  }

  /**
   * Start from the stream time this task had when it last committed (restart, rebalance): stream-time punctuators
   * count from it, so the first record that moves stream time past what the stores hold fires them.
   */
  resumeStreamTime(streamTime: number): void {
    this.streamTime = streamTime;
    for (const p of this.#punctuators.values()) if (p.kind === "stream-time") p.last = streamTime;
  }

  get hasWallClockPunctuators(): boolean {
    for (const p of this.#punctuators.values()) if (p.kind === "wall-clock") return true;
    return false;
  }

  /** The typed store of this task (opened on first use). */
  store(name: string): KeyValueStore<unknown, unknown> | WindowStore<unknown, unknown> {
    let store = this.#stores.get(name);
    if (store) return store;
    const def: StoreDefinition | undefined = this.#options.topology.stores.get(name);
    const serdes = { key: def?.keySerde, value: def?.valueSerde } as {
      key: Serde<unknown>;
      value: Serde<unknown>;
    };
    if (def?.globalTopic !== undefined && this.#options.globalStore) {
      store = readOnly(keyValueStore(name, new BufferedStore(this.#options.globalStore(name)), serdes));
      this.#stores.set(name, store);
      return store;
    }
    if (!def || !this.subtopology.stores.includes(name))
      throw new StateStoreError(`task ${this.id} has no store '${name}'`, { store: name, task: this.id });
    const inner = this.#options.store(name);
    if (def.kind === "window")
      store = windowStore(name, inner, serdes, def.retentionMs!, {
        streamTime: () => this.streamTime,
        onDrop: (reason) => this.#dropped(reason, this.#node ?? name),
      });
    else if (def.ttlMs !== undefined) {
      const ttl = ttlKeyValueStore(name, inner, serdes, def.ttlMs, () => this.streamTime);
      this.#ttlStores.push({
        store: ttl,
        ...(def.changeNode !== undefined ? { changeNode: def.changeNode } : {}),
      });
      store = ttl;
    } else store = keyValueStore(name, inner, serdes);
    this.#stores.set(name, store);
    return store;
  }

  /** Decode a record and push it through the pipeline. Undecodable records go to the dead-letter topic. */
  process(raw: RawRecord): void {
    this.#checkOpen();
    const source = this.#sourceByTopic.get(raw.topic);
    if (!source)
      throw new WeirError(`task ${this.id} does not read topic ${raw.topic}`, {
        topic: raw.topic,
        task: this.id,
      });
    let record: StreamRecord;
    try {
      record = decodeRecord(source.key.keySerde, source.key.valueSerde, raw);
    } catch (err) {
      const error =
        err instanceof DeserializationError
          ? new (err.constructor as typeof DeserializationError)(err.message, {
              ...where(raw),
              task: this.id,
              node: source.node,
              cause: err.cause,
            })
          : new DeserializationError(errorMessage(err), {
              ...where(raw),
              task: this.id,
              node: source.node,
              cause: err,
            });
      if (this.#options.errorHandlers.deserialization === "fail") throw error;
      this.#options.output.deadLetter(raw, error);
      return;
    }
    const timestampError = this.#eventTime(source.key, record);
    if (timestampError) {
      if (this.#options.errorHandlers.deserialization === "fail") throw timestampError;
      this.#options.output.deadLetter(raw, timestampError);
      return;
    }
    const advanced = record.timestamp > this.streamTime;
    if (advanced) this.streamTime = record.timestamp;
    this.#current = record;
    this.#currentRaw = raw;
    // Expiry is part of processing the record that moved stream time: committed with it, failing with it.
    if (advanced && this.#ttlStores.length > 0) this.#expire();
    this.#run(() => this.#subjects.get(source.node)!.next(record));
    this.#current = undefined;
    this.#currentRaw = undefined;
    this.processedRecords++;
    this.#punctuate("stream-time", this.streamTime);
  }

  /**
   * The record's event time, from the source's extractor or its Kafka timestamp, set on the record; an error when it
   * is unusable (negative, not an integer, too far ahead of wall-clock time): the record is refused before it can
   * move stream time.
   */
  #eventTime(source: SourceNode, record: StreamRecord): InvalidTimestampError | undefined {
    const context = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      task: this.id,
      node: source.name,
    };
    const time = eventTimeOf(source, record);
    if ("problem" in time)
      return new InvalidTimestampError(time.problem, {
        ...context,
        ...(time.cause !== undefined ? { cause: time.cause } : {}),
      });
    const { timestamp } = time;
    const ahead = timestamp - this.#options.wallClock();
    if (ahead > source.maxFutureSkewMs)
      return new InvalidTimestampError(
        `timestamp ${timestamp} (${new Date(timestamp).toISOString()}) is ${ahead} ms ahead of wall-clock time; ` +
          `the source accepts at most ${source.maxFutureSkewMs} ms (maxFutureSkewMs)`,
        context,
      );
    (record as { timestamp: number }).timestamp = timestamp;
    return undefined;
  }

  /**
   * Delete the entries of stores with a time to live that stream time has passed. A store that materializes a DSL
   * table forwards each expired row from its node as a deletion (new value null, old value the row), so downstream
   * tables, re-groupings and `toStream` see it go as they would see a tombstone.
   */
  #expire(): void {
    for (const { store, changeNode } of this.#ttlStores) {
      const expired = store.expire(this.streamTime);
      // Counted as `ttl-expired` under the store's name: what expiry removed is visible as other drops are.
      for (let i = 0; i < expired.length; i++) this.#options.hooks?.dropped?.("ttl-expired", store.name);
      if (expired.length === 0 || changeNode === undefined) continue;
      const out = this.#subjects.get(changeNode)!;
      const origin = this.#current!;
      this.#run(() => {
        for (const { key, value } of expired)
          out.next({
            ...origin,
            key,
            value: { newValue: null, oldValue: value },
            timestamp: this.streamTime,
          });
      });
    }
  }

  /** A record an operator dropped on purpose: counted, and dead-lettered when the worker is told to. */
  #dropped(reason: string, node: string, deadLetter?: boolean): void {
    this.#options.hooks?.dropped?.(reason, node);
    const raw = this.#currentRaw;
    if (deadLetter === false || !raw) return;
    if (deadLetter === undefined && this.#options.droppedRecords !== "dead-letter") return;
    // One dead letter per input record, however many branches dropped it.
    if (this.#letteredDrop === raw) return;
    this.#letteredDrop = raw;
    this.#options.output.deadLetter(
      raw,
      new DroppedRecordError(reason, `record dropped by '${node}': ${reason}`, {
        ...where(raw),
        node,
        task: this.id,
      }),
    );
  }

  /** Fire wall-clock punctuators that are due. */
  punctuateWallClock(now = this.#options.wallClock()): void {
    this.#checkOpen();
    this.#punctuate("wall-clock", now);
  }

  /** Records inside asynchronous processors, not yet applied: a commit waits until there are none. */
  get asyncPending(): number {
    let n = 0;
    for (const { stage } of this.#asyncStages) n += stage.size;
    return n;
  }

  /** In-flight records per asynchronous processor (for the gauge). */
  asyncInFlight(): Array<{ processor: string; records: number }> {
    return this.#asyncStages.map(({ stage }) => ({ processor: stage.processor, records: stage.size }));
  }

  /** The task has an asynchronous processor (processAsync). */
  get hasAsync(): boolean {
    return this.#asyncStages.length > 0;
  }

  /** False while an asynchronous processor holds `concurrency` records: the task takes no new input. */
  get acceptsRecords(): boolean {
    for (const { stage } of this.#asyncStages) if (!stage.accepting) return false;
    return true;
  }

  /**
   * Send the results of settled asynchronous calls downstream, synchronously, as the processing of the records they
   * came from (their outputs join the open transaction; a failed call's record goes to the processing handler);
   * then start the calls that were waiting for them. Returns how many were applied.
   */
  applyAsyncCompletions(): number {
    this.#checkOpen();
    let applied = 0;
    for (const { stage, out } of this.#asyncStages) {
      if (!stage.hasCompleted) continue;
      for (const job of stage.takeCompleted()) {
        applied++;
        this.#current = job.origin ?? job.record;
        this.#currentRaw = job.raw;
        try {
          this.#run(() => {
            const outcome = job.outcome!;
            if (outcome.ok) {
              for (const emitted of outcome.outputs)
                this.#guard(stage.processor, () => out.next(this.#complete(emitted)));
              return;
            }
            const cause = outcome.error;
            this.#options.hooks?.asyncFailed?.(stage.processor);
            this.#processingError(
              stage.processor,
              new AsyncProcessingError(
                `async processor '${stage.processor}' failed after ${job.attempts} attempt(s): ${errorMessage(cause)}`,
                {
                  ...(job.raw ? where(job.raw) : {}),
                  node: stage.processor,
                  task: this.id,
                  cause,
                },
              ),
            );
          });
        } finally {
          this.#current = undefined;
          this.#currentRaw = undefined;
        }
      }
      stage.startReady();
    }
    return applied;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { stage } of this.#asyncStages) stage.close();
    for (const s of this.#subscriptions) s.unsubscribe();
    for (const p of this.#punctuators.values()) p.subject.complete();
    for (const s of this.#stores.values()) s.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new WeirError(`task ${this.id} is closed`, { task: this.id });
  }

  #punctuate(kind: PunctuationKind, now: number): void {
    for (const p of duePunctuators(this.#punctuators.values(), kind, now)) {
      this.#options.hooks?.punctuated?.(kind);
      this.#run(() => p.subject.next(now));
    }
  }

  /** Run a synchronous push; an error recorded by any subscriber inside is thrown here, after the push. */
  #run(push: () => void): void {
    this.#inside = true;
    try {
      push();
    } finally {
      this.#inside = false;
    }
    const failure = this.#failure;
    if (failure) {
      this.#failure = undefined;
      throw failure;
    }
  }

  #fail(error: WeirError): void {
    this.#failure ??= error;
  }

  #build(): void {
    // Stores with a time to live are opened at once: their expiry runs whether or not a processor touched them yet.
    for (const name of this.subtopology.stores)
      if (this.#options.topology.stores.get(name)?.ttlMs !== undefined) this.store(name);
    for (const node of this.subtopology.nodes) {
      const out = new Subject<StreamRecord>();
      this.#subjects.set(node.name, out);
      switch (node.type) {
        case "source":
          this.#sourceByTopic.set(node.topic, { node: node.name, key: node });
          break;
        case "processor":
          this.#subscribeProcessor(node, out);
          break;
        case "branch":
          this.#subscriptions.push(
            this.#parent(node.parents[0]!).subscribe((r) =>
              this.#guard(node.name, () => {
                if (node.predicate(r)) out.next(r);
              }),
            ),
          );
          break;
        case "merge":
          for (const p of node.parents)
            this.#subscriptions.push(this.#parent(p).subscribe((r) => out.next(r)));
          break;
        case "sink":
          this.#subscriptions.push(
            this.#parent(node.parents[0]!).subscribe((r) =>
              this.#guard(node.name, () => {
                if (!this.#inside)
                  throw new ProcessingError(
                    `a record reached sink '${node.name}' outside of processing: a processor upstream emits asynchronously ` +
                      `(delay, timers, promises); processors must be synchronous so outputs commit with their inputs`,
                    { node: node.name, task: this.id },
                  );
                const sent: OutgoingRecord = {
                  topic: node.topic,
                  key: encode(node.keySerde, r.key),
                  value: encode(node.valueSerde, r.value),
                  timestamp: r.timestamp,
                  headers: r.headers,
                };
                this.#options.output.send(sent);
              }),
            ),
          );
          break;
      }
    }
  }

  #parent(name: string): Observable<StreamRecord> {
    const s = this.#subjects.get(name);
    if (!s) throw new WeirError(`internal: node ${name} not built before its child`);
    return s;
  }

  /** An asynchronous processor: records enter its stage during processing; results leave in applyAsyncCompletions. */
  #subscribeAsync(node: ProcessorNode, out: Subject<StreamRecord>): void {
    const hooks = this.#options.hooks;
    const stage = new AsyncStage(
      node.name,
      node.async!,
      { taskId: this.id, partition: this.partition },
      () => hooks?.asyncSettled?.(),
      {
        called: (seconds, outcome) => hooks?.asyncCalled?.(node.name, seconds, outcome),
        retried: () => hooks?.asyncRetried?.(node.name),
      },
    );
    this.#asyncStages.push({ stage, out });
    this.#subscriptions.push(
      this.#parent(node.parents[0]!).subscribe((r) =>
        this.#guard(node.name, () => stage.add(r, this.#currentRaw, this.#current)),
      ),
    );
  }

  #subscribeProcessor(node: ProcessorNode, out: Subject<StreamRecord>): void {
    if (node.async) return this.#subscribeAsync(node, out);
    const context = this.#context(node);
    const input = this.#parent(node.parents[0]!);
    let counter = 0;
    const subscribe = (): void => {
      const sampled = new Subject<StreamRecord>();
      const operator = node.factory(context);
      const sub = operator(sampled).subscribe({
        next: (emitted: Emit) => this.#guard(node.name, () => out.next(this.#complete(emitted))),
        error: (err: unknown) => {
          this.#processingError(node.name, err);
          // The operator chain is dead after an error; build it again for the next record (stores keep state).
          subscribe();
        },
      });
      const feed = input.subscribe((r) => {
        const outer = this.#node;
        this.#node = node.name;
        try {
          if (++counter % SAMPLE_EVERY !== 0 || !this.#options.hooks?.processed) return sampled.next(r);
          const t0 = process.hrtime.bigint();
          sampled.next(r);
          this.#options.hooks.processed(node.name, Number(process.hrtime.bigint() - t0) / 1e9);
        } finally {
          this.#node = outer;
        }
      });
      this.#subscriptions.push(sub, feed);
      // Drop the previous feed if we are rebuilding after an error.
      const previous = this.#feeds.get(node.name);
      previous?.unsubscribe();
      this.#feeds.set(node.name, feed);
    };
    subscribe();
  }
  readonly #feeds = new Map<string, Subscription>();

  #complete(emitted: Emit): StreamRecord {
    const origin = this.#current;
    return {
      key: emitted.key,
      value: emitted.value,
      timestamp: emitted.timestamp ?? origin?.timestamp ?? Math.max(this.streamTime, 0),
      headers: emitted.headers ?? origin?.headers ?? {},
      topic: origin?.topic ?? "",
      partition: origin?.partition ?? this.partition,
      offset: origin?.offset ?? -1,
    };
  }

  #guard(node: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#processingError(node, err);
    }
  }

  /**
   * A failure inside the pipeline. A record-level one (topology/failures.ts) dead-letters the input record when its
   * kind's handler says so; anything else, or a failure outside a record (a punctuation), fails the task.
   */
  #processingError(node: string, err: unknown): void {
    const raw = this.#currentRaw;
    const error =
      err instanceof WeirError
        ? err
        : new ProcessingError(`processor '${node}' failed: ${errorMessage(err)}`, {
            ...(raw ? where(raw) : {}),
            node,
            task: this.id,
            cause: err,
          });
    const kind = recordFailureKind(err);
    if (kind !== undefined && raw && this.#options.errorHandlers[kind] === "dead-letter") {
      this.#options.output.deadLetter(raw, error);
      return;
    }
    this.#fail(error);
  }

  #context(node: ProcessorNode): ProcessorContext {
    const allowed = new Set(node.stores);
    const storeFor = (name: string, kind: StoreDefinition["kind"]) => {
      if (!allowed.has(name))
        throw new StateStoreError(
          `processor '${node.name}' did not declare store '${name}'; add it to { stores: [...] }`,
          {
            store: name,
            node: node.name,
          },
        );
      // A table whose changelog is its source topic is written by its table node only: anything else would be
      // lost at the next restore.
      const def = this.#options.topology.stores.get(name);
      if (def && def.kind !== kind)
        throw new StateStoreError(
          `processor '${node.name}' asked for store '${name}' as a ${kind} store, but it is a ${def.kind} store: use ctx.${def.kind === "window" ? "windowStore" : "keyValueStore"}('${name}')`,
          { store: name, node: node.name },
        );
      const store = this.store(name);
      return def?.sourceTopic !== undefined && node.name !== name && "prefixScan" in store
        ? readOnly(store)
        : store;
    };
    return {
      appId: this.#options.appId,
      taskId: this.id,
      partition: this.partition,
      processor: node.name,
      keyValueStore: <K, V>(name: string) => storeFor(name, "key-value") as unknown as KeyValueStore<K, V>,
      windowStore: <K, V>(name: string) => storeFor(name, "window") as unknown as WindowStore<K, V>,
      streamTime: () => this.streamTime,
      wallClockTime: () => this.#options.wallClock(),
      punctuate: (kind, intervalMs) => {
        const key = `${node.name}/${kind}/${intervalMs}`;
        let p = this.#punctuators.get(key);
        if (!p) {
          // Wall-clock schedules start when registered; stream-time schedules at the first record.
          p = {
            kind,
            intervalMs,
            last: kind === "wall-clock" ? this.#options.wallClock() : -1,
            subject: new Subject<number>(),
          };
          this.#punctuators.set(key, p);
        }
        return p.subject.asObservable();
      },
      currentRecord: () => this.#current,
      counter: (name, help, labelNames = []) =>
        this.#options.hooks?.counter?.(name, help, labelNames) ?? NO_COUNTER,
      dropped: (reason, options) => this.#dropped(reason, node.name, options?.deadLetter),
    };
  }
}

const NO_COUNTER: AppCounter = { inc: () => {} };

/**
 * A store as processors other than its writer see it: reads only. A global table's store (the runtime alone writes
 * it, from its topic), or a table's whose changelog is its source topic (its table node alone writes it).
 */
function readOnly(store: KeyValueStore<unknown, unknown>): KeyValueStore<unknown, unknown> {
  const refuse = (): never => {
    throw new StateStoreError(
      `store '${store.name}' is read-only here: its topic writes it (a global table, or a table whose changelog is its source topic)`,
      {
        store: store.name,
      },
    );
  };
  return {
    name: store.name,
    get: (key) => store.get(key),
    put: refuse,
    delete: refuse,
    range: (options) => store.range(options),
    prefixScan: (prefix, limit) => store.prefixScan(prefix, limit),
    approximateCount: () => store.approximateCount(),
    flush: () => {},
    close: () => store.close(),
  };
}

function where(raw: RawRecord) {
  return { topic: raw.topic, partition: raw.partition, offset: raw.offset };
}
