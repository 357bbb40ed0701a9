/**
 * The order pipeline, in the DSL: order validation -> risk check -> payment join -> stock reservation, with exactly
 * one final status per order on `order-status`.
 *
 *   sub-topology 0  orders -> dedupe-orders (TTL store) -> validate-orders -> risk-check (processAsync: an HTTP
 *                   call to the risk service per valid order) -> orders-validated
 *                   | order-status (REJECTED_INVALID, REJECTED_RISK)
 *   sub-topology 1  orders-validated leftJoin payments (windowed, on the payments' time) -> first decision per order
 *                   -> orders-paid | order-status (REJECTED_PAYMENT); paid orders' lines ->
 *                   <app>-stock-requests-repartition (key sku)
 *   sub-topology 2  stock-requests + restocks -> reserve-stock -> stock-levels | <app>-stock-results-repartition
 *   sub-topology 3  stock-results -> per-order aggregate of line answers -> order-status (CONFIRMED |
 *                   REJECTED_STOCK) | release commands back to stock-requests (feedback: the compensation loop)
 *
 * The risk check (processors/risk-check.ts) is an asynchronous processor: it calls the risk service over HTTP for
 * each valid order (settings.riskUrl), calls overlapping, and its results commit exactly-once with the order's offset.
 * A risky order never reaches `orders-validated`, so its payments are strays the join ignores.
 *
 * Stock reservation stays a processor (processors/reserve-stock.ts): each command reads and changes the sku's level
 * and answers with a level, a result or both, which is clearer as one function over the store than as a table
 * aggregation plus a join back to the commands.
 */
import {
  JoinWindows,
  type KStream,
  Serdes,
  Stores,
  TopologyBuilder,
  deadLetterTopic,
  repartitionTopic,
  type StreamRecord,
  type Topology,
} from "../topology/index.js";
import { decideReservation, lineAnswers, type AggregateOutput } from "./aggregate-reservations.js";
import {
  PaymentSchema,
  RestockSchema,
  countStatuses,
  isOrderStatus,
  isStockLevel,
  type OrderStatus,
  type PaidOrder,
  type StockCommand,
  type StockResult,
  type ValidatedOrder,
} from "./orders.js";
import {
  decidePayment,
  firstDecision,
  type FirstDecision,
  type JoinOutput,
  type OrderPayment,
} from "./payment-join.js";
import { isStockResult, reserveStock, type ReserveOutput } from "./reserve-stock.js";
import { RISK_CHECK_OPTIONS, riskCheck, type RiskCheckOutput } from "./risk-check.js";
import { restockCommand, splitLines } from "./split-lines.js";
import { dedupeOrders, validateOrder, type ValidationOutput } from "./validate-orders.js";

export const APP_ID = "weir-orders";

/** Topics of the order pipeline. Inputs first, then the topics it writes. */
export const Topics = {
  orders: "orders",
  payments: "payments",
  restocks: "restocks",
  ordersValidated: "orders-validated",
  ordersPaid: "orders-paid",
  orderStatus: "order-status",
  stockLevels: "stock-levels",
  deadLetter: deadLetterTopic(APP_ID),
  /** Internal: per-line stock requests and releases, keyed by sku. */
  stockRequests: repartitionTopic(APP_ID, "stock-requests"),
  /** Internal: per-line reservation results, keyed by orderId. */
  stockResults: repartitionTopic(APP_ID, "stock-results"),
} as const;

export const ORDERS_TOPIC = Topics.orders;
export const PAYMENTS_TOPIC = Topics.payments;
export const RESTOCKS_TOPIC = Topics.restocks;
export const ORDERS_VALIDATED_TOPIC = Topics.ordersValidated;
export const ORDERS_PAID_TOPIC = Topics.ordersPaid;
export const ORDER_STATUS_TOPIC = Topics.orderStatus;
export const STOCK_LEVELS_TOPIC = Topics.stockLevels;
export const DEAD_LETTER_TOPIC = Topics.deadLetter;

/**
 * Orders and payments come from other services, whose clocks can be broken: such records must reach the pipeline,
 * whose sources refuse event times more than an hour ahead (dead-lettered, `maxFutureSkewMs`). Apache Kafka 4.x
 * refuses them itself by default (`message.timestamp.after.max.ms` = 1 hour): these topics accept any timestamp,
 * so that the guard weir applies on every broker version is what decides.
 */
const ANY_TIMESTAMP = { "message.timestamp.after.max.ms": "9223372036854775807" } as const;

