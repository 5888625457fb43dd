#!/usr/bin/env python3
"""An organisation's client for Proffer: terms, rules and receipts, end to end on a live server.

Written the way an integrator would write it: authlib's OAuth2Session gets an access token with the
client credentials grant (RFC 6749 section 4.4, client_secret_basic) from POST /oauth/token and then
sends plain HTTP with it. It shows the four ways a request can end:

  1. refused by terms   - it fetches the person's public terms, sends a request that breaks them,
                          and expects 422 problem+json `terms-refused` naming each broken term
  2. granted by rule    - a verified organisation asks for contact.email for ServiceProvision; the
                          person's standing rule grants it at once; the granted data is read
  3. refused by rule    - the same for DirectMarketing; the person's "never for Marketing" rule refuses
  4. left for person    - a request no rule decides stays pending; the person then grants it

and then fetches, as the organisation, the signed receipt of each decision (GET /v1/receipts?request=,
GET /v1/receipts/{id}), verifies each compact JWS independently with jwcrypto against the live
/.well-known/jwks.json (by kid, EdDSA/Ed25519) and validates its payload against the Kantara v1.1
schema (the checks of receipts_check.py).

The person's side is set up first, as the person (their token from the credentials file), so the run
does not depend on what the demo seeded: their terms are made to include no-onward-sharing, and the
two standing rules are added unless they already exist. Running it again on the same server works.

    org_client.py --base-url URL --credentials FILE [--person bob]

FILE is the JSON `proffer demo --credentials-file` writes. Output: one line per check ("PASS ..." /
"FAIL ...: reasons"), then "N passed, N failed". Exit status 0 only if all four outcomes behaved and
every receipt verified and validated; 1 otherwise; 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client import OAuthError
from jwcrypto import jwk
from jwcrypto.common import JWException

sys.path.insert(0, str(Path(__file__).resolve().parent))
import receipts_check  # noqa: E402  (same directory: JWS verification and the Kantara schema)

PROBLEM_BASE = "https://proffer.dev/problems/"
THIRD_PARTY = {"name": "Onward Analytics Ltd", "purpose": "audience analysis"}
GRANT_RULE = {"action": "grant", "keys": ["contact.email"], "purposes": ["ServiceProvision"],
              "organisationVerified": True, "maxDurationDays": 365,
              "note": "email to verified organisations for a service"}
REFUSE_RULE = {"action": "refuse", "keys": ["*"], "purposes": ["Marketing"],
               "note": "never for marketing"}


class Failed(Exception):
    """A check failed; the message says what was expected and what came back."""


class Tally:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, label: str, detail: str = "") -> None:
        self.passed += 1
        print(f"PASS {label}" + (f": {detail}" if detail else ""), flush=True)

    def fail(self, label: str, why: str) -> None:
        self.failed += 1
        print(f"FAIL {label}: {why}", flush=True)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def body_of(r: requests.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def show(r: requests.Response) -> str:
    return f"{r.request.method} {r.request.path_url} -> {r.status_code} {r.text[:400]}"


def expect_status(r: requests.Response, status: int) -> Any:
    expect(r.status_code == status, f"expected {status}: {show(r)}")
    return body_of(r)


# --------------------------------------------------------------------------------------------
# The two parties
# --------------------------------------------------------------------------------------------

class Organisation:
    """One organisation's API client: an OAuth2Session that fetches (and re-fetches when it expires)
    a client-credentials access token, used for every call."""

    def __init__(self, base: str, creds: dict, timeout: float) -> None:
        self.base = base
        self.name = creds.get("name", creds["client_id"])
        self.timeout = timeout
        token_url = f"{base}/oauth/token"
        self.session = OAuth2Session(
            creds["client_id"], creds["client_secret"],
            token_endpoint_auth_method="client_secret_basic",
            token_endpoint=token_url, grant_type="client_credentials")
        self.session.headers["User-Agent"] = "proffer-org-client/1"
        self.session.headers["Accept"] = "application/json, application/problem+json"
        token = self.session.fetch_token(token_url, grant_type="client_credentials")
        self.scope = token.get("scope", "")
        self.me = expect_status(self.get("/v1/organisation"), 200)

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.base + path, timeout=self.timeout, **kw)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=self.timeout)

    def ask(self, **request) -> requests.Response:
        return self.post("/v1/requests", request)


class Person:
    """The person's side, with their session token from the credentials file."""

    def __init__(self, base: str, creds: dict, timeout: float) -> None:
        self.base = base
        self.handle = creds["handle"]
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {creds['token']}"
        self.session.headers["User-Agent"] = "proffer-org-client/1 (person side)"

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        return self.session.request(method, self.base + path, json=body, timeout=self.timeout)


