# Shared by the benchmark scripts (sourced, not run): a release binary (or $PROFFER_BIN), wrk, a fresh SQLite
# database seeded with $PEOPLE people × 20 records × 5 active grants (plus $SEED_ARGS for bench-seed) in $WORK,
# and `proffer serve` on it at http://127.0.0.1:$PORT (pid $SERVER_PID), stopped and removed on exit.
#   source Benchmarks/seeded-server.sh NAME
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

if [[ -z ${PROFFER_BIN:-} ]]; then
    swift build -c release --product proffer --scratch-path .build-release >/dev/null
    PROFFER_BIN=$(swift build -c release --scratch-path .build-release --show-bin-path)/proffer
fi
BIN=$PROFFER_BIN

WORK=$(mktemp -d "/tmp/proffer-$1.XXXXXX")
SERVER_PID=
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# SEED_CACHE=DIR keeps each seeded database there (by people and seed arguments) and starts later runs from a copy,
# so repeated runs skip the minutes of seeding; every run still starts from the same untouched seed.
SEEDED=${SEED_CACHE:+$SEED_CACHE/$PEOPLE${SEED_ARGS:+-${SEED_ARGS// /_}}}
if [[ -n $SEEDED && -f $SEEDED/fixture.json ]]; then
    echo "copying the seeded database from $SEEDED"
    cp -r "$SEEDED/data" "$WORK/data" && cp "$SEEDED/fixture.json" "$WORK/fixture.json"
else
    echo "seeding $PEOPLE people into $WORK"
    # shellcheck disable=SC2086
    "$BIN" bench-seed --data-dir "$WORK/data" --people "$PEOPLE" --output "$WORK/fixture.json" ${SEED_ARGS:-} | tail -1
    if [[ -n $SEEDED ]]; then mkdir -p "$SEEDED" && cp -r "$WORK/data" "$SEEDED/data" && cp "$WORK/fixture.json" "$SEEDED/fixture.json"; fi
fi

# The copy or the seeding leaves hundreds of megabytes of dirty pages that the kernel writes back half a minute later,
# in the middle of whichever measurement runs then; written out now, every measurement starts from the same state.
sync

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PROFFER_LOG_LEVEL=warning "$BIN" serve --data-dir "$WORK/data" --port "$PORT" --host 127.0.0.1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

# The number of disclosure audit entries in the database (readable while the server runs: SQLite in WAL mode).
disclosure_entries() {
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM audit_entries WHERE kind = '"'disclosure'"'").fetchone()[0])' "$WORK/data/proffer.sqlite"
}
