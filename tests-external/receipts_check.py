#!/usr/bin/env python3
"""Independent check of a Proffer server's signed consent receipts.

Each receipt is a compact JWS (RFC 7515) whose payload is a Kantara Initiative Consent Receipt
v1.1 JSON object. This script verifies receipts with third-party code only (jwcrypto for JOSE,
jsonschema for the published Kantara schema), so it does not share a bug with the server.

Modes:

  Online (against a running server):
    receipts_check.py --base-url URL --credentials FILE [--schema PATH] [--sample N]
      * GET URL/.well-known/jwks.json                      -> jwcrypto JWKSet
      * GET URL/v1/me/receipts  (Bearer people[0].token)   -> {"items": [{"id","event","issuedAt",
                                                              "kid","jws","requestId","grantId"?}]}
      * for up to N receipts (default 20): verify, validate, tamper-check (see check_compact_jws)

  Offline (one saved receipt):
    receipts_check.py --jws FILE --jwks FILE [--schema PATH]
      FILE for --jws holds the compact JWS, or a JSON object with a "jws" member (a listing item).

  Self test (no server; exercises the checker, including that it rejects bad receipts):
    receipts_check.py --self-test

Output: one line per receipt ("PASS ..." / "FAIL ...: reasons"), then "N passed, N failed".
Exit status 1 on any failure or when no receipt was checked, 2 on bad usage.

Dependencies: jsonschema, jwcrypto, requests (pinned in requirements.txt / constraints.txt).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import zipfile
import sys
from pathlib import Path
from typing import Any

import jsonschema
import requests
from jsonschema.validators import validator_for
from jwcrypto import jwk, jws
from jwcrypto.common import JWException

HERE = Path(__file__).resolve().parent
DEFAULT_SCHEMA = HERE / "schemas" / "kantara-consent-receipt-v1.1.schema.json"
SAMPLE_RECEIPT = HERE / "schemas" / "sample-receipt.json"
EXPECTED_VERSION = "KI-CR-v1.1.0"
EXPECTED_ALG = "EdDSA"
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# --------------------------------------------------------------------------------------------
# Schema loading
# --------------------------------------------------------------------------------------------

def strip_json_comments(text: str) -> str:
    """Remove // line comments and /* */ block comments that lie outside JSON strings.

    The published Kantara v1.1 schema file starts with two `//` comment lines, which plain JSON
    does not allow; the file is kept verbatim and the comments are dropped here.
    """
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j  # keep the newline itself
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated /* comment in schema")
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def load_validator(schema_path: Path) -> jsonschema.protocols.Validator:
    text = schema_path.read_text(encoding="utf-8")
    schema = json.loads(strip_json_comments(text))
    cls = validator_for(schema)  # Draft4Validator for the Kantara file ("$schema": draft-04)
    cls.check_schema(schema)
    return cls(schema)


# --------------------------------------------------------------------------------------------
# JWS helpers
# --------------------------------------------------------------------------------------------

def b64url_decode(segment: str) -> bytes:
    if any(ch not in B64URL_ALPHABET for ch in segment):
        raise ValueError("segment is not base64url (RFC 7515 section 2: no padding, URL alphabet)")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def tamper_payload(compact: str) -> str:
    """Return `compact` with one character of the payload segment replaced by another
    base64url character. A character away from the end is chosen, so all six of its bits are
    significant and the decoded payload really changes (the last character may carry unused
    low bits that a lenient decoder ignores)."""
    header, payload, signature = compact.split(".")
    if len(payload) < 2:
        raise ValueError("payload segment too short to tamper with")
    pos = len(payload) // 2
    old = payload[pos]
    new = B64URL_ALPHABET[(B64URL_ALPHABET.index(old) + 1) % 64]
    tampered = payload[:pos] + new + payload[pos + 1:]
    if b64url_decode(tampered) == b64url_decode(payload):
        raise AssertionError("tampering did not change the decoded payload")
    return ".".join((header, tampered, signature))


def verify_with_jwcrypto(compact: str, key: jwk.JWK) -> bytes:
    """Verify `compact` with `key`, allowing only EdDSA. Returns the payload bytes.
    Raises jwcrypto exceptions on any failure."""
    token = jws.JWS()
    token.allowed_algs = [EXPECTED_ALG]
    token.deserialize(compact)
    token.verify(key, alg=EXPECTED_ALG)
    return token.payload


def check_compact_jws(compact: str, keyset: jwk.JWKSet, validator,
                      expected_kid: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """All checks on one receipt. Returns (problems, info); no problems means it passed."""
    problems: list[str] = []
    info: dict[str, Any] = {}
    compact = compact.strip()
    parts = compact.split(".")
    if len(parts) != 3:
        return [f"not a compact JWS: {len(parts)} dot-separated segments, expected 3"], info
    if not parts[1]:
        return ["detached/empty payload: a receipt must carry its payload"], info

    # Protected header
    try:
        header = json.loads(b64url_decode(parts[0]))
    except (ValueError, json.JSONDecodeError) as exc:
        return [f"protected header is not base64url JSON: {exc}"], info
    if not isinstance(header, dict):
        return ["protected header is not a JSON object"], info
    alg, kid = header.get("alg"), header.get("kid")
    info["alg"], info["kid"] = alg, kid
    if alg != EXPECTED_ALG:
        problems.append(f"header alg is {alg!r}, expected {EXPECTED_ALG!r}")
    if not isinstance(kid, str) or not kid:
        problems.append("header has no kid")
    if header.get("b64") is False:
        problems.append("header sets b64=false (unencoded payload) - not accepted for receipts")
    if "crit" in header:
        problems.append(f"header has crit {header['crit']!r} - no critical extensions expected")
    if expected_kid is not None and kid != expected_kid:
        problems.append(f"header kid {kid!r} differs from listing kid {expected_kid!r}")
    if problems:
        return problems, info

    # Key
    try:
        key = keyset.get_key(kid)
    except JWException as exc:
        return [f"JWKS lookup for kid {kid!r} failed: {exc}"], info
    if key is None:
        known = sorted(str(k.get("kid")) for k in keyset["keys"])
        return [f"no key with kid {kid!r} in JWKS (kids: {', '.join(known) or 'none'})"], info
    if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        return [f"key {kid!r} is kty={key.get('kty')!r} crv={key.get('crv')!r}, "
                "expected kty='OKP' crv='Ed25519'"], info
    if key.get("alg") not in (None, EXPECTED_ALG):
        problems.append(f"key {kid!r} declares alg {key.get('alg')!r}, expected EdDSA or none")
    if key.get("use") not in (None, "sig"):
        problems.append(f"key {kid!r} declares use {key.get('use')!r}, expected 'sig' or none")

    # Signature
    try:
        payload_bytes = verify_with_jwcrypto(compact, key)
    except JWException as exc:
        return problems + [f"signature verification failed: {type(exc).__name__}: {exc}"], info

    # Tampering must be detected
    try:
        verify_with_jwcrypto(tamper_payload(compact), key)
        problems.append("TAMPERED payload still verified - signature does not cover the payload")
    except JWException:
        info["tamper"] = "rejected"
    except (ValueError, AssertionError) as exc:
        problems.append(f"could not run tamper check: {exc}")

    # Payload
    try:
        payload = json.loads(payload_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return problems + [f"payload is not UTF-8 JSON: {exc}"], info
    if not isinstance(payload, dict):
        return problems + ["payload is not a JSON object"], info
    info["consentReceiptID"] = payload.get("consentReceiptID")
    if payload.get("version") != EXPECTED_VERSION:
        problems.append(f"version is {payload.get('version')!r}, expected {EXPECTED_VERSION!r}")
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    for err in errors[:10]:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        problems.append(f"schema: {where}: {err.message}")
    if len(errors) > 10:
        problems.append(f"schema: ... and {len(errors) - 10} more errors")
    return problems, info


def keyset_problems(keyset: jwk.JWKSet) -> list[str]:
    """Problems with the published key set as a whole."""
    problems = []
    keys = list(keyset["keys"])
    if not keys:
        problems.append("JWKS has no keys")
    for k in keys:
        if k.has_private:
            problems.append(f"JWKS key {k.get('kid')!r} contains PRIVATE key material")
    kids = [k.get("kid") for k in keys]
    dup = sorted({str(x) for x in kids if kids.count(x) > 1})
    if dup:
        problems.append(f"JWKS has duplicate kids: {', '.join(dup)}")
    return problems


# --------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------

class Tally:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def report(self, label: str, problems: list[str], detail: str = "") -> None:
        if problems:
            self.failed += 1
            print(f"FAIL {label}: " + "; ".join(problems), flush=True)
        else:
            self.passed += 1
            print(f"PASS {label}" + (f" {detail}" if detail else ""), flush=True)

    def finish(self) -> int:
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed or self.passed == 0 else 0


def read_compact(path: Path) -> tuple[str, str | None]:
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        obj = json.loads(text)
        return str(obj["jws"]).strip(), obj.get("kid")
    return text, None


def pick_sample(items: list, n: int) -> list:
    """Deterministic, spread-out sample of at most n items (keeps first and last)."""
    if len(items) <= n:
        return list(items)
    if n == 1:
        return [items[0]]
    step = (len(items) - 1) / (n - 1)
    return [items[round(i * step)] for i in range(n)]


def run_offline(args, validator) -> int:
    tally = Tally()
    keyset = jwk.JWKSet.from_json(Path(args.jwks).read_text(encoding="utf-8"))
    for p in keyset_problems(keyset):
        tally.report("jwks", [p])
    compact, listing_kid = read_compact(Path(args.jws))
    problems, info = check_compact_jws(compact, keyset, validator, expected_kid=listing_kid)
    tally.report(f"{args.jws}", problems,
                 f"kid={info.get('kid')} consentReceiptID={info.get('consentReceiptID')} "
                 f"tamper={info.get('tamper')}")
    return tally.finish()


def run_online(args, validator) -> int:
    tally = Tally()
    creds = json.loads(Path(args.credentials).read_text(encoding="utf-8"))
    base = (args.base_url or creds.get("base_url") or "").rstrip("/")
    if not base:
        print("no --base-url and no base_url in credentials", file=sys.stderr)
        return 2
    people = creds.get("people") or []
    if not people or not people[0].get("token"):
        print("credentials file has no people[0].token", file=sys.stderr)
        return 2
    session = requests.Session()
    session.headers["User-Agent"] = "proffer-receipts-check/1"

    r = session.get(f"{base}/.well-known/jwks.json", timeout=args.timeout)
    if r.status_code != 200:
        tally.report("jwks", [f"GET /.well-known/jwks.json -> {r.status_code}: {r.text[:200]}"])
        return tally.finish()
    try:
        keyset = jwk.JWKSet.from_json(r.text)
    except (JWException, ValueError) as exc:
        tally.report("jwks", [f"not a JWK Set: {exc}"])
        return tally.finish()
    for p in keyset_problems(keyset):
        tally.report("jwks", [p])

    r = session.get(f"{base}/v1/me/receipts", timeout=args.timeout,
                    headers={"Authorization": f"Bearer {people[0]['token']}",
                             "Accept": "application/json"})
    if r.status_code != 200:
        tally.report("receipts", [f"GET /v1/me/receipts -> {r.status_code}: {r.text[:200]}"])
        return tally.finish()
    try:
        items = r.json()["items"]
        assert isinstance(items, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        tally.report("receipts", [f"GET /v1/me/receipts: body is not {{\"items\": [...]}}: "
                                  f"{r.text[:200]}"])
        return tally.finish()
    if not items:
        print(f"no receipts listed for {people[0].get('handle', 'people[0]')}", flush=True)

    for item in pick_sample(items, args.sample):
        label = str(item.get("id", "?")) if isinstance(item, dict) else "?"
        if not isinstance(item, dict) or not isinstance(item.get("jws"), str):
            tally.report(label, ["listing item has no string 'jws'"])
            continue
        problems, info = check_compact_jws(item["jws"], keyset, validator,
                                           expected_kid=item.get("kid"))
        tally.report(label, problems,
                     f"event={item.get('event')} kid={info.get('kid')} "
                     f"consentReceiptID={info.get('consentReceiptID')} tamper={info.get('tamper')}")
    check_export(session, base, people[0]["token"], keyset, validator, tally, args.timeout)
    return tally.finish()


def check_export(session, base, token, keyset, validator, tally, timeout) -> None:
    """The person's export, checked independently: a ZIP whose manifest lists every other file with its size
    and SHA-256, whose receipts verify as issued, and whose vCard is RFC 6350 shaped."""
    r = session.get(f"{base}/v1/me/export", timeout=timeout, headers={"Authorization": f"Bearer {token}"})
    if r.status_code != 200 or r.headers.get("Content-Type") != "application/zip":
        tally.report("export", [f"GET /v1/me/export -> {r.status_code} {r.headers.get('Content-Type')}: {r.text[:200]}"])
        return
    problems = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(r.content))
    except zipfile.BadZipFile as exc:
        tally.report("export", [f"not a ZIP archive: {exc}"])
        return
    bad = archive.testzip()
    if bad:
        problems.append(f"CRC mismatch in {bad}")
    manifest = json.loads(archive.read("manifest.json"))
    if manifest.get("format") != "proffer-export" or manifest.get("version") != 1:
        problems.append(f"unexpected manifest format/version: {manifest.get('format')} {manifest.get('version')}")
    listed = {f["path"]: f for f in manifest.get("files", [])}
    names = set(archive.namelist()) - {"manifest.json"}
    if set(listed) != names:
        problems.append(f"manifest and archive differ: {sorted(set(listed) ^ names)[:5]}")
    for path, entry in listed.items():
        if path not in names:
            continue
        data = archive.read(path)
        if hashlib.sha256(data).hexdigest() != entry.get("sha256") or len(data) != entry.get("bytes"):
            problems.append(f"{path}: size or SHA-256 differs from the manifest")
    verified = 0
    for path in sorted(n for n in names if n.startswith("receipts/") and n.endswith(".jws")):
        jws_problems, _ = check_compact_jws(archive.read(path).decode("ascii"), keyset, validator)
        problems += [f"{path}: {p}" for p in jws_problems]
        verified += 1
    card = archive.read("contact.vcf").decode("utf-8")
    lines = card.split("\r\n")
    if lines[:2] != ["BEGIN:VCARD", "VERSION:4.0"] or lines[-2:] != ["END:VCARD", ""]:
        problems.append("contact.vcf is not a vCard 4.0 with CRLF line ends")
    if any(len(line.encode("utf-8")) > 75 for line in lines):
        problems.append("contact.vcf has a line over 75 octets (RFC 6350 §3.2)")
    if not any(line.startswith("FN:") for line in lines):
        problems.append("contact.vcf has no FN")
    tally.report("export", problems, f"{len(names)} files match the manifest; {verified} receipts in it verify as issued")


def sign(payload: dict, key: jwk.JWK, alg: str = EXPECTED_ALG, kid: str | None = None) -> str:
    token = jws.JWS(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    token.allowed_algs = [alg]
    token.add_signature(key, alg=alg, protected=json.dumps(
        {"alg": alg, "kid": kid if kid is not None else key.get("kid"), "typ": "JOSE"}))
    return token.serialize(compact=True)


def run_self_test(args, validator) -> int:
    """Offline checks of this checker: a good receipt passes, bad ones are rejected."""
    tally = Tally()
    key = jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="selftest-1")
    other = jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="selftest-1")
    public_set = jwk.JWKSet()
    public_set.add(jwk.JWK(**key.export_public(as_dict=True)))
    sample = json.loads(SAMPLE_RECEIPT.read_text(encoding="utf-8"))
    good = sign(sample, key)

    problems, info = check_compact_jws(good, public_set, validator, expected_kid="selftest-1")
    tally.report("good sample receipt", problems, f"tamper={info.get('tamper')}")

    official = json.loads((HERE / "schemas" / "kantara-consent-receipt-v1.1.example.json")
                          .read_text(encoding="utf-8"))
    errs = [e.message for e in validator.iter_errors(official)]
    tally.report("Kantara's published v1.1 example validates", errs)

    def expect_reject(label: str, compact: str, keyset=public_set, want: str = "") -> None:
        problems, _ = check_compact_jws(compact, keyset, validator)
        ok = bool(problems) and (not want or any(want in p for p in problems))
        tally.report(f"rejects {label}", [] if ok else
                     [f"expected rejection{' mentioning ' + repr(want) if want else ''}, "
                      f"got {problems or 'PASS'}"])

    expect_reject("tampered payload", tamper_payload(good), want="signature verification failed")
    expect_reject("signature by another key with same kid", sign(sample, other),
                  want="signature verification failed")
    expect_reject("unknown kid", sign(sample, key, kid="nope"), want="no key with kid")
    bad_version = dict(sample, version="KI-CR-v1.0.0")
    expect_reject("wrong version", sign(bad_version, key), want="version is")
    missing = {k: v for k, v in sample.items() if k != "piiControllers"}
    expect_reject("schema-invalid payload (no piiControllers)", sign(missing, key),
                  want="schema:")
    bad_tp = json.loads(json.dumps(sample))
    bad_tp["services"][0]["purposes"][0]["thirdPartyDisclosure"] = True
    bad_tp["services"][0]["purposes"][0].pop("thirdPartyName", None)
    expect_reject("thirdPartyDisclosure=true without thirdPartyName", sign(bad_tp, key),
                  want="schema:")
    hs_key = jwk.JWK.generate(kty="oct", size=256, kid="selftest-1")
    expect_reject("HS256 instead of EdDSA", sign(sample, hs_key, alg="HS256"), want="alg")
    ec_key = jwk.JWK.generate(kty="EC", crv="P-256", kid="selftest-1")
    ec_set = jwk.JWKSet()
    ec_set.add(jwk.JWK(**ec_key.export_public(as_dict=True)))
    expect_reject("EdDSA header but P-256 key under that kid", good, keyset=ec_set,
                  want="expected kty='OKP'")
    leaky = jwk.JWKSet()
    leaky.add(key)
    tally.report("flags private key material in JWKS",
                 [] if keyset_problems(leaky) else ["private JWK not flagged"])
    return tally.finish()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", help="server base URL (default: credentials base_url)")
    ap.add_argument("--credentials", help="credentials JSON written by `proffer demo`")
    ap.add_argument("--schema", default=str(DEFAULT_SCHEMA),
                    help="Kantara CR v1.1 JSON schema (// comments allowed)")
    ap.add_argument("--jws", help="offline: file with one compact JWS (or a listing item)")
    ap.add_argument("--jwks", help="offline: JWK Set file to verify --jws against")
    ap.add_argument("--sample", type=int, default=20, help="max receipts to check (default 20)")
    ap.add_argument("--timeout", type=float, default=15.0, help="HTTP timeout in seconds")
    ap.add_argument("--self-test", action="store_true",
                    help="no server: sign schemas/sample-receipt.json and check good/bad cases")
    args = ap.parse_args(argv)
    if args.sample < 1:
        ap.error("--sample must be >= 1")

    validator = load_validator(Path(args.schema))
    if args.self_test:
        rc = run_self_test(args, validator)
    elif args.jws or args.jwks:
        if not (args.jws and args.jwks):
            ap.error("--jws and --jwks go together")
        rc = run_offline(args, validator)
    elif args.credentials:
        rc = run_online(args, validator)
    else:
        ap.error("give --credentials (online), --jws with --jwks (offline), or --self-test")
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except requests.RequestException as exc:
        print(f"HTTP error: {exc}", file=sys.stderr)
        print("0 passed, 1 failed", flush=True)
        sys.exit(1)
