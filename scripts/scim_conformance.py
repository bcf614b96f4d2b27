#!/usr/bin/env python3
"""The external SCIM conformance checker, scim2-tester (PyPI), against a live Roster.

Starts the `roster` binary on a free loopback port with a fresh store (SQLite, or PostgreSQL when
--database-url is given), makes a SAML identity provider with scim_integration on through the IAM
API, runs every scim2-tester check against its scim_url, and stops the server.

Usage: scim_conformance.py ROSTER_BINARY [--database-url postgres://...]
Exit status 1 when any check reports ERROR or CRITICAL, or when fewer than MIN_PASSED checks pass.
"""
import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

ROOT = pathlib.Path(__file__).resolve().parent.parent
CERT = ROOT / "crates/roster-server/tests/fixtures/idp-cert-sha256.pem"


# Every check of scim2-tester 0.5.2 passes today: fewer passing means something broke.
MIN_PASSED = 135

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method: str, url: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Token {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--database-url")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        token_file = os.path.join(tmp, "owner.token")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
        env["ROSTER_BOOTSTRAP_TOKEN_FILE"] = token_file
        env["ROSTER_SCIM_RATE_LIMIT"] = "0"  # the checker sends bursts no identity provider does
        cmd = [args.binary, "serve", "--data-dir", os.path.join(tmp, "data"), "--listen", f"127.0.0.1:{port}"]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        log = open(os.path.join(tmp, "server.log"), "w")
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        try:
            # Ready when /health answers: the port is bound before the owner's token is written,
            # and HTTP is served only after it.
            deadline = time.time() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        log.flush()
                        print(open(log.name).read(), file=sys.stderr)
                        raise SystemExit("roster did not start")
                    time.sleep(0.1)
            token = open(token_file).read().strip()
            idp = call(
                "POST",
                f"{base}/iam/identity_providers/saml2",
                token,
                {
                    "name": "scim2-tester",
                    "sign_in_url": "https://login.example.test/saml2",
                    "entity_id_url": "https://sts.example.test/",
                    "certificate": CERT.read_text(),
                },
            )
            idp = call("PATCH", f"{base}/iam/identity_providers/saml2/{idp['uuid']}", token, {"scim_integration": True, "is_active": True})
            scim_base = idp["scim_url"].removesuffix("/Users")
            http = Client(base_url=scim_base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            results = check_server(SyncSCIMClient(http))
        finally:
            server.terminate()
            server.wait(timeout=30)
    store = "PostgreSQL" if args.database_url else "SQLite"
    failures = 0
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        bad = r.status in (Status.ERROR, Status.CRITICAL)
        failures += bad
        if bad:
            where = f" [{r.resource_type}]" if r.resource_type else ""
            print(f"FAIL {r.status.name} {r.title}{where}: {r.reason or ''}")
    print(f"scim2-tester on {store}:", ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items())))
    passed = len(results) - failures
    print(f"scim2-tester: {passed} passed, {failures} failed")
    if passed < MIN_PASSED:
        print(f"scim2-tester: fewer than {MIN_PASSED} checks passed (a check that stopped running is a regression too)")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
