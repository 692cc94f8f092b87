"""The run being fixed: a run folder's snapshot re-audited with the options its notebook ran with.

The options are read back from the run's `parameters.json` (written by the notebook's last step, in
JupyterLab too), else from the executed notebook's injected parameters (literals only, never executed), and
the re-audit is checked against the run's `findings.csv`, so a plan is built from exactly what the analyst
reviewed. Pure: files only.
"""


from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcaudit.audit.mapping import AttributeMapping
from rcaudit.audit.overrides import effective_mapping
from rcaudit.audit.reconcile import AuditOptions, AuditResult, flag_parameter, reconcile
from rcaudit.model.errors import ConfigError, SnapshotMissing
from rcaudit.model.findings import finding_key, read_findings
from rcaudit.model.snapshot import Snapshot

AUDIT_NOTEBOOK_DEFAULTS: dict[str, Any] = {"scope_mode": "", "skip_out_of_scope_deletions": "", "grace_minutes": 40,
                                           "waiver_file": "", "mapping_file": ""}


# --- the run being fixed -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunAudit:
    """An audit run folder re-audited from its snapshot, with the options it was audited with."""

    folder: Path
    snapshot: Snapshot
    result: AuditResult
    mapping: tuple[AttributeMapping, ...] | None
    options: AuditOptions
    option_values: dict[str, Any]
    notes: tuple[str, ...]


def latest_run(outputs: str | Path) -> Path | None:
    """The newest run folder under `outputs` that holds a snapshot (None when there is none)."""
    from rcaudit.model.runs import list_runs

    runs = [r.folder for r in list_runs(Path(outputs)) if (r.folder / "snapshot" / "manifest.json").is_file()]
    return runs[-1] if runs else None


def _literal_assignments(source: str) -> dict[str, Any]:
    """`name = literal` lines of a notebook cell (the parameters papermill wrote)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def _saved_parameters(folder: Path) -> dict[str, Any] | None:
    """The run's `parameters.json` (the audit notebook writes it however it is run: Lab, papermill, nbclient), or
    None when absent; a damaged one is an error naming it, never a quiet fall back to default options."""
    saved = folder / "parameters.json"
    if not saved.is_file():
        return None
    try:
        values = json.loads(saved.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{saved}: not readable JSON ({type(exc).__name__}): restore it, or delete it to plan "
                          "from the run's executed audit.ipynb") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{saved}: expected an object of notebook parameters")
    return values


def run_parameters(folder: Path) -> tuple[dict[str, Any], str]:
    """The audit notebook's parameters for this run and where they came from: its `parameters.json`, else the
    executed `audit.ipynb` (runs made before parameters.json), else the notebook's defaults."""
    notebook = folder / "audit.ipynb"
    values = dict(AUDIT_NOTEBOOK_DEFAULTS)
    saved = _saved_parameters(folder)
    if saved is not None:
        values.update({k: v for k, v in saved.items() if isinstance(k, str)})
        return values, "audit options read from the run's parameters.json"
    if not notebook.is_file():
        return values, "the run folder holds no executed audit.ipynb: the audit's default options are used"
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return values, "the run's audit.ipynb is unreadable: the audit's default options are used"
    for tag in ("parameters", "injected-parameters"):
        for cell in cells:
            if tag in (cell.get("metadata") or {}).get("tags", []):
                source = cell.get("source", "")
                values.update(_literal_assignments("".join(source) if isinstance(source, list) else source))
    return values, "audit options read from the run's executed audit.ipynb"


def _run_file(folder: Path, name: str, what: str) -> Path:
    """A file a run's parameter names: relative to the run folder (papermill's working directory), else as is."""
    for candidate in (folder / name, Path(name).expanduser()):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"the run was audited with {what} {name!r}, which no longer exists: restore it to plan")


def load_run(folder: str | Path) -> RunAudit:
    """Load a run's snapshot and re-audit it with the run's options (scope mode, grace, waivers, mapping)."""
    folder = Path(folder).expanduser().resolve()
    if not (folder / "snapshot" / "manifest.json").is_file():
        raise SnapshotMissing(f"{folder}: not an audit run folder with a snapshot/ (plans are made from the raw "
                              "values in a run's snapshot, never from findings.csv)")
    snapshot = Snapshot.load(folder)
    values, origin = run_parameters(folder)
    notes = [origin]
    waivers: Any = ()
    if values.get("waiver_file"):
        waivers = _run_file(folder, str(values["waiver_file"]), "the waiver file")
    mapping = None
    if values.get("mapping_file"):
        mapping, _ = effective_mapping(snapshot.schema, _run_file(folder, str(values["mapping_file"]),
                                                                  "the mapping file"))
    options = AuditOptions(scope_mode=str(values.get("scope_mode") or ""),
                           skip_out_of_scope_deletions=flag_parameter(values.get("skip_out_of_scope_deletions")),
                           grace_minutes=float(values.get("grace_minutes", 40)), waivers=waivers)
    result = reconcile(snapshot, mapping, options)
    notes += _compare_with_findings_csv(folder, result)
    return RunAudit(folder, snapshot, result, mapping, options, values, tuple(notes))


def _compare_with_findings_csv(folder: Path, result: AuditResult) -> list[str]:
    """A note when the re-audit does not find what the run wrote (then the plan follows the snapshot)."""
    csv_file = folder / "findings.csv"
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    if not csv_file.is_file():
        return []
    written = read_findings(csv_file)
    if summary.get("masked"):
        if len(written) != len(result.findings):
            return [f"findings.csv (masked) has {len(written)} rows, the re-audit of the snapshot "
                    f"{len(result.findings)}: the plan follows the snapshot"]
        return []
    before, now = set(finding_key(written)), set(finding_key(result.findings))
    if before == now:
        return []
    return [f"the re-audit of the snapshot differs from the run's findings.csv ({len(now - before)} finding(s) "
            f"only in the re-audit, {len(before - now)} only in the file): the plan follows the snapshot"]
