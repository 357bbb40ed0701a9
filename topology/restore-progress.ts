/** Restore progress across store-partitions: remaining records and a sliding-window rate, published as gauges. */
import type { WeirMetrics } from "./metrics.js";

// -------------------------------------------------------------------------------------------------------------
// Restore progress
// -------------------------------------------------------------------------------------------------------------

export interface RestoreRange {
  store: string;
  partition: number;
  /** First changelog offset to apply (the checkpointed offset, or the log start). */
  startOffset: number;
  /** End offset, exclusive: the changelog's high watermark when restore began. */
  endOffset: number;
}

export interface RestoreProgressOptions {
  /** Width of the sliding window for ratePerSecond; default 10 s. */
  windowMs?: number;
  /** Clock in milliseconds; injectable for tests. Default Date.now. */
  now?: () => number;
}

interface PartitionProgress {
  store: string;
  partition: number;
  start: number;
  end: number;
  position: number;
}

/**
 * Tracks a restore of several store partitions from their changelogs: records remaining per partition and in
 * total, and a per-store rate over a sliding window (0 when nothing was restored within the window — the "restore
 * stuck" signal). `record(...)` takes the offset of the last record applied (per record or per batch).
 */
export class RestoreProgress {
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly parts = new Map<string, PartitionProgress>();
  /** Per store: (time, records) samples, oldest first, pruned to the window. */
  private readonly samples = new Map<string, { at: number; n: number }[]>();
  private readonly restored = new Map<string, number>();

  constructor(ranges: Iterable<RestoreRange>, options: RestoreProgressOptions = {}) {
    this.windowMs = options.windowMs ?? 10_000;
    if (!(this.windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${this.windowMs}`);
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    for (const r of ranges) {
      const key = RestoreProgress.key(r.store, r.partition);
      if (this.parts.has(key)) throw new Error(`restore range for ${r.store}/${r.partition} given twice`);
      const start = Math.max(0, r.startOffset);
      const end = Math.max(0, r.endOffset);
      this.parts.set(key, {
        store: r.store,
        partition: r.partition,
        start,
        end,
        position: Math.min(start, end),
      });
      if (!this.samples.has(r.store)) this.samples.set(r.store, []);
      if (!this.restored.has(r.store)) this.restored.set(r.store, 0);
    }
  }

  private static key(store: string, partition: number): string {
    return `${store}\u0000${partition}`;
  }

  private part(store: string, partition: number): PartitionProgress {
    const p = this.parts.get(RestoreProgress.key(store, partition));
    if (!p) throw new Error(`no restore in progress for store ${store} partition ${partition}`);
    return p;
  }

  /** The record at `offset` (and everything before it) of `store`/`partition` has been applied. */
  record(store: string, partition: number, offset: number, atMs: number = this.now()): void {
    const p = this.part(store, partition);
    const position = Math.min(offset + 1, p.end);
    if (position <= p.position) return; // duplicate or out-of-order report
    const n = position - p.position;
    p.position = position;
    this.restored.set(store, (this.restored.get(store) ?? 0) + n);
    const samples = this.samples.get(store) ?? [];
    samples.push({ at: atMs, n });
    this.samples.set(store, samples);
    this.prune(store, atMs);
  }

  /**
   * The consumer's position reached the end of this changelog partition (transaction markers can leave the last
   * data record's offset below the end offset, so the engine says so explicitly).
   */
  complete(store: string, partition: number): void {
    const p = this.part(store, partition);
    p.position = p.end;
  }

  remaining(store: string, partition: number): number {
    const p = this.part(store, partition);
    return Math.max(0, p.end - p.position);
  }

  totalRemaining(): number {
    let total = 0;
    for (const p of this.parts.values()) total += Math.max(0, p.end - p.position);
    return total;
  }

  /** Records restored so far for `store`, across its partitions. */
  restoredRecords(store: string): number {
    return this.restored.get(store) ?? 0;
  }

  /** Records per second restored into `store` over the last `windowMs` (shorter at the very start). */
  ratePerSecond(store: string, nowMs: number = this.now()): number {
    const samples = this.samples.get(store);
    if (!samples) return 0;
    this.prune(store, nowMs);
    const since = nowMs - this.windowMs;
    let n = 0;
    for (const s of samples) if (s.at > since && s.at <= nowMs) n += s.n;
    const spanMs = Math.min(this.windowMs, nowMs - this.startedAt);
    return spanMs > 0 ? n / (spanMs / 1000) : 0;
  }

  done(): boolean {
    return this.totalRemaining() === 0;
  }

  stores(): string[] {
    return [...this.samples.keys()];
  }

  /** Set weir_restore_remaining_records and weir_restore_rate_records_per_second from this progress. */
  publish(metrics: WeirMetrics, nowMs: number = this.now()): void {
    for (const p of this.parts.values()) {
      metrics.restoreRemaining.set(
        { store: p.store, partition: String(p.partition) },
        Math.max(0, p.end - p.position),
      );
    }
    for (const store of this.samples.keys())
      metrics.restoreRate.set({ store }, this.ratePerSecond(store, nowMs));
  }

  private prune(store: string, nowMs: number): void {
    const samples = this.samples.get(store);
    if (!samples) return;
    const since = nowMs - this.windowMs;
    let drop = 0;
    while (drop < samples.length && (samples[drop]?.at ?? Infinity) <= since) drop++;
    if (drop > 0) samples.splice(0, drop);
  }
}
