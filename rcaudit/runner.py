"""`rcaudit audit` and `rcaudit demo`: run the audit notebook with papermill, export the report, exit by severity.

The notebook is the audit (the same cells an analyst runs in JupyterLab); this module only chooses its
parameters, runs it headless, turns it into `report.html` and reads `summary.json` back for the exit code.
Secrets never become parameters: the kernel inherits them from the environment, and `check_parameters` refuses
anything that looks like one (papermill writes every parameter into `audit.ipynb`).
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rcaudit.connect.config import Settings, configured_secrets, missing_settings_message
from rcaudit.model.errors import ConfigError, ExitCode, NotebookError, RcauditError, scrub
from rcaudit.model.runs import create_run_folder
from rcaudit.report.export import export_html, strip_saved_notebook
from rcaudit.workbook import AUDIT_NOTEBOOK, FAIL_ON

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = ExitCode.OK, ExitCode.FINDINGS, ExitCode.ERROR



def typed(value: str) -> Any:
    """papermill's `-p` typing: ints, floats, True/False/None, else the string (`-r` keeps strings raw)."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None, "true": True, "false": False}.get(value, value)


# --- notebook parameters: checked before papermill writes anything -------------------------------------------
# Names that look like a credential: refused whatever their value (papermill writes parameters into audit.ipynb).
CREDENTIAL_NAME = re.compile(r"secret|token|passw|pwd|jwt|key|credential|assertion|bearer|cert|pfx|private|auth",
                             re.IGNORECASE)
# Parameters that name a file: resolved against the caller's directory (the kernel runs in the run folder).
PATH_PARAMETERS = ("waiver_file", "mapping_file", "sandbox_tenant")
# Set by `rcaudit audit` itself (each has its own option).
RESERVED = ("source", "run_folder", "snapshot", "mask_pii", "fail_on")
# Only `rcaudit demo` serves a sandbox: given to `rcaudit audit` (the environment) they would be ignored.
SANDBOX_ONLY = ("sandbox_users", "sandbox_seed", "sandbox_tenant", "sandbox_profile", "sandbox_job_status")
# Bounds the parameters cell cannot say: (minimum, allowed values).
LIMITS: dict[str, tuple[float | None, tuple[str, ...]]] = {
    "grace_minutes": (0, ()), "top_rows": (1, ()), "sandbox_users": (0, ()), "sandbox_seed": (0, ()),
    "scope_mode": (None, ("", "assigned", "all")), "group_by": (None, ()),
    "skip_out_of_scope_deletions": (None, ("", "true", "false")),
}


def notebook_parameters(notebook: Path | None = None) -> dict[str, Any]:
    """Name -> default of the notebook's parameters cell (papermill's own reading of it), so the valid names
    and types are never a second hand-kept list. `None` is AUDIT_NOTEBOOK, read when called (tests point it
    at a fixture notebook)."""
    import papermill

    found = papermill.inspect_notebook(str(notebook or AUDIT_NOTEBOOK))
    defaults: dict[str, Any] = {}
    for name, spec in found.items():
        try:
            defaults[name] = ast.literal_eval(str(spec["default"]))
        except (ValueError, SyntaxError):
            defaults[name] = str(spec["default"])
    return defaults


def _valid_names(defaults: dict[str, Any]) -> str:
    return ", ".join(f"{name} ({type(value).__name__})" for name, value in defaults.items() if name not in RESERVED)


def _refuse_credential(name: str, text: str, secrets_: list[str]) -> None:
    """A credential never becomes a parameter: papermill would write it into audit.ipynb."""
    if CREDENTIAL_NAME.search(name):
        raise ConfigError(f"notebook parameter {name}: looks like a credential; secrets come from the RCAUDIT_* "
                          "environment only, never from -p/-r (papermill writes parameters into audit.ipynb)")
    if any(text == s or (len(s) >= 8 and s in text) for s in secrets_):
        raise ConfigError(f"notebook parameter {name}: its value is a configured secret (a RCAUDIT_* credential); "
                          "refused, since papermill writes parameters into audit.ipynb")


def _convert(name: str, text: str, raw: bool, default: Any, valid: str) -> Any:
    """`text` as the type of the parameter's default; `-p` types like papermill, `-r` keeps strings."""
    wanted = type(default)
    if wanted is str or default is None:
        return text
    value = text if raw else typed(text)
    if wanted is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif wanted is int and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            pass
    elif wanted is float and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    kind = {"int": "an integer", "float": "a number", "bool": "True or False"}.get(wanted.__name__, wanted.__name__)
    raise ConfigError(f"notebook parameter {name}: {text!r} is not {kind}; valid parameters: {valid}")


