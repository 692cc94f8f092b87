"""The small slice of OData the Graph emulator speaks: $select, $top, $expand, $skiptoken, $filter.

Pure functions over strings and lists, so the HTTP layer stays thin and the rules can be tested
without a server. Errors are `ODataError`s carrying Graph's status, code and message.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

DEFAULT_PAGE = 100
MAX_PAGE = 999
MAX_EXPAND_PAGE = 100  # Graph caps pages with $expand at 100 whatever $top says


class ODataError(Exception):
    """A query Graph would refuse: answered as `status` with Graph's `code` and `message`."""

    def __init__(self, message: str, code: str = "Request_BadRequest", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


# --- $select / $expand ------------------------------------------------------------------------------
def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses and quotes (`a,manager($select=b,c)` → two items)."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_select(raw: str | None, known: Iterable[str], type_name: str) -> list[str] | None:
    """The canonical property names asked for, in order and once each; None when there is no $select.

    Names match case-insensitively, as in Graph; an unknown one is refused with Graph's message.
    """
    if raw is None:
        return None
    canonical = {name.lower(): name for name in known}
    chosen: list[str] = []
    for name in split_top_level(raw):
        found = canonical.get(name.lower())
        if found is None:
            raise ODataError(f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.")
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        raise ODataError("Syntax error: the $select query option is empty.")
    return chosen


_EXPAND_ITEM = re.compile(r"(?P<name>[A-Za-z_][\w.]*)\s*(?:\((?P<options>.*)\))?\Z", re.S)


def parse_expand(raw: str | None, navigations: Iterable[str], type_name: str) -> dict[str, str | None]:
    """`{navigation property: its nested $select text or None}` from `$expand`.

    Only a nested `$select` is accepted (`manager($select=id,mail)`): anything else in the parentheses
    (`$levels`, `$filter`) needs advanced queries the sandbox does not emulate.
    """
    if raw is None:
        return {}
    canonical = {name.lower(): name for name in navigations}
    expanded: dict[str, str | None] = {}
    for item in split_top_level(raw):
        found = _EXPAND_ITEM.match(item)
        if not found:
            raise ODataError(f"Syntax error in the $expand query option at '{item}'.")
        name = canonical.get(found["name"].lower())
        if name is None:
            raise ODataError(f"Could not find a property named '{found['name']}' on type "
                             f"'microsoft.graph.{type_name}'.")
        nested: str | None = None
        for option in split_top_level(found["options"] or "", ";"):
            key, eq, value = option.partition("=")
            if key.strip().lower() != "$select" or not eq:
                raise ODataError(f"The nested query option '{key.strip()}' is not supported in $expand by the "
                                 "sandbox; only $select is.", code="Request_UnsupportedQuery")
            nested = value.strip()
        expanded[name] = nested
    return expanded


def context_selection(select: Sequence[str] | None, expand: Mapping[str, Sequence[str] | None]) -> str:
    """The `(a,b,manager(c))` part of an `@odata.context` URL; empty when nothing narrows it."""
    if select is None:
        return ""
    parts = list(select)
    for name, nested in expand.items():
        parts.append(f"{name}({','.join(nested or ())})")
    return f"({','.join(parts)})"


# --- $top -----------------------------------------------------------------------------------------------
def parse_top(raw: str | None, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    """The page size: `$top` when given (1..maximum, else Graph's 400), else `default`."""
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ODataError(f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.") from None
    if not 1 <= value <= maximum:
        raise ODataError(f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.")
    return value


# --- $skiptoken and paging ---------------------------------------------------------------------------------
_MAC_BYTES = 10


def bad_skiptoken() -> ODataError:
    """Graph's answer to a page token it cannot use (garbled, forged, or from another collection)."""
    return ODataError("The specified page token value has expired and can no longer be included in your request.",
                      code="Directory_ExpiredPageToken")


def _keystream(key: bytes, length: int) -> bytes:
    stream = b""
    counter = 0
    while len(stream) < length:
        stream += hashlib.sha256(key + b"skiptoken-mask" + counter.to_bytes(4, "big")).digest()
        counter += 1
    return stream[:length]


def encode_skiptoken(payload: dict[str, Any], key: bytes) -> str:
    """An opaque, tamper-evident token: the JSON payload masked with a keystream, plus a MAC.

    Opaque on purpose: clients must follow `@odata.nextLink` verbatim, never build tokens themselves.
    """
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    masked = bytes(a ^ b for a, b in zip(data, _keystream(key, len(data)), strict=True))
    mac = hmac.new(key, masked, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(masked + mac).decode("ascii").rstrip("=")


def decode_skiptoken(token: str, key: bytes) -> dict[str, Any]:
    """The payload of a token `encode_skiptoken` made with `key`; anything else is Graph's 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad_skiptoken() from None
    masked, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    expected = hmac.new(key, masked, hashlib.sha256).digest()[:_MAC_BYTES]
    if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, expected):
        raise bad_skiptoken()
    try:
        payload = json.loads(bytes(a ^ b for a, b in zip(masked, _keystream(key, len(masked)), strict=True)))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad_skiptoken() from None
    if not isinstance(payload, dict):
        raise bad_skiptoken()
    return payload


def route_tag(path: str) -> str:
    """A short digest of the collection path, kept in tokens so one collection's token fails on another."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Page:
    items: list[Any]
    cursor: dict[str, Any] | None  # where the next page starts; None on the last page


def take_page(items: Sequence[Any], size: int, cursor: dict[str, Any] | None,
              key: Callable[[Any], str]) -> Page:
    """One page of `items` after `cursor` (`{"o": offset, "k": key of the last item served}`).

    Resuming after the last key served, not only at the offset, keeps a walk from skipping or
    repeating objects when the list changes before the offset (an object deleted mid-walk).
    """
    start = 0
    if cursor:
        offset, last = int(cursor.get("o", 0)), cursor.get("k")
        start = offset
        if last is not None and not (0 < offset <= len(items) and key(items[offset - 1]) == last):
            found = next((i for i, item in enumerate(items) if key(item) == last), None)
            if found is not None:
                start = found + 1
    chunk = list(items[start:start + size])
    end = start + len(chunk)
    if end >= len(items) or not chunk:
        return Page(chunk, None)
    return Page(chunk, {"o": end, "k": key(chunk[-1])})


def query_without(raw_query: str, name: str) -> str:
    """`raw_query` minus every `name=…` parameter, other parameters kept exactly as the client encoded them."""
    kept = [part for part in raw_query.split("&")
            if part and unquote_plus(part.partition("=")[0]).strip().lower() != name.lower()]
    return "&".join(kept)


def next_link(base_url: str, raw_path: str, raw_query: str, token: str) -> str:
    """The full URL of the next page: the same path and query with `$skiptoken` replaced."""
    query = query_without(raw_query, "$skiptoken")
    return f"{base_url}{raw_path}?{query + '&' if query else ''}$skiptoken={token}"


# --- $filter -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clause:
    """`property op literal`; `quoted` tells a string literal from a bare one (dates, numbers)."""

    prop: str
    op: str
    value: str
    quoted: bool


_CLAUSE = re.compile(
    r"\s*(?P<prop>[A-Za-z_][\w/]*)\s+(?P<op>eq|ne|gt|ge|lt|le)\s+(?P<value>'(?:[^']|'')*'|[^\s']+)\s*\Z", re.I
)


def _split_and(text: str) -> list[str]:
    parts: list[str] = []
    quoted, start, i = False, 0, 0
    lowered = text.lower()
    while i < len(text):
        if text[i] == "'":
            quoted = not quoted
        elif not quoted and lowered.startswith(" and ", i):
            parts.append(text[start:i])
            start = i + 5
            i += 4
        i += 1
    parts.append(text[start:])
    return parts


def parse_filter(raw: str) -> list[Clause]:
    """Clauses of a `$filter` made of comparisons joined by `and` (all Graph needs for the audit).

    `or`, `not`, functions (`contains`, `startswith`) and lambdas are refused as unsupported.
    """
    clauses: list[Clause] = []
    for part in _split_and(raw):
        text = part.strip()
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        found = _CLAUSE.match(text)
        if not found:
            raise ODataError(f"Invalid filter clause: '{part.strip()}' is not supported by the sandbox "
                             "(comparisons joined by 'and' only).", code="Request_UnsupportedQuery")
        value = found["value"]
        quoted = value.startswith("'")
        if quoted:
            value = value[1:-1].replace("''", "'")
        clauses.append(Clause(found["prop"], found["op"].lower(), value, quoted))
    return clauses


def parse_datetime(text: str) -> dt.datetime:
    """An ISO 8601 timestamp as an aware datetime (`Z`, offsets and 7-digit fractions accepted)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    fraction = re.search(r"\.(\d+)", value)
    if fraction and len(fraction.group(1)) > 6:  # Graph writes 100 ns ticks; Python takes microseconds
        value = value[: fraction.start(1) + 6] + value[fraction.end(1):]
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le,
}


def compare(left: Any, op: str, right: Any) -> bool:
    """`left op right` for OData's comparison operators."""
    if op not in ("eq", "ne") and (left is None or right is None):
        return False  # OData: an ordering comparison with null is false, not an error
    return bool(_OPERATORS[op](left, right))
