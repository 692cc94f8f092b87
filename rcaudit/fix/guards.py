"""The guards an apply must pass before anything is written, and the 24 h deactivation window.

At most `max_changes` operations; deactivations only when allowed and never more than 5 % of the target's
active accounts over 24 h on the same RingCentral (every run's journals plus the user's ledger); an audit
no older than `max_age_hours`; the environment pointing at the audited tenant and RingCentral.
"""


from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcaudit.audit.normalize import is_empty, scim_true
from rcaudit.connect.config import Settings, user_config_dir
from rcaudit.fix.journal import fixes_folder, load_journal
from rcaudit.fix.plan import Operation, Plan
from rcaudit.model.errors import (
    ConfigError,
)

WINDOW_HOURS = 24.0  # the deactivation share counts what was applied to the same RingCentral this long ago
LEDGER_FILE = "deactivations.jsonl"  # in the user's config directory: every applied (de)activation, any run folder


@dataclass(frozen=True)
class Guards:
    """What an apply must respect (DESIGN.md `rcaudit fix` flags plus the fixed safety limits)."""

    max_changes: int = 25
    allow_deactivate: bool = False
    max_deactivate_share: float = 0.05  # of the target's active accounts
    max_age_hours: float = 24.0
    max_consecutive_failures: int = 5  # accounts in a row
    write_retries: int = 2  # re-sends after a 5xx / no answer, when the re-read shows nothing was written
    retry_wait: float = 1.0  # seconds before the first re-send (doubles)


def check_guards(plan: Plan, pending: list[Operation], guards: Guards, *, now: dt.datetime,
                 settings: Settings | None = None, earlier_deactivations: set[str] | None = None,
                 scim_url: str = "") -> list[str]:
    """Every reason to refuse writing `pending` (empty: go). `earlier_deactivations`: the accounts (scim_ids)
    deactivated on the same RingCentral in the last 24 h (`recent_deactivations`), counted with this plan's."""
    earlier_deactivations = earlier_deactivations or set()
    problems: list[str] = []
    if len(pending) > guards.max_changes:
        problems.append(f"{len(pending)} operations exceed --max-changes {guards.max_changes}: narrow the plan with "
                        "filters (--kinds, --attributes, --severity, --users) or raise --max-changes")
    deactivations = sum(1 for o in pending if o.deactivation)
    if deactivations and not guards.allow_deactivate:
        problems.append(f"{deactivations} deactivation(s) need --allow-deactivate")
    share_problem = window_problem(plan, pending, earlier_deactivations, guards, scim_url)
    if share_problem:
        problems.append(share_problem)
    audited_at = dt.datetime.fromisoformat(plan.audited_at)
    age = (now - audited_at).total_seconds() / 3600
    if age > guards.max_age_hours:
        problems.append(f"the audit is {age:.1f} h old (values read {plan.audited_at}), older than "
                        f"{guards.max_age_hours:g} h: audit again, or raise --max-age-hours")
    if settings is not None and settings.tenant_id and plan.tenant_id and settings.tenant_id != plan.tenant_id:
        problems.append(f"the audit read tenant {plan.tenant_id}, the environment points at tenant "
                        f"{settings.tenant_id}: this plan is not for this tenant")
    return problems


def target_problems(plan: Plan, target: dict[str, str], *, static_token: bool) -> list[str]:
    """Why the environment's RingCentral is not the audited one: another SCIM URL, or another account owner
    (JWT grant's owner_id). Every RingCentral customer shares one SCIM URL, so the owner matters too."""
    problems: list[str] = []
    url = target.get("scim_url", "")
    if plan.scim_url and url and url != plan.scim_url:
        problems.append(f"the audit read RingCentral at {plan.scim_url}, the environment (RCAUDIT_SCIM_URL) points at "
                        f"{url}: this plan is not for this RingCentral")
    owner = target.get("owner_id", "")
    if plan.rc_owner_id and owner and owner != plan.rc_owner_id:
        problems.append(f"the audit read the RingCentral account of owner {plan.rc_owner_id}, the environment's JWT "
                        f"grant is for owner {owner}: this plan is not for this RingCentral")
    elif plan.rc_owner_id and not owner and static_token:
        problems.append(f"the audit read the RingCentral account of owner {plan.rc_owner_id} (JWT grant); with "
                        "RCAUDIT_SCIM_TOKEN the environment's account cannot be checked: apply with the JWT grant "
                        "(RCAUDIT_RC_CLIENT_ID, RCAUDIT_RC_CLIENT_SECRET, RCAUDIT_RC_JWT)")
    return problems


def _is_deactivation(line: dict[str, Any]) -> bool:
    expected = line.get("expected")
    return line.get("attribute") == "active" and not is_empty(expected) and not scim_true(expected)


def _is_activation(line: dict[str, Any]) -> bool:
    return line.get("attribute") == "active" and scim_true(line.get("expected"))


def journals_for_window(run_folder: str | Path, outputs: Path | None) -> list[Path]:
    """Every journal a deactivation count must see: the run's own and every run's under $RCAUDIT_OUTPUTS."""
    roots = [Path(run_folder)] + ([p for p in sorted(outputs.glob("*")) if p.is_dir()] if outputs and
                                  outputs.is_dir() else [])
    found: dict[Path, None] = {}
    for root in roots:
        for journal in sorted(fixes_folder(root).glob("*/journal.jsonl")):
            found.setdefault(journal.resolve(), None)
    return list(found)


