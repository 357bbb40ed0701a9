// Placeholder until the order pipeline lands (being written now): `createTopology(settings)` builds it.
import { TopologyError, type Topology } from "../topology/index.js";
export function createTopology(_settings: { partitions: number }): Topology {
  throw new TopologyError("the order pipeline is not built yet");
}
