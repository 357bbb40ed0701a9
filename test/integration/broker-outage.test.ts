/**
 * The broker gone for 90 s under load (issue case 6), on a broker of this test's own (another port: the shared
 * broker keeps serving the other test files). The worker waits it out: it never fails, `/readyz` turns 503 naming
 * brokers-unreachable within seconds while `/healthz` stays 200, the open transaction's abort is retried until the
 * broker is back, and then every input is in the output exactly once with the right running counts.
 *
 * And the broker frozen (SIGSTOP) between sendOffsetsToTransaction and commitTransaction: the commit gets no answer,
 * its outcome is undecided, and the worker repeats it (not ready meanwhile) until it stands — it does not abort and
 * redo what a commit that did stand already wrote.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InProcessWorker } from "../helpers/in-process-worker.js";
import { countingApp, expectExactlyOnce, produceKeys } from "../helpers/offset-count-app.js";
import { endOffsets, produceAll, uniqueName, waitAllCommitted, waitFor } from "../helpers/kafka.js";
import { REPO } from "../helpers/worker-process.js";

const PORT = 19192;
/** How long the undecided-commit test freezes the broker: see there. */
const FREEZE_MS = 7000;
const OUTAGE_MS = 90_000;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  WEIR_BROKER_PORT: String(PORT),
  WEIR_CONTROLLER_PORT: String(PORT + 1),
};
delete env.KAFKA_BROKERS;
const broker = (command: "start" | "stop") =>
  execFileSync("bash", [join(REPO, "scripts/broker.sh"), command], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop()!;

const shared = process.env.KAFKA_BROKERS;
beforeAll(() => {
  broker("stop");
  rmSync(join(REPO, ".weir", `broker-${PORT}`), { recursive: true, force: true });
  process.env.KAFKA_BROKERS = broker("start");
}, 180_000);
afterAll(() => {
  broker("stop");
  process.env.KAFKA_BROKERS = shared;
}, 60_000);

describe("a broker outage longer than the transaction and session timeouts", () => {
  it(
    "is waited out: not ready while it lasts, never failed, exact output after",
    async () => {
      const p = uniqueName("outage");
      const w = new InProcessWorker(await countingApp(p), { stallTimeoutMs: 15_000 });
      await w.start();
      try {
        let sent = 0;
        let producing = true;
        const producer = (async () => {
          while (producing) {
            try {
              await produceAll(
                `${p}-in`,
                Array.from({ length: 200 }, () => ({ key: `k${sent++ % 31}`, value: "v" })),
                { timeoutMs: 5000 },
              );
            } catch {
              return; // the broker went away under this batch: what was delivered is counted from the topic
            }
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        await waitFor("the worker to commit output", async () =>
          [...(await endOffsets(`${p}-out`, "read_committed")).values()].reduce((a, c) => a + c, 0) > 2000
            ? true
            : undefined,
        );

        // Outage, with records in flight.
        const stopped = Date.now();
        broker("stop");
        producing = false;
        await producer;
        const samples: Array<{ t: number; ready: boolean; live: boolean; state: string }> = [];
        while (Date.now() - stopped < OUTAGE_MS) {
          samples.push({
            t: Date.now() - stopped,
            ready: w.worker.ready,
            live: w.worker.live,
            state: w.worker.state,
          });
          await new Promise((r) => setTimeout(r, 500));
        }
        const notReadyAt = samples.find((x) => !x.ready)?.t;
        console.log(`broker stopped for ${OUTAGE_MS / 1000} s: not ready after ${notReadyAt} ms`);
        const startLines = () =>
          w.logs
            .filter((l) =>
              /partitions start|rewound|no committed offset|offset lost|stale answer|partitions lost/.test(
                l.msg,
              ),
            )
            .map((l) => JSON.stringify(l));
        expect(notReadyAt).toBeDefined();
        expect(notReadyAt!).toBeLessThan(20_000);
        // Once not ready, not ready until the broker is back; alive and running throughout.
        expect(samples.filter((x) => x.t > notReadyAt!).every((x) => !x.ready)).toBe(true);
        expect(samples.every((x) => x.live && x.state === "running")).toBe(true);
        expect(w.worker.problems().map((x) => x.problem)).toContain("brokers-unreachable");

        process.env.KAFKA_BROKERS = broker("start");
        await waitFor("the worker to be ready again", async () => (w.worker.ready ? true : undefined), {
          timeoutMs: 150_000,
          intervalMs: 500,
        });
        await produceAll(
          `${p}-in`,
          Array.from({ length: 1000 }, () => ({ key: `k${sent++ % 31}`, value: "v" })),
        );
        const ends = await waitAllCommitted(`${p}-app`, `${p}-in`, { timeoutMs: 120_000 });
        expect(w.worker.state).toBe("running");
        expect(w.logged("worker failed")).toEqual([]);

        console.log(`where partitions started:\n${startLines().join("\n")}`);
        await expectExactlyOnce(p, ends);
      } catch (err) {
        for (const l of w.logs.filter((x) => x.level !== "debug").slice(-150)) console.log(JSON.stringify(l));
        throw err;
      } finally {
        await w.stop();
      }
    },
    { timeout: 420_000 },
  );

  it(
    "a commit the broker does not answer is repeated until it stands: not ready meanwhile, nothing redone",
    async () => {
      const p = uniqueName("undecided-commit");
      const faultFile = join(tmpdir(), `${p}.fault`);
      // The transaction outlives the freeze, so Kafka's decision is the commit the worker asked for. Each commit
      // call waits 2.5 s, so a 7 s freeze leaves it undecided twice or more, while staying below the broker's own
      // session with its KRaft controller (broker.session.timeout.ms, 9 s: a longer freeze makes the controller fence
      // the broker on waking and move every partition leader — a broker failure, not an undecided commit) and the
      // group's session (10 s).
      const w = new InProcessWorker(await countingApp(p), {
        testFaultFile: faultFile,
        transactionTimeoutMs: 60_000,
        transactionCallTimeoutMs: 2500,
      });
      await w.start();
      // Each phase with the seconds since the start, printed on failure: which wait did not end.
      const started = Date.now();
      const phases: string[] = [];
      const phase = (what: string) => phases.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
      try {
        await produceKeys(p, 0, 500);
        await waitFor("the worker to commit output", async () =>
          [...(await endOffsets(`${p}-out`, "read_committed")).values()].reduce((a, c) => a + c, 0) >= 500
            ? true
            : undefined,
        );
        // The next commit stops after adding its offsets to the transaction; the broker is frozen (SIGSTOP: its
        // sockets stay open, nothing answers) before commitTransaction is sent.
        writeFileSync(faultFile, "hold-after-send-offsets");
        await produceKeys(p, 500, 200);
        await waitFor("the commit to reach the fault point", async () =>
          existsSync(`${faultFile}.held`) ? true : undefined,
        );
        const pid = Number(readFileSync(join(REPO, ".weir", `broker-${PORT}`, "broker.pid"), "utf8").trim());
        phase("commit held at the fault point; broker frozen");
        process.kill(pid, "SIGSTOP");
        let frozenProblems: string[] = [];
        try {
          unlinkSync(`${faultFile}.held`);
          const frozenAt = Date.now();
          let wasReady = false;
          while (Date.now() - frozenAt < FREEZE_MS) {
            await new Promise((r) => setTimeout(r, 250));
            frozenProblems = [...new Set([...frozenProblems, ...w.worker.problems().map((x) => x.problem)])];
            // Once the first call has timed out (2.5 s), the commit is undecided: never ready until it stands.
            if (Date.now() - frozenAt > 3500 && w.worker.ready) wasReady = true;
          }
          expect(wasReady, "ready while its commit was undecided").toBe(false);
        } finally {
          process.kill(pid, "SIGCONT");
        }
        phase("broker thawed");
        console.log(
          `broker frozen ${FREEZE_MS / 1000} s during commitTransaction: problems ${frozenProblems.join(", ")}`,
        );
        expect(frozenProblems).toContain("commit-undecided");

        await waitFor("the worker to be ready again", async () => (w.worker.ready ? true : undefined), {
          timeoutMs: 60_000,
          intervalMs: 500,
        });
        phase("worker ready");
        const completed = w.logged("commitTransaction completed after retrying");
        expect(completed.length).toBeGreaterThan(0);
        expect(Number(completed[0]!.attempts)).toBeGreaterThanOrEqual(2);
        await produceKeys(p, 700, 300);
        phase("300 more records produced");
        const ends = await waitAllCommitted(`${p}-app`, `${p}-in`, { timeoutMs: 90_000 });
        phase("all input committed");
        expect([...ends.values()].reduce((a, c) => a + c, 0)).toBe(1000);
        expect(w.worker.state).toBe("running");
        expect(w.logged("worker failed")).toEqual([]);
        await expectExactlyOnce(p, ends);
        phase("output checked");
      } catch (err) {
        // What the worker did, for a failure that is not a wrong answer but a wait that never ended.
        console.log(
          `phases:\n${phases.join("\n")}\nfailed after ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        for (const l of w.logs.filter((x) => x.level !== "debug").slice(-80)) console.log(JSON.stringify(l));
        // And what the broker said about itself since the freeze (fencing, coordinators, errors).
        const brokerLog = readFileSync(join(REPO, ".weir", `broker-${PORT}`, "broker.log"), "utf8").split(
          "\n",
        );
        const notable = brokerLog.filter((l) =>
          /WARN|ERROR|[Ff]ence|Coordinator|coordinator|elected|Unfenc/.test(l),
        );
        console.log(
          `broker log (notable lines, last 80 of ${notable.length}):\n${notable.slice(-80).join("\n")}`,
        );
        throw err;
      } finally {
        await w.stop();
        rmSync(faultFile, { force: true });
        rmSync(`${faultFile}.held`, { force: true });
      }
    },
    // Above the sum of its waits (30 + 30 + 7 + 60 + 60 + 90 + 60 s and set-up): a wait that does not end fails
    // with its own message and the phases, not with the test's timeout.
    { timeout: 420_000 },
  );
});
