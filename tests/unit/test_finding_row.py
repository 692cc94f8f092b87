"""`FindingRow`, the typed dict of one finding, is findings.csv's contract (DESIGN.md "findings.csv"): the same
columns in the same order, with the types the file holds, so a column added to one and not the other fails."""

from __future__ import annotations

import typing
from pathlib import Path

from rcaudit.audit.reconcile import reconcile
from rcaudit.model.findings import COLUMNS, FindingRow, finding_rows, read_findings
from tests.support.fixups import fixup_tenant
from tests.support.snapshots import NOW, snapshot_from_tenant


def test_finding_row_keys_are_the_columns_in_order() -> None:
    assert tuple(typing.get_type_hints(FindingRow)) == COLUMNS
    assert FindingRow.__required_keys__ == frozenset(COLUMNS)


def test_every_column_is_a_string_but_waived() -> None:
    assert typing.get_type_hints(FindingRow) == {c: bool if c == "waived" else str for c in COLUMNS}


def test_rows_of_the_engine_and_of_findings_csv_hold_those_types(tmp_path: Path) -> None:
    """What a reader of the rows gets, from the audit in memory and from the file a run wrote."""
    findings = reconcile(snapshot_from_tenant(fixup_tenant(), NOW)).findings
    findings.to_csv(tmp_path / "findings.csv", index=False)  # as a run writes it
    hints = typing.get_type_hints(FindingRow)
    for rows in (finding_rows(findings), finding_rows(read_findings(tmp_path / "findings.csv"))):
        assert len(rows) == len(findings) > 5
        assert {row["kind"] for row in rows} >= {"attribute_mismatch", "orphan_in_target"}
        for row in rows:
            assert list(row) == list(COLUMNS)
            assert {k: type(v) for k, v in row.items()} == hints
    assert finding_rows(findings) == finding_rows(read_findings(tmp_path / "findings.csv"))
