"""The sandbox's plumbing: TLS, tenant file checks, round trip, rate-limit arithmetic, fault matching."""

from __future__ import annotations

import json

import pytest
import requests

from rcaudit.model.errors import TenantFileError
from rcaudit.sandbox import Sandbox, builtin_tenant, load_tenant, save_tenant


def test_binds_loopback_with_https_that_verifies_only_against_its_ca(sandbox: Sandbox) -> None:
    assert sandbox.authority.startswith("https://127.0.0.1:")
    assert sandbox.rc_server.port == sandbox.port + 1
    trusting = requests.Session()
    trusting.trust_env = False
    trusting.verify = str(sandbox.ca_file)
    assert trusting.get(sandbox.scim_url + "/ServiceProviderConfig").status_code < 500
    system_only = requests.Session()
    system_only.trust_env = False  # system CAs only: the sandbox's own CA is not among them
    with pytest.raises(requests.exceptions.SSLError):
        system_only.get(sandbox.scim_url + "/ServiceProviderConfig")


def test_tenant_round_trip_is_unchanged(tmp_path) -> None:
    with Sandbox(builtin_tenant()) as first:
        dumped = first.dump()
    path = save_tenant(dumped, tmp_path / "tenant.json")
    with Sandbox(load_tenant(path)) as second:
        assert second.dump() == dumped
    assert dumped["sandbox"]["clients"][0]["clientId"]
    assert dumped["sandbox"]["limits"] == {"light": 50, "heavy": 10, "auth": 5, "window": 60}


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda t: t.pop("scim"), "$.scim: missing section"),
        (lambda t: t["graph"].pop("tenantId"), "$.graph.tenantId: missing"),
        (lambda t: t["graph"]["users"][2].pop("id"), "$.graph.users[2].id: missing"),
        (lambda t: t["graph"]["groups"].append(dict(t["graph"]["groups"][0])), "$.graph.groups[1].id: duplicate"),
        (lambda t: t["graph"]["users"][3].update(mailNickname=["ada"]),
         "$.graph.users[3].mailNickname: expected string or null, got array"),
        (lambda t: t["graph"]["users"][1].update(accountEnabled="yes"),
         "$.graph.users[1].accountEnabled: expected boolean or null, got string"),
        (lambda t: t["graph"]["users"][0].update(businessPhones="+1 206 555 0100"),
         "$.graph.users[0].businessPhones: expected array, got string"),
        (lambda t: t["graph"]["users"][2].update(manager={"id": ["x"]}),
         "$.graph.users[2].manager.id: expected string"),
        (lambda t: t["graph"]["servicePrincipal"]["appRoles"][0].update(id=["r"]),
         "$.graph.servicePrincipal.appRoles[0].id: expected string, got array"),
        (lambda t: t["scim"]["Users"][1].update(userName=["a@b.example"]),
         "$.scim.Users[1].userName: expected string or null, got array"),
        (lambda t: t["scim"]["Users"][0].update(externalId={"v": 1}), "$.scim.Users[0].externalId: expected string"),
        (lambda t: t["scim"]["Users"][0]["emails"][0].update(value=["a"]), "$.scim.Users[0].emails[0].value: expected"),
        (lambda t: t["scim"]["Users"][2].update(phoneNumbers={"type": "work"}),
         "$.scim.Users[2].phoneNumbers: expected array, got object"),
        (lambda t: t["graph"]["groups"][0]["members"].append("nobody"), "$.graph.groups[0].members[2]: unknown"),
        (lambda t: t.update(sandbox={"schemaProfile": "future"}), "$.sandbox.schemaProfile"),
        (lambda t: t.update(sandbox={"limits": {"light": 0}}), "$.sandbox.limits.light: must be a positive"),
    ],
)
def test_malformed_tenant_is_refused_naming_the_place(tmp_path, mutate, where: str) -> None:
    tenant = builtin_tenant()
    mutate(tenant)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tenant))
    with pytest.raises(TenantFileError) as err:
        load_tenant(path)
    assert str(path) in str(err.value)
    assert where in str(err.value)


def test_what_the_services_have_served_is_served_as_given(tmp_path) -> None:
    """Graph has returned one user id twice and RingCentral an account without userName or a repeated id: the
    tenant file accepts these (they used to be refused) so the audit's data-quality report can be tested."""
    tenant = builtin_tenant()
    tenant["graph"]["users"].append(dict(tenant["graph"]["users"][0]))
    tenant["scim"]["Users"][1].pop("userName")
    tenant["scim"]["Users"].append(dict(tenant["scim"]["Users"][0]))
    path = save_tenant(tenant, tmp_path / "odd.json")
    with Sandbox(load_tenant(path)) as sandbox:
        served = sandbox.dump()
    assert served["scim"]["Users"][-1]["id"] == served["scim"]["Users"][0]["id"]
    assert "userName" not in served["scim"]["Users"][1]


def test_invalid_json_names_line_and_column(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"graph": {\n  "tenantId": 1,,\n}}')
    with pytest.raises(TenantFileError, match=r"broken.json: line 2 column"):
        load_tenant(path)
