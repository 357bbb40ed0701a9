#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller) on loopback, or a local cluster of three.
#
#   scripts/broker.sh start    provision jars once (Maven), format storage once, start, wait until it answers metadata
#   scripts/broker.sh start --sasl
#                              the same, plus a SASL_PLAINTEXT listener with SCRAM-SHA-256 on its own port (see below)
#   scripts/broker.sh stop     stop the broker started by this script
#   scripts/broker.sh status   running or not, and whether it answers (and its SASL address, if it has one)
#   scripts/broker.sh address  the PLAINTEXT address; `address --sasl`: the SASL_PLAINTEXT address
#   scripts/broker.sh provision | version | libs
#
# A local cluster (tried with Kafka 4.4.0 only; 3.x is not supported in this mode):
#   scripts/broker.sh start --brokers 3   three nodes, each a combined broker+controller (a 3-voter KRaft quorum with
#                                         a static controller.quorum.voters list), node ids 1..3, one cluster id;
#                                         waits until every node answers and the metadata lists all three brokers
#   scripts/broker.sh stop --node N       SIGTERM node N and wait (SIGKILL after 30 s)
#   scripts/broker.sh kill --node N       SIGKILL node N
#   scripts/broker.sh start --node N      start node N again; waits until it answers and is back in the metadata
#   scripts/broker.sh start | stop | status | address   all nodes (start: the ones not running); address prints the
#                                         comma-separated bootstrap list
#   The run folder (WEIR_HOME/broker-<port>) remembers the layout (its file `nodes`), so later commands need no
#   --brokers; `start --brokers 1` goes back to a single node (the cluster's data is wiped, as is a single node's
#   when a cluster starts in its folder). Ports, with P = WEIR_BROKER_PORT:
#     node N (1..3): client port P+N-1, controller port P+9+N (9092: clients 9092-9094, controllers 9102-9104)
#   WEIR_CONTROLLER_PORT is not used by a cluster (its single-node default, P+1, is node 2's client port). Cluster
#   settings: default.replication.factor=3, min.insync.replicas=2, offsets and transaction state topics with 3
#   replicas and min ISR 2, unclean.leader.election.enable=false; the rest is the single node's configuration.
#   Each node's JVM heap is KAFKA_HEAP_OPTS (default -Xms128m -Xmx512m in a cluster).
#
# Environment:
#   KAFKA_BROKERS          use that cluster instead: start/stop do nothing
#   WEIR_BROKER_VERSION     Apache Kafka version (default 4.4.0). 4.x is provisioned from scripts/broker/pom.xml
#                          and logs through log4j2; 3.x (e.g. 3.9.1) from scripts/broker/pom-kafka3.xml through log4j
#   WEIR_BROKER_PORT       client port            (default 9092)
#   WEIR_CONTROLLER_PORT   KRaft controller port  (default 9093)
#   WEIR_HOME              working folder         (default <repo>/.weir)
#   KAFKA_HEAP_OPTS        JVM heap               (default -Xms256m -Xmx1g)
#   With --sasl (a local development broker only: the user and password are not secrets):
#   WEIR_SASL_PORT         SASL_PLAINTEXT port    (default client port + 2)
#   WEIR_SASL_USER         SCRAM-SHA-256 user     (default weir)
#   WEIR_SASL_PASSWORD     its password           (default weir-local-dev-only)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEIR_HOME=${WEIR_HOME:-$ROOT/.weir}
PORT=${WEIR_BROKER_PORT:-9092}
CPORT=${WEIR_CONTROLLER_PORT:-9093}
KAFKA_VERSION=${WEIR_BROKER_VERSION:-4.4.0}
case "$KAFKA_VERSION" in
  3.*) POM=$ROOT/scripts/broker/pom-kafka3.xml LOGGING=log4j ;;
  *) POM=$ROOT/scripts/broker/pom.xml LOGGING=log4j2 ;;
