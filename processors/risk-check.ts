/**
 * The risk check of the order pipeline (processors/app.ts): an asynchronous processor (`processAsync`) that asks the
 * risk service (processors/risk-service.ts) for each validated order's score, `GET <url>/risk?customer=&amount=`.
 * A score at or above RISK_THRESHOLD gives the order its final status, REJECTED_RISK; any other order goes on
 * unchanged. A failed call (a 503, a timeout, a refused connection, an answer without a score) throws: processAsync
 * retries it (RISK_CHECK_OPTIONS) and dead-letters the order only when every attempt failed.
 */
import { ConfigError, type AsyncProcessorOptions, type StreamRecord } from "../topology/index.js";
import type { OrderStatus, ValidatedOrder } from "./orders.js";
import { isRiskRejected } from "./risk.js";

/**
 * 32 calls in flight per task, outputs in the input's order (in-order: the payment join after it needs its orders in
 * time order up to its grace, and calls retried or re-made after a crash would otherwise reorder them by seconds;
 * per-key order, which the dedupe's "a status follows its order" needs, holds too), 2 s per call, 8 attempts with back-off from 50 ms (50 ms to
 * 3.2 s, about 6.4 s of waiting in all): at the demo's 1 % of 503s, a record that exhausts them (1 in 10^16) is
 * not something a run meets.
 */
export const RISK_CHECK_OPTIONS: AsyncProcessorOptions = {
  concurrency: 32,
  ordering: "in-order",
  timeoutMs: 2_000,
  retry: { attempts: 8, backoffMs: 50 },
};

export type RiskCheckOutput = ValidatedOrder | OrderStatus;

/**
 * The call, for `processAsync`. `riskUrl` undefined (a topology built only to be described, or its topics
 * created): every call fails with a ConfigError naming the setting; `weir worker` refuses to start without it.
 */
export function riskCheck(riskUrl: string | undefined) {
  const base = riskUrl?.replace(/\/+$/, "");
  return async (
    record: StreamRecord<string, ValidatedOrder>,
    { signal }: { signal: AbortSignal },
  ): Promise<{ key: string; value: RiskCheckOutput }> => {
    if (base === undefined)
      throw new ConfigError(
        "the order pipeline's risk check has no risk service: pass riskUrl to createTopology (weir worker: --risk-url or WEIR_RISK_URL)",
      );
    const order = record.value;
    const query = new URLSearchParams({ customer: order.customerId, amount: String(order.total) });
    const res = await fetch(`${base}/risk?${query}`, { signal });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`risk service answered ${res.status} for ${order.orderId}`);
    }
    const body = (await res.json()) as { score?: unknown };
    const score = body?.score;
    if (typeof score !== "number" || !Number.isFinite(score))
      throw new Error(`risk service answered no score for ${order.orderId}: ${JSON.stringify(body)}`);
    if (isRiskRejected(score))
      return {
        key: record.key,
        value: { orderId: order.orderId, status: "REJECTED_RISK", reason: "high-risk", score },
      };
    return { key: record.key, value: order };
  };
}
