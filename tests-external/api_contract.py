#!/usr/bin/env python3
"""Check a running Proffer server against its own OpenAPI document with schemathesis.

    python3 tests-external/api_contract.py --base-url http://127.0.0.1:8080 \\
        --credentials /tmp/x/credentials.json

Fetches BASE/openapi.json and runs `schemathesis run` against it three times, each with a different
caller:

  anonymous     no Authorization header (secured operations must answer with a documented 401)
  person        `Authorization: Bearer <people[0].token>` (the demo person's session token)
  organisation  `Authorization: Bearer <access_token>` from POST /oauth/token with the client
                credentials grant and HTTP Basic auth (organisations[0].client_id / client_secret)

Every run uses the same checks: no 5xx, the status code is documented, the Content-Type is the
documented one, the body matches the documented schema, the documented response headers are present
and valid. Exits 1 if any run finds a failure (schemathesis prints each failing operation with a
curl command that reproduces it), 0 otherwise.

The credentials file is the one `proffer demo --credentials-file` writes:
  {"base_url": ..., "admin_token": ..., "people": [{"handle", "email", "password", "token"}],
   "organisations": [{"id", "name", "client_id", "client_secret"}]}

Operations marked `"x-proffer-destructive": true` in the OpenAPI document are left out of the
authenticated runs (see DESTRUCTIVE_MARKER below). Defaults can be changed by flags or by the
environment variables named in --help.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import requests

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]

RUNS = ["anonymous", "person", "organisation"]

# Operations that invalidate the credentials the run itself is using — logging the session out,
# rotating a client secret or an access token, deleting the demo person or organisation, admin
# resets — would turn the rest of that run (and of the later ones) into a wall of 401s that test
# nothing. The server marks such an operation in its OpenAPI document with
#     "x-proffer-destructive": true
# and the authenticated runs skip it. The anonymous run still sends them (with no or a made-up
# credential they cannot destroy anything), so their 401 responses are still checked against the
# document. The Swift test suites cover what these operations actually do.
DESTRUCTIVE_MARKER = "x-proffer-destructive"

# A schemathesis config file for every run:
# - cache off: schemathesis 4 otherwise keeps a .schemathesis/ cache in the working directory and
#   replays requests from earlier runs, so one run would depend on the ones before it;
# - auto-signup off: the anonymous run stays anonymous (schemathesis 4 otherwise signs up and logs
#   in on its own when the document has sign-up and login operations);
# - a broken $ref in the document fails the run instead of only warning.
CONFIG_TOML = """\
[cache]
enabled = false

[auth]
auto-signup = false