esac
LIBS=$WEIR_HOME/kafka-$KAFKA_VERSION/libs
RUN=$WEIR_HOME/broker-$PORT
DATA=$RUN/data
LOG=$RUN/broker.log
PIDFILE=$RUN/broker.pid
PROPS=$RUN/server.properties
ADDRESS=127.0.0.1:$PORT

say() { printf 'weir-broker: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ---- SASL/SCRAM (start --sasl) ------------------------------------------------------------------------------------
# A SASL_PLAINTEXT listener with SCRAM-SHA-256 next to the PLAINTEXT one, which stays for inter-broker traffic and
# admin tools. The SCRAM user is created when storage is formatted (KIP-900: StorageTool format --add-scram).
SASL=
SASL_PORT=${WEIR_SASL_PORT:-$((PORT + 2))}
SASL_USER=${WEIR_SASL_USER:-weir}
SASL_PASSWORD=${WEIR_SASL_PASSWORD:-weir-local-dev-only}
SASL_MECHANISM=SCRAM-SHA-256
SASL_ADDRESS=127.0.0.1:$SASL_PORT
# Written at start --sasl: this run directory's broker has the SASL listener (status and address say so).
SASL_MARK=$RUN/sasl
# What the storage was formatted with: the mechanism, the user and a checksum of the password (not the password).
SASL_STAMP=$RUN/scram

sasl_check_ports() {
  case "$SASL_PORT" in '' | *[!0-9]*) die "WEIR_SASL_PORT must be a port number, got '$SASL_PORT'" ;; esac
  [ "$SASL_PORT" != "$PORT" ] && [ "$SASL_PORT" != "$CPORT" ] ||
    die "the SASL port $SASL_PORT is the broker's client or controller port; set WEIR_SASL_PORT to another port"
  case "$SASL_USER" in '' | *[!A-Za-z0-9._-]*) die "WEIR_SASL_USER must be a plain name (letters, digits, . _ -)" ;; esac
  case "$SASL_PASSWORD" in '' | *[],[\"\ ]*) die "WEIR_SASL_PASSWORD must not be empty nor hold commas, brackets, quotes or spaces" ;; esac
}

# What the storage's SCRAM credential must be for this start: mechanism, user, password checksum.
sasl_stamp() { printf '%s %s %s\n' "$SASL_MECHANISM" "$SASL_USER" "$(printf '%s' "$SASL_PASSWORD" | cksum | cut -d' ' -f1)"; }

# Storage formatted without this SCRAM user (or another password) is this local broker's disposable data: wipe it,
# so that it is formatted again with the user.
sasl_storage_check() {
  [ -f "$DATA/meta.properties" ] || return 0
  [ "$(cat "$SASL_STAMP" 2>/dev/null)" = "$(sasl_stamp)" ] && return 0
  say "storage in $DATA was formatted without the SCRAM user $SASL_USER (or with another password); wiping it"
  rm -rf "$DATA"
}

# The StorageTool format arguments that create the SCRAM user.
sasl_format_args() { printf '%s\n' --add-scram "$SASL_MECHANISM=[name=$SASL_USER,password=$SASL_PASSWORD]"; }

# Adds the SASL_PLAINTEXT listener to a broker's properties file (written by write_config).
sasl_configure() {
  local props=$1
  sed -i \
    -e "s|^listeners=.*|&,SASL_PLAINTEXT://$SASL_ADDRESS|" \
    -e "s|^advertised.listeners=.*|&,SASL_PLAINTEXT://$SASL_ADDRESS|" \
    -e "s|^listener.security.protocol.map=.*|&,SASL_PLAINTEXT:SASL_PLAINTEXT|" \
    "$props"
  cat >>"$props" <<PROPS
# SASL_PLAINTEXT with SCRAM-SHA-256 (start --sasl): credentials are the SCRAM users stored in the cluster metadata.
listener.name.sasl_plaintext.sasl.enabled.mechanisms=$SASL_MECHANISM
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
}

# After a start: the SASL listener accepts connections. (Not a SCRAM handshake with kcat: the kcat of Debian 12,
# librdkafka 2.0.2, is refused by Kafka 4.4 with the right password, where librdkafka 2.12 is accepted.)
sasl_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$SASL_PORT") 2>/dev/null; }

