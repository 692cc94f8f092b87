"""DESIGN.md's "not drift" normalisers: each rule with its case, the registry, the distinct-value machinery,
and (hypothesis) that normalising twice changes nothing."""

from __future__ import annotations

import numpy as np
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcaudit.audit import normalize
from rcaudit.audit.normalize import (
    NORMALISERS,
    casefolded,
    country,
    differing,
    normalise_many,
    normaliser_for,
    parsed_phone,
    phone,
    plus_digits,
    same_phone,
    text,
)

MOBILE = 'phoneNumbers[type eq "mobile"].value'
COUNTRY = 'addresses[type eq "work"].country'


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("   ", None), ([], None), ((), None),
    ("  Staff   Engineer ", "Staff Engineer"), ("Tab\tand\nnewline", "Tab and newline"),
    (True, "true"), (False, "false"), ("True", "true"), ("FALSE", "false"),
    (["only"], "only"), (["b", "a"], '["a", "b"]'), (7, "7"), (float("nan"), None),
])
def test_text_trims_collapses_and_makes_absent_null_empty_and_empty_list_one(value, expected) -> None:
    assert text(value) == expected


def test_user_name_and_email_compare_case_insensitively_other_text_does_not() -> None:
    assert casefolded(" Max.Muster@CONTOSO.example ") == "max.muster@contoso.example"
    assert casefolded("Straße@x.de") == casefolded("STRASSE@X.DE")
    assert normaliser_for("userName").name == normaliser_for('emails[type eq "work"].value').name == "casefold"
    assert normaliser_for("title").name == "text" and text("Engineer") != text("engineer")


@pytest.mark.parametrize(("value", "region", "expected"), [
    ("(415) 555-0101", "US", "+14155550101"),
    ("415.555.0101", "us", "+14155550101"),
    ("+1 (415) 555-0101", None, "+14155550101"),
    ("07700 900123", "GB", "+447700900123"),
    ("+44 (0)20 7946 0000", "GB", "+442079460000"),  # the trunk 0 written in brackets
    ("0151/23456789", "DE", "+4915123456789"),
    ("070-123 45 67", "SE", "+46701234567"),
    ("+14155550101", "GB", "+14155550101"),  # already E.164: not parsed, region irrelevant
    ("not a phone", "US", "not a phone"),  # unparseable: compared as text
    ("+1 2", "US", "+12"),  # unparseable but international: its +digits form
    (None, "US", None), ("", "US", None),
])
def test_phones_compare_in_e164_with_the_users_region(value, region, expected) -> None:
    assert phone(value, region) == expected


REGIONS = ["US", "CA", "GB", "DE", "SE", "IT", "FR", "AR", "MX", "BR", "JP", "AU", "IN", "CN", "RU", "NL", "CH",
           "ES", "KR", "ZA", "NG", "SG", "IL", "NZ", "IE", "NO", "001", None, "XX"]


@pytest.mark.parametrize(("value", "region"), [
    ("06 1234 5678", "IT"),  # Italian numbers keep their leading zero
    ("011 15 2345-6789", "AR"),  # Argentina: national prefix and carrier rules
    ("044 55 1234 5678", "MX"), ("(11) 91234-5678", "BR"), ("03-1234-5678", "JP"),
    ("1 (415) 555-0101", "US"),  # starts with the country code: left to parse
    ("011 44 20 7946 0000", "US"),  # the US IDD prefix: left to parse
    ("00 46 70 123 45 67", "SE"), ("+44 (0)20 7946 0000", None), ("+39 06 1234 5678", "US"), ("12", "US"),
    ("0800 123 4567", "GB"), ("999", "GB"), ("+1 800 FLOWERS", "US"), ("(415) 555-0101 ext. 7", "US"),
])
def test_the_fast_path_gives_what_phonenumbers_parse_gives(value: str, region: str | None) -> None:
    assert phone(value, region) == parsed_phone(value, region)


@settings(max_examples=400, deadline=None, database=None)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=18), plus=st.booleans(),
       separators=st.lists(st.sampled_from(["", " ", "-", ".", "/", "(", ")"]), min_size=18, max_size=18),
       region=st.sampled_from(REGIONS))
def test_the_fast_path_equals_parse_for_any_digits_and_punctuation(digits, plus, separators, region) -> None:
    value = ("+" if plus else "") + "".join(d + sep for d, sep in zip(digits, separators, strict=False))
    assert phone(value, region) == parsed_phone(value, region)


