"""The sandbox's plumbing without a server: rate-limit arithmetic, fault matching, and `rcaudit demo` refusing a
tenant field of the wrong type by its JSON path before anything is served."""

from __future__ import annotations

from rcaudit.sandbox import builtin_tenant, save_tenant
from rcaudit.sandbox.servers.faults import FaultSet
from rcaudit.sandbox.servers.ratelimit import RateLimiter


def test_rate_limiter_follows_the_design_rules() -> None:
    now = [0.0]
    limiter = RateLimiter({"light": 3}, window=60, clock=lambda: now[0])
    remaining = [limiter.check("app", "light").remaining for _ in range(3)]
    assert remaining == [2, 1, 0]
    denied = limiter.check("app", "light")
    assert not denied.allowed and denied.retry_after == 60
    now[0] = 50.0  # inside the penalty: denied again, and the penalty restarts from here
    assert not limiter.check("app", "light").allowed
    now[0] = 100.0  # the first window would be long over, but the restarted penalty runs to 110
    assert not limiter.check("app", "light").allowed
    now[0] = 160.5  # after the penalty a fresh window opens
    assert limiter.check("app", "light").remaining == 2
    assert limiter.check("other-app", "light").remaining == 2  # counted per user + app


def test_fault_nth_fires_once_on_the_nth_matching_request() -> None:
    faults = FaultSet()
    faults.add("respond", method="GET", path=r"/Users$", nth=2, status=503)
    hits = [faults.take("rc", "GET", "/scim/v2/Users") for _ in range(4)]
    assert [h is not None for h in hits] == [False, True, False, False]
    assert faults.take("rc", "GET", "/scim/v2/Users/1") is None


def test_demo_refuses_a_tenant_field_of_the_wrong_type_naming_its_path(tmp_path, capsys) -> None:
    """A list where Graph has a string used to end the demo in `unhashable type: 'list'`."""
    from rcaudit.cli import main

    tenant = builtin_tenant()
    tenant["graph"]["users"][4]["mailNickname"] = ["two", "values"]
    path = save_tenant(tenant, tmp_path / "wrong.json")
    assert main(["demo", "--tenant", str(path), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: $.graph.users[4].mailNickname: expected string or null, got array" in err
    assert "unhashable" not in err and not (tmp_path / "never").exists()
