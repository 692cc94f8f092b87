"""`rcaudit audit` and `rcaudit demo`: run the audit notebook with papermill, export the report, exit by severity.

The notebook is the audit (the same cells an analyst runs in JupyterLab); this module only chooses its
parameters, runs it headless, turns it into `report.html` and reads `summary.json` back for the exit code.
Secrets never become parameters: the kernel inherits them from the environment.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from .cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from .config import PROJECT_ROOT, Settings
from .errors import ConfigError
from .report import export_html, strip_saved_notebook
from .runs import create_run_folder
from .workbook import FAIL_ON

AUDIT_NOTEBOOK = PROJECT_ROOT / "notebooks" / "audit.ipynb"


def typed(value: str) -> Any:
    """papermill's `-p` typing: ints, floats, True/False/None, else the string (`-r` keeps strings raw)."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None, "true": True, "false": False}.get(value, value)


def _log_cells_to_stderr() -> None:
    """Schedulers keep stderr: papermill's `log_output` writes each cell's output through its logger."""
    logger = logging.getLogger("papermill")
    if not any(getattr(h, "_rcaudit", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._rcaudit = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def run_notebook(parameters: dict[str, Any], folder: Path, notebook: Path = AUDIT_NOTEBOOK,
                 log_cells: bool = False) -> Path | None:
    """Execute `notebook` into `folder/audit.ipynb`; on a failing cell the executed notebook is still written
    (with papermill's error banner) and the error is returned for the caller to report."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output = folder / "audit.ipynb"
    if log_cells:
        _log_cells_to_stderr()
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                                   progress_bar=sys.stderr.isatty(), log_output=log_cells, cwd=str(folder))
    except PapermillExecutionError as exc:
        print(f"rcaudit: error: the audit notebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
              file=sys.stderr)
        return None
    return output


def audit(*, settings: Settings, source: str, out: str | None = None, snapshot: str | None = None,
          params: dict[str, Any] | None = None, fail_on: str = "high", mask_pii: bool = False,
          notebook: Path = AUDIT_NOTEBOOK, log_cells: bool = False) -> int:
    """One audit run; returns the exit code (0 clean, 1 findings at or above `fail_on`, 2 error)."""
    if fail_on not in FAIL_ON:
        raise ConfigError(f"--fail-on {fail_on}: expected one of {', '.join(FAIL_ON)}")
    if source == "environment" and not snapshot:
        missing = settings.missing()
        if missing:
            raise ConfigError("cannot audit, settings missing: " + "; ".join(missing))
    folder = create_run_folder(settings.outputs, out)
    parameters: dict[str, Any] = {**(params or {}), "source": source, "run_folder": str(folder),
                                  "snapshot": str(Path(snapshot).resolve()) if snapshot else "",
                                  "mask_pii": mask_pii, "fail_on": fail_on}
    executed = run_notebook(parameters, folder, notebook, log_cells=log_cells)
    strip_saved_notebook(folder / "audit.ipynb")  # no widget state kept (nor exported as a CDN script)
    report = export_html(executed or folder / "audit.ipynb", folder / "report.html", title="rcaudit report")
    summary_file = folder / "summary.json"
    if executed is None or not summary_file.is_file():
        print(f"rcaudit: the run did not finish; see {report}", file=sys.stderr)
        return EXIT_ERROR
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    counts = summary["findings"]
    severity = ", ".join(f"{k} {v}" for k, v in counts["by_severity"].items())
    print(f"rcaudit: {summary['sizes']['entra_users']:,} Entra users, {summary['sizes']['scim_users']:,} "
          f"RingCentral accounts ({summary['source']}): {counts['total']:,} findings ({severity}), "
          f"{counts['waived']} waived; report: {report}")
    from .findings import read_findings
    from .workbook import should_fail

    return EXIT_FINDINGS if should_fail(read_findings(folder / "findings.csv"), fail_on) else EXIT_OK