# The SASL address of the broker of this run directory, for status and address; nothing if it has no SASL listener.
sasl_address() { [ -f "$SASL_MARK" ] && cat "$SASL_MARK"; }
sasl_status() { if [ -f "$SASL_MARK" ]; then echo ", SASL_PLAINTEXT ($SASL_MECHANISM) on $(cat "$SASL_MARK")"; fi; }
# ---- end of SASL/SCRAM ----------------------------------------------------------------------------------------------

need() {
  command -v java >/dev/null 2>&1 ||
    die "Java 17+ is needed to run the local Kafka broker (Debian: apt-get install openjdk-17-jre-headless). Or set KAFKA_BROKERS=host:port to use an existing cluster."
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ] || die "Java $major found; Kafka $KAFKA_VERSION needs Java 17+."
}

provision() {
  # Provisioned once per version and pom (a changed pom provisions again).
  local stamp
  stamp=$(cksum <"$POM" | cut -d' ' -f1)
  if [ "$(cat "$LIBS/.complete" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  need
  command -v mvn >/dev/null 2>&1 ||
    die "Maven is needed once to fetch Apache Kafka's jars from Maven Central (Debian: apt-get install maven). Or set KAFKA_BROKERS=host:port to use an existing cluster."
  say "provisioning Apache Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (once)"
  rm -rf "$LIBS" && mkdir -p "$LIBS"
  if ! mvn -q -B -f "$POM" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS" -DincludeScope=runtime >"$WEIR_HOME/provision.log" 2>&1; then
    tail -20 "$WEIR_HOME/provision.log" >&2
    die "Maven could not fetch the Kafka jars (full log: $WEIR_HOME/provision.log)."
  fi
  echo "$stamp" >"$LIBS/.complete"
}

write_config() {
  mkdir -p "$DATA"
  cat >"$PROPS" <<PROPS
# Written by scripts/broker.sh: one node, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=1
# A single node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
min.insync.replicas=1
default.replication.factor=1
# Consumer groups form at once: tests and demos should not wait 3 s per group.
group.initial.rebalance.delay.ms=0
# KIP-848 groups (group.protocol=consumer, Kafka 4.x): the session timeout and heartbeat are the broker's. The same
# session timeout as weir's classic default (10 s), a heartbeat at a fifth of it (the broker's defaults: 45 s, 5 s).
group.consumer.session.timeout.ms=10000
group.consumer.min.session.timeout.ms=6000
group.consumer.heartbeat.interval.ms=2000
group.consumer.min.heartbeat.interval.ms=1000
# Kafka Streams' own protocol (KIP-1071, group.protocol=streams) likewise, for the Kafka Streams peer in bench/.
group.streams.session.timeout.ms=10000
group.streams.min.session.timeout.ms=6000
group.streams.heartbeat.interval.ms=2000
group.streams.min.heartbeat.interval.ms=1000
group.streams.initial.rebalance.delay.ms=0
# Compaction of changelog topics is observable in tests within seconds, not hours.
log.cleaner.backoff.ms=1000
log.retention.check.interval.ms=30000
delete.topic.enable=true
auto.create.topics.enable=true
PROPS
  cat >"$RUN/log4j2.properties" <<'L4J2'
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.cleaner.name=kafka.log.LogCleaner
logger.cleaner.level=WARN
logger.statechange.name=state.change.logger
logger.statechange.level=WARN
L4J2
  cat >"$RUN/log4j.properties" <<'L4J'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
L4J
}

# The JVM flag that points the broker's logging at its configuration (log4j2 for Kafka 4.x, log4j 1.x for 3.x).
log_flag() {
  if [ "$LOGGING" = log4j2 ]; then echo "-Dlog4j2.configurationFile=file:$RUN/log4j2.properties"; else echo "-Dlog4j.configuration=file:$RUN/log4j.properties"; fi
}

pid_alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# Does the broker answer a metadata request? kcat if present, else its log line and an open port.
answers() {
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "$ADDRESS" -L -m 3 >/dev/null 2>&1
  else
    grep -q "Kafka Server started" "$LOG" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
  fi
}

start() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "KAFKA_BROKERS is set: using $KAFKA_BROKERS, starting nothing"
    echo "$KAFKA_BROKERS"
    return 0
  fi
  if pid_alive && answers; then
    [ -z "$SASL" ] || [ -n "$(sasl_address)" ] ||
      die "already running (pid $(cat "$PIDFILE")) without a SASL listener: stop it first to start it with --sasl"
    say "already running (pid $(cat "$PIDFILE"))${SASL:+; SASL_PLAINTEXT ($SASL_MECHANISM) on $(sasl_address)}"
    echo "$ADDRESS"
    return 0
  fi
  need
  provision
  mkdir -p "$RUN"
  if [ -n "$SASL" ]; then sasl_check_ports; fi
  # Storage formatted by another Kafka version is this local broker's disposable data: start afresh.
  if [ -f "$DATA/meta.properties" ] && [ "$(cat "$RUN/version" 2>/dev/null)" != "$KAFKA_VERSION" ]; then
    say "storage in $DATA was formatted by Kafka $(cat "$RUN/version" 2>/dev/null || echo '(unknown)'); wiping it for $KAFKA_VERSION"
    rm -rf "$DATA"
  fi
  if [ -n "$SASL" ]; then sasl_storage_check; fi
  write_config
  local format_args=()
  if [ -n "$SASL" ]; then
    sasl_configure "$PROPS"
    mapfile -t format_args < <(sasl_format_args)
  fi
  if [ ! -f "$DATA/meta.properties" ]; then
    say "formatting storage in $DATA"
    java -cp "$LIBS/*" "$(log_flag)" kafka.tools.StorageTool format \
      -t "$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
      -c "$PROPS" "${format_args[@]}" >>"$LOG" 2>&1 || die "storage format failed; see $LOG"
    echo "$KAFKA_VERSION" >"$RUN/version"
    if [ -n "$SASL" ]; then sasl_stamp >"$SASL_STAMP"; else rm -f "$SASL_STAMP"; fi
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && ! pid_alive; then
    die "port $PORT is taken by another process; set WEIR_BROKER_PORT (and WEIR_CONTROLLER_PORT) or KAFKA_BROKERS."
  fi
  if [ -n "$SASL" ] && (exec 3<>"/dev/tcp/127.0.0.1/$SASL_PORT") 2>/dev/null && ! pid_alive; then
    die "the SASL port $SASL_PORT is taken by another process; set WEIR_SASL_PORT."
  fi
  rm -f "$SASL_MARK"
  say "starting Apache Kafka $KAFKA_VERSION on $ADDRESS (log: $LOG)"
  # shellcheck disable=SC2086
  nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true "$(log_flag)" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + ${WEIR_BROKER_START_TIMEOUT:-90}))
  until answers; do
    pid_alive || { tail -30 "$LOG" >&2; die "the broker exited during start-up; see $LOG"; }
    [ $SECONDS -lt $deadline ] || { tail -30 "$LOG" >&2; die "the broker did not answer within the timeout; see $LOG"; }
    sleep 0.5
  done
  if [ -n "$SASL" ]; then
    until sasl_answers; do
      [ $SECONDS -lt $deadline ] || die "the broker's SASL listener did not answer on $SASL_ADDRESS; see $LOG"
      sleep 0.5
    done
    echo "$SASL_ADDRESS" >"$SASL_MARK"
    say "SASL_PLAINTEXT ($SASL_MECHANISM, user $SASL_USER) on $SASL_ADDRESS"
  fi
  say "ready: bootstrap.servers=$ADDRESS"
  echo "$ADDRESS"
}

