"""`--mask-pii`: every value from a person's record replaced by a keyed hash in what a run shares.

Masking is by default, not by list: every attribute is masked except a short allowlist of non-personal ones
(`active`, `title`, department, an address's country), so whatever the live mapping adds (a work phone,
an extension attribute) is masked too. Free text from the provisioning log (a reason, a step's description)
is masked whole (`mask_event_text`): it can quote anything from a record (an address, a manager's name, an
accented name in ASCII), so no part of it stays readable; the service's error code stays.

The same value masks to the same token within a key, so an analyst can still group and compare; ids
stay readable; the snapshot stays raw (fix-ups read it). The key is `RCAUDIT_PII_KEY`, else a random key
kept (mode 600) in the user's config directory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import pandas as pd

from rcaudit.model.vocabulary import ENTERPRISE

# The only attributes whose values are shown as they are: they describe a job or a place, not a person.
NON_PERSONAL: frozenset[str] = frozenset({"active", "title", f"{ENTERPRISE}:department".lower()})
_COUNTRY = re.compile(r'addresses\[type eq "[^"]*"\]\.country', re.IGNORECASE)
# Graph user properties that are not personal (chart groupings on them stay readable).
NON_PERSONAL_PROPERTIES: frozenset[str] = frozenset({"department", "jobtitle", "country", "usagelocation",
                                                      "accountenabled"})
VALUE_COLUMNS = ("expected", "actual", "expected_normalized", "actual_normalized")


def is_personal(attribute: str) -> bool:
    """True unless the attribute is on the short non-personal allowlist (masking is the default)."""
    name = attribute.strip()
    return name.lower() not in NON_PERSONAL and not _COUNTRY.fullmatch(name)


def key_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "rcaudit" / "pii.key"


def pii_key(configured: str | None) -> bytes:
    """The masking key: the configured one, else the user's own random key (created on first use)."""
    if configured:
        return configured.encode("utf-8")
    path = key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")


def mask(value: str, key: bytes) -> str:
    """`pii:` and 12 hex digits of HMAC-SHA256; empty stays empty (absence is not personal)."""
    if not value:
        return value
    return "pii:" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def mask_event_text(text: str, key: bytes) -> str:
    """A provisioning event's free text as one keyed hash: a pattern or a list of names cannot find every
    personal fragment (an address, a postcode, a manager, "jamal.hernandez" for "Jamal Hernández"), so the
    whole text is masked; equal texts still mask alike, so failures can be grouped."""
    return mask(text, key)


def mask_groups(groups: pd.Series, graph_property: str, key: bytes) -> pd.Series:
    """Chart groups (an Entra property per user) masked unless the property is not personal."""
    if graph_property.strip().lower() in NON_PERSONAL_PROPERTIES:
        return groups
    return groups.map(lambda v: mask(str(v), key) if v else "")


def mask_findings(findings: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """A copy with `user_name` masked everywhere and the values of every attribute masked but the allowlist's."""
    masked = findings.copy()
    cache: dict[str, str] = {}

    def one(value: object) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        if text not in cache:
            cache[text] = mask(text, key)
        return cache[text]

    masked["user_name"] = masked["user_name"].map(one)
    attributes = masked["attribute"].astype(str)
    personal = attributes.isin([a for a in attributes.unique() if is_personal(a)])
    for column in VALUE_COLUMNS:
        masked.loc[personal, column] = masked.loc[personal, column].map(one)
    return masked
