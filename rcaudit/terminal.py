"""What `rcaudit fix` and `rcaudit rollback` print: the verdict and the guards first, then tables that fit the
terminal, and a progress bar with ETA while an apply or a dry run is paced.

`rich` lays the tables out: it folds every cell to the console's width (COLUMNS, else the terminal's, else 80), so
no line is wider than the terminal whatever the values, and it writes plain text (no colours, no bars) when the
output is not a terminal. A face of the package: it only arranges results the engine computed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

NOT_RE_READ = "not re-read"
ENTERPRISE = re.compile(r"^urn:ietf:params:scim:schemas:extension:enterprise:2\.0:User:", re.IGNORECASE)
DELETED_PREFIX = re.compile(r"^[0-9a-f]{32}(.+@.+)$")
FILTERED = re.compile(r'^(\w+)\[type eq "(\w+)"\]\.(\w+)$')


PIPE_WIDTH = 160  # a log or a pipe has no width: keep most rows on one line there (COLUMNS still decides)


def console(stderr: bool = False) -> Console:
    """A console as wide as the terminal (COLUMNS, else the terminal's size); plain text, PIPE_WIDTH wide, when
    writing to a pipe or a file (a scheduler's log), unless COLUMNS says otherwise."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not (hasattr(stream, "isatty") and stream.isatty()) and not os.environ.get("COLUMNS", "").isdigit()
    return Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False,
                   width=PIPE_WIDTH if piped else None)


def short_attribute(path: str) -> str:
    """`addresses[type eq "work"].locality` -> `address.locality`, `phoneNumbers[type eq "mobile"].value` ->
    `phone.mobile`, the enterprise URN's `...:User:department` -> `department`: the full path stays in plan.json and
    the journal; the terminal needs a label that fits."""
    path = ENTERPRISE.sub("", path or "")
    found = FILTERED.match(path)
    if not found:
        return path
    name, kind, part = found.groups()
    label = {"addresses": "address", "emails": "email", "phoneNumbers": "phone"}.get(name, name)
    if part == "value":
        return label if kind == "work" and label == "email" else f"{label}.{kind}"
    return f"{label}.{part}" if kind == "work" else f"{label}({kind}).{part}"


def user_label(name: str) -> str:
    """A soft-deleted user's UPN as Entra rewrites it (`<32 hex id><UPN>`) shown as the UPN, marked deleted."""
    found = DELETED_PREFIX.match(name or "")
    return f"{found.group(1)} (deleted)" if found else name


def _outcomes(result: Any) -> dict[str, dict[str, Any]]:
    """The last journal line per operation that is not an intent (the outcome this run recorded)."""
    found: dict[str, dict[str, Any]] = {}
    for line in getattr(result, "lines", []) or []:
        if line.get("status") != "intent":
            found[str(line.get("op_id"))] = line
    return found


def _now_value(line: dict[str, Any] | None) -> str:
    """What the account held when re-read; unconnected dry runs say so instead of showing "(empty)" as data."""
    from rcaudit.fix.ops import shown

    if line is None:
        return ""
    if str(line.get("error") or "").startswith(NOT_RE_READ):
        return NOT_RE_READ
    return shown(line.get("before"))


def verdict_lines(plan: Any, result: Any | None, refused: str | None = None) -> list[str]:
    """The decisive lines first: the plan in one sentence, then what --apply would do or did, then each guard."""
    lines = [plan.render().splitlines()[0]]
    if refused is not None:
        lines.append("verdict: --apply REFUSED by the guards (nothing was written):")
        lines += [f"  x {problem.strip()}" for problem in refused.removeprefix("refused: ").split("; ")]
        return lines
    if result is None:
        return lines
    if result.apply:
        failed = result.failed
        lines.append(f"verdict: applied, {failed} operation(s) failed" if failed else "verdict: applied")
    elif result.refused:
        lines.append(f"verdict: --apply would be REFUSED ({len(result.refused)} guard(s) fail):")
        lines += [f"--apply would be refused: {problem}" for problem in result.refused]  # the line scripts grep
    else:
        lines.append("verdict: --apply would pass every guard (changes cap, deactivations, audit age, target)")
    lines += [line for line in result.render().splitlines() if not line.startswith("--apply would be refused")]
    lines += plan.render().splitlines()[1:]
    return lines


def operations_table(plan: Any, result: Any | None) -> Table:
    """One row per planned operation: who, what (short label), audited -> planned, now (re-read), outcome."""
    from rcaudit.fix.ops import shown

    outcomes = _outcomes(result) if result is not None else {}
    errors = any(str(line.get("error") or "") and not str(line.get("error")).startswith(NOT_RE_READ)
                 for line in outcomes.values())
    re_read = any(_now_value(line) != NOT_RE_READ for line in outcomes.values())
    table = Table(title=f"{len(plan.operations)} operation(s) on {len(plan.accounts)} account(s)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    columns = ["user", "attribute", "audited → planned", *(["now"] if re_read else []), "status",
               *(["error"] if errors else [])]
    for name in columns:  # natural widths, shrunk by rich to the console's width, long values folded
        table.add_column(name, overflow="fold")
    for o in plan.operations:
        line = outcomes.get(o.op_id)
        row = [user_label(str(o.user_name or o.scim_id)), short_attribute(o.attribute),
               f"{shown(o.audited)} → {shown(o.expected)}", *([_now_value(line)] if re_read else []),
               str(line.get("status")) if line else "not run"]
        if errors:
            error = str((line or {}).get("error") or "")
            row.append("" if error.startswith(NOT_RE_READ) else error)
        table.add_row(*row)
    return table


def not_fixable_table(plan: Any) -> Table | None:
    """Findings no PATCH fixes, each with what to do instead."""
    if not plan.not_fixable:
        return None
    table = Table(title=f"not fixable by PATCH ({len(plan.not_fixable)})", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for name in ("kind", "user", "what to do"):
        table.add_column(name, overflow="fold")
    for item in plan.not_fixable:
        data = item.to_dict()
        table.add_row(str(data.get("kind") or ""), user_label(str(data.get("user_name") or data.get("scim_id") or "")),
                      str(data.get("action") or ""))
    return table


def show_review(plan: Any, result: Any | None, refused: str | None = None, out: Console | None = None) -> None:
    """Verdict and guards, then the operations, then what no PATCH can fix: all within the terminal's width."""
    out = out or console()
    for line in verdict_lines(plan, result, refused):
        out.print(line, overflow="fold", markup=False)
    out.print()
    if plan.operations:
        out.print(operations_table(plan, result))
        if result is not None and any(_now_value(line) == NOT_RE_READ for line in _outcomes(result).values()):
            out.print("The accounts were not read again (no connection to the audited RingCentral), so what they "
                      "hold now is not shown; --apply re-reads each account before writing it.", overflow="fold",
                      markup=False)
    else:
        out.print("nothing to fix by PATCH", markup=False)
    extra = not_fixable_table(plan)
    if extra is not None:
        out.print()
        out.print(extra)


class _PacingToBar(logging.Handler):
    """Shows the HTTP layer's "pacing ... waiting N s" in the bar's description instead of a stray stderr line."""

    def __init__(self, update: Callable[[str], None]) -> None:
        super().__init__(logging.DEBUG)
        self.update = update

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("pacing "):
            wait = message.rsplit("waiting ", 1)[-1]
            self.update(f"waiting {wait} for RingCentral's rate limit")


@contextlib.contextmanager
def account_progress(what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar with ETA over the accounts (apply_plan's `on_account` hook), on stderr and only when it is
    a terminal: a scheduler's log never gets bar frames. Pacing waits show in the bar while it is up."""
    if not (sys.stderr.isatty() and sys.stdout.isatty()):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("accounts"),
                        TimeRemainingColumn(), console=console(stderr=True), transient=True)
    task = progress.add_task(what, total=None)
    logger = logging.getLogger("rcaudit.http")
    handler = _PacingToBar(lambda text: progress.update(task, description=text))
    saved = logger.propagate

    def tick(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total, description=what)

    with progress:
        logger.addHandler(handler)
        logger.propagate = False  # the wait is in the bar, not printed across it
        try:
            yield tick
        finally:
            logger.removeHandler(handler)
            logger.propagate = saved