def _bounded(name: str, value: Any) -> None:
    minimum, allowed = LIMITS.get(name, (None, ()))
    if minimum is not None and isinstance(value, int | float) and value < minimum:
        raise ConfigError(f"notebook parameter {name}: {value} is below the minimum {minimum}")
    if allowed and value not in allowed:
        raise ConfigError(f"notebook parameter {name}: {value!r} is not one of "
                          f"{', '.join(repr(a) for a in allowed)}")
    if name == "group_by" and not str(value).strip():
        raise ConfigError("notebook parameter group_by: must name an Entra user property")


def _resolved_path(name: str, value: str, where: Path) -> str:
    """A file parameter as an absolute path from the caller's directory; a missing file is refused now."""
    if not value:
        return value
    path = (where / Path(value).expanduser()).resolve()
    if not path.is_file():
        raise ConfigError(f"notebook parameter {name}: {value} is not a file ({path})")
    if name == "waiver_file":
        from rcaudit.audit.waivers import load_waivers

        load_waivers(path)  # a malformed waiver file is refused before anything is written
    elif name == "mapping_file":
        from rcaudit.audit.overrides import load_mapping_overrides

        load_mapping_overrides(path)
    return str(path)


def check_parameters(given: Iterable[tuple[str, str, bool]], settings: Settings, notebook: Path | None = None,
                     cwd: Path | None = None, reserved: Iterable[str] = RESERVED) -> dict[str, Any]:
    """(name, text, raw) triples from -p/-r -> papermill parameters, or a ConfigError naming the parameter.

    Credentials (by name or by value) are refused first, then unknown names, wrong types and out-of-range
    values; file parameters are resolved against `cwd` (the caller's directory) and must exist."""
    defaults = notebook_parameters(notebook)
    valid = _valid_names(defaults)
    secrets_ = configured_secrets(settings)
    where = cwd or Path.cwd()
    out: dict[str, Any] = {}
    for name, text, raw in given:
        _refuse_credential(name, text, secrets_)
        if name in reserved and name in SANDBOX_ONLY:
            raise ConfigError(f"-p/-r {name}: only `rcaudit demo` serves a sandbox (its --users, --seed, --tenant, "
                              "--schema-profile, --job-status); `rcaudit audit` reads the environment")
        if name in reserved:
            raise ConfigError(f"-p/-r {name}: set it with its own option (--out, --snapshot, --fail-on, "
                              "--mask-pii); the source of `rcaudit audit` is always the environment")
        if name not in defaults:
            raise ConfigError(f"notebook parameter {name}: unknown; valid parameters: {valid}")
        value = _convert(name, text, raw, defaults[name], valid)
        _bounded(name, value)
        out[name] = _resolved_path(name, value, where) if name in PATH_PARAMETERS else value
    return out


RUN_LOG = "run.log"


