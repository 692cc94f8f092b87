"""Rollback plans: every applied operation of a journal undone by its inverse, in the forms of the plan
it undoes, with intents left open by a crash settled first. A provision-on-demand journal (`op: provision`) is
undone by deactivating each account it created (`active` "False", a deactivation: only with --allow-deactivate);
an account it only updated (one already existed) is left as it is. Pure: files only.
"""


from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rcaudit.audit.normalize import is_empty, scim_true
from rcaudit.fix.journal import (
    OUTCOMES,
    journal_timeline,
    load_journal,
    open_intents,
    run_folder_of_journal,
    run_journals,
)
from rcaudit.fix.ops import (
    ACTIVE,
    WIRE_LEGACY,
    WIRES,
    inverse_of,
    op_id_of,
    sends_boolean_strings,
    wire_settings,
    wire_value,
)
from rcaudit.fix.plan import Operation, Plan, plan_id_for, plan_stamp
from rcaudit.fix.provision import PROVISION_OP
from rcaudit.model.errors import ConfigError


def plan_rollback(journal: str | Path, *, boolean_strings: bool | None = None,
                  now: dt.datetime | None = None) -> Plan:
    """The plan that undoes every `applied` operation of a journal, newest first: each attribute goes back to
    the value re-read just before it was written (`before`); the rollback's audited value is `after`. It writes in
    the forms of the plan it undoes (its plan.json's `wire` and booleans; without one, what the journal's lines
    show), so a legacy plan is rolled back as it was written; `boolean_strings` overrides the booleans.

    An `intent` without an outcome (the apply died while that request was in flight) is undone too, unless a
    later run settled it otherwise: whether it went through is decided when the rollback re-reads the account
    (it holds the planned value: reverted; it holds `before`: nothing to undo)."""
    journal = _journal_file(journal)
    loaded = load_journal(journal)
    lines = loaded.lines
    if not lines:
        raise ConfigError(f"{journal}: no journal lines to roll back")
    original = _original_plan(journal)
    wire, strings = (original.wire, original.booleans_as_strings) if original else _journal_forms(lines)
    if boolean_strings is None:
        boolean_strings = strings
    run_folder = run_folder_of_journal(journal)
    latest = _applied_lines(lines)
    notes = [loaded.torn] if loaded.torn else []
    notes += _provisions_not_undone(lines, latest)
    latest = {k: v for k, v in latest.items() if v.get("op") != PROVISION_OP or v.get("action") == "create"}
    uncertain = {k: v for k, v in _unsettled_intents(journal, lines, run_folder, latest, notes).items()
                 if v.get("op") != PROVISION_OP}
    for op_id, line in uncertain.items():
        latest[op_id] = {**line, "after": line.get("expected")}
    applied = list(latest.values())
    operations = _undo_operations(applied, uncertain, boolean_strings)
    if uncertain:
        notes.append(f"{len(uncertain)} operation(s) of this journal were in flight when its apply stopped (an intent "
                     "line without an outcome): each is undone only if the re-read shows it went through")
    return _rollback_plan(journal, run_folder, lines, applied, operations, original,
                          wire_settings(wire, bool(boolean_strings)), wire, notes, now)


def _journal_file(journal: str | Path) -> Path:
    """The journal to roll back, resolved; a folder or a missing file is a `ConfigError` saying what is expected."""
    path = Path(journal).expanduser()
    if not path.is_file():
        what = "is a folder, not a journal file" if path.is_dir() else "file not found"
        raise ConfigError(f"--journal {path}: {what} (expected <run folder>/fixes/<fix_id>/journal.jsonl)")
    return path.resolve()


def _original_plan(journal: Path) -> Plan | None:
    """The plan.json beside the journal (None when there is none): its forms, tenant and guards are the rollback's."""
    original_file = journal.parent / "plan.json"
    try:
        return Plan.load(original_file) if original_file.is_file() else None
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{original_file}: not a readable plan ({type(exc).__name__}): the journal's plan is "
                          "needed to roll it back under the same guards") from None