# --------------------------------------------------------------------------------------------
# Set-up, as the person
# --------------------------------------------------------------------------------------------

def same_rule(existing: dict, wanted: dict) -> bool:
    return (existing.get("action") == wanted["action"]
            and set(existing.get("keys", [])) == set(wanted["keys"])
            and set(existing.get("purposes", [])) == set(wanted.get("purposes", []))
            and existing.get("organisationVerified") == wanted.get("organisationVerified"))


def set_up_person(person: Person, tally: Tally) -> dict[str, Any]:
    """Terms that include no-onward-sharing; the grant and refuse rules. Returns facts for later checks."""
    me = expect_status(person.call("GET", "/v1/me"), 200)
    email = body_of(person.call("GET", "/v1/me/records/contact.email"))
    expect(isinstance(email, dict) and "value" in email,
           f"{person.handle} has no contact.email record to be granted")

    terms = expect_status(person.call("GET", "/v1/me/terms"), 200)["terms"]
    if not any(t["id"] == "no-onward-sharing" for t in terms):
        wanted = [{"id": t["id"], "parameters": t.get("parameters", {})} for t in terms]
        wanted.append({"id": "no-onward-sharing"})
        terms = expect_status(person.call("PUT", "/v1/me/terms", {"terms": wanted}), 200)["terms"]

    rules = expect_status(person.call("GET", "/v1/me/rules"), 200)["items"]
    ids = {}
    for label, wanted in (("grant", GRANT_RULE), ("refuse", REFUSE_RULE)):
        found = next((r for r in rules if same_rule(r, wanted)), None)
        if found is None:
            found = expect_status(person.call("POST", "/v1/me/rules", wanted), 201)
        ids[label] = found["id"]
    tally.ok(f"set-up as {person.handle}",
             f"proffers {', '.join(t['id'] for t in terms)}; rules {ids['grant']} (auto-grant contact.email "
             f"to verified organisations for ServiceProvision), {ids['refuse']} (auto-refuse * for Marketing)")
    return {"person_id": me["id"], "email": email["value"], "rules": ids}


# --------------------------------------------------------------------------------------------
# The four outcomes, as the organisation
# --------------------------------------------------------------------------------------------

def acceptable_request(terms: list[dict], **overrides) -> dict:
    """A request that keeps every proffered term: accepts them all, no third parties, retention
    within max-retention."""
    max_retention = next((t["parameters"].get("days") for t in terms if t["id"] == "max-retention"), None)
    request = {
        "person": overrides.pop("person"),
        "keys": ["contact.email"],
        "purpose": "ServiceProvision",
        "retentionDays": min(365, max_retention or 365),
        "thirdParties": [],
        "durationDays": 90,
        "reason": "To send you statements about the account you opened with us.",
        "acceptedTerms": [t["id"] for t in terms],
    }
    request.update(overrides)
    return request


