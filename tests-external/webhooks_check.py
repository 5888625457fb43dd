#!/usr/bin/env python3
"""Webhooks end to end: real receivers on 127.0.0.1, a live server, and every delivery checked from the outside.

Starts `proffer serve` on a fresh data directory (SQLite, or the given PostgreSQL URL) with webhooks allowed to
plain-HTTP loopback receivers, a short poll, a 2 s attempt timeout and the retry schedule 1,1,2 s. Each organisation
registers an endpoint served by a Python `http.server` thread that records headers and raw body bytes. Checks:

 1. exactly the permitted organisations are told of a record change: A (active grant, values pushed) gets
    `record.updated` with the new value, and the person's audit log shows the push as a disclosure; B (active grant,
    the person declined pushing) gets the fact without the value; C (grant on another key) and D (grant revoked) get
    nothing; also deletions (no value), records brought in by an import, priced pushes (one disclosure and one
    charge per event, however many endpoints and replays; an unfunded wallet gets the value withheld) and a
    suspended per-month grant (grant.suspended, no record.updated);
 2. every delivery's signature verifies twice, with the `standardwebhooks` package and with hmac by hand, and a
    tampered body does not;
 3. lifecycle events: request.decided + grant.created on a grant, grant.revoked, request.decided refused; each body is
    {type, timestamp, data}; webhook-id is the event id of the delivery log and never changes between attempts, and
    every attempt of one event sends the same bytes;
 4. retries (500, 500, 200 → delivered on the 3rd attempt), failure (always 500 → failed after 4 attempts), replay
    (also of a delivered push: same bytes, nothing disclosed again), endpoint deletion, the delivery log's paging;
 5. hostile receivers (one that hangs, one that redirects, one that answers a 50 MB body, one that drips its answer a
    byte at a time) don't hurt the server nor delay other organisations' events, and bad registrations are refused
    with 422 problem+json, also on a second server without the allow flags (https required, loopback refused);
 6. kill -9 while deliveries are in flight, restart on the same data: every event is eventually delivered and
    acknowledged, each pushed value disclosed (audited) once.

Exits non-zero on any failure. Uses the standard library and `standardwebhooks` (tests-external/requirements.txt).
"""
import argparse
import base64
import hashlib
import hmac
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

TERMS = ["no-stalking", "max-retention", "no-sale", "breach-notification"]
ALL_EVENTS = ["request.decided", "grant.created", "grant.revoked", "grant.expired", "grant.suspended", "record.updated", "person.erased"]
TIMEOUT_SECONDS = 2
RETRY_SCHEDULE = "1,1,2"
FAILURES = []
PROCESSES = []  # every server started, killed on the way out whatever happens
REPLAYED_AFTER_ERASURE = set()  # events whose body rightly changed: the value they pushed was erased since


def ok(condition, message):
    """Prints one line per check; remembers failures (the script goes on, and exits 1 at the end)."""
    print(("ok:   " if condition else "FAIL: ") + message, flush=True)
    if not condition:
        FAILURES.append(message)
    return condition