stop() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then say "KAFKA_BROKERS is set: nothing to stop"; return 0; fi
  if ! pid_alive; then say "not running"; rm -f "$PIDFILE" "$SASL_MARK"; return 0; fi
  local pid
  pid=$(cat "$PIDFILE")
  say "stopping pid $pid"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "still alive after 30 s: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$PIDFILE" "$SASL_MARK"
  say "stopped"
}

status() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then echo "external cluster: $KAFKA_BROKERS"; return 0; fi
  if pid_alive; then
    if answers; then echo "running (pid $(cat "$PIDFILE")) on $ADDRESS$(sasl_status)"; else echo "process up (pid $(cat "$PIDFILE")) but not answering on $ADDRESS"; return 1; fi
  else
    echo "not running"
    return 3
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Local cluster (start --brokers N): N nodes in RUN/node-<i>, each driven by the single-node functions above with
# the globals (RUN, DATA, LOG, PIDFILE, PROPS, PORT, CPORT, ADDRESS) pointed at it by cluster_node.
# ---------------------------------------------------------------------------------------------------------------

CLUSTER_RUN=$RUN
BASE_PORT=$PORT
SINGLE_DATA=$DATA
SINGLE_PIDFILE=$PIDFILE
SINGLE_LOG=$LOG
SINGLE_PROPS=$PROPS
SINGLE_CPORT=$CPORT

