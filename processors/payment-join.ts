/**
 * The payment decision: a validated order and the payment the windowed left join of orders and payments found for
 * it (processors/app.ts), or null when none came within the window (a timeout).
 *
 * The join pairs an order with every payment of its orderId at most `joinWindowMs` apart, either side first, and
 * closes an order's window on the **payments side's own time** (JoinWindows.closeOnPartnerTime): an order times out
 * once the payments of its partition have moved past order time + window + grace — never because the orders were
 * read ahead of the payments, so the statuses do not depend on how the two inputs interleave. Payments of a
 * partition must be in event-time order up to the grace (later ones are dropped and counted), and producers of
 * payments must eventually push every partition's payment time past the last deadline (the workload generator ends
 * with one "clock" payment per partition), or the last orders wait.
 *
 * An order with several payments (a duplicate, or two tied on time) gets one join result per payment, in a fixed
 * order (payment offsets; payments already waiting, by time then offset); the first result decides and the others
 * are ignored (`firstDecision`), so one payment decides whether the order arrives before or after them.
 */
import { toCents, type OrderStatus, type PaidOrder, type Payment, type ValidatedOrder } from "./orders.js";

export type JoinOutput = PaidOrder | OrderStatus;

/** What the payment join pairs: an order, and its payment or null. */
export interface OrderPayment {
  order: ValidatedOrder;
  payment: Payment | null;
}

/** The order's payment status from the pair; `at`: the join result's time (the later of order and payment). */
export function decidePayment({ order, payment }: OrderPayment, at: number): JoinOutput {
  const rejected = (reason: "declined" | "amount-mismatch" | "timeout"): OrderStatus => ({
    orderId: order.orderId,
    status: "REJECTED_PAYMENT",
    reason,
  });
  if (payment === null) return rejected("timeout");
  if (payment.status === "declined") return rejected("declined");
  if (payment.currency !== order.currency || toCents(payment.amount) !== order.totalCents)
    return rejected("amount-mismatch");
  return { ...order, paymentId: payment.paymentId, paidAt: at };
}

/** Per order: its first payment decision, and how many join results it has had. */
export interface FirstDecision {
  decision: JoinOutput;
  results: number;
}

/** Aggregator of the join results of an order that keeps the first decision (the others only count). */
export const firstDecision = {
  initializer: (): FirstDecision | null => null,
  aggregator: (_orderId: string, decision: JoinOutput, first: FirstDecision | null): FirstDecision =>
    first === null ? { decision, results: 1 } : { decision: first.decision, results: first.results + 1 },
};
