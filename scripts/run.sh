#!/usr/bin/env bash
# `npm start` and `npm test` on a fresh clone: set up, start the local broker (unless KAFKA_BROKERS is set),
# run, and stop the broker again if this script started it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
what=${1:?usage: run.sh demo|test|script FILE [args]}
shift || true

bash scripts/setup.sh

started=""
if [ -z "${KAFKA_BROKERS:-}" ]; then
  if ! bash scripts/broker.sh status >/dev/null 2>&1; then
    bash scripts/broker.sh start >/dev/null
    started=yes
  fi
  KAFKA_BROKERS=$(bash scripts/broker.sh address)
  export KAFKA_BROKERS
fi
# broker.sh does nothing while KAFKA_BROKERS is set (exported above), so unset it to stop our broker.
cleanup() { if [ -n "$started" ] && [ -z "${WEIR_KEEP_BROKER:-}" ]; then env -u KAFKA_BROKERS bash scripts/broker.sh stop || true; fi; }
trap cleanup EXIT

case "$what" in
  test) npx vitest run "$@" ;;
  demo) npx tsx bin/weir.ts demo "$@" ;;
  script) npx tsx "$@" ;;
  *) npx tsx bin/weir.ts "$what" "$@" ;;
esac
