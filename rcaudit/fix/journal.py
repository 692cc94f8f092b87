"""Reading apply journals (`journal.jsonl`, DESIGN.md "Journal line"): strict or lenient parsing, the
intents still open after a crash, and which op_ids a plan already applied across every journal of a run.
Files only.
"""


from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from rcaudit.model.errors import ConfigError

# --- journals and rollback plans ---------------------------------------------------------------------------
OUTCOMES = ("applied", "skipped_stale", "failed")  # statuses that settle an `intent` line of the same op_id
JOURNAL_STATUSES = ("intent", *OUTCOMES, "dry_run")


class JournalLine(TypedDict):
    """One line of `journal.jsonl` as an apply writes it: DESIGN.md "Journal line"'s fields first, in its order
    (fix/apply.py's `JOURNAL_FIELDS`), then what a person, a rollback and the guards need. Lines read back are
    plain dicts checked only for `op_id` and `status` (a journal is a file, older ones lack the later fields),
    so their readers use `.get`."""

    time: str
    fix_id: str
    plan_id: str
    op_id: str
    scim_id: str
    entra_id: str
    path: str
    op: str
    value: Any
    audited: Any  # what the audit saw
    before: Any  # what the re-read just before writing saw
    after: Any
    status: str  # one of JOURNAL_STATUSES
    http_status: int | None
    error: str
    # beyond DESIGN.md's fields
    attribute: str
    expected: Any
    sent: dict[str, Any] | None  # the PatchOp operation as sent, in the plan's forms
    kind: str
    severity: str
    user_name: str
    inverse: dict[str, Any]
    reverts: str | None  # rollback lines: the op_id undone
    decides: str | None  # the fix_id whose in-flight request this line decided after a crash
    target_user_name: str | None
    scim_url: str | None
    rc_owner_id: str | None
    wire: str  # the forms `sent` follows


@dataclass(frozen=True)
class JournalFile:
    """A journal read strictly: its lines, and a note when its last line was cut short by a crash."""

    path: Path
    lines: list[dict[str, Any]]
    torn: str = ""  # why the incomplete last line was ignored (empty: the file ends cleanly)
    damaged: tuple[str, ...] = ()  # `strict=False` only: each line that could not be read, and why


