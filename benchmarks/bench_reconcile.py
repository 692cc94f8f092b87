"""Audit engine: seconds from a loaded snapshot to the findings table, peak RSS, and the ratio against a
straightforward row-by-row Python implementation of the same rules, timed in the same run.

Per size, three fresh subprocesses: one generates the tenant and builds its Snapshot in memory (as a complete
fetch would: `tests/snapshots.py`) and pickles it, so generation stays out of both the timing and the peak
RSS; one loads it and times `reconcile`; one loads it and times the row-by-row baseline below. Peak RSS is
the measuring process's (snapshot included). Both implementations must find exactly the planted truth.
Targets: 250,000 users in under 10 s, at least 3x the baseline, peak RSS under 4 GB.

The probable causes (`rcaudit.audit.causes`) must add under 10 %: a fourth subprocess times `reconcile` with
and without them (the call replaced by a no-op), alternating, best of `--repeat`, and prints the ratio.

    .venv/bin/python benchmarks/bench_reconcile.py [--sizes 10000,100000,250000] [--keep] [--repeat 3]
                                                   [--no-baseline]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
GRACE = dt.timedelta(minutes=40)


# --- the row-by-row baseline: the rules written the obvious way, one user and one account at a time --------

def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    collapsed = " ".join(str(value).split())
    return (collapsed.lower() if collapsed.lower() in ("true", "false") else collapsed) or None


def _country(value: Any) -> str | None:
    import pycountry

    text = _text(value)
    if text is None:
        return None
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return text


def _phone(value: Any, region: str | None) -> str | None:
    import phonenumbers

    text = _text(value)
    if text is None:
        return None
    try:
        return phonenumbers.format_number(phonenumbers.parse(text, region), phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return text


def _normal(path: str, value: Any, region: str | None) -> str | None:
    if path.endswith(".country"):
        return _country(value)
    if path.startswith("phoneNumbers"):
        return _phone(value, region)
    text = _text(value)
    if text is not None and (path == "userName" or path.startswith("emails")):
        return text.casefold()
    return text


def baseline(snapshot: Any) -> set[tuple[str, str, str, str]]:
    """DESIGN.md's rules, row by row: (kind, entra_id, scim_id, attribute) of every finding."""
    from rcaudit.audit.mapping import DEFAULT_MAPPING, graph_property, mapping_from_schema
    from rcaudit.model.scim_path import declared_by, target_reader

    mapping = mapping_from_schema(snapshot.schema) if snapshot.schema else DEFAULT_MAPPING
    audited = [(m.target, m.direct_source) for m in mapping if m.target != "active" and m.direct_source
               and declared_by(snapshot.scim_schemas, m.target) is None]
    readers = {target: target_reader(target) for target, _ in audited}
    sources = dict(audited)
    cutoff = snapshot.graph_fetched_at - GRACE

    everyone = {u["id"]: u for u in snapshot.users}
    deleted = {u["id"] for u in snapshot.deleted_users if u["id"] not in everyone}
    everyone.update({u["id"]: u for u in snapshot.deleted_users if u["id"] in deleted})
    roles = {r["id"]: r for r in snapshot.service_principal.get("appRoles", [])}
    since: dict[str, dt.datetime] = {}
    for a in snapshot.app_role_assignments:
        if a["appRoleId"] == DEFAULT_ACCESS or roles.get(a["appRoleId"], {}).get("displayName") == "msiam_access":
            continue
        if a["principalType"] == "User":
            targets = [a["principalId"]]
        else:
            targets = [m["id"] for m in snapshot.group_members.get(a["principalId"], [])
                       if m.get("@odata.type") == "#microsoft.graph.user"]
        for uid in targets:
            if uid in everyone:
                at = _when(a["createdDateTime"])
                since[uid] = min(at, since.get(uid, at))
    live = {uid for uid in since if everyone[uid].get("accountEnabled") is True and uid not in deleted}

    def expected(user: dict[str, Any], target: str) -> Any:
        prop = graph_property(sources[target]) or sources[target]
        if prop == "manager":
            return None
        return user.get(prop)

    def key(value: Any) -> str:
        return str(value or "").strip().casefold()

    by_name: dict[str, list[str]] = {}
    by_external_id: dict[str, list[str]] = {}
    for uid, user in everyone.items():
        if "userName" in sources and expected(user, "userName"):
            by_name.setdefault(key(expected(user, "userName")), []).append(uid)
        if "externalId" in sources and expected(user, "externalId"):
            by_external_id.setdefault(key(expected(user, "externalId")), []).append(uid)
    accounts = {a["id"]: a for a in snapshot.scim_users}
    users_of: dict[str, list[str]] = {}
    accounts_of: dict[str, list[str]] = {}
    for aid, acct in accounts.items():
        hits = by_name.get(key(acct.get("userName")), []) if acct.get("userName") else []
        if not hits and acct.get("externalId"):
            hits = by_external_id.get(key(acct.get("externalId")), [])
        users_of[aid] = hits
        for uid in hits:
            accounts_of.setdefault(uid, []).append(aid)

    found: set[tuple[str, str, str, str]] = set()
    ambiguous = {aid for aid, uids in users_of.items() if len(uids) > 1}
    ambiguous |= {aid for aids in accounts_of.values() if len(aids) > 1 for aid in aids}
    for aid in ambiguous:
        found.add(("ambiguous_match", ";".join(sorted(set(users_of[aid]))), aid, ""))
    for uid in live:
        user = everyone[uid]
        pending = _when(user.get("createdDateTime")) > cutoff or since[uid] > cutoff
        if not accounts_of.get(uid) and not pending:
            found.add(("missing_in_target", uid, "", ""))
    paired: dict[str, str] = {}
    for aid, acct in accounts.items():
        if aid in ambiguous:
            continue
        if not users_of[aid]:
            if acct.get("active") is True:
                found.add(("orphan_in_target", "", aid, ""))
            continue
        uid = users_of[aid][0]
        paired[aid] = uid
        if uid not in live:
            if acct.get("active") is True:
                found.add(("should_be_inactive", uid, aid, ""))
            continue
        if acct.get("active") is not True and _when(acct["meta"]["created"]) <= cutoff:
            found.add(("should_be_active", uid, aid, ""))
    account_of = {uid: aid for aid, uid in paired.items()}
    for aid, uid in paired.items():
        if uid not in live:
            continue
        user, acct = everyone[uid], accounts[aid]
        region = user.get("usageLocation") or _country(user.get("country"))
        for target, _ in audited:
            if target.endswith(":manager"):
                boss = (user.get("manager") or {}).get("id")
                if boss and boss not in account_of:
                    continue
                want = account_of.get(boss) if boss else None
            else:
                want = expected(user, target)
            if _normal(target, want, region) != _normal(target, readers[target](acct), region):
                found.add(("attribute_mismatch", uid, aid, target))
    return found


