"""Notification pieces that need no network: reading RCAUDIT_NOTIFY_URLS, deciding to post, escaping."""

from __future__ import annotations

import pytest

from rcaudit.connect.notify import parse_targets
from rcaudit.model.errors import ConfigError
from rcaudit.report.notify_messages import (
    card_text,
    notice_from_summary,
    should_notify,
    slack_payload,
    teams_payload,
    trial_message,
)

SECRET = "hooks.example/services/T0/B0/Very-Secret-Token"


def summary(new_high: int | None, high: int = 2) -> dict:
    changes = None if new_high is None else {"previous_run": "20261130T000000Z-aaaa", "new": new_high, "fixed": 1,
                                             "persisting": high - new_high,
                                             "new_by_severity": {"high": new_high, "medium": 0, "low": 0}}
    return {"run_id": "20261201T000000Z-bbbb", "source": "environment", "verdict": "fail" if high else "clean",
            "fail_on": "high", "masked": False, "changes": changes,
            "findings": {"total": high, "waived": 0, "by_severity": {"high": high, "medium": 0, "low": 0}}}


def test_targets_come_from_the_environment_and_keep_their_url_out_of_repr() -> None:
    targets = parse_targets({"RCAUDIT_NOTIFY_URLS": f" teams:https://{SECRET}\n slack:https://{SECRET}2 "})
    assert [(t.kind, t.index) for t in targets] == [("teams", 1), ("slack", 2)]
    assert SECRET not in repr(targets) and SECRET not in targets[0].label
    assert targets[0].label == "teams #1 (https://hooks.example:443)"


@pytest.mark.parametrize("value", [f"mail:https://{SECRET}", f"slack:http://{SECRET}", f"json:{SECRET}",
                                   f"teams:https://user:pw@{SECRET}", "https://hooks.example/x"])
def test_a_malformed_entry_is_refused_without_showing_it(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_targets({"RCAUDIT_NOTIFY_URLS": f"json:https://ok.example/a {value}"})
    assert "RCAUDIT_NOTIFY_URLS entry 2" in caught.value.message
    assert "Secret" not in caught.value.message and "hooks.example/services" not in caught.value.message


def test_new_posts_only_for_new_findings_at_or_above_the_gate() -> None:
    report = "/runs/x/report.html"
    assert should_notify(notice_from_summary(summary(new_high=1), report), "new")[0]
    assert not should_notify(notice_from_summary(summary(new_high=0), report), "new")[0]
    assert should_notify(notice_from_summary(summary(new_high=None), report), "new")[0]  # a first run
    assert should_notify(notice_from_summary(summary(new_high=0), report), "any")[0]
    assert not should_notify(notice_from_summary(summary(new_high=0, high=0), report), "any")[0]
    assert should_notify(notice_from_summary(summary(new_high=0, high=0), report), "always")[0]


def test_hostile_values_are_escaped_for_each_service() -> None:
    hostile = [{"severity": "high", "kind": "orphan_in_target", "who": "<!channel> [x](https://evil) *b*",
                "attribute": "&"}]
    notice = notice_from_summary(summary(new_high=1), "/r/report.html", hostile)
    slack = slack_payload(notice)
    text = str(slack)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    card = str(teams_payload(notice))
    assert "[x](https://evil)" not in card and "\\\\[x\\\\]" in card


def test_a_webhook_url_is_refused_as_a_notebook_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    """papermill writes parameters into audit.ipynb: a webhook given as one must be refused, kind or not."""
    from rcaudit.connect.config import Settings
    from rcaudit.runner import check_parameters

    monkeypatch.setenv("RCAUDIT_NOTIFY_URLS", f"slack:https://{SECRET}")
    for value in (f"slack:https://{SECRET}", f"https://{SECRET}"):
        with pytest.raises(ConfigError, match="configured secret"):
            check_parameters([("group_by", value, True)], Settings.from_env())


@pytest.mark.parametrize(("value", "sent"), [
    ("[x](https://evil.example) *b* _i_", "\\[x\\](https://evil.example) \\*b\\* \\_i\\_"),  # links, emphasis
    ("- not a list", "\\- not a list"), ("1. not a list", "1\\. not a list"),
    ("ann.lee@contoso.example (Sales) #4 | +44 20 7946 0000", "ann.lee@contoso.example (Sales) #4 | +44 20 7946 0000"),
    ("line one\nline two", "line one line two"),
])
def test_card_text_escapes_only_what_teams_markdown_interprets(value: str, sent: str) -> None:
    """Teams renders bold, italic, lists and links (msteams-docs cards-format.md); a backslash before any other
    punctuation shows as typed on its mobile clients, so names, ids and phone numbers go as they are."""
    assert card_text(value) == sent


def test_the_check_test_message_has_each_services_shape_and_no_run() -> None:
    teams, slack, generic = (trial_message(kind) for kind in ("teams", "slack", "json"))
    assert teams["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert {b["type"] for b in slack["blocks"]} == {"header", "section"} and slack["text"] == "rcaudit: test message"
    assert generic["verdict"] == "test" and generic["summary"] is None
