/**
 * `weir replay`: re-publish a slice of a topic into a topic (--into), or re-drive dead letters into the topics
 * they came from (--dead-letters).
 *
 * Exactly once, and idempotent across runs. A replay is identified by (source topic, --from, --to, target): its
 * id `weir-replay-<source>-<hash>` is both the producer's transactional.id and the name of a bookkeeping consumer
 * group. Records are written in transactions, and each transaction also commits the consumed source positions to
 * that group (sendOffsetsToTransaction), so "records written" and "work recorded as done" commit atomically. A run
 * starts by initialising transactions with that id (which fences an earlier run still alive and aborts its open
 * transaction), reads the group's committed positions, and resumes from them: a second identical run finds every
 * partition complete and writes nothing; an interrupted run resumes where it stopped. When the range ends at a
 * transaction marker (no record), the final transaction commits the range end, so the range counts as complete.
 * To replay the same range again on purpose, delete the group (kafka-consumer-groups --delete --group <id>).
 *
 * The source is never modified: it is read with isolation.level=read_committed (aborted records are not replayed)
 * through assign(), and the only offsets ever committed are the bookkeeping group's.
 */
import { createHash } from "node:crypto";
import type { MessageHeader } from "@confluentinc/kafka-javascript";
import { DeadLetterHeader } from "../topology/index.js";
import {
  ErrorCode,
  Kafka,
  Txn,
  committed,
  connect,
  consumeBatch,
  describeKafkaError,
  disconnect,
  ensureTopics,
  offsetsForTimes,
  partitionCounts,
  watermarks,
  type KafkaConsumer,
  type Message,
  type Producer,
} from "../topology/kafka.js";
import { loadTopology } from "./app.js";
import {
  NO_MAX,
  UsageError,
  intFlag,
  numberFlag,
  parse,
  renderHelp,
  runCommand,
  type CommandHelp,
} from "./args.js";
import { cliClientConfig, kafkaStep, withAdmin } from "./cli-clients.js";
import type { Command } from "./command.js";
import { sharedFlags } from "./command-flags.js";
import { loadConfig } from "./config.js";
import {
  checkRange,
  describePosition,
  invertedPartitions,
  parseRangeSpec,
  positionOf,
  resolvePosition,
  selectPartitions,
  type RangeSpec,
} from "./offset-range.js";
import { printJson } from "./output.js";
import { ProgressBar } from "./progress.js";

/** The header naming where a replayed record was read: `<topic>/<partition>/<offset>`. */
export const REPLAY_ORIGIN_HEADER = "weir.replay.origin";

const common = sharedFlags(["brokers", "app", "kafka", "config"]);
const spec = {
  ...common.spec,
  topic: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  into: { type: "string" },
  "dead-letters": { type: "boolean" },
  "dry-run": { type: "boolean" },
  rate: { type: "string" },
  sample: { type: "string" },
  "batch-size": { type: "string" },
  "create-target": { type: "boolean" },
  json: { type: "boolean" },
} as const;

