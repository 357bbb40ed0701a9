/**
 * The order pipeline: order validation -> payment join -> stock reservation, with exactly one final status per
 * order on `order-status`.
 *
 *   sub-topology 0  orders -> validate-orders -> orders-validated | order-status (REJECTED_INVALID)
 *   sub-topology 1  orders-validated + payments -> payment-join -> orders-paid | order-status (REJECTED_PAYMENT)
 *                   orders-paid lines -> <app>-stock-requests-repartition (key sku)
 *   sub-topology 2  stock-requests + restocks -> reserve-stock -> stock-levels | <app>-stock-results-repartition
 *   sub-topology 3  stock-results -> aggregate-reservations -> order-status (CONFIRMED | REJECTED_STOCK)
 *                   | release commands back to stock-requests (feedback: the compensation loop)
 */
import {
  type KStream,
  Serdes,
  Stores,
  TopologyBuilder,
  deadLetterTopic,
  repartitionTopic,
  type StreamRecord,
  type Topology,
} from "../topology/index.js";
import { aggregateReservations, type AggregateOutput } from "./aggregate-reservations.js";
import {
  PaymentSchema,
  RestockSchema,
  isOrderStatus,
  isStockLevel,
  type PaidOrder,
  type StockCommand,
  type StockResult,
  type ValidatedOrder,
} from "./orders.js";
import { paymentJoin, tagOrders, tagPayments, type JoinOutput } from "./payment-join.js";
import { isStockResult, reserveStock, type ReserveOutput } from "./reserve-stock.js";
import { restockCommands, splitLines } from "./split-lines.js";
import { validateOrders, type ValidationOutput } from "./validate-orders.js";

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

/** Topic configs the application expects for the topics it does not create itself. */
export const TOPIC_CONFIGS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  [Topics.stockLevels]: { "cleanup.policy": "compact" },
};

export interface OrderPipelineOptions {
  /** Payment join window: a payment matches an order when |payment time - order time| <= window. @default 30000 */
  joinWindowMs?: number;
  /** Extra event time after the window before an unpaid order times out. @default 5000 */
  joinGraceMs?: number;
  /** Stream-time punctuation interval of the join's timeout check. @default 1000 */
  joinPunctuateIntervalMs?: number;
  /** How long unmatched orders/payments are kept (event time); far above any skew between inputs. @default 1 day */
  joinRetentionMs?: number;
  /** How long an orderId is remembered for duplicate detection (event time). @default 1 hour */
  dedupeRetentionMs?: number;
}

export interface CompiledOrderPipelineOptions {
  readonly joinWindowMs: number;
  readonly joinGraceMs: number;
  readonly joinPunctuateIntervalMs: number;
  readonly joinRetentionMs: number;
  readonly dedupeRetentionMs: number;
}

export const DEFAULT_PIPELINE_OPTIONS: CompiledOrderPipelineOptions = Object.freeze({
  joinWindowMs: 30_000,
  joinGraceMs: 5_000,
  joinPunctuateIntervalMs: 1_000,
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
  seenOrders: "seen-orders",
  pendingOrders: "pending-orders",
  pendingPayments: "pending-payments",
  joinClock: "join-clock",
  stock: "stock",
  reservations: "reservations",
} as const;

/**
 * Build the order pipeline. `settings.partitions` is accepted for the CLI's contract; partition counts come from
 * the input topics (the sources of a sub-topology must be co-partitioned).
 */
export function createTopology(
  _settings: { partitions: number },
  options: OrderPipelineOptions = {},
): Topology {
  const o = compilePipelineOptions(options);
  const key = Serdes.string();
  const b = new TopologyBuilder(APP_ID);
  b.store(StoreNames.seenOrders, Stores.window(key, Serdes.number(), { retentionMs: o.dedupeRetentionMs }));
  b.store(
    StoreNames.pendingOrders,
    Stores.window(key, Serdes.json<ValidatedOrder>(), { retentionMs: o.joinRetentionMs }),
  );
  b.store(
    StoreNames.pendingPayments,
    Stores.window(key, Serdes.json(PaymentSchema), { retentionMs: o.joinRetentionMs }),
  );
  b.store(StoreNames.joinClock, Stores.keyValue(key, Serdes.number()));
  b.store(StoreNames.stock, Stores.keyValue(key, Serdes.number()));
  b.store(StoreNames.reservations, Stores.keyValue(key, Serdes.json<StockResult[]>()));

  // 0: validation
  const validation = b
    .stream(Topics.orders, { key, value: Serdes.json<unknown>() })
    .process(
      "validate-orders",
      validateOrders({ seenStore: StoreNames.seenOrders, dedupeRetentionMs: o.dedupeRetentionMs }),
      { stores: [StoreNames.seenOrders] },
    )
    .branch("validation", {
      rejected: (r: StreamRecord<string, ValidationOutput>) => isOrderStatus(r.value),
      valid: () => true,
    });
  validation.rejected.to(Topics.orderStatus, {
    key,
    value: Serdes.json<ValidationOutput>(),
    name: "validation-status",
  });
  validation.valid.to(Topics.ordersValidated, { key, value: Serdes.json<ValidationOutput>() });

  // 1: payment join
  const orders = b
    .stream(Topics.ordersValidated, { key, value: Serdes.json<ValidatedOrder>() })
    .process("tag-orders", tagOrders());
  const payments = b
    .stream(Topics.payments, { key, value: Serdes.json(PaymentSchema) })
    .process("tag-payments", tagPayments());
  const joined = orders
    .merge("join-inputs", payments)
    .process(
      "payment-join",
      paymentJoin({
        ordersStore: StoreNames.pendingOrders,
        paymentsStore: StoreNames.pendingPayments,
        clockStore: StoreNames.joinClock,
        windowMs: o.joinWindowMs,
        graceMs: o.joinGraceMs,
        punctuateIntervalMs: o.joinPunctuateIntervalMs,
        retentionMs: o.joinRetentionMs,
      }),
      { stores: [StoreNames.pendingOrders, StoreNames.pendingPayments, StoreNames.joinClock] },
    )
    .branch("payment", {
      rejected: (r: StreamRecord<string, JoinOutput>) => isOrderStatus(r.value),
      paid: () => true,
    });
  joined.rejected.to(Topics.orderStatus, { key, value: Serdes.json<JoinOutput>(), name: "payment-status" });
  joined.paid.to(Topics.ordersPaid, { key, value: Serdes.json<JoinOutput>() });
  const requests = narrow<PaidOrder>(joined.paid)
    .process("split-lines", splitLines())
    .repartition("stock-requests", { key, value: Serdes.json<StockCommand>() });

  // 2: stock per sku (requests, releases and restocks meet in the task owning the sku)
  const restocks = b
    .stream(Topics.restocks, { key, value: Serdes.json(RestockSchema) })
    .process("restock-commands", restockCommands());
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

  // 3: per-order aggregation of the line results; compensation loops back to the stock requests
  const decided = narrow<StockResult>(stock.results)
    .repartition("stock-results", { key, value: Serdes.json<StockResult>() })
    .process(
      "aggregate-reservations",
      aggregateReservations({ reservationsStore: StoreNames.reservations }),
      {
        stores: [StoreNames.reservations],
      },
    )
    .branch("reservation", {
      status: (r: StreamRecord<string, AggregateOutput>) => isOrderStatus(r.value),
      release: () => true,
    });
  decided.status.to(Topics.orderStatus, { key, value: Serdes.json<AggregateOutput>(), name: "stock-status" });
  decided.release.to(Topics.stockRequests, {
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
