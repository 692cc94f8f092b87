"""The report's provisioning-failures table: Graph's error fields as documented, masked where they may name a
person (microsoft-graph-docs-contrib api-reference/v1.0/resources/provisioningerrorinfo.md)."""

from __future__ import annotations

import dataclasses

import pandas as pd

from rcaudit.workbook import provisioning_failures
from tests.support.snapshots import NOW, small_tenant, snapshot_from_tenant


def _event(entra_id: str, advice: str | None, category: str = "nonServiceFailure") -> dict:
    return {"activityDateTime": "2026-11-30T04:00:00Z", "provisioningAction": "update",
            "sourceIdentity": {"id": entra_id, "displayName": "Ada Lind"},
            "provisioningStatusInfo": {"status": "failure", "errorInformation": {
                "errorCode": "SystemForCrossDomainIdentityManagementBadRequest", "errorCategory": category,
                "reason": "RingCentral returned HTTP 409: duplicate email ada.lind@contoso.example.",
                "additionalDetails": None, "recommendedAction": advice}}}


def _table(events: list[dict], mask_key: bytes | None = None) -> pd.DataFrame:
    snapshot = dataclasses.replace(snapshot_from_tenant(small_tenant([], []), NOW), provisioning_events=events)
    findings = pd.DataFrame({"entra_id": ["u-1", "u-2;u-3"]})
    return provisioning_failures(snapshot, findings, mask_key=mask_key)


def test_the_category_is_shown_and_the_recommended_action_only_when_an_event_has_one() -> None:
    plain = _table([_event("u-1", None), _event("u-3", None, "failure"), _event("u-9", "ignored: no finding")])
    assert list(plain.columns) == ["when", "action", "user", "entra_id", "error", "category", "reason"]
    assert list(plain["category"]) == ["nonServiceFailure", "failure"]
    advised = _table([_event("u-1", "Remove the duplicate e-mail in RingCentral for ada.lind@contoso.example"),
                      _event("u-2", None)])
    assert advised["recommended action"].tolist() == [
        "Remove the duplicate e-mail in RingCentral for ada.lind@contoso.example", ""]


def test_under_mask_pii_the_recommended_action_is_masked_like_the_reason() -> None:
    masked = _table([_event("u-1", "Remove the duplicate e-mail for ada.lind@contoso.example")], mask_key=b"k")
    text = masked.to_csv()
    assert "ada" not in text.lower() and "Lind" not in text
    assert masked.loc[0, "recommended action"].startswith("pii:") and masked.loc[0, "category"] == "nonServiceFailure"
