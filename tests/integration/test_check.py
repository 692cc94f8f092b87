"""`rcaudit check` against the sandbox: one line per check, exit 0 only when every required check passes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rcaudit.cli import main
from rcaudit.connect import auth, check
from rcaudit.connect.http import RetryPolicy
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


# --- bad files named by their setting (issue 10, point 9) -------------------------------------------
@pytest.mark.parametrize("content", [None, b"not a certificate\n", b"\x00\x9f\xff binary"])
def test_a_ca_bundle_that_is_missing_or_not_pem_is_exit_2_naming_the_setting(
        content: bytes | None, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    code, out = run(monkeypatch, capsys, {**sandbox.env(), "RCAUDIT_CA_BUNDLE": str(bundle)})
    assert code == 2 and "RCAUDIT_CA_BUNDLE" in out and str(bundle) in out
    assert "Traceback" not in out
    assert sandbox.graph_server.requests_seen == [] and sandbox.rc_server.requests_seen == []


@pytest.mark.parametrize("problem", ["certificate", "unreadable", "garbage"])
def test_a_key_file_that_is_not_a_private_key_is_exit_2_naming_the_setting(
        problem: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    env = sandbox.env(graph_auth="certificate")
    key = tmp_path / "key.pem"
    if problem == "certificate":
        key.write_bytes(Path(env["RCAUDIT_CLIENT_CERT"]).read_bytes())  # the certificate given as the key
    elif problem == "garbage":
        key.write_bytes(b"\x00\xff not pem at all")
    env["RCAUDIT_CLIENT_KEY"] = str(key)  # "unreadable": the file does not exist
    code, out = run(monkeypatch, capsys, env)
    assert code == 2 and "RCAUDIT_CLIENT_KEY" in out and "Traceback" not in out
    if problem == "certificate":
        assert "holds a certificate, not a private key" in out
    assert not [p for m, p in sandbox.graph_server.requests_seen if p.endswith("/token")], "nothing was signed"


def test_a_users_page_without_total_results_fails_the_check(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The audit would refuse that list (issue 10, point 2): the connection test says so first."""
    sandbox.faults.add("omit_total", service="rc", path=r"^/scim/v2/Users$")
    code, out = run(monkeypatch, capsys, sandbox.env())
    assert code == 2 and lines(out)["users page"] == "failed" and "totalResults is absent" in out


def test_webhooks_are_listed_and_with_notify_each_gets_a_test_message(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """`rcaudit check` lists RCAUDIT_NOTIFY_URLS by kind, position and origin; `--notify` posts each a test
    message in its service's shape (a receiver on 127.0.0.1 over HTTPS; one path answers 500), never the URL."""
    import json

    from tests.support.tls_wsgi import https_wsgi

    got: list[tuple[str, dict]] = []

    def receiver(environ: dict, start_response: object) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        got.append((environ["PATH_INFO"], json.loads(body)))
        failing = environ["PATH_INFO"].startswith("/fail/")
        start_response("500 Internal Server Error" if failing else "202 Accepted", [])  # type: ignore[operator]
        return [b""]

    with https_wsgi(receiver) as (url, ca_file):
        bundle = tmp_path / "both.pem"
        bundle.write_bytes(sandbox.ca_file.read_bytes() + ca_file.read_bytes())
        env = {**sandbox.env(rc_auth="jwt"), "RCAUDIT_CA_BUNDLE": str(bundle),
               "RCAUDIT_NOTIFY_URLS": f"teams:{url}/teams/Secret-Path-1 slack:{url}/slack/Secret-Path-2"}
        code, out = run(monkeypatch, capsys, env)
        printed = [out]
        assert code == 0, out
        listed = [line for line in out.splitlines() if line.startswith("skipped") and " webhook " in line]
        assert [line.split(" webhook ")[1].split(" (")[0] for line in listed] == ["teams #1", "slack #2"]
        assert got == []  # listing posts nothing
        code = main(["check", "--notify"])
        out = capsys.readouterr().out
        printed.append(out)
        assert code == 0, out
        assert [p for p, _ in got] == ["/teams/Secret-Path-1", "/slack/Secret-Path-2"]
        card = got[0][1]["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
        assert got[1][1]["blocks"][0]["type"] == "header"
        assert sum(1 for line in out.splitlines() if line.startswith("ok ") and "webhook" in line) == 2
        monkeypatch.setenv("RCAUDIT_NOTIFY_URLS", f"json:{url}/fail/Secret-Path-3")
        code = main(["check", "--notify"])
        out = capsys.readouterr().out
        printed.append(out)
        assert code == 2 and "failed" in out and "HTTP 500, 3 attempts" in out
        monkeypatch.setenv("RCAUDIT_NOTIFY_URLS", "mail:Secret-Path-4")
        code = main(["check"])
        out = capsys.readouterr().out
        printed.append(out)
        assert code == 2 and "RCAUDIT_NOTIFY_URLS entry 1" in out
    assert not [text for text in printed if "Secret-Path" in text]
