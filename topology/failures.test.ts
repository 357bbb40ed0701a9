/**
 * Record-level failures in the test driver (the same StreamTask and checks the worker runs): an output or a store
 * value too large for the producer, a value its serde cannot write, a dead letter too large to write — each sends
 * the input record to the dead-letter topic with the reason and the records after it are processed; "fail"
 * handlers fail instead. And the classification of errors outside processors.
 */
import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import { TopologyBuilder } from "./builder.js";
import { DeadLetterHeader } from "./dead-letter.js";
import { TopologyTestDriver } from "./driver.js";
import {
  ConfigError,
  DeserializationError,
  DroppedRecordError,
  InvalidTimestampError,
  ProcessingError,
  ProducerError,
  ProducerFencedError,
  RecordTooLargeError,
  SerializationError,
} from "./errors.js";
import { classify, fatalProducerRemedy, loggableFailure, recordFailureKind } from "./failures.js";
import { Serdes, decode, type Schema, type Serde } from "./serdes.js";
import {
  LEVELS_STORE,
  LISTS_STORE,
  addToLevel,
  appendToList,
  declareLevelsStore,
  declareListsStore,
} from "../test/apps/growing-stores.js";

const s = Serdes.string();
const LIMIT = 10_000;

/** Appends each value to a per-key list (a store value that grows with every record of the key). */
function listApp() {
  const b = new TopologyBuilder("lists");
  declareListsStore(b);
  b.stream("in", { key: s, value: s })
    .process("append", appendToList, { stores: [LISTS_STORE] })
    .to("out", { key: s, value: s });
  return b.build();
}

describe("record-level production failures", () => {
  it("a store value whose changelog record would be too large: the input is dead-lettered, the store keeps its value", () => {
    const driver = new TopologyTestDriver(listApp(), { maxRecordBytes: LIMIT });
    const big = "x".repeat(3000);
    driver.pipeInput("in", [
      { key: "k", value: big },
      { key: "k", value: big },
      { key: "k", value: big },
      { key: "k", value: big }, // the list would pass 10,000 bytes here
      { key: "other", value: "small" },
    ]);
    expect(driver.readOutput("out").map((r) => [r.key, r.value])).toEqual([
      ["k", "1"],
      ["k", "2"],
      ["k", "3"],
      ["other", "1"],
    ]);
    const [letter, ...more] = driver.deadLetters();
    expect(more).toHaveLength(0);
    expect(letter!.headers[DeadLetterHeader.errorClass]).toBe("RecordTooLargeError");
    expect(letter!.headers[DeadLetterHeader.offset]).toBe("3");
    expect(letter!.headers[DeadLetterHeader.targetTopic]).toBe("lists-lists-changelog");
    expect(Number(letter!.headers[DeadLetterHeader.size])).toBeGreaterThan(LIMIT);
    expect(letter!.headers[DeadLetterHeader.limit]).toBe(String(LIMIT));
    expect(driver.keyValueStore<string, string[]>("lists").get("k")).toHaveLength(3);
  });

  it("an output too large: the input is dead-lettered with size, limit and topic; the next records run", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", { key: s, value: s })
      .process("blow-up", () => map((r) => ({ key: r.key, value: r.value.repeat(Number(r.key)) })))
      .to("out", { key: s, value: s });
    const driver = new TopologyTestDriver(b.build(), { maxRecordBytes: LIMIT });
    driver.pipeInput("in", [
      { key: "1", value: "y".repeat(100) },
      { key: "200", value: "y".repeat(100) },
      { key: "2", value: "y".repeat(100) },
    ]);
    expect(driver.readOutput("out").map((r) => r.key)).toEqual(["1", "2"]);
    const letters = driver.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]!.key?.toString()).toBe("200");
    expect(letters[0]!.headers[DeadLetterHeader.targetTopic]).toBe("out");
    expect(letters[0]!.value?.toString()).toBe("y".repeat(100)); // the input, not the output
  });

  it("a value the serde cannot write back (Infinity as a number) dead-letters its input", () => {
    const b = new TopologyBuilder("stock");
    declareLevelsStore(b);
    b.stream("restocks", { key: s, value: Serdes.number() })
      .process("restock", addToLevel, { stores: [LEVELS_STORE] })
      .to("levels-out", { key: s, value: Serdes.number() });
    const driver = new TopologyTestDriver(b.build());
    driver.pipeInput("restocks", [
      { key: "sku", value: 1e308 },
      { key: "sku", value: 1e308 }, // 2e308 is Infinity
      { key: "sku", value: -1e308 },
    ]);
    expect(driver.readOutput("levels-out").map((r) => r.value)).toEqual([1e308, 0]);
    const letters = driver.deadLetters();
    expect(letters.map((l) => l.headers[DeadLetterHeader.errorClass])).toEqual(["SerializationError"]);
    expect(letters[0]!.headers[DeadLetterHeader.errorMessage]).toMatch(/Infinity/);
    expect(driver.keyValueStore<string, number>("levels").get("sku")).toBe(0);
  });

  it("with production errors set to fail, an output too large fails the task", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", { key: s, value: s }).to("out", { key: s, value: s });
    const driver = new TopologyTestDriver(b.build(), {
      maxRecordBytes: LIMIT,
      errorHandlers: { production: "fail" },
    });
    expect(() => driver.pipeInput("in", [{ key: "a", value: "z".repeat(LIMIT) }])).toThrow(
      RecordTooLargeError,
    );
  });

  it("a dead letter larger than the limit is cut to fit, says so, and keeps the source coordinates", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", { key: s, value: Serdes.json() }).to("out", { key: s, value: s });
    const driver = new TopologyTestDriver(b.build(), { maxRecordBytes: LIMIT });
    driver.pipeRaw("in", { key: Buffer.from("a"), value: Buffer.from("{" + "q".repeat(30_000)) });
    const [letter] = driver.deadLetters();
    expect(letter).toBeDefined();
    expect(letter!.headers[DeadLetterHeader.errorClass]).toBe("DeserializationError");
    expect(letter!.headers[DeadLetterHeader.truncated]).toMatch(/^value 30001->\d+/);
    expect(letter!.headers[DeadLetterHeader.offset]).toBe("0");
    expect(letter!.value!.length).toBeLessThan(LIMIT);
    expect(letter!.value!.subarray(0, 5).toString()).toBe("{qqqq");
  });

  it("with deserialization errors set to fail, an undecodable input fails the task", () => {
    const b = new TopologyBuilder("t");
    b.stream("in", { key: s, value: Serdes.json() }).to("out", { key: s, value: s });
    const driver = new TopologyTestDriver(b.build(), { errorHandlers: { deserialization: "fail" } });
    expect(() => driver.pipeRaw("in", { key: Buffer.from("a"), value: Buffer.from("{") })).toThrow(
      DeserializationError,
    );
  });
});