def test_values_already_in_e164_are_never_parsed(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(phonenumbers, "parse", refuse)
    assert phone("+4915123456789", "DE") == "+4915123456789"
    assert normalise_many(["+14155550101", "+14155550101", None], NORMALISERS["phone_e164"], ["US"] * 3).tolist() \
        == ["+14155550101", "+14155550101", None]


def test_the_phone_shortcut_only_claims_equality_phonenumbers_would_agree_with() -> None:
    assert plus_digits("+1 (415) 555-0101") == "+14155550101" and plus_digits("(415) 555-0101") is None
    assert plus_digits("+1 415 555 0101 x12") is None and plus_digits("+1 415/555") is None
    assert same_phone("+1 (415) 555-0101", "+14155550101")
    assert not same_phone("(415) 555-0101", "+14155550101")  # "don't know": parse to find out
    assert not same_phone("+44 (0)20 7946 0000", "+442079460000")


@pytest.mark.parametrize(("value", "expected"), [
    ("US", "US"), ("USA", "US"), ("United States", "US"), ("  united   states ", "US"), ("Sweden", "SE"),
    ("SE", "SE"), ("United Kingdom", "GB"), ("UK", "GB"), ("Deutschland", "Deutschland"), (None, None), ("", None),
])
def test_countries_compare_as_iso_alpha_2(value, expected) -> None:
    assert country(value) == expected


def test_the_registry_is_data_keyed_by_attribute_and_strict_turns_it_off() -> None:
    assert normaliser_for(MOBILE).name == "phone_e164" and normaliser_for(COUNTRY).name == "country_alpha2"
    assert normaliser_for('phoneNumbers[type eq "work"].value').name == "phone_e164"  # by pattern
    assert normaliser_for("name.givenName").name == "text"
    assert {normaliser_for(a, strict_mode=True).name for a in ("userName", MOBILE, COUNTRY)} == {"strict"}
    assert normalize.describe(["userName"]) == [{"attribute": "userName", "normaliser": "casefold",
                                                 "description": NORMALISERS["casefold"].description}]
    strict = NORMALISERS["strict"]
    assert (strict(None), strict(""), strict(" x "), strict(True)) == ("", "", " x ", "true")


def test_each_distinct_value_and_region_is_normalised_once(monkeypatch) -> None:
    calls: list[tuple[str, str | None]] = []
    counting = normalize.Normaliser("counting", "", lambda v, r: calls.append((v, r)) or v, uses_region=True)
    values = ["a", "a", "b", "a", None, "b"]
    regions = ["US", "US", "US", "GB", "US", "US"]
    assert normalise_many(values, counting, regions).tolist() == values
    assert sorted(calls, key=str) == sorted([("a", "US"), ("b", "US"), ("a", "GB"), (None, "US")], key=str)


def test_differing_normalises_only_what_raw_equality_leaves_open(monkeypatch) -> None:
    seen: list[str] = []
    original = normalize.country

    def spy(value):
        seen.append(value)
        return original(value)

    rule = normalize.Normaliser("country_alpha2", "", spy)
    expected = np.array(["US", "SE", "Sweden", None], dtype=object)
    actual = np.array(["US", "Sweden", "Norway", ""], dtype=object)
    where, left, right = differing(expected, actual, rule)
    assert where.tolist() == [2] and (left.tolist(), right.tolist()) == (["SE"], ["NO"])
    assert "US" not in seen  # raw-identical: never normalised


# --- hypothesis: normalising is idempotent ------------------------------------------------------------------

messy_text = st.text(alphabet=st.sampled_from(list("aAbZ çÉß@.-_ \t\n0123")), max_size=12) | st.none() \
    | st.booleans() | st.lists(st.sampled_from(["a", " b ", "", "C"]), max_size=3)
phone_like = st.text(alphabet=st.sampled_from(list("+0123456789 ()-./x")), max_size=18) | st.sampled_from(
    ["(415) 555-0101", "+44 7700 900123", "0151 23456789", "+4915123456789", "070-123 45 67", "+1 2"])
country_like = st.sampled_from(["US", "USA", "United States", "united kingdom", "UK", "SE", "Sverige", "Germany",
                                " germany ", "", "Atlantis"]) | st.text(max_size=6)


@settings(max_examples=150, deadline=None, database=None)
@given(value=messy_text)
def test_text_and_casefold_are_idempotent(value) -> None:
    for rule in (text, casefolded, NORMALISERS["strict"]):
        once = rule(value)
        assert rule(once) == once


@settings(max_examples=150, deadline=None, database=None)
@given(value=phone_like, region=st.sampled_from([None, "US", "GB", "DE", "SE"]))
def test_phone_is_idempotent(value, region) -> None:
    once = phone(value, region)
    assert phone(once, region) == once


@settings(max_examples=100, deadline=None, database=None)
@given(value=country_like)
def test_country_is_idempotent(value) -> None:
    once = country(value)
    assert country(once) == once
