"""The live mapping and its scoping filters, read over HTTPS from a job schema spelled as Entra writes it today.

For SCIM apps such as RingCentral, Entra names the user object mapping's target by the enterprise user URN
and its source directory "Microsoft Entra ID". Code that looked for `User → User` silently dropped the
tenant's mapping and its scoping filters; these tests read such a schema through the sandbox's Graph.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from rcaudit import workbook
from rcaudit.audit.reconcile import AuditOptions, reconcile
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy
from rcaudit.model.snapshot import Snapshot
from rcaudit.model.vocabulary import ENTERPRISE
from rcaudit.sandbox import Sandbox, generate

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
FAST = RetryPolicy(max_total=1.0, max_attempts=4, backoff=0.01, max_backoff=0.05)
SALES_ONLY = {"groups": [{"name": "Sales only", "clauses": [
    {"sourceOperandName": "department", "operatorName": "EQUALS", "targetOperand": {"values": ["Sales"]}}]}]}


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    return generate(users=300, seed=4, now=NOW).tenant


def _user_mapping(tenant: dict[str, Any]) -> dict[str, Any]:
    rule = tenant["graph"]["synchronizationJob"]["schema"]["synchronizationRules"][0]
    return rule["objectMappings"][0]


def fetch(tenant: dict[str, Any]) -> Snapshot:
    with Sandbox(tenant) as sandbox:
        settings = Settings.from_env(sandbox.env())
        return fetch_snapshot(settings, source="sandbox", progress=False, interactive=False, retry=FAST)


def test_the_sandbox_writes_the_job_schema_as_entra_does_for_scim_apps(company: dict[str, Any]) -> None:
    schema = company["graph"]["synchronizationJob"]["schema"]
    assert _user_mapping(company)["targetObjectName"] == ENTERPRISE
    assert schema["synchronizationRules"][0]["sourceDirectoryName"] == "Microsoft Entra ID"


def test_a_scim_spelled_schemas_scoping_filter_is_applied(company: dict[str, Any]) -> None:
    tenant = copy.deepcopy(company)
    _user_mapping(tenant)["scope"] = SALES_ONLY
    snapshot = fetch(tenant)
    assert snapshot.unreadable == [] and "mapping: schema" in snapshot.notes
    result = reconcile(snapshot, None, AuditOptions())
    assert result.scoping_filters.source == "schema"
    department = {u["id"]: u.get("department") for u in tenant["graph"]["users"]}
    assert result.scope["filtered_out"] > 0
    kept_out = result.findings[result.findings["kind"] == "should_be_inactive"]
    filtered = kept_out[kept_out["reason"].str.contains("scoping filters")]
    assert len(filtered) > 0 and all(department[e] != "Sales" for e in filtered["entra_id"])
    missing = result.findings[result.findings["kind"] == "missing_in_target"]
    assert all(department.get(e) == "Sales" for e in missing["entra_id"])  # no one the filter leaves out


def test_a_readable_schema_without_a_user_mapping_is_unreadable_not_a_quiet_fallback(company: dict[str, Any]) -> None:
    tenant = copy.deepcopy(company)
    _user_mapping(tenant)["targetObjectName"] = "urn:ietf:params:scim:schemas:core:2.0:Group"
    snapshot = fetch(tenant)
    entries = [u for u in snapshot.unreadable if u["what"] == "live mapping"]
    assert len(entries) == 1 and "no enabled user object mapping" in entries[0]["reason"]
    assert "default mapping is audited instead" in entries[0]["reason"]
    banner = workbook.mapping_banner(snapshot)
    assert banner is not None and "could not be used" in str(banner) and "scoping filters" in str(banner)
    assert workbook.mapping_banner(fetch(company)) is None
