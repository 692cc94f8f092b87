"""Who Entra's provisioning service manages: DESIGN.md's scope buckets, live, pending, and scoping filters.

In scope: a user assigned to the service principal with **any** app role, Default Access included (directly,
or as a **direct** member of a group assigned that way), or every user in scope mode `all`; attribute
scoping filters then apply (clauses ANDed within a filter, filters ORed, case-sensitive, every comparison
false on a null or empty value). Every user lands in exactly one bucket: `in_scope`, else `filtered_out`
(assigned, or every user in mode `all`, but no scoping filter lets them through), else `nested_only`, else
`unassigned`. `live`, `disabled`, `pending` and `default_access` (in scope only through Default Access
assignments) are subsets of `in_scope`.

Default Access: the RingCentral tutorial (2019) says users with only the Default Access role are skipped.
Entra stopped skipping them: "Users assigned to the default access role will be evaluated the same as all
other roles" for configurations created after 04/16/2020, and "After July 2020, the behavior will be uniform
for all applications" (MicrosoftDocs/entra-docs
`docs/identity/app-provisioning/application-provisioning-config-problem-no-users-provisioned.md`, section
"Provisioning users assigned to the default access role"). So they are provisioned like any other role;
`default_access` is a separate count only to tell admins who followed the tutorial that they are in scope.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rcaudit.audit.mapping import (
    COMPUTED_SOURCES,
    check_graph_sources,
    graph_property,
    source_value,
    user_object_mappings,
)
from rcaudit.model.errors import ConfigError, MappingError
from rcaudit.model.vocabulary import DEFAULT_ACCESS_ROLE

SCOPE_MODES = ("assigned", "all")
BUCKETS = ("in_scope", "filtered_out", "nested_only", "unassigned")
USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"


# --- scoping filters --------------------------------------------------------------------------------------------

def _operator_key(name: str) -> str:
    return re.sub(r"[\s_]+", "", name).upper()


# Entra's operators (portal and Graph spellings), keyed without spaces or underscores.
OPERATORS: dict[str, str] = {
    "EQUALS": "EQUALS", "NOTEQUALS": "NOT EQUALS", "ISNULL": "IS NULL", "ISNOTNULL": "IS NOT NULL",
    "ISTRUE": "IS TRUE", "ISFALSE": "IS FALSE", "REGEXMATCH": "REGEX MATCH", "NOTREGEXMATCH": "NOT REGEX MATCH",
    "GREATERTHAN": "Greater_Than", "GREATERTHANOREQUALS": "Greater_Than_OR_EQUALS", "LESSTHAN": "Less_Than",
    "LESSTHANOREQUALS": "Less_Than_OR_EQUALS", "INCLUDES": "Includes", "ENDSWITH": "ENDS_WITH",
    "&": "&", "!&": "!&",
}
_UNARY = frozenset({"IS NULL", "IS NOT NULL", "IS TRUE", "IS FALSE"})


@dataclass(frozen=True)
class FilterClause:
    """One condition on one source attribute (a provisioning name such as `department` or `mobile`)."""

    attribute: str
    operator: str  # canonical spelling from OPERATORS
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        canonical = OPERATORS.get(_operator_key(self.operator))
        if canonical is None:
            raise MappingError(f"scoping filter on {self.attribute}: unknown operator {self.operator!r} "
                               f"(known: {', '.join(sorted(set(OPERATORS.values())))})")
        object.__setattr__(self, "operator", canonical)
        if canonical not in _UNARY and not self.values:
            raise MappingError(f"scoping filter on {self.attribute}: {canonical} needs a value")

    def test(self, value: Any) -> bool:
        """Entra's semantics: IS NULL/IS NOT NULL look at emptiness; every other clause is false on empty."""
        empty = value is None or value == "" or (isinstance(value, list | tuple) and not value)
        if self.operator == "IS NULL":
            return empty
        if self.operator == "IS NOT NULL":
            return not empty
        if empty:
            return False
        if isinstance(value, list | tuple):
            value = value[0]
        text = ("True" if value else "False") if isinstance(value, bool) else str(value)
        return _test(self.operator, text, self.values, _patterns(self.values) if "REGEX" in self.operator else ())


