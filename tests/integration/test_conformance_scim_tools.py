"""Third-party SCIM checkers over the RingCentral emulator: `scim-sanity probe` and `scim2-tester`.

Both run against a sandbox started here, over HTTPS with the sandbox CA (scim-sanity's `ca_bundle`;
an `ssl.SSLContext` for scim2-tester's httpx2 client). The tests pin the exact set of checks that
pass; every expected failure is listed with the RingCentral behaviour it reflects, so a new failure
(or a listed one that starts passing) fails the test and gets looked at.
"""

from __future__ import annotations

import re
import ssl
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ResourceType, Schema, ScimPolicy, ScimProvider
from scim2_tester import CheckResult, Status, check_server
from scim_sanity.probe.runner import run_probe_api

from rcaudit.sandbox import Sandbox, builtin_tenant

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def tenant() -> dict[str, Any]:
    data = builtin_tenant()
    data["sandbox"] = {"limits": {"light": 100_000, "heavy": 100_000, "auth": 100_000}}
    return data


# --- scim-sanity -----------------------------------------------------------------------------------------------------
SANITY_PASS = {
    "GET /ServiceProviderConfig", "GET /Schemas", "GET /ResourceTypes", "POST /Users", "GET /Users/{id}",
    "PUT /Users/{id}", "PATCH /Users/{id}", "GET /Users/{id} after PATCH", "DELETE /Users/{id}",
    "GET /Users/{id} after DELETE (expect 404)", "GET /Users (ListResponse)", "GET /Users?filter (no match)",
    "GET /Users?startIndex=1&count=1", "GET /Users?count=0 (boundary)", "GET /Users/nonexistent (expect 404)",
    "POST /Users invalid body (expect 400)", "POST /Users missing userName (expect 400)",
}
SANITY_FAIL = {
    # The probe PUTs a new displayName and reads it back: RingCentral stores no displayName (the Entra
    # connector dropped it in 2020; RingCentral's current schema has none), so it is not returned.
    "GET /Users/{id} after PUT": "Expected displayName=",
}
SANITY_SKIP = {  # RingCentral serves Users only: no /Groups, and none of scim-sanity's agent resources
    "Group CRUD Lifecycle", "Agent CRUD Lifecycle", "AgenticApplication CRUD Lifecycle", "Agent Rapid Lifecycle",
}


def test_scim_sanity_probe(sandbox: Sandbox) -> None:
    before = len(sandbox.state.scim_users)
    report = run_probe_api(sandbox.scim_url, token=sandbox.state.settings["scimToken"], ca_bundle=str(sandbox.ca_file),
                           timeout=10)
    outcome = {r["name"]: r["status"] for r in report["results"]}
    assert len(outcome) == len(report["results"]), "check names are unique"
    assert {n for n, s in outcome.items() if s == "pass"} == SANITY_PASS
    assert {n for n, s in outcome.items() if s == "fail"} == set(SANITY_FAIL)
    assert {n for n, s in outcome.items() if s == "skip"} == SANITY_SKIP
    assert set(outcome.values()) <= {"pass", "fail", "skip"}, "no errors and no warnings"
    for result in report["results"]:
        if result["name"] in SANITY_FAIL:
            assert SANITY_FAIL[result["name"]] in result["message"]
    assert len(sandbox.state.scim_users) == before, "the probe deleted what it created"


