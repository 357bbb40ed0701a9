/**
 * Bad input for the order pipeline: seeded records of every kind a careless or hostile client sends, each with the
 * outcome the pipeline owes it. Mixed into a workload (`weir generate|verify|demo --bad-input N`), they run beside
 * valid orders, and `verifyWorkload` checks each one and the valid orders around them.
 *
 * Outcomes: a record the sources cannot decode, or that a processor refuses (no key), goes to the dead-letter topic
 * with its reason; an order that decodes but breaks a rule gets its one final status, REJECTED_INVALID with the
 * reason; a payment for an order that does not exist is a stray the join never matches (no status, no dead letter —
 * it may be an early payment, so it is not an error until its window passes, and then there is nothing to say).
 */
import type { Expected } from "./workload.js";
import type { InvalidReason } from "./orders.js";
import { Topics } from "./app.js";
import { isRiskRejected, riskScore } from "./risk.js";

/** What the pipeline must do with a bad record. */
export type HostileExpect =
  | { kind: "dead-letter" }
  /** One final status for the record's key (an orderId). */
  | { kind: "status"; expected: Expected }
  /** Neither a status nor a dead letter: a stray payment, or a duplicate orderId (dropped and counted). */
  | { kind: "ignored" };

export interface HostileRecord {
  category: string;
  topic: string;
  key: string | null;
  value: Buffer | null;
  timestamp: number;
  /** Where it goes among the workload's records: a share (0..1) of the run's event-time span. */
  at: number;
  expect: HostileExpect;
}

/** librdkafka's default `message.max.bytes` (the client's limit); the broker's default is 1,048,588. */
const CLIENT_LIMIT = 1_000_000;
/** A record between the client's and the broker's default limits: a producer with a raised limit writes it. */
export const OVER_CLIENT_LIMIT = 1_040_000;
const FAR_PAST = Date.UTC(2001, 8, 9);

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const invalid = (reason: InvalidReason): HostileExpect => ({
  kind: "status",
  expected: { status: "REJECTED_INVALID", reason },
});
const dead: HostileExpect = { kind: "dead-letter" };
const ignored: HostileExpect = { kind: "ignored" };

interface Maker {
  topic: string;
  /** A record of this category: key, value, expected outcome (time defaults to the record's place in the run). */
  make(
    n: number,
    base: Record<string, unknown>,
    t: number,
  ): {
    key?: string | null;
    value: Buffer | null;
    expect: HostileExpect;
    timestamp?: number;
  };
}

const WRONG_TYPES: Array<[string, unknown]> = [
  ["customerId", 42],
  ["lines", { sku: "sku-0001" }],
  ["total", "12.50"],
  ["currency", 978],
  ["createdAt", "yesterday"],
  ["lines", [{ sku: 7, qty: 1, unitPrice: 1 }]],
  ["lines", [{ sku: "sku-0001", qty: "2", unitPrice: 1 }]],
  ["lines", [{ sku: "sku-0001", qty: 1, unitPrice: true }]],
];
const REQUIRED = ["customerId", "lines", "total", "currency", "createdAt"];
const UNICODE_IDS = ["注文", "заказ-🙂", "طلب\u200f", "ordre-é\u0301", "👩‍👩‍👧‍👦", "ordine\u2028"];