/** Topic configs the application expects for the topics it does not create itself. */
export const TOPIC_CONFIGS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  [Topics.stockLevels]: { "cleanup.policy": "compact" },
  [Topics.orders]: ANY_TIMESTAMP,
  [Topics.payments]: ANY_TIMESTAMP,
};

export interface OrderPipelineOptions {
  /** Payment join window: a payment matches an order when |payment time - order time| <= window. @default 30000 */
  joinWindowMs?: number;
  /** Extra event time after the window before an unpaid order times out. @default 5000 */
  joinGraceMs?: number;
  /**
   * How long orders and payments wait in the join for their partner, in their own side's event time; far above any
   * skew between the inputs. Also how long an order's decisions are remembered. @default 1 day
   */
  joinRetentionMs?: number;
  /** How long an orderId is remembered for duplicate detection (event time). @default 1 hour */
  dedupeRetentionMs?: number;
}

export interface CompiledOrderPipelineOptions {
  readonly joinWindowMs: number;
  readonly joinGraceMs: number;
  readonly joinRetentionMs: number;
  readonly dedupeRetentionMs: number;
}

export const DEFAULT_PIPELINE_OPTIONS: CompiledOrderPipelineOptions = Object.freeze({
  joinWindowMs: 30_000,
  joinGraceMs: 5_000,
  joinRetentionMs: 24 * 3600_000,
  dedupeRetentionMs: 3600_000,
});

export function compilePipelineOptions(options: OrderPipelineOptions = {}): CompiledOrderPipelineOptions {
  const compiled = { ...DEFAULT_PIPELINE_OPTIONS };
  for (const [name, value] of Object.entries(options) as Array<
    [keyof CompiledOrderPipelineOptions, unknown]
  >) {
    if (value === undefined) continue;
    if (!(name in compiled)) throw new RangeError(`unknown order pipeline option '${name}'`);
    if (
      typeof value !== "number" ||
      !Number.isFinite(value) ||
      value < 0 ||
      (name !== "joinGraceMs" && value <= 0)
    )
      throw new RangeError(
        `order pipeline option ${name} must be a positive number of ms, got ${String(value)}`,
      );
    compiled[name] = value;
  }
  return Object.freeze(compiled);
}

/** Store names (each names a changelog topic `weir-orders-<store>-changelog`). */
export const StoreNames = {
  /** orderId -> first offset, with a TTL of dedupeRetentionMs. */
  seenOrders: "seen-orders",
  /** sku -> units available. */
  stock: "stock",
  /** The payment join's stores are named after it: payment-join-left-store, -right-store, -left-unmatched, -times. */
  paymentJoin: "payment-join",
  /** orderId -> its first payment decision and how many join results it had. */
  paymentDecisions: "payment-decisions",
  /** orderId -> the answers to its line reservations. */
  reservations: "reservations",
} as const;

export interface OrderPipelineSettings {
  /** Accepted for the CLI's contract; partition counts come from the input topics. */
  partitions: number;
  /**
   * Base URL of the risk service (processors/risk-service.ts), e.g. http://127.0.0.1:8400. Required to process
   * orders: without it the topology can be described and its topics created, but every risk call fails with a
   * ConfigError (and `weir worker` refuses to start: --risk-url / WEIR_RISK_URL).
   */
  riskUrl?: string;
}

/**
 * Build the order pipeline. Partition counts come from the input topics (the sources of a sub-topology must be
 * co-partitioned).
 */
