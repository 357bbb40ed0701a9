import { map } from "rxjs";
import { describe, expect, it } from "vitest";
import { Stores, TopologyBuilder, type ProcessorFactory } from "./builder.js";
import { describeJson, describeMermaid, describeText } from "./describe.js";
import { TopologyError } from "./errors.js";
import { Serdes } from "./serdes.js";

const s = { key: Serdes.string(), value: Serdes.string() };
const identity: ProcessorFactory<string, string, string, string> = () =>
  map((r) => ({ key: r.key, value: r.value }));

function expectTopologyError(fn: () => unknown, node: string | undefined, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TopologyError);
  expect((caught as TopologyError).message).toMatch(message);
  if (node !== undefined) expect((caught as TopologyError).node).toBe(node);
}

describe("validation at build time", () => {
  it("an unknown store names the processor and says how to declare it", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", s)
      .process("count", identity, { stores: ["nope"] })
      .to("out", s);
    expectTopologyError(() => b.build(), "count", /unknown store 'nope'.*builder\.store\('nope'/);
  });

  it("a store shared by two sub-topologies is refused", () => {
    const b = new TopologyBuilder("app");
    b.store("shared", Stores.keyValue(Serdes.string(), Serdes.number()));
    b.stream("a", s)
      .process("p1", identity, { stores: ["shared"] })
      .to("mid", s);
    b.stream("mid", s)
      .process("p2", identity, { stores: ["shared"] })
      .to("out", s);
    expectTopologyError(
      () => b.build(),
      "p2",
      /store 'shared' is used by 'p1' and 'p2'.*different sub-topologies/,
    );
  });

  it("a missing serde is refused at declaration, naming the node", () => {
    const b = new TopologyBuilder("app");
    expectTopologyError(
      () => b.stream("in", { key: Serdes.string() } as never),
      "in-source",
      /missing a key or value serde/,
    );
    const stream = b.stream("in2", s);
    expectTopologyError(
      () => stream.to("out", { key: Serdes.string() } as never),
      "out-sink",
      /missing a key or value serde/,
    );
    expectTopologyError(
      () => b.store("st", { kind: "key-value", changelog: true } as never),
      undefined,
      /no key or value serde/,
    );
  });

  it("a cycle through topics is refused unless declared as feedback", () => {
    const b = new TopologyBuilder("app");
    b.stream("a", s).process("p1", identity).to("b", s);
    b.stream("b", s).process("p2", identity).to("a", s);
    expectTopologyError(() => b.build(), undefined, /cycle: sub-topologies .*feedback: true/);

    const ok = new TopologyBuilder("app");
    ok.stream("a", s).process("p1", identity).to("b", s);
    ok.stream("b", s)
      .process("p2", identity)
      .to("a", { ...s, feedback: true });
    expect(ok.build().subtopologies).toHaveLength(2);
  });

  it("a topic read twice, a duplicate node name and a bad name are refused", () => {
    const b = new TopologyBuilder("app");
    b.stream("in", s);
    expectTopologyError(
      () => b.stream("in", { ...s, name: "other" }),
      "other",
      /already read by source 'in-source'/,
    );
    const stream = b.stream("x", s);
    stream.process("p", identity);
    expectTopologyError(() => stream.process("p", identity), "p", /used twice/);
    expectTopologyError(() => stream.process("bad name", identity), undefined, /must be non-empty and match/);
  });

  it("sources of one sub-topology must be co-partitioned (checked against the broker's counts)", () => {
    const b = new TopologyBuilder("app");
    const left = b.stream("left", s);
    const right = b.stream("right", s);
    left.merge("both", right).to("out", s);
    const t = b.build();
    expectTopologyError(
      () => t.checkPartitionCounts((topic) => ({ left: 3, right: 4 })[topic]),
      undefined,
      /not co-partitioned: left=3, right=4/,
    );
    expectTopologyError(
      () => t.checkPartitionCounts((topic) => ({ left: 3 })[topic]),
      undefined,
      /do not exist: right/,
    );
    expect(() => t.checkPartitionCounts(() => 3)).not.toThrow();
  });

  it("a stream-table join and a table-table join need co-partitioned topics", () => {
    const b = new TopologyBuilder("app");
    const users = b.table("users", { key: s.key, value: s.value });
    const accounts = b.table("accounts", { key: s.key, value: s.value });
    b.stream("clicks", s)
      .join("click-user", users, (click, user) => `${click}@${user}`)
      .to("out", s);
    users
      .join("user-account", accounts, (u, a) => `${u}/${a}`)
      .toStream("ua")
      .to("ua", s);
    const t = b.build();
    expectTopologyError(
      () => t.checkPartitionCounts((topic) => ({ clicks: 3, users: 3, accounts: 4 })[topic]),
      undefined,
      /not co-partitioned/,
    );
    expectTopologyError(
      () => t.checkPartitionCounts((topic) => ({ clicks: 2, users: 3, accounts: 3 })[topic]),
      undefined,
      /not co-partitioned: .*clicks=2/,
    );
    expect(() => t.checkPartitionCounts(() => 3)).not.toThrow();
  });
});

