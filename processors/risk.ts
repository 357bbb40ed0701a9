/**
 * The order pipeline's risk rule, as a pure function shared by the risk service (processors/risk-service.ts), which
 * answers with the score, the pipeline (processors/app.ts), which rejects an order whose score reaches the
 * threshold, and the verifier (processors/workload.ts), which computes every order's expected status from the
 * inputs alone. Nothing here touches the clock, the network or the environment.
 *
 * A customer's risk band (0..99) is a hash of its id, so a fixed tenth of customers (bands 90..99) is risky; an
 * order's score is its customer's band / 100, halved for orders up to RISK_AMOUNT_CENTS. An order is REJECTED_RISK
 * when its score reaches RISK_THRESHOLD: an order above 100.00 from a risky customer (about 6 % of the generated
 * valid orders).
 */

/** Orders up to this total (in cents) have their customer's score halved. */
export const RISK_AMOUNT_CENTS = 100_00;
/** A score at or above this rejects the order (REJECTED_RISK). */
export const RISK_THRESHOLD = 0.9;

/** FNV-1a (32-bit) of a string's UTF-16 code units: a stable hash, the same on every platform. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The customer's risk band, 0..99. */
export const customerRiskBand = (customerId: string): number => fnv1a(customerId) % 100;

/** The risk score of an order, in [0, 0.99], with two decimals. */
export function riskScore(order: { customerId: string; totalCents: number }): number {
  const band = customerRiskBand(order.customerId);
  return (order.totalCents > RISK_AMOUNT_CENTS ? band : Math.floor(band / 2)) / 100;
}

/** The pipeline's decision on a score (the service only scores). */
export const isRiskRejected = (score: number): boolean => score >= RISK_THRESHOLD;
