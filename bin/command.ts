/** A `weir` command, and the package version: a leaf module every command imports (no import cycle with cli.ts). */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export function version(): string {
  // bin/ sits one level under the package root both in the source tree and in dist/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "weir" && pkg.version) return pkg.version;
    } catch {
      // keep walking up
    }
    dir = dirname(dir);
  }
  return "unknown";
}
