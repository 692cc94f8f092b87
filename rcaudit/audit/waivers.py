"""Waivers: known, accepted drift (service accounts, shared lines, admin accounts) that should not alarm anyone.

A waived finding keeps its row with `waived = true` but counts toward no total and no exit code. A waiver
expires at the end of its `expires` day (measured on the audit's date, not the wall clock, so a saved
snapshot re-audits identically); an expired waiver no longer applies and the report lists it.

File formats (YAML or CSV, by extension), one waiver per entry/row:

```yaml
waivers:
  - account: "1271136020"          # RingCentral id (scim_id), or:
    user: 5e6f…                    # Entra object id (entra_id)
    kind: orphan_in_target         # a finding kind, or *
    attribute: "*"                 # an attribute path, or * (the default)
    reason: Reception shared line
    expires: 2027-06-30
```
CSV: a header with `account,user,kind,attribute,reason,expires` (`expiry` is accepted for `expires`).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from rcaudit.model.errors import WaiverError
from rcaudit.model.findings import KINDS

FIELDS = ("account", "user", "kind", "attribute", "reason", "expires")
_ALIASES = {"expiry": "expires", "scim_id": "account", "entra_id": "user"}


@dataclass(frozen=True)
class Waiver:
    """Accept findings of `kind` on `attribute` for an account or a user until `expires` (inclusive)."""

    kind: str
    reason: str
    expires: dt.date
    account: str = ""  # scim_id
    user: str = ""  # entra_id
    attribute: str = "*"
    source: str = ""  # "file:row", for messages

    def expired_on(self, day: dt.date) -> bool:
        return self.expires < day

    def to_dict(self) -> dict[str, str]:
        return {"account": self.account, "user": self.user, "kind": self.kind, "attribute": self.attribute,
                "reason": self.reason, "expires": self.expires.isoformat(), "source": self.source}


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise WaiverError(f"{where}, field expires: {value!r} is not a date (YYYY-MM-DD)") from None


def waiver_from_row(row: Mapping[str, Any], where: str) -> Waiver:
    """One waiver from a mapping of field → value; `where` ("file, row N") prefixes every error."""
    fields: dict[str, Any] = {}
    for key, value in row.items():
        name = _ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
        if name not in FIELDS:
            raise WaiverError(f"{where}, field {key}: unknown field (expected {', '.join(FIELDS)})")
        fields[name] = value
    text = {k: ("" if v is None else str(v).strip()) for k, v in fields.items() if k != "expires"}
    if not text.get("account") and not text.get("user"):
        raise WaiverError(f"{where}, field account: give the account (RingCentral id) or the user (Entra id)")
    kind = text.get("kind", "")
    if kind != "*" and kind not in KINDS:
        raise WaiverError(f"{where}, field kind: {kind or 'nothing'!r} is not a finding kind "
                          f"({', '.join(KINDS)} or *)")
    if not text.get("reason"):
        raise WaiverError(f"{where}, field reason: a waiver needs a reason")
    if fields.get("expires") in (None, ""):
        raise WaiverError(f"{where}, field expires: a waiver needs an expiry date")
    return Waiver(kind=kind, reason=text["reason"], expires=_date(fields["expires"], where),
                  account=text.get("account", ""), user=text.get("user", ""),
                  attribute=text.get("attribute") or "*", source=where)


def load_waivers(path: str | Path) -> tuple[Waiver, ...]:
    """Read a YAML (`.yaml`/`.yml`) or CSV waiver file; WaiverError names file, row and field."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise WaiverError(f"{path}: a waiver file is .yaml, .yml or .csv")
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WaiverError(f"{path}: cannot read the waiver file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise WaiverError(f"{path}: not a text file (byte {exc.start} is not UTF-8); a waiver file is YAML or "
                          "CSV text") from None
    if "\x00" in content:
        raise WaiverError(f"{path}: not a text file (it holds NUL bytes); a waiver file is YAML or CSV text")
    return _from_csv(path, content) if suffix == ".csv" else _from_yaml(path, content)


