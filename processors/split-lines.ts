/**
 * Paid orders into per-line stock requests, re-keyed by sku (the stream is then repartitioned so that all the
 * requests of one sku meet in the task that owns that sku's stock). Each request carries its line index and the
 * order's line count, so the per-order aggregation knows when it has every answer.
 */
import type { KeyValue, StreamRecord } from "../topology/index.js";
import type { PaidOrder, Restock, StockCommand } from "./orders.js";

/** For `flatMap`: one reserve command per line of a paid order, keyed by sku. */
export const splitLines = (r: StreamRecord<string, PaidOrder>): Array<KeyValue<string, StockCommand>> =>
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
  }));

/** For `mapValues`: a restock (key sku) as a stock command, to merge with the requests. */
export const restockCommand = (restock: Restock, r: StreamRecord<string, Restock>): StockCommand => ({
  type: "restock",
  sku: r.key,
  qty: restock.qty,
});
