"""SCIM PATCH (RFC 7644 §3.5.2) for the sandbox: path parsing and application over plain dicts.

Pure functions: nothing here touches the network or the sandbox state. The sandbox keeps users as the
JSON RingCentral returns (arbitrary extra properties included), so the engine works on dicts and
resolves every path against the schema profile (`scim_schemas`), not against typed models.

RingCentral semantics reproduced here, beyond the RFC:
- op names are case-insensitive (Entra sends `Replace`), and `"True"`/`"False"` strings are booleans;
- RingCentral keeps one value per `type` in a multi-valued attribute (one work e-mail, one mobile),
  so adding an item whose type exists replaces that item;
- the phone numbers RingCentral owns (`work`: the direct number, `other`: the extension) survive a
  replace or remove of the whole `phoneNumbers` list;
- undeclared sub-attributes inside a value are dropped (RingCentral stores only what it declares),
  while an undeclared attribute *path* is refused with `invalidPath`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from rcaudit.model.vocabulary import PATCH_OP
from rcaudit.sandbox.servers.scim_schemas import (
    CORE_USER,
    ENTERPRISE_USER,
    Attribute,
    canonical_schema,
    find_attribute,
    find_sub_attribute,
    user_attributes,
)

OPS = ("add", "replace", "remove")
RC_OWNED_PHONE_TYPES = ("work", "other")
_READ_ONLY = ("id", "meta", "schemas")

FilterValue = str | bool | int | float | None


class PatchError(Exception):
    """A request the SCIM service refuses: HTTP `status` with RFC 7644 §3.12 `scim_type` and a detail."""

    def __init__(self, scim_type: str | None, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.scim_type = scim_type
        self.detail = detail
        self.status = status

    def at(self, where: str) -> PatchError:
        """The same error with `where` (e.g. `Operations[2]`) in front of the detail."""
        return PatchError(self.scim_type, f"{where}: {self.detail}", self.status)


def _invalid_path(detail: str) -> PatchError:
    return PatchError("invalidPath", detail)


def _invalid_value(detail: str) -> PatchError:
    return PatchError("invalidValue", detail)


def _invalid_filter(detail: str) -> PatchError:
    return PatchError("invalidFilter", detail)


# --- path grammar ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """`attr eq value` inside a value selection (the only operator RingCentral paths need)."""

    attr: str
    value: FilterValue


@dataclass(frozen=True)
class PatchPath:
    """A parsed PATCH path: `[uri:]attr[.sub]` or `[uri:]attr[filter][.sub]`."""

    attr: str
    uri: str | None = None
    sub_attr: str | None = None
    filter: tuple[Comparison, ...] = ()


_NAME = r"(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)"
_HEAD = re.compile(rf"({_NAME})(?:\.({_NAME}))?")
_SUB = re.compile(rf"\.({_NAME})")
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))'
    r"|(?P<word>[A-Za-z$][\w$.:-]*)|(?P<other>\S))"
)
_OTHER_OPERATORS = ("ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr")


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH path; a malformed one raises `PatchError` (`invalidPath` or `invalidFilter`).

    A URN prefix is everything up to the last colon before any `[` (the URN itself holds dots, as in
    `…:enterprise:2.0:User:department`, so the path is never split on `.` before that).
    """
    raw = text.strip()
    if not raw:
        raise _invalid_path("empty path")
    uri: str | None = None
    rest = raw
    if raw[:4].lower() == "urn:":
        bracket = raw.find("[")
        head = raw if bracket < 0 else raw[:bracket]
        uri, _, name = head.rpartition(":")
        if not name or uri.lower() == "urn":
            raise _invalid_path(f"{text!r} names no attribute after its schema URN")
        rest = name + ("" if bracket < 0 else raw[bracket:])
    found = _HEAD.match(rest)
    if found is None:
        raise _invalid_path(f"{text!r} is not an attribute path")
    attr, sub = found.group(1), found.group(2)
    pos = found.end()
    comparisons: tuple[Comparison, ...] = ()
    if pos < len(rest) and rest[pos] == "[":
        if sub is not None:
            raise _invalid_path(f"{text!r}: a value selection cannot follow a sub-attribute")
        close = _closing_bracket(rest, pos, text)
        comparisons = parse_filter(rest[pos + 1 : close])
        pos = close + 1
        tail = _SUB.match(rest, pos)
        if tail is not None:
            sub, pos = tail.group(1), tail.end()
    if pos != len(rest):
        raise _invalid_path(f"{text!r}: unexpected {rest[pos:]!r}")
    return PatchPath(attr=attr, uri=uri, sub_attr=sub, filter=comparisons)


