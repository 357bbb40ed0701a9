import type { Topology } from "../builder.js";
import type { Logger } from "../log.js";
import type { WeirMetrics } from "../metrics.js";
import type { CompiledWorkerOptions } from "../options.js";

/** What every part of the runtime is given: the topology it runs, the worker's options, its logger and metrics. */
export interface RuntimeContext {
  topology: Topology;
  options: CompiledWorkerOptions;
  log: Logger;
  metrics: WeirMetrics | undefined;
}
