/**
 * Order validation: a duplicate check on the orderId (a key-value store whose entries expire — a store with a time
 * to live), then the schema and business rules. Valid orders go on (value: ValidatedOrder); invalid ones get their
 * final status, REJECTED_INVALID with the reason. A duplicate of an order seen within the TTL (valid or not) is
 * dropped and counted: it must not produce a second status. An order whose event time is further behind its
 * partition's stream time than the payment join's grace is REJECTED_INVALID with reason "late": the join would drop it
 * as expired (Kafka Streams drops such a record and counts it), and the order would never get a status.
 */
import { mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, StreamRecord } from "../topology/index.js";
import { checkOrder, type OrderStatus, type ValidatedOrder, countOrder } from "./orders.js";

export type ValidationOutput = ValidatedOrder | OrderStatus;

export const DUPLICATE_ORDER_LABEL = "DUPLICATE_DROPPED";

/**
 * Marks an order that came too late for the payment join. A class, not a JSON shape: a client cannot send one.
 */
export class LateOrder {
  constructor(readonly detail: string) {}
}

/**
 * The first record of each orderId passes, later ones within the store's TTL are dropped and counted. `seenStore`: a
 * key-value store with `ttlMs` (Stores.keyValue(key, value, { ttlMs })): the orderId → the first record's offset
 * (for debugging); an entry expires `ttlMs` of stream time after it was written, through the changelog.
 */
export const dedupeOrders =
  (options: { seenStore: string; lateAfterMs?: number }) =>
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
      const behind = ctx.streamTime() - record.timestamp;
      if (options.lateAfterMs !== undefined && behind > options.lateAfterMs)
        return [
          {
            key: orderId,
            value: new LateOrder(
              `created ${behind} ms before the latest order of its partition; the payment join accepts ${options.lateAfterMs} ms`,
            ),
          },
        ];
      return [{ key: orderId, value: record.value }];
    });
  };

/** The schema and business rules: the validated order, or its final status REJECTED_INVALID with the reason. */
export function validateOrder(orderId: string, value: unknown): ValidationOutput {
  if (value instanceof LateOrder)
    return { orderId, status: "REJECTED_INVALID", reason: "late", detail: value.detail };
  const check = checkOrder(orderId, value);
  if (check.ok) return check.order;
  return { orderId, status: "REJECTED_INVALID", reason: check.reason, detail: check.detail };
}
