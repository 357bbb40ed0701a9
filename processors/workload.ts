/**
 * The order pipeline's workload, as pure functions: a seeded generator (same options -> the same records, byte for
 * byte) and the outcomes the seed implies. `weir generate` produces these records; `weir verify` regenerates them
 * to know what to expect. Nothing here touches Kafka, the clock or the environment.
 *
 * Time is simulated: order i happens at `startMs + i * 1000 / rate`; payments, duplicates and restocks are placed
 * around it. Records are produced in event-time order (payments of a partition are then in event-time order too,
 * which the payment join relies on), and the workload ends with one "clock" payment per payments partition, far
 * enough ahead to push every partition's payment clock past the last order's deadline.
 */
import { DEFAULT_PIPELINE_OPTIONS, Topics, type CompiledOrderPipelineOptions } from "./app.js";
import type { InvalidReason, Order, OrderLine, Payment, PaymentRejection } from "./orders.js";
import { SUPPORTED_CURRENCIES } from "./orders.js";
import { isRiskRejected, riskScore } from "./risk.js";
import { hostileRecords, type HostileExpect } from "./hostile.js";

export interface WorkloadOptions {
  orders: number;
  seed: number;
  /** Orders per second of simulated (event) time. */
  rate: number;
  /** Number of distinct skus. */
  skus: number;
  /** Share of orders (0..1) that include a line of a scarce sku, competing for its stock. */
  scarce: number;
  /** Simulated clock start, epoch ms. */
  startMs: number;
  /** Partitions of the payments topic (for the final clock payments). */
  paymentPartitions: number;
  pipeline: CompiledOrderPipelineOptions;
  /** Bad records (processors/hostile.ts) mixed among the valid ones. @default 0 */
  badInput?: number;
}

export const DEFAULT_WORKLOAD = {
  rate: 200,
  skus: 40,
  scarce: 0.2,
  startMs: Date.UTC(2026, 0, 1),
  paymentPartitions: 1,
  pipeline: DEFAULT_PIPELINE_OPTIONS,
} as const;

export interface WorkloadRecord {
  topic: string;
  /** null only for bad input (a record without a key). */
  key: string | null;
  /** null only for bad input (a tombstone on an input topic). */
  value: Buffer | null;
  timestamp: number;
  /** Only the clock payments name their partition; the rest go by key (murmur2). */
  partition?: number;
}

/** What an order's final status must be, where that does not depend on interleaving. */
export type Expected =
  | { status: "REJECTED_INVALID"; reason: InvalidReason }
  /** A valid order whose risk score reaches the threshold (processors/risk.ts), whatever its payment. */
  | { status: "REJECTED_RISK"; reason: "high-risk" }
  | { status: "REJECTED_PAYMENT"; reason: PaymentRejection }
  /** Paid: CONFIRMED or REJECTED_STOCK depending on who got the stock first; CONFIRMED if every sku is plentiful. */
  | { status: "PAID"; plentiful: boolean };

export interface ExpectedOrder {
  orderId: string;
  expected: Expected;
  lines: OrderLine[];
  duplicated: boolean;
}

export type OrderKind =
  | "valid"
  | "payment-first"
  | "duplicate-payment"
  | "tied-payments"
  | "declined"
  | "amount-mismatch"
  | "late-payment"
  | "missing-payment"
  | InvalidReason;

export interface Workload {
  /** In production order. */
  records: WorkloadRecord[];
  orders: ExpectedOrder[];
  /**
   * Records that must land in the dead-letter topic: orders that are not JSON, and records stamped in 2100 (on
   * `orders` and `payments`) that the sources' future-skew guard refuses.
   */
  malformed: Array<{ key: string | null; value: Buffer | null }>;
  /** The bad input (`badInput`), each with the outcome it is owed. */
  hostile: Array<{
    category: string;
    topic: string;
    key: string | null;
    value: Buffer | null;
    expect: HostileExpect;
  }>;
  /** Per sku: units from the initial restock, and from restocks during the run. */
  initialStock: Map<string, number>;
  restocked: Map<string, number>;
  summary: {
    orders: number;
    records: Record<string, number>;
    kinds: Record<string, number>;
    duplicateOrders: number;
    /** Valid orders the risk check rejects. */
    riskRejected: number;
    malformed: number;
    /** Bad input records per category. */
    badInput: Record<string, number>;
    scarceSkus: string[];
    eventTimeSpanMs: number;
  };
}

