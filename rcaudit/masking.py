"""`--mask-pii`: names, e-mails and phone numbers replaced by keyed hashes in what a run shares.

The same value masks to the same token within a key, so an analyst can still group and compare; ids
stay readable; the snapshot stays raw (fix-ups read it). The key is `RCAUDIT_PII_KEY`, else a random key
kept (mode 600) in the user's config directory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pandas as pd

from .mapping import ENTERPRISE

# Attributes whose values are personal: names, e-mail addresses, phone numbers.
PII_ATTRIBUTES: frozenset[str] = frozenset({
    "userName", "displayName", "name.givenName", "name.familyName", 'emails[type eq "work"].value',
    'phoneNumbers[type eq "mobile"].value', "externalId", f"{ENTERPRISE}:manager",
})
VALUE_COLUMNS = ("expected", "actual", "expected_normalized", "actual_normalized")


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


def mask_findings(findings: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """A copy with `user_name` masked everywhere and the values of personal attributes masked."""
    masked = findings.copy()
    cache: dict[str, str] = {}

    def one(value: object) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        if text not in cache:
            cache[text] = mask(text, key)
        return cache[text]

    masked["user_name"] = masked["user_name"].map(one)
    personal = masked["attribute"].isin(PII_ATTRIBUTES)
    for column in VALUE_COLUMNS:
        masked.loc[personal, column] = masked.loc[personal, column].map(one)
    return masked