const help: CommandHelp = {
  usage: "weir replay --topic T [--from POS] [--to POS] (--into TOPIC | --dead-letters) [options]",
  summary:
    "Re-publish a slice of a topic: --into copies records [--from, --to) into another topic, keeping key, value,\n" +
    "headers and timestamp and adding the header weir.replay.origin=<topic>/<partition>/<offset>; --dead-letters\n" +
    "re-drives records of the dead-letter topic (<app>-dlq, or --topic) into their original topic (header\n" +
    "weir.source.topic), without the weir.error.* / weir.source.* headers, with their original timestamp.\n" +
    "\n" +
    "Positions (--from inclusive, default beginning; --to exclusive, default the end when the replay starts):\n" +
    "  1234 (offset), @1700000000000 (timestamp, ms), 2024-05-01T12:00:00Z (ISO date), beginning, end;\n" +
    "  per partition: 0:100,1:250 (only the listed partitions), or 1000,2:0 (all, partition 2 from 0).\n" +
    "\n" +
    "Exactly once and idempotent: records are written in Kafka transactions (transactional.id = the replay id,\n" +
    "derived from source, --from, --to and target) that also commit the consumed positions to a bookkeeping\n" +
    "consumer group of the same name. Running the same replay again resumes from there: a finished replay writes\n" +
    "nothing, an interrupted one (Ctrl-C) continues. To repeat a finished replay, delete that group. The source is\n" +
    "read with read_committed and never modified. Exit status: 0 done, 1 failure, 2 bad usage, 130 interrupted.",
  flags: [
    ["--topic T", "the topic to read (with --dead-letters: default <app>-dlq of --app)"],
    ["--from POS", "first position to replay (inclusive); default beginning"],
    ["--to POS", "position to stop at (exclusive); default the end of the log at start"],
    ["--into TOPIC", "re-publish into this topic (keys, headers, timestamps kept; partition by key hash)"],
    ["--dead-letters", "re-drive dead letters into their original topics"],
    [
      "--create-target",
      "with --into: create the target topic if missing (source's partition count, retention.ms=-1: replayed records keep their old timestamps)",
    ],
    ["--dry-run", "read the range, count and show samples of what would be replayed; write nothing"],
    ["--sample N", "records to show with --dry-run (default 5)"],
    ["--rate N", "at most N records per second"],
    ["--batch-size N", "records per transaction (default 1000)"],
    ["--json", "print the summary (and dry-run samples) as JSON"],
    ...common.help,
  ],
  examples: [
    "weir replay --topic orders --into orders-replay --create-target                 # the whole topic",
    "weir replay --topic orders --from 2024-05-01T00:00:00Z --to 2024-05-01T01:00:00Z --into orders-debug",
    "weir replay --topic orders --from 0:100,1:250 --to 0:200,1:300 --into orders-copy --rate 500",
    "weir replay --dead-letters --dry-run                                             # what is in the order pipeline's DLQ",
    "weir replay --dead-letters --app ./my-topology.js --from @1714521600000",
  ],
};

export const replay: Command = {
  name: "replay",
  summary: "re-publish a slice of a topic, or re-drive dead letters",
  run: (argv) => runCommand("replay", help, () => replayCommand(argv)),
};

export interface ReplayIdentity {
  source: string;
  from: string;
  to: string;
  target: string;
}

/** The replay id: transactional.id and bookkeeping group. Stable for the same (source, range, target). */
export function replayId(identity: ReplayIdentity): string {
  const hash = createHash("sha256")
    .update(JSON.stringify([identity.source, identity.from.trim(), identity.to.trim(), identity.target]))
    .digest("hex")
    .slice(0, 16);
  return `weir-replay-${identity.source}-${hash}`;
}

interface PartitionState {
  partition: number;
  /** The resolved range [from, to). */
  from: number;
  to: number;
  /** Where this run starts: max(from, the bookkeeping group's committed offset). */
  start: number;
  /** Next offset to read. */
  position: number;
  /** Position last committed in a transaction. */
  committedPosition: number;
  eof: boolean;
  done: boolean;
  replayed: number;
  skipped: number;
}

interface Sample {
  partition: number;
  offset: number;
  timestamp: number | undefined;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  target: string | null;
  skip?: string;
}

/** What to do with one record: where to write it and with which headers/timestamp, or why to skip it. */
interface Routed {
  topic?: string;
  headers: MessageHeader[];
  timestamp: number | undefined;
  skip?: string;
}

const printable = (b: Buffer | null | undefined): string | null => {
  if (b === null || b === undefined) return null;
  const s = b.toString("utf8");
  const control = [...s].some((c) => c.charCodeAt(0) < 0x20 && c !== "\t" && c !== "\n" && c !== "\r");
  return Buffer.from(s, "utf8").equals(b) && !control ? s : `base64:${b.toString("base64")}`;
};

function headerEntries(headers: MessageHeader[] | undefined): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const h of headers ?? [])
    for (const k in h) {
      const v = h[k];
      out.push([k, Buffer.isBuffer(v) ? v : Buffer.from(String(v))]);
    }
  return out;
}

/** --into: same headers (a previous origin header replaced) plus the origin; same timestamp. */
export function routeInto(m: Message, target: string): Routed {
  const headers = headerEntries(m.headers)
    .filter(([k]) => k !== REPLAY_ORIGIN_HEADER)
    .map(([k, v]) => ({ [k]: v }));
  headers.push({ [REPLAY_ORIGIN_HEADER]: Buffer.from(`${m.topic}/${m.partition}/${m.offset}`) });
  return { topic: target, headers, timestamp: m.timestamp };
}

