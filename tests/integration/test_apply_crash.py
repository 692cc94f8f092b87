"""Crashes and damaged journals (issue 10, points 4 and 9): a real `rcaudit fix --apply` process killed with
SIGKILL while a PATCH is in flight, then rerun and rolled back over HTTPS to the sandbox; journals that are not
UTF-8, have a corrupted middle line, a torn last line, or do not exist, through `python -m rcaudit`."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rcaudit.connect.config import Settings
from rcaudit.fix.journal import read_journal
from rcaudit.fix.plan import Filters, plan_for_run
from rcaudit.sandbox import Sandbox
from tests.support.fixups import cli_env, comparable, fetch, fixup_tenant, rcaudit_command, run_rcaudit, write_run

ALL = ("--include-orphans", "--allow-deactivate")
IN_FLIGHT = 4  # which PATCH request the kill interrupts


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Sandbox, Path, dict[str, str]]]:
    with Sandbox(fixup_tenant()) as sandbox:
        folder = write_run(fetch(Settings.from_env(sandbox.env())), tmp_path / "outputs" / "run")
        yield sandbox, folder, cli_env(sandbox, tmp_path / "outputs")


def accounts(sandbox: Sandbox) -> dict[str, Any]:
    """A copy of every account (retried if the server thread is writing one at that moment)."""
    for _ in range(100):
        try:
            return comparable(json.loads(json.dumps(sandbox.state.scim_users)))
        except RuntimeError:  # changed size during iteration
            time.sleep(0.01)
    raise AssertionError("could not copy the sandbox's accounts")


def wait_for(what: str, condition: Any, limit: float = 60.0) -> None:
    """Poll until `condition()` holds (a generous limit: the assertion is the condition, not the time)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def journals(folder: Path) -> list[Path]:
    return sorted((folder / "fixes").glob("*/journal.jsonl"))


def test_kill_9_while_a_patch_is_in_flight_then_rerun_and_rollback_restore_every_account(
        shop: tuple[Sandbox, Path, dict[str, str]]) -> None:
    sandbox, folder, env = shop
    plan = plan_for_run(folder, Filters(include_orphans=True))
    target = plan.accounts[IN_FLIGHT - 1]
    before = accounts(sandbox)
    delay = sandbox.faults.add("delay", service="rc", method="PATCH", path=f"/Users/{target}$", seconds=2.0)
    process = subprocess.Popen(rcaudit_command("fix", "--run", str(folder), "--apply", *ALL), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"PATCH #{IN_FLIGHT} to reach RingCentral", lambda: delay.fired == 1 or process.poll() is not None)
        process.kill()  # SIGKILL: no handler, no finally, nothing flushed after this point
    finally:
        process.wait()
    assert process.returncode == -9, "killed while the PATCH was in flight, not finished"
    wait_for("the in-flight write to land", lambda: accounts(sandbox)[target] != before[target])
    crashed = journals(folder)
    assert len(crashed) == 1

    rerun = run_rcaudit(env, "fix", "--run", str(folder), "--apply", *ALL)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for journal in reversed(journals(folder)):  # newest first: the rerun's journal, then the crashed one
        undone = run_rcaudit(env, "rollback", "--journal", str(journal), "--apply", "--allow-deactivate")
        assert undone.returncode == 0, undone.stdout + undone.stderr
    assert accounts(sandbox) == before, "every account exactly as before the first apply"

    lines = read_journal(crashed[0])
    assert [line["status"] for line in lines if line["scim_id"] == target] == ["intent"] * len(
        [o for o in plan.operations if o.scim_id == target]), "the intent was fsynced before the request"
    decided = [line for path in journals(folder)[1:2] for line in read_journal(path)
               if line["scim_id"] == target and line["status"] == "applied"]
    assert decided and all("decided after a crash" in line["error"] for line in decided)
    assert all(line["decides"] == lines[0]["fix_id"] for line in decided)
    assert sum(1 for m, p in sandbox.rc_server.requests_seen if m == "PATCH" and p.endswith(f"/Users/{target}")) \
        == 2, "written once by the crashed apply, once by the rollback: the rerun did not write it again"


