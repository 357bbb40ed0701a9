/**
 * Order validation: schema and business rules, then a duplicate check on the orderId within a retention window.
 * Valid orders go on (value: ValidatedOrder); invalid ones get their final status, REJECTED_INVALID with the reason.
 * A duplicate of an order seen within the window (valid or not) is dropped and counted: it must not produce a
 * second status.
 */
import { merge, mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, StreamRecord } from "../topology/index.js";
import { checkOrder, type OrderStatus, type ValidatedOrder, countOrder } from "./orders.js";

export interface ValidateOrdersOptions {
  /** The window store of orderIds seen (value: the first record's offset, for debugging). */
  seenStore: string;
  /** How long an orderId is remembered, in event time. */
  dedupeRetentionMs: number;
}

export type ValidationOutput = ValidatedOrder | OrderStatus;

export const DUPLICATE_ORDER_LABEL = "DUPLICATE_DROPPED";

export const validateOrders =
  (options: ValidateOrdersOptions) =>
  (
    ctx: ProcessorContext,
  ): OperatorFunction<StreamRecord<string, unknown>, Emit<string, ValidationOutput>> => {
    const seen = ctx.windowStore<string, number>(options.seenStore);
    const retention = options.dedupeRetentionMs;

    const onOrder = (record: StreamRecord<string, unknown>): Emit<string, ValidationOutput>[] => {
      const orderId = record.key;
      if (typeof orderId !== "string" || orderId === "")
        throw new Error("an order record needs its orderId as key; this one has none");
      const earlier = seen.fetch(orderId, record.timestamp - retention, record.timestamp + retention).next();
      if (!earlier.done) {
        countOrder(ctx, DUPLICATE_ORDER_LABEL);
        return [];
      }
      seen.put(orderId, record.offset, record.timestamp);
      const check = checkOrder(orderId, record.value);
      if (check.ok) return [{ key: orderId, value: check.order }];
      countOrder(ctx, "REJECTED_INVALID");
      return [
        {
          key: orderId,
          value: { orderId, status: "REJECTED_INVALID", reason: check.reason, detail: check.detail },
        },
      ];
    };

    // Forget orderIds older than the window: physical removal (the store already hides them).
    const expire = ctx.punctuate("stream-time", Math.max(1, Math.floor(retention / 4))).pipe(
      mergeMap((now) => {
        seen.expire(now - retention);
        return [];
      }),
    );

    return (source) => merge(source.pipe(mergeMap(onOrder)), expire);
  };
