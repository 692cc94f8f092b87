"""`--mask-pii` masks by default (issue 10 point 6): every attribute but a short non-personal allowlist is
personal, and the provisioning log's free text is masked. Whole runs checked file by file are in
tests/notebooks/test_masking.py."""

from __future__ import annotations

import pandas as pd

from rcaudit.model.findings import COLUMNS
from rcaudit.model.vocabulary import ENTERPRISE
from rcaudit.report.masking import is_personal, mask_event_text, mask_findings

WORK_PHONE = 'phoneNumbers[type eq "work"].value'


def test_every_attribute_but_the_allowlist_is_personal() -> None:
    for name in ("active", "title", f"{ENTERPRISE}:department", 'addresses[type eq "work"].country'):
        assert not is_personal(name), name
    for name in (WORK_PHONE, "urn:ietf:params:scim:schemas:extension:custom:2.0:User:extensionAttribute3",
                 f"{ENTERPRISE}:employeeNumber", 'addresses[type eq "work"].streetAddress', "nickName", ""):
        assert is_personal(name), name
    row = dict.fromkeys(COLUMNS, "")
    row.update(kind="attribute_mismatch", attribute=f"{ENTERPRISE}:employeeNumber", expected="E-4711",
               actual="E-4712", user_name="ada@contoso.example", waived=False)
    masked = mask_findings(pd.DataFrame([row]), b"k")
    assert masked.loc[0, "expected"].startswith("pii:") and masked.loc[0, "actual"].startswith("pii:")


def test_provisioning_log_text_is_masked() -> None:
    text = mask_event_text("User Ada Lind (ada.lind@contoso.example, +1 (415) 555-0123) failed on 2026-11-30: "
                           "HTTP 409", b"k")
    assert "Ada" not in text and "Lind" not in text and "contoso" not in text and "555" not in text
    assert text.startswith("pii:") and " " not in text  # masked whole (issue 10 point 6: no partial reasons)