class _Entry(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line it starts on, for messages."""

    line = 0


def _yaml_loader() -> type:
    """PyYAML's safe loader, but dates stay text (`_date` checks them and names the waiver: PyYAML would
    raise a bare `month must be in 1..12`) and mappings remember their line."""
    import yaml  # PyYAML: pinned in requirements.txt

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            entry = _Entry(super().construct_mapping(node, deep=True))
            entry.line = node.start_mark.line + 1
            return entry

    # the timestamp tag is only ever resolved on a scalar node: the cast states what PyYAML's stubs cannot
    Loader.add_constructor("tag:yaml.org,2002:timestamp",
                           lambda loader, node: loader.construct_scalar(cast("yaml.ScalarNode", node)))
    Loader.add_constructor("tag:yaml.org,2002:map", Loader.construct_mapping)
    return Loader


def _from_yaml(path: Path, content: str) -> tuple[Waiver, ...]:
    import yaml  # PyYAML: pinned in requirements.txt

    try:
        document = yaml.load(content, Loader=_yaml_loader())  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise WaiverError(f"{path}: not valid YAML: {exc}") from None
    entries = document.get("waivers") if isinstance(document, dict) else document
    if document is None:
        return ()
    if not isinstance(entries, list):
        raise WaiverError(f"{path}: expected a list of waivers (or a 'waivers:' list)")
    waivers = []
    for i, entry in enumerate(entries, start=1):
        where = f"{path}, waiver {i}"
        if not isinstance(entry, dict):
            raise WaiverError(f"{where}: expected a mapping of {', '.join(FIELDS)}")
        try:
            waivers.append(waiver_from_row(dict(entry), where))
        except WaiverError as exc:
            raise WaiverError(f"{exc.message} (line {getattr(entry, 'line', '?')})") from None
    return tuple(waivers)


def _from_csv(path: Path, content: str) -> tuple[Waiver, ...]:
    reader = csv.DictReader(content.splitlines())
    if not reader.fieldnames:
        return ()
    waivers = []
    for row in reader:
        where = f"{path}, row {reader.line_num}"
        if None in row:
            raise WaiverError(f"{where}: more values than header fields")
        if not any((v or "").strip() for v in row.values()):
            continue
        waivers.append(waiver_from_row({k: v for k, v in row.items() if k is not None}, where))
    return tuple(waivers)


def apply_waivers(findings: pd.DataFrame, waivers: Iterable[Waiver], day: dt.date,
                  ) -> tuple[pd.DataFrame, tuple[Waiver, ...]]:
    """Mark the findings each unexpired waiver covers (`waived`, and the reason appended); return the
    expired waivers, which cover nothing."""
    waivers = tuple(waivers)
    expired = tuple(w for w in waivers if w.expired_on(day))
    active = [w for w in waivers if not w.expired_on(day)]
    if not active or findings.empty:
        return findings, expired
    findings = findings.copy()
    entra_ids = findings["entra_id"].astype(str).str.split(";")
    waived = findings["waived"].to_numpy(dtype=bool).copy()
    reasons = findings["reason"].astype(str).to_numpy(dtype=object).copy()
    for waiver in active:
        mask = np.ones(len(findings), dtype=bool)
        if waiver.account:
            mask &= (findings["scim_id"] == waiver.account).to_numpy(dtype=bool)
        if waiver.user:
            mask &= entra_ids.map(lambda ids, u=waiver.user: u in ids).to_numpy(dtype=bool)
        if waiver.kind != "*":
            mask &= (findings["kind"] == waiver.kind).to_numpy(dtype=bool)
        if waiver.attribute != "*":
            mask &= (findings["attribute"] == waiver.attribute).to_numpy(dtype=bool)
        mask &= ~waived
        for i in np.flatnonzero(mask):
            note = f"waived until {waiver.expires.isoformat()}: {waiver.reason}"
            reasons[i] = f"{reasons[i]}; {note}" if reasons[i] else note
        waived |= mask
    findings["waived"] = waived
    findings["reason"] = pd.array(reasons, dtype="str")
    return findings, expired