_PATTERN_CACHE: dict[tuple[str, ...], tuple[re.Pattern[str], ...]] = {}


def _patterns(values: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    found = _PATTERN_CACHE.get(values)
    if found is None:
        try:
            found = tuple(re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", v)) for v in values)
        except re.error as exc:
            raise MappingError(f"scoping filter: invalid regular expression in {values!r}: {exc}") from None
        _PATTERN_CACHE[values] = found
    return found


def _integer(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _test(operator: str, text: str, values: tuple[str, ...], patterns: tuple[re.Pattern[str], ...]) -> bool:
    if operator == "EQUALS":
        return text in values
    if operator == "NOT EQUALS":
        return text not in values
    if operator == "REGEX MATCH":
        return any(p.search(text) for p in patterns)
    if operator == "NOT REGEX MATCH":
        return not any(p.search(text) for p in patterns)
    if operator == "Includes":
        return any(v in text for v in values)
    if operator == "ENDS_WITH":
        return any(text.endswith(v) for v in values)
    if operator in ("&", "!&"):  # the value is one of a list (comma-separated values allowed)
        listed = {item.strip() for v in values for item in v.split(",")}
        return (text in listed) == (operator == "&")
    if operator in ("IS TRUE", "IS FALSE"):
        return text.lower() == ("true" if operator == "IS TRUE" else "false")
    number, bound = _integer(text), _integer(values[0])
    if number is None or bound is None:
        return False
    return {"Greater_Than": number > bound, "Greater_Than_OR_EQUALS": number >= bound,
            "Less_Than": number < bound, "Less_Than_OR_EQUALS": number <= bound}[operator]


@dataclass(frozen=True)
class FilterGroup:
    """One scoping filter: its clauses are ANDed."""

    name: str
    clauses: tuple[FilterClause, ...]

    def test(self, user: Mapping[str, Any]) -> bool:
        return all(clause.test(attribute_value(user, clause.attribute)) for clause in self.clauses)


@dataclass(frozen=True)
class ScopingFilters:
    """Filters in Graph's shape: each set ORs its groups; every non-empty set must pass (sets are ANDed).

    A filter written in configuration is one set; a live schema may carry `groups`, `inputFilterGroups`
    and `categoryFilterGroups`, each a set.
    """

    sets: tuple[tuple[FilterGroup, ...], ...] = ()
    source: str = "none"  # "schema", "configuration" or "none"

    def __bool__(self) -> bool:
        return any(self.sets)

    def test(self, user: Mapping[str, Any]) -> bool:
        return all(any(group.test(user) for group in groups) for groups in self.sets if groups)

    @property
    def attributes(self) -> tuple[str, ...]:
        """The provisioning source names the filters read (the fetch must $select their Graph properties)."""
        seen = {c.attribute: None for groups in self.sets for g in groups for c in g.clauses}
        return tuple(seen)

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": g.name, "clauses": [{"attribute": c.attribute, "operator": c.operator,
                                              "values": list(c.values)} for c in g.clauses]}
                for groups in self.sets for g in groups]


def _clause(raw: Mapping[str, Any], where: str) -> FilterClause:
    attribute = raw.get("sourceOperandName", raw.get("attribute"))
    operator = raw.get("operatorName", raw.get("operator"))
    if not attribute or not operator:
        raise MappingError(f"{where}: a clause needs sourceOperandName (attribute) and operatorName (operator)")
    if "targetOperand" in raw:
        values = (raw.get("targetOperand") or {}).get("values") or []
    elif "values" in raw:
        values = raw.get("values") or []
    else:
        values = [] if raw.get("value") is None else [raw.get("value")]
    if isinstance(values, str):
        values = [values]
    return FilterClause(str(attribute), str(operator), tuple(str(v) for v in values))


def _groups(raw: Iterable[Mapping[str, Any]], where: str) -> tuple[FilterGroup, ...]:
    groups = []
    for i, group in enumerate(raw or ()):
        name = str(group.get("name") or f"filter {i + 1}")
        clauses = tuple(_clause(c, f"{where}[{name}]") for c in group.get("clauses") or ())
        if clauses:
            groups.append(FilterGroup(name, clauses))
    return tuple(groups)