def refused_by_terms(org: Organisation, handle: str) -> dict:
    r = org.get(f"/v1/people/{handle}/terms")
    terms = expect_status(r, 200)["terms"]
    ids = [t["id"] for t in terms]
    expect(bool(terms), f"{handle} proffers no terms, so no request can break them")

    # Break what can be broken: onward sharing, retention, and not accepting one commitment term.
    request = acceptable_request(terms, person=handle)
    expected: set[str] = set()
    if "no-onward-sharing" in ids:
        request["thirdParties"] = [THIRD_PARTY]
        expected.add("no-onward-sharing")
    days = next((t["parameters"].get("days") for t in terms if t["id"] == "max-retention"), None)
    if days is not None and days < 3650:
        request["retentionDays"] = days + 1
        expected.add("max-retention")
    left_out = next((i for i in ("breach-notification", "delete-on-service-end") if i in ids), ids[-1])
    request["acceptedTerms"] = [i for i in ids if i != left_out]
    expected.add(left_out)

    r = org.ask(**request)
    problem = expect_status(r, 422)
    expect(r.headers.get("Content-Type", "").startswith("application/problem+json"),
           f"Content-Type is {r.headers.get('Content-Type')!r}, expected application/problem+json")
    expect(isinstance(problem, dict) and str(problem.get("type", "")).endswith("/terms-refused"),
           f"type is {problem.get('type') if isinstance(problem, dict) else None!r}, expected …/terms-refused")
    broken = problem.get("brokenTerms")
    expect(isinstance(broken, list) and set(broken) == expected,
           f"brokenTerms {broken!r}, expected exactly {sorted(expected)}")
    expect(str(problem.get("receiptId", "")).startswith("rct_"), f"no receiptId in {problem}")
    expect(str(problem.get("requestId", "")).startswith("req_"), f"no requestId in {problem}")
    for term in expected:
        expect(any(term in e.get("detail", "") for e in problem.get("errors", [])),
               f"errors do not point at {term}: {problem.get('errors')}")
    stored = expect_status(org.get(f"/v1/requests/{problem['requestId']}"), 200)
    expect(stored["state"] == "refused" and stored.get("decidedBy") == "terms",
           f"stored request is {stored['state']} decidedBy {stored.get('decidedBy')!r}, expected refused by terms")
    return {"request": problem["requestId"], "event": "refused", "decidedBy": "terms",
            "receipt": problem["receiptId"],
            "summary": f"{org.name} asked {handle} with third party {THIRD_PARTY['name']!r}, retention "
                       f"{request['retentionDays']} days, not accepting {left_out} -> 422 terms-refused, "
                       f"brokenTerms {sorted(broken)}, request {problem['requestId']}, "
                       f"receipt {problem['receiptId']}"}


def granted_by_rule(org: Organisation, handle: str, terms: list[dict], facts: dict) -> dict:
    request = acceptable_request(terms, person=handle)
    created = expect_status(org.ask(**request), 201)
    rule = facts["rules"]["grant"]
    expect(created["state"] == "granted", f"state {created['state']!r}, expected granted: {created}")
    expect(created.get("decidedBy") == f"rule:{rule}",
           f"decidedBy {created.get('decidedBy')!r}, expected rule:{rule}")
    expect(bool(created.get("decision")), "no decision explanation")
    expect(str(created.get("grantId", "")).startswith("grt_"), f"no grantId in {created}")
    grant = expect_status(org.get(f"/v1/grants/{created['grantId']}"), 200)
    expect(grant["status"] == "active" and grant["keys"] == ["contact.email"],
           f"grant is {grant['status']} for {grant['keys']}, expected active for contact.email")
    data = expect_status(org.get(f"/v1/grants/{created['grantId']}/data"), 200)
    values = {rec["key"]: rec["value"] for rec in data.get("records", [])}
    expect(values.get("contact.email") == facts["email"],
           f"disclosed contact.email is {values.get('contact.email')!r}, expected {facts['email']!r}")
    return {"request": created["id"], "event": "granted", "decidedBy": created["decidedBy"],
            "grant": created["grantId"],
            "summary": f"{org.name} asked {handle} for contact.email for ServiceProvision -> 201 granted by "
                       f"{created['decidedBy']} ({created['decision']}); read contact.email = "
                       f"{values['contact.email']} under {created['grantId']}"}


def refused_by_rule(org: Organisation, handle: str, terms: list[dict], facts: dict) -> dict:
    request = acceptable_request(terms, person=handle, purpose="DirectMarketing",
                                 reason="To send you our offers.")
    created = expect_status(org.ask(**request), 201)
    rule = facts["rules"]["refuse"]
    expect(created["state"] == "refused", f"state {created['state']!r}, expected refused: {created}")
    expect(created.get("decidedBy") == f"rule:{rule}",
           f"decidedBy {created.get('decidedBy')!r}, expected rule:{rule}")
    expect("Marketing" in (created.get("decision") or ""),
           f"decision {created.get('decision')!r} does not mention Marketing")
    expect("grantId" not in created, f"a refused request has grantId {created.get('grantId')}")
    return {"request": created["id"], "event": "refused", "decidedBy": created["decidedBy"],
            "summary": f"{org.name} asked {handle} for contact.email for DirectMarketing -> 201 refused by "
                       f"{created['decidedBy']} ({created['decision']})"}


