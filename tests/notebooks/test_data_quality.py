"""Data quality end to end (issue 10 point 9): a tenant served over HTTPS with a duplicated Entra id, a
RingCentral account without userName and unreadable deleted users; `rcaudit demo` finishes, and the report's
"Data quality" section, summary.json `data_quality` and the affected rows' `reason` say what was odd."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from rcaudit.cli import main
from rcaudit.sandbox import generate, save_tenant

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    tenant = generate(users=150, seed=41).tenant
    users, accounts = tenant["graph"]["users"], tenant["scim"]["Users"]
    by_name = {a["userName"].lower(): a for a in accounts}
    paired = [u for u in users if u["userPrincipalName"].lower() in by_name and u["accountEnabled"]]
    paired[0]["jobTitle"] = "Changed in Entra"  # the first record drifts: it has a row to carry the note
    twin = copy.deepcopy(paired[0])
    twin.update(accountEnabled=False, jobTitle="Someone else entirely")
    users.append(twin)  # Graph served this id twice, the second time disabled
    nameless = by_name[paired[1]["userPrincipalName"].lower()]
    nameless.pop("userName")
    tenant["sandbox"]["graphDenied"] = [r"/directory/deletedItems"]
    base = tmp_path_factory.mktemp("quality")
    path = save_tenant(tenant, base / "odd.json")
    assert main(["demo", "--tenant", str(path), "--out", str(base / "run")]) == 0
    return {"twin": twin["id"], "nameless": nameless["id"]}, base / "run"


def test_summary_lists_each_problem_with_count_and_example_ids(odd_run: tuple[dict, Path]) -> None:
    planted, folder = odd_run
    summary = json.loads((folder / "summary.json").read_text())
    quality = {d["what"]: d for d in summary["data_quality"]}
    assert quality["duplicate Entra user id (the first record is audited)"] == {
        "what": "duplicate Entra user id (the first record is audited)", "count": 1, "examples": [planted["twin"]]}
    assert quality["RingCentral account without userName"]["examples"] == [planted["nameless"]]
    assert summary["unreadable"][0]["what"] == "deleted users"


def test_affected_rows_carry_a_reason_and_one_id_gets_one_verdict(odd_run: tuple[dict, Path]) -> None:
    planted, folder = odd_run
    findings = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    twin_rows = findings[findings["entra_id"] == planted["twin"]]
    assert set(zip(twin_rows["kind"], twin_rows["attribute"], twin_rows["expected"], strict=True)) == {
        ("attribute_mismatch", "title", "Changed in Entra")}  # the first (enabled) record only: one verdict
    assert (twin_rows["reason"].str.contains("Graph returned 2 records with this Entra id")).all()
    nameless = findings[findings["scim_id"] == planted["nameless"]]
    assert len(nameless) and nameless["reason"].str.contains("the RingCentral account has no userName").all()
    orphans = findings[findings["kind"] == "orphan_in_target"]
    assert len(orphans) and orphans["reason"].str.contains("may belong to a deleted user").all()


def test_the_report_has_a_data_quality_section_and_the_orphan_banner(odd_run: tuple[dict, Path]) -> None:
    planted, folder = odd_run
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "Data quality" in report and planted["twin"] in report and planted["nameless"] in report
    assert "Deleted users could not be read: some of the" in report
    assert report.index("Data quality") < report.index("Where the drift is")
