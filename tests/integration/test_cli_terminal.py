"""The terminal as an analyst meets it (issue 14, point 6): `rcaudit fix` at 80 columns says its verdict and the
guards first and never prints a line wider than the terminal; errors say what to do; help texts have examples.
Real `python -m rcaudit` processes against the sandbox over HTTPS."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rcaudit.connect.config import Settings
from rcaudit.sandbox import Sandbox
from tests.support.fixups import cli_env, fetch, fixup_tenant, write_run

CHECKOUT = Path(__file__).resolve().parents[2]  # (tests.support.fixups.PROJECT names tests/, not the checkout)


def run_rcaudit(env: dict[str, str], *args: str) -> Any:
    """`python -m rcaudit ARGS` from this checkout, to completion, stdout and stderr as text."""
    env = {**env, "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run([sys.executable, "-m", "rcaudit", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False, cwd=str(CHECKOUT))


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    with Sandbox(fixup_tenant()) as sandbox:
        folder = write_run(fetch(Settings.from_env(sandbox.env())), tmp_path / "outputs" / "run")
        yield folder, cli_env(sandbox, tmp_path / "outputs", COLUMNS="80")


def _too_wide(text: str, width: int = 80) -> list[str]:
    return [line for line in text.splitlines() if len(line) > width]


def test_fix_review_at_80_columns_fits_and_puts_verdict_and_guards_before_the_table(
        shop: tuple[Path, dict[str, str]]) -> None:
    folder, env = shop
    result = run_rcaudit(env, "fix", "--run", str(folder), "--include-orphans")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert _too_wide(result.stdout) == []
    verdict = next(i for i, line in enumerate(lines) if line.startswith("verdict: --apply would be REFUSED"))
    guard = next(i for i, line in enumerate(lines) if "need --allow-deactivate" in line)
    header = next(i for i, line in enumerate(lines) if "audited → planned" in line)
    assert verdict < guard < header
    assert "now" in lines[header].split()  # connected: each account was re-read, so what it holds now is shown
    assert "Old Title" in result.stdout and "+46701234567" in result.stdout  # the planned rows, re-read values
    assert "address.region" in result.stdout  # short labels, not addresses[type eq "work"].region
    assert any(line.startswith("not fixable by PATCH") for line in lines[header:])


def test_an_unconnected_dry_run_says_the_accounts_were_not_re_read_instead_of_showing_them_empty(
        shop: tuple[Path, dict[str, str]]) -> None:
    folder, env = shop
    env = {k: v for k, v in env.items() if k not in ("RCAUDIT_SCIM_TOKEN", "RCAUDIT_RC_JWT")}
    result = run_rcaudit(env, "fix", "--run", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    header = next(line for line in result.stdout.splitlines() if "audited → planned" in line)
    assert "now" not in header.split()
    assert "were not read again" in result.stdout
    assert _too_wide(result.stdout) == []


def test_rollback_of_a_missing_journal_names_the_file_and_exits_2(shop: tuple[Path, dict[str, str]]) -> None:
    _, env = shop
    result = run_rcaudit(env, "rollback", "--journal", "nope.jsonl")
    assert result.returncode == 2
    assert "nope.jsonl: file not found" in result.stderr and "Traceback" not in result.stderr


def test_missing_settings_are_listed_one_per_line_with_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCAUDIT_")}
    env.update(RCAUDIT_OUTPUTS=str(tmp_path), RCAUDIT_TENANT_ID="contoso", COLUMNS="80")
    result = run_rcaudit(env, "audit")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 4 and "  - RCAUDIT_CLIENT_ID" in lines
    assert lines[-1].endswith("`rcaudit demo` to try without a tenant.")
    assert _too_wide(result.stderr, 100) == []


@pytest.mark.parametrize("command", ["", "demo", "audit", "fix", "rollback"])
def test_help_has_examples_and_fits_80_columns(command: str, tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="80")
    result = run_rcaudit(env, *([command] if command else []), "--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and f"rcaudit {command}".strip() in result.stdout.split("examples:")[1]
    assert _too_wide(result.stdout) == []


def test_the_account_loop_reports_progress_and_the_bar_is_quiet_without_a_terminal(
        shop: tuple[Path, dict[str, str]]) -> None:
    from rcaudit.fix.apply import apply_plan, scim_client
    from rcaudit.fix.plan import Filters, plan_for_run
    from rcaudit.terminal import account_progress

    folder, env = shop
    settings = Settings.from_env(env)
    plan = plan_for_run(folder, Filters())
    ticks: list[tuple[int, int]] = []
    apply_plan(plan, scim_client(settings), apply=False, settings=settings,
               on_account=lambda done, total: ticks.append((done, total)))
    accounts = len(plan.accounts)
    assert ticks == [(done, accounts) for done in range(accounts + 1)]  # before the first, then after each account
    with account_progress("dry run") as tick:  # pytest's streams are not terminals: no bar, no frames
        assert tick is None
