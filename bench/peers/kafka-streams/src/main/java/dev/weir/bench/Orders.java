package dev.weir.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;

/**
 * weir's order pipeline (processors/app.ts) in Kafka Streams 4.4, for the {@code orders} workload of {@code npm run
 * bench}: the same topics, the same JSON on them, the same rules, so that its {@code order-status},
 * {@code stock-levels} and dead letters pass weir's verifier (processors/workload.ts {@code verifyWorkload}).
 *
 * <pre>
 * orders --parse (bad JSON, broken clock: dead letter)--> dedupe (window store, 1 h) --> validate --> risk check
 *   (a synchronous HTTP call to the risk service per valid order) --> orders-validated
 *                                                                  | order-status (REJECTED_INVALID, REJECTED_RISK)
 *   valid orders leftJoin payments (JoinWindows 30 s, grace 5 s) --> first decision per order (KeyValueStore)
 *                                                                  --> orders-paid | order-status (REJECTED_PAYMENT)
 *   paid orders' lines, keyed by sku --> &lt;app-id&gt;-stock-commands
 * &lt;app-id&gt;-stock-commands + restocks --> reserve-stock (Processor + KeyValueStore "stock") --> stock-levels
 *   | results keyed by orderId --> (repartition) groupByKey().aggregate("reservations") --> order-status (CONFIRMED,
 *   REJECTED_STOCK) | release commands back to &lt;app-id&gt;-stock-commands (the compensation loop)
 * </pre>
 *
 * <p>Differences from weir's topology, each what a Kafka Streams user writes:
 *
 * <ul>
 *   <li>The risk check is a blocking call inside the processor (Kafka Streams has no asynchronous processor), so the
 *       validated orders join the payments in the same sub-topology: no read back from {@code orders-validated},
 *       which is still written. Orders and payments are co-partitioned sources of one task, processed in timestamp
 *       order (max.task.idle.ms 0 waits for data already on the broker), which is what makes the join's outcome
 *       independent of how the two inputs interleave (weir gets that from {@code closeOnPartnerTime}).
 *   <li>The feedback loop (release commands) cannot be drawn in the DSL: paid lines and releases are written to a
 *       topic {@code <app-id>-stock-commands} that this peer creates, and read back from it.
 *   <li>Dead letters: the sources read bytes and parse them in the first processor; what does not parse, or carries
 *       a timestamp more than 1 h ahead of the wall clock (weir's {@code maxFutureSkewMs}), goes to
 *       {@code <app-id>-dlq} with weir's {@code weir.source.topic} header. A timestamp extractor gives such a record
 *       its partition's time, so that it moves neither stream time nor the order in which records are picked.
 * </ul>
 */
final class Orders {
  static final String ORDERS = "orders";
  static final String PAYMENTS = "payments";
  static final String RESTOCKS = "restocks";
  static final String ORDERS_VALIDATED = "orders-validated";
  static final String ORDERS_PAID = "orders-paid";
  static final String ORDER_STATUS = "order-status";
  static final String STOCK_LEVELS = "stock-levels";
  static final Duration JOIN_WINDOW = Duration.ofSeconds(30);
  static final Duration JOIN_GRACE = Duration.ofSeconds(5);
  static final Duration DEDUPE_RETENTION = Duration.ofHours(1);
  static final long MAX_FUTURE_SKEW_MS = 3_600_000L;
  static final double RISK_THRESHOLD = 0.9;
  static final List<String> CURRENCIES = List.of("EUR", "USD", "GBP");
  /** weir's dead-letter header naming the input topic (topology/dead-letter.ts, DeadLetterHeader.topic). */
  static final String SOURCE_TOPIC_HEADER = "weir.source.topic";
  /** Set by {@link SkewGuard} on a record whose timestamp is too far ahead; the parser dead-letters it. */
  static final String FUTURE_HEADER = "weir-bench.future-timestamp";

  static final ObjectMapper JSON = new ObjectMapper();
  static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  static String stockCommands(String appId) {
    return appId + "-stock-commands";
  }

  static String deadLetters(String appId) {
    return appId + "-dlq";
  }

