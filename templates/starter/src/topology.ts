/**
 * Page views counted per page.
 *
 *   page-views ──(re-key by page)── count ── page-view-counts
 *
 * Input `page-views`: key = user id, value = {"page": "/home"} (JSON).
 * Output `page-view-counts`: key = page, value = the page's count so far (JSON number), one update per view.
 * The count lives in a local store ("views-per-page") backed by a changelog topic, so a restarted or moved worker
 * carries on from where the last commit left it; outputs, store changes and input offsets commit together
 * (exactly-once).
 */
import { Serdes, TopologyBuilder, type Topology } from "weir";

export interface PageView {
  page: string;
}

export const APP_ID = "{{appId}}";
export const INPUT = "page-views";
export const OUTPUT = "page-view-counts";

export function createTopology(): Topology {
  const builder = new TopologyBuilder(APP_ID);
  builder
    .stream(INPUT, { key: Serdes.string(), value: Serdes.json<PageView>() })
    .filter("has-page", (view) => typeof view.value?.page === "string" && view.value.page.length > 0)
    .groupBy("by-page", (view) => view.value.page, { key: Serdes.string(), value: Serdes.json<PageView>() })
    .count("views-per-page")
    .toStream("count-updates")
    .to(OUTPUT, { key: Serdes.string(), value: Serdes.json<number | null>() });
  return builder.build();
}
