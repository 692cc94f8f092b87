"""Fix-up plan records (`Plan`, `Operation`, `NotFixable`, `Filters`) and building a plan from an
audited run: one PatchOp request per account, one operation per fixable finding, each with its inverse.
Pure: no network. Values come from the run's snapshot, re-audited with the run's options, never from a
(possibly masked) `findings.csv`; the wire forms are `rcaudit.fix.ops`'s.
"""


from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from rcaudit.audit.normalize import E164, is_empty, normaliser_for, phone, phone_region, scim_true
from rcaudit.fix.audited_run import AUDIT_NOTEBOOK_DEFAULTS, RunAudit, load_run
from rcaudit.fix.ops import (
    ACTIVE,
    WIRE_ENTRA,
    WIRE_LEGACY,
    WIRES,
    inverse_of,
    op_id_of,
    patch_operations,
    sends_boolean_strings,
    shown,
    wire_settings,
    wire_value,
)
from rcaudit.model.errors import ConfigError
from rcaudit.model.findings import KINDS, SEVERITIES, SEVERITY_RANK, FindingRow, finding_rows
from rcaudit.model.scim_path import parse_target, target_reader
from rcaudit.model.vocabulary import PATCH_OP, Cause

PLAN_VERSION = 2  # 2: `wire` says which forms the plan writes; 1: before it (legacy forms)
PLAN_VERSIONS = (1, 2)


LIFECYCLE_KINDS = ("should_be_inactive", "should_be_active", "orphan_in_target")
FIXABLE_KINDS = (*LIFECYCLE_KINDS, "attribute_mismatch")


ACTIONS = {
    "missing_in_target": "`rcaudit provision --run {run} --users {user}` (a dry run; add --apply to send) or "
                         "Entra's Provision on demand (Enterprise applications → RingCentral → Provisioning), or "
                         "let the next provisioning cycle (about 40 minutes) create it",
    "ambiguous_match": "a person decides which RingCentral account is the real one; deactivate or correct the "
                       "others in RingCentral, then audit again",
    "orphan_in_target": "check it is not a service or shared account (else waive it), then plan again with "
                        "--include-orphans to deactivate it",
}


# --- plan records -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """DESIGN.md's `rcaudit fix` filters. Empty means everything."""

    kinds: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    severity: str = ""
    users: tuple[str, ...] = ()
    include_orphans: bool = False

    @classmethod
    def parse(cls, kinds: str | Iterable[str] = "", attributes: str | Iterable[str] = "", severity: str = "",
              users: str | Iterable[str] = "", include_orphans: bool = False) -> Filters:
        """From comma-separated text (the CLI, the notebook) or lists; unknown kinds or severities are refused."""
        def items(value: str | Iterable[str]) -> tuple[str, ...]:
            parts = value.split(",") if isinstance(value, str) else list(value)
            return tuple(dict.fromkeys(p.strip() for p in parts if p and p.strip()))

        filters = cls(items(kinds), items(attributes), (severity or "").strip().lower(), items(users),
                      bool(include_orphans))
        unknown = [k for k in filters.kinds if k not in KINDS]
        if unknown:
            raise ConfigError(f"--kinds {','.join(unknown)}: unknown; expected some of {', '.join(KINDS)}")
        if filters.severity and filters.severity not in SEVERITIES:
            raise ConfigError(f"--severity {filters.severity}: expected one of {', '.join(SEVERITIES)}")
        for attribute in filters.attributes:
            if attribute != ACTIVE:
                parse_target(attribute)  # a MappingError names what cannot be read
        return filters

    def keeps(self, row: FindingRow) -> bool:
        """Whether a findings row passes. `--attributes` counts lifecycle rows as attribute `active`."""
        if self.kinds and row["kind"] not in self.kinds:
            return False
        if self.severity and SEVERITY_RANK.get(row["severity"], 99) > SEVERITY_RANK[self.severity]:
            return False
        if self.attributes and (row["attribute"] or ACTIVE) not in self.attributes:
            return False
        if self.users:
            wanted = {u.casefold() for u in self.users}
            ids = {*str(row["entra_id"]).split(";"), row["scim_id"], row["user_name"]}
            if not {i.casefold() for i in ids if i} & wanted:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": list(self.kinds), "attributes": list(self.attributes), "severity": self.severity,
                "users": list(self.users), "include_orphans": self.include_orphans}


