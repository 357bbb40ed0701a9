package dev.weir.bench;

import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The per-key count of weir's test/apps/count.ts on Kafka Streams: input (String key, String value) → output
 * (key, value + ":" + running count of the key), one output per input, the counts in a persistent KeyValueStore
 * (RocksDB, changelogged). Exits when the group's committed offsets reach the input's end offsets and prints one
 * JSON line: {"records":..,"seconds":..,"firstRecordSeconds":..}.
 *
 * Arguments: bootstrap input output applicationId exactly_once|at_least_once stateDir [commitIntervalMs]
 */
public final class CountBench {
  static final AtomicLong firstRecordNanos = new AtomicLong(0);

  static final class Count implements Processor<String, String, String, String> {
    private ProcessorContext<String, String> context;
    private KeyValueStore<String, Long> counts;

    @Override
    public void init(ProcessorContext<String, String> context) {
      this.context = context;
      this.counts = context.getStateStore("counts");
    }

    @Override
    public void process(Record<String, String> record) {
      if (firstRecordNanos.get() == 0) firstRecordNanos.compareAndSet(0, System.nanoTime());
      Long previous = counts.get(record.key());
      long n = (previous == null ? 0 : previous) + 1;
      counts.put(record.key(), n);
      context.forward(record.withValue(record.value() + ":" + n));
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 6) {
      System.err.println("usage: CountBench bootstrap input output applicationId exactly_once|at_least_once stateDir [commitIntervalMs]");
      System.exit(2);
    }
    String bootstrap = args[0], input = args[1], output = args[2], appId = args[3], guarantee = args[4], stateDir = args[5];
    boolean eos = guarantee.equals("exactly_once");
    // weir's defaults: 100 ms under exactly-once (as Kafka Streams' own), 1000 ms under at-least-once.
    long commitIntervalMs = args.length > 6 ? Long.parseLong(args[6]) : (eos ? 100 : 1000);

    Properties adminProps = new Properties();
    adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(adminProps)) {
      TopicDescription description = admin.describeTopics(List.of(input)).allTopicNames().get().get(input);
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      description.partitions().forEach(p -> latest.put(new TopicPartition(input, p.partition()), OffsetSpec.latest()));
      Map<TopicPartition, Long> ends = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get()
          .entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
      long records = ends.values().stream().mapToLong(Long::longValue).sum();

      StreamsBuilder builder = new StreamsBuilder();
      builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("counts"), Serdes.String(), Serdes.Long()));
      builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
          .process(Count::new, "counts")
          .to(output, Produced.with(Serdes.String(), Serdes.String()));

      Properties props = new Properties();
      props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
      props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createDirectories(java.nio.file.Path.of(stateDir)).toString());
      props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, eos ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
      props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
      props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
      props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

      long started = System.nanoTime();
      KafkaStreams streams = new KafkaStreams(builder.build(), props);
      streams.setUncaughtExceptionHandler(e -> {
        e.printStackTrace();
        return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      streams.start();
      long deadline = started + Duration.ofMinutes(15).toNanos();
      ListConsumerGroupOffsetsOptions stable = new ListConsumerGroupOffsetsOptions().requireStable(true);
      for (;;) {
        if (System.nanoTime() > deadline) throw new IllegalStateException("timed out waiting for committed offsets");
        if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING)
          throw new IllegalStateException("Kafka Streams stopped: " + streams.state());
        Map<TopicPartition, OffsetAndMetadata> committed;
        try {
          committed = admin.listConsumerGroupOffsets(appId, stable).partitionsToOffsetAndMetadata().get();
        } catch (java.util.concurrent.ExecutionException e) {
          committed = Map.of(); // unstable offsets (a transaction in flight): poll again
        }
        final Map<TopicPartition, OffsetAndMetadata> c = committed;
        boolean done = ends.entrySet().stream().allMatch(e -> c.get(e.getKey()) != null && c.get(e.getKey()).offset() >= e.getValue());
        if (done) break;
        Thread.sleep(100);
      }
      long finished = System.nanoTime();
      double seconds = (finished - started) / 1e9;
      long first = firstRecordNanos.get();
      double firstRecordSeconds = first == 0 ? 0 : (first - started) / 1e9;
      streams.close(Duration.ofSeconds(30));
      System.out.println("{\"records\":" + records + ",\"seconds\":" + seconds + ",\"firstRecordSeconds\":" + firstRecordSeconds + "}");
    }
  }
}
