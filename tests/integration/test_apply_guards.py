"""Guards that cannot be walked around (issue 10, point 7), through `rcaudit fix` over HTTPS to sandboxes:
a plan audited on one RingCentral is refused on another (SCIM URL, or the JWT grant's owner), an account whose
userName changed since the audit is not written, and the 5 % deactivation rule counts 24 hours of applies to
the same RingCentral, so batches do not get around it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcaudit.cli import main
from rcaudit.connect.config import Settings
from rcaudit.fix.journal import read_journal
from rcaudit.model.snapshot import Snapshot, normal_scim_url
from rcaudit.sandbox import Sandbox
from tests.support.fixups import DISABLED, by_name, disabled_tenant, fetch, fixup_tenant, write_run

EVERYTHING = ("--include-orphans", "--allow-deactivate")


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], outputs: Path) -> None:
    """The process environment of an `rcaudit` command: exactly `env`, runs under `outputs`."""
    import os

    for name in [n for n in os.environ if n.startswith("RCAUDIT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RCAUDIT_OUTPUTS", str(outputs))


def writes(sandbox: Sandbox, method: str = "PATCH") -> int:
    return sum(1 for m, p in sandbox.rc_server.requests_seen if m == method and p.startswith("/scim/v2/Users/"))


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Sandbox, Sandbox, Path]]:
    """Two RingCentrals holding the same accounts (same ids), and a run audited on the first."""
    with Sandbox(fixup_tenant()) as first, Sandbox(fixup_tenant()) as second:
        folder = write_run(fetch(Settings.from_env(first.env())), tmp_path / "outputs" / "run")
        yield first, second, folder


def test_the_audited_ringcentral_is_recorded_in_the_snapshot(two: tuple[Sandbox, Sandbox, Path]) -> None:
    first, _, folder = two
    identity = Snapshot.load(folder).rc_identity
    assert identity == {"scim_url": normal_scim_url(first.scim_url)}
    assert normal_scim_url("HTTPS://Platform.RingCentral.com:443/scim/v2/") == "https://platform.ringcentral.com/scim/v2"
    assert normal_scim_url("https://127.0.0.1:8443/scim/v2") == "https://127.0.0.1:8443/scim/v2"


def test_a_plan_audited_on_one_ringcentral_is_refused_on_another(two: tuple[Sandbox, Sandbox, Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    first, second, folder = two
    env = {k: v for k, v in second.env().items() if k != "RCAUDIT_TENANT_ID"}  # the Entra check is skipped then
    use_env(monkeypatch, env, tmp_path / "outputs")
    second.rc_server.requests_seen.clear()
    assert main(["fix", "--run", str(folder), *EVERYTHING, "--apply"]) == 2
    err = capsys.readouterr().err
    assert f"the audit read RingCentral at {normal_scim_url(first.scim_url)}" in err
    assert f"points at {normal_scim_url(second.scim_url)}: this plan is not for this RingCentral" in err
    assert writes(second) == 0 and writes(second, "GET") == 0, "nothing read from or written to the other one"
    assert main(["fix", "--run", str(folder), *EVERYTHING]) == 0  # the dry run says why, and reads nothing there
    assert "not for this RingCentral" in capsys.readouterr().out and writes(second, "GET") == 0

    use_env(monkeypatch, first.env(), tmp_path / "outputs")  # applied where it was audited, then rolled back there
    assert main(["fix", "--run", str(folder), "--attributes", "title", "--apply"]) == 0
    journal = next(p for p in sorted((folder / "fixes").glob("*/journal.jsonl"))
                   if any(line["status"] == "applied" for line in read_journal(p)))
    use_env(monkeypatch, env, tmp_path / "outputs")
    capsys.readouterr()
    assert main(["rollback", "--journal", str(journal), "--apply"]) == 2
    assert "not for this RingCentral" in capsys.readouterr().err and writes(second) == 0


@pytest.fixture
def jwt_run(tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    with Sandbox(fixup_tenant()) as sandbox:
        folder = write_run(fetch(Settings.from_env(sandbox.env(rc_auth="jwt"))), tmp_path / "outputs" / "run")
        yield sandbox, folder


def test_a_plan_is_refused_when_the_jwt_grant_is_for_another_ringcentral_account(
        jwt_run: tuple[Sandbox, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox, folder = jwt_run
    owner = Snapshot.load(folder).rc_identity["owner_id"]
    assert owner == sandbox.rc_app.get("ownerId", "1271136020")
    sandbox.state.settings["rcApps"][0]["ownerId"] = "2999999020"  # the same URL, another customer's account
    use_env(monkeypatch, sandbox.env(rc_auth="jwt"), tmp_path / "outputs")
    sandbox.rc_server.requests_seen.clear()
    assert main(["fix", "--run", str(folder), "--attributes", "title", "--apply"]) == 2
    err = capsys.readouterr().err
    assert f"the audit read the RingCentral account of owner {owner}" in err and "owner 2999999020" in err
    assert writes(sandbox) == 0 and writes(sandbox, "GET") == 0
    use_env(monkeypatch, sandbox.env(), tmp_path / "outputs")  # a static token cannot show whose account it is
    assert main(["fix", "--run", str(folder), "--attributes", "title", "--apply"]) == 2
    assert "cannot be checked: apply with the JWT grant" in capsys.readouterr().err and writes(sandbox) == 0
    sandbox.state.settings["rcApps"][0]["ownerId"] = owner
    use_env(monkeypatch, sandbox.env(rc_auth="jwt"), tmp_path / "outputs")
    assert main(["fix", "--run", str(folder), "--attributes", "title", "--apply"]) == 0
    assert writes(sandbox) == 2


def test_an_account_whose_username_changed_since_the_audit_is_not_written(
        two: tuple[Sandbox, Sandbox, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, _, folder = two
    alice = by_name(first.state.scim_users, "alice.adams")
    alice["userName"] = "mallory.moss@contoso.example"  # the id now names someone else
    use_env(monkeypatch, first.env(), tmp_path / "outputs")
    first.rc_server.requests_seen.clear()
    assert main(["fix", "--run", str(folder), "--attributes", "title", "--apply"]) == 1
    journal = next((folder / "fixes").glob("*/journal.jsonl"))
    lines = {line["user_name"].split("@")[0]: line for line in read_journal(journal) if line["status"] != "intent"}
    assert lines["alice.adams"]["status"] == "failed"
    assert "is now userName mallory.moss@contoso.example, the audit saw alice.adams@contoso.example" in \
        lines["alice.adams"]["error"]
    assert lines["carol.clark"]["status"] == "applied"
    assert [p for m, p in first.rc_server.requests_seen if m == "PATCH"] == \
        [f"/scim/v2/Users/{by_name(first.state.scim_users, 'carol.clark')['id']}"]
    assert alice["title"] == "Old Title" and "failed 1" in capsys.readouterr().out


# --- the 5 % rule over 24 hours ----------------------------------------------------------------------------


def test_deactivations_in_batches_count_together_over_24_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    outputs = tmp_path / "outputs"
    with Sandbox(disabled_tenant()) as sandbox:
        settings = Settings.from_env(sandbox.env())
        first_run = write_run(fetch(settings), outputs / "run1")
        use_env(monkeypatch, sandbox.env(), outputs)
        people = ["frank.fox", *DISABLED]
        codes = []
        for person in people[:2]:  # one deactivation each: 1, then 2 of 50 (at most 2): allowed
            codes.append(main(["fix", "--run", str(first_run), "--kinds", "should_be_inactive", "--users",
                               f"{person}@contoso.example", "--allow-deactivate", "--apply"]))
        second_run = write_run(fetch(settings), outputs / "run2")  # audited again: the count spans run folders
        capsys.readouterr()
        sandbox.rc_server.requests_seen.clear()
        for person in people[2:]:
            codes.append(main(["fix", "--run", str(second_run), "--kinds", "should_be_inactive", "--users",
                               f"{person}@contoso.example", "--allow-deactivate", "--apply"]))
        err = capsys.readouterr().err
        assert codes == [0, 0, 2, 2], "the batch that crosses 5 % is refused, and the next one too"
        assert "3 deactivations are 6.2% of the target's 48 active accounts, above the 5% limit (at most 2): 1 in " \
               f"this plan + 2 applied to {normal_scim_url(sandbox.scim_url)} in the last 24 h" in err
        assert writes(sandbox) == 0
        assert [by_name(sandbox.state.scim_users, p)["active"] for p in people] == [False, False, True, True]


def test_a_rollback_of_deactivations_frees_the_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = tmp_path / "outputs"
    with Sandbox(disabled_tenant()) as sandbox:
        run = write_run(fetch(Settings.from_env(sandbox.env())), outputs / "run1")
        use_env(monkeypatch, sandbox.env(), outputs)
        batch = ["--run", str(run), "--kinds", "should_be_inactive", "--allow-deactivate", "--apply"]
        assert main(["fix", *batch, "--users", "frank.fox@contoso.example,filler.person00@contoso.example"]) == 0
        assert main(["fix", *batch, "--users", "filler.person01@contoso.example"]) == 2
        journal = next(p for p in sorted((run / "fixes").glob("*/journal.jsonl"))
                       if any(line["status"] == "applied" for line in read_journal(p)))
        assert main(["rollback", "--journal", str(journal), "--apply"]) == 0  # both active again
        assert main(["fix", *batch, "--users", "filler.person01@contoso.example"]) == 0
        assert json.dumps([by_name(sandbox.state.scim_users, p)["active"] for p in
                           ("frank.fox", "filler.person00", "filler.person01")]) == "[true, true, false]"


def test_a_snapshot_from_before_the_identity_field_still_applies_with_a_note(
        two: tuple[Sandbox, Sandbox, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, _, folder = two
    manifest = folder / "snapshot" / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["rc_identity"]
    manifest.write_text(json.dumps(data))
    assert Snapshot.load(folder).rc_identity == {}
    use_env(monkeypatch, first.env(), tmp_path / "outputs")
    assert main(["fix", "--run", str(folder), "--attributes", "title", "--apply"]) == 0
    assert "the audit did not record which RingCentral it read" in capsys.readouterr().out and writes(first) == 2
