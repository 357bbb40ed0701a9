import { describe, expect, it } from "vitest";
import { countStoreSerdes } from "../../bench/apps.js";
import { JoinCheck, RESTORE_CHANGELOGS, restoredCount, tableRecord } from "../../bench/suite-workloads.js";

describe("npm run bench's join check", () => {
  const value = (key: string, seq: number) => `${key}#${seq}#1700000000000#xxxx`;

  it("accepts one right output per stream record", () => {
    const check = new JoinCheck();
    check.add("k7", `${value("k7", 1)}|v7`);
    check.add("k7", `${value("k7", 2)}|v7`);
    check.add("k0", `${value("k0", 1)}|v0`);
    expect(check.result(3)).toEqual({ ok: true, detail: "3 outputs; 0 missing, 0 duplicated, 0 wrong" });
  });

  it("reports a missing, a duplicated and a wrong output (another key's row, a changed key, no row)", () => {
    const check = new JoinCheck();
    check.add("k7", `${value("k7", 1)}|v7`);
    check.add("k7", `${value("k7", 1)}|v7`);
    check.add("k7", `${value("k7", 2)}|v8`);
    check.add("k8", `${value("k7", 3)}|v8`);
    check.add("k9", value("k9", 1));
    expect(check.result(4)).toEqual({ ok: false, detail: "5 outputs; 3 missing, 1 duplicated, 3 wrong" });
  });

  it("makes every table row older than the stream's first record", () => {
    const t0 = 1_700_000_000_000;
    const last = tableRecord(99_999, 100_000, t0);
    expect(last.timestamp).toBeLessThan(t0);
    expect([last.key.toString(), last.value.toString()]).toEqual(["k99999", "v99999"]);
  });
});

describe("npm run bench's restore changelogs", () => {
  it("weir's record reads back with the count store's serdes", () => {
    const f = RESTORE_CHANGELOGS.weir!;
    expect(f.topic("app")).toBe("app-counts-changelog");
    expect(countStoreSerdes.key.deserialize(f.key(42))).toBe("k42");
    expect(countStoreSerdes.value.deserialize(f.value(restoredCount(42)))).toBe(43);
  });

  it("Kafka Streams' record is a UTF-8 key and an 8-byte big-endian long (Serdes.String, Serdes.Long)", () => {
    const f = RESTORE_CHANGELOGS["kafka-streams"]!;
    expect(f.topic("app")).toBe("app-counts-changelog");
    expect(f.key(42).toString("utf8")).toBe("k42");
    expect([...f.value(1000)]).toEqual([0, 0, 0, 0, 0, 0, 3, 232]);
  });
});
