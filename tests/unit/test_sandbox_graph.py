"""The Graph v1.0 emulator's pieces without a server: the opaque, tamper-evident skiptoken, page resumption
after the last key served, and the $filter reader (the emulator over HTTPS: tests/integration)."""

from __future__ import annotations

import pytest

from rcaudit.sandbox.servers.odata import ODataError, decode_skiptoken, encode_skiptoken, parse_filter, take_page


# --- the pure OData helpers ---------------------------------------------------------------------------------
def test_skiptoken_is_opaque_and_tamper_evident() -> None:
    key = b"k" * 32
    token = encode_skiptoken({"o": 7, "k": "abc"}, key)
    assert decode_skiptoken(token, key) == {"o": 7, "k": "abc"}
    assert "abc" not in token and not token.isdigit()
    for bad in (token[:-2], token + "x", encode_skiptoken({"o": 7}, b"other" * 8), ""):
        with pytest.raises(ODataError):
            decode_skiptoken(bad, key)


def test_take_page_resumes_after_the_last_key_served() -> None:
    items = [str(n) for n in range(10)]
    first = take_page(items, 4, None, key=str)
    assert first.items == ["0", "1", "2", "3"] and first.cursor == {"o": 4, "k": "3"}
    items.remove("1")  # the list shrank before the offset: resume after "3", not at index 4
    assert take_page(items, 4, first.cursor, key=str).items == ["4", "5", "6", "7"]


def test_parse_filter_reads_comparisons_joined_by_and() -> None:
    clauses = parse_filter("jobId eq 'it''s' and (activityDateTime gt 2026-01-01T00:00:00Z)")
    assert [(c.prop, c.op, c.value, c.quoted) for c in clauses] == [
        ("jobId", "eq", "it's", True), ("activityDateTime", "gt", "2026-01-01T00:00:00Z", False)]
    with pytest.raises(ODataError):
        parse_filter("startswith(jobId, 'a')")