export function createTopology(
  settings: OrderPipelineSettings,
  options: OrderPipelineOptions = {},
): Topology {
  const o = compilePipelineOptions(options);
  const key = Serdes.string();
  const b = new TopologyBuilder(APP_ID);
  b.store(StoreNames.seenOrders, Stores.keyValue(key, Serdes.number(), { ttlMs: o.dedupeRetentionMs }));
  b.store(StoreNames.stock, Stores.keyValue(key, Serdes.number()));
  const statusSink = (stream: KStream<string, unknown>, name: string) =>
    narrow<OrderStatus>(stream)
      .process(`count-${name}`, countStatuses())
      .to(Topics.orderStatus, { key, value: Serdes.json<OrderStatus>(), name });

  // 0: validation
  const validation = b
    .stream(Topics.orders, {
      key,
      value: Serdes.json<unknown>(),
      topicConfig: { ...TOPIC_CONFIGS[Topics.orders] },
    })
    .process(
      "dedupe-orders",
      dedupeOrders({ seenStore: StoreNames.seenOrders, lateAfterMs: o.joinGraceMs }),
      {
        stores: [StoreNames.seenOrders],
      },
    )
    .mapValues("validate-orders", (value, r) => validateOrder(r.key, value))
    .branch("validation", {
      rejected: (r: StreamRecord<string, ValidationOutput>) => isOrderStatus(r.value),
      valid: () => true,
    });
  statusSink(validation.rejected, "validation-status");
  // The risk check: one call to the risk service per valid order, overlapping (processAsync), exactly-once.
  const risk = narrow<ValidatedOrder>(validation.valid)
    .processAsync("risk-check", riskCheck(settings.riskUrl), RISK_CHECK_OPTIONS)
    .branch("risk", {
      rejected: (r: StreamRecord<string, RiskCheckOutput>) => isOrderStatus(r.value),
      passed: () => true,
    });
  statusSink(risk.rejected, "risk-status");
  risk.passed.to(Topics.ordersValidated, { key, value: Serdes.json<RiskCheckOutput>() });

  // 1: payment join, the first decision per order
  const payments = b.stream(Topics.payments, {
    key,
    value: Serdes.json(PaymentSchema),
    topicConfig: { ...TOPIC_CONFIGS[Topics.payments] },
  });
  const decided = b
    .stream(Topics.ordersValidated, { key, value: Serdes.json<ValidatedOrder>() })
    .leftJoin(
      StoreNames.paymentJoin,
      payments,
      (order, payment): OrderPayment => ({ order, payment }),
      JoinWindows.ofTimeDifferenceAndGrace(o.joinWindowMs, o.joinGraceMs).closeOnPartnerTime(
        o.joinRetentionMs,
      ),
    )
    .mapValues("decide-payment", (pair, r) => decidePayment(pair, r.timestamp))
    .groupByKey("payment-results", { value: Serdes.json<JoinOutput>() })
    .aggregate(StoreNames.paymentDecisions, firstDecision, {
      value: Serdes.json<FirstDecision | null>(),
      ttlMs: o.joinRetentionMs,
    })
    .toStream("payment-decided")
    .flatMapValues("first-decision", (first) => (first?.results === 1 ? [first.decision] : []))
    .branch("payment", {
      rejected: (r: StreamRecord<string, JoinOutput>) => isOrderStatus(r.value),
      paid: () => true,
    });
  statusSink(decided.rejected, "payment-status");
  decided.paid.to(Topics.ordersPaid, { key, value: Serdes.json<JoinOutput>() });
  const requests = narrow<PaidOrder>(decided.paid)
    .flatMap("split-lines", splitLines)
    .repartition("stock-requests", { key, value: Serdes.json<StockCommand>() });

  // 2: stock per sku (requests, releases and restocks meet in the task owning the sku)
  const restocks = b
    .stream(Topics.restocks, { key, value: Serdes.json(RestockSchema) })
    .mapValues("restock-commands", restockCommand);
  const stock = requests
    .merge("stock-commands", restocks)
    .process("reserve-stock", reserveStock({ stockStore: StoreNames.stock }), { stores: [StoreNames.stock] })
    .branch("stock", {
      levels: (r: StreamRecord<string, ReserveOutput>) => isStockLevel(r.value),
      results: (r: StreamRecord<string, ReserveOutput>) => isStockResult(r.value),
    });
  stock.levels.to(Topics.stockLevels, {
    key,
    value: Serdes.json<ReserveOutput>(),
    topicConfig: TOPIC_CONFIGS[Topics.stockLevels],
  });

  // 3: per-order aggregate of the line answers; compensation loops back to the stock requests
  const outcome = narrow<StockResult>(stock.results)
    .repartition("stock-results", { key, value: Serdes.json<StockResult>() })
    .groupByKey("results-by-order")
    .aggregate(StoreNames.reservations, lineAnswers, {
      value: Serdes.json<StockResult[]>(),
      ttlMs: o.joinRetentionMs,
    })
    .toStream("reservation-answers")
    .flatMap("decide-reservation", (r) => decideReservation(r.key, r.value))
    .branch("reservation", {
      status: (r: StreamRecord<string, AggregateOutput>) => isOrderStatus(r.value),
      release: () => true,
    });
  statusSink(outcome.status, "stock-status");
  outcome.release.to(Topics.stockRequests, {
    key,
    value: Serdes.json<AggregateOutput>(),
    name: "release-stock",
    feedback: true,
  });
  return b.build();
}

/** The type a branch predicate guarantees (`isOrderStatus` false -> the other member of the union). */
function narrow<V>(stream: KStream<string, unknown>): KStream<string, V> {
  return stream as KStream<string, V>;
}
