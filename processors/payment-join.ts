/**
 * Payment join: a windowed stream-stream join of validated orders and payments by orderId on event time.
 *
 * A payment matches an order when |payment time - order time| <= window. Decisions must not depend on how the two
 * inputs interleave (either may be consumed far ahead of the other), so:
 *  - a match is made on arrival of whichever side comes second: each side looks for the other in its window store,
 *    and if nothing is there it waits in its own store (retention far larger than any skew between the inputs);
 *  - a timeout is declared from the *payments side's* clock only: the largest payment timestamp this task has
 *    processed (kept in a store, so it survives restarts). An order whose deadline (order time + window + grace)
 *    that clock has passed gets REJECTED_PAYMENT timeout — on a stream-time punctuation for waiting orders, or at
 *    once for an order that arrives after its deadline passed. Since payments of a partition are processed in
 *    offset order, a payment can only be missed if it was produced more than `grace` out of event-time order.
 *  - the first payment matched decides; later copies find no waiting order and are kept until retention (ignored).
 *    Payments of one order at the same time are ordered by offset: a second one never replaces the first waiting
 *    one, so the statuses do not depend on whether the order arrives before or after them.
 * Producers of payments must eventually push every partition's payment clock past the last deadline (the
 * workload generator ends with one "clock" payment per partition), or the last orders wait.
 */
import { merge, mergeMap, type Observable, type OperatorFunction } from "rxjs";
import type { Emit, ProcessorContext, StreamRecord } from "../topology/index.js";
import {
  toCents,
  type OrderStatus,
  type PaidOrder,
  type Payment,
  type ValidatedOrder,
  countOrder,
} from "./orders.js";

export type JoinInput = { side: "order"; order: ValidatedOrder } | { side: "payment"; payment: Payment };
export type JoinOutput = PaidOrder | OrderStatus;

export interface PaymentJoinOptions {
  /** Window store of orders waiting for their payment (key orderId, at the order's time). */
  ordersStore: string;
  /** Window store of payments waiting for their order (key orderId, at the payment's time). */
  paymentsStore: string;
  /** Key-value store: the deadline index (`<deadline, 16 digits>|<orderId>` -> order time) and the payment clock. */
  clockStore: string;
  windowMs: number;
  graceMs: number;
  /** Stream-time punctuation interval for timeouts. */
  punctuateIntervalMs: number;
  /** How long unmatched records are kept (the window stores' retention). */
  retentionMs: number;
}

const PAYMENT_CLOCK = "~payment-clock";
const EXPIRED_AT = "~expired-at";
const deadlineKey = (deadline: number, orderId: string): string =>
  `${String(Math.max(0, deadline)).padStart(16, "0")}|${orderId}`;

/** Tag each side's records for the join (two tiny processors before the merge). */
export const tagOrders =
  () =>
  (_ctx: ProcessorContext): OperatorFunction<StreamRecord<string, ValidatedOrder>, Emit<string, JoinInput>> =>
    mergeMap((r) => [{ key: r.key, value: { side: "order" as const, order: r.value } }]);

export const tagPayments =
  () =>
  (_ctx: ProcessorContext): OperatorFunction<StreamRecord<string, Payment>, Emit<string, JoinInput>> =>
    mergeMap((r) => [{ key: r.key, value: { side: "payment" as const, payment: r.value } }]);

export const paymentJoin =
  (options: PaymentJoinOptions) =>
  (ctx: ProcessorContext): OperatorFunction<StreamRecord<string, JoinInput>, Emit<string, JoinOutput>> => {
    const orders = ctx.windowStore<string, ValidatedOrder>(options.ordersStore);
    const payments = ctx.windowStore<string, Payment>(options.paymentsStore);
    const clock = ctx.keyValueStore<string, number>(options.clockStore);
    const { windowMs, graceMs } = options;
    const deadlineOf = (orderTime: number) => orderTime + windowMs + graceMs;
    const paymentClock = () => clock.get(PAYMENT_CLOCK) ?? -1;

    const rejected = (orderId: string, reason: "declined" | "amount-mismatch" | "timeout", at: number) => {
      countOrder(ctx, "REJECTED_PAYMENT");
      return { key: orderId, value: { orderId, status: "REJECTED_PAYMENT" as const, reason }, timestamp: at };
    };

    const decide = (order: ValidatedOrder, payment: Payment, at: number): Emit<string, JoinOutput> => {
      if (payment.status === "declined") return rejected(order.orderId, "declined", at);
      if (payment.currency !== order.currency || toCents(payment.amount) !== order.totalCents)
        return rejected(order.orderId, "amount-mismatch", at);
      return {
        key: order.orderId,
        value: { ...order, paymentId: payment.paymentId, paidAt: at },
        timestamp: at,
      };
    };

    const onOrder = (order: ValidatedOrder, time: number): Emit<string, JoinOutput>[] => {
      const waiting = payments.fetch(order.orderId, time - windowMs, time + windowMs).next();
      if (!waiting.done) {
        payments.delete(order.orderId, waiting.value.timestamp);
        return [decide(order, waiting.value.value, Math.max(time, waiting.value.timestamp))];
      }
      if (paymentClock() > deadlineOf(time)) return [rejected(order.orderId, "timeout", deadlineOf(time))];
      orders.put(order.orderId, order, time);
      clock.put(deadlineKey(deadlineOf(time), order.orderId), time);
      return [];
    };

    const onPayment = (orderId: string, payment: Payment, time: number): Emit<string, JoinOutput>[] => {
      if (time > paymentClock()) clock.put(PAYMENT_CLOCK, time);
      const waiting = orders.fetch(orderId, time - windowMs, time + windowMs).next();
      if (waiting.done) {
        // A payment already waiting at the same time came first (payments are processed in offset order): it keeps
        // its place, so the first payment decides whether the order arrives before or after both.
        if (payments.get(orderId, time) === undefined) payments.put(orderId, payment, time);
        return [];
      }
      orders.delete(orderId, waiting.value.timestamp);
      clock.delete(deadlineKey(deadlineOf(waiting.value.timestamp), orderId));
      return [decide(waiting.value.value, payment, Math.max(time, waiting.value.timestamp))];
    };

    /** Orders whose deadline the payment clock has passed: timeout, in deadline order. */
    const onTick = (): Emit<string, JoinOutput>[] => {
      const now = paymentClock();
      if (now < 0) return [];
      const due = [...clock.range({ from: deadlineKey(0, ""), to: deadlineKey(now, "") })];
      const out: Emit<string, JoinOutput>[] = [];
      for (const { key, value: orderTime } of due) {
        const orderId = key.slice(key.indexOf("|") + 1);
        clock.delete(key);
        orders.delete(orderId, orderTime);
        out.push(rejected(orderId, "timeout", deadlineOf(orderTime)));
      }
      // Unmatched payments (duplicates, strays) leave the store once past retention.
      const expiredAt = clock.get(EXPIRED_AT);
      if (expiredAt === undefined || now - expiredAt >= options.retentionMs / 4) {
        if (expiredAt !== undefined) payments.expire(now - options.retentionMs);
        clock.put(EXPIRED_AT, now);
      }
      return out;
    };

    const records = (source: Observable<StreamRecord<string, JoinInput>>) =>
      source.pipe(
        mergeMap((r) =>
          r.value.side === "order"
            ? onOrder(r.value.order, r.timestamp)
            : onPayment(r.key, r.value.payment, r.timestamp),
        ),
      );
    const ticks = ctx.punctuate("stream-time", options.punctuateIntervalMs).pipe(mergeMap(onTick));
    return (source) => merge(records(source), ticks);
  };