# Points the globals back at the single node (after a cluster function pointed them at one of its nodes).
single_node() {
  RUN=$CLUSTER_RUN DATA=$SINGLE_DATA LOG=$SINGLE_LOG PIDFILE=$SINGLE_PIDFILE PROPS=$SINGLE_PROPS
  PORT=$BASE_PORT CPORT=$SINGLE_CPORT ADDRESS=127.0.0.1:$BASE_PORT
}
NODES_FILE=$CLUSTER_RUN/nodes

# The remembered size of the cluster in this run folder, or nothing for a single node.
cluster_size() { cat "$NODES_FILE" 2>/dev/null || true; }

cluster_node_port() { echo $((BASE_PORT + $1 - 1)); }
cluster_controller_port() { echo $((BASE_PORT + 9 + $1)); }

# Points the single-node globals at node $1.
cluster_node() {
  RUN=$CLUSTER_RUN/node-$1
  DATA=$RUN/data
  LOG=$RUN/broker.log
  PIDFILE=$RUN/broker.pid
  PROPS=$RUN/server.properties
  PORT=$(cluster_node_port "$1")
  CPORT=$(cluster_controller_port "$1")
  ADDRESS=127.0.0.1:$PORT
}

cluster_address() {
  local n=$1 i list=""
  for i in $(seq 1 "$n"); do list=${list:+$list,}127.0.0.1:$(cluster_node_port "$i"); done
  echo "$list"
}

# Replaces (or adds) one property of the current node's server.properties.
cluster_set_prop() {
  sed -i "/^${1//./\\.}=/d" "$PROPS"
  echo "$1=$2" >>"$PROPS"
}

# The single node's configuration (write_config), turned into node $1 of $2.
cluster_write_config() {
  local node=$1 n=$2 i voters=""
  write_config
  for i in $(seq 1 "$n"); do voters=${voters:+$voters,}$i@127.0.0.1:$(cluster_controller_port "$i"); done
  sed -i -e "1s|.*|# Written by scripts/broker.sh: node $node of a local cluster of $n, loopback only.|" \
    -e '/^# A single node/d' "$PROPS"
  cluster_set_prop node.id "$node"
  cluster_set_prop controller.quorum.voters "$voters"
  cluster_set_prop listeners "PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT"
  cluster_set_prop advertised.listeners "PLAINTEXT://127.0.0.1:$PORT"
  cluster_set_prop listener.security.protocol.map CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
  cluster_set_prop inter.broker.listener.name PLAINTEXT
  cluster_set_prop default.replication.factor 3
  cluster_set_prop min.insync.replicas 2
  cluster_set_prop offsets.topic.replication.factor 3
  cluster_set_prop transaction.state.log.replication.factor 3
  cluster_set_prop transaction.state.log.min.isr 2
  cluster_set_prop unclean.leader.election.enable false
}

# Brokers the cluster's metadata lists (registered and not fenced), asked of any node that answers.
cluster_brokers_listed() {
  kcat -b "$(cluster_address "$1")" -L -m 3 2>/dev/null | grep -c '^  broker ' || true
}

