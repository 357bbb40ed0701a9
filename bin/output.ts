/** How the operator commands print: aligned tables for people, one JSON document for scripts. */

/** Writes a value as one line of JSON (Buffers as base64). */
export function printJson(value: unknown): void {
  process.stdout.write(
    JSON.stringify(value, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("base64") : v)) + "\n",
  );
}

/** Formats rows as aligned columns (the first row is the header). */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return (
    rows
      .map((row) =>
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