@contextlib.contextmanager
def _cell_log(folder: Path, verbose: bool) -> Iterator[None]:
    """papermill's log (each cell's output, through its `log_output`) goes to `run.log` in the run folder, and
    to stderr only with `-v`: a successful scheduled run prints its one summary line and nothing else."""
    logger = logging.getLogger("papermill")
    handlers: list[logging.Handler] = [logging.FileHandler(folder / RUN_LOG, encoding="utf-8")]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    saved = (logger.level, logger.propagate)
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # never to the root logger's last-resort stderr handler
    logging.captureWarnings(True)  # a library's warning in this process belongs in run.log too
    warnings_logger = logging.getLogger("py.warnings")
    saved_warnings = warnings_logger.propagate
    warnings_logger.addHandler(handlers[0])
    warnings_logger.propagate = verbose
    try:
        yield
    finally:
        logging.captureWarnings(False)
        warnings_logger.removeHandler(handlers[0])
        warnings_logger.propagate = saved_warnings  # the caller's logging is as it was (a test's, an embedding app's)
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def run_notebook(parameters: dict[str, Any], folder: Path, notebook: Path = AUDIT_NOTEBOOK,
                 log_cells: bool = False, verbose: bool = False) -> Path:
    """Execute `notebook` into `folder/audit.ipynb`. On a failing cell the executed notebook is still written
    (with papermill's error banner) and a NotebookError carries the cell, the error and its traceback.

    With `log_cells` every cell's output goes to `folder/run.log` (and stderr with `verbose`); the kernel is
    told (RCAUDIT_PROGRESS=log) to print one line per fetch phase instead of drawing progress bars."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    output = folder / "audit.ipynb"
    log = _cell_log(folder, verbose) if log_cells else contextlib.nullcontext()
    previous = os.environ.get("RCAUDIT_PROGRESS")
    os.environ["RCAUDIT_PROGRESS"] = "log"  # the kernel inherits it: one line per phase in the log
    try:
        with log:
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                                       progress_bar=verbose and sys.stderr.isatty(), log_output=log_cells,
                                       cwd=str(folder))
    except (DeadKernelError, CellTimeoutError) as exc:  # nbclient's, let through by papermill: often out of memory
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotebookError(f"the {notebook.stem} notebook did not finish: {type(exc).__name__}: {first} (a kernel "
                            "that dies is most often out of memory)", ename=type(exc).__name__, evalue=first,
                            notebook=str(output)) from None
    except PapermillExecutionError as exc:
        raise NotebookError(f"the {notebook.stem} notebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
                            cell=exc.exec_count, ename=str(exc.ename), evalue=str(exc.evalue),
                            traceback=tuple(str(line) for line in exc.traceback or ()), notebook=str(output)) from None
    finally:
        if previous is None:
            os.environ.pop("RCAUDIT_PROGRESS", None)
        else:
            os.environ["RCAUDIT_PROGRESS"] = previous
    return output


def audit(*, settings: Settings, source: str, out: str | None = None, snapshot: str | None = None,
          params: dict[str, Any] | None = None, fail_on: str = "high", mask_pii: bool = False,
          notebook: Path | None = None, log_cells: bool = True, verbose: bool = False, label: str = "rcaudit",
          notify_on: str | None = None, keep: int | None = None) -> int:
    """One audit run; returns the exit code (0 clean, 1 findings at or above `fail_on`, 2 error). `notebook`
    None is AUDIT_NOTEBOOK, read when called: the seam the exit-code tests use to run a tiny fixture notebook.

    On success it prints exactly one line on stdout (`label`: sizes, findings, the report, the time, and what
    followed the run); the cells' log is in the run folder's `run.log` (also on stderr with `verbose`). After a
    finished run: with `notify_on` (`rcaudit audit`; never `demo`) the RCAUDIT_NOTIFY_URLS webhooks are told,
    with `keep` old run folders are pruned; neither can change the exit code. A run that fails (exit 2) after
    RCAUDIT_NOTIFY_URLS was read tells the webhooks too, whatever `notify_on` says, then raises its error."""
    started = time.perf_counter()
    if fail_on not in FAIL_ON:
        raise ConfigError(f"--fail-on {fail_on}: expected one of {', '.join(FAIL_ON)}")
    if keep is not None and keep < 1:  # usage errors: refused before anything is posted
        raise ConfigError(f"--keep {keep}: must be at least 1 (the run just made is always kept)")
    targets = _notify_targets(notify_on)  # a malformed RCAUDIT_NOTIFY_URLS is exit 2 before anything runs
    made: list[Path] = []  # the run folder, once there is one
    try:
        return _audit(settings=settings, source=source, out=out, snapshot=snapshot, params=params, fail_on=fail_on,
                      mask_pii=mask_pii, notebook=notebook, log_cells=log_cells, verbose=verbose, label=label,
                      notify_on=notify_on, keep=keep, targets=targets, started=started, made=made)
    except Exception as exc:  # RcauditError, or a bug: a scheduled run that broke is news under every --notify-on
        if notify_on and targets:
            told = notify_failure(made[0] if made else None, exc, source=source, fail_on=fail_on, mask_pii=mask_pii,
                                  targets=targets, settings=settings, notify_on=notify_on)
            print(f"{label}: {told}", file=sys.stderr, flush=True)
        raise


def _audit(*, settings: Settings, source: str, out: str | None, snapshot: str | None,
           params: dict[str, Any] | None, fail_on: str, mask_pii: bool, notebook: Path | None, log_cells: bool,
           verbose: bool, label: str, notify_on: str | None, keep: int | None, targets: list[Any], started: float,
           made: list[Path]) -> int:
    if source == "environment" and not snapshot:
        missing = settings.missing()
        if missing:
            raise ConfigError(missing_settings_message("cannot audit", missing))
    secrets_ = configured_secrets(settings)
    for name, value in (params or {}).items():  # the last gate before papermill writes them down
        _refuse_credential(name, str(value), secrets_)
    folder = create_run_folder(settings.outputs, out)
    made.append(folder)
    parameters: dict[str, Any] = {**(params or {}), "source": source, "run_folder": str(folder),
                                  "snapshot": str(Path(snapshot).resolve()) if snapshot else "",
                                  "mask_pii": mask_pii, "fail_on": fail_on}
    failure: NotebookError | None = None
    try:
        run_notebook(parameters, folder, notebook or AUDIT_NOTEBOOK, log_cells=log_cells, verbose=verbose)
    except NotebookError as exc:
        failure = exc  # the executed notebook (with the error banner) still becomes the report
    strip_saved_notebook(folder / "audit.ipynb")  # no widget state kept (nor exported as a CDN script)
    report = export_html(folder / "audit.ipynb", folder / "report.html", title="rcaudit report")
    summary_file = folder / "summary.json"
    if failure is not None:
        log = f" and {folder / RUN_LOG}" if log_cells else ""
        raise NotebookError(f"{failure.message}; the run did not finish, see {report}{log}", cell=failure.cell,
                            ename=failure.ename, evalue=failure.evalue, traceback=failure.traceback,
                            notebook=failure.notebook)
    if not summary_file.is_file():
        raise NotebookError(f"the run did not finish (no summary.json); see {report}", notebook=str(folder))
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    counts = summary["findings"]
    severity = ", ".join(f"{k} {v}" for k, v in counts["by_severity"].items())
    from rcaudit.model.findings import read_findings
    from rcaudit.workbook import should_fail

    code = EXIT_FINDINGS if should_fail(read_findings(folder / "findings.csv"), fail_on) else EXIT_OK
    after = [notify_after_run(folder, summary, str(report), notify_on, targets, settings)] if notify_on else []
    after += [prune_after_run(settings.outputs, keep, folder)] if keep is not None else []
    print(f"{label}: {summary['sizes']['entra_users']:,} Entra users, {summary['sizes']['scim_users']:,} "
          f"RingCentral accounts ({summary['source']}): {counts['total']:,} findings ({severity}), "
          f"{counts['waived']} waived; report: {report} ({time.perf_counter() - started:.1f} s)"
          + "".join(f"; {part}" for part in after if part), flush=True)
    return code


# --- after the run: notifications and pruning (never change the exit code) ------------------------------------
def _notify_targets(notify_on: str | None) -> list[Any]:
    if notify_on is None:
        return []
    from rcaudit.connect.notify import parse_targets
    from rcaudit.report.notify_messages import NOTIFY_ON

    if notify_on not in NOTIFY_ON:
        raise ConfigError(f"--notify-on {notify_on}: expected one of {', '.join(NOTIFY_ON)}")
    return parse_targets()


def new_examples(folder: Path, summary: dict[str, Any], settings: Settings) -> list[dict[str, str]]:
    """The worst new findings (all, on a first run) for a notice: by account id when the run is masked."""
    from rcaudit.model.findings import SEVERITY_RANK, read_findings
    from rcaudit.model.runs import origin_key
    from rcaudit.report.notify_messages import EXAMPLES
    from rcaudit.workbook import previous_changes

    findings = read_findings(folder / "findings.csv")
    changes = previous_changes(settings.outputs, folder, findings, origin_key(summary, folder))
    new = changes[1].new if changes is not None else findings[~findings["waived"]]
    new = new.assign(_rank=new["severity"].map(SEVERITY_RANK)).sort_values("_rank", kind="stable").head(EXAMPLES)
    masked = bool(summary.get("masked"))
    return [{"severity": r["severity"], "kind": r["kind"], "attribute": r["attribute"],
             "who": (r["scim_id"] or r["entra_id"]) if masked else (r["user_name"] or r["scim_id"] or r["entra_id"])}
            for r in new.to_dict("records")]


def notify_after_run(folder: Path, summary: dict[str, Any], report: str, notify_on: str, targets: list[Any],
                     settings: Settings) -> str:
    """Decide, post, log each outcome to run.log; returns the summary line's part. Never raises."""
    from rcaudit.model.runs import log_to_run

    try:
        from rcaudit.connect.notify import post_all
        from rcaudit.report.notify_messages import notice_from_summary, payload, should_notify

        if not targets:
            return ""
        notice = notice_from_summary(summary, report, new_examples(folder, summary, settings))
        wanted, why = should_notify(notice, notify_on)
        if not wanted:
            log_to_run(folder, f"notify: not sent (--notify-on {notify_on}: {why})")
            return f"notify: quiet ({why})"
        bodies = {kind: payload(kind, notice, summary, notify_on) for kind in {t.kind for t in targets}}
        outcomes = post_all(targets, bodies, settings.ca_bundle)
    except Exception as exc:  # a notification never fails the audit
        log_to_run(folder, f"notify: FAILED before posting ({type(exc).__name__})")
        return f"notify: FAILED ({type(exc).__name__}, see {folder / 'run.log'})"
    log_to_run(folder, f"notify: {why}")
    sent, failed = _logged(outcomes, lambda line: log_to_run(folder, line))
    if failed:
        return f"notify: {sent} sent, {failed} FAILED (see {folder / 'run.log'})"
    return f"notify: {sent} sent ({why})"


