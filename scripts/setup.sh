#!/usr/bin/env bash
# Installs what weir needs on a fresh Debian machine, idempotently:
#   - Debian packages to build librdkafka (only when the prebuilt binary of @confluentinc/kafka-javascript
#     cannot be downloaded), kcat and prometheus for the tests; installed only if missing and we are root.
#   - npm packages (npm ci), with CKJS_LINKING=dynamic so the fallback build links Debian's libraries.
#   - the Apache Kafka jars for the local broker (scripts/broker.sh provision), unless KAFKA_BROKERS is set.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf 'weir-setup: %s\n' "$*" >&2; }

DEB_PACKAGES=(libssl-dev libcurl4-openssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev pkg-config
  build-essential python3 kcat prometheus)
[ -n "${KAFKA_BROKERS:-}" ] || DEB_PACKAGES+=(maven)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing packages (install them yourself, or run as root on Debian): ${missing[*]}"
  fi
fi

# The native client: with network, node-pre-gyp downloads the prebuilt binary and nothing below matters.
# Without it, node-pre-gyp falls back to building the bundled librdkafka, linked against Debian's libraries.
export CKJS_LINKING=${CKJS_LINKING:-dynamic}
# node-gyp would download Node's headers; use the ones installed with Node when they are there.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ] && ! npm config get nodedir 2>/dev/null | grep -q /; then
  export npm_config_nodedir=/usr
fi
stamp=node_modules/.weir-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -d node_modules/@confluentinc/kafka-javascript/build ]; then
  say "npm ci (the librdkafka fallback build takes about 2 minutes on 2 cores)"
  if ! npm ci --no-audit --no-fund 2>"$ROOT/.npm-ci.err"; then
    # A registry mirror without other platforms' optional packages (esbuild/rollup/msgpackr binaries for darwin,
    # win32, ...) makes `npm ci` refuse a lock file that lists them. `npm install` installs the same locked
    # versions for this platform.
    if grep -q "EUSAGE" "$ROOT/.npm-ci.err"; then
      say "npm ci refused the lock file (registry lacks other platforms' optional packages); using npm install"
      npm install --no-audit --no-fund
    else
      cat "$ROOT/.npm-ci.err" >&2
      exit 1
    fi
  fi
  rm -f "$ROOT/.npm-ci.err"
  touch "$stamp"
fi

if [ -z "${KAFKA_BROKERS:-}" ]; then
  bash scripts/broker.sh provision
fi
