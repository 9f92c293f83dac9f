#!/usr/bin/env bash
# Runs Microsoft's Graph SDK for Python against a freshly started demo gateway.
# Installs msgraph-sdk into target/sdk-venv (PyPI), starts `vigil serve` on a free port with a
# throw-away data directory, runs tests/sdk/python_sdk_smoke.py, and stops the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin vigil
venv=target/sdk-venv
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check msgraph-sdk
data=$(mktemp -d)
log="$data/serve.log"
target/debug/vigil serve --listen 127.0.0.1:0 --data-dir "$data" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 60); do
  addr=$(grep -o 'vigil listening addr=[0-9.:]*' "$log" | sed 's/.*addr=//' || true)
  [ -n "$addr" ] && break
  sleep 0.5
done
[ -n "${addr:-}" ] || { echo "gateway did not start:"; cat "$log"; exit 1; }
token=$(target/debug/vigil token --data-dir "$data")
timeout 300 "$venv/bin/python" tests/sdk/python_sdk_smoke.py "http://$addr" "$token"