/** The categories, each with how its records are made and what they are owed. */
export const HOSTILE_CATEGORIES: Record<string, Maker> = {
  "invalid-json": {
    topic: Topics.orders,
    make: (n) => ({ value: Buffer.from(`{"customerId":"c-${n}","lines":[{"sku":`), expect: dead }),
  },
  "binary-garbage": {
    topic: Topics.orders,
    make: (n) => ({ value: Buffer.from([0xff, 0xfe, n & 0xff, (n >> 8) & 0xff, 0x00, 0x9c]), expect: dead }),
  },
  // @confluentinc/kafka-javascript writes an empty value as null (kcat shows its length as -1): to the pipeline it
  // is a null value. An empty value from a client that keeps it (not JSON) would be dead-lettered instead.
  "empty-value": {
    topic: Topics.orders,
    make: () => ({ value: Buffer.alloc(0), expect: invalid("malformed") }),
  },
  "null-value": { topic: Topics.orders, make: () => ({ value: null, expect: invalid("malformed") }) },
  "null-key": {
    topic: Topics.orders,
    // The value names the record, so the dead letter can be matched without a key.
    make: (n, base) => ({ key: null, value: json({ ...base, customerId: `null-key-${n}` }), expect: dead }),
  },
  "near-size-limit": {
    topic: Topics.orders,
    // Valid JSON just under the client's limit, with lines of the wrong type: a small status, not a copy.
    make: (_n, base) => ({
      value: json({ ...base, lines: "x".repeat(CLIENT_LIMIT - 2_000) }),
      expect: invalid("malformed"),
    }),
  },
  "over-client-limit": {
    topic: Topics.orders,
    // Not JSON, and bigger than weir's producer may write: its dead letter is cut to fit (and says so).
    make: (n) => ({ value: Buffer.from(`{"n":${n},"pad":"${"y".repeat(OVER_CLIENT_LIMIT)}`), expect: dead }),
  },
  "wrong-type": {
    topic: Topics.orders,
    make: (n, base) => {
      const [field, value] = WRONG_TYPES[n % WRONG_TYPES.length]!;
      return { value: json({ ...base, [field]: value }), expect: invalid("malformed") };
    },
  },
  "missing-field": {
    topic: Topics.orders,
    make: (n, base) => {
      const copy = { ...base };
      delete copy[REQUIRED[n % REQUIRED.length]!];
      return { value: json(copy), expect: invalid("malformed") };
    },
  },
  "bad-quantity": {
    topic: Topics.orders,
    make: (n, base) => {
      const qty = [-3, 0, 1.5, -0.25][n % 4]!;
      return {
        value: json({ ...base, lines: [{ sku: "sku-0001", qty, unitPrice: 2 }], total: qty * 2 }),
        expect: invalid("bad-quantity"),
      };
    },
  },
  "huge-quantity": {
    topic: Topics.orders,
    // An integer > 0, so not a bad quantity; its total in cents is Infinity, which no total matches.
    make: (_n, base) => ({
      value: json({ ...base, lines: [{ sku: "sku-0001", qty: 1e308, unitPrice: 2 }], total: 1e300 }),
      expect: invalid("total-mismatch"),
    }),
  },
  "nan-amount": {
    topic: Topics.orders,
    // JSON has no NaN or Infinity: a client's JSON.stringify writes null.
    make: (n, base) => ({
      value: json({ ...base, total: n % 2 === 0 ? NaN : Infinity }),
      expect: invalid("malformed"),
    }),
  },
  "negative-amount": {
    topic: Topics.orders,
    make: (_n, base) => ({
      value: json({ ...base, lines: [{ sku: "sku-0001", qty: 1, unitPrice: -5 }], total: -5 }),
      expect: invalid("negative-price"),
    }),
  },
  "huge-total": {
    topic: Topics.orders,
    make: (_n, base) => ({ value: json({ ...base, total: 1e300 }), expect: invalid("total-mismatch") }),
  },
  "unknown-currency": {
    topic: Topics.orders,
    make: (n, base) => ({
      value: json({ ...base, currency: ["XXX", "", "€", "usd", "EURO"][n % 5] }),
      expect: invalid("unsupported-currency"),
    }),
  },
  "far-past": {
    topic: Topics.orders,
    // A valid order stamped in 2001, among orders of 2026: too late for the payment join.
    make: (_n, base) => ({
      value: json({ ...base, createdAt: FAR_PAST }),
      timestamp: FAR_PAST,
      expect: invalid("late"),
    }),
  },
  "unicode-id": {
    topic: Topics.orders,
    // A valid order under an id outside ASCII, never paid: it times out in the join (or the risk rule rejects it).
    make: (n, base, t) => ({
      key: `${UNICODE_IDS[n % UNICODE_IDS.length]}-${n}`,
      value: json({ ...base, createdAt: t }),
      expect: {
        kind: "status",
        expected: isRiskRejected(riskScore({ customerId: String(base.customerId), totalCents: 200 }))
          ? { status: "REJECTED_RISK", reason: "high-risk" }
          : { status: "REJECTED_PAYMENT", reason: "timeout" },
      },
    }),
  },
  "payment-invalid-json": {
    topic: Topics.payments,
    make: (n) => ({ value: Buffer.from(`{"paymentId":"p-${n}","amount":`), expect: dead }),
  },
  "payment-wrong-type": {
    topic: Topics.payments,
    make: (n) => ({
      value: json(
        [
          { paymentId: 5, amount: 1, currency: "EUR", status: "authorized" },
          { paymentId: `p-${n}`, amount: "1.00", currency: "EUR", status: "authorized" },
          { paymentId: `p-${n}`, amount: null, currency: "EUR", status: "authorized" },
          { paymentId: `p-${n}`, amount: 1, currency: "EUR", status: "maybe" },
          { paymentId: `p-${n}`, amount: 1, status: "authorized" },
        ][n % 5],
      ),
      expect: dead,
    }),
  },
  "payment-unknown-order": {
    topic: Topics.payments,
    make: (n) => ({
      key: `ghost-order-${n}`,
      value: json({ paymentId: `ghost-${n}`, amount: 10, currency: "EUR", status: "authorized" }),
      expect: ignored,
    }),
  },
  "payment-far-past": {
    topic: Topics.payments,
    make: (n) => ({
      key: `ghost-past-${n}`,
      value: json({ paymentId: `past-${n}`, amount: 10, currency: "EUR", status: "authorized" }),
      timestamp: FAR_PAST,
      expect: ignored,
    }),
  },
  "restock-bad": {
    topic: Topics.restocks,
    make: (n) => ({
      key: "sku-0001",
      value: [json({ qty: -5 }), json({ qty: 0 }), json({ qty: "10" }), Buffer.from([0xff, 0x00])][n % 4]!,
      expect: dead,
    }),
  },
};