# --- the subprocesses -----------------------------------------------------------------------------------------

def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(n: int, path: Path) -> None:
    """Generate a tenant, build its Snapshot as a complete fetch would, pickle both with the truth."""
    sys.path.insert(0, str(ROOT))  # the tests package: its snapshot builder
    from rcaudit.sandbox import generate
    from tests.support.snapshots import snapshot_from_tenant

    generated = generate(users=n, seed=1, now=NOW)
    truth = {(r.kind, r.entra_id, r.scim_id, r.attribute) for r in generated.truth}
    snapshot = snapshot_from_tenant(generated.tenant, NOW)
    with path.open("wb") as handle:
        pickle.dump((snapshot, truth), handle, protocol=pickle.HIGHEST_PROTOCOL)


def measure(which: str, path: Path) -> dict[str, Any]:
    """Load the snapshot, then time one implementation from the loaded snapshot to its findings."""
    import gc

    gc.disable()  # unpickling half a million small dicts: the collector would only slow the load
    with path.open("rb") as handle:
        snapshot, truth = pickle.load(handle)
    gc.enable()
    loaded_mb = _peak_mb()
    if which == "engine":
        from rcaudit.audit.reconcile import reconcile

        start = time.perf_counter()
        result = reconcile(snapshot)
        seconds = time.perf_counter() - start
        frame = result.findings
        found = set(zip(frame["kind"], frame["entra_id"], frame["scim_id"], frame["attribute"], strict=True))
    else:
        start = time.perf_counter()
        found = baseline(snapshot)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _peak_mb(), "snapshot_mb": loaded_mb, "findings": len(found),
            "exact": found == truth}


