/** The public surface of weir's topology layer: the DSL, serdes, the runtime and the test driver. */
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
} from "./builder.js";
export { SlidingWindows, SlidingWindowedKStream } from "./dsl/sliding.js";
export { Serdes, type Serde, type Schema } from "./serdes.js";
export type { StreamRecord, Emit, Headers, RawRecord, OutgoingRecord } from "./record.js";
export { mapValues, selectKey, filterRecords, flatMapRecords } from "./operators.js";
export { describeJson, describeText, describeMermaid, type TopologyDescription } from "./describe.js";
export { TopologyTestDriver, type TestRecord, type DriverOptions } from "./driver.js";
export { Worker, type WorkerState, type TaskStatus } from "./runtime/worker.js";
export {
  compileWorkerOptions,
  type WorkerOptions,
  type CompiledWorkerOptions,
  type ProcessingGuarantee,
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
export { jsonLogger, silentLogger, type Logger, type LogLevel } from "./log.js";
export { createMetrics, metricsForApp, setWorkerInfo, type WeirMetrics } from "./metrics.js";
export * from "./errors.js";
export type { KeyValueStore, WindowStore, KeyValue, WindowedEntry } from "../state/index.js";
