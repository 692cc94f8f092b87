"""Import contracts: the emulators' truth is their own, and the engine's pure middle has no network.

The sandbox (emulators and tenant generator) is what every test checks the engine against; if it imported
the engine's rules, a wrong rule would be wrong on both sides and every test would still pass. So no module
of `rcaudit.sandbox` may reach an engine module, not even through a lazy import inside a function: that is
checked on the static import graph. The pure modules must not pull in an HTTP or auth library when they are
imported: that is checked in a fresh interpreter, where `sys.modules` shows everything that really loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rcaudit"
ENGINE = ("rcaudit.scope", "rcaudit.mapping", "rcaudit.expressions", "rcaudit.normalize", "rcaudit.reconcile",
          "rcaudit.waivers", "rcaudit.plan", "rcaudit.findings", "rcaudit.snapshot")
# What the sandbox may share with the engine: the services' vocabulary and the error tree.
SHARED = frozenset({"rcaudit", "rcaudit.vocabulary", "rcaudit.errors"})
NETWORK = ("requests", "msal", "urllib3")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every rcaudit module a file imports anywhere in it (top level, functions, TYPE_CHECKING blocks)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x` imports module x
    return {m for m in found if m == "rcaudit" or m.startswith("rcaudit.")}


def _static_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module reachable from `start`, each with the module that first imported it (to explain a path)."""
    seen: dict[str, str] = {start: ""}
    stack = [start]
    while stack:
        current = stack.pop()
        for nxt in graph.get(current, ()):
            if nxt not in seen:
                seen[nxt] = current
                stack.append(nxt)
    return seen


def _path(seen: dict[str, str], end: str) -> str:
    chain = [end]
    while seen.get(chain[-1]):
        chain.append(seen[chain[-1]])
    return " <- ".join(chain)


def test_the_sandbox_never_reaches_the_engine_even_lazily() -> None:
    graph = _static_graph()
    sandbox_modules = sorted(m for m in graph if m.startswith("rcaudit.sandbox"))
    assert "rcaudit.sandbox.generate" in sandbox_modules and "rcaudit.sandbox.sync_schema" in sandbox_modules
    problems = []
    for module in sandbox_modules:
        seen = _reachable(graph, module)
        for reached in sorted(seen):
            if not reached.startswith("rcaudit.sandbox") and reached not in SHARED:
                problems.append(_path(seen, reached))
    assert not problems, "the sandbox imports rcaudit code outside its shared vocabulary:\n" + "\n".join(problems)


def test_the_static_graph_sees_relative_and_lazy_imports() -> None:
    """The contract above could pass vacuously if the graph missed imports: it must see the known ones."""
    graph = _static_graph()
    assert "rcaudit.mapping" in graph["rcaudit.reconcile"]  # `from .mapping import (...)` at the top
    assert "rcaudit.http" in graph["rcaudit.snapshot"]  # `from .http import ...` inside a function
    assert "rcaudit.sandbox.generate" in graph["rcaudit.sandbox"]  # the package's `from .generate import ...`


def _loaded_after_import(module: str) -> list[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("module", ENGINE)
def test_pure_modules_load_no_network_library(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert module in loaded
    leaked = sorted(m for m in loaded if m.split(".")[0] in NETWORK)
    assert not leaked, f"importing {module} loads {leaked[:5]}"


def test_the_generator_loads_no_engine_module() -> None:
    loaded = _loaded_after_import("rcaudit.sandbox.generate")
    assert "rcaudit.sandbox.generate" in loaded
    assert not [m for m in ENGINE if m in loaded]
