"""The report's first screen: pass or fail against `fail_on`, one tile per severity, the job's state, what to do.

Pure over the findings table and a few counts; every value shown is escaped (`note`). The actions link to the
findings grid filtered to their kind (`data-kind`, read by the grid loader).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rcaudit.model.findings import SEVERITIES, SEVERITY_RANK
from rcaudit.report.export import Html, note

# What to do about each kind, worded for the count of rows and of accounts/users they concern.
ACTIONS = {
    "should_be_inactive": "deactivate {n} account{s} of people who left or are out of scope",
    "orphan_in_target": "review {n} orphan account{s} that no Entra user owns",
    "missing_in_target": "provision {n} missing user{s}",
    "should_be_active": "reactivate {n} account{s} of live users",
    "ambiguous_match": "resolve {n} ambiguous match{es}",
    "attribute_mismatch": "correct {rows} attribute value{rs} on {n} account{s}",
}


def _subjects(rows: pd.DataFrame) -> pd.Series:
    return rows["scim_id"].where(rows["scim_id"] != "", rows["entra_id"])


def tiles(counted: pd.DataFrame, accounts: int) -> list[dict[str, Any]]:
    """Per severity: findings, accounts (or users without account) affected, and their share of all accounts."""
    out = []
    for severity in SEVERITIES:
        rows = counted[counted["severity"] == severity]
        affected = int(_subjects(rows).nunique())
        out.append({"severity": severity, "findings": len(rows), "affected": affected,
                    "share": affected / accounts if accounts else 0.0})
    return out


def actions(counted: pd.DataFrame) -> list[tuple[str, str]]:
    """(kind, sentence) for each kind present, worst first."""
    out = []
    ranked = counted.assign(rank=counted["severity"].map(SEVERITY_RANK))
    for kind, rows in sorted(ranked.groupby("kind"), key=lambda kv: (kv[1]["rank"].min(), -len(kv[1]))):
        n = int(_subjects(rows).nunique()) if kind == "attribute_mismatch" else len(rows)
        text = ACTIONS.get(str(kind), "look at {n} " + str(kind) + " finding{s}").format(
            n=f"{n:,}", s="" if n == 1 else "s", es="" if n == 1 else "es", rows=f"{len(rows):,}",
            rs="" if len(rows) == 1 else "s")
        out.append((str(kind), text))
    return out


TOO_MANY_DELETES_HINT = ("The disables and deletes of one cycle passed the accidental-deletions threshold: review "
                         "them in the provisioning logs (Action: StagedDelete), then select Allow deletes on the "
                         "app's Provisioning page, or assign the users again and restart provisioning.")


def quarantine_note(text: Html, quarantine: dict[str, Any]) -> Html:
    """`text` followed by the quarantine's reason, dates and error message (all escaped), and for the reason
    TooManyDeletes what an admin does about it (entra-docs accidental-deletions.md)."""
    error = (quarantine.get("error") or {}).get("message") or ""
    text = note("{} Quarantine reason: {}; since {}; next attempt {}. {}", text, quarantine.get("reason"),
                quarantine.get("seriesBegan"), quarantine.get("nextAttempt"), error)
    if str(quarantine.get("reason") or "").casefold() == "toomanydeletes":
        text = note("{} {}", text, TOO_MANY_DELETES_HINT)
    return text


def job_state(job: dict[str, Any] | None) -> Html | None:
    """A coloured banner when the provisioning job is not Active (red in quarantine, orange otherwise)."""
    status = (job or {}).get("status") or {}
    code = status.get("code")
    if not job or code in (None, "Active"):
        return None
    quarantine = status.get("quarantine") or {}
    css = "job" if quarantine or code == "Quarantine" else "paused"
    text = note("Provisioning job {}: Entra is not pushing changes, so drift accumulates until it runs again.", code)
    if quarantine:
        text = quarantine_note(text, quarantine)
    return note('<div class="rc-banner ' + css + '" role="alert">&#9888; {}</div>', text)


def verdict_band(counted: pd.DataFrame, accounts: int, fail_on: str, failed: bool, job: dict[str, Any] | None,
                 banner: str | None = None) -> Html:
    """The header band: verdict, tiles, job banner, sandbox banner, top actions."""
    word, css = ("FAIL", "rc-fail") if failed else ("PASS", "rc-pass")
    parts = [note('<div class="rc-verdict ' + css + '">{}<small>fail_on = {}: {}</small></div>', word, fail_on,
                  "unwaived findings at or above it" if failed else
                  ("never fails" if fail_on == "none" else "nothing at or above it"))]
    for tile in tiles(counted, accounts):
        parts.append(note('<div class="rc-tile ' + tile["severity"] + '"><span>{}</span><b>{}</b><span>{} of {} '
                          "accounts affected ({})</span></div>", tile["severity"], f"{tile['findings']:,}",
                          f"{tile['affected']:,}", f"{accounts:,}", f"{tile['share']:.1%}"))
    band = "".join(p.markup for p in parts)
    items = "".join(note('<li><a href="#findings" data-kind="{}">{}</a></li>', kind, text).markup
                    for kind, text in actions(counted)[:6])
    todo = f'<ol class="rc-actions">{items}</ol>' if items else "<p>Nothing to do: no unwaived finding.</p>"
    state = job_state(job)
    sandbox = note('<div class="rc-banner sandbox">{}</div>', banner).markup if banner else ""
    return Html('<section id="verdict" class="rc-verdict-band"><h1>Entra ID &#8594; RingCentral provisioning audit</h1>'
                f'{sandbox}{state.markup if state else ""}<div class="rc-band">{band}</div>'
                f"<strong>Top actions</strong>{todo}</section>")
