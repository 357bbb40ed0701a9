/**
 * The `join` and `restore` workloads of `npm run bench` (bench/suite.ts; definitions in bench/peers/README.md): the
 * table's records, the output check of the join, and each contender's count-store changelog format for the restore.
 */
import { changelogTopic } from "../topology/index.js";
import { COUNT_STORE, countStoreSerdes } from "./apps.js";

// ---- join ----------------------------------------------------------------------------------------------------

/** The table row of key `k<i>`: value `v<i>`. */
export const tableValue = (i: number) => `v${i}`;

/**
 * The table topic's record i (one per key): key `k<i>`, value `v<i>`, timestamp `streamT0 - keys - 60 s + i`, older
 * than every stream record (whose timestamps start at `streamT0`): a contender that takes each task's records in
 * timestamp order (Kafka Streams) applies the whole table before the first stream record.
 */
export function tableRecord(i: number, keys: number, streamT0: number) {
  return {
    key: Buffer.from(`k${i}`),
    value: Buffer.from(tableValue(i)),
    timestamp: streamT0 - keys - 60_000 + i,
  };
}

/**
 * Checks the join's output against the stream input (`<key>#<seq>#<sent ms>#xxx…`, each key's seq 1, 2, …): each
 * output has the stream record's key and value `<stream value>|v<i>` for key `k<i>`; every stream record whose key
 * is in the table (here every one) comes out exactly once.
 */
export class JoinCheck {
  #seen = new Map<string, Set<number>>();
  read = 0;
  wrong = 0;
  dup = 0;

  add(key: string, value: string): void {
    this.read++;
    const m = /^([^#|]+)#(\d+)#[^|]*\|(.*)$/.exec(value);
    if (!m || m[1] !== key || m[3] !== tableValue(Number(key.slice(1)))) {
      this.wrong++;
      return;
    }
    const set = this.#seen.get(key) ?? new Set<number>();
    if (set.has(Number(m[2]))) this.dup++;
    set.add(Number(m[2]));
    this.#seen.set(key, set);
  }

  result(streamRecords: number): { ok: boolean; detail: string } {
    const unique = [...this.#seen.values()].reduce((a, s) => a + s.size, 0);
    const missing = streamRecords - unique;
    return {
      ok: this.wrong === 0 && this.dup === 0 && missing === 0,
      detail: `${this.read} outputs; ${missing} missing, ${this.dup} duplicated, ${this.wrong} wrong`,
    };
  }
}

// ---- restore -------------------------------------------------------------------------------------------------

/** The count restored for key `k<i>`: what the changelog holds for it (1..1000). */
export const restoredCount = (i: number) => (i % 1000) + 1;

/**
 * A contender's count store changelog, as the contender itself names and serializes it (bench/peers/README.md,
 * `restore`): the store "counts" of the `count` workload, string key `k<i>`, the count as the store's value serde.
 */
export interface RestoreChangelog {
  topic: (appId: string) => string;
  key: (i: number) => Buffer;
  value: (n: number) => Buffer;
}

const longBigEndian = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};

/** Contenders whose changelog format the harness writes; the others are asked and say why not (exit 3). */
export const RESTORE_CHANGELOGS: Record<string, RestoreChangelog> = {
  // bench/apps.ts countTopology: Serdes.string() keys, Serdes.number() values (UTF-8 decimal text).
  weir: {
    topic: (appId) => changelogTopic(appId, COUNT_STORE),
    key: (i) => Buffer.from(countStoreSerdes.key.serialize(`k${i}`)),
    value: (n) => Buffer.from(countStoreSerdes.value.serialize(n)),
  },
  // Peer.java count: Serdes.String() keys, Serdes.Long() values (8 bytes, big-endian).
  "kafka-streams": {
    topic: (appId) => `${appId}-counts-changelog`,
    key: (i) => Buffer.from(`k${i}`),
    value: longBigEndian,
  },
};
