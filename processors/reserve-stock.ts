/**
 * Stock reservation, per sku: a reserve command takes its quantity from the sku's level if there is enough
 * (never below zero) and is refused otherwise; restocks and releases (compensation of a partially refused order)
 * add. Every change publishes the new level (key sku); every reserve command gets exactly one result (key orderId).
 */
import { mergeMap, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, StreamRecord } from "../topology/index.js";
import type { StockCommand, StockLevel, StockResult } from "./orders.js";

export interface ReserveStockOptions {
  /** Key-value store: sku -> units available. */
  stockStore: string;
}

export type ReserveOutput = StockLevel | StockResult;

export const isStockResult = (value: unknown): value is StockResult =>
  typeof value === "object" && value !== null && "reserved" in value;

export const reserveStock =
  (options: ReserveStockOptions) =>
  (
    ctx: ProcessorContext,
  ): OperatorFunction<StreamRecord<string, StockCommand>, Emit<string, ReserveOutput>> => {
    const stock = ctx.keyValueStore<string, number>(options.stockStore);
    const level = (sku: string, value: number): Emit<string, ReserveOutput> => {
      stock.put(sku, value);
      return { key: sku, value: { sku, level: value } };
    };
    return mergeMap((r): Emit<string, ReserveOutput>[] => {
      const command = r.value;
      const sku = r.key;
      const available = stock.get(sku) ?? 0;
      switch (command.type) {
        case "restock":
        case "release":
          return [level(sku, available + command.qty)];
        case "reserve": {
          const reserved = available >= command.qty;
          const { orderId, qty, line, lines } = command;
          const result = { key: orderId, value: { orderId, sku, qty, line, lines, reserved } };
          return reserved ? [level(sku, available - qty), result] : [result];
        }
      }
    });
  };