  /** Creates the topics this peer writes and reads back that Kafka Streams does not create itself. */
  static void createTopics(String brokers, String appId) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    try (Admin admin = Admin.create(props)) {
      int partitions =
          admin.describeTopics(Set.of(ORDERS)).allTopicNames().get().get(ORDERS).partitions().size();
      for (NewTopic t :
          List.of(
              new NewTopic(stockCommands(appId), partitions, (short) 1),
              new NewTopic(deadLetters(appId), 1, (short) 1))) {
        try {
          admin.createTopics(List.of(t)).all().get();
        } catch (java.util.concurrent.ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) throw e;
        }
      }
    }
  }

  static Topology topology(String appId, String riskUrl) {
    Serde<String> key = Serdes.String();
    Serde<JsonNode> json = new JsonSerde();
    Serde<byte[]> bytes = Serdes.ByteArray();
    String dlq = deadLetters(appId);
    String commands = stockCommands(appId);
    Produced<String, JsonNode> asJson = Produced.with(key, json);
    StreamsBuilder builder = new StreamsBuilder();
    builder.addStateStore(
        Stores.windowStoreBuilder(
            Stores.persistentWindowStore("seen-orders", DEDUPE_RETENTION, DEDUPE_RETENTION, false), key, Serdes.Long()));
    builder.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("payment-decisions"), key, Serdes.String()));
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("stock"), key, Serdes.Long()));

    // 0: parse, dedupe, validate, risk check
    Map<String, KStream<String, Parsed>> orders =
        builder.stream(ORDERS, Consumed.with(key, bytes).withTimestampExtractor(new SkewGuard()))
            .processValues(Parse::new, Named.as("parse-orders"))
            .split(Named.as("orders-"))
            .branch((k, p) -> p.json == null, Branched.as("dead"))
            .defaultBranch(Branched.as("ok"));
    orders.get("orders-dead").mapValues(p -> p.raw).to(dlq, Produced.with(key, bytes));
    Map<String, KStream<String, JsonNode>> validation =
        orders.get("orders-ok")
            .mapValues(p -> p.json)
            .processValues(Dedupe::new, Named.as("dedupe-orders"), "seen-orders")
            .processValues(Validate::new, Named.as("validate-orders"))
            .split(Named.as("validation-"))
            .branch((k, v) -> v.has("status"), Branched.as("rejected"))
            .defaultBranch(Branched.as("valid"));
    validation.get("validation-rejected").to(ORDER_STATUS, asJson);
    Map<String, KStream<String, JsonNode>> risk =
        validation.get("validation-valid")
            .processValues(() -> new RiskCheck(riskUrl), Named.as("risk-check"))
            .split(Named.as("risk-"))
            .branch((k, v) -> v.has("status"), Branched.as("rejected"))
            .defaultBranch(Branched.as("passed"));
    risk.get("risk-rejected").to(ORDER_STATUS, asJson);
    KStream<String, JsonNode> validated = risk.get("risk-passed");
    validated.to(ORDERS_VALIDATED, asJson);

    // 1: payment join, the first decision per order
    Map<String, KStream<String, Parsed>> payments =
        builder.stream(PAYMENTS, Consumed.with(key, bytes).withTimestampExtractor(new SkewGuard()))
            .processValues(Parse::new, Named.as("parse-payments"))
            .split(Named.as("payments-"))
            .branch((k, p) -> p.json == null, Branched.as("dead"))
            .defaultBranch(Branched.as("ok"));
    payments.get("payments-dead").mapValues(p -> p.raw).to(dlq, Produced.with(key, bytes));
    Map<String, KStream<String, JsonNode>> decided =
        validated
            .leftJoin(
                payments.get("payments-ok").mapValues(p -> p.json),
                (order, payment) -> {
                  ObjectNode pair = NODES.objectNode();
                  pair.set("order", order);
                  pair.set("payment", payment == null ? NODES.nullNode() : payment);
                  return (JsonNode) pair;
                },
                JoinWindows.ofTimeDifferenceAndGrace(JOIN_WINDOW, JOIN_GRACE),
                StreamJoined.with(key, json, json).withStoreName("payment-join"))
            .processValues(DecidePayment::new, Named.as("decide-payment"), "payment-decisions")
            .split(Named.as("payment-"))
            .branch((k, v) -> v.has("status"), Branched.as("rejected"))
            .defaultBranch(Branched.as("paid"));
    decided.get("payment-rejected").to(ORDER_STATUS, asJson);
    KStream<String, JsonNode> paid = decided.get("payment-paid");
    paid.to(ORDERS_PAID, asJson);
    paid.flatMap(Orders::splitLines, Named.as("split-lines")).to(commands, asJson);

    // 2: stock per sku: requests, releases and restocks
    KStream<String, JsonNode> restocks =
        builder.stream(RESTOCKS, Consumed.with(key, json))
            .mapValues(
                (sku, restock) -> {
                  ObjectNode c = NODES.objectNode();
                  c.put("type", "restock");
                  c.put("sku", sku);
                  c.put("qty", restock.get("qty").asLong());
                  return (JsonNode) c;
                });
    Map<String, KStream<String, JsonNode>> stock =
        builder.stream(commands, Consumed.with(key, json))
            .merge(restocks, Named.as("stock-commands"))
            .process(ReserveStock::new, Named.as("reserve-stock"), "stock")
            .split(Named.as("stock-"))
            .branch((k, v) -> v.has("level"), Branched.as("levels"))
            .defaultBranch(Branched.as("results"));
    stock.get("stock-levels").to(STOCK_LEVELS, asJson);

    // 3: per-order aggregate of the line answers (repartitioned by orderId); releases loop back
    Map<String, KStream<String, JsonNode>> outcome =
        stock.get("stock-results")
            .groupByKey(Grouped.with("stock-results", key, json))
            .aggregate(
                NODES::arrayNode,
                (orderId, result, answers) -> lineAnswers(result, answers),
                Named.as("reservations"),
                Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("reservations")
                    .withKeySerde(key)
                    .withValueSerde(json))
            .toStream()
            .flatMap(Orders::decideReservation, Named.as("decide-reservation"))
            .split(Named.as("reservation-"))
            .branch((k, v) -> v.has("status"), Branched.as("status"))
            .defaultBranch(Branched.as("release"));
    outcome.get("reservation-status").to(ORDER_STATUS, asJson);
    outcome.get("reservation-release").to(commands, asJson);
    return builder.build();
  }

  // ---- sources -------------------------------------------------------------------------------------------------

  /** A source record after parsing: its JSON, or (json null) the raw bytes for the dead-letter topic. */
  static final class Parsed {
    final JsonNode json;
    final byte[] raw;

    Parsed(JsonNode json, byte[] raw) {
      this.json = json;
      this.raw = raw;
    }
  }

  /**
   * Keeps records with a broken clock (more than {@link #MAX_FUTURE_SKEW_MS} ahead of the wall clock) from moving
   * stream time: they get their partition's time and a header, and {@link Parse} dead-letters them.
   */
  static final class SkewGuard implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      long ts = record.timestamp();
      if (ts > System.currentTimeMillis() + MAX_FUTURE_SKEW_MS) {
        record.headers().add(FUTURE_HEADER, Long.toString(ts).getBytes(StandardCharsets.UTF_8));
        return Math.max(partitionTime, 0);
      }
      return ts;
    }
  }

  /** JSON (a payment must match weir's PaymentSchema), or a dead letter carrying the source topic. */
  static final class Parse implements FixedKeyProcessor<String, byte[], Parsed> {
    private FixedKeyProcessorContext<String, Parsed> context;

    @Override
    public void init(FixedKeyProcessorContext<String, Parsed> context) {
      this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<String, byte[]> record) {
      String topic = context.recordMetadata().map(m -> m.topic()).orElse("");
      JsonNode json = null;
      if (record.headers().lastHeader(FUTURE_HEADER) == null && record.value() != null) {
        try {
          json = JSON.readTree(record.value());
          if (json == null || json.isMissingNode()) json = null;
          else if (topic.equals(PAYMENTS) && !isPayment(json)) json = null;
        } catch (Exception e) {
          json = null;
        }
      }
      if (json == null) {
        record.headers().remove(FUTURE_HEADER);
        record.headers().add(SOURCE_TOPIC_HEADER, topic.getBytes(StandardCharsets.UTF_8));
      }
      context.forward(record.withValue(new Parsed(json, record.value())));
    }
  }

  static boolean isPayment(JsonNode p) {
    if (!p.isObject()) return false;
    JsonNode id = p.get("paymentId"), amount = p.get("amount"), currency = p.get("currency");
    JsonNode status = p.get("status");
    return id != null && id.isTextual() && !id.asText().isEmpty() && amount != null && amount.isNumber()
        && currency != null && currency.isTextual() && status != null
        && (status.asText().equals("authorized") || status.asText().equals("declined")) && status.isTextual();
  }

  // ---- 0: dedupe, validation, risk -----------------------------------------------------------------------------

  /**
   * The first record of each orderId passes; a later one within the store's retention is dropped (Kafka Streams'
   * deduplication example: a window store whose retention is the time to remember). An order further behind
   * stream time than the join's grace is REJECTED_INVALID "late" (the join would drop it).
   */
  static final class Dedupe implements FixedKeyProcessor<String, JsonNode, JsonNode> {
    private FixedKeyProcessorContext<String, JsonNode> context;
    private WindowStore<String, Long> seen;

    @Override
    public void init(FixedKeyProcessorContext<String, JsonNode> context) {
      this.context = context;
      this.seen = context.getStateStore("seen-orders");
    }

    @Override
    public void process(FixedKeyRecord<String, JsonNode> record) {
      String orderId = record.key();
      if (orderId == null || orderId.isEmpty())
        throw new IllegalStateException("an order record needs its orderId as key");
      long ts = record.timestamp();
      try (WindowStoreIterator<Long> it =
          seen.fetch(orderId, ts - DEDUPE_RETENTION.toMillis(), ts + DEDUPE_RETENTION.toMillis())) {
        if (it.hasNext()) return;
      }
      seen.put(orderId, context.recordMetadata().map(m -> m.offset()).orElse(-1L), ts);
      long behind = context.currentStreamTimeMs() - ts;
      if (behind > JOIN_GRACE.toMillis()) {
        context.forward(
            record.withValue(
                rejectedInvalid(
                    orderId,
                    "late",
                    "created " + behind + " ms before the latest order of its partition; the payment join accepts "
                        + JOIN_GRACE.toMillis() + " ms")));
        return;
      }
      context.forward(record);
    }
  }

  static ObjectNode rejectedInvalid(String orderId, String reason, String detail) {
    ObjectNode s = NODES.objectNode();
    s.put("orderId", orderId);
    s.put("status", "REJECTED_INVALID");
    s.put("reason", reason);
    s.put("detail", detail);
    return s;
  }

  /** processors/orders.ts checkOrder: the validated order, or REJECTED_INVALID with the first rule broken. */
  static final class Validate implements FixedKeyProcessor<String, JsonNode, JsonNode> {
    private FixedKeyProcessorContext<String, JsonNode> context;

    @Override
    public void init(FixedKeyProcessorContext<String, JsonNode> context) {
      this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<String, JsonNode> record) {
      if (record.value().has("status")) context.forward(record); // already decided (late)
      else context.forward(record.withValue(validate(record.key(), record.value())));
    }
  }

  static long toCents(double amount) {
    return Math.round(amount * 100);
  }

  static boolean isFiniteNumber(JsonNode n) {
    return n != null && n.isNumber() && Double.isFinite(n.asDouble());
  }

  static JsonNode validate(String orderId, JsonNode v) {
    if (v == null || !v.isObject()) return rejectedInvalid(orderId, "malformed", "an order is a JSON object");
    JsonNode customerId = v.get("customerId"), lines = v.get("lines"), total = v.get("total");
    JsonNode currency = v.get("currency"), createdAt = v.get("createdAt");
    if (customerId == null || !customerId.isTextual() || customerId.asText().isEmpty())
      return rejectedInvalid(orderId, "malformed", "customerId must be a non-empty string");
    if (lines == null || !lines.isArray()) return rejectedInvalid(orderId, "malformed", "lines must be an array");
    if (!isFiniteNumber(total)) return rejectedInvalid(orderId, "malformed", "total must be a number");
    if (currency == null || !currency.isTextual())
      return rejectedInvalid(orderId, "malformed", "currency must be a string");
    if (!isFiniteNumber(createdAt))
      return rejectedInvalid(orderId, "malformed", "createdAt must be a number (ms)");
    for (int i = 0; i < lines.size(); i++) {
      JsonNode line = lines.get(i);
      JsonNode sku = line.get("sku");
      if (!line.isObject() || sku == null || !sku.isTextual() || sku.asText().isEmpty())
        return rejectedInvalid(orderId, "malformed", "line " + i + ": sku must be a non-empty string");
      JsonNode qty = line.get("qty"), price = line.get("unitPrice");
      if (qty == null || !qty.isNumber() || !isFiniteNumber(price))
        return rejectedInvalid(orderId, "malformed", "line " + i + ": qty and unitPrice must be numbers");
    }
    if (lines.isEmpty()) return rejectedInvalid(orderId, "empty-lines", "an order needs at least one line");
    for (int i = 0; i < lines.size(); i++) {
      double qty = lines.get(i).get("qty").asDouble();
      if (qty != Math.floor(qty) || Double.isInfinite(qty) || qty <= 0)
        return rejectedInvalid(
            orderId, "bad-quantity", "line " + i + ": qty " + lines.get(i).get("qty").asText() + " is not an integer > 0");
    }
    for (int i = 0; i < lines.size(); i++)
      if (lines.get(i).get("unitPrice").asDouble() < 0)
        return rejectedInvalid(
            orderId, "negative-price", "line " + i + ": unitPrice " + lines.get(i).get("unitPrice").asText() + " < 0");
    long sumCents = 0;
    for (JsonNode line : lines) sumCents += line.get("qty").asLong() * toCents(line.get("unitPrice").asDouble());
    if (sumCents != toCents(total.asDouble()))
      return rejectedInvalid(
          orderId,
          "total-mismatch",
          "total " + total.asText() + " differs from the sum of lines " + String.format("%.2f", sumCents / 100.0));
    if (!CURRENCIES.contains(currency.asText()))
      return rejectedInvalid(
          orderId, "unsupported-currency", "currency " + currency.asText() + " is not supported");
    ObjectNode order = NODES.objectNode();
    order.put("orderId", orderId);
    order.set("customerId", customerId);
    ArrayNode typed = order.putArray("lines");
    for (JsonNode line : lines) {
      ObjectNode l = typed.addObject();
      l.set("sku", line.get("sku"));
      l.set("qty", line.get("qty"));
      l.set("unitPrice", line.get("unitPrice"));
    }
    order.set("total", total);
    order.put("totalCents", sumCents);
    order.set("currency", currency);
    order.set("createdAt", createdAt);
    return order;
  }

  /**
   * The risk check: {@code GET <url>/risk?customer=&amount=} per valid order, blocking the stream thread (what a
   * Kafka Streams user writes), 2 s per call, 8 attempts with back-off from 50 ms (weir's RISK_CHECK_OPTIONS).
   */
  static final class RiskCheck implements FixedKeyProcessor<String, JsonNode, JsonNode> {
    private final String base;
    private final HttpClient http =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
    private FixedKeyProcessorContext<String, JsonNode> context;

    RiskCheck(String riskUrl) {
      this.base = riskUrl.replaceAll("/+$", "");
    }

    @Override
    public void init(FixedKeyProcessorContext<String, JsonNode> context) {
      this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<String, JsonNode> record) {
      JsonNode order = record.value();
      double score = score(order);
      if (score >= RISK_THRESHOLD) {
        ObjectNode s = NODES.objectNode();
        s.put("orderId", order.get("orderId").asText());
        s.put("status", "REJECTED_RISK");
        s.put("reason", "high-risk");
        s.put("score", score);
        context.forward(record.withValue(s));
      } else context.forward(record);
    }

    private double score(JsonNode order) {
      URI uri =
          URI.create(
              base
                  + "/risk?customer="
                  + URLEncoder.encode(order.get("customerId").asText(), StandardCharsets.UTF_8)
                  + "&amount="
                  + URLEncoder.encode(order.get("total").asText(), StandardCharsets.UTF_8));
      HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).GET().build();
      Exception last = null;
      long backoff = 50;
      for (int attempt = 1; attempt <= 8; attempt++) {
        try {
          HttpResponse<byte[]> res = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
          if (res.statusCode() == 200) {
            JsonNode score = JSON.readTree(res.body()).get("score");
            if (score != null && score.isNumber()) return score.asDouble();
          }
          last = new IllegalStateException("risk service answered " + res.statusCode() + " for " + uri);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted calling the risk service", e);
        } catch (Exception e) {
          last = e;
        }
        if (attempt < 8) {
          try {
            Thread.sleep(backoff);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted calling the risk service", e);
          }
          backoff *= 2;
        }
      }
      throw new IllegalStateException("risk check failed after 8 attempts", last);
    }
  }

  // ---- 1: payment decision ------------------------------------------------------------------------------------

  /**
   * processors/payment-join.ts decidePayment and firstDecision: the first join result of an order decides (a
   * KeyValueStore remembers the decided orders); later results (a second payment) are dropped.
   */
  static final class DecidePayment implements FixedKeyProcessor<String, JsonNode, JsonNode> {
    private FixedKeyProcessorContext<String, JsonNode> context;
    private KeyValueStore<String, String> decisions;

    @Override
    public void init(FixedKeyProcessorContext<String, JsonNode> context) {
      this.context = context;
      this.decisions = context.getStateStore("payment-decisions");
    }

    @Override
    public void process(FixedKeyRecord<String, JsonNode> record) {
      if (decisions.get(record.key()) != null) return;
      JsonNode decision = decide(record.value(), record.timestamp());
      decisions.put(record.key(), decision.has("status") ? decision.get("status").asText() : "PAID");
      context.forward(record.withValue(decision));
    }
  }

  static JsonNode decide(JsonNode pair, long at) {
    JsonNode order = pair.get("order"), payment = pair.get("payment");
    String reason = null;
    if (payment == null || payment.isNull()) reason = "timeout";
    else if (payment.get("status").asText().equals("declined")) reason = "declined";
    else if (!payment.get("currency").asText().equals(order.get("currency").asText())
        || toCents(payment.get("amount").asDouble()) != order.get("totalCents").asLong())
      reason = "amount-mismatch";
    if (reason != null) {
      ObjectNode s = NODES.objectNode();
      s.put("orderId", order.get("orderId").asText());
      s.put("status", "REJECTED_PAYMENT");
      s.put("reason", reason);
      return s;
    }
    ObjectNode paid = order.deepCopy();
    paid.set("paymentId", payment.get("paymentId"));
    paid.put("paidAt", at);
    return paid;
  }

  /** processors/split-lines.ts: one reserve command per line of a paid order, keyed by sku. */
  static List<KeyValue<String, JsonNode>> splitLines(String orderId, JsonNode paid) {
    JsonNode lines = paid.get("lines");
    List<KeyValue<String, JsonNode>> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      JsonNode line = lines.get(i);
      ObjectNode c = NODES.objectNode();
      c.put("type", "reserve");
      c.put("orderId", orderId);
      c.set("sku", line.get("sku"));
      c.set("qty", line.get("qty"));
      c.put("line", i);
      c.put("lines", lines.size());
      out.add(KeyValue.pair(line.get("sku").asText(), c));
    }
    return out;
  }

  // ---- 2: stock ------------------------------------------------------------------------------------------------

  /**
   * processors/reserve-stock.ts: per sku, a reserve takes its quantity if there is enough (never below zero);
   * restocks and releases add. Every change publishes the level (key sku); every reserve gets one result (key
   * orderId).
   */
  static final class ReserveStock implements Processor<String, JsonNode, String, JsonNode> {
    private ProcessorContext<String, JsonNode> context;
    private KeyValueStore<String, Long> stock;

    @Override
    public void init(ProcessorContext<String, JsonNode> context) {
      this.context = context;
      this.stock = context.getStateStore("stock");
    }

    private void level(Record<String, JsonNode> r, String sku, long value) {
      stock.put(sku, value);
      ObjectNode l = NODES.objectNode();
      l.put("sku", sku);
      l.put("level", value);
      context.forward(r.withKey(sku).withValue(l));
    }

    @Override
    public void process(Record<String, JsonNode> r) {
      JsonNode c = r.value();
      String sku = r.key();
      Long current = stock.get(sku);
      long available = current == null ? 0 : current;
      long qty = c.get("qty").asLong();
      switch (c.get("type").asText()) {
        case "restock", "release" -> level(r, sku, available + qty);
        case "reserve" -> {
          boolean reserved = available >= qty;
          if (reserved) level(r, sku, available - qty);
          ObjectNode result = NODES.objectNode();
          result.set("orderId", c.get("orderId"));
          result.put("sku", sku);
          result.put("qty", qty);
          result.set("line", c.get("line"));
          result.set("lines", c.get("lines"));
          result.put("reserved", reserved);
          context.forward(r.withKey(c.get("orderId").asText()).withValue(result));
        }
        default -> throw new IllegalStateException("unknown stock command " + c);
      }
    }
  }

  // ---- 3: per-order outcome ------------------------------------------------------------------------------------

  /** processors/aggregate-reservations.ts lineAnswers: one answer per line. */
  static JsonNode lineAnswers(JsonNode result, JsonNode answers) {
    ArrayNode next = NODES.arrayNode();
    for (JsonNode a : answers) if (a.get("line").asInt() != result.get("line").asInt()) next.add(a);
    next.add(result);
    return next;
  }

  /** processors/aggregate-reservations.ts decideReservation: the status once every line answered, and releases. */
  static List<KeyValue<String, JsonNode>> decideReservation(String orderId, JsonNode answers) {
    List<KeyValue<String, JsonNode>> out = new ArrayList<>();
    if (answers == null || answers.isEmpty() || answers.size() < answers.get(0).get("lines").asInt()) return out;
    List<JsonNode> byLine = new ArrayList<>();
    answers.forEach(byLine::add);
    byLine.sort((a, b) -> Integer.compare(a.get("line").asInt(), b.get("line").asInt()));
    JsonNode refused = byLine.stream().filter(a -> !a.get("reserved").asBoolean()).findFirst().orElse(null);
    ObjectNode status = NODES.objectNode();
    status.put("orderId", orderId);
    if (refused == null) {
      status.put("status", "CONFIRMED");
      out.add(KeyValue.pair(orderId, status));
      return out;
    }
    status.put("status", "REJECTED_STOCK");
    status.put("reason", "out-of-stock");
    status.set("sku", refused.get("sku"));
    out.add(KeyValue.pair(orderId, status));
    for (JsonNode a : byLine)
      if (a.get("reserved").asBoolean()) {
        ObjectNode release = NODES.objectNode();
        release.put("type", "release");
        release.put("orderId", orderId);
        release.set("sku", a.get("sku"));
        release.set("qty", a.get("qty"));
        out.add(KeyValue.pair(a.get("sku").asText(), release));
      }
    return out;
  }

  /** JSON values (Jackson's tree model). */
  static final class JsonSerde implements Serde<JsonNode> {
    @Override
    public Serializer<JsonNode> serializer() {
      return (topic, node) -> {
        if (node == null) return null;
        try {
          return JSON.writeValueAsBytes(node);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      };
    }

    @Override
    public Deserializer<JsonNode> deserializer() {
      return (topic, data) -> {
        if (data == null) return null;
        try {
          return JSON.readTree(data);
        } catch (Exception e) {
          throw new org.apache.kafka.common.errors.SerializationException(e);
        }
      };
    }
  }
}
