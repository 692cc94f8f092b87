"""What a scheduled run tells a channel: the decision to tell, and the three payloads (pure: no network).

A `Notice` is built from the run's `summary.json` (its `verdict`, counts and `changes` against the previous run
of the same source, tenant and SCIM URL) plus a few new findings; each builder turns it into one service's
documented message shape. Under `--mask-pii` a notice names no person: findings are shown by account id.
Values from the services (attribute names, ids) are escaped for the markup each service interprets.

Shapes, as documented:
- Microsoft Teams workflow webhook ("When a Teams webhook request is received" / "Send webhook alerts to a
  channel"): a `message` whose `attachments` hold one `application/vnd.microsoft.card.adaptive` Adaptive Card
  (https://learn.microsoft.com/en-us/connectors/teams/#microsoft-teams-webhook and MicrosoftDocs/msteams-docs
  msteams-platform/webhooks-and-connectors/how-to/add-incoming-webhook.md); card `version` 1.4, which Teams
  renders, with `TextBlock` and `FactSet` elements only.
- Slack incoming webhook: `text` (the notification fallback) plus Block Kit `blocks` of type `header`
  (plain_text, at most 150 characters), `section` (text at most 3000 characters, at most 10 `fields`) and
  `context` (https://api.slack.com/reference/block-kit/blocks); in `mrkdwn`, `&`, `<` and `>` are control
  characters and must be sent as entities (https://docs.slack.dev/messaging/formatting-message-text/), and
  hostile values go in `plain_text`, which Slack never formats.
- generic JSON: the whole `summary.json` plus the new-since-last-run counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rcaudit.model.findings import SEVERITIES

NOTIFY_ON = ("new", "any", "always")
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SLACK_HEADER_LIMIT, SLACK_TEXT_LIMIT, SLACK_FIELDS_LIMIT = 150, 3000, 10
EXAMPLES = 5  # new findings named in a message
GENERIC_VERSION = 1
# Teams renders only bold, italic, lists and links in a TextBlock, Fact.Title and Fact.Value (MicrosoftDocs/
# msteams-docs msteams-platform/task-modules-and-cards/cards/cards-format.md; headers, tables, images and
# preformatted text "aren't supported"). So only their syntax is escaped: a backslash before punctuation Teams
# does not interpret would be shown as typed on its mobile clients (microsoft/AdaptiveCards#5590).
_CARD_MARKDOWN = re.compile(r"([\\*_\[\]])")
_CARD_LIST_START = re.compile(r"^(?:([-+])|(\d+)\.)(\s)")


def gate(fail_on: str) -> tuple[str, ...]:
    """The severities at or above `fail_on` (`none`: every severity, so a notice still has something to count)."""
    if fail_on not in SEVERITIES:
        return SEVERITIES
    return SEVERITIES[: SEVERITIES.index(fail_on) + 1]


@dataclass(frozen=True)
class Notice:
    """Everything a message says, from one run."""

    run_id: str
    source: str
    verdict: str
    fail_on: str
    by_severity: dict[str, int]
    total: int
    waived: int
    previous_run: str | None  # None: the first run of this source, tenant and SCIM URL (everything is new)
    new_by_severity: dict[str, int]
    fixed: int
    report: str
    masked: bool
    examples: list[dict[str, str]] = field(default_factory=list)  # severity, kind, who, attribute
    fixed_by_severity: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # set on a run that did not finish (verdict `error`): what went wrong, in one line

    @property
    def new_gated(self) -> int:
        """New findings at or above --fail-on: what `--notify-on new` waits for."""
        return sum(self.new_by_severity.get(level, 0) for level in gate(self.fail_on))

    @property
    def gated(self) -> int:
        return sum(self.by_severity.get(level, 0) for level in gate(self.fail_on))

    @property
    def new_total(self) -> int:
        return sum(self.new_by_severity.values())


def notice_from_summary(summary: dict[str, Any], report: str, examples: list[dict[str, str]] | None = None) -> Notice:
    """A Notice from summary.json; with no previous run every counted finding is new."""
    findings = summary.get("findings") or {}
    by_severity = {level: int((findings.get("by_severity") or {}).get(level, 0)) for level in SEVERITIES}
    changes = summary.get("changes") if isinstance(summary.get("changes"), dict) else None
    new = {level: int(((changes or {}).get("new_by_severity") or {}).get(level, 0)) for level in SEVERITIES} \
        if changes else dict(by_severity)
    return Notice(run_id=str(summary.get("run_id") or ""), source=str(summary.get("source") or ""),
                  verdict=str(summary.get("verdict") or ""), fail_on=str(summary.get("fail_on") or "high"),
                  by_severity=by_severity, total=int(findings.get("total", 0)), waived=int(findings.get("waived", 0)),
                  previous_run=str(changes["previous_run"]) if changes else None, new_by_severity=new,
                  fixed=int((changes or {}).get("fixed", 0)), report=report, masked=bool(summary.get("masked")),
                  examples=list(examples or []),
                  fixed_by_severity={level: int(((changes or {}).get("fixed_by_severity") or {}).get(level, 0))
                                     for level in SEVERITIES})


ERROR_TEXT_LIMIT = 400  # characters of an error shown in a message


def failure_notice(*, run_id: str, source: str, fail_on: str, error: str, report: str, masked: bool) -> Notice:
    """The notice of a run that did not finish (an expired secret, RingCentral down, a cell that failed): no
    counts, since none were made. `error` is said by the caller; under `--mask-pii` it names only the error's
    type (an error may quote a value from a service), and is cut to ERROR_TEXT_LIMIT characters."""
    text = " ".join(error.split())
    text = text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"
    zero = dict.fromkeys(SEVERITIES, 0)
    return Notice(run_id=run_id, source=source, verdict="error", fail_on=fail_on, by_severity=dict(zero), total=0,
                  waived=0, previous_run=None, new_by_severity=dict(zero), fixed=0, report=report, masked=masked,
                  error=text or "the audit did not finish")


def should_notify(notice: Notice, notify_on: str) -> tuple[bool, str]:
    """Whether to post, and why (or why not), for the summary line and run.log. A run that did not finish
    posts under every `--notify-on`: staying quiet would read as "nothing new went wrong"."""
    if notice.verdict == "error":
        return True, "the audit did not finish"
    level = f"at or above {notice.fail_on}" if notice.fail_on in SEVERITIES else "of any severity"
    if notify_on == "always":
        return True, "--notify-on always"
    if notify_on == "any":
        return (notice.gated > 0, f"{notice.gated} finding(s) {level}" if notice.gated else f"no finding {level}")
    if notice.new_gated:
        since = f"since {notice.previous_run}" if notice.previous_run else "(first run of this tenant)"
        return True, f"{notice.new_gated} new finding(s) {level} {since}"
    return False, f"no new finding {level} since the previous run"


# --- the words ----------------------------------------------------------------------------------------------
VERDICT_WORDS = {"fail": "FAIL", "drift": "drift (below the gate)", "clean": "clean",
                 "error": "ERROR: the audit did not finish"}


def title(notice: Notice) -> str:
    where = "sandbox demo" if notice.source == "sandbox" else "Entra → RingCentral"
    if notice.error is not None:
        return f"rcaudit {where}: {VERDICT_WORDS['error']}"
    new = f", {notice.new_gated} new at or above {notice.fail_on}" if notice.fail_on in SEVERITIES else ""
    return f"rcaudit {where}: {VERDICT_WORDS.get(notice.verdict, notice.verdict)}{new}"


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{level} {int(counts.get(level, 0))}" for level in SEVERITIES)


def facts(notice: Notice) -> list[tuple[str, str]]:
    """(label, value) pairs every payload shows."""
    if notice.error is not None:
        return [("Verdict", f"{VERDICT_WORDS['error']} (exit code 2)"), ("Error", notice.error),
                ("Run", notice.run_id or "none (no run folder was made)"), ("Report", notice.report or "none")]
    since = notice.previous_run or "none (first run of this source, tenant and SCIM URL)"
    return [("Verdict", f"{VERDICT_WORDS.get(notice.verdict, notice.verdict)} (--fail-on {notice.fail_on})"),
            ("Findings", f"{notice.total} ({counts_text(notice.by_severity)}); {notice.waived} waived"),
            ("New", f"{notice.new_total} ({counts_text(notice.new_by_severity)})"),
            ("Fixed", str(notice.fixed)), ("Previous run", since), ("Run", notice.run_id),
            ("Report", notice.report)]


def example_lines(notice: Notice) -> list[str]:
    return [f"{e.get('severity', '')} {e.get('kind', '')}: {e.get('who', '')} {e.get('attribute', '')}".strip()
            for e in notice.examples[:EXAMPLES]]


# --- the payloads --------------------------------------------------------------------------------------------
def card_text(value: str) -> str:
    """A value for an Adaptive Card TextBlock/FactSet (both render a Markdown subset): on one line, with the
    emphasis and link characters escaped, and a leading list marker (`- `, `+ `, `1. `) kept as text."""
    text = _CARD_MARKDOWN.sub(r"\\\1", " ".join(str(value).split()))
    return _CARD_LIST_START.sub(lambda m: (f"\\{m[1]}" if m[1] else f"{m[2]}\\.") + m[3], text)


COLORS = {"fail": "Attention", "error": "Attention", "clean": "Good"}  # the title's color; drift: Warning


def teams_payload(notice: Notice) -> dict[str, Any]:
    """A Teams workflow webhook message holding one Adaptive Card (shapes: module docstring)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": card_text(title(notice)), "size": "Medium", "weight": "Bolder", "wrap": True,
         "color": COLORS.get(notice.verdict, "Warning")},
        {"type": "FactSet", "facts": [{"title": card_text(k), "value": card_text(v)} for k, v in facts(notice)]},
    ]
    lines = example_lines(notice)
    if lines:
        body.append({"type": "TextBlock", "text": "New findings:", "weight": "Bolder", "wrap": True})
        body += [{"type": "TextBlock", "text": card_text(line), "wrap": True, "spacing": "None"} for line in lines]
    return _teams_message(body, {"msteams": {"width": "Full"}})


