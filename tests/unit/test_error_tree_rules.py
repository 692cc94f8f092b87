"""The one error tree (issue 13 point 3): every error class in rcaudit/model/errors.py with its exit code,
bad input from the command line is exit 2 naming the setting (never a traceback), and no bare built-in
exception is raised for input anywhere in the package."""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest

from rcaudit.cli import main
from rcaudit.model import errors
from rcaudit.model.errors import ExitCode, RcauditError

PACKAGE = Path(__file__).resolve().parents[2] / "rcaudit"
BUILTINS = {"ValueError", "KeyError", "TypeError", "RuntimeError", "Exception"}
# Raises of a built-in that never meet user input, each with why (path under rcaudit/, words of its message).
INTERNAL_RAISES = {
    ("model/snapshot.py", "expected an object"),  # caught two lines below: a SnapshotError naming the file
    ("report/export.py", "would end its own <script>"),  # the shipped plotly bundle, never input
    # the installed itables' DataTables bundle (a pinned dependency), never input: a wrong version fails loudly
    ("report/grid.py", "does not export ITable and jQuery"),
    ("report/grid.py", "holds an unexpected '<!--'"),
    ("report/grid.py", "has not one export clause"),
    ("sandbox/tenant/sync_schema.py", "unknown schema profile"),  # the tenant file and --schema-profile check it
    ("sandbox/tenant/generate.py", "too few for the planted drift"),  # unreachable once users >= 60 is checked
}


def test_a_generated_tenant_too_small_is_exit_2_naming_users(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sandbox", "--save", str(tmp_path / "tenant.json"), "--users", "10"])
    err = capsys.readouterr().err
    assert code == 2
    assert "users 10" in err and "at least 60" in err
    assert not (tmp_path / "tenant.json").exists()


@pytest.mark.parametrize("port", ["70000", "65535", "-1", "eighty"])
def test_a_port_that_cannot_be_served_is_exit_2_naming_port(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:  # argparse refuses it before a tenant is generated or a port bound
        main(["sandbox", "--port", port, "--users", "60"])
    assert stopped.value.code == 2
    assert "argument --port" in capsys.readouterr().err


def test_every_error_class_is_in_the_tree_with_its_exit_code() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, BaseException) and c.__module__ == errors.__name__]
    assert RcauditError in classes and len(classes) > 10
    for cls in classes:
        assert issubclass(cls, RcauditError), cls
        assert isinstance(cls.exit_code, ExitCode), cls
    assert [int(c) for c in ExitCode] == [0, 1, 2]  # DESIGN.md "Commands"


@functools.cache
def _modules() -> list[tuple[str, ast.Module]]:
    """Every module of the package but the emulators (rcaudit/sandbox/servers answer their own errors over
    HTTP, as the emulated services do)."""
    names = [path.relative_to(PACKAGE).as_posix() for path in sorted(PACKAGE.rglob("*.py"))]
    return [(name, ast.parse((PACKAGE / name).read_text(encoding="utf-8"))) for name in names
            if not name.startswith("sandbox/servers/")]


def test_no_error_class_outside_the_tree() -> None:
    """Outside errors.py only private control-flow exceptions (caught in their module) and the emulators'
    own HTTP errors (rcaudit/sandbox/servers: they become answers of the emulated services)."""
    public = []
    for name, module in _modules():
        if name == "model/errors.py":
            continue
        for node in ast.walk(module):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if bases & BUILTINS or any(b.endswith(("Error", "Exception")) for b in bases):
                    public.append(f"{name}: {node.name}")
    assert public == []


def test_no_bare_builtin_raised_for_input() -> None:
    found = set()
    for name, module in _modules():
        for node in ast.walk(module):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                    and isinstance(node.exc.func, ast.Name) and node.exc.func.id in BUILTINS:
                text = ast.unparse(node.exc)
                found.add(next(((name, words) for path, words in INTERNAL_RAISES
                                if path == name and words in text), (name, text)))
    assert found <= INTERNAL_RAISES, sorted(found - INTERNAL_RAISES)


def test_the_cli_meets_the_tree_in_one_place() -> None:
    cli = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    handlers = [node for node in ast.walk(cli) if isinstance(node, ast.ExceptHandler)
                and isinstance(node.type, ast.Name) and node.type.id == "RcauditError"]
    assert len(handlers) == 1
    main_function = next(n for n in cli.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    assert handlers[0] in list(ast.walk(main_function))
