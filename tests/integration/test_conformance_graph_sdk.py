"""Microsoft's Graph SDK (`msgraph-sdk`, with `azure-identity`) against the login and Graph emulators.

Set up as the SDK's docs describe for a custom endpoint: `ClientSecretCredential` against the
sandbox authority (`disable_instance_discovery`, since the host is not a Microsoft cloud, and
`connection_verify` = the sandbox CA, azure-core's documented TLS option); the Graph client from
`GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(...))` with the base URL
set on the httpx client (the SDK's non-deprecated way) and `verify` an SSLContext over the sandbox
CA; `allowed_hosts` names the sandbox so the token is attached. httpx always ends a base URL with
`/`, so the SDK sends `/v1.0//users`: the test checks that it does and that the answer is right.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import GraphClientFactory
from msgraph_core.tasks.page_iterator import PageIterator

from rcaudit.sandbox import Sandbox
from tests.support.tenants import nested_group_and_gone_user

T = TypeVar("T")
NESTED = str(uuid.uuid5(uuid.NAMESPACE_URL, "rcaudit:test:sdk:nested"))
GONE = str(uuid.uuid5(uuid.NAMESPACE_URL, "rcaudit:test:sdk:gone"))
JOB = "RingCentralOutDelta.0123456789abcdef0123456789abcdef.aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def tenant() -> dict[str, Any]:
    """The built-in tenant, a group nested in Sales, a soft-deleted user, a job and two log events."""
    data, ada = nested_group_and_gone_user(NESTED, {"id": GONE, "userPrincipalName": "gone.person@contoso.example"})
    graph = data["graph"]
    graph["synchronizationJob"] = {"id": JOB, "templateId": "RingCentralOutDelta"}
    graph["provisioningEvents"] = [
        {"id": f"event-{n}", "activityDateTime": f"2026-01-0{n}T10:00:00Z", "jobId": JOB, "cycleId": f"cycle-{n}",
         "changeId": f"change-{n}", "provisioningAction": "update", "durationInMilliseconds": 120,
         "provisioningStatusInfo": {"status": "success", "errorInformation": None},
         "sourceIdentity": {"id": ada["id"], "displayName": ada["displayName"], "identityType": "User"},
         "targetIdentity": {"id": "1271136020", "displayName": ada["displayName"],
                            "identityType": "urn:ietf:params:scim:schemas:core:2.0:User"},
         "modifiedProperties": [], "provisioningSteps": []}
        for n in (1, 2)
    ]
    return data


def _run(sandbox: Sandbox, scenario: Callable[[GraphServiceClient, GraphRequestAdapter], Awaitable[T]]) -> T:
    """Run `scenario` with an SDK client wired to the sandbox, then close what it opened."""
    async def main() -> T:
        client = sandbox.client
        credential = ClientSecretCredential(sandbox.tenant_id, client["clientId"], client["secret"],
                                            authority=sandbox.authority, disable_instance_discovery=True,
                                            connection_verify=str(sandbox.ca_file))
        auth = AzureIdentityAuthenticationProvider(credential, scopes=["https://graph.microsoft.com/.default"],
                                                   allowed_hosts=["127.0.0.1"])
        trust = ssl.create_default_context(cafile=str(sandbox.ca_file))
        http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(base_url=sandbox.graph_url, verify=trust, trust_env=False))
        adapter = GraphRequestAdapter(auth, http)
        try:
            return await scenario(GraphServiceClient(request_adapter=adapter), adapter)
        finally:
            await http.aclose()
            await credential.close()

    with warnings.catch_warnings():  # the SDK's generated builders warn about their own deprecated classes
        warnings.simplefilter("ignore", DeprecationWarning)
        return asyncio.run(main())


def test_users_through_the_page_iterator(sandbox: Sandbox) -> None:
    async def scenario(graph: GraphServiceClient, adapter: GraphRequestAdapter) -> list[str]:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=3, select=["id", "userPrincipalName"])
        first = await graph.users.get(request_configuration=RequestConfiguration(query_parameters=query))
        assert first is not None and first.odata_next_link
        seen: list[str] = []

        def keep(user: User) -> bool:
            seen.append(str(user.id))
            return True

        await PageIterator(first, adapter).iterate(keep)
        return seen

    assert _run(sandbox, scenario) == [u["id"] for u in sandbox.state.graph["users"]]
    assert ("GET", "/v1.0//users") in sandbox.graph_server.requests_seen, "the SDK sends the empty segment"


def test_users_with_their_manager(sandbox: Sandbox) -> None:
    async def scenario(graph: GraphServiceClient, adapter: GraphRequestAdapter) -> dict[str, str | None]:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(expand=["manager($select=id)"],
                                                                         select=["id"])
        page = await graph.users.get(request_configuration=RequestConfiguration(query_parameters=query))
        assert page is not None and page.value is not None
        return {str(u.id): (u.manager.id if u.manager else None) for u in page.value}

    expected = {u["id"]: (u.get("manager") or {}).get("id") for u in sandbox.state.graph["users"]}
    assert _run(sandbox, scenario) == expected and any(expected.values())


def test_service_principal_by_app_id_and_its_assignments(sandbox: Sandbox) -> None:
    principal = sandbox.state.graph["servicePrincipal"]

    async def scenario(graph: GraphServiceClient, adapter: GraphRequestAdapter) -> tuple[str, set[tuple[str, str]]]:
        found = await graph.service_principals_with_app_id(principal["appId"]).get()
        assert found is not None and found.id is not None
        assert [r.value for r in found.app_roles or []] == [r["value"] for r in principal["appRoles"]]
        assigned = await graph.service_principals.by_service_principal_id(found.id).app_role_assigned_to.get()
        assert assigned is not None
        return str(found.id), {(str(a.principal_id), str(a.app_role_id)) for a in assigned.value or []}

    sp_id, assignments = _run(sandbox, scenario)
    assert sp_id == principal["id"]
    assert assignments == {(a["principalId"], a["appRoleId"]) for a in sandbox.state.graph["appRoleAssignments"]}


def test_group_members_through_typed_casts(sandbox: Sandbox) -> None:
    """The SDK's `graph_user`/`graph_group` builders send `…/members/graph.user` and the like."""
    sales = sandbox.state.graph["groups"][0]["id"]
    nick = {u["id"]: u["mailNickname"] for u in sandbox.state.graph["users"]}

    async def scenario(graph: GraphServiceClient, adapter: GraphRequestAdapter) -> dict[str, set[str]]:
        group = graph.groups.by_group_id(sales)
        users = await group.members.graph_user.get()
        groups = await group.members.graph_group.get()
        everyone = await group.transitive_members.graph_user.get()
        assert users is not None and groups is not None and everyone is not None
        return {"users": {nick[str(u.id)] for u in users.value or []},
                "groups": {str(g.id) for g in groups.value or []},
                "transitive": {nick[str(u.id)] for u in everyone.value or []}}

    assert _run(sandbox, scenario) == {"users": {"carla.diaz", "dev.patel"}, "groups": {NESTED},
                                       "transitive": {"carla.diaz", "dev.patel", "ada.lind"}}
    seen = {path for _, path in sandbox.graph_server.requests_seen}
    assert f"/v1.0//groups/{sales}/members/graph.user" in seen