# Does node $1 answer, and (with kcat) does the metadata list it as a broker?
cluster_node_ready() {
  cluster_node "$1"
  answers || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "$ADDRESS" -L -m 3 2>/dev/null | grep -q "^  broker $1 at "
  fi
}

# Starts node $1's JVM if it is not running (the current globals must point at it).
cluster_launch_node() {
  cluster_node "$1"
  if pid_alive; then return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT (node $1) is taken by another process; set WEIR_BROKER_PORT."
  fi
  say "starting node $1 of Apache Kafka $KAFKA_VERSION on $ADDRESS (controller port $CPORT, log: $LOG)"
  # shellcheck disable=SC2086
  nohup java ${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true "$(log_flag)" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
}

# Waits until nodes $2.. answer and the metadata lists $1 brokers.
cluster_wait() {
  local n=$1 i
  shift
  local deadline=$((SECONDS + ${WEIR_BROKER_START_TIMEOUT:-120}))
  for i in "$@"; do
    until cluster_node_ready "$i"; do
      pid_alive || { tail -30 "$LOG" >&2; die "node $i exited during start-up; see $LOG"; }
      [ $SECONDS -lt $deadline ] || { tail -30 "$LOG" >&2; die "node $i did not answer within the timeout; see $LOG"; }
      sleep 0.5
    done
  done
  if command -v kcat >/dev/null 2>&1; then
    until [ "$(cluster_brokers_listed "$n")" -eq "$n" ]; do
      [ $SECONDS -lt $deadline ] || die "the cluster lists $(cluster_brokers_listed "$n") of $n brokers after the timeout"
      sleep 0.5
    done
  fi
}

cluster_running() {
  local n=$1 i
  for i in $(seq 1 "$n"); do
    cluster_node "$i"
    pid_alive && answers || return 1
  done
}

# Stops every node and removes the cluster's folders (its data is disposable, like the single node's).
cluster_wipe() {
  local n
  n=$(cluster_size)
  [ -n "$n" ] && cluster_stop "$n"
  rm -rf "$CLUSTER_RUN"/node-* "$NODES_FILE" "$CLUSTER_RUN/cluster.id"
}

cluster_start() {
  local n=$1 i
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "KAFKA_BROKERS is set: using $KAFKA_BROKERS, starting nothing"
    echo "$KAFKA_BROKERS"
    return 0
  fi
  [ "$n" -ge 3 ] && [ "$n" -le 9 ] || die "--brokers takes 1 (a single node) or 3 to 9, not $n"
  case "$KAFKA_VERSION" in 3.*) die "a local cluster needs Kafka 4.x; WEIR_BROKER_VERSION is $KAFKA_VERSION" ;; esac
  if [ "$(cluster_size)" = "$n" ] && cluster_running "$n"; then
    say "cluster of $n already running"
    cluster_address "$n"
    return 0
  fi
  need
  provision
  # This run folder held a single node: it must not run; its data is disposable.
  if [ -f "$SINGLE_PIDFILE" ] && kill -0 "$(cat "$SINGLE_PIDFILE")" 2>/dev/null; then
    die "a single node runs in $CLUSTER_RUN (pid $(cat "$SINGLE_PIDFILE")); stop it first: scripts/broker.sh stop"
  fi
  rm -rf "$SINGLE_DATA" "$SINGLE_PIDFILE"
  # Another size or Kafka version formatted this folder's cluster: start afresh.
  if [ -n "$(cluster_size)" ] && { [ "$(cluster_size)" != "$n" ] || [ "$(cat "$CLUSTER_RUN/version" 2>/dev/null)" != "$KAFKA_VERSION" ]; }; then
    say "the cluster in $CLUSTER_RUN was $(cluster_size) nodes on Kafka $(cat "$CLUSTER_RUN/version" 2>/dev/null || echo '(unknown)'); wiping it"
    cluster_wipe
  fi
  mkdir -p "$CLUSTER_RUN"
  echo "$n" >"$NODES_FILE"
  echo "$KAFKA_VERSION" >"$CLUSTER_RUN/version"
  if [ ! -s "$CLUSTER_RUN/cluster.id" ]; then
    java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 >"$CLUSTER_RUN/cluster.id"
  fi
  local formats=()
  for i in $(seq 1 "$n"); do
    cluster_node "$i"
    mkdir -p "$RUN"
    cluster_write_config "$i" "$n"
    if [ ! -f "$DATA/meta.properties" ]; then
      say "formatting node $i's storage in $DATA (cluster id $(cat "$CLUSTER_RUN/cluster.id"))"
      java -cp "$LIBS/*" "$(log_flag)" kafka.tools.StorageTool format -t "$(cat "$CLUSTER_RUN/cluster.id")" \
        -c "$PROPS" >>"$LOG" 2>&1 &
      formats+=("$i:$!")
    fi
  done
  for i in "${formats[@]}"; do
    wait "${i#*:}" || die "storage format of node ${i%%:*} failed; see $CLUSTER_RUN/node-${i%%:*}/broker.log"
  done
  for i in $(seq 1 "$n"); do cluster_launch_node "$i"; done
  cluster_wait "$n" $(seq 1 "$n")
  say "ready: $n brokers, bootstrap.servers=$(cluster_address "$n")"
  cluster_address "$n"
}