def _teams_message(body: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A workflow webhook `message` holding one Adaptive Card of `body` (shapes: module docstring)."""
    card = {"$schema": ADAPTIVE_CARD_SCHEMA, "type": "AdaptiveCard", "version": ADAPTIVE_CARD_VERSION, "body": body,
            **(extra or {})}
    return {"type": "message",
            "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def slack_escape(value: str) -> str:
    """Slack's three control characters as entities (mrkdwn and plain_text alike)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook message: fallback text plus Block Kit blocks (shapes: module docstring)."""
    heading = title(notice)
    fields = [{"type": "plain_text", "text": _cut(slack_escape(f"{k}: {v}"), 2000)}
              for k, v in facts(notice)[:SLACK_FIELDS_LIMIT] if k not in ("Report", "Run", "Error")]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(slack_escape(heading), SLACK_HEADER_LIMIT)}},
        {"type": "section", "fields": fields},
    ]
    lines = example_lines(notice)
    if notice.error is not None:  # plain_text: an error may quote a service's words
        said = _cut(slack_escape(f"Error: {notice.error}"), SLACK_TEXT_LIMIT)
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": said}})
    if lines:
        text = _cut(slack_escape("New findings:\n" + "\n".join(lines)), SLACK_TEXT_LIMIT)
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": text}})
    run = f"Run `{slack_escape(notice.run_id)}`" if notice.run_id else "No run folder"
    report = f" · report `{slack_escape(notice.report)}`" if notice.report else ""
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(run + report, SLACK_TEXT_LIMIT)}]})
    return {"text": slack_escape(heading), "blocks": blocks}


