"""A scheduled run that did not finish still tells its webhooks: what each payload says, and what it hides."""

from __future__ import annotations

import json
from pathlib import Path

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
    died = NotebookError("the audit notebook did not finish: DeadKernelError: Kernel died", ename="DeadKernelError")
    assert failure_text(died, masked=True).startswith("the audit notebook did not finish: DeadKernelError (")


def test_configured_secrets_are_blanked_from_what_is_sent() -> None:
    """A gateway that echoes the token it refused: the error's text loses every configured secret."""
    echoed = ConfigError("RingCentral said: invalid token rc-token-5e1f9a77 for client sec-ret-value-0042")
    text = failure_text(echoed, masked=False, secrets_=["rc-token-5e1f9a77", "sec-ret-value-0042", "abc"])
    assert "rc-token" not in text and "sec-ret" not in text and text.count("REDACTED") == 2
    assert "for client" in text  # a value shorter than 8 characters ("abc") blanks no ordinary word


def test_an_unexpected_exception_sends_its_type_and_first_line_only() -> None:
    text = failure_text(MemoryError("cannot allocate 8 GiB\nframe details"), masked=False)
    assert text == "MemoryError: cannot allocate 8 GiB (an unexpected error: the traceback is on stderr)"
    assert failure_text(MemoryError("x"), masked=True, where="stderr") == \
        "MemoryError (details in stderr; not sent under --mask-pii)"


def test_a_run_log_that_cannot_be_written_does_not_replace_the_audits_error(tmp_path: Path) -> None:
    from rcaudit.connect.config import Settings
    from rcaudit.runner import notify_failure

    folder = tmp_path / "20261201T060000Z-ab12"
    (folder / "run.log").mkdir(parents=True)  # unwritable as a file
    told = notify_failure(folder, ConfigError("boom"), source="environment", fail_on="high", mask_pii=False,
                          targets=[], settings=Settings(), notify_on="new")
    assert told == "notify: 0 sent (the audit did not finish)"


def test_a_usage_error_is_refused_before_anything_is_posted(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--keep 0` is the caller's mistake, not a run that broke: exit 2 before RCAUDIT_NOTIFY_URLS is read."""
    from rcaudit import runner
    from rcaudit.connect.config import Settings

    monkeypatch.setattr(runner, "_notify_targets", lambda notify_on: pytest.fail("webhooks read"))
    with pytest.raises(ConfigError, match="--keep 0"):
        runner.audit(settings=Settings(), source="environment", notify_on="always", keep=0)


def test_a_bug_exits_2_with_its_traceback_and_no_secret(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Python exits 1 on an uncaught exception, which a scheduler reads as "findings": the CLI says 2."""
    from rcaudit import cli

    monkeypatch.setenv("RCAUDIT_SCIM_TOKEN", "scim-token-in-a-bug-4411")

    def broken(args: object) -> int:
        raise TypeError("unexpected None near scim-token-in-a-bug-4411")

    monkeypatch.setattr(cli, "cmd_summary", broken)
    assert cli.main(["summary"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rcaudit: internal error: TypeError (a bug in rcaudit") and "Traceback" in err
    assert "scim-token-in-a-bug" not in err and "REDACTED" in err
