#!/usr/bin/env python3
"""Make the upgrade fixtures: a directory as today's Roster stores it, on SQLite and PostgreSQL.

Runs the `roster` binary given (the code of the schema being frozen), fills a small directory
through its real APIs (identity providers, one with a sealed OIDC secret; users made by hand and
by SCIM, one with a non-ASCII userName; teams with permissions and members; tokens; provisioning
log entries), stops it and writes, under the output directory:

- `roster.sqlite3`: the SQLite database (checkpointed, no -wal file);
- `postgres.sql`: a plain `pg_dump` of the same directory on PostgreSQL;
- `secret.key`: the key that seals the OIDC secret (a fixture, not a secret);
- `expected.json`: what the directory holds, for the upgrade test to check after migrating.

Usage: make_upgrade_fixtures.py ROSTER_BINARY OUT_DIR POSTGRES_ADMIN_URL
"""
import json
import os
import pathlib
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CERT = (ROOT / "crates/roster-server/tests/fixtures/idp-cert-sha256.pem").read_text()
KEY = "11" * 32  # the fixture's sealing key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token, body=None, scim=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"{'Bearer' if scim else 'Token'} {token}")
    req.add_header("Content-Type", "application/scim+json" if scim else "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def fill(base: str, token: str) -> dict:
    """The directory, made through the APIs; answers what the upgrade test should find."""
    perms = call(base, "GET", "/v4/iam/permissions?page_size=100", token)["results"]
    scim_perm = [p["id"] for p in perms if p["slug"] == "scim_protocol_integration"]
    admins = call(base, "POST", "/v4/iam/teams", token, {"name": "Admins", "permissions_ids": [p["id"] for p in perms]})["data"]["id"]
    bots = call(base, "POST", "/v4/iam/teams", token, {"name": "SCIM bots", "permissions_ids": scim_perm})["data"]["id"]
    bot = call(base, "POST", "/v4/iam/users", token,
               {"first_name": "Entra", "last_name": "Bot", "email": "bot@example.com", "teams_ids": [bots]})["data"]["id"]
    call(base, "POST", "/v4/iam/users", token,
         {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "teams_ids": [admins]})
    bot_token = call(base, "POST", f"/iam/users/{bot}/personal_tokens", token,
                     {"name": "Entra", "expires_at": "2027-06-01T00:00"})
    idp = call(base, "POST", "/iam/identity_providers/saml2", token,
               {"name": "Entra", "sign_in_url": "https://login.example.test/saml2",
                "entity_id_url": "https://sts.example.test/", "certificate": CERT})
    idp = call(base, "PATCH", f"/iam/identity_providers/saml2/{idp['uuid']}", token, {"scim_integration": True})
    call(base, "POST", "/iam/identity_providers/oidc", token,
         {"name": "Okta OIDC", "authorization_url": "https://okta.example/a", "userinfo_url": "https://okta.example/u",
          "token_url": "https://okta.example/t", "client_id": "0oa1", "client_secret": "fixture-client-secret",
          "scopes": ["openid", "email"]})
    scim = idp["scim_url"].removesuffix("/Users").removeprefix(base)
    user_ids = []
    for name in ["alice@example.com", "bob@example.com", "jose\u0301@example.com", "carol@example.com"]:
        u = call(base, "POST", f"{scim}/Users", bot_token["key"],
                 {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                  "name": {"givenName": "G", "familyName": "F"}, "active": True,
                  "emails": [{"value": name, "type": "work", "primary": True}],
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42"}},
                 scim=True)
        user_ids.append(u["id"])
    call(base, "PATCH", f"{scim}/Users/{user_ids[3]}", bot_token["key"],
         {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [{"op": "replace", "path": "active", "value": False}]}, scim=True)
    group = call(base, "POST", f"{scim}/Groups", bot_token["key"],
                 {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering",
                  "members": [{"value": user_ids[0], "display": "Alice"}, {"value": user_ids[1]}]}, scim=True)
    users = call(base, "GET", "/v4/iam/users?page_size=100", token)["results"]
    teams = call(base, "GET", "/v4/iam/teams?page_size=100", token)["results"]
    log = call(base, "GET", f"/iam/identity_providers/saml2/{idp['uuid']}/provisioning_log?page_size=100", token)
    return {
        "users": sorted(u["email"] for u in users),
        "teams": sorted(t["name"] for t in teams),
        "scim_users": sorted(user_ids),
        "scim_group": group["id"],
        "scim_group_members": sorted(m["value"] for m in group["members"]),
        "idp": idp["uuid"],
        "log_entries": log["count"],
        "bot_token": bot_token["key"],
        "oidc_client_secret": "fixture-client-secret",
    }


def run(binary: str, data: str, database_url: str | None) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token_file = os.path.join(os.path.dirname(data), f"owner-{port}.token")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
    env.update({"ROSTER_BOOTSTRAP_TOKEN_FILE": token_file, "ROSTER_SECRET_KEY": KEY,
                "ROSTER_SCIM_RATE_LIMIT": "0", "ROSTER_OWNER_EMAIL": "owner@example.com"})
    cmd = [binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}"]
    if database_url:
        cmd += ["--database-url", database_url]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit("roster did not start")
                time.sleep(0.1)
        expected = fill(base, open(token_file).read().strip())
    finally:
        server.terminate()
        server.wait(timeout=30)
    return expected


def main() -> int:
    binary, out, admin_url = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        expected = run(binary, data, None)
        db = os.path.join(data, "roster.sqlite3")
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode=DELETE")
        con.close()
        shutil.copy(db, out / "roster.sqlite3")
        name = f"roster_fixture_{os.getpid()}"
        subprocess.run(["psql", admin_url, "-qc", f"create database {name}"], check=True)
        try:
            pg_url = admin_url.rsplit("/", 1)[0] + "/" + name
            pg_expected = run(binary, os.path.join(tmp, "pgdata"), pg_url)
            dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "--inserts", pg_url],
                                  check=True, capture_output=True, text=True).stdout
            # psql meta-commands (`\restrict`) and settings older servers refuse: the test runs the
            # dump as plain SQL.
            dump = "\n".join(l for l in dump.splitlines()
                              if not l.startswith("\\") and not l.startswith("SET transaction_timeout"))
            (out / "postgres.sql").write_text(dump + "\n")
        finally:
            subprocess.run(["psql", admin_url, "-qc", f"drop database if exists {name} with (force)"], check=False)
    (out / "secret.key").write_text(KEY + "\n")
    (out / "expected.json").write_text(json.dumps({"sqlite": expected, "postgres": pg_expected}, indent=2) + "\n")
    print(f"fixtures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
