"""`--mask-pii` masks the provisioning log's free text whole (issue 10 point 6): a reason can quote an address,
a postcode, a manager's name or an accented name folded to ASCII, which no pattern finds, so the reason is one
keyed hash and only the service's error code stays readable. Checked over HTTPS against the sandbox, on every
file of the run folder but the raw snapshot and on the audit's stderr (which logs cell outputs)."""

from __future__ import annotations

from rcaudit.report.masking import mask, mask_event_text


def test_event_text_is_one_keyed_hash() -> None:
    text = mask_event_text("externalId jamal.hernandez: Kungsgatan 12, 111 43 Stockholm", b"k")
    assert text == mask("externalId jamal.hernandez: Kungsgatan 12, 111 43 Stockholm", b"k")
    assert text.startswith("pii:") and "hernandez" not in text and "Kungsgatan" not in text