# --- scim2-tester ----------------------------------------------------------------------------------------------------
# What scim2-tester (python-scim's RFC 7643/7644 checker) finds RingCentral-shaped. Each key is
# `title[attribute]` (the attribute the check names, for the PATCH checks) or the title.
TESTER_FAIL = {
    # RingCentral serves `.search` only as POST /Users/.search (RingCentral's OpenAPI), not at the root.
    "search_with_attributes": "/.search not found",
    # RingCentral adds its own direct (`work`) and extension (`other`) numbers to every user and keeps
    # them through any add, replace or remove of phoneNumbers (its spec's examples).
    "check_add_attribute[phoneNumbers]": "unexpected value for 'phoneNumbers'",
    "check_replace_attribute[phoneNumbers]": "unexpected value for 'phoneNumbers'",
    "check_remove_attribute[phoneNumbers]": "did not remove attribute 'phoneNumbers'",
    # RingCentral answers `US` with `United States` and adds `"primary": false` to addresses and e-mails.
    "check_add_attribute[addresses]": "unexpected value for 'addresses'",
    "check_replace_attribute[addresses]": "unexpected value for 'addresses'",
    "check_replace_attribute[emails]": "unexpected value for 'emails'",
}
TESTER_PASS = Counter({
    "service_provider_config_endpoint": 1, "service_provider_config_endpoint_methods": 4,
    "query_all_resource_types": 1, "query_resource_type_by_id": 1, "resource_types_schema_validation": 1,
    "access_invalid_resource_type": 1, "resource_types_endpoint_methods": 4, "query_all_schemas": 1,
    "access_schema_by_id": 2, "access_invalid_schema": 1, "schemas_endpoint_methods": 4, "random_url": 1,
    "object_creation": 1, "object_query": 1, "object_query_without_id": 1,
    # RFC 7644 §3.9, honoured because this run turns the sandbox option `attributeSelection` on:
    "object_query_with_attributes": 2, "object_list_with_attributes": 2,
    "object_replacement": 1, "object_deletion": 1,
    **{f"check_{verb}_attribute[{name}]": 1 for verb, names in (
        ("add", ("externalId", "title", "active", "photos", ENTERPRISE, f"{ENTERPRISE}:department")),
        ("remove", ("externalId", "title", "active", "addresses", "photos", ENTERPRISE, f"{ENTERPRISE}:department")),
        ("replace", ("externalId", "userName", "name", "title", "active", "photos", ENTERPRISE,
                     f"{ENTERPRISE}:department")),
    ) for name in names},
})


def _key(result: CheckResult) -> str:
    quoted = re.search(r"'([^']+)'", result.reason or "")
    title = str(result.title)
    return f"{title}[{quoted.group(1)}]" if title.startswith("check_") and quoted else title


@pytest.fixture
def scim2_client(sandbox: Sandbox) -> Iterator[SyncSCIMClient]:
    """scim2-client over httpx2, trusting only the sandbox CA (httpx2's `verify` takes an SSLContext).

    The client is given the service description the sandbox publishes (its /Schemas, /ResourceTypes)
    with two client-side touches, both RingCentral facts, neither changing what the sandbox serves:
    - a tolerant policy (`unknown=ignore`): RingCentral answers with members its own schema does not
      declare (`primary` on e-mails and addresses, `xmlDataFormat` in ServiceProviderConfig), which
      scim2-models refuses by default;
    - canonical values `US`/`CA` for `addresses.country`/`region`: scim2-tester fills every string with
      a random UUID, and RingCentral refuses an unknown country or state (400 invalidValue), which
      would hide every other check on a user behind that one refusal.
    """
    http = httpx2.Client(base_url=sandbox.scim_url, verify=ssl.create_default_context(cafile=str(sandbox.ca_file)),
                         headers={"Authorization": f"Bearer {sandbox.state.settings['scimToken']}"}, timeout=10)
    policy = ScimPolicy(unknown=ScimPolicy.Unknown.ignore)
    schemas = http.get("/Schemas").json()["Resources"]
    for schema in schemas:
        for attribute in schema["attributes"]:
            for sub in attribute.get("subAttributes") or [] if attribute["name"] == "addresses" else []:
                sub.update({"country": {"canonicalValues": ["US"]}, "region": {"canonicalValues": ["CA"]}}
                           .get(sub["name"], {}))
    types = http.get("/ResourceTypes").json()["Resources"]
    provider = ScimProvider.from_discovery([Schema.model_validate(s) for s in schemas],
                                           [ResourceType.model_validate(t) for t in types], None, policy)
    yield SyncSCIMClient(http, provider=provider)
    http.close()


def test_scim2_tester(sandbox: Sandbox, scim2_client: SyncSCIMClient) -> None:
    sandbox.state.settings["attributeSelection"] = True  # RFC 7644 §3.9: off by default, RingCentral documents none
    results = check_server(scim2_client)
    passed = Counter(_key(r) for r in results if r.status == Status.SUCCESS)
    failed = {_key(r): r for r in results if r.status != Status.SUCCESS}
    assert passed == TESTER_PASS
    assert set(failed) == set(TESTER_FAIL)
    for key, result in failed.items():
        assert result.status == Status.ERROR and TESTER_FAIL[key] in str(result.reason), (key, result.reason)
