/**
 * The order pipeline's domain: the records on its topics, the schemas that check them, and the statuses it emits.
 * Amounts travel as decimal numbers in JSON (as clients send them) and are compared in integer cents.
 */
import { map, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, Schema, StreamRecord } from "../topology/index.js";

/** The pipeline's own metric, `weir_orders_total{status}`: orders by final status, and dropped duplicates. */
export const ORDERS_COUNTER = {
  name: "weir_orders_total",
  help: "Orders reaching a final status in the order pipeline.",
  labelNames: ["status"],
} as const;

export function countOrder(ctx: ProcessorContext, status: string): void {
  ctx.counter(ORDERS_COUNTER.name, ORDERS_COUNTER.help, ORDERS_COUNTER.labelNames).inc({ status });
}

/** A pass-through processor before an `order-status` sink: counts each final status in `weir_orders_total`. */
export const countStatuses =
  () =>
  (ctx: ProcessorContext): OperatorFunction<StreamRecord<string, OrderStatus>, Emit<string, OrderStatus>> =>
    map((r) => {
      countOrder(ctx, r.value.status);
      return { key: r.key, value: r.value };
    });

export const SUPPORTED_CURRENCIES = ["EUR", "USD", "GBP"] as const;
export type Currency = (typeof SUPPORTED_CURRENCIES)[number];

export interface OrderLine {
  sku: string;
  qty: number;
  unitPrice: number;
}

/** A record of the `orders` topic (key: orderId), as clients send it: nothing checked yet. */
export interface Order {
  customerId: string;
  lines: OrderLine[];
  total: number;
  currency: string;
  /** Event time, epoch ms (also the record's Kafka timestamp). */
  createdAt: number;
}

/** An order that passed validation and the risk check (topic `orders-validated`, key orderId). */
export interface ValidatedOrder {
  orderId: string;
  customerId: string;
  lines: OrderLine[];
  total: number;
  totalCents: number;
  currency: Currency;
  createdAt: number;
}

/** An order whose payment matched (topic `orders-paid`, key orderId). */
export interface PaidOrder extends ValidatedOrder {
  paymentId: string;
  paidAt: number;
}

export type PaymentStatus = "authorized" | "declined";

/** A record of the `payments` topic (key: orderId). */
export interface Payment {
  paymentId: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
}

/** A record of the `restocks` topic (key: sku). */
export interface Restock {
  qty: number;
}

export type InvalidReason =
  | "malformed"
  | "empty-lines"
  | "bad-quantity"
  | "negative-price"
  | "total-mismatch"
  | "unsupported-currency"
  /** Its event time is further behind its partition's stream time than the payment join's grace (see dedupeOrders). */
  | "late";
export type PaymentRejection = "declined" | "amount-mismatch" | "timeout";

export type FinalStatus =
  "CONFIRMED" | "REJECTED_INVALID" | "REJECTED_RISK" | "REJECTED_PAYMENT" | "REJECTED_STOCK";
export const FINAL_STATUSES: readonly FinalStatus[] = [
  "CONFIRMED",
  "REJECTED_INVALID",
  "REJECTED_RISK",
  "REJECTED_PAYMENT",
  "REJECTED_STOCK",
];

/** A record of `order-status` (key orderId): the one final status of an order. */
export type OrderStatus =
  | { orderId: string; status: "CONFIRMED" }
  | { orderId: string; status: "REJECTED_INVALID"; reason: InvalidReason; detail: string }
  /** The risk service's score reached the threshold (processors/risk.ts). */
  | { orderId: string; status: "REJECTED_RISK"; reason: "high-risk"; score: number }
  | { orderId: string; status: "REJECTED_PAYMENT"; reason: PaymentRejection }
  | { orderId: string; status: "REJECTED_STOCK"; reason: "out-of-stock"; sku: string };

export function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === "object" && value !== null && "status" in value && "orderId" in value;
}

/** A command on the sku-keyed stock topic (the `stock-requests` repartition topic): key sku. */
export type StockCommand =
  | { type: "reserve"; orderId: string; sku: string; qty: number; line: number; lines: number }
  | { type: "release"; orderId: string; sku: string; qty: number }
  | { type: "restock"; sku: string; qty: number };

/** The answer to one reserve command (the `stock-results` repartition topic): key orderId. */
export interface StockResult {
  orderId: string;
  sku: string;
  qty: number;
  line: number;
  lines: number;
  reserved: boolean;
}

