/**
 * `weir risk-service`: the order pipeline's risk service (processors/risk-service.ts) on its own, for workers that
 * run the pipeline outside `weir demo` (which starts one itself): a container next to the workers, or a terminal.
 * Runs until SIGTERM or SIGINT.
 */
import { startRiskService } from "../processors/risk-service.js";
import {
  intFlag,
  latencyRange,
  numberFlag,
  parse,
  renderHelp,
  runCommand,
  type CommandHelp,
} from "./args.js";
import type { Command } from "./command.js";

const spec = {
  port: { type: "string" },
  host: { type: "string" },
  "latency-ms": { type: "string" },
  "failure-rate": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const help: CommandHelp = {
  usage: "weir risk-service [--port N] [--host ADDR] [--latency-ms MIN,MAX] [--failure-rate F]",
  summary:
    'Serve the order pipeline\'s risk scores (GET /risk?customer=&amount= → {"score"}) until SIGTERM or SIGINT,\n' +
    "for workers started with --risk-url http://<host>:<port> (weir demo starts its own).",
  flags: [
    ["--port N", "TCP port (default 8400)"],
    ["--host ADDR", "address to listen on (default 127.0.0.1; 0.0.0.0 in a container)"],
    ["--latency-ms MIN,MAX", "latency per answer, uniform in [MIN, MAX] ms (default 1,20)"],
    ["--failure-rate F", "share of answers that are 503s, 0..1, retried by the pipeline (default 0.01)"],
  ],
  examples: ["weir risk-service --port 8400", "weir risk-service --host 0.0.0.0 --failure-rate 0"],
};

export const riskServiceCommand: Command = {
  name: "risk-service",
  summary: "serve the order pipeline's risk scores (for workers outside weir demo)",
  run: (argv) =>
    runCommand("risk-service", help, async () => {
      const { values } = parse(argv, spec);
      if (values.help) {
        process.stdout.write(renderHelp(help));
        return 0;
      }
      const service = await startRiskService({
        port: intFlag("port", values.port as string | undefined, 8400, 0, 65_535),
        host: (values.host as string | undefined) ?? "127.0.0.1",
        latencyMs: latencyRange("latency-ms", values["latency-ms"] as string | undefined),
        failureRate: numberFlag("failure-rate", values["failure-rate"] as string | undefined, 0.01, 0, 1),
      });
      process.stderr.write(
        JSON.stringify({
          time: new Date().toISOString(),
          level: "info",
          msg: "risk service listening",
          url: service.url,
        }) + "\n",
      );
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      const stats = service.stats();
      await service.close();
      process.stderr.write(
        JSON.stringify({
          time: new Date().toISOString(),
          level: "info",
          msg: "risk service stopped",
          ...stats,
        }) + "\n",
      );
      return 0;
    }),
};