# Starts node $2 of the cluster of $1 again (after stop or kill --node).
cluster_node_start() {
  local n=$1 node=$2
  cluster_check_node "$n" "$node"
  need
  provision
  cluster_node "$node"
  [ -f "$DATA/meta.properties" ] || die "node $node has no formatted storage; start the cluster with: scripts/broker.sh start --brokers $n"
  cluster_write_config "$node" "$n"
  cluster_launch_node "$node"
  cluster_wait "$n" "$node"
  say "node $node ready on $ADDRESS"
  echo "$ADDRESS"
}

cluster_check_node() {
  [ -n "$1" ] || die "$CLUSTER_RUN is not a local cluster (start one with: scripts/broker.sh start --brokers 3)"
  [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le "$1" ] || die "--node takes 1..$1, not '$2'"
}

# SIGTERM to every running node at once, then wait. A broker's controlled shutdown needs an answer from the KRaft
# quorum: once fewer than a majority of the nodes are alive, the ones left cannot finish it and get SIGKILL after 5 s
# (otherwise after 30 s).
cluster_stop() {
  local n=$1 i pid pids=() alive quorum_lost_at=""
  for i in $(seq 1 "$n"); do
    cluster_node "$i"
    if pid_alive; then
      pid=$(cat "$PIDFILE")
      say "stopping node $i (pid $pid)"
      kill "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$PIDFILE"
  done
  local deadline=$((SECONDS + 30))
  while :; do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -gt 0 ] || break
    if [ -z "$quorum_lost_at" ] && [ ${#alive[@]} -le $((n / 2)) ]; then quorum_lost_at=$SECONDS; fi
    if [ $SECONDS -ge $deadline ] || { [ -n "$quorum_lost_at" ] && [ $SECONDS -ge $((quorum_lost_at + 5)) ]; }; then
      say "pid(s) ${alive[*]} still alive (no quorum left to finish a controlled shutdown): SIGKILL"
      kill -9 "${alive[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  say "stopped"
}

cluster_node_kill() {
  local pid
  cluster_check_node "$1" "$2"
  cluster_node "$2"
  if ! pid_alive; then say "node $2 not running"; rm -f "$PIDFILE"; return 0; fi
  pid=$(cat "$PIDFILE")
  say "killing node $2 (pid $pid, SIGKILL)"
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PIDFILE"
}

cluster_status() {
  local n=$1 i rc=0
  for i in $(seq 1 "$n"); do
    cluster_node "$i"
    if pid_alive; then
      if answers; then echo "node $i: running (pid $(cat "$PIDFILE")) on $ADDRESS"; else echo "node $i: process up (pid $(cat "$PIDFILE")) but not answering on $ADDRESS"; rc=1; fi
    else
      echo "node $i: not running ($ADDRESS)"
      [ $rc -ne 0 ] || rc=3
    fi
  done
  command -v kcat >/dev/null 2>&1 && echo "cluster: $(cluster_brokers_listed "$n") of $n brokers in the metadata"
  return $rc
}

COMMAND=${1:-}
[ $# -gt 0 ] && shift
BROKERS_ARG=""
NODE_ARG=""
while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) BROKERS_ARG=${2:-} && shift 2 || die "--brokers needs a number" ;;
    --brokers=*) BROKERS_ARG=${1#*=} && shift ;;
    --node) NODE_ARG=${2:-} && shift 2 || die "--node needs a number" ;;
    --node=*) NODE_ARG=${1#*=} && shift ;;
    --sasl) SASL=1 && shift ;;
    *) die "unknown argument: $1 (usage: $0 start [--sasl | --brokers N | --node N] | stop [--node N] | kill --node N | address [--sasl] | status | ...)" ;;
  esac