/** --dead-letters: to weir.source.topic, without weir.error.* and weir.source.*, at weir.source.timestamp. */
export function routeDeadLetter(m: Message, topicExists: (t: string) => boolean): Routed {
  const entries = headerEntries(m.headers);
  const get = (name: string) =>
    entries
      .filter(([k]) => k === name)
      .pop()?.[1]
      .toString("utf8");
  const topic = get(DeadLetterHeader.topic);
  const originalTs = Number(get(DeadLetterHeader.timestamp));
  const headers = entries
    .filter(
      ([k]) => !k.startsWith("weir.error.") && !k.startsWith("weir.source.") && k !== REPLAY_ORIGIN_HEADER,
    )
    .map(([k, v]) => ({ [k]: v }));
  headers.push({ [REPLAY_ORIGIN_HEADER]: Buffer.from(`${m.topic}/${m.partition}/${m.offset}`) });
  const timestamp =
    get(DeadLetterHeader.timestamp) !== undefined && Number.isFinite(originalTs) ? originalTs : m.timestamp;
  if (!topic) return { headers, timestamp, skip: `no ${DeadLetterHeader.topic} header` };
  if (!topicExists(topic))
    return { topic, headers, timestamp, skip: `original topic ${topic} does not exist` };
  return { topic, headers, timestamp };
}

class RateLimiter {
  readonly #started = Date.now();
  #count = 0;
  constructor(private readonly perSecond: number | undefined) {}
  async take(): Promise<void> {
    if (this.perSecond === undefined) return;
    this.#count++;
    const due = this.#started + (this.#count / this.perSecond) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function produce(producer: Producer, topic: string, m: Message, routed: Routed): Promise<void> {
  for (;;) {
    try {
      producer.produce(
        topic,
        null,
        m.value ?? null,
        m.key ?? null,
        routed.timestamp,
        undefined,
        routed.headers,
      );
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== ErrorCode.QUEUE_FULL) throw err;
      producer.poll();
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function replayCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, spec);
  if (values.help) {
    process.stdout.write(renderHelp(help));
    return 0;
  }
  const into = values.into as string | undefined;
  const deadLetters = values["dead-letters"] === true;
  if (into !== undefined && deadLetters)
    throw new UsageError("--into and --dead-letters exclude each other: pick one");
  if (into === undefined && !deadLetters)
    throw new UsageError(
      "say where to replay: --into <topic> (copy the slice) or --dead-letters (re-drive the DLQ)",
    );
  if (into !== undefined && !values.topic) throw new UsageError("--topic is required with --into");
  if (into === "") throw new UsageError("--into needs a topic name");
  const fromSpec = values.from === undefined ? undefined : parseRangeSpec("from", values.from as string);
  const toSpec = values.to === undefined ? undefined : parseRangeSpec("to", values.to as string);
  checkRange(fromSpec, toSpec);
  const rate =
    values.rate === undefined ? undefined : numberFlag("rate", values.rate as string, 0, 0, NO_MAX);
  if (rate === 0) throw new UsageError("--rate must be > 0 (records per second)");
  const sampleSize = intFlag("sample", values.sample as string | undefined, 5, 0, 10_000);
  const batchSize = intFlag("batch-size", values["batch-size"] as string | undefined, 1000, 1, 1_000_000);
  const dryRun = values["dry-run"] === true;
  const json = values.json === true;
  const config = loadConfig(values);
  const source =
    (values.topic as string | undefined) ??
    (await loadTopology(config.app, { partitions: config.partitions })).deadLetterTopic;
  if (into === source)
    process.stderr.write(`weir replay: warning: replaying ${source} into itself duplicates its records\n`);

  const id = replayId({
    source,
    from: (values.from as string | undefined) ?? "beginning",
    to: (values.to as string | undefined) ?? "end",
    target: into ?? "dead-letters→original topics",
  });
  const started = Date.now();
  const consumer = new Kafka.KafkaConsumer(
    {
      ...cliClientConfig(config, "replay"),
      "group.id": id,
      "enable.auto.commit": false,
      "enable.auto.offset.store": false,
      "isolation.level": "read_committed",
      "enable.partition.eof": true,
      // The range's start is resolved and checked against the partition's bounds before assigning; records deleted
      // by retention while the replay runs move it to what remains, never to the end.
      "auto.offset.reset": "earliest",
    } as never,
    {},
  );
  let producer: Producer | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(
      "\nweir replay: interrupted — finishing the current transaction (again to exit now)\n",
    );
  };
  try {
    await kafkaStep(`cannot connect to Kafka at ${config.brokers} (check --brokers / KAFKA_BROKERS)`, () =>
      connect(consumer),
    );
    const topics = await kafkaStep("cannot read the topic metadata", () => partitionCounts(consumer));
    const count = topics.get(source);
    if (count === undefined)
      throw new Error(
        deadLetters && !values.topic
          ? `dead-letter topic ${source} does not exist: nothing was ever dead-lettered (or pass --topic / --app)`
          : `topic ${source} does not exist`,
      );
    if (into !== undefined && !topics.has(into) && !values["create-target"])
      throw new Error(
        `target topic ${into} does not exist: create it (weir topics create, kafka-topics) or pass --create-target`,
      );
    // The range is checked (partitions exist, not inverted) before anything is created.
    const partitions = selectPartitions(count, fromSpec, toSpec);
    const states = await resolveRanges(consumer, source, partitions, fromSpec, toSpec);
    if (into !== undefined && !topics.has(into)) {
      if (!dryRun) {
        await withAdmin(cliClientConfig(config, "replay-admin"), (admin) =>
          kafkaStep(`cannot create ${into}`, () =>
            // Replayed records keep their original timestamps: time-based retention would delete old ones
            // as soon as the broker checks, so the target keeps records until someone sets a retention.
            ensureTopics(admin, topics, [
              { name: into, partitions: count, config: { "retention.ms": "-1" } },
            ]),
          ),
        );
        topics.set(into, count);
      }
    }

    if (!dryRun) {
      producer = new Kafka.Producer({
        ...cliClientConfig(config, "replay"),
        "transactional.id": id,
        "enable.idempotence": true,
        acks: "all",
        "linger.ms": 5,
        partitioner: "murmur2_random",
        "transaction.timeout.ms": 60_000,
      } as never);
      await kafkaStep("cannot connect the producer", () => connect(producer!));
      // Fences an earlier run with the same id and completes its open transaction, so the committed positions
      // read next are stable.
      await kafkaStep(`cannot initialise transactions for ${id}`, () => Txn.init(producer!, 30_000));
    }
    const done = await kafkaStep(`cannot read the progress of ${id}`, () =>
      committed(
        consumer,
        partitions.map((partition) => ({ topic: source, partition })),
      ),
    );
    for (const s of states) {
      const c = done.find((d) => d.partition === s.partition)?.offset ?? -1;
      s.start = Math.min(Math.max(s.from, c), Math.max(s.to, s.from));
      s.position = s.start;
      s.committedPosition = s.start;
      s.done = s.start >= s.to;
    }
    const previously = states.reduce((n, s) => n + (s.start - s.from), 0);
    const total = states.reduce((n, s) => n + Math.max(0, s.to - s.start), 0);
    const bar = new ProgressBar(dryRun ? "reading" : "replaying", total);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);

