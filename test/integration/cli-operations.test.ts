/**
 * The operator commands around a real worker (`weir worker --app test/apps/count.ts` in a child process):
 * topics create/describe, state get/scan (via --url while it runs, from its LMDB directory once stopped),
 * dead-letter re-drive of a record the engine dead-lettered, and reset (refused while the worker runs; offsets,
 * internal topics and state gone afterwards).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeTopicConfigs } from "../../bin/topic-configs.js";
import {
  brokers,
  committedOffsets,
  consumeAll,
  createTopic,
  deleteTopic,
  produceAll,
  uniqueName,
  waitFor,
  withAdmin,
  fromCallback,
} from "../helpers/kafka.js";
import { cliJson, runWeir } from "../helpers/worker-process.js";

async function listTopics(): Promise<string[]> {
  return withAdmin((admin) =>
    fromCallback<string[]>((done) => admin.listTopics({ timeout: 5000 }, (err, list) => done(err, list))),
  );
}

describe("weir topics / state / replay --dead-letters / reset around a worker", () => {
  const prefix = uniqueName("cli-ops");
  const env = { WEIR_TEST_PREFIX: prefix };
  const app = ["--app", "test/apps/count.ts"];
  const input = `${prefix}-input`;
  const output = `${prefix}-counts`;
  const changelog = `${prefix}-app-counts-changelog`;
  const dlq = `${prefix}-app-dlq`;
  const members = `${prefix}-app-members`;
  const group = `${prefix}-app`;
  const stateRoot = mkdtempSync(join(tmpdir(), "weir-cli-ops-"));
  const stateDir = join(stateRoot, group);
  const keys = ["alpha", "beta", "gamma", "delta", "epsilon"];
  let worker: ChildProcess | undefined;
  let workerLog = "";

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill("SIGKILL");
    rmSync(stateRoot, { recursive: true, force: true });
    for (const t of [input, output, changelog, dlq, members]) await deleteTopic(t);
  });

  it("topics create creates every topic of the topology, idempotently, with the internal topics' policies", async () => {
    const first = cliJson(await runWeir(["topics", "create", ...app, "--json"], env));
    const topics = first.topics as Array<{ name: string; role: string; status: string; partitions: number }>;
    expect(topics.map((t) => [t.name, t.role, t.status, t.partitions])).toEqual([
      [input, "input", "created", 3],
      [output, "output", "created", 3],
      [changelog, "changelog", "created", 3],
      [dlq, "dead-letter", "created", 1],
      [members, "members", "created", 1],
    ]);
    const configs = await describeTopicConfigs(brokers(), {}, [changelog, input], ["cleanup.policy"]);
    expect(configs?.get(changelog)?.get("cleanup.policy")).toBe("compact");
    expect(configs?.get(input)?.get("cleanup.policy")).toBe("delete");
    const second = cliJson(await runWeir(["topics", "create", ...app, "--json"], env));
    expect((second.topics as Array<{ status: string }>).map((t) => t.status)).toEqual([
      "exists",
      "exists",
      "exists",
      "exists",
      "exists",
    ]);
  });

  it("the worker counts, dead-letters invalid UTF-8, and serves weir state --url; reset refuses while it runs", async () => {
    const good = Array.from({ length: 20 }, (_, i) => ({ key: keys[i % keys.length]!, value: `v${i}` }));
    // murmur2 as the worker's producer and its /state endpoint compute partitions.
    await produceAll(input, [...good, { key: "bad", value: Buffer.from([0xff, 0xfe, 0x41]) }], {
      config: { partitioner: "murmur2_random" } as never,
    });
    worker = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "bin/weir.ts",
        "worker",
        ...app,
        "--state-dir",
        stateRoot,
        "--http-port",
        "0",
        "--log-level",
        "info",
      ],
      { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] },
    );
    worker.stderr!.on("data", (chunk: Buffer) => (workerLog += chunk.toString()));
    const url = await waitFor(
      "the worker's HTTP url",
      () => /"http server listening".*?"url":"([^"]+)"/.exec(workerLog)?.[1],
      {
        timeoutMs: 60_000,
      },
    );
    await consumeAll(output, { expected: 20, timeoutMs: 60_000, isolation: "read_committed" });
    const dead = await consumeAll(dlq, { expected: 1, timeoutMs: 30_000, isolation: "read_committed" });
    expect(dead[0]!.headers["weir.source.topic"]).toBe(input);

    const get = cliJson(
      await runWeir(["state", "get", "counts", "alpha", ...app, "--url", url, "--json"], env),
    );
    expect(get).toMatchObject({ found: true, value: 4 });
    const text = await runWeir(["state", "get", "counts", "beta", ...app, "--url", url], env);
    expect(text.stdout.trim()).toBe("4");
    const scan = cliJson(await runWeir(["state", "scan", "counts", ...app, "--url", url, "--json"], env));
    expect(
      Object.fromEntries(
        (scan.entries as Array<{ key: string; value: number }>).map((e) => [e.key, e.value]),
      ),
    ).toEqual(Object.fromEntries(keys.map((k) => [k, 4])));
    const missing = await runWeir(["state", "get", "counts", "zeta", ...app, "--url", url], env);
    expect(missing.code).toBe(1);

    const busy = await runWeir(["state", "get", "counts", "alpha", ...app, "--state-dir", stateRoot], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(
      /state directory \S+ is in use by worker \S+ \(pid \d+ on host \S+\) since \S+: an offline read needs a stopped worker/,
    );

    const refused = await runWeir(["reset", ...app, "--state-dir", stateRoot, "--yes"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(`consumer group ${group} has 1 active member\\(s\\): ${group}-consumer`),
    );
    expect(existsSync(stateDir)).toBe(true);
    expect(await listTopics()).toContain(changelog);

    const described = cliJson(await runWeir(["topics", "describe", ...app, "--json"], env));
    const inputInfo = (
      described.topics as Array<{
        name: string;
        offsets?: Array<{ high: number; committed: number | null; lag: number }>;
      }>
    ).find((t) => t.name === input)!;
    expect(inputInfo.offsets!.reduce((n, o) => n + o.high, 0)).toBe(21);

    worker.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => worker!.once("exit", (c) => resolve(c)));
    expect(code, workerLog.slice(-2000)).toBe(0);
  });

  it("state get/scan read the stopped worker's LMDB directory", async () => {
    expect(
      cliJson(
        await runWeir(["state", "get", "counts", "gamma", ...app, "--state-dir", stateRoot, "--json"], env),
      ),
    ).toMatchObject({
      found: true,
      value: 4,
    });
    const scan = cliJson(
      await runWeir(
        ["state", "scan", "counts", ...app, "--state-dir", stateRoot, "--prefix", "de", "--json"],
        env,
      ),
    );
    expect((scan.entries as Array<{ key: string; value: number }>).map((e) => [e.key, e.value])).toEqual([
      ["delta", 4],
    ]);
    const limited = cliJson(
      await runWeir(
        ["state", "scan", "counts", ...app, "--state-dir", stateRoot, "--limit", "2", "--json"],
        env,
      ),
    );
    expect(limited.entries).toHaveLength(2);
    const notFound = await runWeir(["state", "get", "counts", "zeta", ...app, "--state-dir", stateRoot], env);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toMatch(/not found/);
    const noStore = await runWeir(["state", "get", "nope", "k", ...app, "--state-dir", stateRoot], env);
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toMatch(/stores: counts/);
  });

  it("replay --dead-letters re-drives the engine's dead letter into the input topic", async () => {
    const summary = cliJson(await runWeir(["replay", "--dead-letters", ...app, "--json"], env));
    expect(summary).toMatchObject({ source: dlq, records: 1, targets: { [input]: 1 } });
    const all = await consumeAll(input, { timeoutMs: 30_000, isolation: "read_committed" });
    const redriven = all.filter((r) => r.headers["weir.replay.origin"] === `${dlq}/0/0`);
    expect(redriven).toHaveLength(1);
    expect(redriven[0]!.valueBytes).toEqual(Buffer.from([0xff, 0xfe, 0x41]));
    expect(Object.keys(redriven[0]!.headers).filter((h) => h.startsWith("weir.error."))).toEqual([]);
  });

  it("reset: dry run changes nothing, no confirmation without a terminal is exit 2, --yes resets", async () => {
    const before = await committedOffsets(group, input);
    expect([...before.values()].reduce((a, b) => a + b, 0)).toBe(21);

    const plan = cliJson(
      await runWeir(["reset", ...app, "--state-dir", stateRoot, "--dry-run", "--json"], env),
    );
    expect(plan).toMatchObject({
      group,
      deleteTopics: [changelog, members],
      deleteStateDir: true,
      done: false,
    });
    const unconfirmed = await runWeir(["reset", ...app, "--state-dir", stateRoot], env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/--yes/);
    expect(await committedOffsets(group, input)).toEqual(before);
    expect(existsSync(stateDir)).toBe(true);

    const done = cliJson(await runWeir(["reset", ...app, "--state-dir", stateRoot, "--yes", "--json"], env));
    expect(done.done).toBe(true);
    expect([...(await committedOffsets(group, input)).entries()].sort()).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    expect(await listTopics()).not.toContain(changelog);
    expect(await listTopics()).not.toContain(members);
    expect(existsSync(stateDir)).toBe(false);
    // Inputs, outputs and the dead-letter topic are kept.
    expect(await consumeAll(output, { timeoutMs: 30_000, isolation: "read_committed" })).toHaveLength(20);
    expect(await consumeAll(dlq, { timeoutMs: 30_000, isolation: "read_committed" })).toHaveLength(1);
  });

  it("topics create reports an internal topic with the wrong partition count and policy, exit 1 with advice", async () => {
    await createTopic(changelog, 2, { "cleanup.policy": "delete" });
    const result = await runWeir(["topics", "create", ...app, "--json"], env);
    expect(result.code).toBe(1);
    const body = JSON.parse(result.stdout) as {
      topics: Array<{ name: string; status: string; problems: string[] }>;
      advice: string[];
    };
    const bad = body.topics.find((t) => t.name === changelog)!;
    expect(bad.status).toBe("mismatch");
    expect(bad.problems).toEqual(["has 2 partitions, needs 3", "cleanup.policy is delete, needs compact"]);
    expect(body.advice.join("\n")).toMatch(/weir reset/);
  });
});