def _logged(outcomes: list[Any], log: Callable[[str], None]) -> tuple[int, int]:
    """Each post's outcome line to `log`; (sent, failed)."""
    for outcome in outcomes:
        log(outcome.line())
    failed = sum(1 for o in outcomes if not o.sent)
    return len(outcomes) - failed, failed


def failure_text(exc: BaseException, masked: bool, secrets_: Iterable[str] = (), where: str = "run.log") -> str:
    """What a failure notice says went wrong: an rcaudit error's message (they name settings, never their values),
    any other exception's type and first line; every configured secret blanked (a service may echo one). Under
    `--mask-pii` only the failing cell and the error's type, as a message may quote a service's record."""
    if masked:
        detail = f"details in {where}; not sent under --mask-pii"
        if isinstance(exc, NotebookError) and exc.ename:
            where_in = f"failed in cell {exc.cell}" if exc.cell is not None else "did not finish"
            return f"the audit notebook {where_in}: {exc.ename} ({detail})"
        return f"{type(exc).__name__} ({detail})"
    if isinstance(exc, RcauditError):
        text = exc.message
    else:
        first = str(exc).splitlines()[0] if str(exc) else ""
        text = f"{type(exc).__name__}: {first} (an unexpected error: the traceback is on stderr)"
    return scrub(text, secrets_)