done
[ -z "$BROKERS_ARG" ] || [[ "$BROKERS_ARG" =~ ^[0-9]+$ ]] || die "--brokers takes a number, not '$BROKERS_ARG'"
SIZE=$(cluster_size)
if [ -n "$SASL" ] && { [ -n "$NODE_ARG" ] || [ -n "$SIZE" ] || [ "${BROKERS_ARG:-1}" != 1 ]; }; then
  die "--sasl is for the single node (the local cluster has PLAINTEXT listeners only)"
fi
if [ -n "$NODE_ARG" ]; then
  [ -z "${KAFKA_BROKERS:-}" ] || die "KAFKA_BROKERS is set: no local node to control"
  case "$COMMAND" in
    start) cluster_node_start "$SIZE" "$NODE_ARG" ;;
    stop) cluster_check_node "$SIZE" "$NODE_ARG" && cluster_node "$NODE_ARG" && stop ;;
    kill) cluster_node_kill "$SIZE" "$NODE_ARG" ;;
    *) die "--node goes with start, stop or kill" ;;
  esac
  exit 0
fi
if [ "$COMMAND" = start ] && [ -n "$BROKERS_ARG" ]; then
  if [ "$BROKERS_ARG" = 1 ]; then
    [ -z "$SIZE" ] || [ -n "${KAFKA_BROKERS:-}" ] || { say "back to a single node: wiping the cluster in $CLUSTER_RUN"; cluster_wipe; rm -f "$CLUSTER_RUN/version"; single_node; }
    SIZE=""
  else
    SIZE=$BROKERS_ARG
  fi
fi
if [ -n "$SIZE" ] && [ -z "${KAFKA_BROKERS:-}" ]; then
  case "$COMMAND" in
    start) cluster_start "$SIZE" ;;
    stop) cluster_stop "$SIZE" ;;
    status) cluster_status "$SIZE" ;;
    address) cluster_address "$SIZE" ;;
    kill) die "kill needs --node N" ;;
    provision) provision ;;
    version) echo "$KAFKA_VERSION" ;;
    libs) echo "$LIBS" ;;
    *) echo "usage: $0 start [--brokers N | --node N]|stop [--node N]|kill --node N|status|provision|address|version|libs" >&2; exit 2 ;;
  esac
  exit $?
fi

case "$COMMAND" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  provision) provision ;;
  address)
    if [ -n "$SASL" ]; then
      sasl_address || die "the broker of $RUN has no SASL listener (start it with --sasl)"
    else
      echo "${KAFKA_BROKERS:-$ADDRESS}"
      if [ -z "${KAFKA_BROKERS:-}" ] && [ -n "$(sasl_address)" ]; then say "SASL_PLAINTEXT ($SASL_MECHANISM): $(sasl_address)"; fi
    fi
    ;;
  version) echo "$KAFKA_VERSION" ;;
  libs) echo "$LIBS" ;;
  *) echo "usage: $0 start [--sasl]|stop|status|provision|address [--sasl]|version|libs" >&2; exit 2 ;;
esac
