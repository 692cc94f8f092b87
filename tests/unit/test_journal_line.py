"""`JournalLine`, the typed dict of one journal.jsonl line: DESIGN.md "Journal line"'s fields first and in its
order (fix/apply.py's JOURNAL_FIELDS), and exactly the keys an apply writes."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from rcaudit.fix.apply import JOURNAL_FIELDS, apply_plan
from rcaudit.fix.journal import JournalLine, read_journal
from rcaudit.fix.plan import Filters, plan_for_run
from tests.support.fixups import fixup_tenant, write_run
from tests.support.snapshots import NOW, snapshot_from_tenant


def test_designs_fields_come_first_in_designs_order() -> None:
    keys = tuple(typing.get_type_hints(JournalLine))
    assert keys[:len(JOURNAL_FIELDS)] == JOURNAL_FIELDS
    assert len(set(keys)) == len(keys) > len(JOURNAL_FIELDS)


def test_the_lines_a_dry_run_writes_are_journal_lines(tmp_path: Path) -> None:
    run = write_run(snapshot_from_tenant(fixup_tenant(), NOW), tmp_path / "run")
    plan = plan_for_run(run, Filters(include_orphans=True), now=NOW)
    result = apply_plan(plan, None, now=NOW)  # no connection: a dry run that reads and writes nothing remote
    written = [json.loads(text) for text in result.journal.read_text(encoding="utf-8").splitlines()]
    assert len(written) == len(plan.operations) > 5
    assert {line["status"] for line in written} == {"dry_run"}
    keys = list(typing.get_type_hints(JournalLine))
    assert all(list(line) == keys for line in [*written, *read_journal(result.journal), *result.lines])
