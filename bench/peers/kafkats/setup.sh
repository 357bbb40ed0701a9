#!/usr/bin/env bash
# Installs the @kafkats/flow peer (package.json + package-lock.json beside this script) into .weir/bench/kafkats,
# which is git-ignored and never part of the root package.json (CI does not install it). Idempotent: a second run
# only compares the lock files and returns.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
DEST="$ROOT/.weir/bench/kafkats"
say() { printf 'kafkats-setup: %s\n' "$*" >&2; }

stamp="$DEST/node_modules/.weir-installed"
if [ -f "$stamp" ] && cmp -s "$HERE/package-lock.json" "$DEST/package-lock.json"; then
  exit 0
fi
mkdir -p "$DEST"
cp "$HERE/package.json" "$HERE/package-lock.json" "$DEST/"
say "npm ci into $DEST"
npm ci --prefix "$DEST" --no-audit --no-fund --loglevel=error >&2
touch "$stamp"