[warnings]
fail-on = ["unresolvable_reference"]
"""


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 when every run passed, 1 when any failed, 2 on usage errors.",
    )
    p.add_argument("--base-url", required=True, help="server origin, e.g. http://127.0.0.1:8080")
    p.add_argument("--credentials", required=True, type=Path, help="credentials JSON written by `proffer demo`")
    p.add_argument(
        "--max-examples",
        type=int,
        default=env_int("PROFFER_API_MAX_EXAMPLES", 25),
        help="generated test cases per operation and phase (env PROFFER_API_MAX_EXAMPLES; default %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=env_int("PROFFER_API_SEED", 20240601),
        help="random seed, fixed so a failure reproduces (env PROFFER_API_SEED; default %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=env_int("PROFFER_API_WORKERS", 2),
        help="concurrent schemathesis workers (env PROFFER_API_WORKERS; default %(default)s)",
    )
    p.add_argument(
        "--phases",
        # Not "coverage": on CPython 3.11 (the machine's Python) schemathesis 4.x's coverage phase crashes
        # now and then with "SystemError: AST constructor recursion depth mismatch", a CPython bug, which
        # would fail CI for no fault of the server. Set PROFFER_API_PHASES to include it on Python >= 3.12.
        default=os.environ.get("PROFFER_API_PHASES", "examples,fuzzing,stateful"),
        help="schemathesis phases (env PROFFER_API_PHASES; default %(default)s)",
    )
    p.add_argument(
        "--run-timeout",
        type=int,
        default=env_int("PROFFER_API_RUN_TIMEOUT", 480),
        help="wall-clock limit in seconds for each run; over it the run fails "
        "(env PROFFER_API_RUN_TIMEOUT; default %(default)s)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=float(os.environ.get("PROFFER_API_REQUEST_TIMEOUT", "15")),
        help="per-request timeout in seconds (env PROFFER_API_REQUEST_TIMEOUT; default %(default)s)",
    )
    p.add_argument(
        "--checks",
        default=",".join(CHECKS),
        help="comma-separated schemathesis checks (default %(default)s)",
    )
    p.add_argument(
        "--run",
        action="append",
        choices=RUNS,
        help="run only this caller (repeatable; default: all three in order)",
    )
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path(os.environ["PROFFER_API_REPORT_DIR"]) if os.environ.get("PROFFER_API_REPORT_DIR") else None,
        help="also write a JUnit XML report per run here (env PROFFER_API_REPORT_DIR)",
    )
    return p.parse_args(argv)


def curl_for(method: str, url: str, headers: dict[str, str], data: str | None = None) -> str:
    parts = ["curl", "-i", "-X", method]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    if data is not None:
        parts += ["--data", data]
    parts.append(url)
    return " ".join(shlex.quote(part) for part in parts)


def load_credentials(path: Path) -> dict:
    try:
        creds = json.loads(path.read_text())
        person = creds["people"][0]
        org = creds["organisations"][0]
        for key, value in (
            ("people[0].token", person["token"]),
            ("organisations[0].client_id", org["client_id"]),
            ("organisations[0].client_secret", org["client_secret"]),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{key} is missing or empty")
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SystemExit(f"api_contract: unusable credentials file {path}: {exc!r}") from exc
    return creds


def fetch_schema(base: str) -> dict:
    url = f"{base}/openapi.json"
    try:
        response = requests.get(url, timeout=30)
    except requests.RequestException as exc:
        raise SystemExit(f"api_contract: cannot fetch {url}: {exc}") from exc
    content_type = response.headers.get("Content-Type", "")
    problem = None
    if response.status_code != 200:
        problem = f"status {response.status_code}"
    elif "json" not in content_type:
        problem = f"Content-Type {content_type!r}, expected application/json"
    else:
        try:
            schema = response.json()
        except ValueError:
            problem = "body is not JSON"
        else:
            if not str(schema.get("openapi", "")).startswith("3."):
                problem = f"'openapi' is {schema.get('openapi')!r}, expected 3.x"
            elif not schema.get("paths"):
                problem = "the document has no paths"
    if problem:
        print(f"api_contract: FAILED: GET {url}: {problem}\n  reproduce: {curl_for('GET', url, {})}")
        print(response.text[:2000])
        raise SystemExit(1)
    return schema


def destructive_operations(schema: dict) -> list[str]:
    found = []
    for path, item in schema.get("paths", {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get(DESTRUCTIVE_MARKER) is True:
                found.append(f"{method.upper()} {path}")
    return found


def organisation_token(base: str, creds: dict) -> str:
    """POST /oauth/token with the client credentials grant; retries while rate limited (429)."""
    org = creds["organisations"][0]
    url = f"{base}/oauth/token"
    deadline = time.monotonic() + 90
    while True:
        try:
            response = requests.post(
                url,
                data={"grant_type": "client_credentials"},
                auth=(org["client_id"], org["client_secret"]),
                timeout=30,
            )
        except requests.RequestException as exc:
            raise SystemExit(f"api_contract: POST {url} failed: {exc}") from exc
        if response.status_code == 429 and time.monotonic() < deadline:
            wait = min(float(response.headers.get("Retry-After", "5") or 5), 30)
            print(f"api_contract: POST {url} rate limited; retrying in {wait:g}s")
            time.sleep(wait)
            continue
        break
    token = None
    if response.status_code == 200:
        try:
            token = response.json().get("access_token")
        except ValueError:
            token = None
    if not isinstance(token, str) or not token:
        basic = requests.auth._basic_auth_str(org["client_id"], org["client_secret"])  # type: ignore[attr-defined]
        print(
            f"api_contract: FAILED: could not get an organisation access token: POST {url} answered "
            f"{response.status_code}: {response.text[:1000]}\n  reproduce: "
            + curl_for(
                "POST",
                url,
                {"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"},
                "grant_type=client_credentials",
            )
        )
        raise SystemExit(1)
    return token


def schemathesis_command(args: argparse.Namespace, base: str, config: Path, run: str, token: str | None) -> list[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(config),
        "run", f"{base}/openapi.json",
        # The document's `servers` may name the production host: keep its path, use our origin.
        "--origin", base,
        "--checks", args.checks,
        "--phases", args.phases,
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--workers", str(args.workers),
        "--request-timeout", str(args.request_timeout),
        # Health checks judge how hard data is to generate (and how fast this 2-core machine is),
        # not whether the API conforms; they only make runs flaky.
        "--suppress-health-check", "all",
        # No example database: every run starts from the seed alone, so it is reproducible.
        "--generation-database", "none",
        # Show real header values in the curl reproductions: the credentials are a throwaway demo's.
        "--output-sanitize", "false",
        "--no-color",
    ]
    # No --max-time: in schemathesis 4 it means "keep fuzzing until the budget is spent", not a cap.
    # The cap is --run-timeout, enforced around the subprocess.
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
        command += ["--exclude-by", f"/{DESTRUCTIVE_MARKER} == true"]
    if args.report_dir is not None:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        command += ["--report", "junit", "--report-junit-path", str(args.report_dir / f"schemathesis-{run}.xml")]
    return command


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_schemathesis(command: list[str], timeout: int, cwd: Path) -> int:
    printable = " ".join(shlex.quote(part) for part in command)
    print(f"$ {printable}", flush=True)
    hooks = Path(__file__).resolve().parent / "schemathesis_hooks.py"
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "SCHEMATHESIS_HOOKS": str(hooks)})

    # If we are told to stop, stop schemathesis too rather than leave it running on its own.
    def on_signal(signum: int, _frame: object) -> None:
        stop(process)
        sys.exit(128 + signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"api_contract: run exceeded {timeout}s; stopping schemathesis", flush=True)
        stop(process)
        return 124
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    base = args.base_url.rstrip("/")
    parsed = urllib.parse.urlsplit(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        print(f"api_contract: --base-url must be like http://127.0.0.1:8080, got {args.base_url!r}")
        return 2
    creds = load_credentials(args.credentials)
    schema = fetch_schema(base)
    operations = sum(
        1
        for item in schema["paths"].values()
        if isinstance(item, dict)
        for method in item
        if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    )
    print(f"api_contract: {base}/openapi.json: OpenAPI {schema.get('openapi')}, {operations} operations")
    skipped = destructive_operations(schema)
    if skipped:
        print(f"api_contract: left out of the authenticated runs ({DESTRUCTIVE_MARKER}): {', '.join(skipped)}")
    # Fail early and clearly if the OAuth endpoint is broken; the run itself gets a fresh token.
    organisation_token(base, creds)

    runs = args.run or RUNS
    results: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="proffer-schemathesis.") as work:
        workdir = Path(work)
        config = workdir / "schemathesis.toml"
        config.write_text(CONFIG_TOML)
        for run in RUNS:
            if run not in runs:
                continue
            if run == "anonymous":
                token = None
            elif run == "person":
                token = creds["people"][0]["token"]
            else:
                token = organisation_token(base, creds)
            print(f"\n===== api_contract: run '{run}' =====", flush=True)
            started = time.monotonic()
            code = run_schemathesis(schemathesis_command(args, base, config, run, token), args.run_timeout, workdir)
            results.append((run, code, time.monotonic() - started))
            print(f"===== api_contract: run '{run}' {'passed' if code == 0 else f'FAILED (exit {code})'} =====", flush=True)

    print("\napi_contract summary:")
    for run, code, seconds in results:
        print(f"  {run:<13} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:6.1f}s")
    failed = [run for run, code, _ in results if code != 0]
    if failed:
        print(f"api_contract: FAILED runs: {', '.join(failed)} (see the FAILURES sections above for curl reproductions)")
        return 1
    print("api_contract: all runs passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
