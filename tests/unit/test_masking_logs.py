"""`--mask-pii` masks a provisioning event's free text whole, as one keyed hash (issue 10 point 6); the run
folder and stderr of a whole masked audit are checked in tests/notebooks/test_masking_logs.py."""

from __future__ import annotations

from rcaudit.report.masking import mask, mask_event_text


def test_event_text_is_one_keyed_hash() -> None:
    text = mask_event_text("externalId jamal.hernandez: Kungsgatan 12, 111 43 Stockholm", b"k")
    assert text == mask("externalId jamal.hernandez: Kungsgatan 12, 111 43 Stockholm", b"k")
    assert text.startswith("pii:") and "hernandez" not in text and "Kungsgatan" not in text
