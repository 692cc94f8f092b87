"""The audit: from a Snapshot to DESIGN.md's findings table (scope → mapping → normalise → join → classify).

`reconcile(snapshot)` computes what RingCentral should hold for every Entra user (the mapping's expected
values), pairs Entra users with RingCentral accounts in DESIGN.md's two passes, and classifies every
difference into exactly one kind. Work is column-wise (pandas merges, numpy masks) and each distinct
value is normalised once, so 250,000 users audit in seconds. Pure: no network, no clock (the grace window
is measured from the snapshot's Graph fetch time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gc
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rcaudit.audit.causes import assign_causes
from rcaudit.audit.expressions import CompiledExpression, compile_expression
from rcaudit.audit.mapping import (
    COMPUTED_SOURCES,
    ON_PREMISES_EXTENSIONS,
    AttributeMapping,
    check_manager_reference,
    graph_property,
)
from rcaudit.audit.normalize import differing, factorize, hashable, normaliser_for, phone_region, raw, scim_true
from rcaudit.audit.overrides import effective_mapping
from rcaudit.audit.scope import (
    BUCKETS,
    SCOPE_MODES,
    ScopeResult,
    ScopingFilters,
    compute_scope,
    parse_scoping_filters,
    scoping_filters_from_schema,
    utc_ns,
)
from rcaudit.audit.waivers import Waiver, apply_waivers, load_waivers
from rcaudit.model.errors import ConfigError, MappingError
from rcaudit.model.findings import COLUMNS, KEY_ATTRIBUTES, KINDS, SEVERITIES, SEVERITY_RANK, severity
from rcaudit.model.scim_path import declared_by, parse_target, read_targets
from rcaudit.model.snapshot import Snapshot
from rcaudit.model.vocabulary import ENTERPRISE

USERNAME, EXTERNAL_ID, ACTIVE = "userName", "externalId", "active"
MANAGER = f"{ENTERPRISE}:manager"
COMPUTED = COMPUTED_SOURCES | {"manager"}  # manager: resolved from the join, not read from a property


@dataclass(frozen=True)
class AuditOptions:
    """How to audit. `now` is for tests only: the grace window is measured from `snapshot.graph_fetched_at`."""

    scope_mode: str = ""  # "assigned" or "all" (Entra's "Sync all users and groups"); empty: the job's, else assigned
    skip_out_of_scope_deletions: bool | None = None  # None: the job's setting, else Entra's default (False)
    grace_minutes: float = 40.0  # one provisioning cycle
    strict_normalise: bool = False  # True: compare raw values, forgive nothing
    strict_mapping: bool = True  # False: an expression rcaudit cannot evaluate leaves its attribute unaudited
    scoping_filters: Any = None  # ScopingFilters, a list of filters or Graph's filter object; None: the schema's
    waivers: tuple[Waiver, ...] | str | Path = ()  # Waiver objects, or a waiver file to load
    now: dt.datetime | None = None


@dataclass(frozen=True)
class SyncSettings:
    """The job's two settings that change what Entra does, and where each came from (DESIGN.md "Sync settings":
    an explicit parameter, else the job's synchronization secrets when read, else Entra's default)."""

    scope_mode: str = "assigned"
    skip_out_of_scope_deletions: bool = False
    sources: tuple[tuple[str, str], ...] = (("scope_mode", "default"), ("skip_out_of_scope_deletions", "default"))

    def to_dict(self) -> dict[str, Any]:
        """summary.json `settings`."""
        return {"scope_mode": self.scope_mode, "skip_out_of_scope_deletions": self.skip_out_of_scope_deletions,
                "sources": dict(self.sources)}


def _flag(value: Any) -> bool | None:
    """A synchronization secret's boolean ("True", "false", "1"): None when it is not one."""
    text = str(value).strip().lower()
    return True if text in ("true", "1") else False if text in ("false", "0") else None


def flag_parameter(value: Any, name: str = "skip_out_of_scope_deletions") -> bool | None:
    """A notebook parameter that may be left empty: "" → None (the job's setting), "true"/"false" → a bool."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if _flag(text) is None:
        raise ConfigError(f"{name}={value!r}: expected true, false or empty (the job's setting)")
    return _flag(text)


def resolve_sync_settings(job_settings: dict[str, Any] | None, options: AuditOptions) -> SyncSettings:
    """DESIGN.md "Sync settings": a parameter overrides the job; the job's secrets (SyncAll,
    SkipOutOfScopeDeletions) override Entra's defaults (assigned users; deletions not skipped)."""
    job = job_settings or {}
    if options.scope_mode:
        if options.scope_mode not in SCOPE_MODES:
            raise ConfigError(f"scope_mode must be one of {', '.join(SCOPE_MODES)} (or empty for the job's), "
                               f"not {options.scope_mode!r}")
        mode, mode_source = options.scope_mode, "parameter"
    elif _flag(job.get("SyncAll")) is not None:
        mode, mode_source = ("all" if _flag(job.get("SyncAll")) else "assigned"), "job"
    else:
        mode, mode_source = "assigned", "default"
    if options.skip_out_of_scope_deletions is not None:
        skip, skip_source = bool(options.skip_out_of_scope_deletions), "parameter"
    elif _flag(job.get("SkipOutOfScopeDeletions")) is not None:
        skip, skip_source = bool(_flag(job.get("SkipOutOfScopeDeletions"))), "job"
    else:
        skip, skip_source = False, "default"
    return SyncSettings(mode, skip, (("scope_mode", mode_source), ("skip_out_of_scope_deletions", skip_source)))


@dataclass(frozen=True)
class NotAudited:
    attribute: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"attribute": self.attribute, "reason": self.reason}


@dataclass(frozen=True)
class DataQuality:
    """A problem in the services' answers that the audit worked around (summary.json `data_quality`)."""

    what: str
    count: int
    examples: tuple[str, ...]  # ids only (never masked, never personal), at most EXAMPLES

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "count": self.count, "examples": list(self.examples)}


