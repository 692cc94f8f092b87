"""RingCentral SCIM reads: page with a 1-based `startIndex`, advancing by what actually came back."""

from __future__ import annotations

from typing import Any

import requests

from .auth import RingCentralToken
from .config import Settings
from .errors import FetchError


def _scim_error(answer: requests.Response) -> str:
    """Both of RingCentral's error shapes: SCIM (`status`, `scimType`, `detail`) and platform (`errorCode`)."""
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    if "errorCode" in body:
        return f"{body['errorCode']}: {body.get('message', '')}"
    return f"{body.get('scimType', '')} {body.get('detail', '')}".strip()


class ScimClient:
    def __init__(self, settings: Settings, session: requests.Session, token: RingCentralToken | None = None) -> None:
        self.settings = settings
        self.session = session
        self.token = token or RingCentralToken(settings, session)
        self.requests_made = 0

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.settings.scim_url}{path}"
        try:
            answer = self.session.get(url, params=params, headers={
                "Authorization": f"Bearer {self.token.get()}", "Accept": "application/scim+json"})
        except requests.RequestException as exc:
            raise FetchError(f"SCIM GET {path} failed: {type(exc).__name__}") from None
        self.requests_made += 1
        if answer.status_code != 200:
            raise FetchError(f"SCIM GET {path}: HTTP {answer.status_code} {_scim_error(answer)}", response=answer)
        try:
            return dict(answer.json())
        except ValueError:
            raise FetchError(f"SCIM GET {path}: the answer is not JSON", response=answer) from None

    def service_provider_config(self) -> dict[str, Any]:
        return self.get("/ServiceProviderConfig")

    def users(self, count: int | None = None) -> list[dict[str, Any]]:
        """Every user once: dedupe by id, stop on an empty page or past `totalResults`."""
        if count is None:
            count = int(self.service_provider_config().get("filter", {}).get("maxResults") or 100)
        seen: dict[str, dict[str, Any]] = {}
        start = 1
        while True:
            page = self.get("/Users", {"startIndex": start, "count": count})
            resources = page.get("Resources", [])
            for user in resources:
                seen.setdefault(str(user["id"]), user)
            start += len(resources)
            if not resources or start > int(page.get("totalResults", 0)):
                return list(seen.values())