def load_journal(path: str | Path, *, strict: bool = True) -> JournalFile:
    """Read `journal.jsonl`; a line that is not UTF-8 or not a JSON object is a `ConfigError` naming the file and
    the line (a skipped line could be an applied write that a rollback would then leave in place). Only an
    incomplete LAST line (no newline: a crash mid-write) is ignored, and said so: the intent line written before
    each request means the request it announced, if any, is still decided by re-reading the account.
    `strict=False` (counting recent deactivations across runs) keeps every readable line and lists the others."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: journal file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a journal file (expected fixes/<fix_id>/journal.jsonl)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the journal: {exc.strerror or exc}") from None
    if not strict and not data:
        return JournalFile(path, [])
    raw_lines = data.split(b"\n")
    ends_cleanly = raw_lines[-1] == b""
    if ends_cleanly:
        raw_lines.pop()
    lines: list[dict[str, Any]] = []
    torn = ""
    damaged: list[str] = []
    for number, raw_line in enumerate(raw_lines, start=1):
        last_and_cut = number == len(raw_lines) and not ends_cleanly
        problem = _journal_line_problem(raw_line)
        if isinstance(problem, dict):
            lines.append(problem)
        elif last_and_cut:
            torn = (f"{path} line {number} is incomplete (no newline at the end of the file: a crash while it was "
                    "being written) and was ignored")
        elif raw_line.strip():
            if not strict:
                damaged.append(f"{path} line {number}: {problem}")
                continue
            raise ConfigError(f"{path} line {number}: {problem}; the journal is damaged, so it is not used "
                              "(restore the file, or remove that line if you know what it held)")
    return JournalFile(path, lines, torn, tuple(damaged))


def _journal_line_problem(raw_line: bytes) -> dict[str, Any] | str:
    """The line as a dict, or what is wrong with it."""
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start + 1})"
    if not text.strip():
        return "an empty line"
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(item, dict) or not isinstance(item.get("op_id"), str) or "status" not in item:
        return "not a journal line (a JSON object with op_id and status)"
    if item["status"] not in JOURNAL_STATUSES:
        return f"unknown status {item['status']!r} (expected one of {', '.join(JOURNAL_STATUSES)})"
    if item["status"] in ("intent", "applied") and not (
            isinstance(item.get("scim_id"), str) and (item.get("attribute") or item.get("path"))):
        return f"an {item['status']} line without scim_id or path"
    return item


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """Every line of a journal (strict, see `load_journal`; an incomplete last line is left out)."""
    return load_journal(path).lines


def open_intents(lines: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """op_id → the `intent` line of every request whose outcome line never came (a crash while it was in flight)."""
    open_: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.get("status") == "intent":
            open_[str(line["op_id"])] = line
        elif line.get("status") in OUTCOMES:
            open_.pop(str(line["op_id"]), None)
    return open_


LOCK_NAME = ".apply.lock"  # fixes/.apply.lock: an apply in progress (rcaudit.fix.apply.RunLock takes it)


def fixes_folder(run_folder: str | Path) -> Path:
    return Path(run_folder) / "fixes"


def run_folder_of_journal(journal: Path) -> Path:
    """`<run>/fixes/<fix_id>/journal.jsonl` → `<run>`; a journal elsewhere keeps its own folder."""
    fix_folder = journal.resolve().parent
    return fix_folder.parent.parent if fix_folder.parent.name == "fixes" else fix_folder


def _plan_id_beside(journal: Path) -> str | None:
    """The plan_id of the plan.json next to a journal (None when there is none or it is unreadable)."""
    try:
        data = json.loads((journal.parent / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    plan_id = data.get("plan_id") if isinstance(data, dict) else None
    return plan_id if isinstance(plan_id, str) else None


def run_journals(run_folder: str | Path, plan_id: str) -> tuple[list[JournalFile], list[str]]:
    """Every journal of a run folder, read strictly, and notes. A damaged journal of ANOTHER plan (its plan.json
    says so) is left out with a note naming it, so one bad file does not block every later apply or rollback of
    the run; a damaged journal that may belong to `plan_id` is an error naming it (it may record this plan's
    writes: nothing is written until it is repaired)."""
    files: list[JournalFile] = []
    notes: list[str] = []
    for path in sorted(fixes_folder(run_folder).glob("*/journal.jsonl")):
        try:
            journal = load_journal(path)
        except ConfigError as exc:
            owner = _plan_id_beside(path)
            if owner is None or owner == plan_id:
                whose = "of this plan" if owner == plan_id else "of unknown plan (no readable plan.json beside it)"
                raise ConfigError(f"{exc.message}. It is a journal {whose} and may record operations of plan "
                                  f"{plan_id}: nothing is written until it is repaired") from None
            notes.append(f"{exc.message}: left out (it is the journal of plan {owner}, not of this one)")
            continue
        files.append(journal)
        if journal.torn:
            notes.append(journal.torn)
    return files, notes


def journal_timeline(files: Sequence[JournalFile]) -> list[dict[str, Any]]:
    """Every line of these journals in time order (a file's own order breaks ties)."""
    keyed = [(str(line.get("time", "")), f, n, line) for f, journal in enumerate(files)
             for n, line in enumerate(journal.lines)]
    return [line for *_, line in sorted(keyed, key=lambda item: item[:3])]


def applied_op_ids(run_folder: str | Path, plan_id: str, files: Sequence[JournalFile] | None = None) -> dict[str, str]:
    """op_id → fix_id of every operation of `plan_id` applied in this run folder and not rolled back since
    (journals replayed in time order: applied, rolled back, applied again counts as applied). `intent` lines do
    not count: an intent without an outcome is decided by re-reading the account (`pending_intents`)."""
    if files is None:
        files, _ = run_journals(run_folder, plan_id)
    applied: dict[str, str] = {}
    for line in journal_timeline(files):
        if line.get("status") != "applied":
            continue
        if line.get("plan_id") == plan_id:
            applied[str(line.get("op_id"))] = str(line.get("fix_id"))
        if line.get("reverts"):
            applied.pop(str(line["reverts"]), None)
    return applied


def pending_intents(files: Sequence[JournalFile], plan_id: str) -> dict[str, dict[str, Any]]:
    """op_id → intent line of every request of `plan_id` that was in flight when an apply stopped (a crash,
    `kill -9`) and that no later line of any journal of the run settled."""
    return open_intents([line for line in journal_timeline(files) if line.get("plan_id") == plan_id])
