"""`rcaudit check` against the sandbox: one line per check, exit 0 only when every required check passes."""

from __future__ import annotations

import os

import pytest

from rcaudit import auth, check
from rcaudit.cli import main
from rcaudit.http import RetryPolicy
from rcaudit.sandbox import Sandbox


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    auth.reset_apps()
    for name in list(os.environ):
        if name.startswith("RCAUDIT_"):
            monkeypatch.delenv(name)


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["check"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def lines(out: str) -> dict[str, str]:
    """check name -> status, from lines like `ok                  users — readable`."""
    found = {}
    for line in out.splitlines():
        if " — " in line or line.startswith(("ok ", "skipped ")):
            status, rest = line[:19].strip(), line[20:]
            found[rest.split(" — ")[0]] = status
    return found


def test_everything_granted(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(monkeypatch, capsys, sandbox.env(rc_auth="jwt"))
    assert code == 0, out
    assert set(lines(out).values()) == {"ok"}
    assert list(lines(out)) == ["Graph token", "users", "service principal", "app role assignments", "group members",
                                "transitive group members", "synchronization job", "synchronization schema",
                                "provisioning events", "deleted users", "SCIM token", "ServiceProviderConfig",
                                "Schemas", "users page"]
    assert out.rstrip().endswith("every required check passed")


def test_an_optional_permission_missing_still_passes(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.state.deny_graph(r"/auditLogs/provisioning")
    code, out = run(monkeypatch, capsys, sandbox.env())
    assert code == 0
    assert ("missing permission  provisioning events — grant AuditLog.Read.All and Directory.Read.All "
            "(optional: recent provisioning errors are not shown)") in out


def test_a_required_permission_missing_fails(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.state.deny_graph(r"/appRoleAssignedTo$")
    code, out = run(monkeypatch, capsys, sandbox.env())
    assert code == 2
    assert "missing permission  app role assignments — grant Application.Read.All" in out
    assert out.rstrip().endswith("1 required check(s) failed")


def test_a_refused_secret_and_an_unreachable_ringcentral(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    env = {**sandbox.env(), "RCAUDIT_CLIENT_SECRET": "wrong-secret-xyz",
           "RCAUDIT_SCIM_URL": "https://127.0.0.1:9/scim/v2"}  # the discard port: nothing listens
    monkeypatch.setattr(check, "CHECK_RETRY", RetryPolicy(max_attempts=2, backoff=0.01))
    code, out = run(monkeypatch, capsys, env)
    assert code == 2
    statuses = lines(out)
    assert statuses["Graph token"] == "refused" and "AADSTS7000215" in out
    assert statuses["Graph reads"] == "skipped"
    assert statuses["ServiceProviderConfig"] == "unreachable" and "after 2 attempt(s)" in out
    assert statuses["SCIM reads"] == "skipped"
    assert "wrong-secret-xyz" not in out


def test_a_missing_setting_is_named_and_nothing_is_contacted(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    env = sandbox.env()
    del env["RCAUDIT_APP_ID"]
    code, out = run(monkeypatch, capsys, env)
    assert code == 2 and "RCAUDIT_APP_ID" in out
    assert sandbox.graph_server.requests_seen == [] and sandbox.rc_server.requests_seen == []
