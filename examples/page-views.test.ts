import { describe, expect, it } from "vitest";
import { TopologyTestDriver } from "../topology/index.js";
import { pageViews } from "./page-views.js";

describe("the page-views example in the test driver", () => {
  it("counts views per user and minute once each minute closes, and joins views with clicks within 10 s", () => {
    const driver = new TopologyTestDriver(pageViews(), { wallClockMs: 10 * 60_000 });
    const minute = 60_000;
    driver.pipeInput("page-views", [
      { key: "u1", value: "/home", timestamp: 1_000 },
      { key: "u1", value: "/cart", timestamp: 30_000 },
      { key: "u2", value: "/home", timestamp: 45_000 },
    ]);
    driver.pipeInput("clicks", [{ key: "u1", value: "buy", timestamp: 35_000 }]);
    expect(driver.readOutput("views-clicked").map((r) => r.value)).toEqual(["/cart -> buy"]);
    expect(driver.readOutput("views-per-minute")).toEqual([]);
    // Stream time past the minute's end + grace closes it.
    driver.pipeInput("page-views", [{ key: "u3", value: "/", timestamp: minute + 10_000 }]);
    expect(driver.readOutput<string, number>("views-per-minute").map((r) => [r.key, r.value])).toEqual([
      ["u1@1970-01-01T00:00:00.000Z", 2],
      ["u2@1970-01-01T00:00:00.000Z", 1],
    ]);
    driver.close();
  });
});