def parse_scoping_filters(raw: Any, source: str = "configuration") -> ScopingFilters:
    """Graph's filter shape (`{"groups": [...], "inputFilterGroups": [...], ...}`) or a plain list of filters
    (`[{"name": …, "clauses": [{"attribute": "department", "operator": "EQUALS", "value": "Sales"}]}]`)."""
    if raw is None:
        return ScopingFilters()
    if isinstance(raw, ScopingFilters):
        return raw
    if isinstance(raw, Mapping):
        sets = tuple(_groups(raw.get(key) or (), f"scope.{key}")
                     for key in ("categoryFilterGroups", "inputFilterGroups", "groups"))
        return ScopingFilters(tuple(s for s in sets if s), source)
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        groups = _groups(raw, "scoping filters")
        return ScopingFilters((groups,) if groups else (), source)
    raise MappingError(f"scoping filters must be a list of filters or Graph's filter object, not {type(raw).__name__}")


def scoping_filters_from_schema(schema: Mapping[str, Any] | None) -> ScopingFilters:
    """The `scope` of the schema's user object mapping, the same one the live mapping comes from (none when
    absent): a job whose target is spelled as a SCIM URN keeps its filters."""
    found = user_object_mappings(dict(schema) if schema else None)
    return parse_scoping_filters(found[0][1].get("scope"), "schema") if found else ScopingFilters()


def attribute_value(user: Mapping[str, Any], name: str) -> Any:
    """A user's value for a provisioning source name (`mobile` → mobilePhone, `telephoneNumber` →
    businessPhones[0], `objectId` → id)."""
    if graph_property(name) is None:
        raise MappingError(f"scoping filters cannot read the computed attribute {name}")
    return source_value(user, name)


# --- scope ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScopeResult:
    """Per Entra user (in the order given): bucket, live, pending, and the roles that put them in scope."""

    ids: tuple[str, ...]
    bucket: np.ndarray  # one of BUCKETS per user
    live: np.ndarray  # bool
    disabled: np.ndarray  # bool: in scope, not live (disabled or soft-deleted)
    pending: np.ndarray  # bool: live, created or put in scope inside the grace window
    in_scope_since: np.ndarray  # datetime64[ns] in UTC: earliest assignment putting the user in scope (NaT: none)
    filtered_out: np.ndarray  # bool: would be in scope, but no scoping filter lets them through (its bucket)
    default_access: np.ndarray  # bool: in scope, and only through Default Access assignments
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # user id -> in-scope role values
    mode: str = "assigned"
    filters: ScopingFilters = field(default_factory=ScopingFilters)

    def counts(self) -> dict[str, int]:
        """summary.json `scope` (DESIGN.md): the four buckets and the subsets of `in_scope`, in its order."""
        counts = {name: int((self.bucket == name).sum()) for name in BUCKETS}
        return {
            "in_scope": counts["in_scope"], "live": int(self.live.sum()), "disabled": int(self.disabled.sum()),
            "nested_only": counts["nested_only"], "default_access": int(self.default_access.sum()),
            "unassigned": counts["unassigned"], "pending": int(self.pending.sum()),
            "filtered_out": counts["filtered_out"],
        }


NEVER = np.iinfo(np.int64).min  # the int64 of NaT: an absent or unreadable timestamp


def utc_ns(values: Sequence[Any]) -> np.ndarray:
    """ISO 8601 timestamps (`…Z`, fractions, offsets) as int64 nanoseconds since the epoch, NEVER when absent
    or unreadable: Arrow's parser, pandas' for anything Arrow refuses."""
    strings = [v if isinstance(v, str) and v else None for v in values]
    try:
        parsed = pc.cast(pa.array(strings, type=pa.string()), pa.timestamp("ns", tz="UTC"))
        return np.array(parsed.cast(pa.int64()).fill_null(NEVER), dtype=np.int64)  # a writable copy
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        stamps = pd.to_datetime(pd.Series(strings, dtype=object), utc=True, errors="coerce", format="ISO8601")
        return stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def default_access_roles(service_principal: Mapping[str, Any]) -> set[str]:
    """Role ids that mean Default Access: the zero GUID and any role named msiam_access."""
    roles = {DEFAULT_ACCESS_ROLE}
    roles.update(str(r.get("id")) for r in service_principal.get("appRoles") or []
                 if r.get("displayName") == "msiam_access")
    return roles


