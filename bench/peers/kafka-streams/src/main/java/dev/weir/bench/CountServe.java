package dev.weir.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * The long-running peer of `bench/rebalance.ts`: the per-key count of {@link CountBench} (and of weir's
 * test/apps/count.ts) running until SIGTERM, which closes Kafka Streams cleanly (SIGKILL is a crash). EOS_V2, one
 * stream thread, a persistent (RocksDB, changelogged) store in its own state directory.
 *
 * <p>Every state change is printed on stdout as one JSON line, {"state":"RUNNING"}, so the harness knows when the
 * instance has joined and is processing; Kafka Streams' own log goes to stderr.
 *
 * <p>Arguments: bootstrap input output applicationId stateDir classic|streams [commitIntervalMs] [default|leave]
 *
 * <ul>
 *   <li>{@code classic}: the classic consumer group protocol with Kafka Streams' own assignor; the consumer's
 *       session.timeout.ms 10000 and heartbeat.interval.ms 2000 (weir's classic defaults).
 *   <li>{@code streams}: KIP-1071, Kafka Streams' broker-side rebalance protocol ({@code group.protocol=streams});
 *       the session timeout and heartbeat are the broker's ({@code group.streams.session.timeout.ms} and
 *       {@code group.streams.heartbeat.interval.ms}).
 *   <li>{@code default}: on SIGTERM, {@code KafkaStreams.close(Duration)}: under the classic protocol a dynamic
 *       member then stays in the group until its session times out (Kafka Streams' default); under the streams
 *       protocol it always leaves. {@code leave}: {@code close(CloseOptions ... LEAVE_GROUP)}, which sends LeaveGroup.
 * </ul>
 */
public final class CountServe {
  public static void main(String[] args) throws Exception {
    if (args.length < 6) {
      System.err.println(
          "usage: CountServe bootstrap input output applicationId stateDir classic|streams [commitIntervalMs] [default|leave]");
      System.exit(2);
    }
    String bootstrap = args[0], input = args[1], output = args[2], appId = args[3], stateDir = args[4];
    String protocol = args[5];
    if (!protocol.equals("classic") && !protocol.equals("streams")) {
      System.err.println("group protocol must be classic or streams, got " + protocol);
      System.exit(2);
    }
    long commitIntervalMs = args.length > 6 ? Long.parseLong(args[6]) : 100;
    boolean leaveGroup = args.length > 7 && args[7].equals("leave");

    StreamsBuilder builder = new StreamsBuilder();
    builder.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("counts"), Serdes.String(), Serdes.Long()));
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .process(CountBench.Count::new, "counts")
        .to(output, Produced.with(Serdes.String(), Serdes.String()));

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createDirectories(Path.of(stateDir)).toString());
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
    props.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, protocol);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    if (protocol.equals("classic")) {
      props.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000);
      props.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 2_000);
    }

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    AtomicBoolean closing = new AtomicBoolean(false);
    CountDownLatch closed = new CountDownLatch(1);
    streams.setStateListener(
        (now, before) -> {
          System.out.println("{\"state\":\"" + now + "\",\"previous\":\"" + before + "\"}");
          System.out.flush();
          // Failed on its own (not on SIGTERM): exit non-zero so the harness sees it.
          if (now == KafkaStreams.State.ERROR && !closing.get()) {
            new Thread(() -> System.exit(1)).start();
          }
        });
    streams.setUncaughtExceptionHandler(
        e -> {
          e.printStackTrace();
          return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  closing.set(true);
                  Duration timeout = Duration.ofSeconds(30);
                  boolean done =
                      leaveGroup
                          ? streams.close(
                              CloseOptions.timeout(timeout)
                                  .withGroupMembershipOperation(
                                      CloseOptions.GroupMembershipOperation.LEAVE_GROUP))
                          : streams.close(timeout);
                  System.out.println("{\"closed\":" + done + "}");
                  System.out.flush();
                  closed.countDown();
                },
                "count-serve-shutdown"));
    streams.start();
    closed.await();
  }
}