def _closing_bracket(text: str, start: int, original: str) -> int:
    """The index of the `]` closing the `[` at `start`, skipping quoted strings (`"a]b"`)."""
    in_string = False
    i = start + 1
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "[":
            raise _invalid_filter(f"{original!r}: nested value selections are not supported")
        elif char == "]":
            return i
        i += 1
    raise _invalid_path(f"{original!r}: unclosed '['")


def parse_filter(text: str) -> tuple[Comparison, ...]:
    """Parse `attr eq value [and attr eq value …]`; any other filter raises `invalidFilter`.

    Attribute names and operators are case-insensitive (RFC 7644 §3.4.2.2); string values follow
    JSON rules, so `\\"` is a quote inside the value.
    """
    tokens = _tokens(text)
    comparisons: list[Comparison] = []
    i = 0
    while True:
        if i + 3 > len(tokens):
            raise _invalid_filter(f"incomplete filter {text!r}")
        (attr_kind, attr), (op_kind, op), value_token = tokens[i], tokens[i + 1], tokens[i + 2]
        if attr_kind != "word" or op_kind != "word":
            raise _invalid_filter(f"filter {text!r} is not of the form 'attribute eq value'")
        if op.lower() != "eq":
            what = "not supported" if op.lower() in _OTHER_OPERATORS else "unknown"
            raise _invalid_filter(f"operator {op!r} is {what}: only 'eq' is supported in {text!r}")
        comparisons.append(Comparison(attr, _filter_value(value_token, text)))
        i += 3
        if i == len(tokens):
            return tuple(comparisons)
        kind, word = tokens[i]
        if kind != "word" or word.lower() != "and":
            raise _invalid_filter(f"only 'and' may join comparisons in {text!r}")
        i += 1


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:  # only trailing whitespace is left
            break
        kind = found.lastgroup or "other"
        if kind == "other":
            raise _invalid_filter(f"unexpected {found.group(kind)!r} in filter {text!r}")
        out.append((kind, found.group(kind)))
        pos = found.end()
    return out


def _filter_value(token: tuple[str, str], text: str) -> FilterValue:
    kind, raw = token
    if kind == "string":
        try:
            value: FilterValue = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _invalid_filter(f"bad string {raw} in filter {text!r}") from exc
        return value
    if kind == "number":
        return float(raw) if any(c in raw for c in ".eE") else int(raw)
    literals: dict[str, FilterValue] = {"true": True, "false": False, "null": None}
    if kind == "word" and raw.lower() in literals:
        return literals[raw.lower()]
    raise _invalid_filter(f"{raw!r} is not a value in filter {text!r}")


# --- the PatchOp message -----------------------------------------------------------------------
def patch_operations(body: Any) -> list[dict[str, Any]]:
    """The `Operations` of a PatchOp message, after checking its shape (`invalidSyntax` if wrong)."""
    if not isinstance(body, dict):
        raise PatchError("invalidSyntax", "the request body must be a PatchOp object")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or PATCH_OP.lower() not in [str(s).lower() for s in schemas]:
        raise PatchError("invalidSyntax", f"'schemas' must contain {PATCH_OP}")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise PatchError("invalidSyntax", "'Operations' must be a non-empty list")
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise PatchError("invalidSyntax", f"Operations[{index}] is not an object")
    return operations


def apply_patch(user: dict[str, Any], body: Any, profile: str) -> dict[str, Any]:
    """The user after the PatchOp message `body`, as a new dict: all operations apply or none.

    `user` itself is never changed, so a failing operation leaves the stored user as it was.
    """
    operations = patch_operations(body)
    result = copy.deepcopy(user)
    for index, operation in enumerate(operations):
        try:
            _apply_operation(result, operation, profile)
        except PatchError as err:
            raise err.at(f"Operations[{index}]") from None
    _check_required(user, result, profile)
    return result


