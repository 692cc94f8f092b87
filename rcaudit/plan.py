"""Fix-up plans: from an audit run folder to SCIM PatchOps, each with its inverse. Pure: no network.

Values come from the run's `snapshot/` (the raw records both services returned), re-audited with the
run's options, never from `findings.csv` (which may be masked). Entra is the source of truth: every
operation is a PATCH of a RingCentral account, one PatchOp request per account, one operation per
fixable finding, on DESIGN.md's attribute path, in the forms Entra's provisioning service itself sends
RingCentral (DESIGN.md "Writes to RingCentral"; RingCentral's PatchOp `value` is typed as a string):

- `replace` where RingCentral holds a value, `add` where it holds none, `remove` where Entra's value is
  empty (cleared in Entra: Entra itself never sends nulls). A typed value is always written on its own
  filtered path with a string value, never as a whole item or array: a missing mobile number is
  `{"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+4670…"}`, a cleared one
  `{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"].value"}`; addresses and e-mails alike;
- `replace active "False"` for `should_be_inactive` (and for orphans, only when asked), `replace active
  "True"` for `should_be_active`: Entra's strings (its connector disables with `"value": "False"`:
  MicrosoftDocs/entra-docs, docs/identity/app-provisioning/
  application-provisioning-config-problem-scim-compatibility.md); `json_booleans` sends JSON booleans;
- the value written is Entra's expected raw value, except phone numbers, written in E.164 (what
  RingCentral holds); countries are written as Entra holds them (RingCentral answers with a name).

Plans record these forms as `wire: "entra"` (plan schema_version 2). A plan.json written before them
(schema_version 1, no `wire`) meant JSON booleans (unless its `boolean_strings`) and whole typed items
(`add` of `phoneNumbers` with `[{"type": "mobile", …}]`, `remove` of `phoneNumbers[type eq "mobile"]`):
such a plan is `wire: "legacy"` and is applied, and rolled back, as written.

Every operation carries its inverse, built from the audited raw value (`remove` ↔ `add`), so any plan
can be undone; a rollback plan is built from a journal the same way, in the forms of the plan it undoes.
Whether a change is an `add` or a `replace` (and, for legacy plans, whether a whole item is added or
removed) depends on the account as it stands: `patch_operations` decides it from a resource, for the
plan from the snapshot and at write time from the account re-read just before the PATCH.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError, SnapshotMissing
from .findings import KINDS, SEVERITIES, SEVERITY_RANK, finding_key, read_findings
from .mapping import CORE_USER, AttributeMapping, effective_mapping, parse_target, target_reader
from .normalize import is_empty, normaliser_for, phone, phone_region, raw, scim_true
from .reconcile import AuditOptions, AuditResult, flag_parameter, reconcile
from .snapshot import Snapshot
from .vocabulary import PATCH_OP

PLAN_VERSION = 2  # 2: `wire` says which forms the plan writes; 1: before it (legacy forms)
PLAN_VERSIONS = (1, 2)
WIRE_ENTRA = "entra"  # the forms Entra's provisioning service sends RingCentral (DESIGN.md "Writes to RingCentral")
WIRE_LEGACY = "legacy"  # plans written before: JSON booleans unless `boolean_strings`, whole typed items
WIRES = (WIRE_ENTRA, WIRE_LEGACY)
ACTIVE = "active"
LIFECYCLE_KINDS = ("should_be_inactive", "should_be_active", "orphan_in_target")
FIXABLE_KINDS = (*LIFECYCLE_KINDS, "attribute_mismatch")
IDLE_KEYS = frozenset({"type", "primary", "display"})  # what is left in an item that holds nothing any more
EMPTY = "(empty)"
_E164 = re.compile(r"\+[1-9]\d{1,14}")
AUDIT_NOTEBOOK_DEFAULTS: dict[str, Any] = {"scope_mode": "", "skip_out_of_scope_deletions": "", "grace_minutes": 40,
                                           "waiver_file": "", "mapping_file": ""}
ACTIONS = {
    "missing_in_target": "provision on demand in Entra (Enterprise applications → RingCentral → Provisioning → "
                         "Provision on demand), or let the next provisioning cycle (about 40 minutes) create it",
    "ambiguous_match": "a person decides which RingCentral account is the real one; deactivate or correct the "
                       "others in RingCentral, then audit again",
    "orphan_in_target": "check it is not a service or shared account (else waive it), then plan again with "
                        "--include-orphans to deactivate it",
}


# --- values -----------------------------------------------------------------------------------------
def same_value(attribute: str, left: Any, right: Any) -> bool:
    """Whether two values are the same in the audit's sense (the attribute's normaliser, no region)."""
    if is_empty(left) or is_empty(right):
        return is_empty(left) and is_empty(right)
    rule = normaliser_for(attribute)
    return rule(left) == rule(right)


def shown(value: Any) -> str:
    """A value as the review table shows it."""
    return EMPTY if is_empty(value) else raw(value)


def op_id_of(scim_id: str, path: str, op: str, value: Any) -> str:
    """DESIGN.md: a hash of (scim_id, path, op, value)."""
    text = json.dumps([scim_id, path, op, value], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def wire_value(attribute: str, value: Any, boolean_strings: bool) -> Any:
    """The value as sent: a reference attribute (the enterprise manager) is an object; booleans per setting."""
    target = parse_target(attribute)
    if is_empty(value):
        return None
    if target.attribute.lower() == "manager" and target.sub_attribute is None and not isinstance(value, dict):
        return {"value": value}
    if isinstance(value, bool) and boolean_strings:
        return "True" if value else "False"
    return value


def sends_boolean_strings(wire: str, settings: dict[str, Any]) -> bool:
    """`active` as "True"/"False" (Entra's form) unless `json_booleans`; legacy plans only with `boolean_strings`."""
    if wire == WIRE_LEGACY:
        return bool(settings.get("boolean_strings", False))
    return not settings.get("json_booleans", False)


def wire_settings(wire: str, strings: bool) -> dict[str, Any]:
    """A plan's `settings` for its booleans, as each form records them (`json_booleans`; legacy `boolean_strings`)."""
    return {"boolean_strings": strings} if wire == WIRE_LEGACY else {"json_booleans": not strings}


# --- the wire form of one change, given the account as it stands ------------------------------------------
def _prefix(schema: str) -> str:
    return "" if schema.lower() == CORE_USER.lower() else f"{schema}:"


def _container(doc: dict[str, Any], schema: str, create: bool) -> dict[str, Any] | None:
    if schema.lower() == CORE_USER.lower():
        return doc
    holder = next((v for k, v in doc.items() if k.lower() == schema.lower()), None)
    if not isinstance(holder, dict) and create:
        holder = {}
        doc[schema] = holder
    return holder if isinstance(holder, dict) else None


def _get(item: dict[str, Any], name: str) -> Any:
    return next((v for k, v in item.items() if k.lower() == name.lower()), None)


def _pop(item: dict[str, Any], name: str) -> None:
    for key in [k for k in item if k.lower() == name.lower()]:
        del item[key]


def patch_operations(changes: Sequence[tuple[str, Any]], resource: dict[str, Any],
                     wire: str = WIRE_ENTRA) -> list[dict[str, Any]]:
    """The PatchOp operations that make `resource` hold each (attribute path, value), in order.

    `add` where the attribute holds nothing, `replace` where it holds something, `remove` for an empty
    value, each on the attribute's own path: a typed value (`phoneNumbers[type eq "mobile"].value`) is
    added, replaced or removed on that filtered path with a string, never as a whole item (the form
    Entra sends and RingCentral accepts). `wire="legacy"` (plans written before) adds a missing typed
    item whole and removes an item whose last value goes. Later changes see the effect of earlier ones
    (operations apply in order).
    """
    return shape_operations(changes, resource, wire)[0]


def shape_operations(changes: Sequence[tuple[str, Any]], resource: dict[str, Any], wire: str = WIRE_ENTRA,
                     ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`patch_operations`, and the resource as it would stand after them."""
    if wire not in WIRES:
        raise ConfigError(f"plan wire {wire!r}: expected one of {', '.join(WIRES)}")
    doc = copy.deepcopy(resource)
    out: list[dict[str, Any]] = []
    for attribute, value in changes:
        t = parse_target(attribute)
        prefix = _prefix(t.schema)
        if t.filter_attribute and t.sub_attribute:
            typed = _whole_item_op if wire == WIRE_LEGACY else _filtered_value_op
            out.append(typed(doc, t, prefix, value))
            continue
        current = target_reader(attribute)(doc)
        container = _container(doc, t.schema, create=not is_empty(value))
        if is_empty(value):
            out.append({"op": "remove", "path": attribute})
            if container is not None and t.filter_attribute is None:
                if t.sub_attribute is None:
                    _pop(container, t.attribute)
                elif isinstance(_get(container, t.attribute), dict):
                    _pop(_get(container, t.attribute), t.sub_attribute)
            continue
        out.append({"op": "add" if is_empty(current) else "replace", "path": attribute, "value": value})
        if container is not None and t.filter_attribute is None:
            if t.sub_attribute is None:
                _pop(container, t.attribute)
                container[t.attribute] = value
            else:
                holder = _get(container, t.attribute)
                if not isinstance(holder, dict):
                    holder = {}
                    _pop(container, t.attribute)
                    container[t.attribute] = holder
                _pop(holder, t.sub_attribute)
                holder[t.sub_attribute] = value
    return out, doc


def _typed_item(doc: dict[str, Any], t: Any, create: bool) -> tuple[list[Any], dict[str, Any] | None]:
    """The list holding `t`'s typed items (attached to `doc` when `create`) and the item of `t`'s type, if any."""
    name, selector, wanted = t.attribute, t.filter_attribute, str(t.filter_value or "")
    container = _container(doc, t.schema, create=create)
    held = _get(container, name) if container is not None else None
    items = held if isinstance(held, list) else []
    if create and container is not None and not isinstance(held, list):
        _pop(container, name)
        container[name] = items
    item = next((i for i in items if isinstance(i, dict) and str(_get(i, selector)).lower() == wanted.lower()), None)
    return items, item


def _is_idle(item: dict[str, Any]) -> bool:
    """Whether an item holds nothing but its selector (`type`, `primary`): RingCentral drops such an item."""
    return not any(k.lower() not in IDLE_KEYS and not is_empty(v) for k, v in item.items())


def _filtered_value_op(doc: dict[str, Any], t: Any, prefix: str, value: Any) -> dict[str, Any]:
    """A typed value on its own filtered path, as Entra sends it: `add` (no item of that type, or an empty one:
    RingCentral creates it), `replace`, or `remove` of `…[type eq "mobile"].value` (never the whole item)."""
    # Entra's own update form: `Replace` of `emails[type eq "work"].value` with a string (MicrosoftDocs/entra-docs,
    # docs/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility.md). That RingCentral
    # creates the item on an `add` whose filter matches nothing is DESIGN.md's rule (scim2-server refuses it).
    sub = t.sub_attribute
    items, item = _typed_item(doc, t, create=not is_empty(value))
    if is_empty(value):
        if item is not None:
            _pop(item, sub)
            if _is_idle(item):
                items.remove(item)
        return {"op": "remove", "path": t.path}
    if item is None:
        item = {t.filter_attribute: str(t.filter_value or "")}
        items.append(item)
    held = _get(item, sub)
    _pop(item, sub)
    item[sub] = value
    return {"op": "add" if is_empty(held) else "replace", "path": t.path, "value": value}


def _whole_item_op(doc: dict[str, Any], t: Any, prefix: str, value: Any) -> dict[str, Any]:
    """Legacy plans (written before the Entra forms): a missing typed item is added whole, and removing the last
    value an item holds removes the item."""
    name, selector, wanted, sub = t.attribute, t.filter_attribute, str(t.filter_value or ""), t.sub_attribute
    items, item = _typed_item(doc, t, create=not is_empty(value))
    item_path = f'{prefix}{name}[{selector} eq "{wanted}"]'
    if is_empty(value):
        if item is None:
            return {"op": "remove", "path": t.path}
        rest = [k for k, v in item.items() if k.lower() not in IDLE_KEYS and k.lower() != sub.lower()
                and not is_empty(v)]
        if rest:
            _pop(item, sub)
            return {"op": "remove", "path": t.path}
        items.remove(item)
        return {"op": "remove", "path": item_path}
    if item is None:
        new = {selector: wanted, sub: value}
        items.append(new)
        return {"op": "add", "path": f"{prefix}{name}", "value": [dict(new)]}
    held = _get(item, sub)
    _pop(item, sub)
    item[sub] = value
    return {"op": "add" if is_empty(held) else "replace", "path": t.path, "value": value}


def inverse_of(attribute: str, forward_op: str, audited: Any, boolean_strings: bool = False) -> dict[str, Any]:
    """The operation that puts back the audited value (`remove` ↔ `add`)."""
    if is_empty(audited):
        return {"op": "remove", "path": attribute}
    value = wire_value(attribute, audited, boolean_strings)
    return {"op": "add" if forward_op == "remove" else "replace", "path": attribute, "value": value}


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

    def keeps(self, row: dict[str, Any]) -> bool:
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

    def render(self) -> str:
        """A few lines for a terminal."""
        lines = [f"plan {self.plan_id} ({self.kind} of run {self.run_id}): {len(self.operations)} operation(s) on "
                 f"{len(self.accounts)} account(s), {self.deactivations} deactivation(s); "
                 f"{len(self.not_fixable)} finding(s) not fixable by PATCH; {self.excluded} left out by the filters"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

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
    from .trends import list_runs

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


def run_parameters(folder: Path) -> tuple[dict[str, Any], str]:
    """The audit notebook's parameters for this run (its executed `audit.ipynb`), and where they came from."""
    notebook = folder / "audit.ipynb"
    values = dict(AUDIT_NOTEBOOK_DEFAULTS)
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


# --- building a plan -------------------------------------------------------------------------------------
def _region(user: dict[str, Any] | None) -> str | None:
    return phone_region(user.get("usageLocation"), user.get("country")) if user else None


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _plan_id(kind: str, anchor: str, operations: Sequence[Operation], settings: dict[str, Any]) -> str:
    text = json.dumps([kind, anchor, [o.op_id for o in operations], settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build_plan(run: RunAudit, filters: Filters | None = None, *, json_booleans: bool = False,
               boolean_strings: bool = False, now: dt.datetime | None = None) -> Plan:
    """The fix-up plan for a re-audited run (see the module docstring for what is planned and how).

    `active` goes as Entra's strings "True"/"False" unless `json_booleans`; `boolean_strings` (the old switch
    for those strings, now the default) is accepted and changes nothing."""
    del boolean_strings  # kept so existing callers keep working: the strings are the default now
    filters = filters or Filters()
    snapshot, result = run.snapshot, run.result
    accounts = {str(a.get("id")): a for a in snapshot.scim_users}
    users = {str(u.get("id")): u for u in [*snapshot.users, *snapshot.deleted_users]}
    expected_rows = result.expected.drop_duplicates("entra_id").set_index("entra_id")
    wire = WIRE_ENTRA
    settings = wire_settings(wire, strings=not json_booleans)
    strings = sends_boolean_strings(wire, settings)
    changes: dict[str, list[tuple[dict[str, Any], str, Any, Any, str]]] = {}
    not_fixable: list[NotFixable] = []
    excluded = 0
    for row in result.findings.to_dict("records"):
        if not filters.keeps(row):
            excluded += 1
            continue
        kind = row["kind"]

        def refuse(action: str, row: dict[str, Any] = row) -> None:
            not_fixable.append(NotFixable(row["kind"], row["severity"], row["entra_id"], row["scim_id"],
                                          row["user_name"], row["attribute"], row["reason"], action))

        if row["waived"]:
            refuse("waived: nothing to do while the waiver holds (see reason)")
            continue
        if kind in ("missing_in_target", "ambiguous_match"):
            refuse(ACTIONS[kind])
            continue
        if kind == "orphan_in_target" and not filters.include_orphans:
            refuse(ACTIONS[kind])
            continue
        account = accounts.get(row["scim_id"])
        if account is None:
            refuse("the account is not in the snapshot: audit again")
            continue
        if kind in LIFECYCLE_KINDS:
            target = kind == "should_be_active"
            changes.setdefault(row["scim_id"], []).append((row, ACTIVE, account.get(ACTIVE), target, ""))
            continue
        attribute = row["attribute"]
        audited = target_reader(attribute)(account)
        expected = _expected_value(expected_rows, row, attribute)
        note = ""
        if normaliser_for(attribute).name == "phone_e164" and not is_empty(expected):
            number = phone(expected, _region(users.get(row["entra_id"])))
            if number is None or not _E164.fullmatch(number):
                refuse(f"Entra's number {expected!r} cannot be read as E.164: correct mobilePhone (or usageLocation) "
                       "in Entra, then audit again")
                continue
            note = f"written in E.164 ({expected!r} in Entra)" if number != expected else ""
            expected = number
        elif normaliser_for(attribute).name == "country_alpha2" and not is_empty(expected):
            note = "written as Entra holds it; RingCentral answers with the country's name"
        if isinstance(audited, list | tuple) or isinstance(expected, list | tuple | dict):
            refuse("a multi-valued or complex value: correct it in RingCentral's admin portal")
            continue
        changes.setdefault(row["scim_id"], []).append((row, attribute, audited, expected, note))
    operations: list[Operation] = []
    for scim_id, planned in changes.items():
        account = accounts[scim_id]
        shaped = patch_operations([(a, wire_value(a, e, strings)) for _, a, _, e, _ in planned], account, wire)
        for (row, attribute, audited, expected, note), operation in zip(planned, shaped, strict=True):
            value = operation.get("value")
            operations.append(Operation(
                op_id=op_id_of(scim_id, operation["path"], operation["op"], value), scim_id=scim_id,
                entra_id=row["entra_id"], user_name=row["user_name"], kind=row["kind"], severity=row["severity"],
                attribute=attribute, op=operation["op"], path=operation["path"], value=value, audited=audited,
                expected=expected, inverse=inverse_of(attribute, operation["op"], audited, strings),
                deactivation=attribute == ACTIVE and expected is False, note=note,
                target_user_name=str(account.get("userName") or "")))
    notes = list(run.notes)
    if any(o.note.startswith("written in E.164") for o in operations):
        notes.append("phone numbers are written in E.164 (what RingCentral holds), not as typed in Entra")
    if any(o.note.startswith("written as Entra") for o in operations):
        notes.append("countries are written as Entra holds them; RingCentral stores and answers the country's name")
    if any(o.attribute == ACTIVE for o in operations):
        notes.append("active is sent as Entra sends it, the strings \"True\"/\"False\"" if strings else
                     "active is sent as JSON booleans (--json-booleans), not as Entra's strings \"True\"/\"False\"")
    folder = run.folder
    return Plan(
        plan_id=_plan_id("fix", folder.name, operations, settings), kind="fix",
        created_at=_stamp(now or dt.datetime.now(dt.UTC)), run_folder=str(folder), run_id=folder.name,
        tenant_id=snapshot.tenant_id, source=snapshot.source,
        audited_at=_stamp(min(snapshot.graph_fetched_at, snapshot.scim_fetched_at)),
        target_active_accounts=sum(1 for a in snapshot.scim_users if scim_true(a.get(ACTIVE))),
        operations=operations, not_fixable=not_fixable, filters=filters.to_dict(), settings=settings,
        audit_options={k: run.option_values.get(k) for k in AUDIT_NOTEBOOK_DEFAULTS}, notes=notes, excluded=excluded,
        scim_url=str(snapshot.rc_identity.get("scim_url") or ""),
        rc_owner_id=str(snapshot.rc_identity.get("owner_id") or ""), wire=wire)


def _expected_value(expected_rows: pd.DataFrame, row: dict[str, Any], attribute: str) -> Any:
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


# --- journals and rollback plans ---------------------------------------------------------------------------
OUTCOMES = ("applied", "skipped_stale", "failed")  # statuses that settle an `intent` line of the same op_id
JOURNAL_STATUSES = ("intent", *OUTCOMES, "dry_run")


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


def _timeline(files: Sequence[JournalFile]) -> list[dict[str, Any]]:
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
    for line in _timeline(files):
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
    return open_intents([line for line in _timeline(files) if line.get("plan_id") == plan_id])


def plan_rollback(journal: str | Path, *, boolean_strings: bool | None = None,
                  now: dt.datetime | None = None) -> Plan:
    """The plan that undoes every `applied` operation of a journal, newest first: each attribute goes back to
    the value re-read just before it was written (`before`); the rollback's audited value is `after`. It writes in
    the forms of the plan it undoes (its plan.json's `wire` and booleans; without one, what the journal's lines
    show), so a legacy plan is rolled back as it was written; `boolean_strings` overrides the booleans.

    An `intent` without an outcome (the apply died while that request was in flight) is undone too, unless a
    later run settled it otherwise: whether it went through is decided when the rollback re-reads the account
    (it holds the planned value: reverted; it holds `before`: nothing to undo)."""
    journal = Path(journal).expanduser()
    if not journal.is_file():
        what = "is a folder, not a journal file" if journal.is_dir() else "file not found"
        raise ConfigError(f"--journal {journal}: {what} (expected <run folder>/fixes/<fix_id>/journal.jsonl)")
    journal = journal.resolve()
    loaded = load_journal(journal)
    lines = loaded.lines
    if not lines:
        raise ConfigError(f"{journal}: no journal lines to roll back")
    original_file = journal.parent / "plan.json"
    try:
        original = Plan.load(original_file) if original_file.is_file() else None
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{original_file}: not a readable plan ({type(exc).__name__}): the journal's plan is "
                          "needed to roll it back under the same guards") from None
    wire, strings = (original.wire, original.booleans_as_strings) if original else _journal_forms(lines)
    if boolean_strings is None:
        boolean_strings = strings
    run_folder = run_folder_of_journal(journal)
    latest: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.get("status") == "applied":
            latest[str(line["op_id"])] = line
    notes = [loaded.torn] if loaded.torn else []
    uncertain = _unsettled_intents(journal, lines, run_folder, latest, notes)
    for op_id, line in uncertain.items():
        latest[op_id] = {**line, "after": line.get("expected")}
    applied = list(latest.values())
    by_account: dict[str, list[dict[str, Any]]] = {}
    for line in reversed(applied):
        by_account.setdefault(str(line["scim_id"]), []).append(line)
    operations: list[Operation] = []
    for scim_id, account_lines in by_account.items():
        for line in account_lines:
            attribute = str(line.get("attribute") or line["path"])
            now_holds, back_to = line.get("after"), line.get("before")
            if is_empty(back_to):
                op, value = "remove", None
            else:
                op = "add" if is_empty(now_holds) else "replace"
                value = wire_value(attribute, back_to, boolean_strings)
            in_flight = str(line["op_id"]) in uncertain
            note = f"undoes {line['op_id']} ({line.get('fix_id')})"
            if in_flight:
                note += "; that request was in flight when its apply stopped: the re-read decides if it went through"
            operations.append(Operation(
                op_id=op_id_of(scim_id, attribute, op, value), scim_id=scim_id, entra_id=str(line.get("entra_id", "")),
                user_name=str(line.get("user_name", "")), kind=str(line.get("kind", "")) or "rollback",
                severity=str(line.get("severity", "")), attribute=attribute, op=op, path=attribute, value=value,
                audited=now_holds, expected=back_to,
                inverse=inverse_of(attribute, op, now_holds, boolean_strings),
                deactivation=attribute == ACTIVE and not scim_true(back_to) and not is_empty(back_to),
                note=note, reverts=str(line["op_id"]), in_flight=in_flight,
                target_user_name=str(line.get("target_user_name") or "")))
    times = [str(line.get("time")) for line in applied if line.get("time")]
    settings = wire_settings(wire, bool(boolean_strings))
    active = original.target_active_accounts if original else None
    identity = _journal_identity(lines, original)
    if uncertain:
        notes.append(f"{len(uncertain)} operation(s) of this journal were in flight when its apply stopped (an intent "
                     "line without an outcome): each is undone only if the re-read shows it went through")
    return Plan(
        plan_id=_plan_id("rollback", str(journal), operations, settings), kind="rollback",
        created_at=_stamp(now or dt.datetime.now(dt.UTC)), run_folder=str(run_folder), run_id=run_folder.name,
        tenant_id=original.tenant_id if original else "", source=original.source if original else "",
        audited_at=min(times) if times else _stamp(now or dt.datetime.now(dt.UTC)),
        target_active_accounts=active, operations=operations, settings=settings, rolls_back=str(journal),
        scim_url=identity[0], rc_owner_id=identity[1], wire=wire,
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
    for line in _timeline([f for f in files if f.path.resolve() != journal]):
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
