"""One error tree (rcaudit/model/errors.py): every error rcaudit raises on purpose is defined there and carries the
exit code the CLI uses. A failing notebook cell keeping papermill's cell context is pinned in
tests/notebooks/test_audit_exit_codes.py."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from rcaudit.cli import main
from rcaudit.model import errors
from rcaudit.model.errors import ConfigError, ExitCode, FindingsFileError, RcauditError
from rcaudit.model.findings import read_findings

PACKAGE = Path(errors.__file__).resolve().parent


def test_exit_codes_are_defined_once_and_every_error_carries_one() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2]
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, RcauditError)]
    assert len(classes) >= 14 and all(c.exit_code is ExitCode.ERROR for c in classes)


def test_no_error_class_is_defined_outside_errors_py() -> None:
    """Private control-flow exceptions (a leading underscore) may live beside their code; no public error. The
    sandbox's emulators keep theirs: they are the emulated services' refusals (answered as HTTP), not rcaudit's."""
    stray = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" or "sandbox" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and any(
                    isinstance(b, ast.Name) and (b.id.endswith("Error") or b.id in ("Exception", "RcauditError"))
                    for b in node.bases):
                stray.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    assert stray == []


def test_a_findings_csv_an_audit_did_not_write_is_a_named_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "findings.csv"
    bad.write_text("kind,severity\nattribute_mismatch,low\n", encoding="utf-8")
    with pytest.raises(FindingsFileError) as failure:
        read_findings(bad)
    assert isinstance(failure.value, ConfigError) and str(bad) in failure.value.message
    assert "entra_id" in failure.value.message


def test_the_cli_exits_with_the_errors_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["rollback", "--journal", str(missing)]) == ExitCode.ERROR
    assert str(missing) in capsys.readouterr().err