def _apply_operation(doc: dict[str, Any], operation: dict[str, Any], profile: str) -> None:
    op = operation.get("op")
    if not isinstance(op, str) or op.lower() not in OPS:
        raise PatchError("invalidSyntax", f"unknown op {op!r}: expected add, replace or remove")
    op = op.lower()
    path = operation.get("path")
    if path is not None and not isinstance(path, str):
        raise _invalid_path("'path' must be a string")
    if op != "remove" and "value" not in operation:
        raise _invalid_value(f"'{op}' needs a 'value'")
    value = operation.get("value")
    if path is None or not path.strip():
        if op == "remove":
            raise PatchError("noTarget", "'remove' needs a path")
        _apply_object(doc, op, value, None, profile)
        return
    schema = canonical_schema(path.strip())
    if schema is None:
        _apply_path(doc, op, parse_path(path), value, profile)
    elif op != "remove":
        _apply_object(doc, op, value, schema, profile)
    elif schema == ENTERPRISE_USER:
        _pop(doc, ENTERPRISE_USER)
    else:
        raise _invalid_path("the core schema cannot be removed")


def _apply_object(doc: dict[str, Any], op: str, value: Any, schema: str | None, profile: str) -> None:
    """A path-less add/replace (or one whose path is a schema URN): each key is a path of its own."""
    if not isinstance(value, dict):
        raise _invalid_value(f"'{op}' without an attribute path needs an object value")
    for key, item in value.items():
        if key.lower() == "schemas":
            continue
        nested = canonical_schema(key)
        if nested is not None:
            _apply_object(doc, op, item, nested, profile)
            continue
        path = parse_path(key)
        if path.uri is None and schema is not None:
            path = replace(path, uri=schema)
        _apply_path(doc, op, path, item, profile)


# --- resolution --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    schema: str
    attr: Attribute
    sub: Attribute | None


def _resolve(path: PatchPath, profile: str) -> _Target:
    schema = CORE_USER if path.uri is None else canonical_schema(path.uri)
    if schema is None:
        raise _invalid_path(f"unknown schema {path.uri!r}")
    attr = find_attribute(profile, schema, path.attr)
    if attr is None:
        if schema == CORE_USER and path.attr.lower() in _READ_ONLY:
            raise PatchError("mutability", f"'{path.attr}' is read-only")
        raise _invalid_path(f"attribute {path.attr!r} is not supported")
    sub = None
    if path.sub_attr is not None:
        sub = find_sub_attribute(attr, path.sub_attr)
        if sub is None:
            raise _invalid_path(f"attribute '{attr['name']}.{path.sub_attr}' is not supported")
        if sub["mutability"] == "readOnly":
            raise PatchError("mutability", f"'{attr['name']}.{sub['name']}' is read-only")
    if path.filter:
        if not attr["multiValued"]:
            raise _invalid_path(f"'{attr['name']}' is single-valued: it takes no value selection")
        for comparison in path.filter:
            if find_sub_attribute(attr, comparison.attr) is None:
                raise _invalid_filter(f"'{attr['name']}' has no sub-attribute {comparison.attr!r} to filter on")
    return _Target(schema, attr, sub)


def _key(container: dict[str, Any], name: str) -> str:
    """The key under which `container` holds `name` (attribute names are case-insensitive)."""
    return next((k for k in container if k.lower() == name.lower()), name)


def _pop(container: dict[str, Any], name: str) -> None:
    container.pop(_key(container, name), None)


def _set(container: dict[str, Any], name: str, value: Any) -> None:
    """Set `name`, replacing a differently-cased key so the canonical spelling is stored."""
    existing = _key(container, name)
    if existing != name:
        del container[existing]
    container[name] = value


def _container(doc: dict[str, Any], schema: str, create: bool) -> dict[str, Any] | None:
    if schema == CORE_USER:
        return doc
    extension = doc.get(_key(doc, schema))
    if isinstance(extension, dict):
        return extension
    if not create:
        return None
    extension = {}
    _set(doc, schema, extension)
    schemas = doc.get("schemas")
    if isinstance(schemas, list) and schema not in schemas:
        schemas.append(schema)
    return extension


# --- application -------------------------------------------------------------------------------
def _apply_path(doc: dict[str, Any], op: str, path: PatchPath, value: Any, profile: str) -> None:
    target = _resolve(path, profile)
    container = _container(doc, target.schema, create=op != "remove" and value is not None)
    if container is None:
        return
    if target.attr["multiValued"]:
        _apply_multi(container, op, path, target, value)
    elif target.sub is not None:
        _apply_sub(container, op, target.attr, target.sub, value)
    else:
        _apply_single(container, op, target.attr, value)
    if target.schema != CORE_USER and not container:
        _pop(doc, target.schema)


