#!/usr/bin/env bash
# The web page benchmark recorded in BENCHMARKS.md: server-side render time of each page at PEOPLE people.
#
#   Benchmarks/run-pages.sh [PEOPLE]     (default 10000)
#
# Builds a release binary, seeds a fresh SQLite database with PEOPLE people × 20 records × 5 active grants
# (proffer bench-seed), starts `proffer serve`, signs 40 people in (sessions), and measures each page with wrk
# (CONNECTIONS=4 connections, DURATION=10s), every request as one of those people in turn; the organisation
# console as one of the organisations. Prints p50/p95/p99 per page; fails if any answer is not 200.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PEOPLE=${1:-10000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-4}
source Benchmarks/seeded-server.sh pages

python3 - "$WORK/fixture.json" "http://127.0.0.1:$PORT" "$WORK" "$PEOPLE" <<'PY'
import base64, json, random, sys, urllib.request
fixture, base, work, people = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(f"{work}/people.txt", "w") as out:
    for index in random.Random(7).sample(range(people), min(40, people)):
        body = json.dumps({"email": f"bench-{index}@example.org", "password": "benchmark-password"}).encode()
        req = urllib.request.Request(base + "/v1/sessions", data=body, headers={"Content-Type": "application/json"})
        out.write("proffer_session=" + json.load(urllib.request.urlopen(req))["token"] + "\n")
with open(f"{work}/orgs.txt", "w") as out:
    for org in fixture["organisations"]:
        basic = base64.b64encode(f'{org["client_id"]}:{org["client_secret"]}'.encode()).decode()
        req = urllib.request.Request(base + "/oauth/token", data=b"grant_type=client_credentials&scope=requests:read+grants:read",
                                     headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
        out.write("proffer_org=" + json.load(urllib.request.urlopen(req))["access_token"] + "\n")
PY

: > "$WORK/results.txt"
run() {  # PATH COOKIE_FILE
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s Benchmarks/pages.lua "http://127.0.0.1:$PORT" -- "$1" "$2" | grep '^RESULT' | sed "s|^RESULT|RESULT $1|" | tee -a "$WORK/results.txt"
}
for page in /data /data/contact.email /requests /grants /activity /terms /earnings /export; do
    run "$page" "$WORK/people.txt"
done
run /org "$WORK/orgs.txt"
run /directory "$WORK/people.txt"


echo
python3 - "$WORK/results.txt" <<'PY'
import re, sys
worst, failed = 0.0, False
for line in open(sys.argv[1]):
    fields = dict(part.split("=") for part in line.split()[2:])
    worst = max(worst, float(fields["p95"]))
    if int(fields["non2xx"]) or int(fields["errors"]):
        failed = True
        print("FAIL:", line.strip())
print(f"slowest page p95: {worst:.2f} ms (target < 50 ms)")
sys.exit(1 if failed else 0)
PY