describe("classify", () => {
  it("sorts errors into record, transient and fatal", () => {
    expect(classify(new RecordTooLargeError("big", 2, 1, "t"))).toBe("record");
    expect(recordFailureKind(new SerializationError("inf"))).toBe("production");
    expect(recordFailureKind(new TypeError("user bug"))).toBe("processing");
    expect(classify({ message: "Local: Timed out", code: -185, isRetriable: true })).toBe("transient");
    expect(classify({ message: "Local: All broker connections are down", code: -187 })).toBe("transient");
    expect(classify({ message: "abortable", code: 48, isTxnRequiresAbort: true })).toBe("transient");
    expect(classify({ message: "Local: Fatal error", code: -150, isFatal: true })).toBe("fatal");
    expect(classify({ message: "Broker: Topic authorization failed", code: 29 })).toBe("fatal");
    expect(classify(new ProducerFencedError("fenced"))).toBe("fatal");
    expect(classify(new ConfigError("bad"))).toBe("fatal");
    expect(classify(new ProducerError("3 delivery reports missing"))).toBe("transient");
    expect(
      classify(
        new ProducerError("refused", { cause: { message: "Broker: Topic authorization failed", code: 29 } }),
      ),
    ).toBe("fatal");
  });
});

describe("fatalProducerRemedy", () => {
  const eos = { exactlyOnce: true, transactionTimedOut: false, replacementsLeft: true };
  const invalidTxnState = new ProducerFencedError("abortTransaction failed", {
    cause: {
      message:
        "Failed to end transaction: Broker: Producer attempted a transactional operation in an invalid state",
      code: 48,
      isFatal: true,
    },
  });

  it("replaces a producer whose instance failed (an abort refused after a sink topic was deleted)", () => {
    expect(fatalProducerRemedy(invalidTxnState, eos)).toBe("replace-producer");
    // The epoch bumped by the broker aborting a transaction that outlived the transaction timeout.
    const epoch = {
      message: "Broker: Producer attempted an operation with an old epoch",
      code: 47,
      isFatal: true,
    };
    expect(fatalProducerRemedy(epoch, { ...eos, transactionTimedOut: true })).toBe("replace-producer");
    // librdkafka reports the bumped epoch as its own __FENCED; past the timeout it was the broker's abort.
    const fenced = {
      message: "Failed to end transaction: Local: This instance has been fenced by a newer instance",
      code: -144,
      isFatal: true,
    };
    expect(fatalProducerRemedy(fenced, { ...eos, transactionTimedOut: true })).toBe("replace-producer");
  });

  it("stops when a new producer cannot heal it", () => {
    // Fenced while the transaction was young: a twin with this worker's transactional id (replacing would fence
    // it back).
    expect(fatalProducerRemedy({ message: "Broker: There is a newer producer", code: 90 }, eos)).toBe("stop");
    expect(
      fatalProducerRemedy({ message: "Local: Producer fenced by newer instance", code: -144 }, eos),
    ).toBe("stop");
    // A produce() refused by a failed producer says only "Fatal error": judged as a fence (young: a twin).
    const fatal = new ProducerError("could not produce", {
      cause: { message: "Local: Fatal error", code: -150, isFatal: true },
    });
    expect(fatalProducerRemedy(fatal, eos)).toBe("stop");
    expect(fatalProducerRemedy(fatal, { ...eos, transactionTimedOut: true })).toBe("replace-producer");
    // An epoch bumped while the transaction was young: the broker did not abort it, a twin did.
    expect(fatalProducerRemedy({ message: "old epoch", code: 47 }, eos)).toBe("stop");
    expect(
      fatalProducerRemedy({ message: "Broker: Transactional Id authorization failed", code: 53 }, eos),
    ).toBe("stop");
    expect(fatalProducerRemedy(invalidTxnState, { ...eos, replacementsLeft: false })).toBe("stop");
    expect(fatalProducerRemedy(invalidTxnState, { ...eos, exactlyOnce: false })).toBe("stop");
    expect(fatalProducerRemedy(new ProducerFencedError("no Kafka error behind it"), eos)).toBe("stop");
  });
});