def _member_ids(members: Iterable[Mapping[str, Any]] | None) -> list[str]:
    return [str(m["id"]) for m in members or () if m.get("id") and m.get("@odata.type", USER_TYPE) != GROUP_TYPE]


_NOT_SINCE = np.iinfo(np.int64).max  # in-scope-since for no assignment, or one of unknown time: never "recent"


class _Reach(NamedTuple):
    """Every (user position, assignment index) pair an assignment reaches, and what it makes of each user."""

    target_pos: np.ndarray
    assignment_pos: np.ndarray
    assigned: np.ndarray  # reached by any assignment (any role, Default Access included)
    only_default: np.ndarray  # reached only by Default Access assignments


def _reach(position: Mapping[str, int], n: int, assignments: Sequence[Mapping[str, Any]],
           group_members: Mapping[str, Sequence[Mapping[str, Any]]], default_roles: set[str]) -> _Reach:
    """Who each assignment reaches: the user it names, or the **direct** members of the group it names
    (nested members are not provisioned); principals not among the users reach no one."""
    group_positions = {gid: _positions(position, members) for gid, members in group_members.items()}
    no_one = np.empty(0, dtype=np.int64)
    kinds = [a.get("principalType") or "User" for a in assignments]
    principals = [str(a.get("principalId")) for a in assignments]
    is_default = np.fromiter((str(a.get("appRoleId")) in default_roles for a in assignments), dtype=bool,
                             count=len(assignments))
    direct = np.flatnonzero(np.fromiter((kind == "User" for kind in kinds), dtype=bool, count=len(kinds)))
    direct_targets = np.fromiter((position.get(principals[k], -1) for k in direct.tolist()), dtype=np.int64,
                                 count=len(direct))
    via_groups = [(k, group_positions.get(principals[k], no_one)) for k, kind in enumerate(kinds) if kind == "Group"]
    target_all = np.concatenate([direct_targets, *(members for _, members in via_groups)])
    assignment_all = np.concatenate([direct, *(np.full(len(members), k, dtype=np.int64) for k, members in via_groups)])
    known = target_all >= 0
    target_all, assignment_all = target_all[known], assignment_all[known]
    assigned = np.zeros(n, dtype=bool)
    assigned[target_all] = True
    other_role = np.zeros(n, dtype=bool)
    other_role[target_all[~is_default[assignment_all]]] = True
    return _Reach(target_all, assignment_all, assigned, assigned & ~other_role)


def _positions(position: Mapping[str, int], members: Iterable[Mapping[str, Any]] | None) -> np.ndarray:
    """The user positions of a group's user members (members that are not among the users are dropped)."""
    found = [position.get(m) for m in _member_ids(members)]
    return np.asarray([i for i in found if i is not None], dtype=np.int64)


def _passing(users: Sequence[Mapping[str, Any]], candidate: np.ndarray, filters: ScopingFilters) -> np.ndarray:
    """Which candidates the scoping filters let through (only candidates are tested: filters are slow)."""
    passes = candidate.copy()
    if filters:
        for i in np.flatnonzero(candidate).tolist():
            passes[i] = filters.test(users[i])
    return passes


def _recent(users: Sequence[Mapping[str, Any]], since_ns: np.ndarray, cutoff: dt.datetime) -> np.ndarray:
    """Created, or brought into scope, after `cutoff`: the provisioning cycle may not have reached them yet."""
    created_ns = utc_ns([u.get("createdDateTime") for u in users])
    cutoff_ns = pd.Timestamp(cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=dt.UTC)).value
    return (created_ns > cutoff_ns) | ((since_ns > cutoff_ns) & (since_ns != _NOT_SINCE))


