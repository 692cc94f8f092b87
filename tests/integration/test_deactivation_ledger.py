"""The 24 h deactivation ceiling holds wherever the run folders are (issue 10 point 7): every applied
(de)activation goes to the user's ledger (XDG_CONFIG_HOME/rcaudit/deactivations.jsonl, mode 600), which the
guard reads with the journals in reach, so audits written with `--out` anywhere do not reset the count.
Through `rcaudit audit` / `rcaudit fix` / `rcaudit rollback` over HTTPS to the sandbox."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from rcaudit.cli import main
from rcaudit.connect.config import Settings
from rcaudit.fix.guards import ledger_path
from rcaudit.model.snapshot import normal_scim_url
from rcaudit.sandbox import Sandbox
from tests.support.audit_runs import use_sandbox_env
from tests.support.fixups import DISABLED, by_name, disabled_tenant, fetch, write_run


def test_the_ledger_counts_each_operation_once_and_a_rollback_frees_it(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches from one folder (journal and ledger both hold the first: counted once), one from another folder
    refused, then a rollback in the first folder frees the count for the second."""
    with Sandbox(disabled_tenant()) as sandbox:
        settings = Settings.from_env(sandbox.env())
        run_a = write_run(fetch(settings), tmp_path / "a" / "run")
        run_b = write_run(fetch(settings), tmp_path / "b" / "run")
        use_sandbox_env(monkeypatch, sandbox, tmp_path / "outputs")
        batch = ["fix", "--kinds", "should_be_inactive", "--allow-deactivate", "--apply"]
        assert main([*batch, "--run", str(run_a), "--users", "frank.fox@contoso.example"]) == 0
        assert main([*batch, "--run", str(run_a), "--users", "filler.person00@contoso.example"]) == 0  # 2 of 50
        assert main([*batch, "--run", str(run_b), "--users", "filler.person01@contoso.example"]) == 2  # 3: refused
        ledger = ledger_path()
        assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
        entries = [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]
        assert [e["direction"] for e in entries] == ["deactivate", "deactivate"]
        assert {e["scim_url"] for e in entries} == {normal_scim_url(sandbox.scim_url)}
        frank = by_name(sandbox.state.scim_users, "frank.fox")["id"]
        journal = next(p for p in (run_a / "fixes").glob("*/journal.jsonl")  # fix ids in one second: not sorted
                       if any(line["status"] == "applied" and line["scim_id"] == frank
                              for line in map(json.loads, p.read_text(encoding="utf-8").splitlines())))
        assert main(["rollback", "--journal", str(journal), "--apply"]) == 0  # frank.fox active again
        assert main([*batch, "--run", str(run_b), "--users", "filler.person01@contoso.example"]) == 0
        assert [by_name(sandbox.state.scim_users, p)["active"] for p in ("frank.fox", *DISABLED)] == \
            [True, False, False, True]