describe("what a log line says of a record's failure (loggableFailure)", () => {
  const SECRET = "card=4111-1111-1111-1111";
  const decodeError = (serde: Serde<unknown>, text: string): unknown => {
    try {
      decode(serde, Buffer.from(text), "value");
    } catch (err) {
      return err;
    }
    throw new Error("decoded");
  };

  it("a value that does not decode: the serde named, the bytes not quoted (the error message quotes them)", () => {
    for (const serde of [Serdes.json(), Serdes.number()]) {
      const err = decodeError(serde as Serde<unknown>, SECRET);
      expect((err as Error).message).toContain(SECRET.slice(0, 20)); // the dead letter's header keeps the preview
      const line = loggableFailure(err);
      expect(line).toBe(`DeserializationError: value does not decode with serde ${serde.name}`);
      expect(line).not.toContain("4111");
    }
  });

  it("a schema's, a processor's and a serde writer's messages are withheld: user code may quote the record", () => {
    const schema: Schema<unknown> = {
      name: "Card",
      validate: (v) => {
        throw new Error(`bad card ${JSON.stringify(v)}`);
      },
    };
    const schemaError = decodeError(Serdes.json(schema) as Serde<unknown>, JSON.stringify({ card: SECRET }));
    expect(loggableFailure(schemaError)).toBe("SchemaError: value does not decode with serde json(Card)");
    const processing = new ProcessingError(`processor 'charge' failed: declined ${SECRET}`, {
      node: "charge",
      cause: new TypeError(SECRET),
    });
    expect(loggableFailure(processing)).toBe(
      "ProcessingError in 'charge' (caused by TypeError): message withheld from the log (it may quote the record)",
    );
    expect(loggableFailure(new SerializationError(`serde number cannot write ${SECRET}`))).toBe(
      "SerializationError: a value its serde cannot write",
    );
    expect(loggableFailure(new InvalidTimestampError(`timestamp extractor failed: ${SECRET}`))).toBe(
      "the timestamp extractor failed",
    );
    expect(loggableFailure(new Error(SECRET))).not.toContain("4111");
  });

  it("messages weir writes from sizes and names are kept", () => {
    const tooLarge = new RecordTooLargeError(
      "record of 2000000 bytes exceeds 1000000 for out",
      2e6,
      1e6,
      "out",
    );
    expect(loggableFailure(tooLarge)).toBe(tooLarge.message);
    const dropped = new DroppedRecordError("null-key", "record dropped by 'group': null-key");
    expect(loggableFailure(dropped)).toBe("record dropped by 'group': null-key");
  });
});
