/**
 * Per order, the answers to its line reservations (key orderId). Once every line has answered: all reserved ->
 * CONFIRMED; any refused -> REJECTED_STOCK naming the first refused sku (by line), and a release command for each
 * line that *was* reserved, keyed by sku, back to the stock requests topic (compensation: the saga's undo step).
 */
import { mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, StreamRecord } from "../topology/index.js";
import type { OrderStatus, StockCommand, StockResult } from "./orders.js";
import { countOrder } from "./orders.js";

export interface AggregateReservationsOptions {
  /** Key-value store: orderId -> the answers received so far. */
  reservationsStore: string;
}

export type AggregateOutput = OrderStatus | StockCommand;

export const aggregateReservations =
  (options: AggregateReservationsOptions) =>
  (
    ctx: ProcessorContext,
  ): OperatorFunction<StreamRecord<string, StockResult>, Emit<string, AggregateOutput>> => {
    const pending = ctx.keyValueStore<string, StockResult[]>(options.reservationsStore);
    return mergeMap((r): Emit<string, AggregateOutput>[] => {
      const result = r.value;
      const orderId = r.key;
      const answers = (pending.get(orderId) ?? []).filter((a) => a.line !== result.line);
      answers.push(result);
      if (answers.length < result.lines) {
        pending.put(orderId, answers);
        return [];
      }
      // Complete: decided once, so the entry goes (an order's lines are answered exactly once under exactly-once).
      pending.delete(orderId);
      answers.sort((a, b) => a.line - b.line);
      const refused = answers.find((a) => !a.reserved);
      if (!refused) {
        countOrder(ctx, "CONFIRMED");
        return [{ key: orderId, value: { orderId, status: "CONFIRMED" } }];
      }
      countOrder(ctx, "REJECTED_STOCK");
      return [
        {
          key: orderId,
          value: { orderId, status: "REJECTED_STOCK", reason: "out-of-stock", sku: refused.sku },
        },
        ...answers
          .filter((a) => a.reserved)
          .map((a) => ({ key: a.sku, value: { type: "release" as const, orderId, sku: a.sku, qty: a.qty } })),
      ];
    });
  };
