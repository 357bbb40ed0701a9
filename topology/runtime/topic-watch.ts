/**
 * Topics that vanish under a running worker. At start the worker records the partition count of every topic its
 * topology reads or writes (inputs, outputs, internal topics, the dead-letter topic); every few seconds one metadata
 * request checks them again. A topic that is gone, or came back with another partition count, is the
 * `topic-missing` problem: the worker stops processing (nothing can commit while a sink is missing), is not ready,
 * and says which topic, until an operator recreates it as it was. The same request is the broker probe: no answer is
 * the `brokers-unreachable` problem.
 *
 * Output topics are not weir's, so their partition counts are recorded in the state directory
 * (`output-topics.json`): a sink recreated with another partition count between two runs — by hand, or auto-created
 * by a broker with the default count — is refused at start, as internal topics with the wrong count are.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TopologyError } from "../errors.js";
import { describeKafkaError, partitionCounts, withDeadline, type Producer } from "../kafka.js";
import type { RuntimeContext } from "./context.js";
import type { Health } from "./health.js";

export const TOPIC_CHECK_INTERVAL_MS = 5000;
const PROBE_TIMEOUT_MS = 4000;
export const OUTPUT_TOPICS_FILE = "output-topics.json";

export interface TopicWatchDeps extends RuntimeContext {
  producer: () => Producer | undefined;
  health: Health;
}

export class TopicWatch {
  /** Topic → partition count the worker started with. */
  readonly expected = new Map<string, number>();
  lastCheck = 0;
  #running: Promise<void> | undefined;

  constructor(private readonly d: TopicWatchDeps) {}

  /** Every topic the topology depends on, with its count now; refuses an output topic whose count changed. */
  startWith(counts: ReadonlyMap<string, number>): void {
    const { topology } = this.d;
    const topics = new Set([
      ...topology.sourceTopics,
      ...topology.outputTopics,
      ...topology.internalTopics.map((t) => t.name),
      ...topology.globalStores.map((g) => g.topic),
      topology.deadLetterTopic,
    ]);
    for (const t of topics) {
      const n = counts.get(t);
      if (n !== undefined) this.expected.set(t, n);
    }
    const file = join(this.d.options.appStateDir, OUTPUT_TOPICS_FILE);
    const recorded = readRecorded(file);
    const changed = topology.outputTopics.filter(
      (t) => recorded[t] !== undefined && counts.get(t) !== undefined && recorded[t] !== counts.get(t),
    );
    if (changed.length > 0)
      throw new TopologyError(
        `output topics changed their partition count since this application last ran: ` +
          changed.map((t) => `${t} has ${counts.get(t)}, had ${recorded[t]}`).join("; ") +
          `. Records of one key would now go to another partition than before (a sink deleted and auto-created by ` +
          `the broker does this). Recreate the topic with ${changed.map((t) => recorded[t]).join("/")} ` +
          `partitions, or, if the change is intended, delete ${file}.`,
        { topic: changed[0] },
      );
    const now: Record<string, number> = { ...recorded };
    for (const t of topology.outputTopics) {
      const n = counts.get(t);
      if (n !== undefined) now[t] = n;
    }
    writeFileSync(file, JSON.stringify(now, null, 2) + "\n");
  }

  /** One metadata request: updates `brokers-unreachable` and `topic-missing`. Concurrent calls share one check. */
  check(): Promise<void> {
    this.#running ??= this.#check().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #check(): Promise<void> {
    const producer = this.d.producer();
    if (!producer) return;
    this.lastCheck = Date.now();
    const { health } = this.d;
    let counts: Map<string, number>;
    try {
      // Bounded here too: a metadata call whose callback never comes must not hold the probe (and with it the
      // brokers-unreachable problem, which excuses a loop that does not turn) forever.
      counts = await withDeadline(partitionCounts(producer, PROBE_TIMEOUT_MS), PROBE_TIMEOUT_MS + 2000);
    } catch (err) {
      health.raise(
        "brokers-unreachable",
        `no broker at ${this.d.options.brokers} answered a metadata request within ${PROBE_TIMEOUT_MS / 1000} s`,
        { error: describeKafkaError(err) },
      );
      return;
    }
    health.clear("brokers-unreachable");
    const wrong: string[] = [];
    for (const [topic, n] of this.expected) {
      const now = counts.get(topic);
      if (now === undefined) wrong.push(`${topic} does not exist`);
      else if (now !== n) wrong.push(`${topic} has ${now} partitions, the worker started with ${n}`);
    }
    if (wrong.length === 0) return health.clear("topic-missing");
    health.raise(
      "topic-missing",
      `${wrong.join("; ")}: processing waits until the topic is recreated as it was ` +
        `(or restart the worker to accept a new layout of an input topic)`,
      { topics: wrong },
    );
  }
}

function readRecorded(file: string): Record<string, number> {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, number>;
  } catch {
    return {};
  }
}