@dataclass(frozen=True)
class Operation:
    """One planned change of one attribute of one account, and how to undo it.

    `op`/`path`/`value` are the planned PatchOp operation (what `op_id` hashes); `attribute` is DESIGN.md's
    path, `audited` what the audit saw there, `expected` what it will hold after.
    """

    op_id: str
    scim_id: str
    entra_id: str
    user_name: str
    kind: str
    severity: str
    attribute: str
    op: str
    path: str
    value: Any
    audited: Any
    expected: Any
    inverse: dict[str, Any]
    deactivation: bool = False
    note: str = ""
    reverts: str = ""  # rollback plans: the op_id this operation undoes
    in_flight: bool = False  # rollback plans: it undoes a request whose outcome was never journaled (a crash)
    target_user_name: str = ""  # the account's userName as audited: a re-read showing another is not written

    @property
    def operation(self) -> dict[str, Any]:
        """The PatchOp operation as planned."""
        return {"op": self.op, "path": self.path} if self.op == "remove" else \
            {"op": self.op, "path": self.path, "value": self.value}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Operation:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class NotFixable:
    """A finding no PATCH fixes, and what a person should do instead."""

    kind: str
    severity: str
    entra_id: str
    scim_id: str
    user_name: str
    attribute: str
    reason: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """Operations grouped into one PatchOp request per account, the findings no PATCH fixes, and provenance."""

    plan_id: str
    kind: str  # "fix" or "rollback"
    created_at: str
    run_folder: str
    run_id: str
    tenant_id: str
    source: str
    audited_at: str  # when the values were read (the snapshot, or the journal being rolled back)
    target_active_accounts: int | None
    operations: list[Operation]
    not_fixable: list[NotFixable] = field(default_factory=list)
    filters: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    audit_options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    excluded: int = 0  # findings the filters left out
    rolls_back: str = ""  # rollback plans: the journal they undo
    scim_url: str = ""  # the audited RingCentral: its normalised SCIM base URL (empty: not recorded)
    rc_owner_id: str = ""  # and, under the JWT grant, the token's owner_id
    wire: str = WIRE_ENTRA  # the forms it writes: `entra`, or `legacy` for a plan.json written before them

    # --- views ---------------------------------------------------------------------------------------
    @property
    def booleans_as_strings(self) -> bool:
        """Whether `active` goes as the strings "True"/"False": Entra's form, the default of current plans (unless
        `json_booleans`); a legacy plan meant JSON booleans unless it was made with `boolean_strings`."""
        return sends_boolean_strings(self.wire, self.settings)

    @property
    def deactivations(self) -> int:
        return sum(1 for o in self.operations if o.deactivation)

    @property
    def accounts(self) -> list[str]:
        return list(dict.fromkeys(o.scim_id for o in self.operations))

    def by_account(self) -> dict[str, list[Operation]]:
        grouped: dict[str, list[Operation]] = {}
        for operation in self.operations:
            grouped.setdefault(operation.scim_id, []).append(operation)
        return grouped

    def requests(self) -> list[dict[str, Any]]:
        """One PatchOp request per account, as planned (`PATCH /Users/{id}` and its body)."""
        return [{"scim_id": scim_id, "user_name": ops[0].user_name, "method": "PATCH", "path": f"/Users/{scim_id}",
                 "body": {"schemas": [PATCH_OP], "Operations": [o.operation for o in ops]}}
                for scim_id, ops in self.by_account().items()]

    def review(self) -> pd.DataFrame:
        """The readable review table: user, attribute, from → to, one row per operation."""
        rows = [{"user": o.user_name, "attribute": o.attribute, "change": f"{shown(o.audited)} → {shown(o.expected)}",
                 "op": o.op, "kind": o.kind, "severity": o.severity, "scim_id": o.scim_id, "op_id": o.op_id}
                for o in self.operations]
        return pd.DataFrame(rows, columns=["user", "attribute", "change", "op", "kind", "severity", "scim_id",
                                           "op_id"])

    def before_after(self) -> pd.DataFrame:
        """Per account, each touched attribute before → after (indexed by user and attribute)."""
        rows = [{"user": o.user_name, "scim_id": o.scim_id, "attribute": o.attribute, "before": shown(o.audited),
                 "after": shown(o.expected)} for o in self.operations]
        frame = pd.DataFrame(rows, columns=["user", "scim_id", "attribute", "before", "after"])
        return frame.set_index(["user", "scim_id", "attribute"])

    def not_fixable_table(self) -> pd.DataFrame:
        columns = ["kind", "severity", "user_name", "attribute", "entra_id", "scim_id", "reason", "action"]
        return pd.DataFrame([n.to_dict() for n in self.not_fixable], columns=columns)

    def headline(self) -> str:
        """The first line of `render`: what the plan would do."""
        return (f"plan {self.plan_id} ({self.kind} of run {self.run_id}): {len(self.operations)} operation(s) on "
                f"{len(self.accounts)} account(s), {self.deactivations} deactivation(s); "
                f"{len(self.not_fixable)} finding(s) not fixable by PATCH; {self.excluded} left out by the filters")

    def render(self) -> str:
        """A few lines for a terminal: the headline, then the plan's notes."""
        return "\n".join([self.headline(), *(f"note: {n}" for n in self.notes)])

    # --- files ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = {"schema_version": PLAN_VERSION, **{k: v for k, v in asdict(self).items()
                                                   if k not in ("operations", "not_fixable")}}
        data["requests"] = self.requests()
        data["operations"] = [o.to_dict() for o in self.operations]
        data["not_fixable"] = [n.to_dict() for n in self.not_fixable]
        return data

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False, default=str) + "\n",
                           encoding="utf-8")
        partial.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a readable plan ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: not a plan (a JSON object)")
        version = data.get("schema_version")
        if version not in PLAN_VERSIONS:
            raise ConfigError(f"{path}: plan schema_version {version!r} is not one of "
                              f"{', '.join(map(str, PLAN_VERSIONS))} (a plan of a newer rcaudit?)")
        names = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in names}
        # a plan written before the Entra forms carries no marker: it meant what it said then (legacy forms)
        values["wire"] = WIRE_LEGACY if version == 1 else data.get("wire", WIRE_ENTRA)
        if values["wire"] not in WIRES:
            raise ConfigError(f"{path}: plan wire {values['wire']!r} is not one of {', '.join(WIRES)}")
        values["operations"] = [Operation.from_dict(o) for o in data.get("operations", [])]
        values["not_fixable"] = [NotFixable(**n) for n in data.get("not_fixable", [])]
        return cls(**values)