/** Ids of the bad records that carry an orderId key (the key is the record's name in the verifier's report). */
export const hostileKey = (category: string, n: number): string =>
  `bad-${category}-${String(n).padStart(6, "0")}`;

/**
 * `count` bad records, the categories in turn, placed between 10 % and 95 % of the run (every partition has seen
 * valid orders before the first one, so "late" is decided against a stream time). Every tenth keyed order is sent
 * twice (the second, with other content, must be dropped as a duplicate).
 */
export function hostileRecords(
  count: number,
  random: () => number,
  startMs: number,
  spanMs: number,
): HostileRecord[] {
  const names = Object.keys(HOSTILE_CATEGORIES);
  const out: HostileRecord[] = [];
  for (let i = 0; out.length < count; i++) {
    const category = names[i % names.length]!;
    const maker = HOSTILE_CATEGORIES[category]!;
    const at = 0.1 + random() * 0.85;
    const t = startMs + Math.floor(at * spanMs);
    const base: Record<string, unknown> = {
      customerId: `customer-bad-${i % 97}`,
      lines: [{ sku: "sku-0001", qty: 1, unitPrice: 2 }],
      total: 2,
      currency: "EUR",
      createdAt: t,
    };
    const made = maker.make(i, base, t);
    const key = made.key === undefined ? hostileKey(category, i) : made.key;
    out.push({
      category,
      topic: maker.topic,
      key,
      value: made.value,
      timestamp: made.timestamp ?? t,
      at,
      expect: made.expect,
    });
    if (maker.topic === Topics.orders && made.expect.kind === "status" && key !== null && i % 10 === 0)
      out.push({
        category: "duplicate-id",
        topic: maker.topic,
        key,
        value: json({ ...base, customerId: "a second order under the same id" }),
        timestamp: (made.timestamp ?? t) + 1,
        at: Math.min(at + 0.001, 0.96),
        expect: ignored,
      });
  }
  return out.slice(0, count);
}
