import { openLmdbState, type StateBackend } from "../../state/index.js";
import type { Topology } from "../builder.js";
import {
  ProducerError,
  ProducerFencedError,
  StateDirectoryLockedError,
  StateStoreError,
  StopRequestedError,
  WeirError,
  errorMessage,
} from "../errors.js";
import {
  ErrorCode,
  Offset,
  RdKafka,
  Txn,
  consumeBatch,
  createAdmin,
  describeKafkaError,
  disconnect,
  type IAdminClient,
  type KafkaConsumer,
  type LibrdKafkaError,
  type Message,
  type Producer,
  splitTp,
  settledWithin,
  sleep,
  tpKey,
} from "../kafka.js";
import { classify, fatalProducerRemedy, loggableFailure, recordFailureKind } from "../failures.js";
import { isAuthenticationError, saslError } from "../security.js";
import { silentLogger, type Logger } from "../log.js";
import { consumerLag, metricsForApp } from "../metrics.js";
import { compileWorkerOptions, type CompiledWorkerOptions, type WorkerOptions } from "../options.js";
import {
  ClientErrorLog,
  clientConfig,
  closeClients,
  connectWithRetry,
  createConsumer,
  createProducer,
  createRestoreConsumer,
  createGlobalConsumer,
  retry,
  validateClientConfigs,
  type ClientContext,
} from "./clients.js";
import { Committer, TransactionCallStuckError } from "./committer.js";
import { QueryRouter, publishMember, type PartitionOwner } from "./members.js";
import { StandbyReplicas } from "./standbys.js";
import { StateDirectoryLock } from "./state-directory.js";
import { partitionForKey } from "../partitioner.js";
import { prepareTopics } from "./internal-topics.js";
import { RecordCollector } from "./record-collector.js";
import { OFFSET_RANGE_CHECK_MS, Rebalancer, SPLIT_ASSIGNMENT_GRACE_MS } from "./rebalances.js";
import { Restorer } from "./restorer.js";
import { GlobalTables } from "./global-tables.js";
import { TaskManager, type TaskStatus } from "./task-manager.js";
import { Health, type ProblemReport } from "./health.js";
import { TOPIC_CHECK_INTERVAL_MS, TopicWatch } from "./topic-watch.js";

export type { TaskStatus };

/** How long a consume call waits for a first record: idle, and while asynchronous calls are in flight. */
const CONSUME_TIMEOUT_MS = 100;
const ASYNC_CONSUME_TIMEOUT_MS = 5;

/** A producer is replaced at most this many times within the window; once more is fatal (an id twin). */
const MAX_PRODUCER_REPLACEMENTS = 3;
const PRODUCER_REPLACEMENT_WINDOW_MS = 10 * 60_000;

/** FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER: answers to a client with stale metadata. */
const STALE_METADATA_CODES = new Set<number | undefined>([74, 75, 6]);

/**
 * A worker's life cycle (Kafka Streams' `KafkaStreams.State`): `created` → `starting` (clients, topics, global
 * tables) → `running` → `stopped`, or `failed` on a fatal error. (`stopping` is part of the type but the worker
 * does not enter it at present: it stays `running` until it has stopped.)
 *
 * @example
 * ```ts
 * import type { Worker, WorkerState } from "weir";
 *
 * declare const worker: Worker;
 * const state: WorkerState = worker.state;
 * if (state === "failed") process.exitCode = 1;
 * ```
 */
export type WorkerState = "created" | "starting" | "running" | "stopping" | "stopped" | "failed";

/**
 * A weir worker: one member of the application's consumer group. Runs the tasks of the partitions it is assigned,
 * commits their outputs, changelog records and consumed offsets in one Kafka transaction per commit interval
 * (exactly-once) and only then applies their state writes to LMDB with the changelog offsets. The counterpart of
 * Kafka Streams' `KafkaStreams` instance; run more of them (processes or machines) in the same group to scale out.
 *
 * @example
 * ```ts
 * import { Worker, jsonLogger, type Topology } from "weir";
 *
 * declare const topology: Topology;
 * const worker = new Worker(topology, {
 *   brokers: process.env.KAFKA_BROKERS ?? "localhost:9092",
 *   stateDir: "/var/lib/weir",
 *   logger: jsonLogger(),
 * });
 * process.once("SIGTERM", () => void worker.stop("SIGTERM"));
 * await worker.start();
 * await worker.done; // resolves on stop, rejects with the fatal error
 * ```
 */
export class Worker {
  /** The topology the worker runs. */
  readonly topology: Topology;
  /** Its options, checked and with defaults applied. */
  readonly options: CompiledWorkerOptions;
  readonly #log: Logger;
  readonly #metrics: WorkerOptions["metrics"];
  #state: WorkerState = "created";
  #store: StateBackend | undefined;
  /** The lock on the state directory, held from start until the worker has stopped (runtime/state-directory.ts). */
  #dirLock: StateDirectoryLock | undefined;
  #consumer: KafkaConsumer | undefined;
  #restoreConsumer: KafkaConsumer | undefined;
  #globalConsumer: KafkaConsumer | undefined;
  #producer: Producer | undefined;
  readonly #tm: TaskManager;
  readonly #committer: Committer;
  #lock: Promise<unknown> = Promise.resolve();
  #admin: IAdminClient | undefined;
  #stopRequested = false;
  #fatal: unknown;
  #loop: Promise<void> | undefined;
  #done!: Promise<void>;
  #resolveDone!: () => void;
  #rejectDone!: (e: unknown) => void;
  readonly #restorer: Restorer;
  readonly #globals: GlobalTables;
  readonly #rebalancer: Rebalancer;
  readonly #collector: RecordCollector;
  readonly #router: QueryRouter;
  #standbys: StandbyReplicas | undefined;
  #advertisedUrl: string | undefined;
  readonly #ctx: ClientContext & { stopRequested: () => boolean };
  readonly #clientErrors: ClientErrorLog;
  readonly #health: Health;
  readonly #topics: TopicWatch;
  #watchTimer: NodeJS.Timeout | undefined;
  #adminSince = Date.now();
  /** When the producer was replaced (see #replaceProducer). */
  #replacements: number[] = [];
  #consumeTimeout = CONSUME_TIMEOUT_MS;
  /** Names of the topology's asynchronous processors (processAsync). */
  readonly #asyncProcessors: string[];
  /**
   * The longest the records in asynchronous processors can take to settle: attempts × timeout plus the back-offs
   * (bounded by weir's timers, whatever the calls do), and 10 s.
   */
  readonly #asyncSettleBoundMs: number;
  /**
   * Under exactly-once, how long a transaction may stay open while records wait in asynchronous processors: 70 % of
   * the transaction timeout, after which the broker would abort the transaction and fence the producer (a fence
   * after three replacements in ten minutes stops the worker). Past it the worker aborts and rewinds itself.
   */
  readonly #txnDrainLimitMs: number;
  /** Asynchronous processors whose calls, with their retries, may outlast #txnDrainLimitMs. */
  readonly #slowAsync: string[];
  /** When the loop's commit began waiting for asynchronous records (TaskManager.draining). */
  #drainingSince = 0;
  /** When the loop last turned: a loop that stops turning outside a known wait is wedged (see `live`). */
  #loopTurn = Date.now();

