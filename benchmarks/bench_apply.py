"""Fix-ups against RingCentral's write limit: an apply is paced to the Heavy group, with no 429s.

R accounts with one operation each (a planted title drift): per account one re-read (GET /Users/{id}, Light
group) and one PATCH (Heavy group). The sandbox's limits are scaled down: Heavy 10 writes per 2 s, Light
50 reads per 2 s. DESIGN.md's floor for R writes at L per W is (ceil(R/L) - 1) * W: 38 s for 200 accounts.
Budget: the apply takes at most 1.1 x the floor, with zero 429s.

Baseline, measured in the same run: the same R PATCHes sent by a bare loop over `ScimClient.patch_user`
through the same paced session factory (no re-read, no stale check, no journal). The table shows both against
the floor, and the apply against the baseline.

    .venv/bin/python benchmarks/bench_apply.py [--accounts 50,200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rcaudit.audit.reconcile import reconcile
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import stats_of
from rcaudit.fix.apply import apply_plan, scim_client
from rcaudit.fix.guards import Guards
from rcaudit.fix.plan import Filters, plan_for_run
from rcaudit.sandbox import Sandbox, generate

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HEAVY, LIGHT, WINDOW = 10, 50, 2.0
UNLIMITED = {"light": 10**9, "heavy": 10**9, "auth": 10**9, "window": 60}
DRIFT = "Title changed by hand"


def clean_accounts(sandbox: Sandbox, settings: Settings, wanted: int) -> list[str]:
    """Ids of `wanted` active accounts paired with live users that carry no finding and have a title."""
    snapshot = fetch_snapshot(settings, source="sandbox", progress=False, interactive=False)
    result = reconcile(snapshot)
    flagged = set(result.findings["scim_id"]) | set(result.findings["entra_id"])
    actual = result.actual
    live = set(result.expected.loc[result.expected["live"], "entra_id"])
    ids = [row.scim_id for row in actual.itertuples() if row.active and row.entra_id in live
           and row.scim_id not in flagged and row.entra_id not in flagged and row.title]
    if len(ids) < wanted:
        raise SystemExit(f"only {len(ids)} clean accounts; generate a bigger tenant")
    return ids[:wanted]


def measure(accounts: int) -> list[dict[str, Any]]:
    tenant = generate(users=max(400, accounts * 2 + 100), seed=7, now=NOW).tenant
    tenant["sandbox"]["limits"] = dict(UNLIMITED)
    rows = []
    with Sandbox(tenant) as sandbox, tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(sandbox.env())
        chosen = clean_accounts(sandbox, settings, accounts)
        for scim_id in chosen:
            sandbox.state.scim_user(scim_id)["title"] = DRIFT
        snapshot = fetch_snapshot(settings, source="sandbox", progress=False, interactive=False)
        folder = Path(tmp) / "run"
        snapshot.save(folder / "snapshot")
        plan = plan_for_run(folder, Filters(attributes=("title",), users=tuple(chosen)))
        assert len(plan.operations) == accounts, len(plan.operations)

        # the apply: re-read + PATCH per account, paced, journaled
        sandbox.state.configure_limits(light=LIGHT, heavy=HEAVY, window=WINDOW)
        time.sleep(WINDOW)  # the shared pacer's view of earlier windows has expired
        sandbox.rc_server.requests_seen.clear()
        client = scim_client(settings)
        started = time.perf_counter()
        result = apply_plan(plan, client, apply=True, guards=Guards(max_changes=accounts), settings=settings)
        seconds = time.perf_counter() - started
        assert result.counts["applied"] == accounts, result.render()
        rows.append(row("apply (GET + PATCH)", accounts, sandbox, seconds, stats_of(client.session).throttled["scim"]))

        # the baseline: the same PATCHes, bare
        sandbox.state.configure_limits(light=LIGHT, heavy=HEAVY, window=WINDOW)
        time.sleep(WINDOW)
        sandbox.rc_server.requests_seen.clear()
        bare = scim_client(settings)
        started = time.perf_counter()
        for scim_id in chosen:
            bare.patch_user(scim_id, [{"op": "replace", "path": "title", "value": DRIFT}])
        seconds = time.perf_counter() - started
        rows.append(row("baseline (PATCH only)", accounts, sandbox, seconds, stats_of(bare.session).throttled["scim"]))
    rows[0]["vs baseline"] = rows[0]["seconds"] / rows[1]["seconds"]
    rows[1]["vs baseline"] = 1.0
    return rows


def row(name: str, accounts: int, sandbox: Sandbox, seconds: float, throttled: int) -> dict[str, Any]:
    seen = sandbox.rc_server.requests_seen
    patches = sum(1 for method, path in seen if method == "PATCH")
    gets = sum(1 for method, path in seen if method == "GET" and path.startswith("/scim/v2/Users/"))
    floor = (math.ceil(patches / HEAVY) - 1) * WINDOW
    return {"run": name, "accounts": accounts, "PATCHes": patches, "GETs": gets, "seconds": seconds, "floor": floor,
            "ratio": seconds / floor if floor else float("nan"), "429s": throttled}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", default="50,200", help="comma-separated account counts (default 50,200)")
    sizes = [int(n) for n in parser.parse_args().accounts.split(",")]
    print(f"fix-ups paced to the write limit: Heavy {HEAVY} per {WINDOW:g} s, Light {LIGHT} per {WINDOW:g} s; "
          "budget: apply <= 1.1 x floor, zero 429s")
    print(f"{'run':<22} {'accounts':>8} {'PATCHes':>8} {'GETs':>6} {'seconds':>8} {'floor':>6} {'ratio':>6} "
          f"{'vs baseline':>11} {'429s':>5} {'verdict':>8}")
    failed = False
    for accounts in sizes:
        for r in measure(accounts):
            ok = r["ratio"] <= 1.1 and r["429s"] == 0
            failed |= not ok
            print(f"{r['run']:<22} {r['accounts']:>8} {r['PATCHes']:>8} {r['GETs']:>6} {r['seconds']:>8.2f} "
                  f"{r['floor']:>6.1f} {r['ratio']:>6.3f} {r['vs baseline']:>11.3f} {r['429s']:>5} "
                  f"{'ok' if ok else 'OVER':>8}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
