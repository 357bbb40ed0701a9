#!/usr/bin/env bash
# Creates the Python benchmark peers' virtualenv, .weir/bench/venv, with the pinned requirements.txt.
# Idempotent: when the venv's stamp holds the hash of requirements.txt (and of the interpreter), it does nothing.
# PYTHON picks the interpreter (default python3.11).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
requirements="$root/bench/peers/python/requirements.txt"
venv="$root/.weir/bench/venv"
stamp="$venv/.requirements.sha256"
python=${PYTHON:-python3.11}

if ! command -v "$python" > /dev/null; then
  echo "python-peers: $python not found (set PYTHON to a Python 3.11 interpreter)" >&2
  exit 1
fi

want=$({ cat "$requirements"; "$python" --version; } | sha256sum | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

echo "python-peers: creating $venv" >&2
"$python" -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
echo "$want" > "$stamp"
echo "python-peers: ready ($venv/bin/python)" >&2
