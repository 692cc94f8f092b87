"""SCIM target attribute paths as Entra spells them (`emails[type eq "work"].value`,
`urn:…:enterprise:2.0:User:department`): parsing, which schema declares one, and fast readers of the
value a path names in a SCIM resource.
"""


from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rcaudit.model.errors import MappingError
from rcaudit.model.vocabulary import CORE_USER

# --- target attribute paths (`emails[type eq "work"].value`, `urn:…:User:department`) ---------------------------

_TARGET = re.compile(r"""^(?P<attribute>[A-Za-z_$][\w$-]*)
                         (?:\[\s*(?P<filter_attribute>[\w$]+)\s+eq\s+(?P<quote>"?)(?P<filter_value>[^"\]]*)(?P=quote)\s*\])?
                         (?:\.(?P<sub>[\w$]+))?$""", re.VERBOSE)


@dataclass(frozen=True)
class TargetPath:
    """A SCIM target attribute as Entra spells it, split into schema, attribute, value filter and sub-attribute."""

    path: str
    schema: str
    attribute: str
    filter_attribute: str | None = None
    filter_value: str | None = None
    sub_attribute: str | None = None


def parse_target(path: str) -> TargetPath:
    """`addresses[type eq "work"].locality` or `urn:…:enterprise:2.0:User:manager` (never split the URN on '.')."""
    schema, rest = CORE_USER, path.strip()
    if rest.lower().startswith("urn:"):
        head = rest.split("[", 1)[0]
        cut = head.rfind(":")
        schema, rest = rest[:cut], rest[cut + 1:]
    match = _TARGET.match(rest)
    if not match:
        raise MappingError(f"cannot read the target attribute path {path!r}")
    return TargetPath(path, schema, match["attribute"], match["filter_attribute"], match["filter_value"],
                      match["sub"])


def _named(items: Iterable[dict[str, Any]], name: str, key: str = "name") -> dict[str, Any] | None:
    wanted = name.lower()
    return next((item for item in items if str(item.get(key, "")).lower() == wanted), None)


def declared_by(schemas: list[dict[str, Any]], path: str) -> str | None:
    """None when RingCentral's /Schemas declare `path`, else the reason it does not."""
    target = parse_target(path)
    document = _named(schemas, target.schema, "id")
    if document is None:
        return f"/Schemas has no {target.schema}"
    attribute = _named(document.get("attributes") or [], target.attribute)
    if attribute is None:
        return f"RingCentral's /Schemas does not declare {target.attribute}"
    subs = attribute.get("subAttributes") or []
    if target.filter_attribute:
        selector = _named(subs, target.filter_attribute)
        if selector is None:
            return f"{target.attribute} has no {target.filter_attribute} to filter on"
        canonical = [str(v).lower() for v in selector.get("canonicalValues") or []]
        if canonical and str(target.filter_value).lower() not in canonical:
            return f"{target.attribute}.{target.filter_attribute} does not allow {target.filter_value!r}"
    if target.sub_attribute and subs and _named(subs, target.sub_attribute) is None:
        return f"RingCentral's /Schemas does not declare {target.attribute}.{target.sub_attribute}"
    return None


def target_reader(path: str) -> Any:
    """A function reading the value of `path` from a SCIM user resource (None when absent).

    A filtered multi-valued attribute yields its first matching element; a complex value without a
    sub-attribute (the enterprise manager) yields its `value`.
    """
    target = parse_target(path)
    container_key = None if target.schema.lower() == CORE_USER.lower() else target.schema
    name, selector, sub = target.attribute, target.filter_attribute, target.sub_attribute
    wanted = (target.filter_value or "").lower()

    def read(resource: dict[str, Any]) -> Any:
        container = resource.get(container_key) if container_key else resource
        if not isinstance(container, dict):
            return None
        value = container.get(name)
        if selector is not None:
            if not isinstance(value, list):
                return None
            value = next((e for e in value if isinstance(e, dict) and str(e.get(selector)).lower() == wanted), None)
        elif isinstance(value, list) and sub is not None:
            value = value[0] if value else None
        if sub is not None:
            return value.get(sub) if isinstance(value, dict) else None
        if isinstance(value, dict):
            return value.get("value")
        return value

    return read


def _first_match(items: Any, selector: str, wanted: str) -> Any:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict):
            found = item.get(selector)
            if found == wanted or str(found).lower() == wanted:
                return item
    return None


def read_targets(resources: list[dict[str, Any]], paths: Iterable[str]) -> dict[str, list[Any]]:
    """Column-wise `target_reader`: for each path, its value in every resource (in order).

    One pass over the resources with every path read while a resource's dict is at hand, and a shared
    container or filter (the five `addresses[type eq "work"]` parts) looked up once: passes over 250,000
    scattered dicts cost more in cache misses than the reads themselves.
    """
    paths = tuple(dict.fromkeys(paths))
    rows = _row_reader(paths)(resources)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in paths]
    return {path: list(column) for path, column in zip(paths, columns, strict=True)}


_EMPTY: dict[str, Any] = {}


@functools.lru_cache(maxsize=32)
def _row_reader(paths: tuple[str, ...]) -> Any:
    """A function reading `paths` from each resource into a tuple, written out once per set of paths.

    Path parts enter the generated source only as `repr()` literals.
    """
    groups: dict[tuple[str | None, str, str | None, str], list[tuple[int, str | None]]] = {}
    for index, path in enumerate(paths):
        t = parse_target(path)
        container = None if t.schema.lower() == CORE_USER.lower() else t.schema
        key = (container, t.attribute, t.filter_attribute, (t.filter_value or "").lower())
        groups.setdefault(key, []).append((index, t.sub_attribute))
    body = ["def read(resources):", "    out = []", "    append = out.append", "    for r in resources:"]
    cells: list[str] = [""] * len(paths)
    for g, ((container, name, selector, wanted), members) in enumerate(groups.items()):
        holder = "r"
        if container is not None:
            holder = f"c{g}"
            body.append(f"        {holder} = r.get({container!r})")
            body.append(f"        if not isinstance({holder}, dict): {holder} = EMPTY")
        body.append(f"        v{g} = {holder}.get({name!r})")
        if selector is not None:
            body.append(f"        v{g} = first(v{g}, {selector!r}, {wanted!r})")
        if any(sub is not None for _, sub in members):  # the element whose sub-attributes are read
            body.append(f"        e{g} = v{g} if isinstance(v{g}, dict) else v{g}[0] if isinstance(v{g}, list) "
                        f"and v{g} and isinstance(v{g}[0], dict) else EMPTY")
        for index, sub in members:
            cells[index] = (f"e{g}.get({sub!r})" if sub is not None
                            else f"(v{g}.get('value') if isinstance(v{g}, dict) else v{g})")
    body.append(f"        append(({', '.join(cells)},))")
    body.append("    return out")
    namespace: dict[str, Any] = {"first": _first_match, "EMPTY": _EMPTY}
    exec("\n".join(body), namespace)  # the source was built above from repr() literals only
    return namespace["read"]
