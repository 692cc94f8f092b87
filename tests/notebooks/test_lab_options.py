"""A run made outside `rcaudit audit` (the audit notebook executed as JupyterLab does: parameters edited in the
cell, no papermill) is planned by `rcaudit fix` with that run's options, and writes its report.html (issue 14,
point 7). The notebook runs in a real kernel against the sandbox it starts (HTTPS)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from rcaudit.fix.audited_run import load_run
from rcaudit.fix.plan import Filters, plan_for_run
from rcaudit.sandbox import generate

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parents[2]
USERS, SEED = 150, 2


def _edited_notebook(values: dict[str, object]) -> nbformat.NotebookNode:
    """notebooks/audit.ipynb with its parameters cell edited, as an analyst does in Lab."""
    nb = nbformat.read(str(CHECKOUT / "notebooks" / "audit.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in values.items():
        cell.source, found = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", cell.source, flags=re.MULTILINE)
        assert found == 1, name
    return nb


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    tmp = tmp_path_factory.mktemp("lab")
    waived = next(r for r in generate(users=USERS, seed=SEED).truth if r.kind == "attribute_mismatch")
    waivers = tmp / "waivers.csv"
    waivers.write_text(f"account,user,kind,attribute,reason,expires\n{waived.scim_id},,attribute_mismatch,*,"
                       "known drift,2099-12-31\n", encoding="utf-8")
    folder = tmp / "outputs" / "lab-run"
    nb = _edited_notebook({"run_folder": str(folder), "scope_mode": "all", "waiver_file": str(waivers),
                           "grace_minutes": 5, "sandbox_users": USERS, "sandbox_seed": SEED})
    saved = {k: v for k, v in os.environ.items() if k.startswith("RCAUDIT_")}
    for name in saved:
        del os.environ[name]
    os.environ["RCAUDIT_OUTPUTS"] = str(tmp / "outputs")
    try:
        NotebookClient(nb, kernel_name="python3", timeout=600,
                       resources={"metadata": {"path": str(CHECKOUT / "notebooks")}}).execute()
    finally:
        os.environ.pop("RCAUDIT_OUTPUTS", None)
        os.environ.update(saved)
    return folder, waived.scim_id, str(waivers)


def test_a_lab_run_saves_its_options_and_a_report(lab_run: tuple[Path, str, str]) -> None:
    folder, _, waivers = lab_run
    saved = json.loads((folder / "parameters.json").read_text(encoding="utf-8"))
    assert saved["scope_mode"] == "all" and saved["waiver_file"] == waivers and saved["grace_minutes"] == 5
    report = (folder / "report.html").read_text(encoding="utf-8")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    counts = summary["findings"]
    assert f"({counts['total']:,} findings, {counts['waived']} waived)" in report  # the last cell's output is in it
    assert "Scope" in report and "plotly-graph-div" in report  # narrative and charts, as rcaudit audit writes


def test_fix_plans_a_lab_run_with_its_waivers_and_scope_mode(lab_run: tuple[Path, str, str]) -> None:
    folder, waived_account, _ = lab_run
    run = load_run(folder)
    assert run.options.scope_mode == "all" and run.options.grace_minutes == 5
    assert "parameters.json" in run.notes[0]
    assert not any("differs from the run's findings.csv" in n for n in run.notes)  # the re-audit is the run's audit
    plan = plan_for_run(folder, Filters())
    assert waived_account not in {o.scim_id for o in plan.operations}
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCAUDIT_")}
    env.update(PYTHONPATH=str(CHECKOUT), RCAUDIT_OUTPUTS=str(folder.parent), COLUMNS="100")
    result = subprocess.run([sys.executable, "-m", "rcaudit", "fix", "--run", str(folder)], env=env,
                            capture_output=True, text=True, timeout=300, check=False, cwd=str(CHECKOUT))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit options read from the run's parameters.json" in result.stdout