  /**
   * Checks the options ({@link compileWorkerOptions}) and the client configuration; connects to nothing yet (see
   * {@link Worker.start}). Throws a ConfigError for options that can never work.
   *
   * @param topology the built topology to run
   * @param options brokers, state folder and the rest
   */
  constructor(topology: Topology, options: WorkerOptions) {
    this.topology = topology;
    this.options = compileWorkerOptions(topology, options);
    this.#log = (options.logger ?? silentLogger).child({
      app: topology.appId,
      worker: this.options.workerId,
    });
    // Every series this worker writes carries its application's id (several applications can share a registry).
    this.#metrics = options.metrics && metricsForApp(options.metrics, topology.appId);
    this.#done = new Promise((res, rej) => {
      this.#resolveDone = res;
      this.#rejectDone = rej;
    });
    this.#done.catch(() => {});
    const asyncNodes = topology.subtopologies.flatMap((s) =>
      s.nodes.flatMap((n) => (n.type === "processor" && n.async ? [{ name: n.name, spec: n.async }] : [])),
    );
    this.#asyncProcessors = asyncNodes.map((n) => n.name);
    this.#asyncSettleBoundMs =
      10_000 +
      Math.max(
        0,
        ...asyncNodes.map(({ spec }) => spec.attempts * spec.timeoutMs + spec.backoffMs * 2 ** spec.attempts),
      );
    this.#txnDrainLimitMs = Math.floor(0.7 * this.options.transactionTimeoutMs);
    this.#slowAsync = asyncNodes
      .map(({ name, spec }) => ({
        name,
        ms: spec.attempts * spec.timeoutMs + spec.backoffMs * 2 ** spec.attempts,
      }))
      .filter((n) => n.ms > this.#txnDrainLimitMs)
      .map((n) => `${n.name} (up to ${n.ms} ms with retries)`);
    const base = { topology, options: this.options, log: this.#log, metrics: this.#metrics };
    this.#ctx = {
      ...base,
      stopRequested: () => this.#stopRequested,
    };
    this.#clientErrors = new ClientErrorLog(this.#ctx);
    this.#health = new Health(base);
    this.#topics = new TopicWatch({ ...base, producer: () => this.#producer, health: this.#health });
    this.#collector = new RecordCollector({
      ...base,
      producer: () => this.#producer!,
    });
    this.#router = new QueryRouter(this.#ctx, () => this.#admin);
    this.#advertisedUrl = this.options.advertisedUrl;
    this.#tm = new TaskManager({
      ...base,
      store: () => this.#store!,
      globalStore: (name) => this.#globals.view(name),
      consumer: () => this.#consumer!,
      collector: this.#collector,
    });
    this.#committer = new Committer({
      ...base,
      store: () => this.#store!,
      producer: () => this.#producer!,
      consumer: () => this.#consumer!,
      admin: () => this.#admin,
      collector: this.#collector,
      tasks: this.#tm,
      health: this.#health,
      stopRequested: () => this.#stopRequested,
    });
    this.#restorer = new Restorer({
      ...base,
      store: () => this.#store!,
      consumer: () => this.#restoreConsumer!,
      admin: () => this.#admin!,
      stopRequested: () => this.#stopRequested,
      retry: (what, fn) => this.#retry(what, fn),
      beforeRestore: (sub, partition) => this.#standbys?.release(sub, partition),
    });
    this.#globals = new GlobalTables({
      ...base,
      store: () => this.#store!,
      restorer: this.#restorer,
      stopRequested: () => this.#stopRequested,
      fail: (e) => {
        this.#fatal ??= e;
      },
    });
    this.#rebalancer = new Rebalancer({
      ...base,
      consumer: () => this.#consumer!,
      admin: () => this.#admin!,
      tasks: this.#tm,
      committer: this.#committer,
      restorer: this.#restorer,
      exclusive: (fn) => this.#exclusive(fn),
      commit: () => this.#commit(),
      retry: (what, fn) => this.#retry(what, fn),
      stopRequested: () => this.#stopRequested,
      failed: () => this.#fatal !== undefined,
      fail: (e) => {
        this.#fatal ??= e;
      },
      ready: () => this.ready,
      assignmentChanged: () => this.#updateAssignmentMetrics(),
      replaceProducer: (cause) => this.#replaceProducer(cause),
      step: (what) => this.#health.step(what),
    });
    // Client configuration that can never work (an unknown property, an invalid value) fails here, not at start.
    validateClientConfigs(this.#ctx);
  }

  /** Restore counters of the last assignment, for tests and operators: store-partition → records replayed. */
  get restoredRecords(): Map<string, number> {
    return this.#restorer.restoredRecords;
  }

  /** Where the worker is in its life cycle. */
  get state(): WorkerState {
    return this.#state;
  }

  /**
   * Assigned tasks restored and running, and nothing keeping the worker from progress: brokers reachable, every
   * topic present, commits standing, not stalled (runtime/health.ts). What `/readyz` reports.
   */
  get ready(): boolean {
    return this.#state === "running" && this.#rebalancer.settled && this.#health.ok;
  }

  /** Why the worker is not ready (empty when it is). */
  problems(): ProblemReport[] {
    const problems = this.#health.problems();
    if (this.#state === "running" && !this.#rebalancer.settled) {
      const waiting = this.#rebalancer.incompleteTasks();
      problems.unshift({
        problem: "rebalancing",
        reason:
          "partitions are being assigned, restored or their start offsets decided" +
          (waiting.length > 0
            ? `; tasks waiting for the rest of their input partitions: ${waiting.map((t) => `${t.id} (missing ${t.missing.join(", ")})`).join("; ")}`
            : ""),
        since: new Date().toISOString(),
      });
    }
    return problems;
  }

  /**
   * Liveness (what `/healthz` reports): false once the worker failed or stopped, or when its loop has not turned
   * for longer than the consumer's max.poll.interval.ms while no passing fault explains it — a wedged worker that
   * a restart heals. A broker outage or a missing topic does not make a worker dead: a restart cannot heal them.
   */
  get live(): boolean {
    if (this.#state === "failed" || this.#state === "stopped") return false;
    if (this.#state !== "running") return true;
    const bound = Math.max(300_000, this.options.taskTimeoutMs + 60_000);
    return (
      Date.now() - this.#loopTurn < bound ||
      this.#health.has("brokers-unreachable") ||
      this.#health.has("topic-missing") ||
      this.#health.has("commit-undecided")
    );
  }

  /** Resolves when the worker has stopped; rejects with the fatal error if it failed. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** The tasks this worker runs, with their partitions and progress. */
  tasks(): TaskStatus[] {
    return this.#tm.status();
  }

  /**
   * Interactive query of a key-value store on this worker (Kafka Streams' interactive queries): the key's value if
   * a task of this worker holds it. `partition` is the partition the value was found in (-1 for a global table);
   * when not found, it is the partition the key belongs to, and `local` says whether this worker holds it.
   *
   * @example
   * ```ts
   * import type { Worker } from "weir";
   *
   * declare const worker: Worker;
   * const { found, value } = worker.queryStore("orders-per-customer", "alice");
   * if (found) console.log(`alice placed ${String(value)} orders`);
   * ```
   */
  queryStore(
    store: string,
    key: unknown,
  ): {
    /** Whether the key has a value here. */
    found: boolean;
    /** The decoded value, when found. */
    value?: unknown;
    /** The partition of the key (-1 for a global table). */
    partition: number;
    /** Whether this worker holds that partition's store. */
    local: boolean;
  } {
    return this.#tm.queryStore(store, key);
  }

  /**
   * Where this worker answers interactive queries, when it is known only once its HTTP server listens (a port
   * chosen by the system): overrides the `advertisedUrl` option. Call it before {@link Worker.start}.
   *
   * @example
   * ```ts
   * import type { Worker } from "weir";
   *
   * declare const worker: Worker;
   * worker.advertise("http://10.0.0.7:9400");
   * await worker.start();
   * ```
   */
  advertise(url: string): void {
    if (this.#state !== "created") throw new WeirError("advertise() must be called before start()");
    this.#advertisedUrl = url;
  }

  /** Where this worker answers interactive queries (see {@link Worker.advertise}), if it said. */
  get advertisedUrl(): string | undefined {
    return this.#advertisedUrl;
  }

  /**
   * Where a key of a store is when this worker does not hold it (routed interactive queries): the worker that does,
   * and the URL it advertised (`advertisedUrl`), from the group's current assignment as the broker describes it;
   * `rebalancing` while the group moves partitions (ask again shortly), `unknown` when the holder advertises no URL.
   *
   * @example
   * ```ts
   * import type { Worker } from "weir";
   *
   * declare const worker: Worker;
   * const local = worker.queryStore("orders-per-customer", "alice");
   * if (!local.local) {
   *   const where = await worker.ownerOf("orders-per-customer", local.partition);
   *   if (where.kind === "owner") console.log(`ask ${where.url} (worker ${where.workerId})`);
   * }
   * ```
   */
  async ownerOf(store: string, partition: number): Promise<PartitionOwner> {
    const sub = this.topology.subtopologies.find((s) => s.stores.includes(store));
    if (!sub) throw new StateStoreError(`no partitioned store named '${store}'`, { store });
    return this.#router.ownerOf(sub, partition);
  }

  /**
   * A window store's entries of one key with timestamps (window starts) in [from, to], when this worker holds the
   * key's partition (`local`); otherwise empty, with the partition to ask its owner about ({@link Worker.ownerOf}).
   *
   * @example
   * ```ts
   * import type { Worker } from "weir";
   *
   * declare const worker: Worker;
   * const hour = 3_600_000;
   * const { entries, local } = worker.queryWindowStore("views-per-minute", "/home", Date.now() - hour, Date.now());
   * if (local) for (const e of entries) console.log(new Date(e.timestamp).toISOString(), e.value);
   * ```
   */
  queryWindowStore(
    store: string,
    key: unknown,
    from: number,
    to: number,
  ): {
    /** The key's entries in the range, oldest first. */
    entries: Array<{
      /** The window's start (or the event time the value was stored under). */
      timestamp: number;
      /** The decoded value. */
      value: unknown;
    }>;
    /** The key's partition. */
    partition: number;
    /** Whether this worker holds that partition. */
    local: boolean;
  } {
    return this.#tm.queryWindow(store, key, from, to);
  }

  /**
   * A key of a key-value store read from the standby replica this worker keeps of its partition (a stale read,
   * `?stale=ok`): undefined when this worker keeps no standby of that partition. The copy lags the active task by
   * what `weir_standby_lag_records` says.
   *
   * @example
   * ```ts
   * import type { Worker } from "weir";
   *
   * declare const worker: Worker;
   * const stale = worker.queryStandby("orders-per-customer", "alice");
   * if (stale?.found) console.log(`alice: ${String(stale.value)} (from a standby)`);
   * ```
   */
  queryStandby(
    store: string,
    key: unknown,
  ):
    | {
        /** Whether the standby copy has the key. */
        found: boolean;
        /** The decoded value, when found. */
        value?: unknown;
        /** The key's partition. */
        partition: number;
      }
    | undefined {
    const def = this.topology.stores.get(store);
    const sub = this.topology.subtopologies.find((s) => s.stores.includes(store));
    if (!def || !sub || !this.#standbys) return undefined;
    const bytes = def.keySerde.serialize(key);
    const partition = partitionForKey(bytes, this.#tm.partitionsOf.get(sub.id) ?? 1);
    const value = this.#standbys.read(store, partition, bytes);
    if (value === undefined) return undefined;
    return value === null
      ? { found: false, partition }
      : { found: true, value: def.valueSerde.deserialize(value), partition };
  }

  /**
   * Entries of a key-value store across this worker's tasks, in key order per task, at most `limit`; with a
   * `prefix`, those whose serialized key starts with the serialized prefix.
   *
   * @example
   * ```ts
   * import type { Worker } from "weir";
   *
   * declare const worker: Worker;
   * for (const { key, value, partition } of worker.scanStore("stock", "SKU-1", 20))
   *   console.log(partition, key, value);
   * ```
   */
  scanStore(
    store: string,
    prefix?: unknown,
    limit = 100,
  ): Generator<{
    /** The decoded key. */
    key: unknown;
    /** The decoded value. */
    value: unknown;
    /** The partition it is in (-1 for a global table). */
    partition: number;
  }> {
    return this.#tm.scanStore(store, prefix, limit);
  }

  /**
   * Start (Kafka Streams' `KafkaStreams.start`): connect the clients, create missing internal topics, initialise
   * transactions, restore global tables, join the group; then process in the background. Resolves once running;
   * rejects (and {@link Worker.done} rejects) if start-up fails.
   */
  async start(): Promise<void> {
    if (this.#state !== "created") throw new WeirError(`worker already ${this.#state}`);
    this.#state = "starting";
    const o = this.options;
    this.#log.info("worker starting", {
      guarantee: o.guarantee,
      brokers: o.brokers,
      stateDir: o.appStateDir,
      assignor: o.assignor,
      commitIntervalMs: o.commitIntervalMs,
      ...(o.groupInstanceId !== undefined ? { staticMember: o.groupInstanceId } : {}),
    });
    try {
      // Before any store is opened or the group joined: a second worker on this directory stops here.
      this.#dirLock = await StateDirectoryLock.acquire(o.appStateDir, o.workerId, this.#log, (reason) => {
        this.#fatal ??= new StateDirectoryLockedError(
          `${reason}: two workers on one state directory; give each worker its own --state-dir`,
        );
      });
      this.#store = openLmdbState({ path: o.appStateDir });
      this.#producer = await this.#connectProducer();
      this.#log.debug("producer connected");
      this.#admin = createAdmin(clientConfig(this.#ctx, "admin"));
      const topics = await prepareTopics({
        topology: this.topology,
        log: this.#log,
        producer: this.#producer,
        admin: this.#admin,
        stopRequested: () => this.#stopRequested,
        retry: (what, fn) => this.#retry(what, fn),
      });
      this.#tm.partitionsOf = topics.partitionsOf;
      this.#topics.startWith(topics.topicPartitions);
      this.#log.debug("topics ready");
      const url = this.#advertisedUrl;
      if (url !== undefined) await this.#retry("advertise", () => this.#advertise(url));
      if (o.guarantee === "exactly_once")
        await retry(this.#ctx, "initTransactions", () => Txn.init(this.#producer!, 30_000));
      this.#log.debug("transactions initialised");
      this.#restoreConsumer = createRestoreConsumer(this.#ctx);
      await connectWithRetry(this.#ctx, this.#restoreConsumer, "restore consumer");
      if (this.#globals.stores.length > 0) {
        // Global tables first, as Kafka Streams' global thread: no task runs before they are caught up.
        await this.#globals.restore((t) => topics.topicPartitions.get(t));
        this.#globalConsumer = createGlobalConsumer(this.#ctx);
        await connectWithRetry(this.#ctx, this.#globalConsumer, "global table consumer");
        this.#globals.start(this.#globalConsumer);
        this.#log.info("global tables restored", { stores: this.#globals.stores.map((g) => g.store) });
      }
      this.#consumer = createConsumer(this.#ctx, this.#clientErrors, (err, assignment) =>
        this.#rebalancer.onRebalance(err, assignment),
      );
      await connectWithRetry(this.#ctx, this.#consumer, "consumer");
      this.#log.debug("consumers connected");
      this.#consumer.on("event.error", (err) => this.#onClientError(err));
      this.#consumer.subscribe(this.topology.sourceTopics);
      if (o.standbyReplicas > 0) {
        this.#standbys = new StandbyReplicas({
          ctx: this.#ctx,
          store: () => this.#store!,
          admin: () => this.#admin!,
          group: () => this.#router.group(),
          partitionsOf: () => this.#tm.partitionsOf,
          activeTasks: () => new Set(this.tasks().map((t) => t.id)),
          memberKey: o.groupInstanceId ?? this.#consumerClientId(),
          stopRequested: () => this.#stopRequested,
        });
        await this.#standbys.start();
      }
      if (this.#stopRequested) throw new StopRequestedError("stopped during start");
    } catch (err) {
      this.#state = "failed";
      await this.#closeClients();
      this.#store?.close();
      this.#dirLock?.release();
      this.#rejectDone(err);
      throw err;
    }
    this.#state = "running";
    this.#log.info("worker running", { topics: this.topology.sourceTopics });
    if (this.options.guarantee === "exactly_once" && this.#slowAsync.length > 0)
      this.#log.warn(
        "asynchronous processors may take longer than a transaction may stay open: records whose calls run that " +
          "long are aborted and processed again (raise transactionTimeoutMs, or lower the calls' timeoutMs or attempts)",
        {
          processors: this.#slowAsync,
          transactionTimeoutMs: this.options.transactionTimeoutMs,
          openForAtMostMs: this.#txnDrainLimitMs,
        },
      );
    this.#watchTimer = setInterval(() => this.#watch(), 1000);
    this.#watchTimer.unref();
    this.#loop = this.#run();
  }

  /**
   * The worker's retry around Kafka requests (clients.ts `retry`). An admin client whose cached metadata is stale —
   * a broker restarted and its partitions' leader epochs moved on, so every ListOffsets is refused with
   * FENCED_LEADER_EPOCH — is replaced before the next attempt: librdkafka's admin client does not refresh it.
   */
  #retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retry(this.#ctx, what, async () => {
      try {
        return await fn();
      } catch (err) {
        const code = (err as LibrdKafkaError)?.code;
        if (STALE_METADATA_CODES.has(code) && this.#admin && Date.now() - this.#adminSince > 5000) {
          this.#log.info("renewing the admin client: its metadata is stale", {
            error: describeKafkaError(err),
          });
          this.#admin.disconnect();
          this.#admin = createAdmin(clientConfig(this.#ctx, "admin"));
          this.#adminSince = Date.now();
        }
        throw err;
      }
    });
  }

  /** The group consumer's client.id (as the group's description names the member when it is not static). */
  #consumerClientId(): string {
    return String(clientConfig(this.#ctx, "consumer")[RdKafka.clientId]);
  }

  /** This worker's entry in the members topic: where it answers queries, and how to find it among the group's members. */
  async #advertise(url: string): Promise<void> {
    const clientId = this.#consumerClientId();
    await publishMember(this.#ctx, {
      workerId: this.options.workerId,
      url,
      clientId,
      ...(this.options.groupInstanceId !== undefined
        ? { groupInstanceId: this.options.groupInstanceId }
        : {}),
      at: Date.now(),
    });
    this.#log.info("advertised for interactive queries", { url, membersTopic: this.topology.membersTopic });
  }

  async #connectProducer(): Promise<Producer> {
    const producer = createProducer(this.#ctx, this.#clientErrors, (err) => this.#collector.onDelivery(err));
    producer.on("event.error", (err) => this.#onClientError(err));
    await connectWithRetry(this.#ctx, producer, "producer");
    // Delivery reports are served by librdkafka's background thread, not by polling from the event loop.
    producer.setPollInBackground(true);
    return producer;
  }

  /**
   * A producer that failed fatally is replaced when that heals it (`fatalProducerRemedy`, topology/failures.ts): a
   * new producer with the same transactional id (initTransactions makes sure the old transaction is decided), the
   * tasks' uncommitted state dropped, every partition rewound to its committed offset — as Kafka Streams replaces
   * its producer on a TaskMigratedException. Exactly-once holds: nothing of the failed transaction was applied
   * locally, and a worker that lost its partitions meanwhile is fenced by the group generation at its next
   * sendOffsets. Fenced by a twin, refused, or failing again and again is not a passing fault: the worker stops.
   */
  async #replaceProducer(cause: unknown): Promise<void> {
    const now = Date.now();
    this.#replacements = this.#replacements.filter((t) => now - t < PRODUCER_REPLACEMENT_WINDOW_MS);
    const replacementsLeft = this.#replacements.length < MAX_PRODUCER_REPLACEMENTS;
    // A transactional call the client lost leaves a producer that accepts no other: replaced, as one that failed.
    const stuck = cause instanceof TransactionCallStuckError ? cause : undefined;
    const remedy = stuck
      ? replacementsLeft
        ? "replace-producer"
        : "stop"
      : fatalProducerRemedy(cause, {
          exactlyOnce: this.options.guarantee === "exactly_once",
          // Only an open transaction can have been aborted by the broker: a begin refused after an idle spell has
          // an old txnStartedAt (the last transaction's) and means a twin.
          transactionTimedOut:
            this.#committer.txnOpen && now - this.#committer.txnStartedAt > this.options.transactionTimeoutMs,
          replacementsLeft,
        });
    if (remedy === "stop") throw cause;
    this.#replacements.push(now);
    this.#log.warn(
      stuck
        ? "a transactional call never returned: replacing the producer (the new one fences it and Kafka decides its transaction)"
        : "the producer failed fatally: replacing it, resuming from the committed offsets",
      {
        error: errorMessage(cause),
        replacementsInWindow: this.#replacements.length,
      },
    );
    const old = this.#producer!;
    this.#committer.dropTransaction();
    this.#health.step("replacing the producer");
    // A producer with a hung call is closed once the call returns, if ever: closing it now would wait for the call.
    if (stuck) void stuck.pending.then(() => disconnect(old, 5000)).catch(() => {});
    else await disconnect(old, 5000).catch(() => {});
    this.#producer = await this.#connectProducer();
    await retry(this.#ctx, "initTransactions", () => Txn.init(this.#producer!, 30_000));
    if (stuck?.mayHaveCommitted && (await this.#committer.settleStuckCommit()) === "committed") {
      this.#log.info(
        "producer replaced; the commit that hung had stood: its writes are applied, processing goes on",
      );
      return;
    }
    await this.#rebalancer.rewind();
    this.#log.info("producer replaced; resuming from the committed offsets");
  }

  /**
   * librdkafka says every broker connection is down: not ready at once; the next probe says when they are back. A
   * broker refusing the client's authentication (credentials changed while the worker ran) is fatal: no retry can
   * heal it (Kafka Streams dies on a SaslAuthenticationException too).
   */
  #onClientError(err: LibrdKafkaError): void {
    if (isAuthenticationError(err)) {
      this.#fatal ??= saslError(
        { kind: "authentication", broker: this.options.brokers, reason: describeKafkaError(err) },
        this.options.kafka,
      );
      return;
    }
    // The client reports it with code -1 and librdkafka's text, not with ALL_BROKERS_DOWN (-187).
    if (err.code !== ErrorCode.ALL_BROKERS_DOWN && !/all broker connections are down/i.test(err.message))
      return;
    this.#health.raise("brokers-unreachable", `all broker connections are down (${this.options.brokers})`, {
      error: describeKafkaError(err),
    });
  }

  /** Once a second: the stall check; every few seconds (every second while brokers are unreachable) the topics. */
  #watch(): void {
    if (this.#state !== "running") return;
    this.#health.evaluate(this.#waitingWork(), this.#rebalancer.settled);
    this.#checkSplitAssignment();
    const interval = this.#health.ok ? TOPIC_CHECK_INTERVAL_MS : 1000;
    if (Date.now() - this.#topics.lastCheck >= interval) void this.#topics.check();
  }

  /**
   * A task that holds only part of its input partitions past the grace is a split assignment: the group's assignor
   * put partition p of co-partitioned topics on different workers. Its partitions are not processed (rebalances.ts);
   * the worker says so until the task is whole or its partitions are gone.
   */
  #checkSplitAssignment(): void {
    const now = Date.now();
    const split = this.#rebalancer
      .incompleteTasks()
      .filter((t) => now - t.since >= SPLIT_ASSIGNMENT_GRACE_MS);
    if (split.length === 0) return this.#health.clear("split-assignment");
    const o = this.options;
    const fix =
      o.groupProtocol === "consumer"
        ? `the broker's assignor (${o.remoteAssignor ?? "the broker's default"}) does not keep them together: use remoteAssignor range (--remote-assignor range)`
        : `the assignor (${o.assignor}) does not keep them together: use assignor range`;
    this.#health.raise(
      "split-assignment",
      `tasks hold only part of their input partitions, the rest being assigned to other workers: ` +
        split
          .map(
            (t) =>
              `${t.id} holds ${t.held.map((p) => tpKey(p.topic, p.partition)).join(", ")} but not ${t.missing.join(", ")}`,
          )
          .join("; ") +
        `. Their records are not processed (a join would see one side only); ${fix}`,
      { tasks: split.map((t) => t.id) },
    );
  }

  /** The work that waits, for the stall check: records queued in tasks, or lag on assigned partitions. */
  #waitingWork(): string | undefined {
    let queued = 0;
    for (const active of this.#tm.tasks.values()) queued += active.queues.size;
    if (queued > 0) return `${queued} records wait in task queues`;
    const lagging = [...this.#partitionLags()].filter((p) => p.lag > 0);
    const total = lagging.reduce((sum, p) => sum + p.lag, 0);
    return total > 0
      ? `${total} records of lag on ${lagging
          .slice(0, 5)
          .map((p) => tpKey(p.topic, p.partition))
          .join(", ")}`
      : undefined;
  }

  /**
   * Lag per assigned partition from the consumer's cached watermarks and position (no request to a broker);
   * partitions whose lag is not known yet are left out.
   */
  *#partitionLags(): Generator<{ topic: string; partition: number; lag: number }> {
    const consumer = this.#consumer;
    if (!consumer) return;
    for (const key of this.#tm.tasks.partitionKeys()) {
      const [topic, partition] = splitTp(key);
      let lag: number | undefined;
      try {
        const { highOffset } = consumer.getWatermarkOffsets(topic, partition);
        const [pos] = consumer.position([{ topic, partition }]);
        lag = consumerLag(highOffset, pos?.offset ?? Offset.INVALID);
      } catch {
        // watermarks not known yet
      }
      if (lag !== undefined) yield { topic, partition, lag };
    }
  }

  /** Graceful stop: stop fetching, finish and commit in-flight work, close stores, leave the group. */
  async stop(reason = "stop requested"): Promise<void> {
    if (this.#state === "stopped" || this.#state === "failed") return;
    if (!this.#stopRequested) this.#log.info("worker stopping", { reason });
    this.#stopRequested = true;
    if (this.#state === "starting" || this.#state === "created") return;
    const bound = this.options.shutdownTimeoutMs;
    if (this.#loop && !(await settledWithin(this.#loop, bound)))
      this.#log.error("graceful shutdown timed out", { timeoutMs: bound });
    // Closing the clients is bounded as well: a Kafka call that never returns must not make stop() hang forever.
    if (!(await settledWithin(this.#done, bound)))
      this.#log.error(
        "the worker did not finish stopping: a Kafka client call never returned; exit the process",
        { timeoutMs: bound },
      );
  }

  // ---- the loop ------------------------------------------------------------------------------------------------

  async #run(): Promise<void> {
    let pollErrors = 0;
    try {
      while (!this.#stopRequested && this.#fatal === undefined) {
        this.#loopTurn = Date.now();
        // Consuming holds the processing lock until its records are enqueued (and processed): the rebalance chain
        // closes, opens and positions tasks under the same lock, so records a consume call returns always go to
        // the tasks that existed while it fetched them. Without it, a batch fetched before partitions were lost and
        // assigned again was enqueued into the new tasks and then read again from their start: processed twice.
        let messages: Message[] = [];
        let consumeError: unknown;
        // Every task is full of records in asynchronous processors: fetching more is useless (their partitions
        // pause); wait for a call to settle instead of a consume timeout, so results go downstream at once.
        const waitingOnAsync = this.#tm.waitingOnAsync();
        if (waitingOnAsync) {
          this.#health.step("waiting for asynchronous processors");
          await this.#tm.asyncProgress(100);
        }
        // While calls are in flight, a consume that finds nothing must not hold their results for its whole timeout.
        // Nor one while records wait in the queues for a task that has room for them again.
        const consumeTimeout = this.#tm.readyToProcess()
          ? 0
          : this.#tm.asyncPending > 0
            ? ASYNC_CONSUME_TIMEOUT_MS
            : CONSUME_TIMEOUT_MS;
        if (consumeTimeout !== this.#consumeTimeout)
          this.#consumer!.setDefaultConsumeTimeout((this.#consumeTimeout = consumeTimeout));
        this.#health.step("waiting for the processing lock (held by a rebalance)");
        await this.#exclusive(async () => {
          try {
            this.#health.step("fetching records");
            messages = waitingOnAsync ? [] : await consumeBatch(this.#consumer!, this.options.maxPollRecords);
          } catch (err) {
            consumeError = err;
            return;
          }
          if (pollErrors > 0) this.#log.info("consumer recovered", { afterErrors: pollErrors });
          pollErrors = 0;
          this.#tm.enqueue(messages);
          if (this.#health.has("topic-missing")) {
            // Nothing can commit while a topic the topology writes is gone: drop the open transaction and wait,
            // fetching (the queues fill and pause their partitions) so the member stays in its group.
            if (this.#committer.txnOpen) await this.#rebalancer.abortAndRewind();
            return;
          }
          await this.#processQueued();
          if (this.#committer.due()) await this.#commitWhenSettled();
        });
        if (consumeError !== undefined) {
          const err = consumeError;
          if ((err as LibrdKafkaError)?.code === ErrorCode.AUTO_OFFSET_RESET) {
            // A partition's position is not in the partition any more (retention deleted unprocessed records, or
            // the topic was truncated). librdkafka runs with auto.offset.reset=error, so it stopped that partition
            // and said so; weir decides: abort, and start every partition again from its committed offset, checked
            // against the partition's bounds (resolveStartOffsets logs a lost offset as an error and applies the
            // source's policy, or stops under "none").
            this.#log.error("a partition's offset is out of range; rewinding to the committed offsets", {
              error: describeKafkaError(err),
            });
            await this.#exclusive(() => this.#rebalancer.abortAndRewind());
            continue;
          }
          // A consumer librdkafka has given up on (a fatal error: fenced as a static member, authorization) stays
          // dead: retrying would loop while health said all was well. Stop with the reason.
          if (typeof (err as LibrdKafkaError)?.code === "number" && classify(err) === "fatal")
            throw consumerFatal(err, this.options.groupInstanceId);
          if (pollErrors++ % 50 === 0)
            this.#log.warn("consume failed; retrying", { error: describeKafkaError(err) });
          this.#health.step("retrying after a failed consume");
          await sleep(Math.min(100 * pollErrors, 2000));
          continue;
        }
        if (messages.length === 0 && this.#health.has("topic-missing")) await sleep(200);
        if (Date.now() - this.#rebalancer.lastRangeCheck >= OFFSET_RANGE_CHECK_MS) {
          this.#health.step("checking input positions against their partitions' bounds");
          await this.#rebalancer.checkPositionsInRange();
        }
      }
      if (this.#fatal === undefined)
        await this.#exclusive(() => {
          // The tasks close after this commit: checkpoint their stores, so a restart restores nothing.
          this.#committer.requestCheckpoint();
          return this.#commit();
        });
    } catch (err) {
      this.#fatal ??= err;
    }
    await this.#shutdown();
  }

  async #processQueued(): Promise<void> {
    this.#health.step("processing records");
    try {
      if (!(await this.#committer.beginIfNeeded())) return;
    } catch (err) {
      // Nothing is open yet: a failure here is the producer's state (fenced, fatal), handled as a commit's.
      await this.#onCommitFailure(err);
      return;
    }
    try {
      this.#tm.processQueued(Date.now());
    } catch (err) {
      // A record the producer refused (a topic deleted under it, a fenced producer): handled as a failed commit —
      // classified once, then aborted and rewound, or the producer replaced, or fatal.
      if (!(err instanceof ProducerError) && !(err instanceof ProducerFencedError)) throw err;
      await this.#onCommitFailure(err);
    }
  }

  // ---- committing ----------------------------------------------------------------------------------------------

  async #commit(): Promise<void> {
    // The offsets a commit sends must not pass a record still inside an asynchronous processor, and its outputs
    // belong to this transaction: wait for every record taken so far to settle and go downstream first.
    if (this.#tm.asyncPending > 0 && !(await this.#settleAsync())) return;
    this.#tm.draining = false;
    try {
      await this.#committer.commit();
    } catch (err) {
      await this.#onCommitFailure(err);
    }
  }

  /**
   * The loop's commit. With records inside asynchronous processors, it does not wait holding the lock: it drains —
   * tasks with an asynchronous processor take no new records, every other task goes on (its records join the open
   * transaction), results are applied as calls settle — and commits at the first turn with none in flight. A drain
   * that outlasts the calls' own bound aborts and rewinds (see #settleAsync).
   */
  async #commitWhenSettled(): Promise<void> {
    if (this.#tm.asyncPending === 0) {
      if (this.#tm.draining)
        this.#metrics?.asyncCommitWait.observe((Date.now() - this.#drainingSince) / 1000);
      this.#tm.draining = false;
      return this.#commit();
    }
    if (!this.#tm.draining) {
      this.#tm.draining = true;
      this.#drainingSince = Date.now();
      return;
    }
    if (Date.now() - this.#drainingSince > this.#asyncSettleBoundMs) {
      this.#log.error("records in asynchronous processors did not settle; aborting and rewinding", {
        records: this.#tm.asyncPending,
        waitedMs: Date.now() - this.#drainingSince,
      });
      await this.#rebalancer.abortAndRewind();
    } else if (this.#txnOutlivesDrain()) await this.#abortBeforeTheBroker(Date.now() - this.#drainingSince);
  }

  /** Under exactly-once, the open transaction has waited for asynchronous records as long as it may (#txnDrainLimitMs). */
  #txnOutlivesDrain(): boolean {
    return (
      this.options.guarantee === "exactly_once" &&
      this.#committer.txnOpen &&
      Date.now() - this.#committer.txnStartedAt > this.#txnDrainLimitMs
    );
  }

  /**
   * Records in asynchronous processors would keep the transaction open past the broker's transaction timeout: abort
   * and rewind first, counted as a failed commit (three in a row: not ready, `commits-failing`). The records are
   * processed again; a dependency slower than the transaction timeout for good keeps the worker not ready, retrying,
   * rather than fenced and stopped.
   */
  async #abortBeforeTheBroker(waitedMs: number): Promise<void> {
    const reason =
      `records in asynchronous processors kept the transaction open ${Math.round((Date.now() - this.#committer.txnStartedAt) / 1000)} s ` +
      `(transactionTimeoutMs ${this.options.transactionTimeoutMs}): aborted before the broker would, and rewound`;
    this.#health.commitFailed(reason);
    this.#log.warn(
      "records in asynchronous processors did not settle within the transaction's time; aborting and rewinding " +
        "before the broker aborts the transaction (raise transactionTimeoutMs above the calls' time limits)",
      { records: this.#tm.asyncPending, waitedMs, transactionTimeoutMs: this.options.transactionTimeoutMs },
    );
    await this.#rebalancer.abortAndRewind();
  }

  /**
   * Wait (holding the processing lock: no new records are taken) until no record is inside an asynchronous
   * processor, applying results as they settle. Each call is bounded by its timeoutMs and retries, so this ends;
   * should it not within the bound (a call that ignores its time limit cannot, but a bug could), the transaction is
   * aborted and every partition rewound, and false is returned: nothing is committed.
   */
  async #settleAsync(): Promise<boolean> {
    const deadline = Date.now() + this.#asyncSettleBoundMs;
    const started = Date.now();
    while (this.#tm.asyncPending > 0) {
      if (this.#txnOutlivesDrain()) {
        await this.#abortBeforeTheBroker(Date.now() - started);
        return false;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#log.error("records in asynchronous processors did not settle; aborting and rewinding", {
          records: this.#tm.asyncPending,
          waitedMs: Date.now() - started,
        });
        await this.#rebalancer.abortAndRewind();
        return false;
      }
      await this.#tm.asyncProgress(Math.min(left, 1000));
      try {
        this.#tm.applyAsyncCompletions();
      } catch (err) {
        // As in #processQueued: a record the producer refused is a failed commit; anything else is the task's.
        if (!(err instanceof ProducerError) && !(err instanceof ProducerFencedError)) throw err;
        await this.#onCommitFailure(err);
        return false;
      }
    }
    this.#metrics?.asyncCommitWait.observe((Date.now() - started) / 1000);
    return true;
  }

  async #onCommitFailure(err: unknown): Promise<void> {
    if (err instanceof TransactionCallStuckError) return this.#replaceProducer(err);
    try {
      this.#committer.classifyFailure(err); // throws when fatal
    } catch (fatal) {
      if (!(fatal instanceof ProducerFencedError)) throw fatal;
      await this.#replaceProducer(fatal);
      return;
    }
    // A missing topic fails the transaction first: check the topics now, not at the next interval.
    void this.#topics.check();
    await this.#rebalancer.abortAndRewind(); // a producer failing fatally in the abort is replaced there
  }

  #updateAssignmentMetrics(): void {
    if (!this.#metrics) return;
    this.#metrics.assignedTasks.set(this.#tm.tasks.size);
    this.#metrics.assignedPartitions.set(this.#tm.tasks.partitionCount);
    this.#metrics.workerReady.set(this.ready ? 1 : 0);
  }

  /** Consumer lag per assigned partition from the consumer's cached watermarks. */
  refreshLagMetrics(): void {
    if (!this.#metrics || !this.#consumer || this.#state !== "running") return;
    for (const { topic, partition, lag } of this.#partitionLags())
      this.#metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
    // Every asynchronous processor of the topology, 0 where no task of this worker runs it.
    const inFlight = new Map<string, number>(this.#asyncProcessors.map((p) => [p, 0]));
    for (const active of this.#tm.tasks.values())
      for (const { processor, records } of active.task.asyncInFlight())
        inFlight.set(processor, (inFlight.get(processor) ?? 0) + records);
    for (const [processor, records] of inFlight) this.#metrics.asyncInFlight.set({ processor }, records);
    for (const active of this.#tm.tasks.values())
      for (const [store, buffer] of active.stores) {
        const labels = { store, partition: String(active.task.partition) };
        this.#metrics.storeEntries.set(labels, buffer.backend.approximateCount());
        this.#metrics.storeBytes.set(labels, buffer.backend.approximateBytes());
      }
    this.#metrics.workerReady.set(this.ready ? 1 : 0);
  }

  // ---- start-up and shutdown ---------------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    clearInterval(this.#watchTimer);
    this.#state = this.#fatal === undefined ? "stopping" : "failed";
    if (this.#fatal !== undefined)
      this.#log.error("worker failed", {
        error: fatalForLog(this.#fatal),
        where: (this.#fatal as WeirError).where?.(),
      });
    await this.#exclusive(async () => {
      if (this.#fatal !== undefined && this.#committer.txnOpen)
        await Txn.abort(this.#producer!, 10_000).catch(() => {});
      for (const active of [...this.#tm.tasks.values()])
        this.#tm.close(active, this.#fatal === undefined ? "committed" : "discard");
    }).catch((err: unknown) => this.#log.error("closing tasks failed", { error: errorMessage(err) }));
    // A restore or an offset lookup in the rebalance chain notices the stop within one poll or lookup attempt;
    // it must end before its clients are closed under it.
    await settledWithin(this.#rebalancer.chain, 15_000);
    await this.#globals.stop().catch(() => {});
    await this.#standbys?.stop().catch(() => {});
    await this.#closeClients();
    await this.#rebalancer.chain.catch(() => {});
    this.#store?.close();
    this.#dirLock?.release();
    this.#metrics?.workerReady.set(0);
    if (this.#fatal === undefined) {
      this.#state = "stopped";
      this.#log.info("worker stopped");
      this.#resolveDone();
    } else {
      this.#state = "failed";
      this.#rejectDone(this.#fatal);
    }
  }

  async #closeClients(): Promise<void> {
    await closeClients({
      admin: this.#admin,
      consumer: this.#consumer,
      restoreConsumer: this.#restoreConsumer,
      globalConsumer: this.#globalConsumer,
      producer: this.#producer,
    });
    this.#admin = undefined;
  }

  /** Processing, commits and rebalance handling never interleave. */
  #exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => {});
    return run;
  }
}

/**
 * A fatal error's message for the log: a record's failure under a "fail" handler (an error with the record's offset)
 * says which failure it was and where, never the record's content (failures.ts loggableFailure); the record is still
 * at its offset in the input topic.
 */
export function fatalForLog(err: unknown): string {
  return err instanceof WeirError && err.offset !== undefined && recordFailureKind(err) !== undefined
    ? `${loggableFailure(err)} (a record failed and its handler is "fail": ${err.where()})`
    : errorMessage(err);
}

/** KIP-345: FENCED_INSTANCE_ID, a newer member joined with this member's group.instance.id. */
const FENCED_INSTANCE_ID = 82;
/** KIP-848: UNRELEASED_INSTANCE_ID, the instance id is still held by a member that has not left (it crashed). */
const UNRELEASED_INSTANCE_ID = 111;

/** The error a worker stops with when its group consumer failed fatally, saying why in an operator's terms. */
function consumerFatal(err: unknown, groupInstanceId: string | undefined): WeirError {
  const e = err as LibrdKafkaError;
  const unreleased =
    groupInstanceId !== undefined &&
    (e?.code === UNRELEASED_INSTANCE_ID || /unreleased/i.test(e?.message ?? ""));
  // librdkafka reports a fenced static member as a generic fatal error (-150): under static membership, that is it.
  const fenced =
    groupInstanceId !== undefined &&
    (e?.code === FENCED_INSTANCE_ID ||
      e?.code === -150 ||
      /fenced|group\.instance\.id/i.test(e?.message ?? ""));
  if (unreleased)
    return new WeirError(
      `the broker still holds static member ${groupInstanceId} for this worker's previous run (it did not leave the ` +
        "group: a crash). Under the consumer group protocol it refuses the id until that member's session times out " +
        "(group.consumer.session.timeout.ms): restart after it, or run with --static-membership off " +
        `(${describeKafkaError(err)})`,
      { cause: err },
    );
  return new WeirError(
    fenced
      ? `fenced out of the group as the static member ${groupInstanceId}: another worker joined with the same worker ` +
          "id (two workers on one state directory, or a copy of it), or this worker's session expired during a broker " +
          `outage longer than the session timeout; this worker stops, a restart rejoins (${describeKafkaError(err)})`
      : `the group consumer failed fatally: ${describeKafkaError(err)}`,
    { cause: err },
  );
}
