"""PatchOps for fix-ups: each change in the wire form Entra sends RingCentral, with its inverse. Pure: no network.

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

import copy
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from rcaudit.audit.normalize import is_empty, normaliser_for, raw
from rcaudit.model.errors import ConfigError
from rcaudit.model.scim_path import parse_target, target_reader
from rcaudit.model.vocabulary import CORE_USER

WIRE_ENTRA = "entra"  # the forms Entra's provisioning service sends RingCentral (DESIGN.md "Writes to RingCentral")
WIRE_LEGACY = "legacy"  # plans written before: JSON booleans unless `boolean_strings`, whole typed items
WIRES = (WIRE_ENTRA, WIRE_LEGACY)
ACTIVE = "active"


IDLE_KEYS = frozenset({"type", "primary", "display"})  # what is left in an item that holds nothing any more
EMPTY = "(empty)"


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