def test_deleted_users(sandbox: Sandbox) -> None:
    async def scenario(graph: GraphServiceClient, adapter: GraphRequestAdapter) -> list[tuple[str, str]]:
        deleted = await graph.directory.deleted_items.graph_user.get()
        assert deleted is not None
        return [(str(u.id), u.deleted_date_time.isoformat() if u.deleted_date_time else "")
                for u in deleted.value or []]

    assert _run(sandbox, scenario) == [(GONE, "2026-01-02T03:04:05+00:00")]


def test_synchronization_job_schema_and_provisioning_logs(sandbox: Sandbox) -> None:
    sp_id = sandbox.state.graph["servicePrincipal"]["id"]

    async def scenario(graph: GraphServiceClient, adapter: GraphRequestAdapter) -> dict[str, Any]:
        jobs = graph.service_principals.by_service_principal_id(sp_id).synchronization.jobs
        listed = await jobs.get()
        assert listed is not None and listed.value
        job = listed.value[0]
        schema = await jobs.by_synchronization_job_id(str(job.id)).schema.get()
        logs = await graph.audit_logs.provisioning.get()
        assert schema is not None and logs is not None
        mappings = [m for rule in schema.synchronization_rules or [] for m in rule.object_mappings or []]
        return {"job": job.id, "template": job.template_id, "status": job.status.code if job.status else None,
                "mapped": bool(mappings and mappings[0].attribute_mappings),
                "logs": [(e.id, e.job_id) for e in logs.value or []]}

    answer = _run(sandbox, scenario)
    assert answer["job"] == JOB and answer["template"] == "RingCentralOutDelta" and answer["status"] is not None
    assert answer["mapped"], "the schema's attribute mappings come through the SDK's model"
    assert answer["logs"] == [("event-2", JOB), ("event-1", JOB)]  # newest first