def _applied_lines(lines: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """op_id -> the last `applied` line of each operation, in journal order."""
    latest: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.get("status") == "applied":
            latest[str(line["op_id"])] = line
    return latest


def _undo_operations(applied: Sequence[dict[str, Any]], uncertain: dict[str, dict[str, Any]],
                     boolean_strings: bool) -> list[Operation]:
    """The inverse of every applied line, newest first, grouped by account (the newest account first)."""
    by_account: dict[str, list[dict[str, Any]]] = {}
    for line in reversed(applied):
        by_account.setdefault(str(line["scim_id"]), []).append(line)
    return [_undo_operation(scim_id, line, str(line["op_id"]) in uncertain, boolean_strings)
            for scim_id, account_lines in by_account.items() for line in account_lines]


def _provisions_not_undone(lines: Sequence[dict[str, Any]], applied: dict[str, dict[str, Any]]) -> list[str]:
    """Notes on provision requests a rollback leaves alone: accounts that were updated, not created, and requests
    whose outcome was never journaled (their account's id is unknown)."""
    updated = [line for line in applied.values() if line.get("op") == PROVISION_OP and line.get("action") != "create"]
    open_ = [line for line in open_intents(lines).values()
             if line.get("op") == PROVISION_OP and str(line["op_id"]) not in applied]
    notes = [f"{len(updated)} provisioned user(s) already had an account, which Entra updated: not deactivated"
             ] if updated else []
    if open_:
        notes.append(f"{len(open_)} provisionOnDemand request(s) were in flight when that run stopped: run "
                     "`rcaudit provision` with the same plan again (Entra matches the account it finds) to journal "
                     "their accounts, then roll back")
    return notes


def _deactivation_of(line: dict[str, Any], boolean_strings: bool) -> Operation:
    """A provision undone: the account it created (`after`) deactivated."""
    scim_id = str(line.get("after") or line.get("scim_id"))
    value = wire_value(ACTIVE, False, boolean_strings)
    return Operation(
        op_id=op_id_of(scim_id, ACTIVE, "replace", value), scim_id=scim_id, entra_id=str(line.get("entra_id", "")),
        user_name=str(line.get("user_name", "")), kind="rollback", severity=str(line.get("severity", "")),
        attribute=ACTIVE, op="replace", path=ACTIVE, value=value, audited=True, expected=False,
        inverse=inverse_of(ACTIVE, "replace", True, boolean_strings), deactivation=True,
        note=f"undoes provision {line['op_id']} ({line.get('fix_id')}): deactivates the account it created",
        reverts=str(line["op_id"]), target_user_name=str(line.get("target_user_name") or ""))


def _undo_operation(scim_id: str, line: dict[str, Any], in_flight: bool, boolean_strings: bool) -> Operation:
    """One applied line undone: its attribute back to `before` (`remove` when it held nothing)."""
    if line.get("op") == PROVISION_OP:
        return _deactivation_of(line, boolean_strings)
    attribute = str(line.get("attribute") or line["path"])
    now_holds, back_to = line.get("after"), line.get("before")
    if is_empty(back_to):
        op, value = "remove", None
    else:
        op = "add" if is_empty(now_holds) else "replace"
        value = wire_value(attribute, back_to, boolean_strings)
    note = f"undoes {line['op_id']} ({line.get('fix_id')})"
    if in_flight:
        note += "; that request was in flight when its apply stopped: the re-read decides if it went through"
    return Operation(
        op_id=op_id_of(scim_id, attribute, op, value), scim_id=scim_id, entra_id=str(line.get("entra_id", "")),
        user_name=str(line.get("user_name", "")), kind=str(line.get("kind", "")) or "rollback",
        severity=str(line.get("severity", "")), attribute=attribute, op=op, path=attribute, value=value,
        audited=now_holds, expected=back_to, inverse=inverse_of(attribute, op, now_holds, boolean_strings),
        deactivation=attribute == ACTIVE and not scim_true(back_to) and not is_empty(back_to),
        note=note, reverts=str(line["op_id"]), in_flight=in_flight,
        target_user_name=str(line.get("target_user_name") or ""))


def _rollback_plan(journal: Path, run_folder: Path, lines: list[dict[str, Any]], applied: Sequence[dict[str, Any]],
                   operations: list[Operation], original: Plan | None, settings: dict[str, Any], wire: str,
                   notes: list[str], now: dt.datetime | None) -> Plan:
    """The rollback `Plan` record: provenance and guards from the plan it undoes, audited when it was applied."""
    stamp = plan_stamp(now or dt.datetime.now(dt.UTC))
    times = [str(line.get("time")) for line in applied if line.get("time")]
    identity = _journal_identity(lines, original)
    return Plan(
        plan_id=plan_id_for("rollback", str(journal), operations, settings), kind="rollback",
        created_at=stamp, run_folder=str(run_folder), run_id=run_folder.name,
        tenant_id=original.tenant_id if original else "", source=original.source if original else "",
        audited_at=min(times) if times else stamp,
        target_active_accounts=original.target_active_accounts if original else None, operations=operations,
        settings=settings, rolls_back=str(journal), scim_url=identity[0], rc_owner_id=identity[1], wire=wire,
        notes=[f"rolls back {len(operations)} applied operation(s) of {journal}", *notes]
        + ([] if original else ["the journal has no plan.json beside it: tenant and active-account counts unknown"]))


def _journal_forms(lines: Sequence[dict[str, Any]]) -> tuple[str, bool]:
    """The wire and booleans of a journal without its plan.json: its lines' `wire` (lines written before the marker
    came from legacy plans), and whether `active` was sent as a string."""
    wire = next((str(line["wire"]) for line in lines if line.get("wire") in WIRES), WIRE_LEGACY)
    sent = [line.get("value") for line in lines if line.get("attribute") == ACTIVE and line.get("status") == "applied"]
    if any(isinstance(value, bool) for value in sent):
        return wire, False
    if any(isinstance(value, str) for value in sent):
        return wire, True
    return wire, sends_boolean_strings(wire, {})


def _unsettled_intents(journal: Path, lines: list[dict[str, Any]], run_folder: Path,
                       applied: dict[str, dict[str, Any]], notes: list[str]) -> dict[str, dict[str, Any]]:
    """The journal's intents without an outcome that no later run settled (a rerun that decided one as applied
    keeps it: it is this journal's write; one that re-sent it or found it stale drops it: that run's own journal
    holds what it did)."""
    intents = {k: v for k, v in open_intents(lines).items() if k not in applied}
    if not intents:
        return {}
    plan_id = str(next(iter(intents.values())).get("plan_id"))
    fix_id = str(next(iter(intents.values())).get("fix_id"))
    files, more = run_journals(run_folder, plan_id)
    notes.extend(n for n in more if str(journal) not in n)
    for line in journal_timeline([f for f in files if f.path.resolve() != journal]):
        op_id = str(line.get("op_id"))
        if op_id not in intents or line.get("status") not in OUTCOMES or line.get("plan_id") != plan_id:
            continue
        if str(line.get("time", "")) < str(intents[op_id].get("time", "")):
            continue
        if line.get("status") == "applied" and line.get("decides") == fix_id:
            intents[op_id] = {**intents[op_id], "decided_by": line.get("fix_id")}
        else:
            intents.pop(op_id)
    return intents


def _journal_identity(lines: list[dict[str, Any]], original: Plan | None) -> tuple[str, str]:
    """The RingCentral a journal wrote to: its plan's audited identity, else what its lines recorded."""
    if original is not None and original.scim_url:
        return original.scim_url, original.rc_owner_id
    for line in lines:
        if line.get("scim_url"):
            return str(line["scim_url"]), str(line.get("rc_owner_id") or "")
    return "", ""