def left_for_person(org: Organisation, person: Person, terms: list[dict]) -> dict:
    keys = ["identity.name.full", "contact.email"]
    request = acceptable_request(terms, person=person.handle, keys=keys,
                                 reason="To address the statements of your new account to you.")
    created = expect_status(org.ask(**request), 201)
    expect(created["state"] == "pending", f"state {created['state']!r}, expected pending: {created}")
    expect("decidedBy" not in created, f"a pending request has decidedBy {created.get('decidedBy')!r}")
    inbox = expect_status(person.call("GET", f"/v1/me/requests/{created['id']}"), 200)
    expect(inbox["state"] == "pending", f"the person sees it {inbox['state']!r}, expected pending")
    grant = expect_status(person.call("POST", f"/v1/me/requests/{created['id']}/grant",
                                      {"keys": keys, "durationDays": 30}), 201)
    after = expect_status(org.get(f"/v1/requests/{created['id']}"), 200)
    expect(after["state"] == "granted" and after.get("decidedBy") == "person"
           and after.get("grantId") == grant["id"],
           f"after the person's grant the organisation sees {after['state']!r} decidedBy "
           f"{after.get('decidedBy')!r} grantId {after.get('grantId')!r}, expected granted by person {grant['id']}")
    data = expect_status(org.get(f"/v1/grants/{grant['id']}/data"), 200)
    got = sorted(rec["key"] for rec in data.get("records", []))
    expect(got == sorted(keys), f"disclosed {got}, expected {sorted(keys)}")
    return {"request": created["id"], "event": "granted", "decidedBy": "person", "grant": grant["id"],
            "summary": f"{org.name} asked {person.handle} for {', '.join(keys)} for ServiceProvision -> 201 "
                       f"pending (no rule covers identity.name.full); {person.handle} granted it for 30 days "
                       f"-> {grant['id']}; the organisation then read {', '.join(got)}"}


# --------------------------------------------------------------------------------------------
# Receipts, as the organisation
# --------------------------------------------------------------------------------------------

def check_receipts(org: Organisation, outcome: dict, keyset: jwk.JWKSet, validator, person_id: str,
                   tally: Tally, label: str) -> bool:
    """Every receipt of the outcome's request: fetched, verified, validated, about this decision."""
    listing = expect_status(org.get("/v1/receipts", params={"request": outcome["request"]}), 200)
    items = listing.get("items", [])
    expect(bool(items), f"GET /v1/receipts?request={outcome['request']} lists no receipt")
    if outcome.get("receipt"):
        expect(any(i["id"] == outcome["receipt"] for i in items),
               f"receipt {outcome['receipt']} of the refusal is not listed: {[i['id'] for i in items]}")
    expect(any(i["event"] == outcome["event"] for i in items),
           f"no {outcome['event']} receipt among events {[i['event'] for i in items]}")
    all_ok = True
    for item in items:
        what = f"receipt {item.get('id')} ({label}, {item.get('event')})"
        try:
            expect(item.get("requestId") == outcome["request"],
                   f"listed under request {item.get('requestId')}, asked for {outcome['request']}")
            one = expect_status(org.get(f"/v1/receipts/{item['id']}"), 200)
            expect(one.get("jws") == item["jws"], "GET /v1/receipts/{id} returns another JWS than the listing")
            problems, info = receipts_check.check_compact_jws(item["jws"], keyset, validator,
                                                              expected_kid=item.get("kid"))
            expect(not problems, "; ".join(problems))
            payload = json.loads(receipts_check.b64url_decode(item["jws"].split(".")[1]))
            expect(one.get("receipt") == payload, "the decoded `receipt` member differs from the signed payload")
            proffer = payload.get("extensions", {}).get("proffer", {})
            expect(payload.get("consentReceiptID") == item["id"],
                   f"consentReceiptID {payload.get('consentReceiptID')!r} is not the receipt id")
            expect(payload.get("piiPrincipalId") == person_id,
                   f"piiPrincipalId {payload.get('piiPrincipalId')!r}, expected {person_id}")
            expect(proffer.get("requestId") == outcome["request"] and proffer.get("event") == item["event"],
                   f"signed payload says request {proffer.get('requestId')} event {proffer.get('event')}")
            expect(proffer.get("organisationId") == org.me["id"],
                   f"signed payload names organisation {proffer.get('organisationId')}")
            if item["event"] == outcome["event"]:
                expect(proffer.get("decidedBy") == outcome["decidedBy"],
                       f"signed decidedBy {proffer.get('decidedBy')!r}, expected {outcome['decidedBy']!r}")
                expect(proffer.get("grantId") == outcome.get("grant"),
                       f"signed grantId {proffer.get('grantId')!r}, expected {outcome.get('grant')!r}")
            tally.ok(what, f"EdDSA kid={info.get('kid')} verified with jwcrypto, tamper "
                           f"{info.get('tamper')}, Kantara v1.1 valid, decidedBy={proffer.get('decidedBy')}")
        except Failed as exc:
            tally.fail(what, str(exc))
            all_ok = False
    return all_ok


