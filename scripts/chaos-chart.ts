/**
 * A chaos run's report as a picture: the faults on a time line (one row per kind) and, for each, the worst
 * end-to-end latency of a status seen in the minute after it.
 *
 *   npx tsx scripts/chaos-chart.ts docs/reliability/chaos-full.json docs/reliability/chaos-full.svg
 */
import { readFileSync, writeFileSync } from "node:fs";
import { FAULT_KINDS, type ChaosReport } from "../test/helpers/chaos.js";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: tsx scripts/chaos-chart.ts REPORT.json OUT.svg");
  process.exit(2);
}
const report = JSON.parse(readFileSync(input, "utf8")) as ChaosReport;
const W = 960;
const H = 560;
const left = 110;
const right = 40;
const laneTop = 70;
const laneH = 22;
const plotTop = laneTop + FAULT_KINDS.length * laneH + 40;
const plotBottom = H - 50;
const duration = report.settings.durationS;
const x = (s: number) => left + (s / duration) * (W - left - right);
const worst = Math.max(60_000, ...report.faultLog.map((f) => f.worstLatencyMs ?? 0));
const yMax = Math.ceil(worst / 60_000) * 60;
const y = (seconds: number) => plotBottom - (seconds / yMax) * (plotBottom - plotTop);
const colour: Record<string, string> = {
  "worker-kill": "#c0392b",
  "worker-term": "#e67e22",
  "worker-add": "#27ae60",
  "worker-remove": "#16a085",
  "broker-kill": "#8e44ad",
  zombie: "#2c3e50",
};
const parts: string[] = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">weir chaos run: ${report.faultLog.length} faults in ${Math.round(duration / 60)} minutes, ${report.settings.workers} workers, 3 brokers</text>`,
  `<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">seed ${report.seed} · ${report.orders.toLocaleString("en")} orders · duplicated ${report.duplicated} · missing ${report.missing} · stock violations ${report.stockViolations} · checks ${report.ok ? "passed" : "FAILED"}</text>`,
];
FAULT_KINDS.forEach((kind, i) => {
  const ly = laneTop + i * laneH;
  parts.push(`<text x="${left - 8}" y="${ly + 15}" text-anchor="end">${kind}</text>`);
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${ly + 11}" y2="${ly + 11}" stroke="#eee"/>`);
  for (const f of report.faultLog.filter((f) => f.kind === kind)) {
    const width = Math.max(2, x(f.atS + f.tookS) - x(f.atS));
    parts.push(
      `<rect x="${x(f.atS).toFixed(1)}" y="${ly + 3}" width="${width.toFixed(1)}" height="16" fill="${colour[kind]}"/>`,
    );
  }
});
for (let s = 0; s <= yMax; s += yMax / 6) {
  parts.push(
    `<line x1="${left}" x2="${W - right}" y1="${y(s).toFixed(1)}" y2="${y(s).toFixed(1)}" stroke="#e5e5e5"/>`,
  );
  parts.push(
    `<text x="${left - 8}" y="${(y(s) + 4).toFixed(1)}" text-anchor="end">${Math.round(s)} s</text>`,
  );
}
for (let m = 0; m <= duration / 60; m += 5) {
  parts.push(`<text x="${x(m * 60).toFixed(1)}" y="${plotBottom + 18}" text-anchor="middle">${m}</text>`);
}
parts.push(
  `<text x="${W / 2}" y="${plotBottom + 38}" text-anchor="middle">minutes since the load started</text>`,
);
parts.push(
  `<text transform="translate(22 ${(plotTop + plotBottom) / 2}) rotate(-90)" text-anchor="middle">worst latency in the minute after a fault</text>`,
);
parts.push(
  `<rect x="${left}" y="${plotTop}" width="${W - left - right}" height="${plotBottom - plotTop}" fill="none" stroke="#333"/>`,
);
const p99 = report.latencyMs.p99 / 1000;
parts.push(
  `<line x1="${left}" x2="${W - right}" y1="${y(p99).toFixed(1)}" y2="${y(p99).toFixed(1)}" stroke="#999" stroke-dasharray="5 4"/>`,
);
parts.push(
  `<text x="${W - right - 4}" y="${(y(p99) - 4).toFixed(1)}" text-anchor="end" fill="#777">p99 of the whole run ${Math.round(p99)} s</text>`,
);
for (const f of report.faultLog) {
  if (f.worstLatencyMs === undefined) {
    parts.push(
      `<text x="${x(f.atS).toFixed(1)}" y="${plotBottom - 4}" text-anchor="middle" fill="${colour[f.kind]}">×</text>`,
    );
    continue;
  }
  parts.push(
    `<circle cx="${x(f.atS).toFixed(1)}" cy="${y(f.worstLatencyMs / 1000).toFixed(1)}" r="4" fill="${colour[f.kind]}"/>`,
  );
}
parts.push(`<text x="${left + 6}" y="${plotTop + 16}" fill="#555">× = no status seen in that minute</text>`);
parts.push("</svg>");
writeFileSync(output, parts.join("\n") + "\n");
console.log(`wrote ${output}`);
