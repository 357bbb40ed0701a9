import { afterEach, describe, expect, it } from "vitest";
import { DeadLetterHeader } from "weir";
import { TopologyTestDriver } from "weir/testing";
import { INPUT, OUTPUT, createTopology } from "./topology.js";

describe("page views per page", () => {
  let driver: TopologyTestDriver | undefined;
  afterEach(() => driver?.close());

  it("counts each page's views and emits the new count for every view", () => {
    driver = new TopologyTestDriver(createTopology());
    driver.pipeInput(INPUT, [
      { key: "alice", value: { page: "/home" } },
      { key: "bob", value: { page: "/home" } },
      { key: "alice", value: { page: "/cart" } },
    ]);
    const counts = driver.readOutput<string, number>(OUTPUT).map((r) => [r.key, r.value]);
    expect(counts).toEqual([
      ["/home", 1],
      ["/home", 2],
      ["/cart", 1],
    ]);
  });

  it("drops views without a page, and sends values that are not JSON to the dead-letter topic", () => {
    driver = new TopologyTestDriver(createTopology());
    driver.pipeInput(INPUT, [{ key: "carol", value: { page: "" } }]);
    driver.pipeRaw(INPUT, { key: Buffer.from("dave"), value: Buffer.from("not json") });
    expect(driver.readOutput(OUTPUT)).toEqual([]);
    const [dead, ...more] = driver.deadLetters();
    expect(more).toHaveLength(0);
    expect(dead?.value?.toString()).toBe("not json"); // the record as it came, with the reason in its headers
    expect(String(dead?.headers[DeadLetterHeader.errorClass])).toBe("DeserializationError");
  });
});
