#!/usr/bin/env bash
# CPU time per disclosure, by server thread: steadier than throughput on a shared two-core machine, where the load
# generator and the server compete for the same cores (BENCHMARKS.md, runs 7a/7b).
#
#   Benchmarks/cpu-per-disclosure.sh [PEOPLE]     (default 10000; PRICE=5 for priced grants; SEED_CACHE, PROFFER_BIN
#                                                  as for run-load.sh)
#
# Starts a seeded server (Benchmarks/seeded-server.sh), warms it up with 5 s of disclosures, then runs wrk for 14 s and,
# in the middle 10 s, counts each server thread's CPU time (`perf stat --per-thread -e task-clock`) and the disclosure
# audit entries added. Prints microseconds of CPU per disclosure for each kind of thread: NIO-ELT-1 is the write
# pipeline, oot.default-qos Swift's pool (request handling), NIO-SGLTN the HTTP event loops, TP the checkpointer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PEOPLE=${1:-10000}
SEED_ARGS=${PRICE:+--price-minor-units $PRICE}
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
source Benchmarks/seeded-server.sh cpu

Benchmarks/grant-lines.py "$WORK/fixture.json" "http://127.0.0.1:$PORT" > "$WORK/lines.txt"
wrk -t2 -c64 -d5s -s Benchmarks/disclosure.lua "http://127.0.0.1:$PORT" -- "$WORK/lines.txt" > /dev/null
wrk -t2 -c64 -d14s -s Benchmarks/disclosure.lua "http://127.0.0.1:$PORT" -- "$WORK/lines.txt" > "$WORK/wrk.txt" &
LOAD=$!
sleep 2
before=$(disclosure_entries)
perf stat --per-thread -e task-clock -p "$SERVER_PID" -o "$WORK/stat.txt" -- sleep 10
after=$(disclosure_entries)
wait "$LOAD"
count=$((after - before))
echo "$count disclosures in 10 s ($((count / 10))/s); wrk over 14 s: $(grep Requests/sec "$WORK/wrk.txt")"
awk -v n="$count" '/task-clock/ {
        name = $1; sub(/-[0-9]+$/, "", name); sub(/[0-9]+$/, "", name)
        ms = $2; gsub(",", "", ms); sum[name] += ms; total += ms
    }
    END {
        for (k in sum) if (sum[k] * 1000 / n >= 0.05) printf "  %-20s %7.1f µs per disclosure\n", k, sum[k] * 1000 / n
        printf "  %-20s %7.1f µs per disclosure\n", "server in all", total * 1000 / n
    }' "$WORK/stat.txt" | sort -t' ' -k1,1