/** mulberry32: a small, fast, seedable PRNG (deterministic across platforms). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KIND_WEIGHTS: Array<[OrderKind, number]> = [
  ["valid", 59],
  ["payment-first", 6],
  ["duplicate-payment", 5],
  /** Two payments at the same time, one declined: the first in offset order decides, in any interleaving. */
  ["tied-payments", 3],
  ["declined", 5],
  ["amount-mismatch", 5],
  ["late-payment", 3],
  ["missing-payment", 3],
  ["malformed", 2],
  ["empty-lines", 2],
  ["bad-quantity", 2],
  ["negative-price", 2],
  ["total-mismatch", 2],
  ["unsupported-currency", 1],
];
const DUPLICATE_ORDER_SHARE = 0.03;
/** Every this many orders, one order and one payment stamped in 2100 (a broken clock), placed among the others. */
const FUTURE_EVERY = 997;
const YEAR_2100 = Date.UTC(2100, 0, 1);
const MALFORMED_SHARE = 0.01;

export const orderId = (i: number): string => `order-${String(i).padStart(7, "0")}`;
export const skuName = (i: number): string => `sku-${String(i).padStart(4, "0")}`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

export function generateWorkload(options: WorkloadOptions): Workload {
  const { orders: n, rate, skus, pipeline } = options;
  const random = prng(options.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const weighted = (): OrderKind => {
    const total = KIND_WEIGHTS.reduce((s, [, w]) => s + w, 0);
    let r = random() * total;
    for (const [kind, w] of KIND_WEIGHTS) if ((r -= w) < 0) return kind;
    return "valid";
  };
  const W = pipeline.joinWindowMs;
  const scarceCount = Math.max(1, Math.round(skus / 10));
  const scarceSkus = Array.from({ length: Math.min(scarceCount, skus) }, (_, i) => skuName(i));
  const plentySkus = Array.from({ length: skus - scarceSkus.length }, (_, i) =>
    skuName(i + scarceSkus.length),
  );

  /** `at`: where the record goes in production order (event time, except for records with a broken clock). */
  type Timed = WorkloadRecord & { seq: number; at: number };
  const timed: Timed[] = [];
  let seq = 0;
  const add = (topic: string, key: string | null, value: Buffer | null, timestamp: number, at = timestamp) =>
    timed.push({ topic, key, value, timestamp, seq: seq++, at });

  const expected: ExpectedOrder[] = [];
  const demand = new Map<string, number>();
  const kinds: Record<string, number> = {};
  const malformed: Workload["malformed"] = [];
  let duplicates = 0;
  let riskRejected = 0;
  // Where the broken-clock records go: the middle of a small run, every FUTURE_EVERY orders in a large one.
  const futureAt = Math.min(n >> 1, FUTURE_EVERY >> 1);

  for (let i = 0; i < n; i++) {
    const id = orderId(i);
    const t = options.startMs + Math.floor((i * 1000) / rate);
    const kind = weighted();
    kinds[kind] = (kinds[kind] ?? 0) + 1;

    const lineCount = int(1, 3);
    const lines: OrderLine[] = [];
    const competes = scarceSkus.length > 0 && random() < options.scarce;
    for (let l = 0; l < lineCount; l++) {
      const pool = (l === 0 && competes) || plentySkus.length === 0 ? scarceSkus : plentySkus;
      lines.push({ sku: pick(pool), qty: int(1, 3), unitPrice: int(100, 9999) / 100 });
    }
    const currency = pick(SUPPORTED_CURRENCIES);
    const cents = lines.reduce((s, l) => s + l.qty * Math.round(l.unitPrice * 100), 0);
    let order: Order = {
      customerId: `customer-${int(1, 500)}`,
      lines,
      total: cents / 100,
      currency,
      createdAt: t,
    };
    let value: unknown = order;
    switch (kind) {
      case "malformed":
        value = {
          customerId: order.customerId,
          lines: "three shirts",
          total: order.total,
          currency,
          createdAt: t,
        };
        break;
      case "empty-lines":
        order = { ...order, lines: [], total: 0 };
        value = order;
        break;
      case "bad-quantity":
        order = { ...order, lines: [{ ...lines[0]!, qty: random() < 0.5 ? 0 : 1.5 }, ...lines.slice(1)] };
        value = order;
        break;
      case "negative-price":
        order = { ...order, lines: [{ ...lines[0]!, unitPrice: -lines[0]!.unitPrice }, ...lines.slice(1)] };
        value = order;
        break;
      case "total-mismatch":
        value = { ...order, total: (cents + int(1, 500)) / 100 };
        break;
      case "unsupported-currency":
        value = { ...order, currency: pick(["XTS", "JPY", "eur"]) };
        break;
    }
    add(Topics.orders, id, json(value), t);
    const duplicated = random() < DUPLICATE_ORDER_SHARE;
    if (duplicated) {
      duplicates++;
      add(Topics.orders, id, json(value), t + int(100, 3000));
    }

    const invalid =
      kind !== "valid" && !kind.includes("payment") && kind !== "declined" && kind !== "amount-mismatch";
    const paymentOf = (overrides: Partial<Payment> = {}): Buffer =>
      json({ paymentId: `payment-${i}`, amount: order.total, currency, status: "authorized", ...overrides });
    const normalDelay = () => int(50, Math.floor(W / 2));
    let outcome: Expected;
    if (invalid) {
      outcome = { status: "REJECTED_INVALID", reason: kind as InvalidReason };
      if (random() < 0.5) add(Topics.payments, id, paymentOf(), t + normalDelay()); // a stray payment: ignored
    } else {
      for (const line of lines) demand.set(line.sku, (demand.get(line.sku) ?? 0) + line.qty);
      const plentiful = lines.every((l) => !scarceSkus.includes(l.sku));
      outcome = { status: "PAID", plentiful };
      switch (kind) {
        case "payment-first":
          add(Topics.payments, id, paymentOf(), t - int(50, Math.floor(W / 2)));
          break;
        case "duplicate-payment": {
          const at = t + normalDelay();
          add(Topics.payments, id, paymentOf(), at);
          add(Topics.payments, id, paymentOf(), at);
          break;
        }
        case "tied-payments": {
          const at = t + normalDelay();
          const declinedFirst = random() < 0.5;
          const declined = paymentOf({ status: "declined", paymentId: `payment-${i}-declined` });
          add(Topics.payments, id, declinedFirst ? declined : paymentOf(), at);
          add(Topics.payments, id, declinedFirst ? paymentOf() : declined, at);
          if (declinedFirst) outcome = { status: "REJECTED_PAYMENT", reason: "declined" };
          break;
        }
        case "declined":
          add(Topics.payments, id, paymentOf({ status: "declined" }), t + normalDelay());
          outcome = { status: "REJECTED_PAYMENT", reason: "declined" };
          break;
        case "amount-mismatch":
          add(
            Topics.payments,
            id,
            random() < 0.7
              ? paymentOf({ amount: (cents + int(1, 999) * (random() < 0.5 ? -1 : 1)) / 100 })
              : paymentOf({ currency: currency === "EUR" ? "USD" : "EUR" }),
            t + normalDelay(),
          );
          outcome = { status: "REJECTED_PAYMENT", reason: "amount-mismatch" };
          break;
        case "late-payment":
          add(Topics.payments, id, paymentOf(), t + W + int(1000, 10_000));
          outcome = { status: "REJECTED_PAYMENT", reason: "timeout" };
          break;
        case "missing-payment":
          outcome = { status: "REJECTED_PAYMENT", reason: "timeout" };
          break;
        default:
          add(Topics.payments, id, paymentOf(), t + normalDelay());
      }
    }
    // The risk check comes before the payment join: a risky valid order is REJECTED_RISK whatever its payments
    // (which are then strays). Its lines still count in the demand above, so the records (and the stock they
    // imply) are the same as before the risk check existed; plentiful skus only get more than they need.
    if (!invalid && isRiskRejected(riskScore({ customerId: order.customerId, totalCents: cents }))) {
      outcome = { status: "REJECTED_RISK", reason: "high-risk" };
      riskRejected++;
    }
    expected.push({ orderId: id, expected: outcome, lines: order.lines, duplicated });

    if (i % FUTURE_EVERY === futureAt) {
      // A broken clock: refused at the source (dead-lettered), it must not move stream time, the dedupe window or
      // the payment join's clock for the records after it.
      const n = String(malformed.length).padStart(5, "0");
      const futureOrder = json({ ...order, createdAt: YEAR_2100 });
      malformed.push({ key: `future-order-${n}`, value: futureOrder });
      add(Topics.orders, `future-order-${n}`, futureOrder, YEAR_2100, t);
      const futurePayment = json({
        paymentId: `future-${n}`,
        amount: 1,
        currency: "EUR",
        status: "authorized",
      });
      malformed.push({ key: `future-payment-${n}`, value: futurePayment });
      add(Topics.payments, `future-payment-${n}`, futurePayment, YEAR_2100, t);
    }
    if (random() < MALFORMED_SHARE) {
      const key = `malformed-${String(malformed.length).padStart(5, "0")}`;
      const bytes =
        random() < 0.5
          ? Buffer.from(`{"customerId":"customer-${i}","lines":[{"sku":`)
          : Buffer.from([0xff, 0xfe, 0x00, int(0, 255), int(0, 255), 0x7b]);
      malformed.push({ key, value: bytes });
      add(Topics.orders, key, bytes, t);
    }
  }

  // Stock: plentiful skus get more than all orders could ask for (so their orders are always CONFIRMED); scarce
  // skus start with about a third of their demand and get restocked a little during the run.
  const endMs = options.startMs + Math.floor((n * 1000) / rate);
  const initialStock = new Map<string, number>();
  const restocked = new Map<string, number>();
  for (let s = 0; s < skus; s++) {
    const sku = skuName(s);
    const want = demand.get(sku) ?? 0;
    const scarce = scarceSkus.includes(sku);
    const initial = scarce ? Math.floor(want / 3) : want + 10;
    initialStock.set(sku, initial);
    if (initial > 0) add(Topics.restocks, sku, json({ qty: initial }), options.startMs - 1000);
    if (scarce && want > 0) {
      const restocks = 4;
      for (let r = 1; r <= restocks; r++) {
        const qty = Math.max(1, Math.floor(want / 20));
        restocked.set(sku, (restocked.get(sku) ?? 0) + qty);
        add(
          Topics.restocks,
          sku,
          json({ qty }),
          options.startMs + Math.floor(((endMs - options.startMs) * r) / (restocks + 1)),
        );
      }
    }
  }

  // Bad input, from its own random sequence (the valid records stay the same bytes with or without it).
  const hostile: Workload["hostile"] = [];
  const badInput: Record<string, number> = {};
  if ((options.badInput ?? 0) > 0) {
    const span = endMs - options.startMs;
    for (const h of hostileRecords(options.badInput!, prng(options.seed ^ 0x5eed), options.startMs, span)) {
      add(h.topic, h.key, h.value, h.timestamp, options.startMs + Math.floor(h.at * span));
      hostile.push({ category: h.category, topic: h.topic, key: h.key, value: h.value, expect: h.expect });
      badInput[h.category] = (badInput[h.category] ?? 0) + 1;
      if (h.expect.kind === "dead-letter") malformed.push({ key: h.key, value: h.value });
      if (h.expect.kind === "status")
        expected.push({ orderId: h.key!, expected: h.expect.expected, lines: [], duplicated: false });
    }
    const duplicatedIds = new Set(hostile.filter((h) => h.category === "duplicate-id").map((h) => h.key));
    for (const e of expected) if (duplicatedIds.has(e.orderId)) e.duplicated = true;
  }

  timed.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const records: WorkloadRecord[] = timed.map(({ seq: _seq, at: _at, ...r }) => r);
  const lastMs = timed.length > 0 ? timed[timed.length - 1]!.at : options.startMs;
  const clockAt = lastMs + W + pipeline.joinGraceMs + 12_000;
  for (let p = 0; p < options.paymentPartitions; p++)
    records.push({
      topic: Topics.payments,
      key: `clock-${p}`,
      value: json({ paymentId: `clock-${p}`, amount: 0, currency: "EUR", status: "authorized" }),
      timestamp: clockAt,
      partition: p,
    });

  const perTopic: Record<string, number> = {};
  for (const r of records) perTopic[r.topic] = (perTopic[r.topic] ?? 0) + 1;
  return {
    records,
    orders: expected,
    malformed,
    hostile,
    initialStock,
    restocked,
    summary: {
      orders: n,
      records: perTopic,
      kinds,
      duplicateOrders: duplicates,
      riskRejected,
      malformed: malformed.length,
      badInput,
      scarceSkus,
      eventTimeSpanMs: clockAt - (options.startMs - 1000),
    },
  };
}

/** What `weir verify` read from the output topics (values decoded as JSON; dead letters as raw bytes). */
export interface Observed {
  statuses: Array<{ key: string | null; value: unknown }>;
  levels: Array<{ key: string | null; value: unknown }>;
  /** `truncated`: the dead letter was cut to fit the producer's limit (its value is a prefix of the record's). */
  deadLetters: Array<{
    key: string | null;
    value: Buffer | null;
    sourceTopic: string | undefined;
    truncated?: boolean;
  }>;
}

export interface Check {
  ok: boolean;
  [detail: string]: unknown;
}

export interface VerifyReport {
  ok: boolean;
  orders: number;
  statuses: Record<string, number>;
  checks: {
    exactlyOneStatus: Check;
    outcomes: Check;
    stock: Check;
    deadLetters: Check;
    /** Present with bad input: per category, how many records got the outcome they are owed. */
    badInput?: Check;
  };
}

const EXAMPLES = 5;

/** Compare what the pipeline wrote with what the workload implies. Pure: the caller reads the topics. */
export function verifyWorkload(workload: Workload, observed: Observed): VerifyReport {
  const byOrder = new Map<string, Array<Record<string, unknown>>>();
  const unknown: string[] = [];
  const known = new Map(workload.orders.map((o) => [o.orderId, o]));
  for (const { key, value } of observed.statuses) {
    if (key === null || !known.has(key)) {
      unknown.push(String(key));
      continue;
    }
    const list = byOrder.get(key) ?? [];
    list.push((value ?? {}) as Record<string, unknown>);
    byOrder.set(key, list);
  }
  const missing = workload.orders.filter((o) => !byOrder.has(o.orderId)).map((o) => o.orderId);
  const duplicated = [...byOrder].filter(([, list]) => list.length > 1).map(([id]) => id);
  const statuses: Record<string, number> = {};
  for (const list of byOrder.values()) {
    const s = String(list[0]!.status);
    statuses[s] = (statuses[s] ?? 0) + 1;
  }

  // Outcomes that do not depend on interleaving.
  const mismatches: Array<{ orderId: string; expected: string; actual: string }> = [];
  const confirmedQty = new Map<string, number>();
  for (const o of workload.orders) {
    const actual = byOrder.get(o.orderId)?.[0];
    if (!actual) continue;
    const status = String(actual.status);
    const got = actual.reason === undefined ? status : `${status}:${String(actual.reason)}`;
    const e = o.expected;
    let ok: boolean;
    let want: string;
    if (e.status === "PAID") {
      want = e.plentiful ? "CONFIRMED" : "CONFIRMED|REJECTED_STOCK";
      ok =
        status === "CONFIRMED" ||
        (!e.plentiful && status === "REJECTED_STOCK" && o.lines.some((l) => l.sku === actual.sku));
    } else {
      want = `${e.status}:${e.reason}`;
      ok = got === want;
    }
    if (!ok) mismatches.push({ orderId: o.orderId, expected: want, actual: got });
    if (status === "CONFIRMED")
      for (const l of o.lines) confirmedQty.set(l.sku, (confirmedQty.get(l.sku) ?? 0) + l.qty);
  }

  // Stock: initial + restocks - confirmed = final level >= 0, per sku.
  const finalLevel = new Map<string, number>();
  for (const { key, value } of observed.levels)
    if (key !== null) finalLevel.set(key, Number((value as { level?: unknown } | null)?.level));
  const skus = new Set([...workload.initialStock.keys(), ...finalLevel.keys()]);
  const stockMismatches: Array<{ sku: string; expected: number; actual: number | null }> = [];
  for (const sku of [...skus].sort()) {
    const expectedLevel =
      (workload.initialStock.get(sku) ?? 0) +
      (workload.restocked.get(sku) ?? 0) -
      (confirmedQty.get(sku) ?? 0);
    const actual = finalLevel.get(sku);
    const level = actual ?? 0;
    if (level !== expectedLevel || level < 0)
      stockMismatches.push({ sku, expected: expectedLevel, actual: actual ?? null });
  }

  // Dead letters: every malformed or broken-clock record, nothing else. A record is its key and value; one cut to
  // fit the producer's limit by its key alone (bad input keys are unique).
  const name = (key: string | null, value: Buffer | null): string =>
    `${key ?? "\u0001null"}\u0000${value === null ? "\u0001null" : value.toString("base64")}`;
  const inputs = new Set<string>([Topics.orders, Topics.payments, Topics.restocks]);
  const deadFromInputs = observed.deadLetters.filter(
    (d) => d.sourceTopic !== undefined && inputs.has(d.sourceTopic),
  );
  const dead = new Set(deadFromInputs.map((d) => name(d.key, d.value)));
  const deadCut = new Set(deadFromInputs.filter((d) => d.truncated).map((d) => d.key));
  const isDead = (m: { key: string | null; value: Buffer | null }): boolean =>
    dead.has(name(m.key, m.value)) || (m.key !== null && deadCut.has(m.key));
  const missingDead = workload.malformed.filter((m) => !isDead(m));
  const malformedNames = new Set(workload.malformed.map((m) => name(m.key, m.value)));
  const malformedKeys = new Set(workload.malformed.map((m) => m.key));
  const unexpectedDead = observed.deadLetters.filter(
    (d) => !malformedNames.has(name(d.key, d.value)) && !(d.truncated && malformedKeys.has(d.key)),
  );

  const checks = {
    exactlyOneStatus: {
      ok: missing.length === 0 && duplicated.length === 0 && unknown.length === 0,
      statusRecords: observed.statuses.length,
      missing: missing.length,
      duplicated: duplicated.length,
      unknown: unknown.length,
      examples: [...missing, ...duplicated, ...unknown].slice(0, EXAMPLES),
    },
    outcomes: {
      ok: mismatches.length === 0,
      mismatches: mismatches.length,
      examples: mismatches.slice(0, EXAMPLES),
    },
    stock: {
      ok: stockMismatches.length === 0,
      skus: skus.size,
      mismatches: stockMismatches.slice(0, EXAMPLES),
    },
    deadLetters: {
      ok: missingDead.length === 0 && unexpectedDead.length === 0,
      expected: workload.malformed.length,
      found: observed.deadLetters.length,
      missing: missingDead.length,
      unexpected: unexpectedDead.length,
    },
  };
  const withBadInput =
    workload.hostile.length > 0 ? { ...checks, badInput: checkBadInput(workload, byOrder, isDead) } : checks;
  return {
    ok: Object.values(withBadInput).every((c) => c.ok),
    orders: workload.orders.length,
    statuses,
    checks: withBadInput,
  };
}

/**
 * Per bad-input category: records, and how many got what they are owed (a dead letter; one status, the expected one;
 * or neither). A wrong one names its key and what happened instead.
 */
function checkBadInput(
  workload: Workload,
  byOrder: Map<string, Array<Record<string, unknown>>>,
  isDead: (m: { key: string | null; value: Buffer | null }) => boolean,
): Check {
  const categories: Record<string, { records: number; asOwed: number }> = {};
  const wrong: Array<{ category: string; key: string | null; owed: string; got: string }> = [];
  for (const h of workload.hostile) {
    const c = (categories[h.category] ??= { records: 0, asOwed: 0 });
    c.records++;
    const statuses = h.key === null ? [] : (byOrder.get(h.key) ?? []);
    const got = [
      ...statuses.map((s) =>
        s.reason === undefined ? String(s.status) : `${String(s.status)}:${String(s.reason)}`,
      ),
      ...(isDead(h) ? ["dead-letter"] : []),
    ];
    const e = h.expect;
    const owed =
      e.kind === "dead-letter"
        ? "dead-letter"
        : e.kind === "ignored"
          ? "nothing"
          : e.expected.status === "PAID"
            ? "PAID"
            : `${e.expected.status}:${e.expected.reason}`;
    // A duplicate shares its key with the first record: it is owed nothing of its own, so only the count matters.
    const ok =
      e.kind === "dead-letter"
        ? got.includes("dead-letter")
        : e.kind === "ignored"
          ? h.category === "duplicate-id"
            ? statuses.length <= 1
            : got.length === 0
          : got.length === 1 && got[0] === owed;
    if (ok) c.asOwed++;
    else if (wrong.length < 20)
      wrong.push({ category: h.category, key: h.key, owed, got: got.join(",") || "nothing" });
  }
  return {
    ok: Object.values(categories).every((c) => c.asOwed === c.records),
    records: workload.hostile.length,
    categories,
    wrong,
  };
}
