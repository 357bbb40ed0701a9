/**
 * Per order, the answers to its line reservations (key orderId), aggregated (processors/app.ts). Once every line has
 * answered: all reserved -> CONFIRMED; any refused -> REJECTED_STOCK naming the first refused sku (by line), and a
 * release command for each line that *was* reserved, keyed by sku, back to the stock requests topic (compensation:
 * the saga's undo step).
 */
import type { KeyValue } from "../topology/index.js";
import type { OrderStatus, StockCommand, StockResult } from "./orders.js";

export type AggregateOutput = OrderStatus | StockCommand;

/** Aggregator of an order's line answers: the answers so far, one per line. */
export const lineAnswers = {
  initializer: (): StockResult[] => [],
  aggregator: (_orderId: string, result: StockResult, answers: StockResult[]): StockResult[] => [
    ...answers.filter((a) => a.line !== result.line),
    result,
  ],
};

/**
 * The order's outcome once every line has answered (nothing before): its status (key orderId) and, when refused,
 * the releases of its reserved lines (key sku). `answers` null: the aggregate expired (nothing to decide).
 */
export function decideReservation(
  orderId: string,
  answers: StockResult[] | null,
): Array<KeyValue<string, AggregateOutput>> {
  if (answers === null || answers.length === 0 || answers.length < answers[0]!.lines) return [];
  const byLine = [...answers].sort((a, b) => a.line - b.line);
  const refused = byLine.find((a) => !a.reserved);
  if (!refused) return [{ key: orderId, value: { orderId, status: "CONFIRMED" } }];
  return [
    { key: orderId, value: { orderId, status: "REJECTED_STOCK", reason: "out-of-stock", sku: refused.sku } },
    ...byLine
      .filter((a) => a.reserved)
      .map((a) => ({ key: a.sku, value: { type: "release" as const, orderId, sku: a.sku, qty: a.qty } })),
  ];
}
