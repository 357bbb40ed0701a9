#!/usr/bin/env bash
# The exactly-once subset on the oldest Apache Kafka weir supports (3.9.1): SIGKILL mid-stream and mid-commit, a
# group that grows and shrinks, zombie fencing, hand-overs with undecided transactions, transactions. It runs
# against a 3.9.1 broker of its own (port 9192 unless WEIR_KAFKA3_PORT says otherwise), started and stopped here,
# so it never touches the default broker. Extra arguments go to vitest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export WEIR_BROKER_VERSION=${WEIR_KAFKA3_BROKER_VERSION:-3.9.1}
export WEIR_BROKER_PORT=${WEIR_KAFKA3_PORT:-9192}
export WEIR_CONTROLLER_PORT=$((WEIR_BROKER_PORT + 1))
env -u KAFKA_BROKERS bash scripts/broker.sh start >/dev/null
trap 'env -u KAFKA_BROKERS bash scripts/broker.sh stop || true' EXIT
KAFKA_BROKERS=$(env -u KAFKA_BROKERS bash scripts/broker.sh address)
export KAFKA_BROKERS
echo "exactly-once subset on Apache Kafka $WEIR_BROKER_VERSION at $KAFKA_BROKERS"
npx vitest run --project integration \
  test/integration/engine.test.ts \
  test/integration/crash-loop.test.ts \
  test/integration/handover.test.ts \
  test/integration/transactions.test.ts \
  "$@"
