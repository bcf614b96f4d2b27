#!/usr/bin/env python3
"""The audit's attacks (issue 9), rerun against a live Roster on SQLite with its default settings.

Each attack prints what it did and what it measured, and fails the run when the defect is back:

1. unauthenticated flood with huge request ids: nothing stored, the database does not grow,
   an existing and an unknown provider answer alike;
2. SCIM-token escalation: a user whose only permission is SCIM cannot reach the admins' team,
   itself, or the IAM API;
3. a 14,000-element PATCH (refused: 100 values per attribute), then the largest PATCH allowed
   (1,000 operations), with another write running meanwhile: that write is never held up
   behind the PATCH (SQLite has one writer for every account, so which account writes does
   not matter to the writer);
4. four other spellings of the provider's UUID: 404, and the real provider is still served;
   a flood of bad tokens from one address cannot put the real provider at 429;
5. 900 half-open connections: all closed by the header-read timeout, the server serving
   throughout.

Usage: attacks.py ROSTER_BINARY
"""
import http.client
import json
import os
import resource
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CERT = ROOT / "crates/roster-server/tests/fixtures/idp-cert-sha256.pem"
BAD_KEY = "azion" + "0" * 35
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("  ok   " if ok else "  FAIL ") + what)
    if not ok:
        failures.append(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Roster:
    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method, path, key=None, body=None, headers=None, scheme="Token"):
        """(status, headers, parsed body) over a fresh connection."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = dict(headers or {})
        if key:
            h["Authorization"] = f"{scheme} {key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/scim+json" if "/scim/" in path else "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, dict(r.getheaders()), parsed


def db_bytes(data_dir: str) -> int:
    return sum(
        os.path.getsize(os.path.join(data_dir, f))
        for f in os.listdir(data_dir)
        if f.startswith("roster.sqlite3")
    )


def attack_flood(r: Roster, owner: str, idp: str, scim: str, data_dir: str) -> None:
    print("1. unauthenticated flood with 380 KB request ids")
    huge = "r" * 380_000
    r.request("GET", "/health")
    time.sleep(1.5)  # let the WAL settle after set-up
    before = db_bytes(data_dir)
    t0 = time.time()
    statuses = {}
    for i in range(40):
        st, _, _ = r.request("POST", f"{scim}/Users", BAD_KEY, {"userName": f"x{i}"},
                             {"x-request-id": huge}, scheme="Bearer")
        statuses[st] = statuses.get(st, 0) + 1
    took = time.time() - t0
    time.sleep(1.5)
    grew = db_bytes(data_dir) - before
    print(f"     40 requests in {took:.2f} s, answered {statuses}; database grew by {grew} bytes")
    check(set(statuses) <= {401, 429, 431}, "every request refused (401, or 429 once the address's budget is spent)")
    check(grew < 64 * 1024, "the database did not grow (the audit saw 15.9 MB)")
    _, _, log = r.request("GET", f"/iam/identity_providers/saml2/{idp}/provisioning_log", owner)
    check(log["count"] == 0, f"nothing in the provider's log ({log['count']} entries)")
    time.sleep(2.5)  # the address's unauthenticated budget refills
    known = r.request("GET", f"{scim}/Users", BAD_KEY, scheme="Bearer")
    unknown = r.request("GET", f"/v4/users/scim/{uuid.uuid4()}/Users", BAD_KEY, scheme="Bearer")
    check(known[0] == unknown[0] == 401 and known[2] == unknown[2],
          "an existing and an unknown provider answer alike")
    st, h, _ = r.request("GET", f"{scim}/Users", BAD_KEY, headers={"x-request-id": huge}, scheme="Bearer")
    rid = h.get("x-request-id")
    check(st == 401 and rid is not None and 0 < len(rid) <= 64,
          f"a huge client request id is replaced ({st}, {len(rid or '')} characters)")


def attack_escalation(r: Roster, owner: str, scim: str) -> None:
    print("2. SCIM-token escalation")
    _, _, perms = r.request("GET", "/v4/iam/permissions?page_size=100", owner)
    ids = [p["id"] for p in perms["results"]]
    scim_perm = [p["id"] for p in perms["results"] if p["slug"] == "scim_protocol_integration"]
    _, _, admins = r.request("POST", "/v4/iam/teams", owner, {"name": "Admins", "permissions_ids": ids})
    admins = admins["data"]["id"]
    _, _, bots = r.request("POST", "/v4/iam/teams", owner, {"name": "SCIM bots", "permissions_ids": scim_perm})
    bots = bots["data"]["id"]
    _, _, bot = r.request("POST", "/v4/iam/users", owner,
                          {"first_name": "Entra", "last_name": "Bot", "email": "bot@example.com", "teams_ids": [bots]})
    bot = bot["data"]["id"]
    _, _, tok = r.request("POST", f"/iam/users/{bot}/personal_tokens", owner,
                          {"name": "Entra", "expires_at": time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 30 * 86400))})
    key = tok["key"]
    add_me = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "add", "path": "members", "value": [{"value": str(bot)}]}]}
    tries = {
        "PATCH itself into the admins' team": r.request("PATCH", f"{scim}/Groups/{admins}", key, add_me, scheme="Bearer")[0],
        "rename the admins' team": r.request("PATCH", f"{scim}/Groups/{admins}", key,
                                             {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                              "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]},
                                             scheme="Bearer")[0],
        "delete the admins' team": r.request("DELETE", f"{scim}/Groups/{admins}", key, scheme="Bearer")[0],
        "read itself": r.request("GET", f"{scim}/Users/{bot}", key, scheme="Bearer")[0],
        "deactivate the owner": r.request("PATCH", f"{scim}/Users/1", key,
                                          {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                           "Operations": [{"op": "replace", "path": "active", "value": False}]},
                                          scheme="Bearer")[0],
        "make a team with every permission (IAM API)": r.request("POST", "/v4/iam/teams", key,
                                                                 {"name": "Root", "permissions_ids": ids})[0],
        "join the admins' team (IAM API)": r.request("PATCH", f"/v4/iam/users/{bot}", key, {"teams_ids": [admins]})[0],
        "mint a token valid until 2038": r.request("POST", "/iam/personal_tokens", key,
                                                   {"name": "forever", "expires_at": "2038-01-01T00:00"})[0],
    }
    for what, st in tries.items():
        check(st in (403, 404), f"{what}: {st}")
    _, _, groups = r.request("GET", f"{scim}/Groups", key, scheme="Bearer")
    check(groups["totalResults"] == 0, "the IAM teams are invisible to SCIM")
    _, _, u = r.request("GET", f"/v4/iam/users/{bot}", owner)
    check([t["id"] for t in u["data"]["teams"]] == [bots], "the bot is still only in its own team")


def attack_big_patch(r: Roster, owner: str, scim: str) -> None:
    print("3. a 14,000-element PATCH, and the largest allowed, with another write meanwhile")
    st, _, body = r.request("POST", f"{scim}/Users", owner, {"userName": "victim@example.com"}, scheme="Bearer")
    uid = body["id"]
    emails = [{"value": f"e{i}@example.com", "type": f"t{i}"} for i in range(14_000)]
    op = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [{"op": "add", "path": "emails", "value": emails}]}
    t0 = time.time()
    st, _, body = r.request("PATCH", f"{scim}/Users/{uid}", owner, op, scheme="Bearer")
    print(f"     14,000 e-mails: {st} in {time.time() - t0:.2f} s")
    check(st == 400 and body.get("scimType") == "invalidValue", "refused: at most 100 values per attribute")
    ops = [{"op": "add", "path": "emails", "value": [{"value": f"m{i % 100}@example.com", "type": f"t{i % 100}"}]}
           for i in range(1000)]
    big = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}
    waits: list[float] = []
    done = threading.Event()

    def other_writes():
        i = 0
        while not done.is_set() or i < 3:
            t = time.time()
            st, _, _ = r.request("POST", "/v4/iam/users", owner,
                                 {"first_name": "O", "last_name": "W", "email": f"other{i}@example.com"})
            waits.append(time.time() - t)
            if st != 201:
                failures.append(f"the concurrent write failed: {st}")
            i += 1

    writer = threading.Thread(target=other_writes)
    writer.start()
    t0 = time.time()
    for _ in range(5):
        st, _, _ = r.request("PATCH", f"{scim}/Users/{uid}", owner, big, scheme="Bearer")
        if st != 200:
            failures.append(f"the 1,000-operation PATCH answered {st}")
    patch_s = (time.time() - t0) / 5
    done.set()
    writer.join()
    print(f"     1,000-operation PATCH: {patch_s:.3f} s each; {len(waits)} other writes meanwhile, "
          f"the slowest {max(waits):.3f} s")
    check(max(waits) < 5, "no write was held up behind the PATCH (the audit saw 8.6 s)")


def attack_uuid_spellings(r: Roster, owner: str, idp: str, scim: str) -> None:
    print("4. other spellings of the provider's UUID, and a flood of bad tokens")
    spellings = {
        "%20uuid": "%20" + idp,
        "no hyphens": idp.replace("-", ""),
        "{uuid}": "%7B" + idp + "%7D",
        "urn:uuid:": "urn:uuid:" + idp,
    }
    t0 = time.time()
    for name, sp in spellings.items():
        seen = set()
        for _ in range(300):
            seen.add(r.request("GET", f"/v4/users/scim/{sp}/Users", BAD_KEY, scheme="Bearer")[0])
        check(seen == {404}, f"{name}: {sorted(seen)}")
    flood = {}
    for _ in range(300):
        st = r.request("GET", f"{scim}/Users", BAD_KEY, scheme="Bearer")[0]
        flood[st] = flood.get(st, 0) + 1
    print(f"     1,500 requests in {time.time() - t0:.2f} s; bad tokens on the real path: {flood}")
    check(flood.get(429, 0) > 0, "bad tokens are limited by address")
    st = r.request("GET", f"{scim}/Users", owner, scheme="Bearer")[0]
    check(st == 200, f"the real provider is served right after: {st}")


def attack_slow_connections(r: Roster, timeout_s: int) -> None:
    print("5. 900 half-open connections")
    socks = []
    for _ in range(900):
        s = socket.create_connection(("127.0.0.1", r.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    st = r.request("GET", "/health")[0]
    check(st == 200, f"the server serves while they hang: {st}")
    t0 = time.time()
    open_ = set(socks)
    while open_ and time.time() - t0 < timeout_s + 20:
        ready, _, _ = select.select(list(open_), [], [], 1)
        for s in ready:
            try:
                if not s.recv(4096):
                    open_.discard(s)
            except OSError:
                open_.discard(s)
    print(f"     {900 - len(open_)} of 900 closed by the server after {time.time() - t0:.1f} s "
          f"(header-read timeout {timeout_s} s)")
    check(not open_, "every half-open connection was closed (the audit saw all 900 held after 31 s)")
    for s in socks:
        s.close()
    check(r.request("GET", "/health")[0] == 200, "the server still serves")


def main() -> int:
    binary = sys.argv[1]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        data = os.path.join(tmp, "data")
        token_file = os.path.join(tmp, "owner.token")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
        env["ROSTER_BOOTSTRAP_TOKEN_FILE"] = token_file
        log = open(os.path.join(tmp, "server.log"), "w")
        server = subprocess.Popen([binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                                  env=env, stdout=log, stderr=log)
        r = Roster(port)
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if r.request("GET", "/health")[0] == 200:
                        break
                except OSError:
                    pass
                if server.poll() is not None or time.time() > deadline:
                    print(open(log.name).read(), file=sys.stderr)
                    raise SystemExit("roster did not start")
                time.sleep(0.1)
            owner = open(token_file).read().strip()
            _, _, idp = r.request("POST", "/iam/identity_providers/saml2", owner,
                                  {"name": "Entra", "sign_in_url": "https://login.example.test/saml2",
                                   "entity_id_url": "https://sts.example.test/", "certificate": CERT.read_text()})
            _, _, idp = r.request("PATCH", f"/iam/identity_providers/saml2/{idp['uuid']}", owner,
                                  {"scim_integration": True, "is_active": True})
            scim = idp["scim_url"].removesuffix("/Users").removeprefix(r.base)
            attack_flood(r, owner, idp["uuid"], scim, data)
            attack_escalation(r, owner, scim)
            attack_big_patch(r, owner, scim)
            attack_uuid_spellings(r, owner, idp["uuid"], scim)
            attack_slow_connections(r, 10)
            check(server.poll() is None, "the server is still running")
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
            text = open(log.name).read()
            if "panicked" in text:
                failures.append("the server panicked")
                print(text[-4000:], file=sys.stderr)
    print(f"attacks: {len(failures)} not stopped" if failures else "attacks: every one stopped")
    for f in failures:
        print("  - " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