def _apply_single(container: dict[str, Any], op: str, attr: Attribute, value: Any) -> None:
    name = attr["name"]
    if op == "remove" or value is None:
        _pop(container, name)
    elif attr["type"] == "complex":  # RFC 7644 §3.5.2.3: unspecified sub-attributes stay as they are
        current = container.get(_key(container, name))
        merged = dict(current) if isinstance(current, dict) else {}
        for key, sub_value in _coerce_complex(attr, value, name).items():
            if sub_value is None:
                _pop(merged, key)
            else:
                _set(merged, key, sub_value)
        if merged:
            _set(container, name, merged)
        else:
            _pop(container, name)
    else:
        _set(container, name, _coerce_simple(attr, value, name))


def _apply_sub(container: dict[str, Any], op: str, attr: Attribute, sub: Attribute, value: Any) -> None:
    name, where = attr["name"], f"{attr['name']}.{sub['name']}"
    current = container.get(_key(container, name))
    if op == "remove" or value is None:
        if isinstance(current, dict):
            _pop(current, sub["name"])
            if not current:
                _pop(container, name)
        return
    if not isinstance(current, dict):
        current = {}
        _set(container, name, current)
    _set(current, sub["name"], _coerce_simple(sub, value, where))


def _apply_multi(container: dict[str, Any], op: str, path: PatchPath, target: _Target, value: Any) -> None:
    attr = target.attr
    name = attr["name"]
    stored = container.get(_key(container, name))
    items: list[Any] = list(stored) if isinstance(stored, list) else []
    if path.filter:
        items = _apply_selected(items, op, path, target, value)
    elif target.sub is not None:
        items = _apply_sub_of_all(items, op, target, value)
    elif op == "remove" or (op == "replace" and value is None):  # null unassigns (RFC 7643 §2.5)
        items = _remove_items(items, attr, value)
    elif value is None:
        return
    else:
        new_items = [_coerce_item(attr, v, name) for v in (value if isinstance(value, list) else [value])]
        items = _replace_items(items, attr, new_items) if op == "replace" else _add_items(items, new_items)
    if items:
        _set(container, name, items)
    else:
        _pop(container, name)


def _apply_selected(items: list[Any], op: str, path: PatchPath, target: _Target, value: Any) -> list[Any]:
    """An op on `attr[filter]` or `attr[filter].sub`."""
    attr, sub = target.attr, target.sub
    where = str(attr["name"]) + (f".{sub['name']}" if sub else "")
    selected = [i for i, item in enumerate(items) if isinstance(item, dict) and _matches(item, path.filter)]
    if not selected:
        if op == "remove" or value is None:
            return items
        if op == "replace":
            raise PatchError("noTarget", f"no value of '{attr['name']}' matches the filter")
        created = _filter_item(attr, path.filter)  # add to a missing item creates it
        if sub is not None:
            created[sub["name"]] = _coerce_simple(sub, value, where)
        else:
            created.update({k: v for k, v in _coerce_complex(attr, value, where).items() if v is not None})
        _check_item(attr, created, where)
        return _add_items(items, [created])
    drop: set[int] = set()
    for i in selected:
        item = items[i]
        if sub is not None:
            if op == "remove" or value is None:
                _pop(item, sub["name"])
                if not _meaningful(item, path.filter):
                    drop.add(i)
            else:
                _set(item, sub["name"], _coerce_simple(sub, value, where))
        elif op == "remove" or value is None:  # null unassigns (RFC 7643 §2.5)
            drop.add(i)
        elif op == "add":
            for key, sub_value in _coerce_complex(attr, value, where).items():
                if sub_value is None:
                    _pop(item, key)
                else:
                    _set(item, key, sub_value)
        else:  # replace: RFC 7644 §3.5.2.3, every matching value is replaced
            new = {**_filter_item(attr, path.filter), **_coerce_item(attr, value, where)}
            _check_item(attr, new, where)
            items[i] = new
    return [item for i, item in enumerate(items) if i not in drop]


def _apply_sub_of_all(items: list[Any], op: str, target: _Target, value: Any) -> list[Any]:
    """`emails.value` without a filter addresses the sub-attribute of every value."""
    sub = target.sub
    assert sub is not None
    dicts = [item for item in items if isinstance(item, dict)]
    if not dicts:
        if op == "replace" and value is not None:
            raise PatchError("noTarget", f"'{target.attr['name']}' holds no value")
        if op == "add" and value is not None:
            raise _invalid_value(f"'{target.attr['name']}.{sub['name']}' cannot create a value: use a filter")
        return items
    for item in dicts:
        if op == "remove" or value is None:
            _pop(item, sub["name"])
        else:
            _set(item, sub["name"], _coerce_simple(sub, value, f"{target.attr['name']}.{sub['name']}"))
    return items


