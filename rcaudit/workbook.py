"""What the audit notebook calls: one function per step, so the notebook holds only orchestration.

Connect (environment or sandbox), read or load a snapshot, reconcile, then the tables, banners and
files an analyst and a scheduler need. Everything that decides something lives in the engine modules;
this module arranges their results for people.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rcaudit import __version__
from rcaudit.audit.causes import count_by_cause
from rcaudit.audit.overrides import effective_mapping
from rcaudit.audit.reconcile import AuditOptions, AuditResult, reconcile
from rcaudit.connect.config import PROJECT_ROOT, Settings
from rcaudit.model.errors import ConfigError
from rcaudit.model.findings import COLUMNS, SEVERITY_RANK, finding_key
from rcaudit.model.runs import create_run_folder, earlier_runs, folder_key, origin_key, previous_run
from rcaudit.model.runs import verdict as run_verdict
from rcaudit.model.snapshot import Snapshot
from rcaudit.report.export import Html, note, warning
from rcaudit.report.export import table as table_html
from rcaudit.report.masking import mask, mask_event_text, mask_findings, pii_key
from rcaudit.report.summary_md import render_summary_md
from rcaudit.report.trends import Changes, compare, open_findings

SOURCES = ("auto", "environment", "sandbox")
FAIL_ON = ("none", "low", "medium", "high")
SUMMARY_VERSION = 2  # DESIGN.md second edition: settings added; default_access a subset of in_scope


@dataclass
class Connection:
    """Where this run reads from, and the banner to show when that is not the real tenant."""

    settings: Settings
    source: str  # "environment" or "sandbox" (summary.json `source`)
    banner: str | None = None
    sandbox: Any = None  # the in-kernel Sandbox when this run started one

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def connect(source: str = "auto", *, saved_snapshot: str = "", sandbox_users: int = 2000, sandbox_seed: int = 1,
            sandbox_tenant: str = "", sandbox_profile: str = "current",
            sandbox_job_status: str = "Active") -> Connection:
    """`environment`: the RCAUDIT_* settings, all required; `sandbox`: a sandbox started in this process;
    `auto`: the environment when configured, else the sandbox (with a banner saying so). Re-auditing a
    saved snapshot reads nothing, so it needs no connection at all."""
    if source not in SOURCES:
        raise ConfigError(f"source={source!r}: expected one of {', '.join(SOURCES)}")
    from rcaudit.lab import record_session

    record_session()  # run by hand (Lab): keep what the cells show, for finish_run's report.html
    settings = Settings.from_env()
    if saved_snapshot:
        return Connection(settings, source, f"Re-auditing the saved snapshot {saved_snapshot}: nothing is read.")
    if os.environ.get("RCAUDIT_SANDBOX") == "1" and source in ("auto", "sandbox") and settings.configured:
        return Connection(settings, "sandbox", "Reading the sandbox started by `make lab` (no real tenant).")
    if source == "environment" or (source == "auto" and settings.configured):
        missing = settings.missing()
        if missing:
            raise ConfigError("source='environment' but these settings are missing: " + "; ".join(missing))
        return Connection(settings, "environment")
    from rcaudit.sandbox import Sandbox, generate, load_tenant

    tenant = load_tenant(sandbox_tenant) if sandbox_tenant else generate(
        users=sandbox_users, seed=sandbox_seed, schema_profile=sandbox_profile, job_status=sandbox_job_status).tenant
    sandbox = Sandbox(tenant).start()
    env = sandbox.env()
    sandbox_settings = Settings.from_env({**os.environ, **env})
    what = f"tenant file {sandbox_tenant}" if sandbox_tenant else f"a generated {sandbox_users:,}-user company " \
                                                                   f"(seed {sandbox_seed})"
    reason = "no RCAUDIT_* settings in the environment" if source == "auto" else "source='sandbox'"
    return Connection(sandbox_settings, "sandbox", f"Sandbox, not a real tenant ({reason}): {what}.", sandbox)


def run_folder(path: str, settings: Settings) -> Path:
    """The run folder: `path` when given (as papermill's runner passes it), else a new one under outputs."""
    folder = Path(path).expanduser() if path else None
    if folder is not None and folder.is_dir():
        return folder.resolve()
    return create_run_folder(settings.outputs, folder)


def read_snapshot(connection: Connection, folder: Path, saved: str = "",
                  mapping_overrides: str | None = None) -> Snapshot:
    """Load a saved run's snapshot (re-audit) or read both services; either way keep it in the run folder."""
    if saved:
        snapshot = Snapshot.load(saved)
    else:
        from rcaudit.connect.fetch import fetch_snapshot

        snapshot = fetch_snapshot(connection.settings, source=connection.source,
                                  mapping_overrides=mapping_overrides or None)
    snapshot.save(folder / "snapshot")
    return snapshot


def audit(snapshot: Snapshot, options: AuditOptions, mapping_file: str = "") -> AuditResult:
    """Reconcile with the live mapping (or the default table), changed by the YAML `mapping_file` when given."""
    mapping = effective_mapping(snapshot.schema, mapping_file)[0] if mapping_file else None
    return reconcile(snapshot, mapping=mapping, options=options)


def job_banner(snapshot: Snapshot) -> Html | None:
    """A Paused, NotRun or Quarantine job explains the drift below it: say so first (values escaped)."""
    job = snapshot.job
    if not job:
        return None
    status = job.get("status") or {}
    code = status.get("code")
    if code in (None, "Active"):
        return None
    text = note("The provisioning job is <strong>{}</strong>: Entra is not pushing changes, so the drift below "
                "is expected.", code)
    quarantine = status.get("quarantine") or {}
    if quarantine:
        from rcaudit.report.verdict import quarantine_note

        text = quarantine_note(text, quarantine)
    return warning(text)


def mapping_banner(snapshot: Snapshot) -> Html | None:
    """A readable job schema without a usable user mapping: the audit fell back to the default table and the
    job's scoping filters, if any, are not applied (DESIGN.md "Live mapping": never a quiet fallback)."""
    reason = next((u["reason"] for u in snapshot.unreadable if u.get("what") == "live mapping"), None)
    if reason is None:
        return None
    return warning(note("The provisioning job's mapping could not be used ({}). The findings below compare "
                        "against DESIGN.md's default mapping and ignore the job's scoping filters: check the "
                        "job's attribute mappings in Entra.", reason))


SETTING_SOURCES = {"parameter": "set by the notebook parameter", "job": "read from the job's synchronization secrets",
                   "default": "Entra's default (the job's setting was not read: RCAUDIT_READ_SYNC_SECRETS=1 reads it)"}


def settings_line(result: AuditResult) -> Html:
    """The two job settings the audit applied and where each came from (DESIGN.md "Sync settings")."""
    settings = result.settings
    sources = dict(settings.sources)
    scope = "all users and groups" if settings.scope_mode == "all" else "only assigned users and groups"
    return note("<strong>Sync scope:</strong> {} ({}). <strong>SkipOutOfScopeDeletions:</strong> {} ({}).", scope,
                SETTING_SOURCES.get(sources.get("scope_mode", ""), ""),
                "on: Entra leaves accounts of users who left scope active" if settings.skip_out_of_scope_deletions
                else "off", SETTING_SOURCES.get(sources.get("skip_out_of_scope_deletions", ""), ""))


def job_line(snapshot: Snapshot) -> Html:
    """One line on the provisioning job for the top of the report (values escaped)."""
    job = job_summary(snapshot)
    if job is None:
        reason = next((u["reason"] for u in snapshot.unreadable if "job" in u["what"].lower()), "not found")
        return note("<strong>Provisioning job:</strong> could not be read ({}).", reason)
    last = job["last_successful_execution"] or "never"
    quarantine = "in quarantine" if job["quarantine"] else "no quarantine"
    return note("<strong>Provisioning job:</strong> {}, last successful run {}, {}.", job["status"], last, quarantine)


def job_summary(snapshot: Snapshot) -> dict[str, Any] | None:
    """summary.json `job`: status, last successful execution, quarantine (None when unreadable)."""
    if not snapshot.job:
        return None
    status = snapshot.job.get("status") or {}
    last = status.get("lastSuccessfulExecution") or {}
    return {"status": status.get("code"), "last_successful_execution": last.get("timeEnded") if last else None,
            "quarantine": status.get("quarantine")}


def scope_table(result: AuditResult) -> Any:
    """How many users fall in each scope bucket, and what the bucket means."""
    explain = {
        "in_scope": "assigned with any role (Default Access too), directly or as a direct member of an assigned group",
        "live": "in scope, enabled, not deleted: should have an active account",
        "disabled": "in scope but sign-in blocked: should be inactive",
        "pending": "assigned or created within the grace window: not judged yet",
        "nested_only": "only in a group nested inside an assigned group (Entra ignores nesting)",
        "default_access": "in scope only through Default Access: Entra provisions them (since July 2020; "
                          "RingCentral's 2019 tutorial says otherwise)",
        "unassigned": "no assignment at all",
        "filtered_out": "assigned, but a scoping filter leaves them out",
    }
    table = pd.DataFrame([{"bucket": k, "users": v, "meaning": explain.get(k, "")} for k, v in result.scope.items()])
    return table_html(table.style.hide(axis="index").set_properties(subset=["meaning"], **{"text-align": "left"}))


def headline(result: AuditResult) -> Any:
    """Counted findings per severity and kind, worst first."""
    counted = result.counted
    table = counted.groupby(["severity", "kind"]).size().reset_index(name="findings")
    table["rank"] = table["severity"].map(SEVERITY_RANK)
    table = table.sort_values(["rank", "findings"], ascending=[True, False]).drop(columns="rank")
    return table_html(table.style.hide(axis="index"))


def drilldown(findings: pd.DataFrame, top: int = 50) -> Any:
    """The worst rows first, raw expected next to actual, as a pandas Styler that escapes every value."""
    columns = ["severity", "kind", "user_name", "attribute", "expected", "actual", "reason", "scim_id", "entra_id"]
    rows = findings[~findings["waived"]][columns].head(top)
    colours = {"high": "background-color: #f5b7b1", "medium": "background-color: #fad7a0",
               "low": "background-color: #fcf3cf"}
    return table_html(rows.style.hide(axis="index").map(lambda v: colours.get(v, ""), subset=["severity"]))


def every_row(frame: pd.DataFrame, caption: str = "") -> Any:
    """A table of every row (a plan under review, a dry run's journal): pandas' DataFrame display elides the
    middle of long tables, which hides what `apply = True` would write. Escaped, without the 0..N index."""
    styler = frame.style.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return table_html(styler)


def provisioning_failures(snapshot: Snapshot, findings: pd.DataFrame, top: int = 50,
                          mask_key: bytes | None = None) -> pd.DataFrame:
    """Failed provisioning events of users that carry findings: often the reason for the drift.

    The columns are provisioningObjectSummary's (microsoft-graph-docs-contrib api-reference/v1.0/resources/
    provisioningobjectsummary.md, provisioningerrorinfo.md): `errorInformation.errorCode`, `errorCategory`
    (`failure`: Entra retries; `nonServiceFailure`: a data or target problem a person must fix), `reason`, and
    `recommendedAction`, shown only when some event carries one. With `mask_key` (`--mask-pii`) the user's name,
    the reason and the recommended action are masked (one keyed hash each, as they may quote the person): the
    error code, category, action and time stay, being the service's, not the person's."""
    flagged = set(findings["entra_id"].str.split(";").explode())
    rows = []
    for event in snapshot.provisioning_events:
        status = event.get("provisioningStatusInfo") or {}
        source_id = (event.get("sourceIdentity") or {}).get("id")
        if status.get("status") != "failure" or source_id not in flagged:
            continue
        error = status.get("errorInformation") or {}
        name = str((event.get("sourceIdentity") or {}).get("displayName") or "")
        reason = str(error.get("reason") or "")
        advice = str(error.get("recommendedAction") or "")
        if mask_key is not None:
            name, reason = mask(name, mask_key), mask_event_text(reason, mask_key)
            advice = mask_event_text(advice, mask_key) if advice else ""
        rows.append({"when": event.get("activityDateTime"), "action": event.get("provisioningAction"),
                     "user": name, "entra_id": source_id, "error": error.get("errorCode"),
                     "category": error.get("errorCategory") or "", "reason": reason, "recommended action": advice})
    columns = ["when", "action", "user", "entra_id", "error", "category", "reason", "recommended action"]
    table = pd.DataFrame(rows, columns=columns).head(top)
    return table if table["recommended action"].astype(bool).any() else table.drop(columns="recommended action")


def previous_changes(outputs: Path, folder: Path, findings: pd.DataFrame,
                     key: tuple[str, str, str] | None = None) -> tuple[str, Changes] | None:
    """New / fixed / persisting against the previous run of the same source, tenant and SCIM URL (under the
    outputs folder or beside this run folder), if there is one; `key` defaults to the saved snapshot's."""
    earlier = previous_run((Path(outputs), folder.parent), folder, key or folder_key(folder))
    if earlier is None:
        return None
    current = findings[~findings["waived"]].copy()
    current["key"] = finding_key(current)
    return earlier.run_id, compare(open_findings(earlier), current)


def snapshot_origin(snapshot: Snapshot) -> dict[str, str]:
    """summary.json `origin` (added): which tenant and RingCentral the run read, to find its previous run."""
    return {"tenant_id": snapshot.tenant_id, "scim_url": str(snapshot.rc_identity.get("scim_url") or "")}


def _changes_summary(changes: tuple[str, Changes] | None) -> dict[str, Any] | None:
    """summary.json `changes` (added): counts against the previous run of the same origin, or null."""
    if changes is None:
        return None
    previous, change = changes

    def by_severity(frame: pd.DataFrame) -> dict[str, int]:
        return {level: int((frame["severity"] == level).sum()) for level in SEVERITY_RANK}

    return {"previous_run": previous, **change.counts(), "new_by_severity": by_severity(change.new),
            "fixed_by_severity": by_severity(change.fixed)}


def write_summary_md(folder: Path, summary: dict[str, Any], findings: pd.DataFrame,
                     changes: tuple[str, Changes] | None, key: bytes | None = None) -> Path:
    """`summary.md` beside summary.json; with `key` (--mask-pii) the fixed rows, read from the earlier run's
    findings.csv, are masked too (that run may not have been masked)."""
    new = fixed = None
    if changes is not None:
        new, fixed = changes[1].new, changes[1].fixed.copy()
        if key is not None:
            fixed["user_name"] = fixed["user_name"].map(
                lambda v: v if str(v).startswith("pii:") else mask(str(v), key))
    text = render_summary_md(summary, findings, new, fixed, report=str(folder / "report.html"))
    path = folder / "summary.md"
    path.write_text(text, encoding="utf-8")
    return path


def should_fail(findings: pd.DataFrame, fail_on: str) -> bool:
    """True when an unwaived finding at or above `fail_on` exists (`none` never fails)."""
    if fail_on not in FAIL_ON:
        raise ConfigError(f"fail_on={fail_on!r}: expected one of {', '.join(FAIL_ON)}")
    if fail_on == "none":
        return False
    limit = SEVERITY_RANK[fail_on]
    counted = findings[~findings["waived"]]
    return bool((counted["severity"].map(SEVERITY_RANK) <= limit).any())


@dataclass
class RunClock:
    """Start time and per-phase timings for summary.json."""

    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    timings: dict[str, float] = field(default_factory=dict)
    _mark: float = field(default_factory=time.perf_counter)

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = round(now - self._mark, 3)
        self._mark = now


def write_outputs(folder: Path, result: AuditResult, snapshot: Snapshot, clock: RunClock,
                  mask_pii: bool = False, settings: Settings | None = None, fail_on: str = "high") -> dict[str, Any]:
    """findings.csv, findings.parquet, summary.json and summary.md in the run folder; returns the summary."""
    settings = settings or Settings.from_env()
    findings = result.findings
    key = pii_key(settings.pii_key) if mask_pii else None
    if key is not None:
        findings = mask_findings(findings, key)
    findings = findings[list(COLUMNS)]
    origin = snapshot_origin(snapshot)
    changes = previous_changes(settings.outputs, folder, findings,
                               origin_key({"source": snapshot.source, "origin": origin}))
    findings.to_csv(folder / "findings.csv", index=False)
    findings.to_parquet(folder / "findings.parquet", index=False)
    clock.lap("write")
    summary: dict[str, Any] = {
        "schema_version": SUMMARY_VERSION,
        "run_id": folder.name,
        "started_at": clock.started_at.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "tool_version": __version__,
        "source": snapshot.source,  # where the data came from (a re-audit keeps its snapshot's source)
        **result.to_dict(),
        "job": job_summary(snapshot),
        "unreadable": list(snapshot.unreadable),
        "requests": dict(snapshot.requests),
        "timings": {**snapshot.timings, **clock.timings},
        "masked": mask_pii,
        # added in this edition (DESIGN.md: summary.json is extended only by adding)
        "origin": origin,
        "fail_on": fail_on,
        "verdict": run_verdict(result.findings_summary()["by_severity"], fail_on),
        "changes": _changes_summary(changes),
    }
    summary["findings"] = _with_by_cause(summary["findings"], result.counted)
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_summary_md(folder, summary, findings, changes, key)
    return summary


def _with_by_cause(counts: dict[str, Any], counted: pd.DataFrame) -> dict[str, Any]:
    """summary.json `findings` with `by_cause` (DESIGN.md: after `by_attribute`), counted findings only."""
    out = {k: v for k, v in counts.items() if k != "waived"}
    out["by_cause"] = count_by_cause(counted)
    return {**out, **{k: v for k, v in counts.items() if k == "waived"}}


PARAMETERS_FILE = "parameters.json"
AUDIT_NOTEBOOK = PROJECT_ROOT / "notebooks" / "audit.ipynb"
FILE_PARAMETERS = ("waiver_file", "mapping_file", "sandbox_tenant", "snapshot")


def audit_parameter_names(notebook: Path = AUDIT_NOTEBOOK) -> list[str]:
    """The names the audit notebook's `parameters` cell assigns (read, never executed)."""
    import ast

    import nbformat

    names: list[str] = []
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                    names.append(node.targets[0].id)
    return names


def save_parameters(folder: Path, namespace: dict[str, Any]) -> Path:
    """`parameters.json` in the run folder: the options this run was audited with, however it was run (Lab,
    papermill, nbclient), so `rcaudit fix` plans with the same waivers, scope mode and grace. File parameters are
    made absolute from the kernel's directory; only plain values are kept (never a secret: the parameters cell
    holds none)."""
    values: dict[str, Any] = {}
    for name in audit_parameter_names():
        value = namespace.get(name)
        if not isinstance(value, str | int | float | bool) and value is not None:
            continue
        if name in FILE_PARAMETERS and isinstance(value, str) and value:
            value = str(Path(value).expanduser().resolve())
        values[name] = value
    target = folder / PARAMETERS_FILE
    target.write_text(json.dumps(values, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def finish_run(folder: Path, namespace: dict[str, Any]) -> None:
    """The audit notebook's last step: `parameters.json`, and when the notebook was run by hand (JupyterLab),
    the run folder's `audit.ipynb` and `report.html` from what its cells showed (under `rcaudit audit` the runner
    exports papermill's notebook instead). `namespace` is the notebook's `globals()`; prints the report written."""
    save_parameters(folder, namespace)
    from rcaudit.lab import write_session_report

    saved = Path(os.environ.get("JPY_SESSION_NAME") or AUDIT_NOTEBOOK)
    report = write_session_report(folder, saved if saved.suffix == ".ipynb" and saved.is_file() else AUDIT_NOTEBOOK)
    if report is not None:
        print(f"report: {report}")


def user_groups(snapshot: Snapshot, attribute: str = "department") -> pd.Series:
    """Entra user id -> the value charts group findings by (department unless the notebook says otherwise)."""
    users = snapshot.users + snapshot.deleted_users
    return pd.Series({u["id"]: u.get(attribute) or "" for u in users}, dtype="object")


def drift_ages(snapshot: Snapshot, findings: pd.DataFrame) -> pd.Series:
    """Days since each finding's account last changed in RingCentral (unknown for findings without account)."""
    modified = {a["id"]: (a.get("meta") or {}).get("lastModified") for a in snapshot.scim_users}
    stamps = pd.to_datetime(findings["scim_id"].map(modified), utc=True, errors="coerce", format="ISO8601")
    return (pd.Timestamp(snapshot.scim_fetched_at) - stamps).dt.total_seconds() / 86400


def audit_now(connection: Connection) -> Path:
    """A fresh audit run folder (snapshot/, findings.csv, summary.json) for the fix-up notebook, written the way
    the audit notebook writes it."""
    clock = RunClock()
    folder = run_folder("", connection.settings)
    snapshot = read_snapshot(connection, folder)
    clock.lap("fetch")
    result = reconcile(snapshot)
    clock.lap("reconcile")
    write_outputs(folder, result, snapshot, clock, settings=connection.settings)
    return folder


# --- the report's first screen, the findings grid, the drill-down, run over run (issue 14) -------------------

def verdict(result: AuditResult, snapshot: Snapshot, fail_on: str, banner: str | None = None) -> Html:
    """The header band the report opens with: pass/fail against `fail_on`, severity tiles, job state, actions."""
    from rcaudit.report.verdict import verdict_band

    return verdict_band(result.counted, int(result.sizes.get("scim_users", len(snapshot.scim_users))), fail_on,
                        should_fail(result.findings, fail_on), snapshot.job, banner)


def findings_grid(snapshot: Snapshot, shown: pd.DataFrame, group_by: str = "department",
                  mask_key: bytes | None = None, interactive: bool = False) -> Html:
    """Every finding in one interactive grid (what findings.csv holds, `user_name` shown as the original UPN for
    soft-deleted users), with `group_by` as the department column.

    `interactive` (a person running the notebook in JupyterLab): the output carries the grid bundle so Lab draws
    it. A scheduled run's saved notebook holds no executable script (the report's export ships it, hashed)."""
    from rcaudit.report.drilldown import deleted_names
    from rcaudit.report.grid import findings_grid as grid
    from rcaudit.report.masking import mask_groups

    groups = user_groups(snapshot, group_by)
    if mask_key is not None:
        groups = mask_groups(groups, group_by, mask_key)
    return grid(shown, groups, deleted_names(snapshot, mask_key), boot=interactive)


def user_drilldown(snapshot: Snapshot, result: AuditResult, shown: pd.DataFrame,
                   mask_key: bytes | None = None, interactive: bool = False) -> Html:
    """The per-user drill-down panel (both raw records, differing values, provisioning events, admin links)."""
    from rcaudit.report.drilldown import drilldown_html, user_records

    return drilldown_html(user_records(snapshot, result, shown, mask_key), panel_id="drilldown", boot=interactive)


def display_names(snapshot: Snapshot, shown: pd.DataFrame, mask_key: bytes | None = None) -> pd.Series:
    """`user_name` -> the label charts show: the original UPN for soft-deleted users, else the name itself."""
    from rcaudit.report.drilldown import deleted_names

    deleted = deleted_names(snapshot, mask_key)
    first = shown["entra_id"].str.split(";").str[0]
    picked = shown.loc[first.isin(deleted.keys()), "user_name"]
    return pd.Series({name: deleted[i] + " (deleted)" for name, i in zip(picked, first[picked.index], strict=True)},
                     dtype="object")


def changes_grid(outputs: Path, folder: Path, findings: pd.DataFrame, started_at: dt.datetime,
                 interactive: bool = False, mask_key: bytes | None = None) -> Html | None:
    """New, fixed and persisting findings against the previous run of the same source, tenant and SCIM URL (the
    run `summary.md` and notifications compare with), each with its first-seen date and age (days since the
    earliest such run that had it); None when there is no earlier run. With `mask_key` (--mask-pii) every
    `user_name` is masked: this run's, and the fixed rows' read from the earlier run (which may not have been)."""
    from rcaudit.report.trends import change_list, first_seen
    from rcaudit.report.trends import changes_grid as grid

    earlier = earlier_runs((Path(outputs), folder.parent), folder, folder_key(folder))
    if not earlier:
        return None
    current = findings[~findings["waived"]].copy()
    current["key"] = finding_key(current)
    change = compare(open_findings(earlier[-1]), current)
    listing = change_list(change, first_seen(earlier), pd.Timestamp(started_at))
    if mask_key is not None and not listing.empty:
        key = mask_key
        listing["user_name"] = listing["user_name"].map(
            lambda v: v if not v or str(v).startswith("pii:") else mask(str(v), key))
    return grid(listing, earlier[-1].run_id, boot=interactive)


def person_watching() -> bool:
    """Whether a person runs this notebook (JupyterLab started the kernel, no batch runner did): then its grids
    carry their own script to draw in Lab; under papermill the exported report ships that script once."""
    from rcaudit.connect.auth import detect_interactive

    return detect_interactive()
