"""DESIGN.md's "not drift" rules as data: a registry of normalisers keyed by attribute.

Two values are the same when their normalised forms are equal. A normaliser maps a raw value (string,
boolean, list, None) to a string or None (absent): absent ≡ null ≡ "" ≡ []. The registry is listed in the
report so a reader knows what was forgiven; `strict` turns every normaliser off (raw comparison).

Phone parsing is the expensive part. `differing` normalises only values whose raw forms differ, each
distinct (value, region) once; values already in E.164 form are taken as they are (not parsed); plain
national or international numbers go through `_fast_e164`, phonenumbers' own steps without its text
scanning (tests check it equals `phonenumbers.parse`); the rest are parsed. One approximation, the
issue's: an E.164-shaped value is trusted, so a malformed one RingCentral might store (`+4407…`, with the
trunk 0) differs from the same number typed `+44 07…`, except where `same_phone` already proved the two
identical (same `+digits`: what parsing both would also say).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

Normalised = str | None


def is_empty(value: Any) -> bool:
    """absent ≡ null ≡ "" (or only spaces) ≡ [] ≡ {} (DESIGN.md's normalisers)."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, list | tuple | dict) and not value)


def scim_true(value: Any) -> bool:
    """A SCIM boolean as either side writes it: JSON true or the string "True" in any case."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def phone_region(usage_location: Any, country_value: Any) -> str | None:
    """The region a user's phone numbers are read in (DESIGN.md): usageLocation, else the country as ISO alpha-2."""
    if usage_location:
        return str(usage_location)
    return country_code(" ".join(str(country_value).split())) if country_value else None


def raw(value: Any) -> str:
    """The findings table's raw form: strings as they are, booleans true/false, lists as JSON, "" for absent."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list | dict):
        return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False,
                          separators=(",", ":"), sort_keys=isinstance(value, dict))
    if isinstance(value, float) and value != value:  # NaN from a frame
        return ""
    return str(value)


def text(value: Any) -> Normalised:
    """Trimmed, inner whitespace collapsed; absent ≡ "" ≡ []; "True"/"False" ≡ booleans (as true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        items = [t for t in (text(v) for v in value) if t is not None]
        if not items:
            return None
        return items[0] if len(items) == 1 else json.dumps(sorted(items), ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, float) and value != value:
        return None
    collapsed = " ".join(str(value).split())
    if not collapsed:
        return None
    lowered = collapsed.lower()
    return lowered if lowered in ("true", "false") else collapsed


def casefolded(value: Any) -> Normalised:
    """`text`, then case-folded: userName and e-mail compare case-insensitively."""
    normal = text(value)
    return None if normal is None else normal.casefold()


_COUNTRY_ALIASES = {"uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB"}


@lru_cache(maxsize=4096)
def country_code(name: str) -> str | None:
    """ISO 3166 alpha-2 for a code or name (`US`, `USA`, `United States`), None when unknown."""
    alias = _COUNTRY_ALIASES.get(name.casefold())
    if alias:
        return alias
    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        return None


def country(value: Any) -> Normalised:
    """ISO 3166 alpha-2 (`US` ≡ `USA` ≡ `United States`); an unknown name compares as text."""
    normal = text(value)
    if normal is None:
        return None
    return country_code(normal) or normal


E164 = re.compile(r"\+[1-9]\d{1,14}")
_PUNCTUATION = re.compile(r"[\s().\-]+")
_PLUS_DIGITS = re.compile(r"\+\d+")


def plus_digits(value: Any) -> str | None:
    """`+1 (415) 555-0101` → `+14155550101`: the international form with the punctuation phonenumbers ignores
    removed, or None when the value is not only a plus, digits, spaces, parentheses, dashes and dots."""
    if not isinstance(value, str) or "+" not in value:
        return None
    stripped = _PUNCTUATION.sub("", value)
    return stripped if _PLUS_DIGITS.fullmatch(stripped) else None


_SIMPLE_PHONE = re.compile(r"\+?[0-9 ().\-/]+")
_NOT_DIGITS = re.compile(r"[^0-9]+")


def _fast_e164(normal: str, region: str | None) -> str | None:
    """`phonenumbers.parse` + E.164 for the common shapes, or None ("parse it").

    For a string of only digits, spaces and `().-/` (and an optional leading `+`), parse's text scanning
    (extensions, RFC 3966, alpha numbers, second numbers) cannot apply; what remains is taking the
    digits, the country code (after the `+`, else the region's), and the national-prefix stripping and
    length test, done here with phonenumbers' own helpers. National numbers that begin with the IDD
    prefix or the country code go to `parse`, as does anything unusual. `test_normalize` checks this
    equals `parse` across regions.
    """
    if _pnu is None or not _SIMPLE_PHONE.fullmatch(normal):
        return None
    digits = _NOT_DIGITS.sub("", normal)
    if not 3 <= len(digits) <= 20:
        return None
    if normal[0] == "+":
        country_code, national = _pnu._extract_country_code(digits)
        if country_code == 0:
            return None
        number_region = _pnu.region_code_for_country_code(country_code)
        metadata = (_pnu.PhoneMetadata.metadata_for_region(region, None) if region == number_region else
                    _pnu.PhoneMetadata.metadata_for_region_or_calling_code(country_code, number_region))
    else:
        if region is None or not _pnu._is_valid_region_code(region):
            return None
        metadata = _pnu.PhoneMetadata.metadata_for_region(region, None)
        if metadata is None or str(metadata.country_code) == digits[:len(str(metadata.country_code))]:
            return None
        if metadata.international_prefix is not None and _pnu.re_compile(metadata.international_prefix).match(
                digits):
            return None
        country_code, national = metadata.country_code, digits
    if metadata is None or len(national) < 2:
        return None
    _, stripped, _ = _pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if _pnu._test_number_length(stripped, metadata) not in _KEEP_PREFIX:
        national = stripped
    if not 2 <= len(national) <= _pnu._MAX_LENGTH_FOR_NSN:
        return None
    return f"+{country_code}{national}"


_pnu: Any  # phonenumbers' private helpers: typed loosely on purpose (their names are checked just below)
try:  # phonenumbers' internals, pinned in requirements.txt; without them every number is simply parsed
    from phonenumbers import phonenumberutil as _pnu_module

    _pnu = _pnu_module

    _KEEP_PREFIX = (_pnu.ValidationResult.TOO_SHORT, _pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                    _pnu.ValidationResult.INVALID_LENGTH)
    for _name in ("_extract_country_code", "region_code_for_country_code", "_is_valid_region_code", "re_compile",
                  "_maybe_strip_national_prefix_carrier_code", "_test_number_length", "_MAX_LENGTH_FOR_NSN"):
        getattr(_pnu, _name)
except (ImportError, AttributeError):  # pragma: no cover - a phonenumbers without these helpers
    _pnu = None


def phone(value: Any, region: str | None = None) -> Normalised:
    """E.164, parsed with the user's region (usageLocation, else country); values already in E.164 are not
    parsed; an unparseable value compares as its `+digits` form when it has one, else as text."""
    normal = text(value)
    if normal is None or E164.fullmatch(normal):
        return normal
    region = region.upper() if region else None
    fast = _fast_e164(normal, region)
    if fast is not None:
        return fast
    try:
        number = phonenumbers.parse(normal, region)
    except phonenumbers.NumberParseException:
        return plus_digits(normal) or normal
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parsed_phone(value: Any, region: str | None = None) -> Normalised:
    """`phone` without the fast path: what phonenumbers.parse alone gives (tests compare the two)."""
    normal = text(value)
    if normal is None or E164.fullmatch(normal):
        return normal
    try:
        number = phonenumbers.parse(normal, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return plus_digits(normal) or normal
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def same_phone(left: Any, right: Any) -> bool:
    """A cheap proof that two values are the same number (False means "parse to know", not "different"):
    identical `+digits` forms give phonenumbers identical input, hence the same E.164."""
    a = plus_digits(left)
    return a is not None and a == plus_digits(right)


def strict(value: Any) -> Normalised:
    """No forgiveness: the raw form, "" for absent."""
    return raw(value)


@dataclass(frozen=True)
class Normaliser:
    """A named rule the report lists: `function(value, region)` gives the comparable form."""

    name: str
    description: str
    function: Callable[..., Normalised]
    uses_region: bool = False
    same: Callable[[Any, Any], bool] | None = None  # a cheap, exact "these are equal" (False: unknown)
    identity: str | None = None  # a regex of strings this normaliser returns unchanged (checked in bulk)

    def __call__(self, value: Any, region: str | None = None) -> Normalised:
        return self.function(value, region) if self.uses_region else self.function(value)


NORMALISERS: dict[str, Normaliser] = {
    "text": Normaliser("text", "trimmed, inner whitespace collapsed; absent = null = \"\" = []; "
                               "\"True\"/\"False\" = booleans", text),
    "casefold": Normaliser("casefold", "as text, compared case-insensitively", casefolded),
    "phone_e164": Normaliser("phone_e164", "E.164 (region from usageLocation, else country); "
                                           "values already in E.164 are not parsed", phone, uses_region=True,
                             same=same_phone, identity=E164.pattern),
    "country_alpha2": Normaliser("country_alpha2", "ISO 3166 alpha-2 (US = USA = United States)", country),
    "strict": Normaliser("strict", "raw values, nothing forgiven (strict mode)", strict),
}
# DESIGN.md's attribute paths and the rule each compares with; anything else falls to PATTERNS, then "text".
ATTRIBUTE_NORMALISERS: dict[str, str] = {
    "userName": "casefold",
    'emails[type eq "work"].value': "casefold",
    'phoneNumbers[type eq "mobile"].value': "phone_e164",
    'addresses[type eq "work"].country': "country_alpha2",
}
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^emails(\[.*\])?(\.value)?$"), "casefold"),
    (re.compile(r"^phoneNumbers(\[.*\])?(\.value)?$"), "phone_e164"),
    (re.compile(r"^addresses(\[.*\])?\.country$"), "country_alpha2"),
)


def normaliser_for(attribute: str, strict_mode: bool = False) -> Normaliser:
    """The rule `attribute` is compared with (`strict` for every attribute in strict mode)."""
    if strict_mode:
        return NORMALISERS["strict"]
    name = ATTRIBUTE_NORMALISERS.get(attribute)
    if name is None:
        name = next((rule for pattern, rule in PATTERNS if pattern.search(attribute)), "text")
    return NORMALISERS[name]


def hashable(value: Any) -> Hashable:
    """Lists become tuples so values can be counted once."""
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def factorize(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes and distinct values of a column, absent values kept as None (pandas would give NaN)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return codes, [None if isinstance(u, float) and u != u else u for u in uniques]


def normalise_many(values: Sequence[Any] | np.ndarray, normaliser: Normaliser,
                   regions: Sequence[Any] | np.ndarray | None = None) -> np.ndarray:
    """Normalise a column, each distinct value (or value and region) once; an object array of str | None."""
    values = np.asarray(values, dtype=object)
    if len(values) == 0:
        return np.empty(0, dtype=object)
    if normaliser.identity is not None:  # values already normal are kept as they are, found in one Arrow pass
        strings = pa.array([v if isinstance(v, str) else None for v in values], type=pa.string())
        kept = pc.fill_null(pc.match_substring_regex(strings, f"^(?:{normaliser.identity})$"), False)
        kept = kept.to_numpy(zero_copy_only=False)
        if kept.any():
            out = values.copy()
            rest = np.flatnonzero(~kept)
            if len(rest):
                plain = Normaliser(normaliser.name, normaliser.description, normaliser.function,
                                   normaliser.uses_region)
                out[rest] = normalise_many(values[rest], plain, None if regions is None else
                                           np.asarray(regions, dtype=object)[rest])
            return out
    codes, uniques = factorize(values)
    if normaliser.uses_region and regions is not None:
        region_codes, region_values = factorize(regions)
        combined = codes.astype(np.int64) * (len(region_values) + 1) + region_codes
        keys, inverse = np.unique(combined, return_inverse=True)
        width = len(region_values) + 1
        normal = np.empty(len(keys), dtype=object)
        for i, key in enumerate(keys.tolist()):
            normal[i] = normaliser(uniques[key // width], region_values[key % width])
        return normal[inverse]
    normal = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):
        normal[i] = normaliser(value)
    return normal[codes]


def differing(expected: np.ndarray, actual: np.ndarray, normaliser: Normaliser,
              regions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions where two aligned columns differ once normalised, with both normalised forms there.

    Raw-identical values are equal under any normaliser, so only the rest is normalised (each distinct
    value, or value and region, once); the normaliser's `same` shortcut skips more.
    """
    expected, actual = np.asarray(expected, dtype=object), np.asarray(actual, dtype=object)
    candidates = np.flatnonzero(expected != actual)
    if normaliser.same is not None and len(candidates):
        same = normaliser.same
        proven = np.fromiter((same(e, a) for e, a in zip(expected[candidates], actual[candidates], strict=True)),
                             dtype=bool, count=len(candidates))
        candidates = candidates[~proven]
    if not len(candidates):
        empty = np.empty(0, dtype=object)
        return candidates, empty, empty
    region = None if regions is None else np.asarray(regions, dtype=object)[candidates]
    both = normalise_many(np.concatenate([expected[candidates], actual[candidates]]), normaliser,
                          None if region is None else np.concatenate([region, region]))
    left, right = both[:len(candidates)], both[len(candidates):]
    differ = left != right
    return candidates[differ], left[differ], right[differ]


def describe(attributes: Sequence[str], strict_mode: bool = False) -> list[dict[str, str]]:
    """The normaliser of each audited attribute, for the report."""
    out = []
    for attribute in attributes:
        rule = normaliser_for(attribute, strict_mode)
        out.append({"attribute": attribute, "normaliser": rule.name, "description": rule.description})
    return out
