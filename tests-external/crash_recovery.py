#!/usr/bin/env python3
"""Nothing acknowledged is lost: kill -9 the server under concurrent writes, restart it, and check.

Starts `proffer serve` on a fresh data directory (SQLite, or the given PostgreSQL URL), signs a
person up, and runs concurrent writers that PUT records and remember every write the server
acknowledged (key, version, value). After a moment of load the server is killed with SIGKILL, started
again on the same data, and must (1) come back by itself, (2) hold every acknowledged version with
its value in the record history, and (3) pass `proffer audit verify --all`. Meanwhile an organisation
reads a grant priced per disclosure: after each restart every acknowledged paid read must have been
charged, and `proffer ledger check` must pass (one charge per disclosure, balanced, no wallet below zero).
Repeats for several cycles. Exits non-zero on any failure.
"""
import base64
import uuid
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

KEYS = ["preference.accessibility", "employment.occupation", "identity.name.full", "identity.name.given"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, timeout=10, headers=None, with_headers=False):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = (response.status, json.loads(response.read() or b"null"))
            return answer + (dict(response.headers),) if with_headers else answer
    except urllib.error.HTTPError as error:
        answer = (error.code, json.loads(error.read() or b"null"))
        return answer + (dict(error.headers),) if with_headers else answer


PRICE = 3
FUNDING = 1_000_000_000


