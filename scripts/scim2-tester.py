#!/usr/bin/env python3
"""Run the external SCIM conformance checker scim2-tester (PyPI) against a live Roster endpoint.

Usage: scim2-tester.py SCIM_BASE_URL TOKEN
Prints every check with its status; exits 1 if any check reports ERROR or CRITICAL, or if none ran.
"""
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    results = check_server(client)
    failures = 0
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        bad = r.status in (Status.ERROR, Status.CRITICAL)
        failures += bad
        mark = "FAIL" if bad else "ok  "
        where = f" [{r.resource_type}]" if r.resource_type else ""
        print(f"{mark} {r.status.name:<10} {r.title}{where}: {r.reason or ''}")
    print("scim2-tester:", ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items())))
    passed = len(results) - failures
    print(f"scim2-tester: {passed} passed, {failures} failed")
    return 1 if failures or not results else 0


if __name__ == "__main__":
    sys.exit(main())
