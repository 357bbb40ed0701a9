/**
 * Page views per minute with final results, and views joined with clicks within ten seconds — the DSL's windows,
 * runnable with `weir worker --app examples/page-views.ts`.
 *
 *   page-views ── groupByKey ── windowedBy(1 min, grace 10 s) ── count (final) ── views-per-minute
 *   page-views ── join(clicks, within 10 s) ─────────────────────────────────── views-clicked
 *
 * Inputs: `page-views` and `clicks`, keyed by user id, values the page (string).
 */
import { JoinWindows, Serdes, TimeWindows, TopologyBuilder, type Topology } from "../topology/index.js";

export function pageViews(options: { appId?: string; prefix?: string } = {}): Topology {
  const p = options.prefix ?? "";
  const key = Serdes.string();
  const builder = new TopologyBuilder(options.appId ?? "page-views");
  const views = builder.stream(`${p}page-views`, { key, value: Serdes.string() });
  const clicks = builder.stream(`${p}clicks`, { key, value: Serdes.string() });

  views
    .groupByKey("views-by-user")
    .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
    .count("views-per-minute", { emit: "onWindowClose" })
    .toStream("final-counts")
    .map("minute-key", (r) => ({
      key: `${r.key.key}@${new Date(r.key.start).toISOString()}`,
      value: r.value,
    }))
    .to(`${p}views-per-minute`, { key, value: Serdes.json<number | null>() });

  views
    .join(
      "view-click",
      clicks,
      (page, clicked) => `${page} -> ${clicked}`,
      JoinWindows.ofTimeDifferenceAndGrace(10_000, 5_000),
    )
    .to(`${p}views-clicked`, { key, value: Serdes.string() });

  return builder.build();
}

export function createTopology(): Topology {
  return pageViews();
}
