import { execFile } from "node:child_process";

/**
 * Runs the CLI as a user would (node with tsx, from the repository root) against a broker address nobody listens on,
 * so only what the command decides before it reaches Kafka is tested. Resolves with the exit code and both streams.
 */
export function weirOffline(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "bin/weir.ts", ...args],
      { env: { ...process.env, KAFKA_BROKERS: "127.0.0.1:1", ...env }, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
