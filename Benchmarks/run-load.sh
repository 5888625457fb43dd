#!/usr/bin/env bash
# The disclosure load benchmark recorded in BENCHMARKS.md.
#
#   Benchmarks/run-load.sh [PEOPLE]     (default 10000)
#   PRICE=5 Benchmarks/run-load.sh      every grant priced at 5 EUR minor units per disclosure, wallets funded
#
# Builds a release binary, seeds a fresh SQLite database with PEOPLE people × 20 records × 5 active
# grants (proffer bench-seed), starts `proffer serve` on it, then measures with wrk (64 connections,
# 2 threads, 30 s each): GET /healthz, then GET /v1/grants/{id}/data rotating over every grant, after a 15 s
# warm-up pass over the same grants (WARMUP=…).
# Finally checks that every successful disclosure has its audit entry (and, priced, that `proffer ledger check`
# passes: one charge per disclosure). PROFFER_BIN skips the build; SEED_CACHE=DIR seeds once into DIR and starts
# later runs from a copy of that database (seeding 10,000 people takes about half a minute).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PEOPLE=${1:-10000}
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-15s}
CONNECTIONS=${CONNECTIONS:-64}
SEED_ARGS=${PRICE:+--price-minor-units $PRICE}
source Benchmarks/seeded-server.sh load

Benchmarks/grant-lines.py "$WORK/fixture.json" "http://127.0.0.1:$PORT" > "$WORK/lines.txt"
echo "$(wc -l < "$WORK/lines.txt") grants in rotation"

echo; echo "== GET /healthz ($CONNECTIONS connections, $DURATION)"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/healthz"
# A warm-up pass first, as a server that has been up a while is: it reads every grant once (the disclosure path
# caches each grant's fixed terms on first read) and lets the WAL reach its working size. Not measured.
echo; echo "== warm-up: GET /v1/grants/{id}/data ($CONNECTIONS connections, $WARMUP, not measured)"
wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" -s Benchmarks/disclosure.lua "http://127.0.0.1:$PORT" -- "$WORK/lines.txt" > "$WORK/warmup.txt"
grep -E "requests in|Requests/sec|Non-2xx" "$WORK/warmup.txt"
echo; echo "== GET /v1/grants/{id}/data ($CONNECTIONS connections, $DURATION)"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s Benchmarks/disclosure.lua "http://127.0.0.1:$PORT" -- "$WORK/lines.txt" | tee "$WORK/wrk.txt"

kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=
python3 - "$(disclosure_entries)" "$WORK/warmup.txt" "$WORK/wrk.txt" <<'PY'
import re, sys
audited = int(sys.argv[1])
ok = 0
for run in sys.argv[2:]:
    text = open(run).read()
    total = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    ok += total - (int(non2xx.group(1)) if non2xx else 0)
print(f"\ndisclosures answered 200 (warm-up and measured): {ok} (wrk may count a few cut off at the end); disclosure audit entries: {audited}")
if audited < ok:
    sys.exit("FAIL: fewer audit entries than successful disclosures")
PY
if [[ -n ${PRICE:-} ]]; then
    "$BIN" ledger check --data-dir "$WORK/data"
fi