def priced_grant(base, data_dir, person_token):
    """An organisation with a funded wallet and an active grant priced per disclosure; returns (org token, grant id, org id)."""
    with open(os.path.join(data_dir, "admin.token")) as handle:
        admin = handle.read().strip()
    status, org = call(base, "POST", "/v1/admin/organisations", admin, {"name": "Crash Bank", "domain": "crash-bank.example", "verified": True})
    if status != 201:
        sys.exit(f"FAIL: organisation answered {status}: {org}")
    status, _ = call(base, "POST", f"/v1/admin/organisations/{org['id']}/wallet/credits", admin,
                     {"amount": {"amount": FUNDING, "currency": "EUR"}, "reference": "crash test"}, headers={"Idempotency-Key": "crash-funding"})
    if status != 201:
        sys.exit(f"FAIL: funding answered {status}")
    basic = base64.b64encode(f"{org['clientId']}:{org['clientSecret']}".encode()).decode()
    request = urllib.request.Request(base + "/oauth/token", data=b"grant_type=client_credentials",
                                     headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    org_token = json.load(urllib.request.urlopen(request))["access_token"]
    status, asked = call(base, "POST", "/v1/requests", org_token, {
        "person": "crash", "keys": ["identity.name.full"], "purpose": "ServiceProvision", "retentionDays": 30, "thirdParties": [],
        "durationDays": 30, "reason": "crash test", "acceptedTerms": ["no-stalking", "max-retention", "no-sale", "breach-notification"],
        "offer": {"kind": "per-disclosure", "price": {"amount": PRICE, "currency": "EUR"}}})
    if status != 201:
        sys.exit(f"FAIL: request answered {status}: {asked}")
    status, grant = call(base, "POST", f"/v1/me/requests/{asked['id']}/grant", person_token, {})
    if status != 201:
        sys.exit(f"FAIL: grant answered {status}: {grant}")
    return org_token, grant["id"], org["id"]


def start(binary, data_dir, port, database, log):
    command = [binary, "serve", "--data-dir", data_dir, "--port", str(port), "--host", "127.0.0.1"]
    if database:
        command += ["--database", database]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PROFFER_BCRYPT_COST": "4"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"FAIL: the server exited with {process.returncode} while starting (see {log.name})")
        try:
            if call(base, "GET", "/healthz", timeout=1)[0] == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit("FAIL: the server did not become healthy within 60 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/proffer")
    parser.add_argument("--database", default="", help="postgres:// URL; SQLite in the data directory when empty")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--load-seconds", type=float, default=1.5)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="proffer-crash.")
    data_dir = os.path.join(work, "data")
    log = open(os.path.join(work, "server.log"), "ab")
    port = free_port()
    process, base = start(args.bin, data_dir, port, args.database, log)
    status, session = call(base, "POST", "/v1/people", body={"email": "crash@example.org", "password": "crash test password", "handle": "crash"})
    if status != 201:
        sys.exit(f"FAIL: sign-up answered {status}: {session}")
    token = session["token"]
    org_token, grant_id, org_id = priced_grant(base, data_dir, token)
    acknowledged = []  # (key, version, value)
    paid_reads = [0]  # acknowledged reads that were charged (not replays)
    lock = threading.Lock()
    total_acknowledged = 0

    for cycle in range(1, args.cycles + 1):
        stop = threading.Event()

        def writer(number):
            sequence = 0
            while not stop.is_set():
                key = KEYS[(number + sequence) % len(KEYS)]
                value = f"c{cycle}-w{number}-s{sequence}"
                sequence += 1
                try:
                    status, body = call(base, "PUT", f"/v1/me/records/{key}", token, {"value": value}, timeout=5)
                except (OSError, ValueError):
                    continue  # the connection died with the server: not acknowledged
                if status == 200:
                    with lock:
                        acknowledged.append((key, body["version"], value))
                elif status >= 500:
                    print(f"FAIL: a write answered {status}: {body}")
                    os._exit(1)

        def reader():
            while not stop.is_set():
                try:
                    status, body, headers = call(base, "GET", f"/v1/grants/{grant_id}/data", org_token, timeout=5,
                                                 headers={"Idempotency-Key": str(uuid.uuid4())}, with_headers=True)
                except (OSError, ValueError):
                    continue
                if status == 200 and headers.get("Idempotent-Replayed") != "true":
                    with lock:
                        paid_reads[0] += 1
                elif status >= 500 and status != 503:
                    print(f"FAIL: a priced read answered {status}: {body}")
                    os._exit(1)

        threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(args.writers)]
        threads += [threading.Thread(target=reader, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(args.load_seconds)
        process.send_signal(signal.SIGKILL)
        process.wait()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)

        process, base = start(args.bin, data_dir, port, args.database, log)
        lost = []
        for key in KEYS:
            status, history = call(base, "GET", f"/v1/me/records/{key}/history", token)
            if status != 200:
                sys.exit(f"FAIL: history of {key} answered {status} after restart: {history}")
            stored = {item["version"]: item.get("value") for item in history["items"]}
            lost += [(k, v, val) for (k, v, val) in acknowledged if k == key and stored.get(v) != val]
        if lost:
            sys.exit(f"FAIL: cycle {cycle}: {len(lost)} acknowledged writes lost after kill -9, e.g. {lost[:3]}")
        verify = [args.bin, "audit", "verify", "--all", "--data-dir", data_dir] + (["--database", args.database] if args.database else [])
        result = subprocess.run(verify, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"FAIL: cycle {cycle}: audit chain broken after kill -9:\n{result.stdout}{result.stderr}")
        status, wallet = call(base, "GET", "/v1/organisation/wallet", org_token)
        if status != 200:
            sys.exit(f"FAIL: wallet answered {status} after restart: {wallet}")
        spent = FUNDING - sum(b["amount"] for b in wallet["balances"] if b["currency"] == "EUR")
        if spent % PRICE != 0 or spent // PRICE < paid_reads[0]:
            sys.exit(f"FAIL: cycle {cycle}: {paid_reads[0]} paid reads were acknowledged but the wallet was charged for {spent / PRICE}")
        check = [args.bin, "ledger", "check", "--data-dir", data_dir] + (["--database", args.database] if args.database else [])
        result = subprocess.run(check, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"FAIL: cycle {cycle}: the ledger is broken after kill -9:\n{result.stdout}{result.stderr}")
        print(f"cycle {cycle}: killed under {args.writers} writers and 4 priced readers; {len(acknowledged) - total_acknowledged} new acknowledged writes all present; "
              f"{paid_reads[0]} acknowledged paid reads all charged ({spent // PRICE} charges); audit chains and ledger verify")
        total_acknowledged = len(acknowledged)

    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        sys.exit("FAIL: the server did not stop within 10 s of SIGTERM")
    if code != 0:
        sys.exit(f"FAIL: the server exited {code} on SIGTERM")
    if total_acknowledged == 0 or paid_reads[0] == 0:
        sys.exit("FAIL: no write or paid read was acknowledged, so nothing was tested")
    print(f"crash recovery: {args.cycles} kill -9 cycles, {total_acknowledged} acknowledged writes, none lost")


if __name__ == "__main__":
    main()