    const limiter = new RateLimiter(dryRun ? undefined : rate);
    const samples: Sample[] = [];
    const targets = new Map<string, number>();
    const skipped: Array<{ partition: number; offset: number; reason: string }> = [];
    const byPartition = new Map(states.map((s) => [s.partition, s]));
    const active = states.filter((s) => !s.done);
    consumer.on("partition.eof", (e) => {
      const s = byPartition.get(e.partition);
      if (s && e.topic === source && e.offset >= s.to) s.eof = true;
    });
    if (active.length > 0)
      consumer.assign(active.map((s) => ({ topic: source, partition: s.partition, offset: s.start })));
    consumer.setDefaultConsumeTimeout(250);
    const perBatch =
      rate === undefined || dryRun ? batchSize : Math.max(1, Math.min(batchSize, Math.ceil(rate)));
    let lastProgressAt = Date.now();
    let warned = false;

    while (!interrupted && active.some((s) => !s.done)) {
      const batch = await kafkaStep(`cannot read ${source}`, () => consumeBatch(consumer, perBatch));
      const work: Array<{ m: Message; routed: Routed }> = [];
      for (const m of batch) {
        const s = byPartition.get(m.partition);
        if (!s || s.done || m.topic !== source) continue;
        if (m.offset >= s.to) {
          s.done = true;
          s.position = s.to;
          continue;
        }
        const routed = deadLetters ? routeDeadLetter(m, (t) => topics.has(t)) : routeInto(m, into!);
        work.push({ m, routed });
        s.position = m.offset + 1;
        if (s.position >= s.to) s.done = true;
      }
      for (const s of active)
        if (s.eof && !s.done) {
          s.done = true;
          s.position = s.to;
        }
      if (batch.length > 0 || work.length > 0) lastProgressAt = Date.now();
      else if (!warned && Date.now() - lastProgressAt > 30_000) {
        warned = true;
        const waiting = active
          .filter((s) => !s.done)
          .map((s) => `${s.partition} (at ${s.position}, range end ${s.to})`);
        process.stderr.write(
          `weir replay: no records for 30 s from partition(s) ${waiting.join(", ")}: an open transaction on ${source} ` +
            `holds back read_committed readers until it commits or times out; still waiting (Ctrl-C to stop, run again to resume)\n`,
        );
      }
      for (const { m, routed } of work) {
        const s = byPartition.get(m.partition)!;
        if (routed.skip) {
          s.skipped++;
          skipped.push({ partition: m.partition, offset: m.offset, reason: routed.skip });
        }
        if (dryRun && samples.length < sampleSize)
          samples.push({
            partition: m.partition,
            offset: m.offset,
            timestamp: routed.timestamp,
            key: printable(m.key as Buffer | null),
            value: printable(m.value),
            headers: Object.fromEntries(
              headerEntries(routed.headers).map(([k, v]) => [k, printable(v) ?? ""]),
            ),
            target: routed.topic ?? null,
            ...(routed.skip ? { skip: routed.skip } : {}),
          });
        if (!routed.skip) {
          s.replayed++;
          targets.set(routed.topic!, (targets.get(routed.topic!) ?? 0) + 1);
        }
      }
      const changed = active.filter((s) => s.position !== s.committedPosition);
      if (!dryRun && changed.length > 0) {
        const p = producer!;
        await kafkaStep("cannot begin a transaction", () => Txn.begin(p));
        try {
          for (const { m, routed } of work) {
            if (routed.skip) continue;
            await limiter.take();
            await produce(p, routed.topic!, m, routed);
          }
          await Txn.sendOffsets(
            p,
            changed.map((s) => ({ topic: source, partition: s.partition, offset: s.position })),
            consumer,
            30_000,
          );
          await Txn.commit(p, 60_000);
        } catch (err) {
          await Txn.abort(p, 30_000).catch(() => undefined);
          throw new Error(
            `replay transaction failed and was aborted (nothing of it is visible; run the same command again to resume): ${describeKafkaError(err)}`,
            { cause: err },
          );
        }
        for (const s of changed) s.committedPosition = s.position;
      } else if (dryRun) for (const s of changed) s.committedPosition = s.position;
      for (const s of active)
        if (s.done)
          try {
            consumer.pause([{ topic: source, partition: s.partition }]);
          } catch {
            // not assigned any more: nothing to pause
          }
      bar.update(active.reduce((n, s) => n + (s.position - s.start), 0));
    }
    bar.finish();
    const replayed = states.reduce((n, s) => n + s.replayed, 0);
    const summary = {
      replayId: id,
      transactionalId: dryRun ? null : id,
      bookkeepingGroup: id,
      source,
      mode: deadLetters ? "dead-letters" : "into",
      target: into ?? null,
      dryRun,
      interrupted,
      complete: states.every((s) => s.done),
      records: replayed,
      skipped: skipped.length,
      alreadyReplayedOffsets: previously,
      targets: Object.fromEntries(targets),
      partitions: states.map((s) => ({
        partition: s.partition,
        from: s.from,
        to: s.to,
        start: s.start,
        position: s.position,
        records: s.replayed,
        skipped: s.skipped,
      })),
      range: { from: values.from ?? "beginning", to: values.to ?? "end" },
      durationMs: Date.now() - started,
      ...(dryRun ? { samples } : {}),
      ...(skipped.length ? { skippedRecords: skipped.slice(0, 100) } : {}),
    };
    if (json) printJson(summary);
    else printSummary(summary, samples, skipped, fromSpec, toSpec);
    return interrupted ? 130 : 0;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    if (producer) await disconnect(producer);
    await disconnect(consumer);
  }
}

