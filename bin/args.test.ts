/**
 * The flag parsing and the one numeric validator (bin/args.ts), the worker's numeric settings from flags, env and
 * the config file (bin/config.ts), and inverted replay ranges (bin/offset-range.ts): in-process, no broker.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError, intFlag, joinNegativeValues, numberFlag, numericFlag, parse } from "./args.js";
import { loadConfig, MAX_TASK_TIMEOUT_MS, workerFlagSpec } from "./config.js";
import { checkRange, invertedPartitions, parseRangeSpec } from "./offset-range.js";
import { parseStart } from "./generate.js";
import { parseDatetime } from "./reset.js";

describe("numericFlag: one validator, explicit min and max", () => {
  it("returns the fallback when the flag is absent, the number when it is in range", () => {
    expect(intFlag("port", undefined, 9400, 0, 65_535)).toBe(9400);
    expect(intFlag("port", "0", 9400, 0, 65_535)).toBe(0);
    expect(intFlag("port", "65535", 9400, 0, 65_535)).toBe(65_535);
    expect(numberFlag("scarce", "0.25", 0.2, 0, 1)).toBe(0.25);
    expect(numericFlag("n", " 7 ", 0, { min: 1, max: 10, integer: true })).toBe(7);
  });

  it.each([
    ["70000", /^--http-port must be an integer between 0 and 65535, got '70000'$/],
    ["-1", /^--http-port must be an integer between 0 and 65535, got '-1'$/],
    ["1.5", /must be an integer between 0 and 65535/],
    ["", /got ''$/],
    ["0x10", /got '0x10'/],
    ["9400abc", /got '9400abc'/],
  ])("--http-port %j is a UsageError naming the flag and its range", (value, message) => {
    expect(() => intFlag("http-port", value, 9400, 0, 65_535)).toThrow(UsageError);
    expect(() => intFlag("http-port", value, 9400, 0, 65_535)).toThrow(message);
  });

  it("says '>= min' when there is no natural maximum, and rejects what a JS number cannot hold exactly", () => {
    expect(() => intFlag("offset", "-3", 0, 0, Number.MAX_SAFE_INTEGER)).toThrow(
      "--offset must be an integer >= 0, got '-3'",
    );
    expect(() => intFlag("offset", "9007199254740993", 0, 0, Number.MAX_SAFE_INTEGER)).toThrow(UsageError);
    expect(() => numberFlag("rate", "Infinity", 1, 0, Number.MAX_SAFE_INTEGER)).toThrow(UsageError);
    expect(() => numberFlag("scarce", "1.01", 0.2, 0, 1)).toThrow(
      "--scarce must be a number between 0 and 1, got '1.01'",
    );
  });

  it("names where a value came from when it was not the command line", () => {
    expect(() => intFlag("http-port", "70000", 9400, 0, 65_535, "WEIR_HTTP_PORT")).toThrow(
      "--http-port (from WEIR_HTTP_PORT) must be an integer between 0 and 65535, got '70000'",
    );
  });
});

describe("negative numbers as flag values", () => {
  const spec = {
    from: { type: "string" },
    rate: { type: "string" },
    json: { type: "boolean" },
    limit: { type: "string", short: "n" },
  } as const;

  it("a string flag followed by a negative number takes it as its value", () => {
    expect(joinNegativeValues(["--from", "-5", "--rate", "-0.5", "-n", "-2"], spec)).toEqual([
      "--from=-5",
      "--rate=-0.5",
      "--limit=-2",
    ]);
    const { values } = parse(["--from", "-5", "--rate", "-1e3"], spec);
    expect(values.from).toBe("-5");
    expect(values.rate).toBe("-1e3");
  });

  it("leaves everything else alone: boolean flags, non-numbers, --x=v, and all after --", () => {
    expect(joinNegativeValues(["--json", "-5"], spec)).toEqual(["--json", "-5"]);
    expect(joinNegativeValues(["--from", "-x"], spec)).toEqual(["--from", "-x"]);
    expect(joinNegativeValues(["--from=-5", "--rate", "3"], spec)).toEqual(["--from=-5", "--rate", "3"]);
    expect(joinNegativeValues(["--", "--from", "-5"], spec)).toEqual(["--", "--from", "-5"]);
    expect(() => parse(["--json", "-5"], spec)).toThrow(UsageError);
  });

  it("so the flag's own check judges the value: a range error, not an unknown option", () => {
    const { values } = parse(["--http-port", "-1"], workerFlagSpec);
    expect(() => loadConfig(values, {})).toThrow(
      "--http-port must be an integer between 0 and 65535, got '-1'",
    );
    const replay = parse(["--from", "-5"], { from: { type: "string" } });
    expect(() => parseRangeSpec("from", replay.values.from as string)).toThrow(
      "--from offset must be an integer >= 0, got '-5'",
    );
  });
});

describe("the worker's numeric settings are range-checked wherever they come from", () => {
  it("flags", () => {
    const config = (argv: string[]) => loadConfig(parse(argv, workerFlagSpec).values, {});
    expect(config(["--http-port", "0"]).httpPort).toBe(0);
    expect(config([]).httpPort).toBe(9400);
    expect(() => config(["--http-port", "70000"])).toThrow(
      "--http-port must be an integer between 0 and 65535, got '70000'",
    );
    expect(() => config(["--partitions", "0"])).toThrow(/--partitions must be an integer between 1 and/);
    expect(() => config(["--commit-interval-ms", "0"])).toThrow(/--commit-interval-ms must be an integer/);
    expect(() => config(["--commit-interval-ms", "3000000000"])).toThrow(
      /--commit-interval-ms must be an integer between 1 and 2147483647/,
    );
    expect(config(["--task-timeout-ms", String(MAX_TASK_TIMEOUT_MS)]).taskTimeoutMs).toBe(
      MAX_TASK_TIMEOUT_MS,
    );
    expect(() => config(["--task-timeout-ms", String(MAX_TASK_TIMEOUT_MS + 1)])).toThrow(
      `--task-timeout-ms must be an integer between 1 and ${MAX_TASK_TIMEOUT_MS}`,
    );
    expect(config([]).droppedRecords).toBe("drop");
    expect(config(["--dropped-records", "dead-letter"]).droppedRecords).toBe("dead-letter");
    expect(() => config(["--dropped-records", "keep"])).toThrow(/--dropped-records/);
    expect(loadConfig({}, { WEIR_DROPPED_RECORDS: "dead-letter" }).droppedRecords).toBe("dead-letter");
  });

  it("the environment and the config file, named in the message", () => {
    expect(() => loadConfig({}, { WEIR_HTTP_PORT: "70000" })).toThrow(
      "--http-port (from WEIR_HTTP_PORT) must be an integer between 0 and 65535, got '70000'",
    );
    const dir = mkdtempSync(join(tmpdir(), "weir-args-"));
    try {
      const file = join(dir, "weir.json");
      writeFileSync(file, JSON.stringify({ httpPort: 123456 }));
      expect(() => loadConfig({ config: file }, {})).toThrow(
        `--http-port (from "httpPort" in ${file}) must be an integer between 0 and 65535, got '123456'`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("times: --start and --to-datetime as ms are >= 0", () => {
    expect(parseStart("1700000000000", 0)).toBe(1700000000000);
    expect(() => parseStart("-5", 0)).toThrow("--start must be an integer between 0 and");
    expect(() => parseDatetime("-5")).toThrow("--to-datetime must be an integer between 0 and");
  });
});

describe("inverted ranges are usage errors", () => {
  const range = (from?: string, to?: string) =>
    checkRange(
      from === undefined ? undefined : parseRangeSpec("from", from),
      to === undefined ? undefined : parseRangeSpec("to", to),
    );

  it.each([
    ["100", "50", /inverted range: --from 100 is after --to 50/],
    [
      "@2000",
      "@1000",
      /inverted range: --from 1970-01-01T00:00:02.000Z is after --to 1970-01-01T00:00:01.000Z/,
    ],
    ["2024-05-02T00:00:00Z", "2024-05-01T00:00:00Z", /inverted range/],
    ["end", "beginning", /inverted range: --from end is after --to beginning/],
    ["0:10,1:100", "1:50", /inverted range for partition 1: --from 100 is after --to 50/],
    ["100", "0:50", /inverted range for partition 0: --from 100 is after --to 50/],
  ])("--from %s --to %s", (from, to, message) => {
    expect(() => range(from, to)).toThrow(UsageError);
    expect(() => range(from, to)).toThrow(message);
  });

  it.each([
    ["50", "100"],
    ["100", "100"],
    ["100", undefined],
    [undefined, "50"],
    ["beginning", "end"],
    ["0:100", "1:50"],
    ["@1000", "50"],
  ])("--from %s --to %s is a range", (from, to) => {
    expect(() => range(from, to)).not.toThrow();
  });

  it("positions of different kinds are judged once resolved to offsets", () => {
    expect(
      invertedPartitions([
        { partition: 0, from: 5, to: 9 },
        { partition: 1, from: 80, to: 50 },
      ]),
    ).toBe(
      "inverted range: --from is after --to on partition 1 (--from at offset 80, --to at offset 50) " +
        "(--from is the first position, inclusive; --to the end, exclusive)",
    );
    expect(invertedPartitions([{ partition: 0, from: 5, to: 5 }])).toBeUndefined();
  });
});
