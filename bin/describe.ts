/** `weir describe`: the topology as text (Kafka Streams' TopologyDescription style), JSON or a Mermaid flowchart. */
import { describeJson, describeMermaid, describeText } from "../topology/index.js";
import { loadTopology } from "./app.js";
import { choiceFlag, parse, renderHelp, runCommand, type CommandHelp } from "./args.js";
import type { Command } from "./command.js";
import { sharedFlags } from "./command-flags.js";
import { loadConfig } from "./config.js";
import { printJson } from "./output.js";

const common = sharedFlags(["app", "partitions", "config"]);
const spec = { ...common.spec, format: { type: "string" }, json: { type: "boolean" } } as const;

const help: CommandHelp = {
  usage: "weir describe [--format text|json|mermaid] [options]",
  summary:
    "Print the topology: sub-topologies (one task per partition each), processors, stores with their changelog\n" +
    "topics, and the input, output, internal and dead-letter topics. Needs no broker.",
  flags: [
    ["--format F", "text (default), json, or mermaid (a flowchart for Markdown / mermaid.live)"],
    ["--json", "same as --format json"],
    ...common.help,
  ],
  examples: [
    "weir describe",
    "weir describe --format mermaid > topology.mmd",
    "weir describe --app ./my-topology.js --json | jq '.topics.internal'",
  ],
};

export const describeCommand: Command = {
  name: "describe",
  summary: "print the topology (text, JSON or Mermaid)",
  run: (argv) =>
    runCommand("describe", help, async () => {
      const { values } = parse(argv, spec);
      if (values.help) {
        process.stdout.write(renderHelp(help));
        return 0;
      }
      const format = values.json
        ? "json"
        : choiceFlag(
            "format",
            values.format as string | undefined,
            ["text", "json", "mermaid"] as const,
            "text",
          );
      const config = loadConfig(values);
      const topology = await loadTopology(config.app, { partitions: config.partitions });
      if (format === "json") printJson(describeJson(topology));
      else process.stdout.write(format === "mermaid" ? describeMermaid(topology) : describeText(topology));
      return 0;
    }),
};