def notify_failure(folder: Path | None, exc: BaseException, *, source: str, fail_on: str, mask_pii: bool,
                   targets: list[Any], settings: Settings, notify_on: str) -> str:
    """Tell the webhooks that the run did not finish; logged in run.log when there is a run folder. Never raises:
    the audit's own error is what the caller reports."""
    from rcaudit.model.runs import log_to_run

    def log(line: str) -> None:
        with contextlib.suppress(OSError):  # a full or read-only disk must not replace the audit's own error
            if folder is not None and folder.is_dir():
                log_to_run(folder, line)

    try:
        from rcaudit.connect.notify import post_all
        from rcaudit.report.notify_messages import failure_notice, payload

        report = folder / "report.html" if folder is not None else None
        where = "run.log" if folder is not None else "stderr"
        error = failure_text(exc, mask_pii, configured_secrets(settings), where)
        notice = failure_notice(run_id=folder.name if folder is not None else "", source=source, fail_on=fail_on,
                                error=error, masked=mask_pii,
                                report=str(report) if report is not None and report.is_file() else "")
        bodies = {kind: payload(kind, notice, None, notify_on) for kind in {t.kind for t in targets}}
        outcomes = post_all(targets, bodies, settings.ca_bundle)
    except Exception as failure:  # a notification never hides the audit's error
        log(f"notify: FAILED before posting ({type(failure).__name__})")
        return f"notify: FAILED ({type(failure).__name__}) while telling that the audit did not finish"
    log("notify: the audit did not finish")
    sent, failed = _logged(outcomes, log)
    told = f"notify: {sent} sent, {failed} FAILED" if failed else f"notify: {sent} sent"
    return f"{told} (the audit did not finish)"


def prune_after_run(outputs: Path, keep: int, folder: Path) -> str:
    """`rcaudit audit --keep N`: delete run folders beyond the N newest (with every protection of
    `rcaudit runs --prune`); logged in run.log; never raises."""
    from rcaudit.model.runs import log_to_run
    from rcaudit.retention import plan_prune, prune, scan_runs

    try:
        decisions = plan_prune(scan_runs(outputs), keep=keep)
        deleted, problems = prune(decisions, apply=True)
    except (OSError, RcauditError) as exc:
        log_to_run(folder, f"prune --keep {keep}: FAILED ({type(exc).__name__})")
        return f"prune: FAILED ({type(exc).__name__})"
    for path in deleted:
        log_to_run(folder, f"prune --keep {keep}: deleted {path.name}")
    for problem in problems:
        log_to_run(folder, f"prune --keep {keep}: {problem}")
    return f"pruned {len(deleted)} old run(s)" + (f", {len(problems)} problem(s) (see run.log)" if problems else "")