def ledger_path() -> Path:
    """The user's (de)activation ledger: in rcaudit's config directory, so the 24 h count sees every apply of
    this user whatever `--out` its run folder had (tests point XDG_CONFIG_HOME at a temporary directory)."""
    return user_config_dir() / LEDGER_FILE


def ledger_line(line: dict[str, Any]) -> dict[str, Any] | None:
    """What the ledger keeps of an applied journal line: None unless it (de)activates an account."""
    direction = "deactivate" if _is_deactivation(line) else "activate" if _is_activation(line) else ""
    if line.get("status") != "applied" or not direction:
        return None
    return {"time": line.get("time"), "scim_url": line.get("scim_url") or "", "scim_id": line.get("scim_id"),
            "direction": direction, "fix_id": line.get("fix_id"), "op_id": line.get("op_id")}


def append_ledger(entry: dict[str, Any], path: Path | None = None) -> None:
    """Append one entry, fsynced, to a file only the user can read and write (append-only: never rewritten)."""
    path = path or ledger_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
        os.write(fd, (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_ledger(path: Path | None = None) -> None:
    """Refuse before anything is written when the ledger cannot be appended to: a (de)activation it missed
    would escape the 24 h count of applies from other run folders."""
    path = path or ledger_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        raise ConfigError(f"the deactivation ledger {path} cannot be written ({exc.strerror}): (de)activations "
                          "are counted there over 24 h; make it writable or set XDG_CONFIG_HOME") from None


def read_ledger(path: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The ledger's entries (none when there is no ledger yet), and notes on what could not be read."""
    path = path or ledger_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"the deactivation ledger {path} cannot be read ({exc.strerror}): its entries are not counted"]
    entries: list[dict[str, Any]] = []
    damaged = 0
    for text in raw.decode("utf-8", errors="replace").splitlines():
        if not text.strip():
            continue
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            entry = None
        if isinstance(entry, dict) and entry.get("direction") in ("deactivate", "activate"):
            entries.append(entry)
        else:
            damaged += 1
    notes = [f"{damaged} damaged line(s) in the deactivation ledger {path}: not counted"] if damaged else []
    return entries, notes


def recent_deactivations(journals: list[Path], scim_url: str, now: dt.datetime,
                         hours: float = WINDOW_HOURS, ledger: Path | None = None) -> tuple[set[str], list[str]]:
    """scim_ids of the accounts deactivated on `scim_url` in the last `hours` and not activated again since
    (the journals of the run folders in reach, and the user's ledger for those elsewhere, de-duplicated by
    op_id), and notes on journals or ledger lines read in part."""
    since = (now - dt.timedelta(hours=hours)).isoformat()
    events: dict[str, tuple[str, int, dict[str, Any]]] = {}  # op_id -> (time, order, ledger-form entry)
    notes: list[str] = []
    order = 0
    for path in journals:
        try:
            journal = load_journal(path, strict=False)
        except ConfigError as exc:
            notes.append(f"{exc.message}: its deactivations are not counted")
            continue
        notes += [f"{d}: not counted" for d in journal.damaged]
        for line in journal.lines:
            entry = ledger_line(line)
            if entry is not None:
                order += 1
                events.setdefault(_event_key(entry), (str(entry.get("time") or ""), order, entry))
    entries, ledger_notes = read_ledger(ledger)
    notes += ledger_notes
    for entry in entries:
        order += 1
        events.setdefault(_event_key(entry), (str(entry.get("time") or ""), order, entry))
    in_effect: set[str] = set()
    for moment, _, entry in sorted(events.values(), key=lambda e: e[:2]):
        if (entry.get("scim_url") or scim_url) != scim_url:
            continue  # another RingCentral (a line without scim_url, from before this version, is counted)
        if entry["direction"] == "activate":
            in_effect.discard(str(entry.get("scim_id")))
        elif moment >= since:
            in_effect.add(str(entry.get("scim_id")))
    return in_effect, notes


def _event_key(entry: dict[str, Any]) -> str:
    """One operation once, whether the journal, the ledger or both hold it."""
    return str(entry.get("op_id") or f"{entry.get('fix_id')}/{entry.get('scim_id')}/{entry.get('time')}")


def window_problem(plan: Plan, pending: list[Operation], earlier: set[str], guards: Guards,
                   scim_url: str) -> str:
    """The 5 % rule over 24 h: accounts deactivated on this RingCentral in the window and not active again,
    minus those this plan activates, plus this plan's deactivations, against the audited active accounts."""
    active = plan.target_active_accounts
    mine = {o.scim_id for o in pending if o.deactivation}
    activated = {o.scim_id for o in pending if o.attribute == "active" and scim_true(o.expected)}
    before = earlier - activated - mine
    total = len(before) + len(mine)
    if not mine or active is None or total <= guards.max_deactivate_share * active:
        return ""
    share = total / active if active else 1.0
    return (f"{total} deactivations are {share:.1%} of the target's {active} active accounts, above the "
            f"{guards.max_deactivate_share:.0%} limit (at most {int(guards.max_deactivate_share * active)}): "
            f"{len(mine)} in this plan + {len(before)} applied to {scim_url or 'this RingCentral'} in the last "
            f"{WINDOW_HOURS:g} h and not undone; so many usually means a scope or matching problem, not drift "
            "(batches do not change the count): check the audit's scope first")
