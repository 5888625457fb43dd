#!/usr/bin/env python3
"""The operator's command line, end to end: every verb an operator uses between servers, on a fresh database, and the
refusals an operator will meet (an unknown organisation, handle or file) answered with a clear error and a non-zero
exit, never a crash.

    tests-external/operator_cli.py --bin .build/debug/proffer [--database postgres://…]

Without --database the commands use an SQLite file in a fresh data directory. Exits non-zero on the first failure.
"""
import argparse, os, re, subprocess, sys, tempfile

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--database", default="")
args = parser.parse_args()
data_dir = tempfile.mkdtemp(prefix="proffer-cli-")
where = ["--data-dir", data_dir] + (["--database", args.database] if args.database else [])
failures = 0


def proffer(*words, expect_ok=True, contains=None, stdin=None, env=None):
    """Runs one command; checks its exit status, that it did not crash, and that its output says what it should."""
    global failures
    command = [args.bin, *words, *where]
    result = subprocess.run(command, capture_output=True, text=True, input=stdin, timeout=120,
                            env={**os.environ, "PROFFER_LOG_LEVEL": "error", **(env or {})})
    output = result.stdout + result.stderr
    label = " ".join(words)
    problems = []
    if (result.returncode == 0) != expect_ok:
        problems.append(f"exit status {result.returncode}, expected {'0' if expect_ok else 'non-zero'}")
    if re.search(r"Fatal error|Assertion failed|Segmentation|Illegal instruction", output) or result.returncode < 0:
        problems.append("crashed")
    if contains and not re.search(contains, output):
        problems.append(f"output lacks /{contains}/")
    if problems:
        failures += 1
        print(f"FAIL: proffer {label}: {'; '.join(problems)}\n{output}")
    else:
        print(f"ok:   proffer {label}")
    return result.stdout


proffer("migrate", contains=r"schema version \d+")
created = proffer("org", "create", "--name", "Acme Bank", "--domain", "acme.example", contains=r"client_secret: ")
organisation = re.search(r"^id:\s+(\S+)", created, re.M).group(1)
secret = re.search(r"^client_secret:\s+(\S+)", created, re.M).group(1)
proffer("org", "list", contains=re.escape(organisation) + r"\s+unverified")
proffer("org", "verify", organisation, contains=r"verified: true")
proffer("org", "verify", organisation, "--revoke", contains=r"verified: false")
rotated = proffer("org", "rotate-secret", organisation, contains=r"client_secret: ")
if re.search(r"^client_secret:\s+(\S+)", rotated, re.M).group(1) == secret:
    failures += 1
    print("FAIL: proffer org rotate-secret printed the old secret")
proffer("wallet", "credit", organisation, "10000", "EUR", "--reference", "bank transfer 1", contains=r"^credited: 10000 EUR")
proffer("wallet", "credit", organisation, "10000", "EUR", "--reference", "bank transfer 1", contains=r"^already credited")
proffer("ledger", "charge", contains=r"grant\(s\) looked at")
proffer("ledger", "check", contains=r"^ok: 1 transfers")
proffer("audit", "verify", "--all")
proffer("webhooks", "list", organisation, contains=r"no webhook endpoints")

# Refusals: a clear message and a non-zero exit, the store closed cleanly.
unknown = "org_00000000-0000-4000-8000-000000000000"
proffer("org", "create", "--name", "Acme Again", "--domain", "acme.example", expect_ok=False, contains=r"Error: ")
proffer("org", "verify", unknown, expect_ok=False, contains=r"Error: .*" + unknown)
proffer("org", "rotate-secret", unknown, expect_ok=False, contains=r"Error: ")
proffer("org", "verify", "not-an-id", expect_ok=False, contains=r"not an organisation id")
proffer("wallet", "credit", unknown, "100", "EUR", "--reference", "r", expect_ok=False, contains=r"Error: ")
proffer("audit", "verify", "--handle", "nobody-here", expect_ok=False, contains=r"no person has the handle nobody-here")
proffer("person", "erase", "--handle", "nobody-here", "--yes", expect_ok=False, contains=r"not erased")
proffer("webhooks", "show", organisation, "msg_00000000-0000-4000-8000-000000000000", "whe_00000000-0000-4000-8000-000000000000",
        expect_ok=False, contains=r"no such delivery")
proffer("webhooks", "replay", organisation, "msg_00000000-0000-4000-8000-000000000000", "whe_00000000-0000-4000-8000-000000000000",
        expect_ok=False, contains=r"no such delivery")
proffer("import", os.path.join(data_dir, "missing.zip"), "--handle", "nobody-here", expect_ok=False, contains=r"cannot read")
# Configuration out of range is refused before anything opens, naming the variable and what it takes.
proffer("migrate", env={"PROFFER_DISCLOSURE_CACHE_PEOPLE": "lots"}, expect_ok=False, contains=r"PROFFER_DISCLOSURE_CACHE_PEOPLE must be 0")
proffer("migrate", env={"PROFFER_DISCLOSURE_CACHE_PEOPLE": "-1"}, expect_ok=False, contains=r"PROFFER_DISCLOSURE_CACHE_PEOPLE must be 0")
proffer("migrate", env={"PROFFER_BCRYPT_COST": "99"}, expect_ok=False, contains=r"PROFFER_BCRYPT_COST must be 4 to 16")
proffer("migrate", env={"PROFFER_CLOSURE_SWEEP_SECONDS": "0"}, expect_ok=False, contains=r"PROFFER_CLOSURE_SWEEP_SECONDS must be 1 to 3600")
proffer("migrate", env={"PROFFER_DISCLOSURE_CACHE_PEOPLE": "0"}, contains=r"schema version \d+")
# Still whole after the refusals.
proffer("ledger", "check", contains=r"^ok: 1 transfers")

print(f"operator CLI: {'every check passed' if failures == 0 else f'{failures} check(s) failed'}")
sys.exit(1 if failures else 0)