/** A record of `stock-levels` (key sku, compacted): the level after a change. */
export interface StockLevel {
  sku: string;
  level: number;
}

export function isStockLevel(value: unknown): value is StockLevel {
  return typeof value === "object" && value !== null && "level" in value && !("orderId" in value);
}

/** Integer cents of a decimal amount (amounts have at most two decimals; rounding absorbs float error). */
export const toCents = (amount: number): number => Math.round(amount * 100);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Payments are checked by the source serde: one that does not match goes to the dead-letter topic. */
export const PaymentSchema: Schema<Payment> = {
  name: "Payment",
  validate(value) {
    if (!isObject(value)) throw new Error("a payment is a JSON object");
    const { paymentId, amount, currency, status } = value;
    if (typeof paymentId !== "string" || paymentId === "")
      throw new Error("paymentId must be a non-empty string");
    if (typeof amount !== "number" || !Number.isFinite(amount)) throw new Error("amount must be a number");
    if (typeof currency !== "string") throw new Error("currency must be a string");
    if (status !== "authorized" && status !== "declined")
      throw new Error("status must be authorized or declined");
    return { paymentId, amount, currency, status };
  },
};

export const RestockSchema: Schema<Restock> = {
  name: "Restock",
  validate(value) {
    if (!isObject(value)) throw new Error("a restock is a JSON object");
    if (typeof value.qty !== "number" || !Number.isInteger(value.qty) || value.qty <= 0)
      throw new Error("qty must be an integer > 0");
    return { qty: value.qty };
  },
};

/** The outcome of checking an order against the schema and the business rules. */
export type OrderCheck =
  { ok: true; order: ValidatedOrder } | { ok: false; reason: InvalidReason; detail: string };

/**
 * Schema and business rules of an order, in a fixed order (the first violation is the reason): shape, non-empty
 * lines, integer qty > 0, prices >= 0, total = sum of lines (in cents), supported currency.
 */
export function checkOrder(orderId: string, value: unknown): OrderCheck {
  const malformed = (detail: string): OrderCheck => ({ ok: false, reason: "malformed", detail });
  if (!isObject(value)) return malformed("an order is a JSON object");
  const { customerId, lines, total, currency, createdAt } = value;
  if (typeof customerId !== "string" || customerId === "")
    return malformed("customerId must be a non-empty string");
  if (!Array.isArray(lines)) return malformed("lines must be an array");
  if (typeof total !== "number" || !Number.isFinite(total)) return malformed("total must be a number");
  if (typeof currency !== "string") return malformed("currency must be a string");
  if (typeof createdAt !== "number" || !Number.isFinite(createdAt))
    return malformed("createdAt must be a number (ms)");
  for (const [i, line] of lines.entries()) {
    if (!isObject(line) || typeof line.sku !== "string" || line.sku === "")
      return malformed(`line ${i}: sku must be a non-empty string`);
    if (
      typeof line.qty !== "number" ||
      typeof line.unitPrice !== "number" ||
      !Number.isFinite(line.unitPrice)
    )
      return malformed(`line ${i}: qty and unitPrice must be numbers`);
  }
  const typed = lines as OrderLine[];
  if (typed.length === 0)
    return { ok: false, reason: "empty-lines", detail: "an order needs at least one line" };
  for (const [i, line] of typed.entries())
    if (!Number.isInteger(line.qty) || line.qty <= 0)
      return {
        ok: false,
        reason: "bad-quantity",
        detail: `line ${i}: qty ${line.qty} is not an integer > 0`,
      };
  for (const [i, line] of typed.entries())
    if (line.unitPrice < 0)
      return { ok: false, reason: "negative-price", detail: `line ${i}: unitPrice ${line.unitPrice} < 0` };
  const sumCents = typed.reduce((sum, line) => sum + line.qty * toCents(line.unitPrice), 0);
  if (sumCents !== toCents(total))
    return {
      ok: false,
      reason: "total-mismatch",
      detail: `total ${total} differs from the sum of lines ${(sumCents / 100).toFixed(2)}`,
    };
  if (!(SUPPORTED_CURRENCIES as readonly string[]).includes(currency))
    return { ok: false, reason: "unsupported-currency", detail: `currency ${currency} is not supported` };
  return {
    ok: true,
    order: {
      orderId,
      customerId,
      lines: typed.map(({ sku, qty, unitPrice }) => ({ sku, qty, unitPrice })),
      total,
      totalCents: sumCents,
      currency: currency as Currency,
      createdAt,
    },
  };
}