def test_a_rollback_of_the_crashed_journal_alone_undoes_the_in_flight_write(
        shop: tuple[Sandbox, Path, dict[str, str]]) -> None:
    """Without a rerun: the rollback decides the intent itself by re-reading the account."""
    sandbox, folder, env = shop
    plan = plan_for_run(folder, Filters(include_orphans=True))
    target = plan.accounts[0]
    before = accounts(sandbox)
    delay = sandbox.faults.add("delay", service="rc", method="PATCH", path=f"/Users/{target}$", seconds=2.0)
    process = subprocess.Popen(rcaudit_command("fix", "--run", str(folder), "--apply", *ALL), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("PATCH #1 to reach RingCentral", lambda: delay.fired == 1 or process.poll() is not None)
        process.kill()
    finally:
        process.wait()
    wait_for("the in-flight write to land", lambda: accounts(sandbox)[target] != before[target])
    undone = run_rcaudit(env, "rollback", "--journal", str(journals(folder)[0]), "--apply", "--allow-deactivate")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert accounts(sandbox) == before
    assert "in flight" in undone.stdout


# --- damaged journals -----------------------------------------------------------------------------------
@pytest.fixture
def applied(shop: tuple[Sandbox, Path, dict[str, str]]) -> tuple[Sandbox, Path, dict[str, str], Path]:
    """The fix-up run with its title fixes applied (alice's replaced, carol's removed)."""
    sandbox, folder, env = shop
    done = run_rcaudit(env, "fix", "--run", str(folder), "--attributes", "title", "--apply")
    assert done.returncode == 0, done.stdout + done.stderr
    journal = journals(folder)[0]
    assert [line["status"] for line in read_journal(journal)].count("applied") >= 2
    return sandbox, folder, env, journal


def applied_lines(journal: Path) -> list[bytes]:
    return [raw for raw in journal.read_bytes().splitlines(keepends=True) if b'"status": "applied"' in raw]


def test_a_corrupted_middle_line_is_an_error_naming_the_file_and_line(applied: Any) -> None:
    sandbox, _, env, journal = applied
    raw = journal.read_bytes().splitlines(keepends=True)
    middle = next(n for n, line in enumerate(raw) if b'"status": "applied"' in line)
    raw[middle] = raw[middle].replace(b'"status": "applied"', b'"status": applied"')
    journal.write_bytes(b"".join(raw))
    before = accounts(sandbox)
    result = run_rcaudit(env, "rollback", "--journal", str(journal), "--apply")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{journal} line {middle + 1}: not JSON" in result.stderr
    assert accounts(sandbox) == before, "nothing reverted from a damaged journal"


def test_a_journal_that_is_not_utf8_is_an_error_and_does_not_block_other_journals(applied: Any) -> None:
    sandbox, folder, env, journal = applied
    before_fix = json.loads(json.dumps(sandbox.state.scim_users))
    other = run_rcaudit(env, "fix", "--run", str(folder), "--kinds", "should_be_active", "--apply")
    assert other.returncode == 0, other.stdout + other.stderr
    second = next(p for p in journals(folder) if p != journal and applied_lines(p))
    raw = journal.read_bytes().splitlines(keepends=True)
    assert b"Engineer" in raw[1]
    raw[1] = raw[1].replace(b"Engineer", "Engineer".encode("utf-16"), 1)
    journal.write_bytes(b"".join(raw))

    bad = run_rcaudit(env, "rollback", "--journal", str(journal))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"{journal} line 2: not UTF-8" in bad.stderr

    good = run_rcaudit(env, "rollback", "--journal", str(second), "--apply", "--allow-deactivate")
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"{journal} line 2: not UTF-8" in good.stdout, "the bad journal is named"
    assert comparable(sandbox.state.scim_users) == comparable(before_fix), "the other journal was rolled back"

    plan_again = run_rcaudit(env, "fix", "--run", str(folder), "--attributes", "title")
    assert plan_again.returncode == 2 and f"{journal} line 2: not UTF-8" in plan_again.stderr, \
        "the damaged journal is this plan's own: it may hold its writes, so fix refuses until it is repaired"
    assert "Traceback" not in plan_again.stderr


def test_a_torn_last_line_is_ignored_and_said_so(applied: Any) -> None:
    _, _, env, journal = applied
    with journal.open("ab") as out:
        out.write(b'{"time": "2026-12-01T10:00:00+00:00", "fix_id": "x", "op_id": "ab')
    result = run_rcaudit(env, "rollback", "--journal", str(journal))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = len(journal.read_bytes().splitlines())
    assert f"{journal} line {lines} is incomplete" in result.stdout and "ignored" in result.stdout
    assert f"rolls back {len(applied_lines(journal))} applied operation(s)" in result.stdout


def test_a_missing_journal_is_file_not_found(applied: Any, tmp_path: Path) -> None:
    _, _, env, _ = applied
    result = run_rcaudit(env, "rollback", "--journal", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2 and "nope.jsonl: file not found" in result.stderr
    assert "Traceback" not in result.stderr
