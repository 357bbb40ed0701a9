package dev.weir.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;
import sun.misc.Signal;

/**
 * The Kafka Streams contender of `npm run bench`, following bench/peers/README.md: runs one workload from the
 * earliest offset until SIGTERM (or SIGINT), then closes Kafka Streams cleanly and exits 0. EOS_V2 or at-least-once,
 * one stream thread, persistent (RocksDB, changelogged) stores under {@code --state-dir}.
 *
 * <ul>
 *   <li>{@code count}: the per-key count of {@link CountBench} (processor API, a persistent KeyValueStore): one
 *       output {@code <value>:<n>} per input.
 *   <li>{@code windowed-count}: {@code groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(10 s, 0)).count()} into a
 *       persistent window store, {@code suppress(untilWindowCloses(unbounded()))}: one record per closed window and
 *       key, key {@code <key>@<window start ms>}, value the count.
 *   <li>{@code orders}: weir's order pipeline ({@link Orders}) on the pipeline's own topics ({@code --input orders
 *       --output order-status}), calling the risk service at {@code WEIR_BENCH_RISK_URL}.
 *   <li>{@code join}: {@code stream(input).join(table(--table), (v, row) -> v + "|" + row)}, the table materialized
 *       in a persistent store "table" (changelog {@code <app-id>-table-changelog}). Default {@code max.task.idle.ms}
 *       (0): a task takes the record with the smallest timestamp of its partitions once it knows each partition's
 *       position (KIP-695), so table records older than the stream's are applied first.
 *   <li>{@code restore}: {@code count}, whose changelog {@code <app-id>-counts-changelog} the harness filled before
 *       the start (String keys, Long values, as the store's serdes). A StateRestoreListener notes the first
 *       onRestoreStart and the last onRestoreEnd; when Kafka Streams is RUNNING the first time, one line {@code
 *       restored <records> <ms>} goes to stderr.
 * </ul>
 *
 * <p>Exit status: 0 after a clean close on SIGTERM; 1 when Kafka Streams fails on its own or does not close within
 * 30 s; 2 on bad flags. Kafka Streams' log goes to stderr (slf4j-simple, level warn unless
 * {@code -Dorg.slf4j.simpleLogger.defaultLogLevel} says otherwise); nothing is written to stdout.
 *
 * <p>Flags: {@code --brokers host:port --input TOPIC --output TOPIC --app-id ID --workload count|windowed-count|orders|join|restore
 * --guarantee exactly_once|at_least_once --commit-interval-ms N --state-dir DIR}
 */
public final class Peer {
  static final String USAGE =
      "usage: Peer --brokers host:port --input TOPIC --output TOPIC --app-id ID"
          + " --workload count|windowed-count|orders|join|restore --guarantee exactly_once|at_least_once"
          + " --commit-interval-ms N --state-dir DIR [--table TOPIC (join)]";
  static final List<String> FLAGS =
      List.of(
          "brokers", "input", "output", "app-id", "workload", "guarantee", "commit-interval-ms", "state-dir");
  /** Flags that only some workloads take. */
  static final List<String> OPTIONAL_FLAGS = List.of("table");
  static final Duration WINDOW_SIZE = Duration.ofSeconds(10);
  static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