def compute_scope(users: Sequence[Mapping[str, Any]], deleted: np.ndarray, *,
                  service_principal: Mapping[str, Any], assignments: Sequence[Mapping[str, Any]],
                  group_members: Mapping[str, Sequence[Mapping[str, Any]]],
                  group_transitive_members: Mapping[str, Sequence[Mapping[str, Any]]],
                  cutoff: dt.datetime, mode: str = "assigned", filters: ScopingFilters | None = None,
                  with_roles: bool = False) -> ScopeResult:
    """Buckets, live and pending for `users` (live users then soft-deleted ones; `deleted` flags the latter).

    `cutoff` is the start of the grace window (the snapshot's Graph fetch time minus the window);
    `with_roles` also collects each user's in-scope role values (for SingleAppRoleAssignment).
    """
    if mode not in SCOPE_MODES:
        raise ConfigError(f"scope mode must be one of {', '.join(SCOPE_MODES)}, not {mode!r}")
    filters = filters or ScopingFilters()
    ids = tuple(str(u.get("id")) for u in users)
    position = dict(zip(ids, range(len(ids)), strict=True))
    default_roles = default_access_roles(service_principal)
    n = len(ids)
    reach = _reach(position, n, assignments, group_members, default_roles)
    target_pos, assignment_pos, assigned = reach.target_pos, reach.assignment_pos, reach.assigned
    assigned_ns = utc_ns([a.get("createdDateTime") for a in assignments])
    assigned_ns[assigned_ns == NEVER] = _NOT_SINCE  # unknown time: never "recent"
    since_ns = np.full(n, _NOT_SINCE, dtype=np.int64)
    if mode == "assigned" and len(target_pos):
        np.minimum.at(since_ns, target_pos, assigned_ns[assignment_pos])
    nested = np.zeros(n, dtype=bool)
    for members in group_transitive_members.values():
        nested[_positions(position, members)] = True

    candidate = np.ones(n, dtype=bool) if mode == "all" else assigned
    passes = _passing(users, candidate, filters)
    bucket = np.where(passes, "in_scope", np.where(candidate, "filtered_out",
                                                   np.where(nested & ~assigned, "nested_only", "unassigned")))
    enabled = np.fromiter((u.get("accountEnabled") is True for u in users), dtype=bool, count=n)
    live = passes & enabled & ~np.asarray(deleted, dtype=bool)
    scope_since = np.where(since_ns == _NOT_SINCE, NEVER, since_ns).view("datetime64[ns]")  # UTC; NaT: none
    return ScopeResult(
        ids=ids, bucket=bucket, live=live, disabled=passes & ~live, pending=live & _recent(users, since_ns, cutoff),
        in_scope_since=scope_since, filtered_out=candidate & ~passes, default_access=passes & reach.only_default,
        roles=_roles(ids, target_pos, assignment_pos, assignments, assigned_ns, service_principal, default_roles)
        if with_roles else {},
        mode=mode, filters=filters,
    )


def _roles(ids: tuple[str, ...], target_pos: np.ndarray, assignment_pos: np.ndarray,
           assignments: Sequence[Mapping[str, Any]], assigned_ns: np.ndarray,
           service_principal: Mapping[str, Any], default_roles: set[str]) -> dict[str, tuple[str, ...]]:
    """Each user's in-scope role values (a role's `value`, else its displayName), earliest assignment first.

    Default Access has no value (`value` null) and puts no role in the list, as before it counted for scope."""
    value_of = {str(r.get("id")): r.get("value") or r.get("displayName") for r in
                service_principal.get("appRoles") or [] if str(r.get("id")) not in default_roles}
    order = np.lexsort((assigned_ns[assignment_pos], target_pos))
    found: dict[str, list[str]] = {}
    for i, k in zip(target_pos[order].tolist(), assignment_pos[order].tolist(), strict=True):
        value = value_of.get(str(assignments[k].get("appRoleId")))
        if value and value not in found.setdefault(ids[i], []):
            found[ids[i]].append(str(value))
    return {uid: tuple(values) for uid, values in found.items()}


def filter_graph_properties(filters: ScopingFilters) -> list[str]:
    """Graph properties the filters read, for the fetch's `$select` (computed sources are refused)."""
    out = []
    for name in filters.attributes:
        if name in COMPUTED_SOURCES:
            raise MappingError(f"scoping filters cannot read the computed attribute {name}")
        check_graph_sources((), [name], extra_where=f"the scoping filters ({filters.source})")
        prop = graph_property(name)
        if prop and prop not in out:
            out.append(prop)
    return out
