/** A `weir` command, and the package version: a leaf module every command imports (no import cycle with cli.ts). */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

/** The weir package's root folder: bin/ sits one level under it in the source tree, two in dist/. */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let i = 0; i < 3; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "weir") return dir;
    } catch {
      // keep walking up
    }
    dir = dirname(dir);
  }
  throw new Error("cannot find the weir package root (package.json) above " + here);
}

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
