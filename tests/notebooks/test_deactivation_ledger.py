"""The 24 h deactivation ceiling holds wherever the run folders are (issue 10 point 7): every applied
(de)activation goes to the user's ledger (XDG_CONFIG_HOME/rcaudit/deactivations.jsonl, mode 600), which the
guard reads with the journals in reach, so audits written with `--out` anywhere do not reset the count.
Through `rcaudit audit` / `rcaudit fix` / `rcaudit rollback` over HTTPS to the sandbox."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rcaudit.cli import main
from rcaudit.model.snapshot import normal_scim_url
from rcaudit.sandbox import Sandbox
from tests.support.audit_runs import use_sandbox_env
from tests.support.fixups import disabled_tenant

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it



def should_be_inactive(folder: Path) -> list[str]:
    with (folder / "findings.csv").open(encoding="utf-8") as handle:
        return [row["scim_id"] for row in csv.DictReader(handle) if row["kind"] == "should_be_inactive"]


def patches(sandbox: Sandbox) -> int:
    return sum(1 for m, p in sandbox.rc_server.requests_seen if m == "PATCH" and p.startswith("/scim/v2/Users/"))


def test_batches_from_audits_in_two_out_folders_count_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The tester's repro: two audits with --out outside RCAUDIT_OUTPUTS, two deactivations from each."""
    elsewhere = tmp_path / "x"
    with Sandbox(disabled_tenant()) as sandbox:
        use_sandbox_env(monkeypatch, sandbox, tmp_path / "outputs")
        fix = ["fix", "--kinds", "should_be_inactive", "--apply", "--allow-deactivate"]
        assert main(["audit", "--out", str(elsewhere / "win-a"), "--fail-on", "none"]) == 0
        first = should_be_inactive(elsewhere / "win-a")
        assert len(first) == 4
        assert main([*fix, "--run", str(elsewhere / "win-a"), "--users", ",".join(first[:2])]) == 0
        assert main(["audit", "--out", str(elsewhere / "win-b"), "--fail-on", "none"]) == 0
        second = should_be_inactive(elsewhere / "win-b")
        assert len(second) == 2 and not set(second) & set(first[:2])
        capsys.readouterr()
        sandbox.rc_server.requests_seen.clear()
        assert main([*fix, "--run", str(elsewhere / "win-b"), "--users", ",".join(second)]) == 2
        err = capsys.readouterr().err
        assert patches(sandbox) == 0
        assert ("4 deactivations are 8.3% of the target's 48 active accounts, above the 5% limit (at most 2): 2 in "
                f"this plan + 2 applied to {normal_scim_url(sandbox.scim_url)} in the last 24 h") in err
        assert sum(1 for a in sandbox.state.scim_users if a["id"] in first + second and not a["active"]) == 2
