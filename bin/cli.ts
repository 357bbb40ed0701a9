import { commandList } from "./commands.js";
import { version, type Command } from "./command.js";

export { version, type Command };

const commands = new Map<string, Command>(commandList.map((c) => [c.name, c]));

/** The order `weir --help` lists commands in: starting a project, running, then the application's tools, then operations. */
const ORDER = [
  "init",
  "worker",
  "demo",
  "generate",
  "verify",
  "topics",
  "describe",
  "replay",
  "reset",
  "state",
];
const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);

export function usage(): string {
  const lines = [
    "weir — stateful stream processing on Kafka",
    "",
    "Usage: weir <command> [options]",
    "",
    "Commands:",
    ...[...commands.values()]
      .sort((a, b) => rank(a.name) - rank(b.name))
      .map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
    "",
    "Options:",
    "  -h, --help     show help (also: weir <command> --help)",
    "  -v, --version  print the version",
    "",
    "Environment: KAFKA_BROKERS=host:port,... selects the Kafka cluster (default: the local broker, 127.0.0.1:9092).",
  ];
  return lines.join("\n") + "\n";
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    process.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === "-v" || first === "--version") {
    process.stdout.write(`weir ${version()}\n`);
    return 0;
  }
  const command = commands.get(first);
  if (!command) {
    process.stderr.write(`weir: unknown command '${first}'. Run 'weir --help' for the list of commands.\n`);
    return 2;
  }
  return command.run(rest);
}
