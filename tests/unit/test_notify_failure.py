"""A scheduled run that did not finish still tells its webhooks: what each payload says, and what it hides."""

from __future__ import annotations

import json

import pytest

from rcaudit.model.errors import ConfigError, NotebookError
from rcaudit.report.notify_messages import (
    ERROR_TEXT_LIMIT,
    NOTIFY_ON,
    Notice,
    failure_notice,
    generic_payload,
    should_notify,
    slack_payload,
    teams_payload,
)
from rcaudit.runner import failure_text

HOSTILE = "ScimError: RingCentral said <!channel> [click](https://evil.example) *now* for ann.lee@contoso.example"


def notice(error: str = HOSTILE, masked: bool = False, run_id: str = "20261201T060000Z-ab12") -> Notice:
    return failure_notice(run_id=run_id, source="environment", fail_on="high", error=error,
                          report=f"/outputs/{run_id}/report.html" if run_id else "", masked=masked)


@pytest.mark.parametrize("notify_on", NOTIFY_ON)
def test_a_run_that_did_not_finish_is_posted_whatever_notify_on_says(notify_on: str) -> None:
    wanted, why = should_notify(notice(), notify_on)
    assert wanted and why == "the audit did not finish"


def test_each_payload_says_error_and_escapes_what_a_service_said() -> None:
    made = notice()
    card = teams_payload(made)["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}
    assert facts["Verdict"] == "ERROR: the audit did not finish (exit code 2)"
    assert "[click](https://evil.example)" not in json.dumps(card) and "\\[click\\]" in facts["Error"]
    slack = slack_payload(made)
    assert slack["text"] == "rcaudit Entra → RingCentral: ERROR: the audit did not finish"
    error_block = next(b for b in slack["blocks"] if b["type"] == "section" and "text" in b)
    assert error_block["text"]["type"] == "plain_text" and "&lt;!channel&gt;" in error_block["text"]["text"]
    assert "<!channel>" not in json.dumps(slack)
    generic = generic_payload(made, None, "new")
    assert generic["verdict"] == "error" and generic["summary"] is None and generic["error"] == HOSTILE
    assert generic["run_id"] == "20261201T060000Z-ab12"


def test_without_a_run_folder_the_payloads_say_so() -> None:
    made = notice(error="cannot audit: 1 setting(s) missing", run_id="")
    generic = generic_payload(made, None, "always")
    assert generic["run_id"] is None and generic["report"] is None
    context = slack_payload(made)["blocks"][-1]["elements"][0]["text"]
    assert context == "No run folder"


def test_a_long_error_is_cut_and_folded_to_one_line() -> None:
    made = notice(error="line one\n" + "x" * 2000)
    assert "\n" not in (made.error or "") and len(made.error or "") == ERROR_TEXT_LIMIT
    assert len(json.dumps(slack_payload(made))) < 3000


def test_under_mask_pii_only_the_error_type_and_cell_are_sent() -> None:
    failed = NotebookError(f"the audit notebook failed in cell 7: {HOSTILE}", cell=7, ename="ScimError",
                           evalue=HOSTILE)
    assert failure_text(failed, masked=False) == failed.message
    masked = failure_text(failed, masked=True)
    assert masked.startswith("the audit notebook failed in cell 7: ScimError") and "ann.lee" not in masked
    assert "contoso" not in failure_text(ConfigError("no such user ann.lee@contoso.example"), masked=True)
