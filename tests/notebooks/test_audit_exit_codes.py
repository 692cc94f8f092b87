"""`rcaudit audit`'s exit codes (0 clean, 1 findings at or above --fail-on, 2 error) and the error context of a
failed cell, on tiny fixture notebooks (tests/support/notebooks) that stand in for the audit notebook: each is
executed once per module, through the real CLI path (check_parameters, papermill, the HTML export, summary.json
and findings.csv read back), so each test only reads what a run left. One end-to-end audit per exit code stays in
tests/notebooks/test_audit_command.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcaudit import runner
from rcaudit.connect.config import Settings
from rcaudit.model.errors import ExitCode, NotebookError
from tests.support.audit_runs import BAD_PARAMETER, DIES, FAILS, PASSES, SETTINGS, Run, audit_with

pytestmark = pytest.mark.slow  # runs a notebook (papermill): make test-fast skips it


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Each fixture run once: a kernel start costs a second or two, the tests below read the results."""
    root = tmp_path_factory.mktemp("exit-codes")
    return {
        "clean": audit_with(PASSES, root / "clean"),
        "high": audit_with(PASSES, root / "high", "-p", "severities", "high,low"),
        "low": audit_with(PASSES, root / "low", "-p", "severities", "low,low"),
        "no_summary": audit_with(PASSES, root / "no-summary", "-p", "write_summary", "False"),
        "fails": audit_with(FAILS, root / "fails"),
        "refused_in_kernel": audit_with(BAD_PARAMETER, root / "refused", "-p", "group_by", "shoeSize"),
        "kernel_died": audit_with(DIES, root / "died"),
    }


@pytest.fixture(scope="module")
def failure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotebookError]:
    """The NotebookError runner.audit raises for fails.ipynb (the CLI turns it into stderr and exit 2)."""
    with pytest.raises(NotebookError) as raised:
        runner.audit(settings=Settings.from_env(SETTINGS), source="environment",
                     out=str(tmp_path_factory.mktemp("failure") / "run"), params={"planted": "a planted failure"},
                     notebook=FAILS)
    yield raised.value


def test_a_clean_run_exits_0(runs: dict[str, Run]) -> None:
    run = runs["clean"]
    assert run.code == ExitCode.OK == 0
    assert json.loads((run.folder / "summary.json").read_text())["findings"]["total"] == 0
    assert (run.folder / "report.html").is_file()


def test_findings_at_or_above_fail_on_exit_1(runs: dict[str, Run]) -> None:
    assert runs["high"].code == ExitCode.FINDINGS == 1


def test_findings_below_fail_on_exit_0(runs: dict[str, Run]) -> None:
    run = runs["low"]
    assert run.code == 0
    assert json.loads((run.folder / "summary.json").read_text())["findings"]["by_severity"]["low"] == 2


def test_a_run_that_writes_no_summary_exits_2_naming_the_report(runs: dict[str, Run]) -> None:
    run = runs["no_summary"]
    assert run.code == ExitCode.ERROR == 2
    assert "no summary.json" in run.err and str(run.folder / "report.html") in run.err


def test_a_failing_cell_exits_2_and_still_writes_the_notebook_and_the_report(runs: dict[str, Run]) -> None:
    run = runs["fails"]
    assert run.code == 2
    executed = (run.folder / "audit.ipynb").read_text()
    assert "An Exception was encountered" in executed and "planted failure" in executed  # papermill's banner
    assert (run.folder / "report.html").is_file()


def test_the_failed_cell_its_error_and_value_reach_stderr(runs: dict[str, Run]) -> None:
    err = runs["fails"].err
    assert "failed in cell" in err and "ValueError: planted failure" in err
    assert "the run did not finish" in err and "Traceback" not in err  # the context, not a Python traceback


def test_a_failing_cell_keeps_its_context(failure: NotebookError) -> None:
    assert failure.ename == "ValueError" and failure.evalue == "a planted failure"
    assert failure.cell is not None and failure.cell >= 3 and failure.traceback
    assert "a planted failure" in failure.message and Path(str(failure.notebook)).is_file()
    assert int(failure.exit_code) == 2


def test_a_parameter_the_kernel_refuses_exits_2_naming_it(runs: dict[str, Run]) -> None:
    run = runs["refused_in_kernel"]
    assert run.code == 2
    assert "ConfigError: notebook parameter group_by: 'shoeSize' is not one of" in run.err
    assert (run.folder / "audit.ipynb").is_file()  # refused in a cell: the executed notebook is the evidence


def test_a_kernel_that_dies_exits_2_with_a_named_error_not_a_traceback(runs: dict[str, Run]) -> None:
    """nbclient's DeadKernelError passes through papermill: without rcaudit turning it into a NotebookError it
    was a traceback and Python's exit 1, which a scheduler reads as "findings"."""
    run = runs["kernel_died"]
    assert run.code == ExitCode.ERROR == 2
    assert "did not finish: DeadKernelError" in run.err and "out of memory" in run.err
    assert "Traceback" not in run.err