def generic_payload(notice: Notice, summary: dict[str, Any] | None, notify_on: str) -> dict[str, Any]:
    """The generic JSON POST: the whole summary.json plus the new-since-last-run counts. A run that did not
    finish sends `verdict` `error`, its `error` and `run_id`, and `summary` null (none was written)."""
    if notice.error is not None:
        return {"rcaudit_notification": GENERIC_VERSION, "title": title(notice), "verdict": "error",
                "fail_on": notice.fail_on, "notify_on": notify_on, "run_id": notice.run_id or None,
                "error": notice.error, "report": notice.report or None, "summary": None}
    return {"rcaudit_notification": GENERIC_VERSION, "title": title(notice), "verdict": notice.verdict,
            "fail_on": notice.fail_on, "notify_on": notify_on, "previous_run": notice.previous_run,
            "new": {"total": notice.new_total, "at_or_above_fail_on": notice.new_gated,
                    "by_severity": dict(notice.new_by_severity)},
            "fixed": {"total": notice.fixed, "by_severity": dict(notice.fixed_by_severity)},
            "report": notice.report, "examples": notice.examples[:EXAMPLES],
            "summary": summary}


TEST_TITLE = "rcaudit: test message"
TEST_TEXT = ("rcaudit check --notify posted this to see that the webhook works: the notices of scheduled audits "
             "(rcaudit audit --notify-on …) will come here.")


def trial_message(kind: str) -> dict[str, Any]:
    """What `rcaudit check --notify` posts: each service's shape, no run and no finding in it."""
    if kind == "teams":
        return _teams_message([{"type": "TextBlock", "text": card_text(TEST_TITLE), "weight": "Bolder", "wrap": True},
                               {"type": "TextBlock", "text": card_text(TEST_TEXT), "wrap": True}])
    if kind == "slack":
        return {"text": TEST_TITLE, "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": TEST_TITLE}},
            {"type": "section", "text": {"type": "plain_text", "text": TEST_TEXT}}]}
    return {"rcaudit_notification": GENERIC_VERSION, "title": TEST_TITLE, "verdict": "test", "text": TEST_TEXT,
            "summary": None}


def payload(kind: str, notice: Notice, summary: dict[str, Any] | None, notify_on: str) -> dict[str, Any]:
    if kind == "teams":
        return teams_payload(notice)
    if kind == "slack":
        return slack_payload(notice)
    return generic_payload(notice, summary, notify_on)
