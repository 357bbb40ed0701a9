/**
 * Order validation: a duplicate check on the orderId (a key-value store whose entries expire — a store with a time
 * to live), then the schema and business rules. Valid orders go on (value: ValidatedOrder); invalid ones get their
 * final status, REJECTED_INVALID with the reason. A duplicate of an order seen within the TTL (valid or not) is
 * dropped and counted: it must not produce a second status.
 */
import { mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, StreamRecord } from "../topology/index.js";
import { checkOrder, type OrderStatus, type ValidatedOrder, countOrder } from "./orders.js";

export type ValidationOutput = ValidatedOrder | OrderStatus;

export const DUPLICATE_ORDER_LABEL = "DUPLICATE_DROPPED";

/**
 * The first record of each orderId passes, later ones within the store's TTL are dropped and counted. `seenStore`: a
 * key-value store with `ttlMs` (Stores.keyValue(key, value, { ttlMs })): the orderId → the first record's offset
 * (for debugging); an entry expires `ttlMs` of stream time after it was written, through the changelog.
 */
export const dedupeOrders =
  (options: { seenStore: string }) =>
  (ctx: ProcessorContext): OperatorFunction<StreamRecord<string, unknown>, Emit<string, unknown>> => {
    const seen = ctx.keyValueStore<string, number>(options.seenStore);
    return mergeMap((record) => {
      const orderId = record.key;
      if (typeof orderId !== "string" || orderId === "")
        throw new Error("an order record needs its orderId as key; this one has none");
      if (seen.get(orderId) !== undefined) {
        countOrder(ctx, DUPLICATE_ORDER_LABEL);
        return [];
      }
      seen.put(orderId, record.offset);
      return [{ key: orderId, value: record.value }];
    });
  };

/** The schema and business rules: the validated order, or its final status REJECTED_INVALID with the reason. */
export function validateOrder(orderId: string, value: unknown): ValidationOutput {
  const check = checkOrder(orderId, value);
  if (check.ok) return check.order;
  return { orderId, status: "REJECTED_INVALID", reason: check.reason, detail: check.detail };
}