# --------------------------------------------------------------------------------------------

def verified_organisation(base: str, creds: dict, timeout: float) -> Organisation:
    """The first organisation of the credentials file whose GET /v1/organisation says verified."""
    for entry in creds.get("organisations", []):
        org = Organisation(base, entry, timeout)
        if org.me.get("verified") is True:
            return org
    raise Failed("no organisation in the credentials file is verified")


def run(args) -> int:
    tally = Tally()
    creds = json.loads(Path(args.credentials).read_text(encoding="utf-8"))
    base = (args.base_url or creds.get("base_url") or "").rstrip("/")
    if not base:
        print("no --base-url and no base_url in the credentials file", file=sys.stderr)
        return 2
    people = {p["handle"]: p for p in creds.get("people", [])}
    if args.person not in people:
        print(f"no person {args.person!r} in the credentials file", file=sys.stderr)
        return 2
    validator = receipts_check.load_validator(Path(args.schema))

    def step(label: str, fn, *a):
        try:
            result = fn(*a)
            return result
        except Failed as exc:
            tally.fail(label, str(exc))
        except (OAuthError, KeyError, TypeError, ValueError) as exc:
            tally.fail(label, f"{type(exc).__name__}: {exc}")
        return None

    r = requests.get(f"{base}/.well-known/jwks.json", timeout=args.timeout)
    keyset = None
    try:
        keyset = jwk.JWKSet.from_json(r.text) if r.status_code == 200 else None
    except (JWException, ValueError):
        pass
    if keyset is None:
        tally.fail("jwks", f"GET /.well-known/jwks.json -> {r.status_code}: {r.text[:200]}")
    else:
        problems = receipts_check.keyset_problems(keyset)
        if problems:
            tally.fail("jwks", "; ".join(problems))
        else:
            tally.ok("jwks", f"{len(keyset['keys'])} key(s): {', '.join(str(k.get('kid')) for k in keyset['keys'])}")

    person = Person(base, people[args.person], args.timeout)
    facts = step(f"set-up as {args.person}", set_up_person, person, tally)
    org = step("organisation token", verified_organisation, base, creds, args.timeout)
    if org is not None:
        tally.ok("organisation token", f"{org.name} ({org.me['id']}, verified) got a client-credentials "
                                       f"access token from /oauth/token, scope {org.scope!r}")
    if facts is None or org is None:
        return finish(tally)

    terms = step("public terms", lambda: expect_status(org.get(f"/v1/people/{person.handle}/terms"), 200)["terms"])
    if terms is None:
        return finish(tally)
    outcomes = [
        ("1 refused by terms", refused_by_terms, (org, person.handle)),
        ("2 granted by rule", granted_by_rule, (org, person.handle, terms, facts)),
        ("3 refused by rule", refused_by_rule, (org, person.handle, terms, facts)),
        ("4 left for the person", left_for_person, (org, person, terms)),
    ]
    decided = []
    for label, fn, fn_args in outcomes:
        outcome = step(f"outcome {label}", fn, *fn_args)
        if outcome is not None:
            tally.ok(f"outcome {label}", outcome["summary"])
            decided.append((label, outcome))

    if keyset is not None:
        for label, outcome in decided:
            step(f"receipts of outcome {label}", check_receipts, org, outcome, keyset, validator,
                 facts["person_id"], tally, label)
    return finish(tally)


def finish(tally: Tally) -> int:
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 1 if tally.failed or tally.passed == 0 else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", help="server base URL (default: the credentials file's base_url)")
    ap.add_argument("--credentials", required=True, help="credentials JSON written by `proffer demo`")
    ap.add_argument("--person", default="bob", help="handle of the person to ask (default bob)")
    ap.add_argument("--schema", default=str(receipts_check.DEFAULT_SCHEMA),
                    help="Kantara CR v1.1 JSON schema (// comments allowed)")
    ap.add_argument("--timeout", type=float, default=15.0, help="HTTP timeout in seconds")
    args = ap.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except requests.RequestException as exc:
        print(f"HTTP error: {exc}", file=sys.stderr)
        print("0 passed, 1 failed", flush=True)
        sys.exit(1)
