"""Microsoft Graph v1.0 reads: follow `@odata.nextLink` verbatim until it disappears."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from .auth import forget_graph_token, graph_token
from .config import Settings
from .errors import FetchError

USER_SELECT = (
    "id,userPrincipalName,mailNickname,accountEnabled,displayName,givenName,surname,jobTitle,mail,mobilePhone,"
    "businessPhones,department,streetAddress,city,state,postalCode,country,usageLocation,userType,createdDateTime"
)


def _graph_error(answer: requests.Response) -> str:
    try:
        error = answer.json().get("error", {})
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except ValueError:
        return answer.text[:200]


class GraphClient:
    def __init__(self, settings: Settings, session: requests.Session) -> None:
        self.settings = settings
        self.session = session
        self.requests_made = 0

    def get(self, path_or_url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """One GET; a 401 drops the cached token and retries once with a fresh one."""
        url = path_or_url if path_or_url.startswith("https://") else f"{self.settings.graph_url}{path_or_url}"
        for attempt in (1, 2):
            token = graph_token(self.settings, self.session)
            try:
                answer = self.session.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
            except requests.RequestException as exc:
                raise FetchError(f"Graph GET {url.split('?')[0]} failed: {type(exc).__name__}") from None
            self.requests_made += 1
            if answer.status_code == 401 and attempt == 1:
                forget_graph_token(self.settings, self.session)
                continue
            if answer.status_code != 200:
                raise FetchError(f"Graph GET {url.split('?')[0]}: HTTP {answer.status_code} {_graph_error(answer)}",
                                 response=answer)
            try:
                return dict(answer.json())
            except ValueError:
                raise FetchError(f"Graph GET {url.split('?')[0]}: the answer is not JSON", response=answer) from None
        raise AssertionError("unreachable")

    def pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[list[dict[str, Any]]]:
        page = self.get(path, params)
        while True:
            yield list(page.get("value", []))
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            page = self.get(next_link)

    def collect(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return [item for page in self.pages(path, params) for item in page]

    def users(self, select: str = USER_SELECT) -> list[dict[str, Any]]:
        return self.collect("/users", {"$select": select, "$top": "999"})

    def service_principal(self, app_id: str) -> dict[str, Any]:
        found = self.collect("/servicePrincipals", {"$filter": f"appId eq '{app_id}'"})
        if not found:
            raise FetchError(f"no service principal with appId {app_id} in this tenant (RCAUDIT_APP_ID)")
        return found[0]

    def app_role_assignments(self, sp_id: str) -> list[dict[str, Any]]:
        return self.collect(f"/servicePrincipals/{sp_id}/appRoleAssignedTo", {"$top": "999"})

    def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return self.collect(f"/groups/{group_id}/members", {"$select": "id", "$top": "999"})

    def deleted_users(self, select: str = USER_SELECT + ",deletedDateTime") -> list[dict[str, Any]]:
        return self.collect("/directory/deletedItems/microsoft.graph.user", {"$select": select, "$top": "999"})