def fatal(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


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


def expect(answer, status, what):
    if answer[0] != status:
        fatal(f"{what} answered {answer[0]} (expected {status}): {answer[1]}")
    return answer[1]


def wait_for(condition, timeout, interval=0.1):
    """Polls until condition() is truthy (returns its value) or the timeout passes (returns the last value)."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)


def server_env(allow):
    env = {**os.environ, "PROFFER_BCRYPT_COST": "4", "PROFFER_WEBHOOK_POLL_MS": "100",
           "PROFFER_WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS), "PROFFER_WEBHOOK_RETRY_SCHEDULE": RETRY_SCHEDULE}
    for name in ("PROFFER_WEBHOOK_ALLOW_PRIVATE", "PROFFER_WEBHOOK_ALLOW_HTTP"):
        env.pop(name, None)
        if allow:
            env[name] = "1"
    return env


def start(binary, data_dir, port, database, log, allow=True):
    command = [binary, "serve", "--data-dir", data_dir, "--port", str(port), "--host", "127.0.0.1"]
    if database:
        command += ["--database", database]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=server_env(allow))
    PROCESSES.append(process)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            fatal(f"the server exited with {process.returncode} while starting (see {log.name})")
        try:
            if call(base, "GET", "/healthz", timeout=1)[0] == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    fatal("the server did not become healthy within 60 s")


def stop(process, what):
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return ok(False, f"{what} stops within 15 s of SIGTERM")
    return ok(code == 0, f"{what} exits 0 on SIGTERM (exit {code})")


# MARK: Organisations and people

class Org:
    def __init__(self, name, org_id, token):
        self.name, self.id, self.token = name, org_id, token
        self.endpoints = {}  # receiver name -> (endpoint id, secret, receiver)


def org_token(base, org, scope=None):
    basic = base64.b64encode(f"{org['clientId']}:{org['clientSecret']}".encode()).decode()
    form = "grant_type=client_credentials" + (f"&scope={urllib.request.quote(scope)}" if scope else "")
    request = urllib.request.Request(base + "/oauth/token", data=form.encode(),
                                     headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    return json.load(urllib.request.urlopen(request))["access_token"]


def create_org(base, data_dir, name):
    with open(os.path.join(data_dir, "admin.token")) as handle:
        admin = handle.read().strip()
    slug = name.lower().replace(" ", "-")
    org = expect(call(base, "POST", "/v1/admin/organisations", admin, {"name": name, "domain": f"{slug}.example", "verified": True}),
                 201, f"creating organisation {name}")
    made = Org(name, org["id"], org_token(base, org))
    made.credentials = org
    return made


def register(base, org, receiver, events, path="/hook"):
    answer = call(base, "POST", "/v1/organisation/webhooks", org.token,
                  {"url": receiver.url + path, "events": events, "description": f"{org.name} {receiver.name}"})
    endpoint = expect(answer, 201, f"registering {receiver.name} for {org.name}")
    if not endpoint.get("secret", "").startswith("whsec_"):
        fatal(f"the new endpoint has no whsec_ secret: {endpoint}")
    org.endpoints[receiver.name] = (endpoint["id"], endpoint["secret"], receiver)
    receiver.secret = endpoint["secret"]
    receiver.endpoint_id = endpoint["id"]
    return endpoint


def ask(base, org, handle, keys, push=None):
    body = {"person": handle, "keys": keys, "purpose": "ServiceProvision", "retentionDays": 30, "thirdParties": [],
            "durationDays": 30, "reason": "webhooks test", "acceptedTerms": TERMS}
    if push is not None:
        body["pushValues"] = push
    return expect(call(base, "POST", "/v1/requests", org.token, body), 201, f"{org.name} asking for {keys}")


def grant(base, person, request, push=None):
    body = {} if push is None else {"pushValues": push}
    return expect(call(base, "POST", f"/v1/me/requests/{request['id']}/grant", person, body), 201, f"granting {request['id']}")


def deliveries(base, org, state=None):
    found, before = [], None
    while True:
        query = "?limit=200" + (f"&state={state}" if state else "") + (f"&before={before}" if before else "")
        page = expect(call(base, "GET", "/v1/organisation/webhooks/deliveries" + query, org.token), 200, f"{org.name}'s delivery log")
        found += page["deliveries"]
        before = page.get("next")
        if not before:
            return found


def delivery(base, org, event_id, endpoint_id):
    return expect(call(base, "GET", f"/v1/organisation/webhooks/deliveries/{event_id}/{endpoint_id}", org.token), 200,
                  f"{org.name}'s delivery {event_id}")


def audit(base, person):
    entries, after = [], 0
    while True:
        page = expect(call(base, "GET", f"/v1/me/audit?limit=500&after={after}", person), 200, "the audit log")
        entries += page["entries"]
        if not page.get("nextAfter"):
            return entries
        after = page["nextAfter"]


# MARK: Receivers

class Receiver:
    """An HTTP server on 127.0.0.1 that records every request (headers, raw body) and answers as `behaviour` says:
    a function (receiver, record) -> ("status", code) | ("hang", seconds) | ("redirect", location) | ("huge", bytes)."""

    def __init__(self, name, behaviour=None):
        self.name = name
        self.behaviour = behaviour or (lambda receiver, record: ("status", 200))
        self.records = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.secret = None
        self.endpoint_id = None
        self.huge_sent = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.handle_any()

            def do_GET(self):
                self.handle_any()

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": body, "at": time.time(), "answered": None}
                with receiver.lock:
                    receiver.records.append(record)
                    action = receiver.behaviour(receiver, record)
                kind, argument = action
                try:
                    if kind == "hang":
                        receiver.stop.wait(argument)
                        self.close_connection = True
                        return
                    if kind == "redirect":
                        self.send_response(302)
                        self.send_header("Location", argument)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        record["answered"] = 302
                        return
                    if kind == "drip":
                        # A 200 head at once, then one byte every half second (under the idle read timeout) for
                        # `argument` seconds, then the rest of a 70 000-byte body at once.
                        total, sent, until = 70_000, 0, time.time() + argument
                        self.send_response(200)
                        self.send_header("Content-Length", str(total))
                        self.end_headers()
                        self.wfile.flush()
                        record["answered"] = 200
                        try:
                            while time.time() < until and not receiver.stop.is_set():
                                self.wfile.write(b"x")
                                self.wfile.flush()
                                sent += 1
                                time.sleep(0.5)
                            self.wfile.write(b"x" * (total - sent))
                        finally:
                            record["dripped_until"] = time.time()
                        self.close_connection = True
                        return
                    if kind == "huge":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.send_header("Content-Length", str(argument))
                        self.end_headers()
                        record["answered"] = 200
                        chunk = b"x" * (1 << 20)
                        sent = 0
                        try:
                            while sent < argument and not receiver.stop.is_set():
                                self.wfile.write(chunk[:min(len(chunk), argument - sent)])
                                sent += min(len(chunk), argument - sent)
                        finally:
                            receiver.huge_sent.append(sent)
                        self.close_connection = True
                        return
                    answer = b'{"ok":true}'
                    self.send_response(argument)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    record["answered"] = argument
                except OSError:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def messages(self, type_=None):
        """Received requests whose body parses as an event of the type (any type when None)."""
        found = []
        for record in self.snapshot():
            try:
                body = json.loads(record["body"])
            except ValueError:
                continue
            if type_ is None or body.get("type") == type_:
                found.append((record, body))
        return found

    def acknowledged_ids(self):
        return {r["headers"].get("webhook-id") for r in self.snapshot() if r["answered"] and 200 <= r["answered"] < 300}

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def count_per_event(answers):
    """A behaviour: answers[n] for the n-th request (0-based) of each webhook-id, the last one from then on."""
    seen = {}

    def behaviour(receiver, record):
        event = record["headers"].get("webhook-id")
        n = seen.get(event, 0)
        seen[event] = n + 1
        return answers[min(n, len(answers) - 1)]
    return behaviour


# MARK: Signatures

def verify_by_hand(secret, headers, body, tolerance=300):
    """Standard Webhooks verification in a few lines: HMAC-SHA256 over id.timestamp.body, keyed with the secret's bytes."""
    try:
        key = base64.b64decode(secret[len("whsec_"):])
        event_id, timestamp, header = headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
        expected = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        for pair in header.split(" "):
            version, _, signature = pair.partition(",")
            if version == "v1" and hmac.compare_digest(base64.b64decode(signature), expected):
                return True
    except (KeyError, ValueError):
        return False
    return False


def verify_with_library(secret, headers, body):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except Exception:  # WebhookVerificationError, or a malformed header
        return False


def check_signatures(receivers):
    """Every request every receiver got verifies both ways; a tampered body verifies neither way."""
    total, bad, tampered_passed = 0, [], 0
    for receiver in receivers:
        for record in receiver.snapshot():
            if record["method"] != "POST":
                continue
            total += 1
            headers, body = record["headers"], record["body"]
            if not (verify_with_library(receiver.secret, headers, body) and verify_by_hand(receiver.secret, headers, body)):
                bad.append((receiver.name, headers.get("webhook-id")))
            tampered = body.replace(b'"data"', b'"Data"', 1) if body else b"x"
            if verify_with_library(receiver.secret, headers, tampered) or verify_by_hand(receiver.secret, headers, tampered):
                tampered_passed += 1
    ok(total > 0 and not bad, f"signatures: {total} requests to {len(receivers)} receivers verify with standardwebhooks and by hand"
       + (f"; {len(bad)} do not, e.g. {bad[:3]}" if bad else ""))
    ok(total > 0 and tampered_passed == 0, f"signatures: a tampered body fails verification both ways ({tampered_passed} of {total} passed)")


def check_stable_bodies(receivers):
    """Every attempt of one event to one endpoint sends the same bytes, and each body is {type, timestamp, data}."""
    differing, malformed = [], []
    for receiver in receivers:
        by_id = {}
        for record in receiver.snapshot():
            if record["method"] != "POST":
                continue
            by_id.setdefault(record["headers"].get("webhook-id"), set()).add(record["body"])
            try:
                body = json.loads(record["body"])
                if set(body) != {"type", "timestamp", "data"} or body["type"] not in ALL_EVENTS or not isinstance(body["data"], dict):
                    malformed.append((receiver.name, body))
            except ValueError:
                malformed.append((receiver.name, record["body"][:80]))
        differing += [(receiver.name, event) for event, bodies in by_id.items() if len(bodies) > 1 and event not in REPLAYED_AFTER_ERASURE]
    ok(not malformed, "bodies: every request is {\"type\", \"timestamp\", \"data\"} with a known type" + (f"; not: {malformed[:2]}" if malformed else ""))
    ok(not differing, "bodies: every attempt of an event sends the same bytes (but a replay after the value was erased)" + (f"; not: {differing[:3]}" if differing else ""))


# MARK: The checks

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/proffer", help="the proffer binary (default: the debug build)")
    parser.add_argument("--database", default="", help="postgres:// URL; SQLite in the data directory when empty")
    parser.add_argument("--kill-wait", type=float, default=90, help="how long to wait for redelivery after kill -9 (seconds)")
    args = parser.parse_args()
    started = time.time()

    work = tempfile.mkdtemp(prefix="proffer-hooks.")
    data_dir = os.path.join(work, "data")
    log = open(os.path.join(work, "server.log"), "ab")
    print(f"work directory {work} ({'PostgreSQL' if args.database else 'SQLite'})", flush=True)
    port = free_port()
    process, base = start(args.bin, data_dir, port, args.database, log)

    person = expect(call(base, "POST", "/v1/people", body={"email": "hooks@example.org", "password": "hooks test password", "handle": "hooks"}),
                    201, "sign-up")["token"]
    handle = "hooks"
    home = {"lines": ["1 High Street"], "locality": "Bristol", "postalCode": "BS1 1AA", "country": "GB"}
    for key, value in [("address.home", home), ("identity.name.full", "Hook Tester"), ("preference.accessibility", "large print"),
                       ("employment.occupation", "tester")]:
        expect(call(base, "PUT", f"/v1/me/records/{key}", person, {"value": value}), 200, f"writing {key}")

    receivers = []

    def receiver(name, behaviour=None):
        made = Receiver(name, behaviour)
        receivers.append(made)
        return made

    # ---- 1 & 3: who is told, and lifecycle events
    orgs = {name: create_org(base, data_dir, f"Hooks {name}") for name in ["A", "B", "C", "D"]}
    for name, org in orgs.items():
        register(base, org, receiver(name), ALL_EVENTS)
    a, b, c, d = (orgs[n] for n in "ABCD")
    ra, rb, rc, rd = (a.endpoints["A"][2], b.endpoints["B"][2], c.endpoints["C"][2], d.endpoints["D"][2])
    shown = call(base, "GET", f"/v1/organisation/webhooks/{ra.endpoint_id}", a.token)
    listed = call(base, "GET", "/v1/organisation/webhooks", a.token)
    ok(shown[0] == 200 and "secret" not in shown[1] and listed[0] == 200 and [e["id"] for e in listed[1]["endpoints"]] == [ra.endpoint_id]
       and "secret" not in listed[1]["endpoints"][0] and sorted(shown[1]["events"]) == sorted(ALL_EVENTS),
       f"endpoints: A's endpoint is listed with its events, the secret shown only at creation ({shown[0]}, {sorted(shown[1])})")
    foreign = call(base, "GET", f"/v1/organisation/webhooks/{ra.endpoint_id}", b.token)
    ok(foreign[0] == 404, f"endpoints: B cannot see A's endpoint (404) ({foreign[0]})")
    narrow = org_token(base, a.credentials, "requests:write")
    scoped = call(base, "POST", "/v1/organisation/webhooks", narrow, {"url": ra.url + "/x", "events": ["record.updated"]})
    scoped_list = call(base, "GET", "/v1/organisation/webhooks", narrow)
    ok(scoped[0] == 403 and scoped_list[0] == 403, f"endpoints: a token without webhooks:manage is refused (403) ({scoped[0]}, {scoped_list[0]})")

    request_a = ask(base, a, handle, ["address.home", "identity.name.full"], push=True)
    grant_a = grant(base, person, request_a)
    request_b = ask(base, b, handle, ["address.home"], push=True)
    grant_b = grant(base, person, request_b, push=False)
    request_c = ask(base, c, handle, ["identity.name.full"], push=True)
    grant_c = grant(base, person, request_c)
    request_c2 = ask(base, c, handle, ["address.home"], push=True)
    expect(call(base, "POST", f"/v1/me/requests/{request_c2['id']}/refuse", person, {"reason": "not this one"}), 200, "refusing C's second request")
    request_d = ask(base, d, handle, ["address.home"], push=True)
    grant_d = grant(base, person, request_d)
    expect(call(base, "POST", f"/v1/me/grants/{grant_d['id']}/revoke", person, {"reason": "changed my mind"}), 200, "revoking D's grant")
    ok(grant_a.get("pushValues") is True and grant_b.get("pushValues") is False,
       f"grants: A's pushes values, B's does not (the person declined) ({grant_a.get('pushValues')}, {grant_b.get('pushValues')})")

    def lifecycle(receiver_, type_, predicate):
        return [body for _, body in receiver_.messages(type_) if predicate(body["data"])]

    wait_for(lambda: lifecycle(rd, "grant.revoked", lambda x: True) and lifecycle(rc, "request.decided", lambda x: x.get("state") == "refused"), 15)
    for org, rec, req, gr in [(a, ra, request_a, grant_a), (b, rb, request_b, grant_b), (c, rc, request_c, grant_c), (d, rd, request_d, grant_d)]:
        decided = lifecycle(rec, "request.decided", lambda x: x.get("requestId") == req["id"])
        ok(len(decided) >= 1 and decided[0]["data"].get("state") == "granted" and decided[0]["data"].get("grantId") == gr["id"]
           and decided[0]["data"].get("person") == handle,
           f"lifecycle: {org.name} gets request.decided (granted, grantId {gr['id']}) " + (f"got {decided[:1]}" if not decided else ""))
        created = lifecycle(rec, "grant.created", lambda x: x.get("grantId") == gr["id"])
        ok(len(created) >= 1 and created[0]["data"].get("requestId") == req["id"] and created[0]["data"].get("pushValues") == gr.get("pushValues"),
           f"lifecycle: {org.name} gets grant.created for {gr['id']}" + (f" got {created[:1]}" if created and created[0]["data"].get("pushValues") != gr.get("pushValues") else ""))
    refused = lifecycle(rc, "request.decided", lambda x: x.get("requestId") == request_c2["id"])
    ok(len(refused) >= 1 and refused[0]["data"].get("state") == "refused" and "grantId" not in refused[0]["data"],
       f"lifecycle: C gets request.decided with state refused for its second request ({[r['data'].get('state') for r in refused]})")
    revoked = lifecycle(rd, "grant.revoked", lambda x: x.get("grantId") == grant_d["id"])
    ok(len(revoked) >= 1, f"lifecycle: D gets grant.revoked for {grant_d['id']}")
    revoked_elsewhere = [r.name for r in (ra, rb, rc) if r.messages("grant.revoked")]
    ok(not revoked_elsewhere, f"lifecycle: nobody else gets grant.revoked ({revoked_elsewhere})")

    # The person moves house.
    new_home = {"lines": ["2 Harbour Side", "Flat 3"], "locality": "Bristol", "postalCode": "BS1 5TX", "country": "GB"}
    changed = expect(call(base, "PUT", "/v1/me/records/address.home", person, {"value": new_home}), 200, "changing address.home")
    version = changed["version"]
    stored_home = expect(call(base, "GET", "/v1/me/records/address.home", person), 200, "reading address.home")["value"]

    def home_updates(rec):
        return [(r, body) for r, body in rec.messages("record.updated") if body["data"].get("key") == "address.home"]

    wait_for(lambda: home_updates(ra) and home_updates(rb), 15)
    time.sleep(1.0)  # ten polls more: anything wrongly sent to C or D would be on its way by now
    got_a, got_b = home_updates(ra), home_updates(rb)
    ok(len(got_a) >= 1, f"record.updated: A is told ({len(got_a)} requests)")
    if got_a:
        data = got_a[0][1]["data"]
        ok(data.get("value") == stored_home and data.get("value") == new_home,
           f"record.updated: A's event carries the new value ({json.dumps(data.get('value'))})")
        ok(data.get("version") == version and data.get("valueVersion") == version and data.get("change") == "updated"
           and data.get("grantId") == grant_a["id"] and data.get("person") == handle,
           f"record.updated: A's event names key, version {version}, change, grant and person ({ {k: v for k, v in data.items() if k != 'value'} })")
    ok(len(got_b) >= 1, f"record.updated: B is told ({len(got_b)} requests)")
    if got_b:
        data = got_b[0][1]["data"]
        ok("value" not in data and "valueVersion" not in data and data.get("key") == "address.home" and data.get("version") == version
           and data.get("change") == "updated", f"record.updated: B's event has the fact without the value ({data})")
    ok(not home_updates(rc), f"record.updated: C (grant on another key) is not told ({len(home_updates(rc))} requests)")
    ok(not home_updates(rd), f"record.updated: D (revoked grant) is not told ({len(home_updates(rd))} requests)")
    logged = {name: [x for x in deliveries(base, org) if x["type"] == "record.updated"] for name, org in (("C", c), ("D", d))}
    ok(not logged["C"] and not logged["D"], f"record.updated: no delivery to C or D even in their logs ({len(logged['C'])}, {len(logged['D'])})")

    entries = audit(base, person)
    a_event = got_a[0][0]["headers"].get("webhook-id") if got_a else "?"
    pushes_a = [e for e in entries if e["kind"] == "disclosure" and e.get("grant") == grant_a["id"]]
    ok(len(pushes_a) == 1 and a_event in (pushes_a[0].get("note") or "") and "address.home" in pushes_a[0].get("keys", []),
       f"audit: one disclosure for A's push, its note naming the event {a_event} ({[(p.get('keys'), p.get('note')) for p in pushes_a]})")
    pushes_b = [e for e in entries if e["kind"] == "disclosure" and e.get("grant") == grant_b["id"]]
    ok(not pushes_b, f"audit: no disclosure for B's value-less event ({len(pushes_b)})")
    if got_a:
        stored = delivery(base, a, a_event, ra.endpoint_id).get("data", {})
        ok("value" not in stored and stored.get("key") == "address.home", f"delivery log: A's event as stored holds no pushed value ({sorted(stored)})")
        # Replaying a delivered push sends the same bytes again and discloses nothing new.
        answer = call(base, "POST", f"/v1/organisation/webhooks/deliveries/{a_event}/{ra.endpoint_id}/replay", a.token, {})
        ok(answer[0] == 202, f"replay: a delivered event can be replayed (202) ({answer[0]})")
        again = wait_for(lambda: len([x for x in ra.snapshot() if x["headers"].get("webhook-id") == a_event]) >= 2, 10)
        ok(bool(again), "replay: A receives the event again under the same webhook-id")
        wait_for(lambda: all(x["state"] == "delivered" for x in deliveries(base, a)), 10)
        pushes_again = [e for e in audit(base, person) if e["kind"] == "disclosure" and e.get("grant") == grant_a["id"]]
        ok(len(pushes_again) == 1, f"replay: the replayed push is not disclosed (audited) a second time ({len(pushes_again)} disclosures)")

    # Deleting a record tells the holders of active grants on it, without a value.
    expect(call(base, "DELETE", "/v1/me/records/identity.name.full", person), 204, "deleting identity.name.full")

    def deletions(rec):
        return [body["data"] for _, body in rec.messages("record.updated") if body["data"].get("key") == "identity.name.full"]
    wait_for(lambda: deletions(ra) and deletions(rc), 15)
    time.sleep(0.5)
    gone = deletions(ra) + deletions(rc)
    ok(len(deletions(ra)) == 1 and len(deletions(rc)) == 1 and all(x.get("change") == "deleted" and "value" not in x for x in gone),
       f"record.updated: deleting a record tells A and C (change deleted, no value) ({gone})")
    ok(not deletions(rb) and not deletions(rd), "record.updated: B and D (no grant on the key) are not told of the deletion")
    pushes_now = [e for e in audit(base, person) if e["kind"] == "disclosure" and e.get("grant") == grant_a["id"]]
    ok(len(pushes_now) == 1, f"audit: the deletion event discloses nothing ({len(pushes_now)} disclosures for A)")

    # webhook-id is the event id in the delivery log, with the same type.
    mismatched, compared = [], 0
    for org, rec in [(a, ra), (b, rb), (c, rc), (d, rd)]:
        logged = {x["eventId"]: x for x in deliveries(base, org)}
        for record, body in rec.messages():
            compared += 1
            event = record["headers"].get("webhook-id")
            if (event not in logged or logged[event]["type"] != body["type"] or logged[event]["endpointId"] != rec.endpoint_id
                    or logged[event]["eventCreatedAt"] != body["timestamp"]):
                mismatched.append((org.name, event, body["type"]))
        undelivered = [x for x in logged.values() if x["state"] != "delivered"]
        ok(not undelivered, f"delivery log: all {len(logged)} of {org.name}'s deliveries delivered" + (f"; not: {undelivered[:2]}" if undelivered else ""))
    ok(compared > 0 and not mismatched, f"webhook-id: each of {compared} requests names an event of the delivery log with its type and timestamp"
       + (f"; not: {mismatched[:3]}" if mismatched else ""))

    # Records brought in by an import are changes too: a holder of an active grant on the key is told.
    second = expect(call(base, "POST", "/v1/people", body={"email": "hooks2@example.org", "password": "hooks test password", "handle": "hooks-two"}),
                    201, "signing up hooks-two")["token"]
    grant_a2 = grant(base, second, ask(base, a, "hooks-two", ["address.home"], push=True))
    with urllib.request.urlopen(urllib.request.Request(base + "/v1/me/export", headers={"Authorization": "Bearer " + person}), timeout=30) as response:
        archive = response.read()
    imported = urllib.request.Request(base + "/v1/me/import", data=archive, method="POST",
                                      headers={"Authorization": "Bearer " + second, "Content-Type": "application/zip"})
    try:
        with urllib.request.urlopen(imported, timeout=30) as response:
            import_status = response.status
    except urllib.error.HTTPError as error:
        import_status = error.code
    ok(import_status == 201, f"import: hooks-two imports hooks's export ({import_status})")

    def imported_updates():
        return [body["data"] for _, body in ra.messages("record.updated") if body["data"].get("grantId") == grant_a2["id"]]
    wait_for(imported_updates, 5)
    got = imported_updates()
    ok(len(got) == 1 and got[0].get("key") == "address.home" and got[0].get("value") == new_home,
       f"import: A, holding an active grant on hooks-two's address.home with values pushed, is told of the imported value ({got})")

    # Priced pushes: one disclosure, charged once, per event (not per endpoint, not per replay); an unfunded wallet
    # gets the fact with the value withheld.
    price = {"amount": 3, "currency": "EUR"}
    funded, unfunded = create_org(base, data_dir, "Hooks F"), create_org(base, data_dir, "Hooks P")
    with open(os.path.join(data_dir, "admin.token")) as handle_:
        admin = handle_.read().strip()
    expect(call(base, "POST", f"/v1/admin/organisations/{funded.id}/wallet/credits", admin,
                {"amount": {"amount": 1000, "currency": "EUR"}, "reference": "webhooks test"}, headers={"Idempotency-Key": "hooks-funding"}),
           201, "funding F")
    rf1, rf2, rp = receiver("F1"), receiver("F2"), receiver("P")
    register(base, funded, rf1, ["record.updated"])
    register(base, funded, rf2, ["record.updated"])
    register(base, unfunded, rp, ["record.updated"])
    priced = []
    for org in (funded, unfunded):
        body = {"person": handle, "keys": ["address.home"], "purpose": "ServiceProvision", "retentionDays": 30, "thirdParties": [],
                "durationDays": 30, "reason": "webhooks test", "acceptedTerms": TERMS, "pushValues": True,
                "offer": {"kind": "per-disclosure", "price": price}}
        priced.append(grant(base, person, expect(call(base, "POST", "/v1/requests", org.token, body), 201, f"{org.name} asking with a price")))

    # A per-month grant its organisation cannot pay is suspended at once: grant.suspended, and no record.updated.
    # It runs 90 days, so the amount due is a whole month's whatever today's date (30 days of a 31-day month is 30/31).
    monthly = create_org(base, data_dir, "Hooks M")
    rm = receiver("M")
    register(base, monthly, rm, ALL_EVENTS)
    body = {"person": handle, "keys": ["address.home"], "purpose": "ServiceProvision", "retentionDays": 30, "thirdParties": [],
            "durationDays": 90, "reason": "webhooks test", "acceptedTerms": TERMS, "pushValues": True,
            "offer": {"kind": "per-month", "price": {"amount": 100, "currency": "EUR"}}}
    grant_m = grant(base, person, expect(call(base, "POST", "/v1/requests", monthly.token, body), 201, "M asking per month"))
    wait_for(lambda: rm.messages("grant.suspended") and rm.messages("grant.created") and rm.messages("request.decided"), 10)
    suspended = [body_["data"] for _, body_ in rm.messages("grant.suspended")]
    ok(len(suspended) == 1 and suspended[0].get("grantId") == grant_m["id"] and suspended[0].get("amountDue", {}).get("amount") == 100
       and rm.messages("grant.created") and rm.messages("request.decided"),
       f"lifecycle: an unpaid per-month grant is suspended at once: M gets grant.suspended (and grant.created, request.decided) ({suspended})")

    def balance():
        wallet = expect(call(base, "GET", "/v1/organisation/wallet", funded.token), 200, "F's wallet")
        return sum(x["amount"] for x in wallet["balances"] if x["currency"] == "EUR")
    before_push = balance()
    third_home = {"lines": ["3 Quay Street"], "locality": "Bristol", "country": "GB"}
    expect(call(base, "PUT", "/v1/me/records/address.home", person, {"value": third_home}), 200, "changing address.home again")

    def priced_updates(rec):
        return [(r_, body["data"]) for r_, body in rec.messages("record.updated") if body["data"].get("key") == "address.home"]
    wait_for(lambda: priced_updates(rf1) and priced_updates(rf2) and priced_updates(rp), 10)
    f1, f2, pp = priced_updates(rf1), priced_updates(rf2), priced_updates(rp)
    ok(len(f1) == 1 and len(f2) == 1 and f1[0][1].get("value") == third_home and f1[0][0]["body"] == f2[0][0]["body"]
       and f1[0][0]["headers"].get("webhook-id") == f2[0][0]["headers"].get("webhook-id"),
       f"priced push: F's two endpoints get the same event (one webhook-id, same bytes) with the value ({len(f1)}, {len(f2)})")
    wait_for(lambda: all(x["state"] == "delivered" for x in deliveries(base, funded)), 5)
    charged = before_push - balance()
    ok(charged == price["amount"], f"priced push: F's wallet is charged once for the event, not once per endpoint ({charged} minor units)")
    ok(len(pp) == 1 and "value" not in pp[0][1] and "wallet" in (pp[0][1].get("valueWithheld") or ""),
       f"priced push: P (unfunded) gets the fact, the value withheld for its wallet ({pp and pp[0][1]})")
    priced_entries = [e for e in audit(base, person) if e["kind"] == "disclosure" and e.get("grant") in (priced[0]["id"], priced[1]["id"])]
    ok([e.get("grant") for e in priced_entries] == [priced[0]["id"]], f"priced push: one disclosure audited, for F only ({[(e.get('grant') == priced[0]['id'] and 'F' or 'P', e.get('note')) for e in priced_entries]})")
    if f1:
        event = f1[0][0]["headers"].get("webhook-id")
        expect(call(base, "POST", f"/v1/organisation/webhooks/deliveries/{event}/{rf1.endpoint_id}/replay", funded.token, {}), 202, "replaying F's push")
        wait_for(lambda: len(priced_updates(rf1)) >= 2, 10)
        ok(len(priced_updates(rf1)) == 2 and balance() == before_push - price["amount"],
           f"priced push: a replay sends it again without charging again ({len(priced_updates(rf1))} received, {before_push - balance()} charged)")

    ok(not rm.messages("record.updated"), f"record.updated: M (grant suspended) is not told ({len(rm.messages('record.updated'))})")

    # Closing an account: the organisation that held grants is told to erase (person.erased, naming every grant it
    # held), its live grant is revoked and its pending request refused; a replay of a pushed value no longer sends it.
    third = expect(call(base, "POST", "/v1/people", body={"email": "hooks3@example.org", "password": "hooks test password", "handle": "hooks-three"}),
                   201, "signing up hooks-three")["token"]
    for key, value in [("identity.name.full", "Third Hook"), ("address.home", home)]:
        expect(call(base, "PUT", f"/v1/me/records/{key}", third, {"value": value}), 200, f"hooks-three writing {key}")
    erasing = create_org(base, data_dir, "Hooks E")
    re_ = receiver("E")
    register(base, erasing, re_, ALL_EVENTS)
    grant_e1 = grant(base, third, ask(base, erasing, "hooks-three", ["identity.name.full"], push=True))
    grant_e2 = grant(base, third, ask(base, erasing, "hooks-three", ["address.home"]))
    expect(call(base, "POST", f"/v1/me/grants/{grant_e2['id']}/revoke", third, {}), 200, "hooks-three revoking E's second grant")
    pending_e = ask(base, erasing, "hooks-three", ["contact.email"])
    expect(call(base, "PUT", "/v1/me/records/identity.name.full", third, {"value": "Third Hook, Esq."}), 200, "hooks-three changing a record")
    pushed_e = wait_for(lambda: [r_ for r_, body_ in re_.messages("record.updated") if body_["data"].get("value") == "Third Hook, Esq."], 10)
    closed = call(base, "POST", "/v1/me/close", third, {"password": "hooks test password", "confirmHandle": "hooks-three"})
    ok(closed[0] == 200, f"erasure: hooks-three closes their account ({closed[0]})")
    wait_for(lambda: re_.messages("person.erased"), 10)
    time.sleep(0.5)
    erased = [body_["data"] for _, body_ in re_.messages("person.erased")]
    ok(len(erased) == 1 and erased[0].get("person") == "hooks-three" and sorted(erased[0].get("grantIds", [])) == sorted([grant_e1["id"], grant_e2["id"]]),
       f"erasure: E gets one person.erased naming both grants it ever held ({erased})")
    revoked_e = [body_["data"] for _, body_ in re_.messages("grant.revoked") if body_["data"].get("grantId") == grant_e1["id"]]
    ok(len(revoked_e) == 1 and revoked_e[0].get("reason") == "person-erased", f"erasure: E's live grant is revoked, reason person-erased ({revoked_e})")
    refused_e = [body_["data"] for _, body_ in re_.messages("request.decided") if body_["data"].get("requestId") == pending_e["id"]]
    ok(len(refused_e) == 1 and refused_e[0].get("state") == "refused", f"erasure: E's pending request is refused ({refused_e})")
    if pushed_e:
        event = pushed_e[0]["headers"].get("webhook-id")
        expect(call(base, "POST", f"/v1/organisation/webhooks/deliveries/{event}/{re_.endpoint_id}/replay", erasing.token, {}), 202,
               "replaying E's push after the erasure")
        replays = wait_for(lambda: [json.loads(r_["body"])["data"] for r_ in re_.snapshot() if r_["headers"].get("webhook-id") == event][1:], 10)
        ok(bool(replays) and all("value" not in x and x.get("valueWithheld") for x in replays),
           f"erasure: a replay of a value pushed before the erasure no longer carries it ({replays})")
        REPLAYED_AFTER_ERASURE.add(event)
    else:
        ok(False, "erasure: E got the pushed value before the erasure")

    # ---- 4 & 5: retries, failure, replay; hostile receivers. One organisation, one endpoint per behaviour.
    r = create_org(base, data_dir, "Hooks R")
    fixed = threading.Event()
    flaky = receiver("flaky", count_per_event([("status", 500), ("status", 500), ("status", 200)]))
    broken = receiver("always-500", lambda rec, record: ("status", 200 if fixed.is_set() else 500))
    hang = receiver("hang", lambda rec, record: ("hang", 30))
    redirect = receiver("redirect", lambda rec, record: ("redirect", rec.url + "/elsewhere"))
    huge = receiver("huge", lambda rec, record: ("huge", 50 * 1024 * 1024))
    for rec in (flaky, broken, hang, redirect, huge):
        register(base, r, rec, ["record.updated"])
    expect(call(base, "POST", f"/v1/me/requests/{ask(base, r, handle, ['preference.accessibility'])['id']}/grant", person, {}), 201, "granting R")

    latencies, probing = [], threading.Event()

    def probe():
        while not probing.is_set():
            begun = time.time()
            try:
                status = call(base, "GET", "/healthz", timeout=5)[0]
            except OSError:
                status = None
            latencies.append((time.time() - begun, status))
            time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    expect(call(base, "PUT", "/v1/me/records/preference.accessibility", person, {"value": "screen reader"}), 200, "changing preference.accessibility")

    def log_of(rec):
        found = [x for x in deliveries(base, r) if x["endpointId"] == rec.endpoint_id]
        return found[0] if found else None

    def settled(rec, state, attempts=1):
        entry = log_of(rec)
        return entry if entry and entry["state"] == state and entry["attempts"] >= attempts else None

    # While the hanging receiver holds an attempt, another organisation's event must still go out promptly.
    wait_for(lambda: hang.snapshot(), 10, 0.02)
    time.sleep(0.2)
    expect(call(base, "PUT", "/v1/me/records/identity.name.full", person, {"value": "Hook T. Tester"}), 200, "changing identity.name.full")
    changed_at = time.time()

    def name_update(rec):
        return [rec_ for rec_, body in rec.messages("record.updated")
                if body["data"].get("key") == "identity.name.full" and body["data"].get("change") == "updated" and rec_["at"] >= changed_at]
    wait_for(lambda: name_update(ra), 15, 0.02)
    lag = name_update(ra)[0]["at"] - changed_at if name_update(ra) else None
    hang_busy = [x for x in hang.snapshot() if x["at"] < changed_at]
    ok(lag is not None and lag < 1.0, f"isolation: while a receiver hangs ({len(hang_busy)} attempt in flight), A's event arrives in "
       f"{lag and round(lag * 1000)} ms (at most 1000 ms: one slow receiver must not hold up other organisations' deliveries)")

    flaky_log = wait_for(lambda: settled(flaky, "delivered"), 20, 0.25)
    huge_log = wait_for(lambda: log_of(huge) and log_of(huge)["attempts"] >= 1 and log_of(huge)["state"] != "pending" and log_of(huge), 20, 0.25)
    redirect_log = wait_for(lambda: (log_of(redirect) or {}).get("attempts", 0) >= 1 and log_of(redirect).get("lastStatus") and log_of(redirect), 20, 0.25)
    hang_detail = wait_for(lambda: log_of(hang) and delivery(base, r, log_of(hang)["eventId"], hang.endpoint_id).get("attemptLog")
                           and delivery(base, r, log_of(hang)["eventId"], hang.endpoint_id), 20, 0.25)
    broken_log = wait_for(lambda: settled(broken, "failed", 4), 25, 0.25)
    probing.set()
    prober.join(5)

    # Retries
    ok(bool(flaky_log) and flaky_log["attempts"] == 3, f"retries: 500, 500, 200 is delivered on the 3rd attempt ({flaky_log and (flaky_log['state'], flaky_log['attempts'])})")
    flaky_ids = [rec["headers"].get("webhook-id") for rec in flaky.snapshot()]
    ok(len(flaky_ids) == 3 and len(set(flaky_ids)) == 1 and flaky_log and flaky_ids[0] == flaky_log["eventId"],
       f"retries: the receiver saw 3 requests with one webhook-id, the event id ({flaky_ids})")
    delivered_ids = {x["eventId"] for x in deliveries(base, r, "delivered") if x["endpointId"] == flaky.endpoint_id}
    ok(flaky_log is not None and flaky_log["eventId"] in delivered_ids, "retries: the delivery is listed under ?state=delivered")
    if flaky_log:
        detail = delivery(base, r, flaky_log["eventId"], flaky.endpoint_id)
        statuses = [x.get("status") for x in detail.get("attemptLog", [])]
        ok(statuses == [500, 500, 200] and [x["attempt"] for x in detail["attemptLog"]] == [1, 2, 3] and detail.get("deliveredAt"),
           f"retries: the delivery's attempt log is 500, 500, 200 ({statuses})")
    # Failure and replay
    ok(bool(broken_log) and broken_log["attempts"] == 4 and broken_log["lastStatus"] == 500,
       f"failure: always 500 is failed after 4 attempts (schedule {RETRY_SCHEDULE}) ({broken_log and (broken_log['state'], broken_log['attempts'])})")
    failed_ids = {x["eventId"] for x in deliveries(base, r, "failed") if x["endpointId"] == broken.endpoint_id}
    ok(broken_log is not None and broken_log["eventId"] in failed_ids, "failure: the delivery is listed under ?state=failed")
    if broken_log:
        detail = delivery(base, r, broken_log["eventId"], broken.endpoint_id)
        ok([x.get("status") for x in detail.get("attemptLog", [])] == [500] * 4, f"failure: 4 attempts logged, each 500 ({[x.get('status') for x in detail.get('attemptLog', [])]})")
        fixed.set()
        answer = call(base, "POST", f"/v1/organisation/webhooks/deliveries/{broken_log['eventId']}/{broken.endpoint_id}/replay", r.token, {})
        ok(answer[0] == 202, f"replay: answers 202 ({answer[0]})")
        replayed = wait_for(lambda: settled(broken, "delivered"), 15, 0.25)
        ok(bool(replayed) and replayed["attempts"] == 5, f"replay: delivered after the fix, on attempt 5 ({replayed and (replayed['state'], replayed['attempts'])})")
        broken_ids = {rec["headers"].get("webhook-id") for rec in broken.snapshot()}
        ok(len(broken.snapshot()) == 5 and broken_ids == {broken_log["eventId"]}, f"replay: the receiver saw 5 requests, all with the event's id ({len(broken.snapshot())}, {broken_ids})")
        again = call(base, "POST", f"/v1/organisation/webhooks/deliveries/{broken_log['eventId']}/{broken.endpoint_id}/replay", b.token, {})
        ok(again[0] == 404, f"replay: another organisation cannot replay it (404) ({again[0]})")
    # Hostile receivers
    if hang_detail:
        first = hang_detail["attemptLog"][0]
        ok(first.get("status") is None and "timeout" in (first.get("error") or "") and TIMEOUT_SECONDS * 1000 * 0.9 <= first["durationMs"] <= TIMEOUT_SECONDS * 1000 + 3000,
           f"hostile: a receiver that never answers is cut off at the timeout ({first})")
    else:
        ok(False, "hostile: the hanging receiver's first attempt was logged")
    if hang_detail:
        hang_event = hang_detail["eventId"]
        pending = call(base, "POST", f"/v1/organisation/webhooks/deliveries/{hang_event}/{hang.endpoint_id}/replay", r.token, {})
        ok(pending[0] == 409, f"replay: a delivery still pending is not replayed (409) ({pending[0]}, state {hang_detail['state']})")
        deleted_at = time.time()
        answer = call(base, "DELETE", f"/v1/organisation/webhooks/{hang.endpoint_id}", r.token)
        ok(answer[0] == 204, f"endpoints: deleting the hanging receiver's endpoint answers 204 ({answer[0]})")
        shown = call(base, "GET", f"/v1/organisation/webhooks/{hang.endpoint_id}", r.token)
        ok(shown[0] == 200 and shown[1].get("deletedAt"), f"endpoints: a deleted endpoint is still shown, with deletedAt ({shown[0]})")
        after = delivery(base, r, hang_event, hang.endpoint_id)
        ok(after["state"] == "failed" and "deleted" in (after.get("lastError") or ""),
           f"endpoints: its pending delivery failed, saying the endpoint was deleted ({after['state']}, {after.get('lastError')!r})")
        gone = call(base, "POST", f"/v1/organisation/webhooks/deliveries/{hang_event}/{hang.endpoint_id}/replay", r.token, {})
        ok(gone[0] == 409, f"replay: a delivery to a deleted endpoint is not replayed (409) ({gone[0]})")
    if redirect_log:
        detail = delivery(base, r, redirect_log["eventId"], redirect.endpoint_id)
        first = detail["attemptLog"][0]
        followed = [rec["path"] for rec in redirect.snapshot() if rec["path"] != "/hook"]
        ok(first.get("status") == 302 and "redirect" in (first.get("error") or ""), f"hostile: a redirect is an error mentioning it ({first})")
        ok(not followed, f"hostile: the redirect is not followed ({followed})")
    else:
        ok(False, "hostile: the redirecting receiver's attempt was logged")
    if huge_log:
        detail = delivery(base, r, huge_log["eventId"], huge.endpoint_id)
        first = detail["attemptLog"][0]
        ok(first["durationMs"] < (TIMEOUT_SECONDS + 3) * 1000, f"hostile: a 50 MB answer is recorded without being read ({first}, {huge_log['state']})")
        time.sleep(0.5)
        sent = huge.huge_sent[0] if huge.huge_sent else None
        ok(sent is None or sent < 50 * 1024 * 1024, f"hostile: the server stopped reading the 50 MB answer (sent {sent} bytes before it hung up)")
    else:
        ok(False, "hostile: the 50 MB receiver's attempt was logged")
    slowest = max((x[0] for x in latencies), default=None)
    unhealthy = [x for x in latencies if x[1] != 200]
    ok(len(latencies) >= 10 and slowest < 1.0 and not unhealthy,
       f"hostile: /healthz answered fast throughout ({len(latencies)} probes, slowest {slowest and round(slowest * 1000)} ms, {len(unhealthy)} not 200)")

    # Bad registrations
    def refused(server, org, body, pointer, mention=None):
        status, problem, headers = call(server, "POST", "/v1/organisation/webhooks", org.token, body, with_headers=True)
        pointers = [e.get("pointer", "") for e in (problem or {}).get("errors", [])]
        details = " ".join(e.get("detail", "") for e in (problem or {}).get("errors", []))
        content = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        return ok(status == 422 and content.startswith("application/problem+json") and any(p.startswith(pointer) for p in pointers)
                  and (mention is None or mention in details.lower()),
                  f"registration: {json.dumps(body)} is refused with 422 problem+json at {pointer}" + (f" mentioning {mention!r}" if mention else "")
                  + f" ({status}, {pointers}, {details[:100]!r})")

    others = sorted({body["type"] for rec in (flaky, broken, hang, redirect, huge) for _, body in rec.messages()} - {"record.updated"})
    ok(not others, f"subscriptions: endpoints subscribed only to record.updated get nothing else, not R's grant.created ({others})")
    if hang_detail:
        late = [x for x in hang.snapshot() if x["at"] > deleted_at]
        ok(not late, f"endpoints: nothing is sent to a deleted endpoint ({len(late)} requests after deletion)")

    good = flaky.url + "/hook"
    refused(base, r, {"url": "ftp://x", "events": ["record.updated"]}, "/url")
    refused(base, r, {"url": "not a url", "events": ["record.updated"]}, "/url")
    refused(base, r, {"url": "https://user:pw@host.example/", "events": ["record.updated"]}, "/url")
    refused(base, r, {"url": good, "events": ["record.updated", "record.exploded"]}, "/events")
    refused(base, r, {"url": good, "events": []}, "/events")
    refused(base, r, {"url": good, "events": ["record.updated"], "description": "bell\u0007"}, "/description")
    refused(base, r, {"url": good + "#frag", "events": ["record.updated"]}, "/url")

    # At most 20 live endpoints an organisation; a deleted one frees its place.
    many = create_org(base, data_dir, "Hooks Many")
    made = [call(base, "POST", "/v1/organisation/webhooks", many.token, {"url": f"{good}/{n}", "events": ["grant.created"]}) for n in range(20)]
    extra = call(base, "POST", "/v1/organisation/webhooks", many.token, {"url": f"{good}/21", "events": ["grant.created"]})
    ok(all(m[0] == 201 for m in made) and extra[0] == 409, f"endpoints: 20 register, the 21st is refused with 409 ({extra[0]})")
    call(base, "DELETE", f"/v1/organisation/webhooks/{made[0][1]['id']}", many.token)
    again = call(base, "POST", "/v1/organisation/webhooks", many.token, {"url": f"{good}/21", "events": ["grant.created"]})
    ok(again[0] == 201, f"endpoints: after deleting one, another registers ({again[0]})")

    # The delivery log pages and filters.
    everything = deliveries(base, r)
    paged, before, pages = [], None, 0
    while pages < 50:
        page = expect(call(base, "GET", "/v1/organisation/webhooks/deliveries?limit=2" + (f"&before={before}" if before else ""), r.token), 200, "a page")
        paged += page["deliveries"]
        pages += 1
        before = page.get("next")
        if not before:
            break
    key_of = lambda x: (x["eventId"], x["endpointId"])
    ok([key_of(x) for x in paged] == [key_of(x) for x in everything] and len(everything) >= 5,
       f"delivery log: {pages} pages of 2 give the same {len(everything)} deliveries, newest first, as one page")
    only = deliveries(base, r, "failed")
    by_endpoint = expect(call(base, "GET", f"/v1/organisation/webhooks/deliveries?endpoint={flaky.endpoint_id}", r.token), 200, "by endpoint")
    ok(all(x["state"] == "failed" for x in only) and {x["endpointId"] for x in by_endpoint["deliveries"]} == {flaky.endpoint_id},
       "delivery log: ?state and ?endpoint filter")
    bad = [call(base, "GET", f"/v1/organisation/webhooks/deliveries?{q}", r.token)[0] for q in ("state=lost", "endpoint=nope", "limit=0", "before=x")]
    ok(bad == [400] * 4, f"delivery log: bad state, endpoint, limit or before answer 400 ({bad})")
    if flaky_log:
        foreign = call(base, "GET", f"/v1/organisation/webhooks/deliveries/{flaky_log['eventId']}/{flaky.endpoint_id}", a.token)
        ok(foreign[0] == 404, f"delivery log: another organisation cannot read a delivery (404) ({foreign[0]})")

    allowless_dir = os.path.join(work, "strict")
    allowless_log = open(os.path.join(work, "strict.log"), "ab")
    strict, strict_base = start(args.bin, allowless_dir, free_port(), "", allowless_log, allow=False)
    s = create_org(strict_base, allowless_dir, "Hooks Strict")
    refused(strict_base, s, {"url": good, "events": ["record.updated"]}, "/url", "https")
    # One message for every refused address, naming no range: it must not map the operator's network for the caller.
    refused(strict_base, s, {"url": "https://127.0.0.1/hook", "events": ["record.updated"]}, "/url", "public internet addresses")
    refused(strict_base, s, {"url": "https://localhost/hook", "events": ["record.updated"]}, "/url")
    refused(strict_base, s, {"url": "https://10.1.2.3/hook", "events": ["record.updated"]}, "/url", "public internet addresses")
    refused(strict_base, s, {"url": "https://[2002:7f00:1::]/hook", "events": ["record.updated"]}, "/url")
    refused(strict_base, s, {"url": "https://[::ffff:127.0.0.1]/hook", "events": ["record.updated"]}, "/url")
    stop(strict, "the strict server")

    # A receiver that answers at once but drips its body, a byte at a time under the idle timeout: the attempt's
    # deadline must still hold (the whole exchange, not only the head), and nobody else must wait for it.
    drip_seconds = 4 * TIMEOUT_SECONDS
    dripping = create_org(base, data_dir, "Hooks Drip")
    drip = receiver("drip", lambda rec, record: ("drip", drip_seconds))
    register(base, dripping, drip, ["record.updated"])
    grant(base, person, ask(base, dripping, handle, ["preference.accessibility"]))
    expect(call(base, "PUT", "/v1/me/records/preference.accessibility", person, {"value": "subtitles"}), 200, "changing preference.accessibility")
    wait_for(lambda: drip.snapshot(), 10, 0.02)
    time.sleep(0.2)
    expect(call(base, "PUT", "/v1/me/records/identity.name.full", person, {"value": "Hook Tester III"}), 200, "changing identity.name.full")
    changed_at = time.time()
    wait_for(lambda: name_update(ra), drip_seconds + 10, 0.02)
    lag = name_update(ra)[0]["at"] - changed_at if name_update(ra) else None
    ok(lag is not None and lag < 1.0, f"isolation: while a receiver drips its answer, A's event arrives in {lag and round(lag * 1000)} ms (at most 1000 ms)")
    drip_log = wait_for(lambda: [x for x in deliveries(base, dripping) if x["endpointId"] == drip.endpoint_id and x.get("lastAttemptAt")
                                 and (x["state"] != "pending" or x.get("lastError"))], drip_seconds + 10, 0.25)
    if drip_log:
        first = delivery(base, dripping, drip_log[0]["eventId"], drip.endpoint_id)["attemptLog"][0]
        ok(first["durationMs"] <= (TIMEOUT_SECONDS + 1.5) * 1000,
           f"hostile: an answer dripped a byte at a time is cut off at the {TIMEOUT_SECONDS} s timeout ({first})")
    else:
        ok(False, "hostile: the dripping receiver's attempt was logged")

    # ---- 6: kill -9 mid-delivery
    k = create_org(base, data_dir, "Hooks K")
    stalled = []

    def stall_first(rec, record):
        event = record["headers"].get("webhook-id")
        if not any(s_ == event for s_ in stalled):
            stalled.append(event)
            return ("hang", 60)
        return ("status", 200)

    killer = receiver("stall", stall_first)
    register(base, k, killer, ["record.updated"])
    grant_k = grant(base, person, ask(base, k, handle, ["employment.occupation"], push=True))
    events_before = {x["eventId"] for x in deliveries(base, k)}
    changes = 6
    for n in range(changes):
        expect(call(base, "PUT", "/v1/me/records/employment.occupation", person, {"value": f"tester {n}"}), 200, "changing employment.occupation")
    wait_for(lambda: stalled, 10, 0.02)
    time.sleep(0.5)
    in_flight = len(stalled)
    process.send_signal(signal.SIGKILL)
    process.wait()
    ok(in_flight >= 1, f"kill: {in_flight} deliveries in flight (held by the receiver) when the server was killed with SIGKILL")
    restarted = time.time()
    process, base = start(args.bin, data_dir, port, args.database, log)
    events = [x for x in deliveries(base, k) if x["eventId"] not in events_before and x["type"] == "record.updated"]
    ok(len(events) == changes, f"kill: the delivery log holds all {changes} record.updated events after restart ({len(events)})")
    wanted = {x["eventId"] for x in events}
    arrived = wait_for(lambda: wanted <= killer.acknowledged_ids() and killer.acknowledged_ids(), args.kill_wait, 0.25)
    missing = wanted - killer.acknowledged_ids()
    ok(not missing and len(wanted) == changes, f"kill: every event arrived and was acknowledged after restart, in {round(time.time() - restarted)} s"
       + (f"; missing {sorted(missing)}" if missing else ""))
    after = wait_for(lambda: all(x["state"] == "delivered" for x in deliveries(base, k) if x["eventId"] in wanted)
                     and deliveries(base, k), 10, 0.25)
    ok(bool(after), "kill: the delivery log shows them all delivered")
    entries = audit(base, person)
    per_event = {event: sum(1 for e in entries if e["kind"] == "disclosure" and e.get("grant") == grant_k["id"] and event in (e.get("note") or ""))
                 for event in wanted}
    ok(all(n == 1 for n in per_event.values()), f"kill: each pushed value was disclosed (audited) exactly once ({sorted(per_event.values())})")
    history = {item["version"]: item.get("value") for item in
               expect(call(base, "GET", "/v1/me/records/employment.occupation/history", person), 200, "the history of employment.occupation")["items"]}
    values, wrong = {}, []
    for _, body in killer.messages("record.updated"):
        data = body["data"]
        values.setdefault(data.get("version"), data.get("valueVersion"))
        if not (isinstance(data.get("valueVersion"), int) and data["valueVersion"] >= data.get("version", 0)
                and "value" in data and data["value"] == history.get(data["valueVersion"])):
            wrong.append(data)
    ok(not wrong, "kill: every event carries a pushed value, the record's value at its valueVersion (at or after the event's version)"
       + f" (event version -> value version {dict(sorted(values.items()))})" + (f"; not: {wrong[:2]}" if wrong else ""))
    verify = [args.bin, "audit", "verify", "--all", "--data-dir", data_dir] + (["--database", args.database] if args.database else [])
    result = subprocess.run(verify, capture_output=True, text=True)
    ok(result.returncode == 0, "kill: the audit chains verify after the restart" + ("" if result.returncode == 0 else f":\n{result.stdout}{result.stderr}"))

    # ---- 2 (over everything received) and bodies
    check_signatures(receivers)
    check_stable_bodies(receivers)

    stop(process, "the server")
    for rec in receivers:
        rec.close()
    elapsed = time.time() - started
    if FAILURES:
        print(f"webhooks check: {len(FAILURES)} FAILED in {elapsed:.0f} s (server log in {work})")
        sys.exit(1)
    print(f"webhooks check: all passed in {elapsed:.0f} s")


if __name__ == "__main__":
    try:
        main()
    finally:
        for leftover in PROCESSES:
            if leftover.poll() is None:
                leftover.kill()
                leftover.wait()