async function resolveRanges(
  consumer: KafkaConsumer,
  topic: string,
  partitions: number[],
  fromSpec: RangeSpec | undefined,
  toSpec: RangeSpec | undefined,
): Promise<PartitionState[]> {
  const states: PartitionState[] = [];
  const resolved: Array<{ partition: number; from: number; to: number }> = [];
  for (const partition of partitions) {
    const w = await kafkaStep(`cannot read the offsets of ${topic}/${partition}`, () =>
      watermarks(consumer, topic, partition),
    );
    const forTime = async (ms: number) => {
      const [r] = await kafkaStep(`cannot look up offsets by time on ${topic}/${partition}`, () =>
        offsetsForTimes(consumer, [{ topic, partition, offset: ms }]),
      );
      return r?.offset ?? -1;
    };
    const from = await resolvePosition(
      positionOf(fromSpec, partition, { kind: "beginning" }),
      w.lowOffset,
      w.highOffset,
      forTime,
    );
    const to = await resolvePosition(
      positionOf(toSpec, partition, { kind: "end" }),
      w.lowOffset,
      w.highOffset,
      forTime,
    );
    resolved.push({ partition, from, to });
    states.push({
      partition,
      from,
      to: Math.max(from, to),
      start: from,
      position: from,
      committedPosition: from,
      eof: false,
      done: false,
      replayed: 0,
      skipped: 0,
    });
  }
  const inverted = invertedPartitions(resolved);
  if (inverted) throw new UsageError(inverted);
  return states;
}

