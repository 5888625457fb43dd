#!/usr/bin/env bash
# Start `proffer demo` on a free loopback port, check it against its OpenAPI document with
# tests-external/api_contract.py, run an organisation's client through terms, rules and receipts
# (tests-external/org_client.py) and check the person's signed receipts independently
# (tests-external/receipts_check.py), then stop it with SIGTERM and require a clean exit.
#
#   tests-external/run-api-tests.sh ''                                   # SQLite, in a temp data dir
#   tests-external/run-api-tests.sh postgres://proffer@127.0.0.1:5433/proffer_api
#
# Environment:
#   PROFFER_BIN   server binary (default .build/debug/proffer)
#   PYTHON        interpreter with tests-external/requirements.txt installed
#                 (default .build/venv/bin/python if present, else python3)
#   PROFFER_API_* passed through to api_contract.py (see its --help)
#
# Exit status 0 only if the server became healthy, every contract run passed, org_client.py and
# receipts_check.py passed, the server was still running at the end, and it exited with status 0
# within 10 s of SIGTERM.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi
if [[ $# -ne 1 ]]; then
    echo "usage: $0 DATABASE_URL_OR_EMPTY" >&2
    exit 2
fi
DATABASE_URL=$1
ENGINE=sqlite
[[ -n $DATABASE_URL ]] && ENGINE=postgres

BIN=${PROFFER_BIN:-.build/debug/proffer}
if [[ -z ${PYTHON:-} ]]; then
    if [[ -x .build/venv/bin/python ]]; then PYTHON=.build/venv/bin/python; else PYTHON=python3; fi
fi
STARTUP_TIMEOUT=${PROFFER_API_STARTUP_TIMEOUT:-120}
SHUTDOWN_TIMEOUT=10

log() { printf 'run-api-tests[%s]: %s\n' "$ENGINE" "$*"; }

if [[ ! -x $BIN ]]; then
    log "FAILED: server binary $BIN not found (build it with: swift build --product proffer)"
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/proffer-api.XXXXXX")
DATA_DIR=$WORK/data
CREDENTIALS=$WORK/credentials.json
SERVER_LOG=$WORK/server.log
mkdir -p "$DATA_DIR"
SERVER_PID=
CONTRACT_PID=

show_log() {
    log "server log ($SERVER_LOG), last 200 lines:"
    tail -n 200 "$SERVER_LOG" 2>/dev/null | sed 's/^/    | /' || true
}

cleanup() {
    local rc=$?
    if [[ -n $CONTRACT_PID ]] && kill -0 "$CONTRACT_PID" 2>/dev/null; then
        kill -TERM "$CONTRACT_PID" 2>/dev/null || true
        wait "$CONTRACT_PID" 2>/dev/null || true
    fi
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ ${PROFFER_KEEP_API_WORK:-} == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE_URL=http://127.0.0.1:$PORT

ARGS=(demo --port "$PORT" --host 127.0.0.1 --data-dir "$DATA_DIR" --credentials-file "$CREDENTIALS")
[[ -n $DATABASE_URL ]] && ARGS+=(--database "$DATABASE_URL")
log "starting: $BIN ${ARGS[*]}"
"$BIN" "${ARGS[@]}" </dev/null >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

# HTTP status of GET URL, or 000 when nothing answers.
http_status() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true
    else
        python3 - "$1" <<'EOF' || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
    fi
}

# Wait for GET /healthz to answer 200 and the credentials file to be written.
deadline=$((SECONDS + STARTUP_TIMEOUT))
status=000
while :; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        rc=0
        wait "$SERVER_PID" || rc=$?
        SERVER_PID=
        log "FAILED: the server exited (status $rc) before answering GET /healthz"
        show_log
        exit 1
    fi
    status=$(http_status "$BASE_URL/healthz")
    if [[ $status == 200 && -s $CREDENTIALS ]]; then
        break
    fi
    if ((SECONDS >= deadline)); then
        log "FAILED: no 200 from GET $BASE_URL/healthz with $CREDENTIALS written within ${STARTUP_TIMEOUT}s (last status $status)"
        show_log
        exit 1
    fi
    sleep 0.5
done
log "server healthy at $BASE_URL (pid $SERVER_PID)"

# In the background + wait, so that a SIGTERM/SIGINT to this script is acted on at once (bash defers
# traps until a foreground child ends); cleanup then stops the contract run and the server.
failed=0
"$PYTHON" tests-external/api_contract.py --base-url "$BASE_URL" --credentials "$CREDENTIALS" &
CONTRACT_PID=$!
wait "$CONTRACT_PID" || failed=1
CONTRACT_PID=

# Then, on the same server: an organisation's client through the four outcomes of terms and rules,
# verifying each decision's receipt with jwcrypto, and an independent check of the receipts the
# demo person (people[0]) holds. Same background + wait, so a signal is acted on at once.
failed_scripts=()
for script in org_client.py receipts_check.py; do
    log "running tests-external/$script"
    "$PYTHON" "tests-external/$script" --base-url "$BASE_URL" --credentials "$CREDENTIALS" &
    CONTRACT_PID=$!
    wait "$CONTRACT_PID" || failed_scripts+=("$script")
    CONTRACT_PID=
done

# The server must have survived the whole run ...
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    log "FAILED: the server died during the tests (status $rc)"
    show_log
    exit 1
fi

# ... and shut down gracefully on SIGTERM.
log "sending SIGTERM to the server"
kill -TERM "$SERVER_PID"
deadline=$((SECONDS + SHUTDOWN_TIMEOUT))
while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "FAILED: the server was still running ${SHUTDOWN_TIMEOUT}s after SIGTERM; killing it"
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    show_log
    exit 1
fi
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
if [[ $rc -ne 0 ]]; then
    log "FAILED: the server exited with status $rc after SIGTERM (want 0)"
    show_log
    exit 1
fi
log "server shut down cleanly"

if [[ $failed -ne 0 ]]; then
    log "FAILED: API contract tests failed"
    show_log
    exit 1
fi
if ((${#failed_scripts[@]} > 0)); then
    log "FAILED: ${failed_scripts[*]} failed against the live server"
    show_log
    exit 1
fi
log "passed"
