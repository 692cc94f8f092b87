"""The sandbox's in-memory state: the tenant document plus what the emulators need around it.

The tenant document (DESIGN.md format) *is* the state: handlers read and change it under one lock, so
`dump()` gives back the tenant file as it now stands. Tests read and change it through this API.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import Any

from rcaudit.sandbox.servers.faults import FaultSet
from rcaudit.sandbox.servers.ratelimit import RateLimiter
from rcaudit.sandbox.servers.tokens import TokenIssuer
from rcaudit.sandbox.tenant.file import validate_tenant, with_defaults


class SandboxState:
    def __init__(self, tenant: dict[str, Any]) -> None:
        validate_tenant(tenant)
        self.lock = threading.RLock()
        self.tenant = with_defaults(tenant)
        settings = self.settings
        self.tokens = TokenIssuer(lifetime=float(settings["tokenLifetime"]))
        limits = settings["limits"]
        self.limiter = RateLimiter(
            {k: int(v) for k, v in limits.items() if k != "window"}, float(limits["window"])
        )
        self.faults = FaultSet(expire_tokens=self.tokens.expire_all)
        self.device_codes: dict[str, dict[str, Any]] = {}
        self._scim_index: dict[str, dict[str, Any]] = {}
        self._graph_index: dict[str, tuple[str, dict[str, Any]]] = {}
        self._last_scim_id = 0  # the highest SCIM id ever held: ids are never handed out twice
        self.reindex()

    # --- sections -------------------------------------------------------------------------------
    @property
    def graph(self) -> dict[str, Any]:
        return self.tenant["graph"]

    @property
    def settings(self) -> dict[str, Any]:
        return self.tenant["sandbox"]

    @property
    def scim_users(self) -> list[dict[str, Any]]:
        return self.tenant["scim"]["Users"]

    # --- indexes --------------------------------------------------------------------------------
    def reindex(self) -> None:
        """Rebuild the id indexes; call after changing the tenant document directly."""
        with self.lock:
            self._scim_index = {u["id"]: u for u in self.scim_users}
            self._last_scim_id = max([self._last_scim_id, *(_numeric(u["id"]) for u in self.scim_users)])
            graph = self.graph
            index: dict[str, tuple[str, dict[str, Any]]] = {}
            for section, kind in (("users", "user"), ("deletedUsers", "deletedUser"), ("groups", "group")):
                for obj in graph[section]:
                    index[obj["id"]] = (kind, obj)
            self._graph_index = index

    def new_scim_id(self, step: int = 1000, first: int = 1271136020) -> str:
        """A fresh extension id, above every id held so far (deleted users' included): RingCentral
        never reuses an extension id; a deleted user's extension becomes an unassigned one (RC-MED).
        The step of 1000 mimics the spacing of the ids in RingCentral's examples."""
        with self.lock:
            held = max((_numeric(u["id"]) for u in self.scim_users), default=0)  # users added behind our back
            highest = max(self._last_scim_id, held)
            self._last_scim_id = highest + step if highest else first
            return str(self._last_scim_id)

    def scim_user(self, user_id: str) -> dict[str, Any] | None:
        return self._scim_index.get(user_id)

    def add_scim_user(self, user: dict[str, Any]) -> None:
        with self.lock:
            self.scim_users.append(user)
            self._scim_index[user["id"]] = user
            self._last_scim_id = max(self._last_scim_id, _numeric(user["id"]))

    def remove_scim_user(self, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            user = self._scim_index.pop(user_id, None)
            if user is not None:
                self.scim_users.remove(user)
            return user

    def graph_object(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        """(`user` | `deletedUser` | `group`, the object) for a directory object id."""
        return self._graph_index.get(object_id)

    # --- knobs ----------------------------------------------------------------------------------
    def configure_limits(self, light: int | None = None, heavy: int | None = None,
                         auth: int | None = None, window: float | None = None) -> None:
        """Change the RingCentral rate limits (tests use small windows so they run in seconds)."""
        with self.lock:
            limits = self.settings["limits"]
            for key, value in (("light", light), ("heavy", heavy), ("auth", auth), ("window", window)):
                if value is not None:
                    limits[key] = value
            self.limiter.configure({k: int(v) for k, v in limits.items() if k != "window"},
                                   float(limits["window"]))

    def deny_graph(self, pattern: str) -> None:
        """Answer 403 Authorization_RequestDenied for Graph paths matching `pattern` (a regex)."""
        with self.lock:
            self.settings["graphDenied"].append(pattern)

    def graph_denied(self, path: str) -> bool:
        return any(re.search(p, path) for p in self.settings["graphDenied"])

    def dump(self) -> dict[str, Any]:
        """The tenant file as it stands now, `sandbox` section included."""
        with self.lock:
            return copy.deepcopy(self.tenant)


def _numeric(user_id: Any) -> int:
    """A SCIM id as a number, 0 for an id that is not numeric (a tenant file may hold any string)."""
    text = str(user_id)
    return int(text) if text.isdigit() else 0