EXAMPLES = 5
DELETED_UNREADABLE = ("deleted users could not be read, so this account may belong to a deleted user "
                      "(a deleted user's account is not an orphan)")


@dataclass(frozen=True, eq=False)
class AuditResult:
    """Everything one audit found, datacompy style: frames for drilling in, `to_dict` for summary.json.

    Attributes
    ----------
    findings : DESIGN.md's findings table (columns, order and sorting as the contract says).
    expected : one row per Entra user: scope, pairing and the expected raw value of every audited attribute.
    actual : one row per RingCentral account: state, pairing and the raw value of every audited attribute.
    scope : the scope counts (summary.json `scope`).
    sizes : entra_users, entra_deleted_users, scim_users.
    pending : Entra ids of live users inside the grace window (not reported missing).
    not_audited : attributes left out, and why.
    normalisers : attribute → the rule it was compared with.
    expired_waivers : waivers past their date (they covered nothing).
    data_quality : problems in the services' answers (duplicate ids, an account without userName), each decided
        deterministically (the first record wins) and noted in the `reason` of the rows they affect.
    caveats : sentences the report shows as banners (e.g. orphans that may be deleted users).
    """

    findings: pd.DataFrame
    expected: pd.DataFrame
    actual: pd.DataFrame
    scope: dict[str, int]
    sizes: dict[str, int]
    pending: tuple[str, ...]
    not_audited: tuple[NotAudited, ...]
    normalisers: tuple[dict[str, str], ...]
    expired_waivers: tuple[Waiver, ...]
    mapping: tuple[AttributeMapping, ...]
    mapping_source: str
    scoping_filters: ScopingFilters
    audited_at: dt.datetime
    options: AuditOptions = field(default_factory=AuditOptions)
    notes: tuple[str, ...] = ()
    data_quality: tuple[DataQuality, ...] = ()
    caveats: tuple[str, ...] = ()
    settings: SyncSettings = field(default_factory=SyncSettings)

    @property
    def counted(self) -> pd.DataFrame:
        """The findings that count (not waived)."""
        return self.findings[~self.findings["waived"]]

    def findings_summary(self) -> dict[str, Any]:
        counted = self.counted
        by_kind = Counter(counted["kind"])
        by_severity = Counter(counted["severity"])
        by_attribute = Counter(counted.loc[counted["attribute"] != "", "attribute"])
        return {
            "total": len(counted),
            "by_kind": {kind: by_kind.get(kind, 0) for kind in KINDS},
            "by_severity": {level: by_severity.get(level, 0) for level in SEVERITIES},
            "by_attribute": dict(sorted(by_attribute.items())),
            "waived": int(self.findings["waived"].sum()),
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary.json keys the audit owns: sizes, scope, findings, not_audited."""
        return {
            "sizes": dict(self.sizes),
            "scope": dict(self.scope),
            "findings": self.findings_summary(),
            "not_audited": [n.to_dict() for n in self.not_audited],
            "data_quality": [d.to_dict() for d in self.data_quality],
            "settings": self.settings.to_dict(),
        }

    def data_quality_table(self) -> pd.DataFrame:
        """The report's "Data quality" table: what, how many, example ids (a plain frame, rendered escaped)."""
        return pd.DataFrame([{"what": d.what, "count": d.count, "examples": ", ".join(d.examples)}
                             for d in self.data_quality], columns=["what", "count", "examples"])

    def render(self) -> str:
        """A few lines of text for a terminal or a notebook cell."""
        summary = self.findings_summary()
        lines = [
            f"{self.sizes['entra_users']} Entra users ({self.sizes['entra_deleted_users']} soft-deleted), "
            f"{self.sizes['scim_users']} RingCentral accounts; mapping from {self.mapping_source}",
            "scope: " + ", ".join(f"{k} {v}" for k, v in self.scope.items()),
            f"findings: {summary['total']} ({summary['waived']} waived) — "
            + ", ".join(f"{k} {v}" for k, v in summary["by_kind"].items() if v),
        ]
        lines += [f"not audited: {n.attribute} ({n.reason})" for n in self.not_audited]
        lines += [f"expired waiver: {w.source or w.account or w.user} ({w.expires})" for w in self.expired_waivers]
        lines += [f"data quality: {d.what}: {d.count}" for d in self.data_quality]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# --- planning: which attributes, compiled how -----------------------------------------------------------------

@dataclass(frozen=True)
class _Planned:
    target: str
    compiled: CompiledExpression


def _carried(users: Sequence[dict[str, Any]]) -> set[str]:
    """Graph properties the first users hold (a property never $selected is absent from every user; one
    missing here is looked for in all users before the mapping is refused)."""
    keys: set[str] = set()
    for user in users[:200]:
        keys.update(user)
    return keys


def _plan(mapping: Iterable[AttributeMapping], snapshot: Snapshot, strict: bool,
          ) -> tuple[dict[str, _Planned], list[NotAudited], list[str]]:
    """Compile every mapping once; decide what is audited. Returns (planned by target, not audited, notes)."""
    planned: dict[str, _Planned] = {}
    not_audited: list[NotAudited] = []
    notes: list[str] = []
    carried = _carried(snapshot.users) if snapshot.users else None
    for m in mapping:
        if m.target in planned or any(n.attribute == m.target for n in not_audited):
            notes.append(f"{m.target} is mapped twice; the first mapping is used")
            continue
        try:
            parse_target(m.target)
            reason = declared_by(snapshot.scim_schemas, m.target) if snapshot.scim_schemas else None
        except MappingError as exc:
            reason = exc.message
        if reason and m.target not in KEY_ATTRIBUTES and m.target != ACTIVE:
            not_audited.append(NotAudited(m.target, reason))
            continue
        try:
            compiled = compile_expression(m.expression, m.target)
            check_manager_reference(m)
        except MappingError as exc:
            if strict:
                raise
            not_audited.append(NotAudited(m.target, exc.message))
            continue
        missing = _not_fetched(compiled, carried, snapshot.users)
        if missing:  # the fetch did not read it (e.g. /Schemas unread): nothing to compare, whatever `strict` says
            not_audited.append(NotAudited(m.target, f"{m.expression} reads {missing}, which the snapshot's users "
                                                    "do not carry (not fetched)"))
            continue
        planned[m.target] = _Planned(m.target, compiled)
    manager = next((t for t in planned if t.lower() == MANAGER.lower()), None)
    if manager and snapshot.users and not any("manager" in u for u in snapshot.users):
        del planned[manager]  # absent for everyone: the fetch did not expand it, so nothing can be compared
        not_audited.append(NotAudited(manager, "the snapshot holds no user's manager ($expand=manager not read)"))
    if not snapshot.scim_schemas:
        notes.append("RingCentral's /Schemas was not read: every mapped attribute is audited")
    return planned, not_audited, notes



def _not_fetched(compiled: CompiledExpression, carried: set[str] | None, users: Sequence[dict[str, Any]],
                 ) -> str | None:
    """The first source the snapshot's users do not carry (`telephoneNumber (Graph businessPhones)`), else None."""
    for name in compiled.references:
        if name in COMPUTED:
            continue
        prop = graph_property(name) or name
        if carried is not None and prop not in carried and not any(prop in u for u in users):
            return name if prop == name else f"{name} (Graph {prop})"
    return None


# --- expected values (Entra side) -----------------------------------------------------------------------------

def entra_sends(upn: Any) -> Any:
    """The userPrincipalName Entra sends: a B2B guest's `alias_theirdomain#EXT#@yourdomain` → `alias@theirdomain`."""
    if not isinstance(upn, str):
        return upn
    marker = upn.upper().find("#EXT#")
    if marker < 0:
        return upn
    local = upn[:marker]
    cut = local.rfind("_")
    return local if cut < 0 else f"{local[:cut]}@{local[cut + 1:]}"


def _objects(values: Iterable[Any], n: int) -> np.ndarray:
    """A 1-D object array (tuples stay elements, never a second dimension)."""
    return np.fromiter(values, dtype=object, count=n)


@functools.lru_cache(maxsize=32)
def _getter(keys: tuple[str, ...]) -> Any:
    """`lambda d: (d.get(k1), d.get(k2), …)`, written out once (keys enter only as repr() literals)."""
    return eval(f"lambda d: ({''.join(f'd.get({k!r}), ' for k in keys)})")  # repr() literals only


def _read_users(users: Sequence[dict[str, Any]], props: Iterable[str]) -> dict[str, list[Any]]:
    """Every property in one pass over the users (each pass over 250,000 dicts costs its cache misses)."""
    keys = tuple(dict.fromkeys(props))
    get = _getter(keys)
    rows = [get(u) for u in users]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    return {key: list(column) for key, column in zip(keys, columns, strict=True)}


def _column(read: dict[str, list[Any]], name: str, scope: ScopeResult) -> np.ndarray:
    """A source attribute (provisioning name) for every user, as Entra's expressions see it."""
    n = len(scope.ids)
    if name == "IsSoftDeleted":
        return np.where(scope.live, "False", "True").astype(object)
    if name.lower() == "approleassignments":
        return _objects((scope.roles.get(uid, ()) for uid in scope.ids), n)
    if name == "manager":
        return _objects((m.get("id") if isinstance(m, dict) else None for m in read["manager"]), n)
    prop = graph_property(name) or name
    values = read[prop]
    if prop == ON_PREMISES_EXTENSIONS:  # extensionAttribute1…15 are read nested
        return _objects((v.get(name) if isinstance(v, dict) else None for v in values), n)
    if prop == "businessPhones":
        return _objects(((v or [None])[0] if isinstance(v, list) else v for v in values), n)
    if prop == "userPrincipalName":
        return _objects((entra_sends(v) if v.__class__ is str and "#" in v else v for v in values), n)
    sample = next((v for v in values if v is not None), None)  # Graph gives a property one type for everyone
    if isinstance(sample, list | dict):
        values = [hashable(v) for v in values]
    return _objects(values, n)


def _evaluate(compiled: CompiledExpression, columns: list[np.ndarray], n: int) -> np.ndarray:
    """Evaluate once per distinct combination of the referenced values, then spread to every user."""
    if compiled.direct is not None:
        return columns[0]
    if not columns:
        constant = hashable(compiled.evaluate(()))
        return _objects((constant for _ in range(n)), n)
    factorized = [factorize(c) for c in columns]
    if len(columns) == 1:
        codes, uniques = factorized[0]
        results = _objects((hashable(compiled.evaluate((u,))) for u in uniques), len(uniques))
        return results[codes]
    stacked = np.stack([codes for codes, _ in factorized], axis=1)
    rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    results = _objects((hashable(compiled.evaluate(tuple(factorized[j][1][code] for j, code in enumerate(row))))
                        for row in rows.tolist()), len(rows))
    return results[inverse.reshape(-1)]


# --- keys and the two-pass join -------------------------------------------------------------------------------

def _keys(values: Sequence[Any] | np.ndarray) -> pd.arrays.ArrowStringArray:
    """Trimmed, case-folded join keys (NA for empty): Arrow kernels, Python's casefold only for non-ASCII."""
    try:
        strings = values if isinstance(values, list) else list(values)
        column = pc.utf8_trim_whitespace(pa.array(strings, type=pa.large_string()))
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # a non-string value (a list, a number) is no key
        strings = [v if isinstance(v, str) else None for v in values]
        column = pc.utf8_trim_whitespace(pa.array(strings, type=pa.large_string()))
    ascii_only = pc.fill_null(pc.string_is_ascii(column), True)
    folded = pc.ascii_lower(column)
    if not pc.all(ascii_only).as_py():
        others = np.flatnonzero(~ascii_only.to_numpy(zero_copy_only=False))
        replaced = folded.to_pylist()
        for i in others.tolist():
            replaced[i] = strings[i].strip().casefold()
        folded = pa.array(replaced, type=pa.large_string())
    folded = pc.if_else(pc.equal(folded, ""), pa.scalar(None, pa.large_string()), folded)
    return pd.array(folded.cast(pa.large_string()), dtype=pd.StringDtype("pyarrow"))


def _restored_user_names(values: Sequence[Any] | np.ndarray, ids: Sequence[str] | np.ndarray,
                         deleted: np.ndarray) -> list[Any]:
    """Expected userNames with Entra's soft-delete rewrite undone, for the join.

    Entra renames a soft-deleted user's UPN to `<object id without dashes><UPN>` (DESIGN.md "Join"; the
    sandbox's deleted users carry it too), so without this a deleted user's account pairs only through its
    externalId, and one without an externalId would be mistaken for an orphan.
    """
    restored = list(values)
    for i in np.flatnonzero(deleted).tolist():
        value, prefix = restored[i], str(ids[i]).replace("-", "").casefold()
        if isinstance(value, str) and prefix and value.casefold().startswith(prefix) and len(value) > len(prefix):
            restored[i] = value[len(prefix):]
    return restored


@dataclass(frozen=True)
class _Join:
    pairs: pd.DataFrame  # a (account position), u (user position), match_key
    account_hits: np.ndarray  # per account: Entra users paired
    user_hits: np.ndarray  # per user: accounts paired
    ambiguous: np.ndarray  # per account: bool
    account_user: np.ndarray  # per account: the one paired user (clean pairs), else -1
    user_account: np.ndarray  # per user: the one paired account (clean pairs), else -1
    match_key: np.ndarray  # per account: "userName", "externalId" or ""


def _join(user_name_keys: pd.array, user_ext_keys: pd.array, account_name_keys: pd.array,
          account_ext_keys: pd.array) -> _Join:
    """DESIGN.md's two passes: userName first; then each unpaired account's externalId among all users."""
    n_users, n_accounts = len(user_name_keys), len(account_name_keys)
    users = pd.DataFrame({"u": np.arange(n_users), "key": user_name_keys}).dropna()
    accounts = pd.DataFrame({"a": np.arange(n_accounts), "key": account_name_keys}).dropna()
    first = accounts.merge(users, on="key")[["a", "u"]].assign(match_key=USERNAME)
    paired = np.zeros(n_accounts, dtype=bool)
    paired[first["a"].to_numpy()] = True
    rest = pd.DataFrame({"a": np.arange(n_accounts), "key": account_ext_keys})[~paired].dropna()
    by_external_id = pd.DataFrame({"u": np.arange(n_users), "key": user_ext_keys}).dropna()
    second = rest.merge(by_external_id, on="key")[["a", "u"]].assign(match_key=EXTERNAL_ID)
    pairs = pd.concat([first, second], ignore_index=True)
    a, u = pairs["a"].to_numpy(dtype=np.int64), pairs["u"].to_numpy(dtype=np.int64)
    account_hits = np.bincount(a, minlength=n_accounts)
    user_hits = np.bincount(u, minlength=n_users)
    crowded = (account_hits[a] > 1) | (user_hits[u] > 1)
    ambiguous = np.zeros(n_accounts, dtype=bool)
    ambiguous[a[crowded]] = True
    clean = ~ambiguous[a]
    account_user = np.full(n_accounts, -1, dtype=np.int64)
    account_user[a[clean]] = u[clean]
    user_account = np.full(n_users, -1, dtype=np.int64)
    user_account[u[clean]] = a[clean]
    match_key = np.full(n_accounts, "", dtype=object)
    match_key[a] = pairs["match_key"].to_numpy(dtype=object)
    return _Join(pairs, account_hits, user_hits, ambiguous, account_user, user_account, match_key)


# --- findings -------------------------------------------------------------------------------------------------

class _Rows:
    """Findings rows collected column-wise (lists), turned into one frame at the end."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}

    def add(self, **row: Any) -> None:
        """One row; its severity follows from its kind (DESIGN.md "Severity")."""
        row.setdefault("severity", severity(row["kind"], row.get("attribute", "")))
        for column in COLUMNS:
            self.columns[column].append(row.get(column, False if column == "waived" else ""))

    def extend(self, **columns: Sequence[Any]) -> None:
        size = len(next(iter(columns.values())))
        for column in COLUMNS:
            values = columns.get(column)
            self.columns[column].extend(values if values is not None else
                                        [False if column == "waived" else ""] * size)

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({c: pd.array(self.columns[c], dtype="str") for c in COLUMNS if c != "waived"})
        frame["waived"] = np.asarray(self.columns["waived"], dtype=bool)
        return frame[list(COLUMNS)]


def _sorted(findings: pd.DataFrame) -> pd.DataFrame:
    """Severity (high first), kind, user_name, attribute; ids break ties so every run orders alike."""
    order = findings.assign(_rank=findings["severity"].map(SEVERITY_RANK).astype(int))
    order = order.sort_values(["_rank", "kind", "user_name", "attribute", "scim_id", "entra_id"], kind="stable")
    return order.drop(columns="_rank").reset_index(drop=True)


def _out_of_scope_reason(bucket: str, deleted: bool, enabled: bool, filtered: bool) -> str:
    if deleted:
        return "the Entra user is soft-deleted"
    if bucket == "in_scope" and not enabled:
        return "the Entra user is disabled (accountEnabled false)"
    if filtered:
        return "the Entra user fails the scoping filters"
    return {"filtered_out": "the Entra user fails the scoping filters",
            "nested_only": "the Entra user is only in a nested group (not provisioned)",
            "unassigned": "the Entra user is not assigned to RingCentral"}.get(bucket, f"the Entra user is {bucket}")


def _mismatch_reason(expected: str | None, actual: str | None) -> str:
    if expected is None:
        return "cleared in Entra; RingCentral keeps the old value (Entra never sends nulls)"
    if actual is None:
        return "absent in RingCentral"
    return "values differ"


# --- the audit ------------------------------------------------------------------------------------------------

def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _entra_users(snapshot: Snapshot) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Live-side users then soft-deleted ones (an id in both is taken from /users)."""
    seen = {u.get("id") for u in snapshot.users} if snapshot.deleted_users else set()
    deleted = [u for u in snapshot.deleted_users if u.get("id") not in seen]
    flags = np.zeros(len(snapshot.users) + len(deleted), dtype=bool)
    flags[len(snapshot.users):] = True
    return [*snapshot.users, *deleted], flags


def reconcile(snapshot: Snapshot, mapping: Sequence[AttributeMapping] | None = None,
              options: AuditOptions | None = None) -> AuditResult:
    """Audit `snapshot`: what RingCentral holds against what Entra's provisioning should have made it hold.

    `mapping` defaults to the live schema's (DESIGN.md's table when there is none); pass
    `mapping.effective_mapping(schema, overrides_file)` to apply a YAML override file.
    """
    collecting = gc.isenabled()
    gc.disable()  # the snapshot is millions of small dicts: collector passes over them would cost more than the work
    try:
        return _reconcile(snapshot, mapping, options or AuditOptions())
    finally:
        if collecting:
            gc.enable()


# scope_of(users, deleted, with_roles): the scope of the users `_entra_side` reads (see `_scoper`)
_ScopeOf = Callable[[list[dict[str, Any]], np.ndarray, bool], ScopeResult]


@dataclass(frozen=True)
class _Entra:
    """The Entra side, one position per user (live users, then soft-deleted ones)."""

    users: list[dict[str, Any]]
    ids: np.ndarray
    upns: np.ndarray
    deleted: np.ndarray
    enabled: np.ndarray
    scope: ScopeResult
    read: dict[str, list[Any]]  # the Graph properties read, by name
    sources: dict[str, np.ndarray]  # provisioning source attributes, as expressions see them
    expected: dict[str, np.ndarray]  # raw expected value per target


@dataclass(frozen=True)
class _RingCentral:
    """The RingCentral side, one position per account."""

    ids: np.ndarray
    names: np.ndarray
    active: np.ndarray
    created_ns: np.ndarray
    young: np.ndarray  # created inside the grace window
    actual: dict[str, np.ndarray]  # raw value per target


def _entra_side(snapshot: Snapshot, planned: dict[str, _Planned], scope_of: _ScopeOf) -> _Entra:
    """Users, their scope (`scope_of(users, deleted)`) and the expected value of every planned target."""
    users, deleted = _entra_users(snapshot)
    wants_roles = any(r.lower() == "approleassignments" for p in planned.values() for r in p.compiled.references)
    scope = scope_of(users, deleted, wants_roles)
    wanted = ["userPrincipalName", "accountEnabled", "usageLocation", "country"]
    wanted += [graph_property(name) or name for plan in planned.values() for name in plan.compiled.references
               if name not in COMPUTED or name == "manager"]
    read = _read_users(users, wanted)
    sources: dict[str, np.ndarray] = {}
    expected: dict[str, np.ndarray] = {}
    for target, plan in planned.items():
        for name in plan.compiled.references:
            if name not in sources:
                sources[name] = _column(read, name, scope)
        expected[target] = _evaluate(plan.compiled, [sources[n] for n in plan.compiled.references], len(users))
    n = len(users)
    return _Entra(
        users=users, ids=_objects(scope.ids, n),
        upns=_objects((v if v.__class__ is str else raw(v) for v in read["userPrincipalName"]), n),
        deleted=deleted, enabled=np.fromiter((v is True for v in read["accountEnabled"]), dtype=bool, count=n),
        scope=scope, read=read, sources=sources, expected=expected,
    )


def _ringcentral_side(accounts: list[dict[str, Any]], compared: list[str], cutoff: dt.datetime) -> _RingCentral:
    """Every account's id, state and the raw value of every compared target, in one pass."""
    n = len(accounts)
    columns = read_targets(accounts, ["id", USERNAME, EXTERNAL_ID, *compared])
    ids = _objects((v if v.__class__ is str else raw(v) for v in columns.pop("id")), n)
    actual: dict[str, np.ndarray] = {}
    for target, values in columns.items():
        sample = next((v for v in values if v is not None), None)
        actual[target] = _objects([hashable(v) for v in values] if isinstance(sample, list | dict) else values, n)
    created_ns = utc_ns([(a.get("meta") or {}).get("created") for a in accounts])
    return _RingCentral(
        ids=ids, names=_objects((raw(v) for v in actual[USERNAME]), n),
        active=np.fromiter((scim_true(a.get(ACTIVE)) for a in accounts), dtype=bool, count=n),
        created_ns=created_ns, young=created_ns > pd.Timestamp(cutoff).value, actual=actual,
    )


SKIPPED_DELETION = ("; SkipOutOfScopeDeletions is on for the job, so Entra will not deactivate it: only a "
                    "fix-up will")


def _lifecycle_rows(rows: _Rows, entra: _Entra, rc: _RingCentral, join: _Join, skip_deletions: bool = False) -> None:
    """ambiguous_match, missing_in_target, orphan_in_target, should_be_inactive, should_be_active.

    With SkipOutOfScopeDeletions, Entra leaves the account of a user who left scope (filtered out, nested only,
    unassigned; neither disabled nor soft-deleted) active: still a finding, and its reason says why it stays
    (Entra's docs: MicrosoftDocs/entra-docs `docs/identity/app-provisioning/skip-out-of-scope-deletions.md`)."""
    scope, live = entra.scope, entra.scope.live
    involved = join.pairs[join.ambiguous[join.pairs["a"].to_numpy()]]
    for a, group in involved.groupby("a", sort=True):  # one row per account, nothing else for it
        ids = sorted({entra.ids[u] for u in group["u"]})
        hits = int(join.account_hits[a])
        crowded = max(int(join.user_hits[u]) for u in group["u"])
        rows.add(kind="ambiguous_match", entra_id=";".join(ids), scim_id=rc.ids[a],
                 user_name=entra.upns[group["u"].iloc[0]] if len(ids) == 1 else rc.names[a],
                 match_key=";".join(sorted(set(group["match_key"]))),
                 reason=(f"the account matches {hits} Entra users" if hits > 1
                         else f"the Entra user is paired with {crowded} accounts"))
    for u in np.flatnonzero(live & (join.user_hits == 0) & ~scope.pending):
        rows.add(kind="missing_in_target", entra_id=entra.ids[u], user_name=entra.upns[u],
                 reason="live in Entra and in scope, no RingCentral account")
    for a in np.flatnonzero((join.account_hits == 0) & rc.active):
        rows.add(kind="orphan_in_target", scim_id=rc.ids[a], user_name=rc.names[a],
                 reason="active RingCentral account that matches no Entra user"
                        + ("" if rc.actual[EXTERNAL_ID][a] else " (no externalId)"))
    paired = np.flatnonzero(join.account_user >= 0)
    paired_users = join.account_user[paired]
    leaving = rc.active[paired] & ~live[paired_users]
    for a, u in zip(paired[leaving].tolist(), paired_users[leaving].tolist(), strict=True):
        bucket = str(scope.bucket[u])
        why = _out_of_scope_reason(bucket, bool(entra.deleted[u]), bool(entra.enabled[u]),
                                   bool(scope.filtered_out[u]))
        left_scope = bucket != "in_scope" and not entra.deleted[u] and entra.enabled[u]
        rows.add(kind="should_be_inactive", entra_id=entra.ids[u], scim_id=rc.ids[a],
                 user_name=entra.upns[u], match_key=join.match_key[a],
                 reason=f"active account, but {why}" + (SKIPPED_DELETION if skip_deletions and left_scope else ""))
    waiting = ~rc.active[paired] & live[paired_users] & ~rc.young[paired]  # a young one is pending activation
    for a, u in zip(paired[waiting].tolist(), paired_users[waiting].tolist(), strict=True):
        rows.add(kind="should_be_active", entra_id=entra.ids[u], scim_id=rc.ids[a],
                 user_name=entra.upns[u], match_key=join.match_key[a],
                 reason="inactive account of a live Entra user, created before the grace window")


def _attribute_rows(rows: _Rows, entra: _Entra, rc: _RingCentral, join: _Join, audited: list[str],
                    strict_normalise: bool) -> None:
    """attribute_mismatch: every account paired with a live user, per audited attribute."""
    paired = np.flatnonzero(join.account_user >= 0)
    accounts = paired[entra.scope.live[join.account_user[paired]]]
    users = join.account_user[accounts]
    regions = _regions(entra.read, users) if any(
        normaliser_for(t, strict_normalise).uses_region for t in audited) else None
    for target in audited:
        expected, actual = entra.expected[target][users], rc.actual[target][accounts]
        rule = normaliser_for(target, strict_normalise)
        differ, expected_n, actual_n = differing(expected, actual, rule, regions)
        if target == MANAGER and len(differ):  # a manager without exactly one clean account is not compared
            kept = _manager_comparable(entra.sources.get("manager"), entra.ids, join)[users[differ]]
            differ, expected_n, actual_n = differ[kept], expected_n[kept], actual_n[kept]
        if not len(differ):
            continue
        a, u, size = accounts[differ], users[differ], len(differ)
        rows.extend(
            kind=["attribute_mismatch"] * size, severity=[severity("attribute_mismatch", target)] * size,
            entra_id=entra.ids[u].tolist(), scim_id=rc.ids[a].tolist(), user_name=entra.upns[u].tolist(),
            attribute=[target] * size, expected=[raw(v) for v in expected[differ]],
            actual=[raw(v) for v in actual[differ]], expected_normalized=[raw(v) for v in expected_n],
            actual_normalized=[raw(v) for v in actual_n], match_key=join.match_key[a].tolist(),
            reason=[_mismatch_reason(e, x) for e, x in zip(expected_n, actual_n, strict=True)],
        )


# --- data quality: what the services answered oddly, decided deterministically --------------------------------

@dataclass
class _Quality:
    """The problems found, and per id the note its rows' `reason` carries."""

    items: list[DataQuality] = field(default_factory=list)
    by_user: dict[str, str] = field(default_factory=dict)  # Entra id -> note
    by_account: dict[str, str] = field(default_factory=dict)  # RingCentral id -> note

    def add(self, what: str, ids: list[str]) -> None:
        if ids:
            self.items.append(DataQuality(what, len(ids), tuple(ids[:EXAMPLES])))


def _first_by_id(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The records with each id's first one kept (the order served), and id -> how many were served."""
    ids = [r.get("id") for r in records]
    if len(set(ids)) == len(ids):  # the usual case, without counting
        return records, {}
    repeated = {i: n for i, n in Counter(ids).items() if n > 1 and isinstance(i, str)}
    if not repeated:
        return records, {}
    seen: set[str] = set()
    kept = []
    for record in records:
        rid = record.get("id")
        if rid in repeated:
            if rid in seen:
                continue
            seen.add(rid)
        kept.append(record)
    return kept, repeated


def _checked_snapshot(snapshot: Snapshot) -> tuple[Snapshot, _Quality]:
    """The snapshot the audit reads: one record per id (the first served), plus what was noted on the way.

    Two records for one Entra id gave contradictory findings for it; two for one RingCentral id an
    `ambiguous_match` with itself. An account without userName can only pair on externalId."""
    quality = _Quality()
    users, repeated_users = _first_by_id(snapshot.users)
    deleted, repeated_deleted = _first_by_id(snapshot.deleted_users)
    accounts, repeated_accounts = _first_by_id(snapshot.scim_users)
    for uid, n in {**repeated_deleted, **repeated_users}.items():
        quality.by_user[uid] = f"Graph returned {n} records with this Entra id; the first was audited"
    quality.add("duplicate Entra user id (the first record is audited)", list({**repeated_users, **repeated_deleted}))
    for aid, n in repeated_accounts.items():
        quality.by_account[aid] = f"RingCentral returned {n} accounts with this id; the first was audited"
    quality.add("duplicate RingCentral account id (the first record is audited)", list(repeated_accounts))
    nameless = [str(a.get("id")) for a in accounts if not (a.get(USERNAME).__class__ is str and a[USERNAME].strip())]
    for aid in nameless:
        note = "the RingCentral account has no userName (it can pair on externalId only)"
        quality.by_account[aid] = "; ".join(filter(None, (quality.by_account.get(aid), note)))
    quality.add("RingCentral account without userName", nameless)
    if repeated_users or repeated_deleted or repeated_accounts:
        snapshot = dataclasses.replace(snapshot, users=users, deleted_users=deleted, scim_users=accounts)
    return snapshot, quality


def _deleted_unreadable(snapshot: Snapshot) -> str | None:
    """Why deleted users could not be read, when they could not (then an orphan may be a deleted user)."""
    return next((str(u.get("reason") or "unreadable") for u in snapshot.unreadable
                 if "deleted" in str(u.get("what", "")).lower()), None)


def _with_notes(findings: pd.DataFrame, quality: _Quality, orphan_note: str | None) -> pd.DataFrame:
    """Append each affected row's data-quality note to its `reason` (and the deleted-users caveat to orphans)."""
    if findings.empty or not (quality.by_user or quality.by_account or orphan_note):
        return findings
    reasons = findings["reason"].astype(str).tolist()
    scim_ids = findings["scim_id"].astype(str).tolist()
    entra_ids = findings["entra_id"].astype(str).tolist()
    kinds = findings["kind"].astype(str).tolist()
    for i, (reason, aid, uids, kind) in enumerate(zip(reasons, scim_ids, entra_ids, kinds, strict=True)):
        notes = [quality.by_account[aid]] if aid in quality.by_account else []
        notes += [quality.by_user[u] for u in uids.split(";") if u in quality.by_user]
        if orphan_note and kind == "orphan_in_target":
            notes.append(orphan_note)
        if notes:
            reasons[i] = "; ".join([reason, *notes]) if reason else "; ".join(notes)
    findings = findings.copy()
    findings["reason"] = pd.array(reasons, dtype="str")
    return findings


def _scoper(snapshot: Snapshot, cutoff: dt.datetime, mode: str, filters: ScopingFilters) -> _ScopeOf:
    """`scope_of(users, deleted, with_roles)` for `_entra_side`: the snapshot's assignments and groups with
    the resolved scope mode and filters (it scopes the users it is given, after their duplicates are gone)."""
    def scope_of(users: list[dict[str, Any]], deleted: np.ndarray, with_roles: bool) -> ScopeResult:
        return compute_scope(users, deleted, service_principal=snapshot.service_principal,
                             assignments=snapshot.app_role_assignments, group_members=snapshot.group_members,
                             group_transitive_members=snapshot.group_transitive_members, cutoff=cutoff,
                             mode=mode, filters=filters, with_roles=with_roles)

    return scope_of


def _paired(snapshot: Snapshot, entra: _Entra, planned: dict[str, _Planned], cutoff: dt.datetime,
            ) -> tuple[list[str], _RingCentral, _Join]:
    """What is audited (the keys first), RingCentral's side and the pairing (userName, then externalId).
    The expected manager is filled in here: which account it points at depends on the pairing."""
    compared = [t for t in planned if t not in KEY_ATTRIBUTES and t != ACTIVE]
    audited = [t for t in (USERNAME, EXTERNAL_ID) if t in planned] + compared
    rc = _ringcentral_side(snapshot.scim_users, compared, cutoff)
    no_keys = _keys([None] * len(entra.ids))
    join = _join(
        _keys(_restored_user_names(entra.expected[USERNAME], entra.ids, entra.deleted))
        if USERNAME in entra.expected else no_keys,
        _keys(entra.expected[EXTERNAL_ID]) if EXTERNAL_ID in entra.expected else no_keys,
        _keys(rc.actual[USERNAME]), _keys(rc.actual[EXTERNAL_ID]),
    )
    if MANAGER in planned:  # what the manager should be depends on the pairing
        entra.expected[MANAGER] = _expected_manager(entra.sources.get("manager"), entra.ids, join, rc.ids)
    return audited, rc, join


def _findings(snapshot: Snapshot, entra: _Entra, rc: _RingCentral, join: _Join, audited: list[str],
              settings: SyncSettings, options: AuditOptions, quality: _Quality,
              ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The sorted findings with their data-quality notes, and the caveat an orphan count needs when deleted
    users could not be read (then some orphans may be deleted users). Waivers are applied after."""
    rows = _Rows()
    _lifecycle_rows(rows, entra, rc, join, settings.skip_out_of_scope_deletions)
    _attribute_rows(rows, entra, rc, join, audited, options.strict_normalise)
    unreadable_deleted = _deleted_unreadable(snapshot)
    findings = _with_notes(_sorted(rows.frame()), quality, DELETED_UNREADABLE if unreadable_deleted else None)
    findings = assign_causes(findings, snapshot, entra.scope, settings.skip_out_of_scope_deletions)
    orphans = int((findings["kind"] == "orphan_in_target").sum())
    caveats = (f"Deleted users could not be read: some of the {orphans} orphan accounts may belong to deleted "
               "users rather than be true orphans.",) if unreadable_deleted and orphans else ()
    return findings, caveats


def _reconcile(snapshot: Snapshot, mapping: Sequence[AttributeMapping] | None, options: AuditOptions,
               ) -> AuditResult:
    """The audit in its steps: the checked snapshot, the mapping planned, both sides read, paired, findings
    made and waived; sizes count what the services served (duplicates included)."""
    notes: list[str] = []
    served = snapshot
    snapshot, quality = _checked_snapshot(snapshot)
    now = _as_utc(options.now or snapshot.graph_fetched_at)
    cutoff = now - dt.timedelta(minutes=options.grace_minutes)
    if mapping is None:
        mapping, mapping_source = effective_mapping(snapshot.schema)
    else:
        mapping_source = "given"
    planned, not_audited, plan_notes = _plan(mapping, snapshot, options.strict_mapping)
    notes += plan_notes
    filters = (parse_scoping_filters(options.scoping_filters) if options.scoping_filters is not None
               else scoping_filters_from_schema(snapshot.schema))
    settings = resolve_sync_settings(snapshot.sync_settings, options)
    entra = _entra_side(snapshot, planned, _scoper(snapshot, cutoff, settings.scope_mode, filters))
    notes += [f"{key} is not mapped (or not evaluable): the join cannot use it"
              for key in (USERNAME, EXTERNAL_ID) if key not in entra.expected]
    audited, rc, join = _paired(snapshot, entra, planned, cutoff)
    findings, caveats = _findings(snapshot, entra, rc, join, audited, settings, options, quality)
    waivers = load_waivers(options.waivers) if isinstance(options.waivers, str | Path) else tuple(options.waivers)
    findings, expired = apply_waivers(findings, waivers, now.date())
    notes += [f"waiver {w.source or w.account or w.user} expired on {w.expires}" for w in expired]
    return AuditResult(
        findings=findings,
        expected=_expected_frame(entra, join, rc.ids, audited),
        actual=_actual_frame(rc, join, entra.ids, audited),
        scope=entra.scope.counts(),
        sizes={"entra_users": len(served.users), "entra_deleted_users": len(served.deleted_users),
               "scim_users": len(served.scim_users)},
        pending=tuple(entra.ids[entra.scope.pending].tolist()),
        not_audited=tuple(not_audited),
        normalisers=tuple({"attribute": t, "normaliser": normaliser_for(t, options.strict_normalise).name,
                           "description": normaliser_for(t, options.strict_normalise).description} for t in audited),
        expired_waivers=expired,
        mapping=tuple(mapping),
        mapping_source=mapping_source,
        scoping_filters=filters,
        audited_at=now,
        options=options,
        notes=tuple(notes),
        data_quality=tuple(quality.items),
        caveats=caveats,
        settings=settings,
    )


def _regions(read: dict[str, list[Any]], positions: np.ndarray) -> np.ndarray:
    """Phone region per compared pair: the user's usageLocation, else their country as ISO alpha-2."""
    usage, countries = read["usageLocation"], read["country"]
    by_user = [phone_region(u, c) for u, c in zip(usage, countries, strict=True)]
    return _objects(by_user, len(by_user))[positions]


def _manager_positions(manager_ids: np.ndarray | None, user_ids: np.ndarray) -> np.ndarray:
    """Per user: the position of their manager among the Entra users (-1: none or unknown)."""
    if manager_ids is None:
        return np.full(len(user_ids), -1, dtype=np.int64)
    where = {uid: i for i, uid in enumerate(user_ids.tolist())}
    return np.fromiter((where.get(m, -1) if m else -1 for m in manager_ids), dtype=np.int64, count=len(user_ids))


def _expected_manager(manager_ids: np.ndarray | None, user_ids: np.ndarray, join: _Join,
                      account_ids: np.ndarray) -> np.ndarray:
    """The RingCentral id of the account paired with each user's manager (None: no manager, or not comparable)."""
    boss = _manager_positions(manager_ids, user_ids)
    boss_account = np.where(boss >= 0, join.user_account[np.maximum(boss, 0)], -1)
    out = np.empty(len(user_ids), dtype=object)
    out[:] = None
    has = boss_account >= 0
    out[has] = account_ids[boss_account[has]]
    return out


def _manager_comparable(manager_ids: np.ndarray | None, user_ids: np.ndarray, join: _Join) -> np.ndarray:
    """A user's manager is compared when they have none, or when the manager has exactly one clean account."""
    if manager_ids is None:
        return np.ones(len(user_ids), dtype=bool)
    boss = _manager_positions(manager_ids, user_ids)
    without = np.fromiter((not m for m in manager_ids), dtype=bool, count=len(user_ids))
    clean = (boss >= 0) & (join.user_account[np.maximum(boss, 0)] >= 0)
    return without | clean


def _expected_frame(entra: _Entra, join: _Join, account_ids: np.ndarray, audited: list[str]) -> pd.DataFrame:
    """One row per Entra user: scope, pairing, and the expected raw value of every audited attribute."""
    scope = entra.scope
    account = np.full(len(entra.ids), "", dtype=object)
    has = join.user_account >= 0
    account[has] = account_ids[join.user_account[has]]
    columns: dict[str, Any] = {
        "entra_id": pd.array(entra.ids, dtype="str"), "user_name": pd.array(entra.upns, dtype="str"),
        "bucket": pd.Categorical(scope.bucket, categories=BUCKETS), "live": scope.live, "disabled": scope.disabled,
        "pending": scope.pending, "deleted": entra.deleted, "accounts": join.user_hits,
        "scim_id": pd.array(account, dtype="str"),
    }
    columns.update((t, pd.Series(entra.expected[t], dtype=object)) for t in [ACTIVE, *audited]
                   if t in entra.expected)
    return pd.DataFrame(columns, copy=False)


def _actual_frame(rc: _RingCentral, join: _Join, user_ids: np.ndarray, audited: list[str]) -> pd.DataFrame:
    """One row per RingCentral account: state, pairing, and the raw value of every audited attribute."""
    entra = np.full(len(rc.ids), "", dtype=object)
    has = join.account_user >= 0
    entra[has] = user_ids[join.account_user[has]]
    columns: dict[str, Any] = {
        "scim_id": pd.array(rc.ids, dtype="str"), "active": rc.active,
        "created": pd.Series(rc.created_ns.view("datetime64[ns]")).dt.tz_localize("UTC"),
        "entra_id": pd.array(entra, dtype="str"), "match_key": pd.array(join.match_key, dtype="str"),
        "ambiguous": join.ambiguous, "entra_users": join.account_hits,
    }
    columns.update((t, pd.Series(rc.actual[t], dtype=object)) for t in audited)
    return pd.DataFrame(columns, copy=False)