def _type_of(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    value = item.get(_key(item, "type"))
    return value.lower() if isinstance(value, str) else None


def _rc_owned(attr: Attribute, item: Any) -> bool:
    return attr["name"] == "phoneNumbers" and _type_of(item) in RC_OWNED_PHONE_TYPES


def _add_items(items: list[Any], new_items: list[dict[str, Any]]) -> list[Any]:
    """Add values; RingCentral keeps one value per type, so a value of an existing type replaces it."""
    out = list(items)
    for new in new_items:
        kind = _type_of(new)
        same = next((i for i, item in enumerate(out) if kind is not None and _type_of(item) == kind), None)
        if same is not None:
            out[same] = new
        elif new not in out:
            out.append(new)
    return out


def _replace_items(items: list[Any], attr: Attribute, new_items: list[dict[str, Any]]) -> list[Any]:
    """Replace the whole list, except the phone numbers RingCentral owns."""
    kept = [item for item in items if _rc_owned(attr, item)]
    return _add_items(kept, [item for item in new_items if not _rc_owned(attr, item)])


def _remove_items(items: list[Any], attr: Attribute, value: Any) -> list[Any]:
    """Remove every value (but RingCentral's own numbers), or only those equal to the given ones."""
    if value is None:
        return [item for item in items if _rc_owned(attr, item)]
    wanted = value if isinstance(value, list) else [value]
    if not all(isinstance(w, dict) for w in wanted):
        raise _invalid_value(f"values to remove from '{attr['name']}' must be objects")
    comparisons = [tuple(Comparison(k, v) for k, v in w.items()) for w in wanted]
    return [item for item in items if not any(isinstance(item, dict) and _matches(item, c) for c in comparisons)]


def _matches(item: dict[str, Any], comparisons: tuple[Comparison, ...]) -> bool:
    for comparison in comparisons:
        actual = item.get(_key(item, comparison.attr))
        expected = comparison.value
        if isinstance(actual, str) and isinstance(expected, str):
            if actual.casefold() != expected.casefold():
                return False
        elif actual != expected or isinstance(actual, bool) != isinstance(expected, bool):
            return False
    return True


def _filter_item(attr: Attribute, comparisons: tuple[Comparison, ...]) -> dict[str, Any]:
    """The sub-attributes a value selection pins down, to seed a value that `add` creates."""
    item: dict[str, Any] = {}
    for comparison in comparisons:
        sub = find_sub_attribute(attr, comparison.attr)
        assert sub is not None  # checked by _resolve
        item[sub["name"]] = _coerce_simple(sub, comparison.value, f"{attr['name']}.{sub['name']}")
    return item


def _meaningful(item: dict[str, Any], comparisons: tuple[Comparison, ...]) -> bool:
    """Whether a value still holds more than its selector (`type`, `primary`) after a removal."""
    idle = {"type", "primary"} | {c.attr.lower() for c in comparisons}
    return any(k.lower() not in idle and v not in (None, "") for k, v in item.items())


# --- values ------------------------------------------------------------------------------------
def _coerce_simple(attr: Attribute, value: Any, where: str) -> Any:
    """`value` as the attribute's type; booleans also accept Entra's "True"/"False" strings."""
    kind = attr["type"]
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _invalid_value(f"'{where}' must be a boolean, got {json.dumps(value)}")
    if kind == "complex":
        raise _invalid_value(f"'{where}' is complex: give an object")
    if not isinstance(value, str):
        raise _invalid_value(f"'{where}' must be a string, got {json.dumps(value)}")
    canonical = attr.get("canonicalValues")
    if canonical:
        match = next((c for c in canonical if c.lower() == value.strip().lower()), None)
        if match is None:
            raise _invalid_value(f"'{where}' must be one of {', '.join(canonical)}, got {value!r}")
        return match
    return value


def _coerce_complex(attr: Attribute, value: Any, where: str) -> dict[str, Any]:
    """The declared sub-attributes of an object value, coerced (None kept: it means "unassign")."""
    if isinstance(value, str) and find_sub_attribute(attr, "value") is not None and not attr["multiValued"]:
        value = {"value": value}  # e.g. Entra sends the manager as a bare id
    if not isinstance(value, dict):
        raise _invalid_value(f"'{where}' must be an object, got {json.dumps(value)}")
    out: dict[str, Any] = {}
    for key, sub_value in value.items():
        sub = find_sub_attribute(attr, key)
        if sub is None:
            if key.lower() == "primary" and attr["multiValued"]:
                out["primary"] = None if sub_value is None else _coerce_simple(
                    {"type": "boolean"}, sub_value, f"{where}.primary")
            continue  # not stored by RingCentral: dropped
        if sub["mutability"] == "readOnly":
            continue
        out[sub["name"]] = None if sub_value is None else _coerce_simple(sub, sub_value, f"{where}.{sub['name']}")
    return out


def _coerce_item(attr: Attribute, value: Any, where: str) -> dict[str, Any]:
    """One whole value of a multi-valued attribute, with its required sub-attributes."""
    item = {k: v for k, v in _coerce_complex(attr, value, where).items() if v is not None}
    _check_item(attr, item, where)
    return item


def _check_item(attr: Attribute, item: dict[str, Any], where: str) -> None:
    for sub in attr.get("subAttributes", ()):
        if sub["required"] and item.get(sub["name"]) in (None, ""):
            raise _invalid_value(f"a value of '{where}' needs '{sub['name']}'")


def _coerce_value(attr: Attribute, value: Any, where: str) -> Any:
    if attr["multiValued"]:
        return [_coerce_item(attr, v, where) for v in (value if isinstance(value, list) else [value])]
    if attr["type"] == "complex":
        return {k: v for k, v in _coerce_complex(attr, value, where).items() if v is not None}
    return _coerce_simple(attr, value, where)


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def _check_required(before: dict[str, Any], after: dict[str, Any], profile: str) -> None:
    """Refuse (RFC 7644 §3.5.2: `mutability`) a patch that unassigns a required attribute."""
    for attr in user_attributes(profile, CORE_USER):
        if not attr["required"]:
            continue
        name = attr["name"]
        old, new = before.get(_key(before, name)), after.get(_key(after, name))
        if _present(old) and not _present(new):
            raise PatchError("mutability", f"required attribute '{name}' cannot be removed")
        if attr["type"] == "complex" and not attr["multiValued"] and isinstance(old, dict):
            for sub in attr.get("subAttributes", ()):
                new_sub = new.get(_key(new, sub["name"])) if isinstance(new, dict) else None
                if sub["required"] and _present(old.get(_key(old, sub["name"]))) and not _present(new_sub):
                    raise PatchError("mutability", f"required attribute '{name}.{sub['name']}' cannot be removed")


# --- whole resources (POST, PUT) ---------------------------------------------------------------
def clean_resource(body: Any, profile: str) -> dict[str, Any]:
    """The attributes of a POSTed or PUT user that the profile declares, coerced to their types.

    Everything else (`id`, `meta`, Entra's `name.formatted`, `roles`, an undeclared `displayName`)
    is dropped, as RingCentral does not store it; a declared attribute of the wrong type is refused.
    """
    if not isinstance(body, dict):
        raise PatchError("invalidSyntax", "the request body must be a User object")
    out: dict[str, Any] = {}
    schemas = body.get("schemas")
    if schemas is not None:
        if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
            raise _invalid_value("'schemas' must be a list of URNs")
        out["schemas"] = list(schemas)
    for key, value in body.items():
        if key.lower() in _READ_ONLY or value is None:
            continue
        if canonical_schema(key) == ENTERPRISE_USER:
            if not isinstance(value, dict):
                raise _invalid_value(f"'{ENTERPRISE_USER}' must be an object")
            extension = {}
            for sub_key, sub_value in value.items():
                attr = find_attribute(profile, ENTERPRISE_USER, sub_key)
                if attr is not None and sub_value is not None:
                    extension[attr["name"]] = _coerce_value(attr, sub_value, f"{ENTERPRISE_USER}:{attr['name']}")
            if extension:
                out[ENTERPRISE_USER] = extension
            continue
        attr = find_attribute(profile, CORE_USER, key)
        if attr is not None:
            out[attr["name"]] = _coerce_value(attr, value, attr["name"])
    return out


def missing_required(user: dict[str, Any], profile: str) -> list[str]:
    """The required attributes (and required sub-attributes of `name`) a user lacks."""
    missing: list[str] = []
    for attr in user_attributes(profile, CORE_USER):
        if not attr["required"]:
            continue
        value = user.get(attr["name"])
        if not _present(value):
            missing.append(attr["name"])
        elif attr["type"] == "complex" and not attr["multiValued"] and isinstance(value, dict):
            missing += [f"{attr['name']}.{s['name']}" for s in attr.get("subAttributes", ())
                        if s["required"] and not _present(value.get(s["name"]))]
    return missing