  public static void main(String[] args) throws Exception {
    // Before the first logger is made: Kafka Streams' INFO log is large and would cost the run CPU.
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null)
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    Map<String, String> flags = parseFlags(args);
    String workload = flags.get("workload");
    String guarantee = flags.get("guarantee");
    if (!guarantee.equals("exactly_once") && !guarantee.equals("at_least_once"))
      usage("--guarantee must be exactly_once or at_least_once, got '" + guarantee + "'");
    long commitIntervalMs = 0;
    try {
      commitIntervalMs = Long.parseLong(flags.get("commit-interval-ms"));
    } catch (NumberFormatException e) {
      usage("--commit-interval-ms needs a whole number of ms, got '" + flags.get("commit-interval-ms") + "'");
    }
    if (commitIntervalMs < 0) usage("--commit-interval-ms must not be negative");
    String input = flags.get("input"), output = flags.get("output");
    Topology topology =
        switch (workload) {
          case "count" -> count(input, output);
          case "windowed-count" -> windowedCount(input, output);
          case "orders" -> orders(flags);
          case "restore" -> count(input, output);
          case "join" -> {
            if (!flags.containsKey("table")) usage("--workload join needs --table");
            yield join(input, flags.get("table"), output);
          }
          default -> {
            usage("--workload must be count, windowed-count, orders, join or restore, got '" + workload + "'");
            yield null;
          }
        };

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, flags.get("app-id"));
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, flags.get("brokers"));
    props.put(
        StreamsConfig.STATE_DIR_CONFIG, Files.createDirectories(Path.of(flags.get("state-dir"))).toString());
    props.put(
        StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
        guarantee.equals("exactly_once") ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    if (workload.equals("orders")) {
      // The left join emits an order without payment (a timeout) when its window closes, checked at most once per
      // this many ms of wall-clock time and only when a record reaches the join: at its default (1 s) the last
      // orders of a finite input, whose windows close on the last payment, would wait for a record that never comes.
      props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);
    }

    KafkaStreams streams = new KafkaStreams(topology, props);
    CountDownLatch stop = new CountDownLatch(1);
    AtomicReference<String> failure = new AtomicReference<>();
    RestoreTimer restore = new RestoreTimer();
    if (workload.equals("restore")) streams.setGlobalStateRestoreListener(restore);
    streams.setStateListener(
        (now, before) -> {
          if (now == KafkaStreams.State.RUNNING && workload.equals("restore")) restore.running();
          if (now == KafkaStreams.State.ERROR) {
            failure.compareAndSet(null, "Kafka Streams went from " + before + " to ERROR");
            stop.countDown();
          }
        });
    streams.setUncaughtExceptionHandler(
        e -> {
          failure.compareAndSet(null, "stream thread failed: " + e);
          e.printStackTrace();
          return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    // SIGTERM / SIGINT: handled here, not by the JVM's shutdown (which would exit 143 whatever the hooks do).
    Signal.handle(new Signal("TERM"), s -> stop.countDown());
    Signal.handle(new Signal("INT"), s -> stop.countDown());

    streams.start();
    stop.await();
    boolean closed = streams.close(CLOSE_TIMEOUT);
    if (failure.get() != null) {
      System.err.println("peer failed: " + failure.get());
      System.exit(1);
    }
    if (!closed) {
      System.err.println("peer failed: Kafka Streams did not close within " + CLOSE_TIMEOUT.toSeconds() + " s");
      System.exit(1);
    }
    System.exit(0);
  }

  /** The per-key count of CountBench: one output {@code <value>:<n>} per input, counts in store "counts". */
  static Topology count(String input, String output) {
    StreamsBuilder builder = new StreamsBuilder();
    builder.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("counts"), Serdes.String(), Serdes.Long()));
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .process(CountBench.Count::new, "counts")
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  /** Inner stream-table join: one output {@code <stream value>|<table value>} per stream record with a row. */
  static Topology join(String input, String table, String output) {
    StreamsBuilder builder = new StreamsBuilder();
    var rows =
        builder.table(
            table,
            Consumed.with(Serdes.String(), Serdes.String()),
            Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("table")
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.String()));
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .join(rows, (value, row) -> value + "|" + row)
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  /**
   * The restore of the {@code restore} workload: first onRestoreStart to last onRestoreEnd (the stream thread restores
   * its tasks' partitions together), and the records restored; written once, when Kafka Streams is first RUNNING.
   */
  static final class RestoreTimer implements StateRestoreListener {
    long firstStartNs = 0;
    long lastEndNs = 0;
    long restored = 0;
    int inFlight = 0;
    boolean running = false;
    boolean reported = false;

    @Override
    public synchronized void onRestoreStart(
        TopicPartition partition, String store, long startOffset, long endOffset) {
      if (firstStartNs == 0) firstStartNs = System.nanoTime();
      inFlight++;
    }

    @Override
    public void onBatchRestored(TopicPartition partition, String store, long batchEndOffset, long numRestored) {}

    @Override
    public synchronized void onRestoreEnd(TopicPartition partition, String store, long totalRestored) {
      restored += totalRestored;
      lastEndNs = System.nanoTime();
      inFlight--;
      maybeReport();
    }

    /** Kafka Streams is RUNNING: report now, or when the restores still in flight end. */
    synchronized void running() {
      running = true;
      maybeReport();
    }

    private void maybeReport() {
      if (reported || !running || inFlight > 0) return;
      reported = true;
      long ms = firstStartNs == 0 ? 0 : (lastEndNs - firstStartNs) / 1_000_000;
      System.err.println("restored " + restored + " " + ms);
      System.err.flush();
    }
  }

  /** Final counts per key and tumbling 10 s window (grace 0): key {@code <key>@<window start ms>}, value the count. */
  static Topology windowedCount(String input, String output) {
    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW_SIZE, Duration.ZERO))
        .count(
            Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("counts")
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.Long()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .map((w, n) -> KeyValue.pair(w.key() + "@" + w.window().start(), String.valueOf(n)))
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  /**
   * weir's order pipeline ({@link Orders}): the topics are the pipeline's own (orders, payments, restocks in;
   * orders-validated, orders-paid, order-status, stock-levels out), so {@code --input} must be {@code orders} and
   * {@code --output} {@code order-status}; the risk service's base URL comes from {@code WEIR_BENCH_RISK_URL}.
   */
  static Topology orders(Map<String, String> flags) {
    if (!flags.get("input").equals(Orders.ORDERS) || !flags.get("output").equals(Orders.ORDER_STATUS))
      usage("--workload orders reads the pipeline's own topics: --input orders --output order-status");
    String riskUrl = System.getenv("WEIR_BENCH_RISK_URL");
    if (riskUrl == null || riskUrl.isEmpty()) usage("--workload orders needs WEIR_BENCH_RISK_URL (the risk service)");
    try {
      Orders.createTopics(flags.get("brokers"), flags.get("app-id"));
    } catch (Exception e) {
      System.err.println("peer failed: cannot create the order pipeline's topics: " + e);
      System.exit(1);
    }
    return Orders.topology(flags.get("app-id"), riskUrl);
  }

  /** {@code --name value} or {@code --name=value}; every flag of the contract is required. */
  static Map<String, String> parseFlags(String[] args) {
    Map<String, String> flags = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--help") || arg.equals("-h")) {
        System.err.println(USAGE);
        System.exit(0);
      }
      if (!arg.startsWith("--")) usage("unexpected argument '" + arg + "'");
      int eq = arg.indexOf('=');
      String name = eq < 0 ? arg.substring(2) : arg.substring(2, eq);
      if (!FLAGS.contains(name) && !OPTIONAL_FLAGS.contains(name)) usage("unknown flag '" + arg + "'");
      String value = eq >= 0 ? arg.substring(eq + 1) : (i + 1 < args.length ? args[++i] : null);
      if (value == null || value.isEmpty()) usage("flag --" + name + " needs a value");
      flags.put(name, value);
    }
    List<String> missing = FLAGS.stream().filter(f -> !flags.containsKey(f)).toList();
    if (!missing.isEmpty()) usage("missing flags: --" + String.join(", --", missing));
    return flags;
  }

  static void usage(String message) {
    System.err.println(message);
    System.err.println(USAGE);
    System.exit(2);
  }
}
