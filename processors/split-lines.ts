/**
 * Paid orders into per-line stock requests, re-keyed by sku (the stream is then repartitioned so that all the
 * requests of one sku meet in the task that owns that sku's stock). Each request carries its line index and the
 * order's line count, so the per-order aggregation knows when it has every answer.
 */
import { mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, StreamRecord } from "../topology/index.js";
import type { PaidOrder, StockCommand } from "./orders.js";

export const splitLines =
  () =>
  (_ctx: ProcessorContext): OperatorFunction<StreamRecord<string, PaidOrder>, Emit<string, StockCommand>> =>
    mergeMap((r) =>
      r.value.lines.map((line, i) => ({
        key: line.sku,
        value: {
          type: "reserve" as const,
          orderId: r.value.orderId,
          sku: line.sku,
          qty: line.qty,
          line: i,
          lines: r.value.lines.length,
        },
      })),
    );

/** Restocks (key sku) as stock commands, to merge with the requests. */
export const restockCommands =
  () =>
  (
    _ctx: ProcessorContext,
  ): OperatorFunction<StreamRecord<string, { qty: number }>, Emit<string, StockCommand>> =>
    mergeMap((r) => [{ key: r.key, value: { type: "restock" as const, sku: r.key, qty: r.value.qty } }]);
