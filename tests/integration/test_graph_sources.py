"""Source names Graph can serve, and only those, reach `$select` (DESIGN.md "Live mapping").

A mapping that reads `extensionAttribute1` must read it from `onPremisesExtensionAttributes` (Graph has no
flat property of that name and answers a `$select` of one with 400); a directory extension is selected by
its own name; any other name is a MappingError naming it and its target before `/users` is requested, or,
for a mapping file, before any request at all. Everything here goes over HTTPS to the sandbox, whose Graph
refuses unknown `$select` names as Graph does.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests

from rcaudit.audit.overrides import effective_mapping
from rcaudit.audit.reconcile import AuditOptions, reconcile
from rcaudit.connect import auth
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy
from rcaudit.model.errors import MappingError
from rcaudit.model.snapshot import Snapshot
from rcaudit.sandbox import Sandbox, generate

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
FAST = RetryPolicy(max_total=1.0, max_attempts=4, backoff=0.01, max_backoff=0.05)
EXTENSION = "extension_5bfc8fdacfc943a9a6de214ea9d15fdb_costCenter"


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    tenant = generate(users=200, seed=6, now=NOW).tenant
    for i, user in enumerate(tenant["graph"]["users"]):
        user["onPremisesExtensionAttributes"] = {f"extensionAttribute{n}": None for n in range(1, 16)}
        user["onPremisesExtensionAttributes"]["extensionAttribute1"] = f"Title {i % 7}"
        user[EXTENSION] = f"CC-{i % 5}"
    return tenant


def _fetch(sandbox: Sandbox, overrides: Path | None = None) -> Snapshot:
    settings = Settings.from_env(sandbox.env())
    return fetch_snapshot(settings, source="sandbox", progress=False, interactive=False, retry=FAST,
                          mapping_overrides=overrides)


def _user_mapping(tenant: dict[str, Any]) -> dict[str, Any]:
    return tenant["graph"]["synchronizationJob"]["schema"]["synchronizationRules"][0]["objectMappings"][0]


def _map_title_from(tenant: dict[str, Any], source: str) -> None:
    for item in _user_mapping(tenant)["attributeMappings"]:
        if item["targetAttributeName"] == "title":
            item["source"] = {"expression": f"[{source}]", "name": source, "parameters": [], "type": "Attribute"}


def test_the_emulator_refuses_a_flat_extension_attribute_as_graph_does(company: dict[str, Any]) -> None:
    tenant = copy.deepcopy(company)
    tenant["graph"]["users"][0]["extensionAttribute1"] = "flat"  # a tenant file may carry it: still not Graph's
    with Sandbox(tenant) as sandbox:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(sandbox.ca_file)
        token = auth.GraphAuth(Settings.from_env(sandbox.env()), session).token()
        headers = {"Authorization": f"Bearer {token}"}
        refused = session.get(f"{sandbox.graph_url}/users", params={"$select": "id,extensionAttribute1"},
                              headers=headers)
        assert refused.status_code == 400
        assert "extensionAttribute1" in refused.json()["error"]["message"]
        served = session.get(f"{sandbox.graph_url}/users",
                             params={"$select": f"id,onPremisesExtensionAttributes,{EXTENSION}"}, headers=headers)
        assert served.status_code == 200
        first = served.json()["value"][0]
        assert first["onPremisesExtensionAttributes"]["extensionAttribute1"] and first[EXTENSION]


def test_an_extension_attribute_mapping_reads_on_premises_extension_attributes(company: dict[str, Any]) -> None:
    tenant = copy.deepcopy(company)
    _map_title_from(tenant, "extensionAttribute1")
    with Sandbox(tenant) as sandbox:
        snapshot = _fetch(sandbox)
    first = snapshot.users[0]
    assert "extensionAttribute1" not in first and first["onPremisesExtensionAttributes"]["extensionAttribute1"]
    mapping, source = effective_mapping(snapshot.schema)
    assert source == "schema" and any(m.target == "title" and m.expression == "[extensionAttribute1]"
                                      for m in mapping)
    result = reconcile(snapshot, None, AuditOptions())
    titles = result.findings[result.findings["attribute"] == "title"]
    expected = {u["id"]: u["onPremisesExtensionAttributes"]["extensionAttribute1"] for u in tenant["graph"]["users"]}
    assert len(titles) > 0 and all(row.expected == expected[row.entra_id] for row in titles.itertuples())


def test_a_directory_extension_is_selected_by_its_own_name(company: dict[str, Any]) -> None:
    tenant = copy.deepcopy(company)
    _map_title_from(tenant, EXTENSION)
    with Sandbox(tenant) as sandbox:
        snapshot = _fetch(sandbox)
    assert all(EXTENSION in u for u in snapshot.users)
    titles = reconcile(snapshot, None, AuditOptions()).findings.query("attribute == 'title'")
    assert len(titles) > 0 and set(titles["expected"]) <= {f"CC-{n}" for n in range(5)}


def test_a_schema_source_graph_cannot_serve_fails_before_users_are_requested(company: dict[str, Any]) -> None:
    tenant = copy.deepcopy(company)
    _map_title_from(tenant, "costCentre")
    with Sandbox(tenant) as sandbox:
        with pytest.raises(MappingError) as failure:
            _fetch(sandbox)
        asked = [p for _, p in sandbox.graph_server.requests_seen]
    assert "costCentre" in failure.value.message and "title" in failure.value.message
    assert any(p.endswith("/schema") for p in asked) and not any(p.endswith("/users") for p in asked)


def test_a_mapping_file_with_an_unknown_source_fails_before_any_request(company: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    overrides = tmp_path / "mapping.yaml"
    overrides.write_text('attributes:\n  title: "[jobTitel]"\n', encoding="utf-8")
    with Sandbox(company) as sandbox:
        with pytest.raises(MappingError) as failure:
            _fetch(sandbox, overrides)
        assert sandbox.graph_server.requests_seen == [] and sandbox.rc_server.requests_seen == []
    assert "jobTitel" in failure.value.message and "title" in failure.value.message
    assert str(overrides) in failure.value.message


def test_a_scoping_filter_on_an_extension_attribute_is_applied(company: dict[str, Any]) -> None:
    tenant = copy.deepcopy(company)
    _user_mapping(tenant)["scope"] = {"groups": [{"name": "Title 0", "clauses": [
        {"sourceOperandName": "extensionAttribute1", "operatorName": "EQUALS",
         "targetOperand": {"values": ["Title 0"]}}]}]}
    with Sandbox(tenant) as sandbox:
        snapshot = _fetch(sandbox)
    result = reconcile(snapshot, None, AuditOptions())
    title = {u["id"]: u["onPremisesExtensionAttributes"]["extensionAttribute1"] for u in tenant["graph"]["users"]}
    missing = result.findings.query("kind == 'missing_in_target'")
    assert result.scope["filtered_out"] > 0
    assert all(title[e] == "Title 0" for e in missing["entra_id"])