function printSummary(
  summary: {
    replayId: string;
    source: string;
    mode: string;
    target: string | null;
    dryRun: boolean;
    interrupted: boolean;
    complete: boolean;
    records: number;
    skipped: number;
    alreadyReplayedOffsets: number;
    targets: Record<string, number>;
    partitions: Array<{ partition: number; from: number; to: number; start: number; records: number }>;
    durationMs: number;
  },
  samples: Sample[],
  skipped: Array<{ partition: number; offset: number; reason: string }>,
  fromSpec: RangeSpec | undefined,
  toSpec: RangeSpec | undefined,
): void {
  const out: string[] = [];
  const where = summary.mode === "into" ? summary.target! : "their original topics";
  const range =
    `${fromSpec ? [...(fromSpec.all ? [describePosition(fromSpec.all)] : []), ...[...fromSpec.partitions].map(([p, x]) => `${p}:${describePosition(x)}`)].join(",") : "beginning"}` +
    ` → ${toSpec ? [...(toSpec.all ? [describePosition(toSpec.all)] : []), ...[...toSpec.partitions].map(([p, x]) => `${p}:${describePosition(x)}`)].join(",") : "end"}`;
  out.push(
    `${summary.dryRun ? "dry run — nothing written. Would replay" : "Replayed"} ${summary.source} (${range}) into ${where}`,
  );
  for (const p of summary.partitions)
    out.push(
      `  partition ${p.partition}: offsets [${p.from}, ${p.to})` +
        (p.start > p.from ? `, ${p.start - p.from} already replayed earlier, from ${p.start}` : "") +
        `: ${p.records} record(s)`,
    );
  out.push(
    `${summary.dryRun ? "would write" : "wrote"} ${summary.records} record(s)` +
      (Object.keys(summary.targets).length > 1 || summary.mode === "dead-letters"
        ? ` (${Object.entries(summary.targets)
            .map(([t, n]) => `${t}: ${n}`)
            .join(", ")})`
        : "") +
      (summary.skipped ? `, skipped ${summary.skipped}` : "") +
      ` in ${(summary.durationMs / 1000).toFixed(1)} s`,
  );
  if (summary.records === 0 && summary.alreadyReplayedOffsets > 0 && !summary.dryRun)
    out.push(
      `nothing to do: this replay already ran (bookkeeping group ${summary.replayId}); delete that group to run it again`,
    );
  else out.push(`replay id (transactional.id and bookkeeping group): ${summary.replayId}`);
  if (summary.interrupted) out.push("interrupted: run the same command again to resume");
  for (const s of samples)
    out.push(
      `  sample ${s.partition}/${s.offset} ts=${s.timestamp ?? "-"} key=${s.key ?? "null"} → ${s.target ?? "?"}${s.skip ? ` (skip: ${s.skip})` : ""}\n` +
        `    value: ${(s.value ?? "null").slice(0, 200)}\n` +
        `    headers: ${JSON.stringify(s.headers)}`,
    );
  process.stdout.write(out.join("\n") + "\n");
  if (skipped.length)
    process.stderr.write(
      `weir replay: skipped ${skipped.length} record(s): ` +
        skipped
          .slice(0, 10)
          .map((s) => `${s.partition}/${s.offset} (${s.reason})`)
          .join(", ") +
        (skipped.length > 10 ? ", ..." : "") +
        "\n",
    );
}
