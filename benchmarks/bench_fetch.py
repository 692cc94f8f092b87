"""The fetch layer: pacing against RingCentral's limits, a 100,000-user tenant, and one-by-one reads.

(a) Paced SCIM paging. The sandbox's limits are scaled down (e.g. 50 requests per 2 s) and the page size
    is small, so fetching N users takes R requests with R >= 10 x the limit L. DESIGN.md's floor for R
    requests is (ceil(R/L) - 1) * W; the budget is 1.1 x the floor, with zero 429s. Baseline: the same
    fetch with limits nobody reaches, in the same run.
(b) Both sides of a generated 100,000-user tenant, unthrottled (limits of 10^9 and the sandbox's
    `maxCount` raised to 1000: RingCentral's own maximum is undocumented). Budget: under 60 s. Baseline:
    a 10,000-user tenant in the same run (x 10k: linear would be 10).
(c) `listOmits` = phoneNumbers, addresses (RingCentral's current list schema): every user is then read
    with GET /Users/{id}, paced. Shows the number of detail reads and their time against the floor, and
    against the same tenant whose list answers are complete.

    .venv/bin/python benchmarks/bench_fetch.py [--part a,b,c]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from typing import Any

from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import make_session, stats_of
from rcaudit.connect.scim import ScimClient
from rcaudit.sandbox import Sandbox, generate

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
HUGE = {"light": 10**9, "heavy": 10**9, "auth": 10**9, "window": 60}


def tenant(users: int, max_count: int, limits: dict[str, Any], omits: list[str] | None = None) -> dict[str, Any]:
    data = generate(users=users, seed=11, now=NOW).tenant
    data["sandbox"] = {**data.get("sandbox", {}), "maxCount": max_count, "limits": limits, "listOmits": omits or []}
    return data


def scim_fetch(data: dict[str, Any], audited: list[str] | None = None) -> tuple[float, int, int, int, int]:
    """Seconds, users, light requests, 429s, detail reads of reading every SCIM user."""
    with Sandbox(data) as sandbox:
        settings = Settings.from_env(sandbox.env())
        scim = ScimClient(settings, make_session(settings.ca_bundle))
        count = scim.page_size(scim.service_provider_config())
        started = time.perf_counter()
        fetched = scim.fetch_users(audited or [], count)
        seconds = time.perf_counter() - started
        light = sum(1 for method, path in sandbox.rc_server.requests_seen
                    if method == "GET" and path.startswith("/scim/v2/Users"))
    return seconds, len(fetched.users), light, stats_of(scim.session).throttled["scim"], fetched.detail_reads


def part_a() -> None:
    print("(a) paced SCIM paging: requests R >= 10 x limit L; budget 1.1 x floor, zero 429s")
    print(f"{'L':>4} {'W s':>5} {'P':>4} {'N':>7} {'requests':>9} {'seconds':>8} {'floor':>7} {'ratio':>6} "
          f"{'429s':>5} {'unpaced s':>10} {'verdict':>8}")
    for limit, window, page, users in ((50, 2.0, 10, 5100), (20, 1.0, 20, 4100)):
        limits = {"light": limit, "heavy": 10, "auth": 5, "window": window}
        seconds, n, requests, throttled, _ = scim_fetch(tenant(users, page, limits))
        baseline, *_ = scim_fetch(tenant(users, page, HUGE))
        floor = (math.ceil(requests / limit) - 1) * window
        ratio = seconds / floor
        ok = ratio <= 1.1 and throttled == 0 and requests >= 10 * limit
        print(f"{limit:>4} {window:>5g} {page:>4} {n:>7} {requests:>9} {seconds:>8.2f} {floor:>7.1f} {ratio:>6.3f} "
              f"{throttled:>5} {baseline:>10.2f} {'ok' if ok else 'OVER':>8}")


def full_fetch(users: int) -> tuple[Any, float]:
    data = tenant(users, 1000, HUGE)
    with Sandbox(data) as sandbox:
        started = time.perf_counter()
        snap = fetch_snapshot(Settings.from_env(sandbox.env()), source="sandbox", progress=False, interactive=False)
        return snap, time.perf_counter() - started


def part_b() -> None:
    print("\n(b) both sides, unthrottled, sandbox maxCount 1000; budget: 100,000 users in under 60 s")
    print(f"{'users':>8} {'entra':>7} {'scim':>7} {'seconds':>8} {'x 10k':>6} {'graph s':>8} {'graph req':>9} "
          f"{'scim s':>7} {'scim req':>8} {'verdict':>8}")
    base = None
    for users in (10_000, 100_000):
        snap, seconds = full_fetch(users)
        base = base or seconds
        verdict = "ok" if users < 100_000 or seconds < 60 else "OVER"
        print(f"{users:>8} {len(snap.users):>7} {len(snap.scim_users):>7} {seconds:>8.2f} {seconds / base:>6.1f} "
              f"{snap.timings['graph']:>8.2f} {snap.requests['graph']:>9} {snap.timings['scim_users']:>7.2f} "
              f"{snap.requests['scim']:>8} {verdict:>8}")


def part_c() -> None:
    print("\n(c) list answers without phoneNumbers/addresses: one GET per user, paced (light 50 per 1 s, page 100)")
    print(f"{'N':>6} {'list omits':>22} {'detail reads':>12} {'light req':>9} {'seconds':>8} {'floor':>6} "
          f"{'ratio':>6} {'429s':>5} {'x complete':>10}")
    limits = {"light": 50, "heavy": 10, "auth": 5, "window": 1}
    audited = ["userName", "emails", "phoneNumbers", "addresses"]
    base = None
    for omits in ([], ["phoneNumbers", "addresses"]):  # the complete list is the baseline
        seconds, n, requests, throttled, details = scim_fetch(tenant(500, 100, limits, omits), audited)
        base = base or seconds
        floor = (math.ceil(requests / 50) - 1) * 1.0
        ratio = f"{seconds / floor:.3f}" if floor else "-"
        print(f"{n:>6} {', '.join(omits) or '(none)':>22} {details:>12} {requests:>9} {seconds:>8.2f} {floor:>6.1f} "
              f"{ratio:>6} {throttled:>5} {seconds / base:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default="a,b,c")
    parts = parser.parse_args().part.split(",")
    for name, run in (("a", part_a), ("b", part_b), ("c", part_c)):
        if name in parts:
            run()


if __name__ == "__main__":
    main()