def measure_causes(path: Path, repeat: int) -> dict[str, Any]:
    """`reconcile` with and without the cause computation on one loaded snapshot, alternating so both see the
    same machine load: the best of `repeat` runs each."""
    import gc

    import rcaudit.audit.reconcile as engine

    gc.disable()
    with path.open("rb") as handle:
        snapshot, _ = pickle.load(handle)
    gc.enable()
    with_causes = engine.assign_causes
    best = {"with": float("inf"), "without": float("inf")}
    causes_seen = 0
    for _ in range(repeat):
        for which in ("without", "with"):
            engine.assign_causes = with_causes if which == "with" else (lambda findings, *_, **__: findings)
            start = time.perf_counter()
            result = engine.reconcile(snapshot)
            best[which] = min(best[which], time.perf_counter() - start)
            if which == "with":
                causes_seen = int((result.findings["cause"] != "").sum())
            del result
    engine.assign_causes = with_causes
    return {"with": best["with"], "without": best["without"], "ratio": best["with"] / best["without"],
            "with_cause": causes_seen}


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,250000")
    parser.add_argument("--keep", action="store_true", help="keep the pickled snapshots (in the temp folder)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant for the causes ratio")
    parser.add_argument("--no-baseline", action="store_true", help="skip the row-by-row baseline")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, path = args.child
        if what == "prepare":
            prepare(int(Path(path).stem.split("-")[-1]), Path(path))
            print("{}")
        elif what.startswith("causes"):
            print(json.dumps(measure_causes(Path(path), int(what.split(":")[1]))))
        else:
            print(json.dumps(measure(what, Path(path))))
        return
    folder = Path(tempfile.mkdtemp(prefix="rcaudit-bench-"))
    print(f"{'users':>8} {'engine s':>9} {'baseline s':>11} {'x faster':>9} {'peak MB':>8} {'snapshot MB':>12} "
          f"{'baseline MB':>12} {'findings':>9} {'exact':>6} {'causes s':>9} {'no causes s':>12} {'ratio':>6}")
    for n in (int(s) for s in args.sizes.split(",")):
        path = folder / f"snapshot-{n}.pkl"
        _child("--child", "prepare", str(path))
        engine = _child("--child", "engine", str(path))
        row_by_row = ({"seconds": float("nan"), "peak_mb": float("nan"), "exact": True} if args.no_baseline
                      else _child("--child", "baseline", str(path)))
        causes = _child("--child", f"causes:{args.repeat}", str(path))
        if not args.keep:
            path.unlink()
        exact = engine["exact"] and row_by_row["exact"] and causes["with_cause"] == engine["findings"]
        print(f"{n:>8} {engine['seconds']:>9.2f} {row_by_row['seconds']:>11.2f} "
              f"{row_by_row['seconds'] / engine['seconds']:>9.1f} {engine['peak_mb']:>8.0f} "
              f"{engine['snapshot_mb']:>12.0f} {row_by_row['peak_mb']:>12.0f} {engine['findings']:>9} "
              f"{'yes' if exact else 'NO':>6} {causes['with']:>9.2f} {causes['without']:>12.2f} "
              f"{causes['ratio']:>6.3f}", flush=True)
    if not args.keep:
        folder.rmdir()


if __name__ == "__main__":
    main()
