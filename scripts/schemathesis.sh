#!/usr/bin/env bash
# Property-based API testing of the committed OpenAPI document against the running demo:
# schemathesis generates requests from openapi/openapi.json and checks every answer against it
# (status codes, headers, content types, response schemas, no 5xx, auth enforced).
#
#   scripts/schemathesis.sh                  # 25 examples per operation, every check
#   MAX_EXAMPLES=100 scripts/schemathesis.sh # more
#   scripts/schemathesis.sh --checks not_a_server_error   # extra args go to `st run`
#
# Installs schemathesis (and openapi-spec-validator) into target/schemathesis-venv from PyPI,
# validates the document, builds and starts `vigil serve` (the demo: mock providers in-process,
# SQLite in a temporary data directory) on a free loopback port, mints a demo token, runs, and
# stops the server. Exit status: schemathesis's.
#
# Every check runs except positive_data_acceptance ("a schema-valid request must be
# accepted"): `$filter` and `$orderby` are OData expressions, which JSON Schema cannot
# describe, so a generated string such as `$filter=0` is schema-valid and rightly a 400.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/schemathesis-venv
MAX_EXAMPLES=${MAX_EXAMPLES:-25}

if [ ! -x "$VENV/bin/st" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'schemathesis>=4,<5' openapi-spec-validator
fi

"$VENV/bin/python" - <<'PY'
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
doc, _ = read_from_filename("openapi/openapi.json")
validate(doc)
print("openapi/openapi.json: valid OpenAPI", doc["openapi"])
PY

cargo build --quiet --bin vigil
DATA=$(mktemp -d)
# A private copy: a shared target directory may be rebuilt while the run goes on.
BIN="$DATA/vigil"
cp "${CARGO_TARGET_DIR:-target}/debug/vigil" "$BIN"
LOG="$DATA/serve.log"
# The abuse limits are raised so that the run exercises the API, not the token buckets (the
# 429 answers are documented and checked by the gateway's own tests).
VIGIL_LIMITS__TENANT_PER_MINUTE=1000000 VIGIL_LIMITS__TENANT_BURST=100000 \
VIGIL_LIMITS__APP_PER_MINUTE=1000000 VIGIL_LIMITS__APP_BURST=100000 \
    "$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 2>"$LOG" &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    # what the gateway itself reported as errors (the cause behind any 5xx)
    grep -E ' (ERROR|WARN) ' "$LOG" | grep -v 'auth.mode is hs256' | tail -n 40 >&2 || true
    rm -rf "$DATA"
}
trap cleanup EXIT

ADDR=""
for _ in $(seq 1 200); do
    # The gateway's own line (the demo's mock providers log their addresses first).
    ADDR=$(grep 'vigil listening' "$LOG" | grep -oE 'addr=127\.0\.0\.1:[0-9]+' | head -n1 | cut -d= -f2 || true)
    [ -n "$ADDR" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; echo "vigil serve exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$ADDR" ] || { cat "$LOG" >&2; echo "vigil serve did not start" >&2; exit 1; }
# An application token with every permission, the operator role included, so that every
# operation is exercised (delegated tokens are covered by the gateway's own tests).
TOKEN=$("$BIN" token --data-dir "$DATA" --roles \
    Vigil.Admin,SecurityEvents.ReadWrite.All,IdentityRiskEvent.Read.All,IdentityRiskyUser.ReadWrite.All)
echo "demo gateway on http://$ADDR"

"$VENV/bin/st" run openapi/openapi.json \
    --url "http://$ADDR" \
    -H "Authorization: Bearer $TOKEN" \
    --max-examples "$MAX_EXAMPLES" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --seed 1 \
    "$@"
