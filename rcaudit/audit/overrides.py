"""Mapping overrides from a YAML file, and the effective mapping: live (or default) mapping plus overrides.
"""


from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rcaudit.audit.mapping import (
    DEFAULT_MAPPING,
    AttributeMapping,
    check_graph_sources,
    check_manager_reference,
    mapping_from_schema,
)
from rcaudit.model.errors import MappingError
from rcaudit.model.scim_path import parse_target

# --- overrides from a YAML file -----------------------------------------------------------------------------------

def load_mapping_overrides(path: str | Path) -> tuple[bool, dict[str, AttributeMapping | None]]:
    """Read a mapping override file; returns (replace, {target: mapping, or None to stop auditing it}).

    ```yaml
    replace: false                      # true: start from nothing instead of the live/default mapping
    attributes:
      userName: ToLower([mail])         # a plain expression
      title: null                       # do not audit title
      externalId: {expression: "[objectId]", matching_priority: 2}
    ```
    Every expression is compiled here, so a typo is reported before any audit runs.
    """
    import yaml  # PyYAML: pinned in requirements.txt

    from rcaudit.audit.expressions import compile_expression

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not a text file (expected YAML in UTF-8)") from None
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read the mapping overrides: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("attributes", {}), dict):
        raise MappingError(f"{path}: expected a mapping with an 'attributes' table (target: expression)")
    unknown = set(document) - {"replace", "attributes"}
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise MappingError(f"{path}: unknown keys {names} (expected replace, attributes)")
    overrides: dict[str, AttributeMapping | None] = {}
    for target, entry in (document.get("attributes") or {}).items():
        where = f"{path}: attributes.{target}"
        if entry is None:
            overrides[str(target)] = None
            continue
        spec = entry if isinstance(entry, dict) else {"expression": entry}
        extra = set(spec) - {"expression", "matching_priority", "flow_type", "default_value"}
        if extra or not isinstance(spec.get("expression"), str) or not spec["expression"].strip():
            raise MappingError(f"{where}: give an expression string, or {{expression, matching_priority}}")
        priority = spec.get("matching_priority") or 0
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            raise MappingError(f"{where}.matching_priority: expected a whole number 0 or more, not {priority!r}")
        mapping = AttributeMapping(str(target), spec["expression"], priority,
                                   str(spec.get("flow_type") or "Always"), spec.get("default_value"))
        try:
            compile_expression(spec["expression"], str(target))
            parse_target(str(target))
            check_graph_sources([mapping])
            check_manager_reference(mapping)
        except MappingError as exc:
            raise MappingError(f"{where}: {exc.message}") from None
        overrides[str(target)] = mapping
    replace = document.get("replace", False)
    if not isinstance(replace, bool):  # YAML's "false" in quotes is a string, and bool("false") is True
        raise MappingError(f"{path}: replace: expected true or false (unquoted), not {replace!r}")
    return replace, overrides


def apply_mapping_overrides(base: Iterable[AttributeMapping], replace: bool,
                            overrides: dict[str, AttributeMapping | None]) -> tuple[AttributeMapping, ...]:
    """`base` with each overridden target replaced (or dropped when None); new targets are appended."""
    merged: dict[str, AttributeMapping] = {} if replace else {m.target: m for m in base}
    for target, mapping in overrides.items():
        if mapping is None:
            merged.pop(target, None)
        else:
            merged[target] = mapping
    return tuple(merged.values())


def effective_mapping(schema: dict[str, Any] | None, overrides_file: str | Path | None = None,
                      ) -> tuple[tuple[AttributeMapping, ...], str]:
    """The mapping to audit with and where it came from: the live schema's when readable, else DESIGN.md's
    default table; then a YAML override file, when given."""
    source = "default"
    mapping = DEFAULT_MAPPING
    if schema:
        try:
            mapping, source = mapping_from_schema(schema), "schema"
        except MappingError as exc:
            source = f"default (the live schema was unreadable: {exc.message})"
    if overrides_file is not None:
        replace, overrides = load_mapping_overrides(overrides_file)
        mapping = apply_mapping_overrides(mapping, replace, overrides)
        source = f"{source} + {Path(overrides_file).name}"
    return mapping, source
