/**
 * The public surface of weir's topology layer (`weir`): the DSL, serdes, the runtime and the test driver. Build a
 * topology with {@link TopologyBuilder}, run it with a {@link Worker}, test it with a {@link TopologyTestDriver}.
 *
 * @example
 * ```ts
 * import { Serdes, TopologyBuilder, Worker } from "weir";
 *
 * const key = Serdes.string();
 * const app = new TopologyBuilder("shop");
 * app
 *   .stream("orders", { key, value: Serdes.json<{ customer: string; amount: number }>() })
 *   .filter("large-orders", (r) => r.value.amount >= 1000)
 *   .mapValues("customer", (order) => order.customer)
 *   .to("large-order-customers", { key, value: Serdes.string() });
 *
 * const worker = new Worker(app.build(), { brokers: "localhost:9092", stateDir: "/var/lib/weir" });
 * await worker.start();
 * ```
 *
 * @module weir
 */
export {
  TopologyBuilder,
  KStream,
  KTable,
  GlobalKTable,
  KGroupedStream,
  KGroupedTable,
  TimeWindows,
  TimeWindowedKStream,
  SessionWindows,
  SessionWindowedKStream,
  JoinWindows,
  type Windowed,
  type EmitStrategy,
  Topology,
  Stores,
  changelogTopic,
  repartitionTopic,
  deadLetterTopic,
  type ProcessorContext,
  type ProcessorFactory,
  type AsyncProcessorFunction,
  type AsyncProcessorOptions,
  type AsyncCallContext,
  type AsyncOrdering,
  type AsyncResult,
  type PunctuationKind,
  type StoreDefinition,
  type SubTopology,
  type InternalTopic,
  type OffsetResetPolicy,
  type AppCounter,
  type SourceOptions,
  type TimestampExtractor,
  type TopologyNode,
  type SourceNode,
  type ProcessorNode,
  type AsyncProcessorSpec,
  type BranchNode,
  type MergeNode,
  type SinkNode,
} from "./builder.js";
export type { StreamTableJoinSerdes, StreamJoinSerdes, Serdes2 } from "./dsl/kstream.js";
export type { MaterializeOptions } from "./dsl/ktable.js";
export type { AggregateOptions } from "./dsl/grouped.js";
export type { WindowedAggregateOptions } from "./dsl/windows.js";
export type { ProblemReport, HealthProblem } from "./runtime/health.js";
export { SlidingWindows, SlidingWindowedKStream } from "./dsl/sliding.js";
export { Serdes, type Serde, type Schema } from "./serdes.js";
export type { StreamRecord, Emit, Headers, RawRecord, OutgoingRecord } from "./record.js";
export { mapValues, selectKey, filterRecords, flatMapRecords } from "./operators.js";
export { describeJson, describeText, describeMermaid, type TopologyDescription } from "./describe.js";
export { TopologyTestDriver, type TestRecord, type DriverOptions } from "./driver.js";
export { Worker, type WorkerState, type TaskStatus } from "./runtime/worker.js";
export type { PartitionOwner } from "./runtime/members.js";
export {
  compileWorkerOptions,
  type WorkerOptions,
  type CompiledWorkerOptions,
  type ProcessingGuarantee,
  type GroupProtocol,
} from "./options.js";
export { DeadLetterHeader } from "./dead-letter.js";
export {
  classify,
  recordFailureKind,
  type FailureClass,
  type RecordFailureKind,
  type RecordFailureAction,
  type RecordFailureHandlers,
} from "./failures.js";
export { partitionForKey, murmur2 } from "./partitioner.js";
export { jsonLogger, silentLogger, type Logger, type LogLevel, type LogFields } from "./log.js";
export { createMetrics, metricsForApp, setWorkerInfo, type WeirMetrics, type WorkerInfo } from "./metrics.js";
export * from "./errors.js";
export type { KeyValueStore, WindowStore, KeyValue, WindowedEntry } from "../state/index.js";
