"""Import contracts: the layers DESIGN.md names hold in the code, and the emulators' truth is their own.

- The pure middle (`rcaudit.model`, `rcaudit.audit`, and `rcaudit.fix` but for its writing edge) never reaches a
  network library (`requests`, `msal`, `urllib3`), the network edge (`rcaudit.connect`), the writing edge
  (`rcaudit.fix.apply`, `rcaudit.fix.guards`), presentation, the faces or the sandbox: not even through a lazy
  import inside a function. Checked on the static import graph, and again in a fresh interpreter, where
  `sys.modules` shows what really loaded.
- The sandbox (emulators and tenant generator) is what every test checks the engine against; if it imported
  the engine's rules, a wrong rule would be wrong on both sides and every test would still pass. So no module of
  `rcaudit.sandbox` reaches rcaudit code beyond the services' vocabulary and the error tree.
- The checker is shown to fail: a copy of the package in which one pure module imports `requests` is refused.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rcaudit"
PURE_PACKAGES = ("rcaudit.model", "rcaudit.audit", "rcaudit.fix")
WRITING_EDGE = ("rcaudit.fix.apply", "rcaudit.fix.guards", "rcaudit.fix.provision_apply")
NETWORK = ("requests", "msal", "urllib3")
# What a pure module may never reach, by module-name prefix.
OFF_LIMITS_FOR_PURE = ("rcaudit.connect", "rcaudit.sandbox", "rcaudit.report", *WRITING_EDGE,
                       "rcaudit.cli", "rcaudit.workbook", "rcaudit.runner", "rcaudit.lab")
# What the sandbox may share with the engine: the services' vocabulary and the error tree.
SHARED_WITH_SANDBOX = frozenset({"rcaudit", "rcaudit.model", "rcaudit.model.vocabulary", "rcaudit.model.errors"})


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package: Path) -> set[str]:
    """Every module a file imports anywhere in it (top level, functions, TYPE_CHECKING blocks), absolute."""
    name = _module_name(path, package)
    base_package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = base_package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x` imports module x
    return found


def static_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the rcaudit modules and the third-party top-level packages it imports."""
    modules = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in _imports(path, package):
            if imported in modules:
                edges.add(imported)
            elif not imported.startswith(package.name):
                edges.add(imported.split(".")[0])
        graph[name] = edges
    return graph


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


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def pure_modules(graph: dict[str, set[str]]) -> list[str]:
    return sorted(m for m in graph if _within(m, PURE_PACKAGES) and not _within(m, WRITING_EDGE))


def purity_problems(graph: dict[str, set[str]]) -> list[str]:
    """Every path by which a pure module reaches a network library or a module it must not."""
    problems = []
    for module in pure_modules(graph):
        seen = _reachable(graph, module)
        for reached in sorted(seen):
            if reached in NETWORK or _within(reached, OFF_LIMITS_FOR_PURE):
                problems.append(_path(seen, reached))
    return problems


def test_the_layout_has_the_packages_this_contract_names() -> None:
    """A contract over packages that do not exist would pass vacuously."""
    graph = static_graph()
    for package in (*PURE_PACKAGES, "rcaudit.connect", "rcaudit.report", "rcaudit.sandbox.servers",
                    "rcaudit.sandbox.tenant"):
        assert sum(m.startswith(package + ".") for m in graph) >= 2, package
    assert {"rcaudit.audit.reconcile", "rcaudit.fix.plan", "rcaudit.model.snapshot"} <= set(pure_modules(graph))


def test_the_pure_middle_reaches_no_network_and_no_edge_even_lazily() -> None:
    problems = purity_problems(static_graph())
    assert not problems, "a pure module reaches what it must not:\n" + "\n".join(problems)


def test_the_model_is_the_bottom_layer() -> None:
    """What every layer shares (errors, the findings contract, the Snapshot record, run folders) depends on no
    layer above it: the engine, fix-ups and presentation read the model, never the other way round."""
    graph = static_graph()
    problems = [f"{module} imports {imported}" for module in sorted(graph) if _within(module, ("rcaudit.model",))
                for imported in sorted(graph[module])
                if imported.startswith("rcaudit.") and not _within(imported, ("rcaudit.model",))]
    assert not problems, "\n".join(problems)


def test_the_checker_refuses_a_pure_module_that_imports_requests(tmp_path: Path) -> None:
    """Proof the contract can fail: the same check on a copy of the package where `rcaudit.audit.normalize`
    imports requests inside a function, and where `rcaudit.fix.plan` imports the HTTP module."""
    copy = tmp_path / "rcaudit"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    normalize = copy / "audit" / "normalize.py"
    normalize.write_text(normalize.read_text(encoding="utf-8") + "\n\ndef _late() -> None:\n    import requests\n",
                         encoding="utf-8")
    plan = copy / "fix" / "plan.py"
    plan.write_text(plan.read_text(encoding="utf-8") + "\nfrom rcaudit.connect import http  # noqa\n", encoding="utf-8")
    problems = purity_problems(static_graph(copy))
    assert "requests <- rcaudit.audit.normalize" in problems
    assert any(p.startswith("rcaudit.connect.http <- rcaudit.fix.plan") for p in problems)
    assert any(p.endswith("<- rcaudit.audit.reconcile") and p.startswith("requests") for p in problems)  # via normalize


def test_the_sandbox_never_reaches_the_engine_even_lazily() -> None:
    graph = static_graph()
    sandbox_modules = sorted(m for m in graph if m.startswith("rcaudit.sandbox"))
    assert {"rcaudit.sandbox.tenant.generate", "rcaudit.sandbox.servers.scim_api"} <= set(sandbox_modules)
    problems = []
    for module in sandbox_modules:
        seen = _reachable(graph, module)
        for reached in sorted(seen):
            if reached.startswith("rcaudit") and not reached.startswith("rcaudit.sandbox") \
                    and reached not in SHARED_WITH_SANDBOX:
                problems.append(_path(seen, reached))
    assert not problems, "the sandbox imports rcaudit code outside its shared vocabulary:\n" + "\n".join(problems)


def test_the_static_graph_sees_relative_absolute_and_lazy_imports() -> None:
    """The contracts above could pass vacuously if the graph missed imports: it must see the known ones."""
    graph = static_graph()
    assert "rcaudit.audit.mapping" in graph["rcaudit.audit.reconcile"]  # an import at the top
    assert "rcaudit.model.runs" in graph["rcaudit.fix.audited_run"]  # an import inside a function
    assert "rcaudit.sandbox.tenant.generate" in graph["rcaudit.sandbox"]  # the package's re-export
    assert "requests" in graph["rcaudit.connect.http"]  # third-party packages are edges too


def _loaded_after_import(module: str) -> list[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("module", pure_modules(static_graph()))
def test_pure_modules_load_no_network_library(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert module in loaded
    leaked = sorted(m for m in loaded if m.split(".")[0] in NETWORK or _within(m, OFF_LIMITS_FOR_PURE))
    assert not leaked, f"importing {module} loads {leaked[:5]}"


def test_the_generator_loads_no_engine_module() -> None:
    loaded = _loaded_after_import("rcaudit.sandbox.tenant.generate")
    assert "rcaudit.sandbox.tenant.generate" in loaded
    assert not [m for m in loaded if _within(m, ("rcaudit.audit", "rcaudit.fix", "rcaudit.connect"))]