# --- building a plan -------------------------------------------------------------------------------------
def _region(user: dict[str, Any] | None) -> str | None:
    return phone_region(user.get("usageLocation"), user.get("country")) if user else None


def plan_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def plan_id_for(kind: str, anchor: str, operations: Sequence[Operation], settings: dict[str, Any]) -> str:
    text = json.dumps([kind, anchor, [o.op_id for o in operations], settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class _Change(NamedTuple):
    """One planned change before it is shaped into PatchOp: the finding, the attribute, the audited value
    and the one to write (with a note when it is written in another form than Entra's)."""

    row: FindingRow
    attribute: str
    audited: Any
    expected: Any
    note: str


# Entra holds these disables on purpose (accidental deletions prevention, audit/causes.py): an admin decides
HELD_BY_THRESHOLD = ("held by Entra's accidental deletions prevention: review the StagedDelete events in the "
                     "provisioning logs, then Allow deletes (or assign the user again) in Entra; rcaudit does not "
                     "bypass that safeguard")


def _not_fixable(row: FindingRow, action: str) -> NotFixable:
    return NotFixable(row["kind"], row["severity"], row["entra_id"], row["scim_id"], row["user_name"],
                      row["attribute"], row["reason"], action)


def _attribute_change(row: FindingRow, account: dict[str, Any], user: dict[str, Any] | None,
                      expected_rows: pd.DataFrame) -> _Change | str:
    """An attribute mismatch as a change, or (a string) why no PATCH fixes it: a phone goes in E.164 (what
    RingCentral holds), read in the user's region; a value no single PatchOp writes is left to the portal."""
    attribute = row["attribute"]
    audited = target_reader(attribute)(account)
    expected = _expected_value(expected_rows, row, attribute)
    note = ""
    if normaliser_for(attribute).name == "phone_e164" and not is_empty(expected):
        number = phone(expected, _region(user))
        if number is None or not E164.fullmatch(number):
            return (f"Entra's number {expected!r} cannot be read as E.164: correct mobilePhone (or usageLocation) "
                    "in Entra, then audit again")
        note = f"written in E.164 ({expected!r} in Entra)" if number != expected else ""
        expected = number
    elif normaliser_for(attribute).name == "country_alpha2" and not is_empty(expected):
        note = "written as Entra holds it; RingCentral answers with the country's name"
    if isinstance(audited, list | tuple) or isinstance(expected, list | tuple | dict):
        return "a multi-valued or complex value: correct it in RingCentral's admin portal"
    return _Change(row, attribute, audited, expected, note)


def _decide(row: FindingRow, filters: Filters, account: dict[str, Any] | None, user: dict[str, Any] | None,
            expected_rows: pd.DataFrame) -> _Change | str:
    """What to do about one finding the filters keep: the change to plan, or (a string) what a person should
    do instead. Waived, missing and ambiguous findings, and orphans unless asked for, are never written."""
    kind = row["kind"]
    if row["waived"]:
        return "waived: nothing to do while the waiver holds (see reason)"
    if kind == "missing_in_target":  # rcaudit provision plans exactly these (fix/provision.build_provision_plan)
        return ACTIONS[kind].format(run="DIR", user=row["entra_id"])
    if kind == "ambiguous_match":
        return ACTIONS[kind]
    if kind == "orphan_in_target" and not filters.include_orphans:
        return ACTIONS[kind]
    if account is None:
        return "the account is not in the snapshot: audit again"
    if kind == "should_be_inactive" and row.get("cause") == Cause.DELETION_THRESHOLD:
        return HELD_BY_THRESHOLD
    if kind in LIFECYCLE_KINDS:
        return _Change(row, ACTIVE, account.get(ACTIVE), kind == "should_be_active", "")
    return _attribute_change(row, account, user, expected_rows)


def _sort_findings(run: RunAudit, filters: Filters, accounts: dict[str, dict[str, Any]]
                   ) -> tuple[dict[str, list[_Change]], list[NotFixable], int]:
    """Each finding of the re-audit: left out by the filters (counted), not fixable (said why), or a change,
    grouped by account so each account gets one request."""
    snapshot = run.snapshot
    users = {str(u.get("id")): u for u in [*snapshot.users, *snapshot.deleted_users]}
    expected_rows = run.result.expected.drop_duplicates("entra_id").set_index("entra_id")
    changes: dict[str, list[_Change]] = {}
    not_fixable: list[NotFixable] = []
    excluded = 0
    for row in finding_rows(run.result.findings):
        if not filters.keeps(row):
            excluded += 1
            continue
        decided = _decide(row, filters, accounts.get(row["scim_id"]), users.get(row["entra_id"]), expected_rows)
        if isinstance(decided, str):
            not_fixable.append(_not_fixable(row, decided))
        else:
            changes.setdefault(row["scim_id"], []).append(decided)
    return changes, not_fixable, excluded


def _operations(changes: dict[str, list[_Change]], accounts: dict[str, dict[str, Any]], wire: str,
                strings: bool) -> list[Operation]:
    """Each account's changes shaped together into PatchOp operations (from its audited values, in the
    plan's forms), each with its id and its inverse."""
    operations: list[Operation] = []
    for scim_id, planned in changes.items():
        account = accounts[scim_id]
        shaped = patch_operations([(c.attribute, wire_value(c.attribute, c.expected, strings)) for c in planned],
                                  account, wire)
        for (row, attribute, audited, expected, note), operation in zip(planned, shaped, strict=True):
            value = operation.get("value")
            operations.append(Operation(
                op_id=op_id_of(scim_id, operation["path"], operation["op"], value), scim_id=scim_id,
                entra_id=row["entra_id"], user_name=row["user_name"], kind=row["kind"], severity=row["severity"],
                attribute=attribute, op=operation["op"], path=operation["path"], value=value, audited=audited,
                expected=expected, inverse=inverse_of(attribute, operation["op"], audited, strings),
                deactivation=attribute == ACTIVE and expected is False, note=note,
                target_user_name=str(account.get("userName") or "")))
    return operations


def _plan_notes(run_notes: Sequence[str], operations: Sequence[Operation], strings: bool) -> list[str]:
    """The run's notes, and what a reviewer should know about the forms written (they differ from Entra's)."""
    notes = list(run_notes)
    if any(o.note.startswith("written in E.164") for o in operations):
        notes.append("phone numbers are written in E.164 (what RingCentral holds), not as typed in Entra")
    if any(o.note.startswith("written as Entra") for o in operations):
        notes.append("countries are written as Entra holds them; RingCentral stores and answers the country's name")
    if any(o.attribute == ACTIVE for o in operations):
        notes.append("active is sent as Entra sends it, the strings \"True\"/\"False\"" if strings else
                     "active is sent as JSON booleans (--json-booleans), not as Entra's strings \"True\"/\"False\"")
    return notes


def build_plan(run: RunAudit, filters: Filters | None = None, *, json_booleans: bool = False,
               boolean_strings: bool = False, now: dt.datetime | None = None) -> Plan:
    """The fix-up plan for a re-audited run (see the module docstring for what is planned and how).

    `active` goes as Entra's strings "True"/"False" unless `json_booleans`; `boolean_strings` (the old switch
    for those strings, now the default) is accepted and changes nothing."""
    del boolean_strings  # kept so existing callers keep working: the strings are the default now
    filters = filters or Filters()
    snapshot = run.snapshot
    accounts = {str(a.get("id")): a for a in snapshot.scim_users}
    wire = WIRE_ENTRA
    settings = wire_settings(wire, strings=not json_booleans)
    strings = sends_boolean_strings(wire, settings)
    changes, not_fixable, excluded = _sort_findings(run, filters, accounts)
    operations = _operations(changes, accounts, wire, strings)
    folder = run.folder
    return Plan(
        plan_id=plan_id_for("fix", folder.name, operations, settings), kind="fix",
        created_at=plan_stamp(now or dt.datetime.now(dt.UTC)), run_folder=str(folder), run_id=folder.name,
        tenant_id=snapshot.tenant_id, source=snapshot.source,
        audited_at=plan_stamp(min(snapshot.graph_fetched_at, snapshot.scim_fetched_at)),
        target_active_accounts=sum(1 for a in snapshot.scim_users if scim_true(a.get(ACTIVE))),
        operations=operations, not_fixable=not_fixable, filters=filters.to_dict(), settings=settings,
        audit_options={k: run.option_values.get(k) for k in AUDIT_NOTEBOOK_DEFAULTS},
        notes=_plan_notes(run.notes, operations, strings), excluded=excluded,
        scim_url=str(snapshot.rc_identity.get("scim_url") or ""),
        rc_owner_id=str(snapshot.rc_identity.get("owner_id") or ""), wire=wire)


def _expected_value(expected_rows: pd.DataFrame, row: FindingRow, attribute: str) -> Any:
    """Entra's expected raw value, typed (the audit's expected frame), else the findings row's raw string."""
    try:
        value = expected_rows.at[row["entra_id"], attribute]
    except KeyError:
        return row["expected"] or None
    if isinstance(value, float) and value != value:
        return None
    return value


def plan_for_run(folder: str | Path, filters: Filters | None = None, *, json_booleans: bool = False,
                 boolean_strings: bool = False, now: dt.datetime | None = None) -> Plan:
    """`load_run` + `build_plan`: the plan for an audit run folder."""
    return build_plan(load_run(folder), filters, json_booleans=json_booleans, boolean_strings=boolean_strings,
                      now=now)