describe("sub-topologies and internal topics", () => {
  const build = () => {
    const b = new TopologyBuilder("shop");
    b.store("counts", Stores.keyValue(Serdes.string(), Serdes.number()));
    b.store("recent", Stores.window(Serdes.string(), Serdes.string(), { retentionMs: 60_000 }));
    const orders = b.stream("orders", s).process("by-sku", identity);
    orders
      .repartition("by-sku", s)
      .process("count", identity, { stores: ["counts", "recent"] })
      .to("counts-out", s);
    return b.build();
  };

  it("splits at repartitions and names internal topics after the app and node", () => {
    const t = build();
    expect(t.subtopologies.map((x) => x.sourceTopics)).toEqual([["orders"], ["shop-by-sku-repartition"]]);
    expect(t.internalTopics).toEqual([
      expect.objectContaining({ name: "shop-by-sku-repartition", kind: "repartition", partitionsOf: 1 }),
      expect.objectContaining({
        name: "shop-counts-changelog",
        kind: "changelog",
        config: { "cleanup.policy": "compact" },
      }),
      expect.objectContaining({
        name: "shop-recent-changelog",
        kind: "changelog",
        config: expect.objectContaining({ "cleanup.policy": "compact,delete" }),
      }),
    ]);
    expect(t.inputTopics).toEqual(["orders"]);
    expect(t.outputTopics).toEqual(["counts-out"]);
    expect(t.deadLetterTopic).toBe("shop-dlq");
    expect([...t.resolvePartitions((topic) => (topic === "orders" ? 6 : undefined))]).toEqual([
      [0, 6],
      [1, 6],
    ]);
  });

  it("describe() renders text, JSON and Mermaid", () => {
    const t = build();
    const text = describeText(t);
    expect(text).toContain("Sub-topology: 1");
    expect(text).toContain("Processor: count (stores: [counts, recent])");
    expect(text).toContain("--> by-sku-repartition-sink");
    expect(text).toContain("changelog    shop-counts-changelog (compact)");
    const json = describeJson(t);
    expect(json.subtopologies[0]!.nodes.map((n) => n.name)).toEqual([
      "orders-source",
      "by-sku",
      "by-sku-repartition-sink",
    ]);
    expect(json.stores).toEqual([
      { name: "counts", kind: "key-value", changelog: "shop-counts-changelog", subtopology: 1 },
      {
        name: "recent",
        kind: "window",
        changelog: "shop-recent-changelog",
        retentionMs: 60_000,
        subtopology: 1,
      },
    ]);
    const mermaid = describeMermaid(t);
    expect(mermaid.startsWith("flowchart LR\n")).toBe(true);
    expect(mermaid).toContain('t_orders(["orders"])');
    expect(mermaid).toContain("n_count -.- s_counts");
  });
});
