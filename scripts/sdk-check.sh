#!/usr/bin/env bash
# Runs Microsoft's Graph SDKs for Python and JavaScript, and a client generated from
# openapi/openapi.json (openapi-python-client), against freshly started demo gateways.
# Installs msgraph-sdk into target/sdk-venv (PyPI) and @microsoft/microsoft-graph-client into
# target/sdk-node (npm), starts `vigil serve` on free ports with throw-away data directories,
# runs tests/sdk/python_sdk_smoke.py and tests/sdk/js_sdk_smoke.mjs, and stops the gateways.
# The JavaScript SDK sends tokens over https only, so its gateway is reached as deployed: behind
# a TLS front (the script's own proxy, a self-signed certificate made here), with the gateway's
# public_url naming that front so nextLinks point at it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin vigil
venv=target/sdk-venv
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check msgraph-sdk
node_dir=target/sdk-node
if [ ! -d "$node_dir/node_modules/@microsoft/microsoft-graph-client" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund @microsoft/microsoft-graph-client@3)
fi

work=$(mktemp -d)
# Gateways are started inside $(…) (a subshell), so their pids are kept in files, not a variable.
stop_all() {
  local f p
  for f in "$work"/*/pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop_all EXIT

# start_gateway NAME [PUBLIC_URL]: a demo gateway in $work/NAME; prints its address.
start_gateway() {
  local dir="$work/$1" addr=""
  mkdir -p "$dir"
  VIGIL_PUBLIC_URL="${2:-}" target/debug/vigil serve --listen 127.0.0.1:0 --data-dir "$dir" >"$dir/serve.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 60); do
    addr=$(grep -o 'vigil listening addr=[0-9.:]*' "$dir/serve.log" | sed 's/.*addr=//' || true)
    [ -n "$addr" ] && break
    sleep 0.5
  done
  [ -n "$addr" ] || { echo "gateway $1 did not start:" >&2; cat "$dir/serve.log" >&2; exit 1; }
  echo "$addr"
}

py_addr=$(start_gateway python)
py_token=$(target/debug/vigil token --data-dir "$work/python")
timeout 300 "$venv/bin/python" tests/sdk/python_sdk_smoke.py "http://$py_addr" "$py_token"

gen_venv=target/gen-venv
if [ ! -x "$gen_venv/bin/python" ]; then python3 -m venv "$gen_venv"; fi
"$gen_venv/bin/pip" install --quiet --disable-pip-version-check openapi-python-client
rm -rf target/gen-client
"$gen_venv/bin/openapi-python-client" generate --path openapi/openapi.json --output-path target/gen-client \
  >"$work/generate.log" 2>&1 || { cat "$work/generate.log"; exit 1; }
if grep -q "Endpoint will not be generated" "$work/generate.log"; then cat "$work/generate.log"; exit 1; fi
"$gen_venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/gen-client
"$gen_venv/bin/pip" install --quiet --disable-pip-version-check target/gen-client
timeout 300 "$gen_venv/bin/python" tests/sdk/openapi_client_smoke.py "http://$py_addr" "$py_token"

public_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
js_addr=$(start_gateway js "https://localhost:$public_port")
cp tests/sdk/js_sdk_smoke.mjs "$node_dir/"
NODE_EXTRA_CA_CERTS="$work/cert.pem" timeout 300 node "$node_dir/js_sdk_smoke.mjs" \
  "http://$js_addr" "$(target/debug/vigil token --data-dir "$work/js")" "$public_port" \
  "$work/cert.pem" "$work/key.pem"
