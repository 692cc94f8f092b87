"""Reading both services into one `Snapshot`.

Any failure of a required read raises: a partial snapshot is never returned as if it were complete.
Optional reads refused with a 403 (or another 4xx) are recorded in `unreadable` and the fetch goes on.
"""


from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcaudit.model.errors import ConfigError, FetchError, MappingError, PermissionDenied, RateLimited
from rcaudit.model.snapshot import Snapshot, rc_identity

if TYPE_CHECKING:
    import requests

    from rcaudit.connect.config import Settings
    from rcaudit.connect.http import RetryPolicy


# --- fetching ---------------------------------------------------------------------------------------
EVENT_DAYS = 7


def _progress_mode(enabled: bool, log: bool) -> str:
    """`widget` in a Jupyter kernel a person watches (ipywidgets bars in Lab), `text` in a terminal (tqdm on
    stderr), `log` under `rcaudit audit` (papermill: one line per phase, RCAUDIT_PROGRESS=log), else `off`."""
    if log:
        return "log"
    if not enabled:
        return "off"
    from rcaudit.connect.auth import _in_kernel

    if _in_kernel():
        import importlib.util

        return "widget" if importlib.util.find_spec("ipywidgets") else "text"  # tqdm.notebook draws with them
    return "text"


class _Bar:
    """One phase's bar: `bar(n)` counts n more users, `set_total(n)` once the service says how many there are
    (SCIM `totalResults`); Graph lists have no total, so their bar counts pages until the list ends."""

    def __init__(self, mode: str, description: str, total: int | None) -> None:
        self.mode, self.description, self.total = mode, description, total
        self.count, self.pages, self.started = 0, 0, time.perf_counter()
        self.bar: Any = None
        if mode in ("widget", "text"):
            if mode == "widget":
                from tqdm.notebook import tqdm as widget_tqdm

                self.bar = widget_tqdm(total=total, desc=description, unit=" users", leave=True)
            else:
                from tqdm.std import tqdm as text_tqdm

                self.bar = text_tqdm(total=total, desc=description, unit=" users", leave=False, dynamic_ncols=True)

    def __call__(self, n: int) -> None:
        self.count += n
        self.pages += 1
        if self.bar is not None:
            if self.total is None:
                self.bar.set_postfix_str(f"page {self.pages}", refresh=False)
            self.bar.update(n)

    def set_total(self, total: int) -> None:
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def close(self) -> None:
        """Finish the bar: a widget stays, full, with its count; the log gets its one line."""
        if self.mode == "log":
            total = f" of {self.total:,}" if self.total is not None and self.total != self.count else ""
            print(f"read {self.description}: {self.count:,}{total} in {self.pages} page(s), "
                  f"{time.perf_counter() - self.started:.1f} s", flush=True)
        elif self.bar is not None:
            if self.total is None:
                self.bar.total = self.count
                self.bar.set_postfix_str(f"{self.pages} page(s)", refresh=False)
            self.bar.refresh()
            self.bar.close()


class _Progress:
    """Progress bars for the fetch's phases (see `_progress_mode`), or nothing when nobody watches."""

    def __init__(self, enabled: bool, log: bool = False) -> None:
        self.mode = _progress_mode(enabled, log)
        self._bars: list[_Bar] = []

    def bar(self, description: str, total: int | None = None) -> Callable[[int], Any]:
        """A new bar (the phases run one after another: the previous bar is finished first)."""
        if self.mode == "off":
            return lambda n: None
        self.close()
        bar = _Bar(self.mode, description, total)
        self._bars.append(bar)
        return bar

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
        self._bars.clear()


def _scoping_attributes(schema: dict[str, Any] | None) -> list[str]:
    """Source attributes the job's scoping filters read (`sourceOperandName`), so they are fetched too."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            name = node.get("sourceOperandName")
            if isinstance(name, str) and name not in found:
                found.append(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for rule in (schema or {}).get("synchronizationRules") or []:
        for mapping in rule.get("objectMappings") or []:
            walk(mapping.get("scope"))
    return found


def _pick_job(jobs: list[dict[str, Any]], notes: list[str]) -> dict[str, Any] | None:
    from rcaudit.connect.graph import pick_job

    job, note = pick_job(jobs)
    if note:
        notes.append(note)
    return job


class _Unreadable:
    """Collects optional reads the service refused as `unreadable` [{what, reason}]: any 4xx but 401, with
    the service's error code and message (a 403 also says what to grant), so an optional read never sinks
    an audit (a provisioning-log filter Graph does not support is a 400, a missing job a 404).

    Not those: a 401 (the credentials are wrong for every read), throttling beyond the retry budget
    (`RateLimited`), 5xx and lost connections say nothing about what the audit may read, so they stop the
    fetch instead of quietly shrinking it.
    """

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def read(self, what: str, call: Any, default: Any = None) -> Any:
        try:
            return call()
        except RateLimited:
            raise
        except PermissionDenied as exc:
            self.add(what, f"HTTP 403 {exc.code or ''}: grant {exc.permission}".replace("  ", " "))
        except FetchError as exc:
            if exc.status is None or not 400 <= exc.status < 500 or exc.status == 401:
                raise
            if exc.status == 404 and not exc.detail:
                self.add(what, f"HTTP 404 {exc.code or ''}: not found".replace("  ", " "))
            else:
                self.add(what, exc.detail or f"HTTP {exc.status} {exc.code or ''}".rstrip())
        return default

    def add(self, what: str, reason: str) -> None:
        self.items.append({"what": what, "reason": reason})


def _check_live_mapping(schema: dict[str, Any], unreadable: _Unreadable) -> None:
    """DESIGN.md "Live mapping": a readable schema without a usable user mapping is an `unreadable` entry (and
    the report's banner), never a quiet fallback to the default table."""
    from rcaudit.audit.mapping import mapping_from_schema

    try:
        mapping_from_schema(schema)
    except MappingError as exc:
        unreadable.add("live mapping", f"{exc.message}: DESIGN.md's default mapping is audited instead")


def _audited(mappings: Any, scim_schemas: list[dict[str, Any]], notes: list[str]) -> list[Any]:
    """The mappings whose target RingCentral's `/Schemas` declares: only those are fetched and compared."""
    from rcaudit.model.scim_path import declared_by

    audited = []
    for mapping in mappings:
        try:
            if declared_by(scim_schemas, mapping.target) is None:
                audited.append(mapping)
        except MappingError as exc:  # a target path this version cannot read is not audited, hence not fetched
            notes.append(f"not fetched: {exc.message}")
    return audited


class _Fetch:
    """One fetch: the clients, what could not be read, notes, timings and progress bars."""

    def __init__(self, settings: Settings, session: requests.Session, interactive: bool, progress: bool,
                 event_days: int, log_progress: bool = False) -> None:
        from rcaudit.connect.auth import GraphAuth, RingCentralToken
        from rcaudit.connect.graph import GraphClient
        from rcaudit.connect.scim import ScimClient

        self.settings, self.session, self.event_days = settings, session, event_days
        self.scim = ScimClient(settings, session, RingCentralToken(settings, session))
        self.graph = GraphClient(settings, session, GraphAuth(settings, session, interactive=interactive))
        self.unreadable = _Unreadable()
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self.progress = _Progress(progress, log_progress)

    def timed(self, phase: str, started: float) -> None:
        self.timings[phase] = round(time.perf_counter() - started, 3)

    def job_and_schema(self, sp_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The job (without its schema) and the schema: None when absent or unreadable."""
        jobs = self.unreadable.read("synchronization job", lambda: self.graph.synchronization_jobs(sp_id))
        if jobs is None:
            for what in ("synchronization schema", "provisioning events"):
                self.unreadable.add(what, "needs the synchronization job, which is unreadable")
            return None, None
        job = _pick_job(jobs, self.notes)
        if job is None:
            return None, None
        return job, self.unreadable.read("synchronization schema", lambda: self.graph.job_schema(sp_id, job["id"]))

    def graph_side(self, scim_schemas: list[dict[str, Any]], overrides: str | Path | None) -> dict[str, Any]:
        from rcaudit.audit.mapping import graph_user_properties
        from rcaudit.audit.overrides import effective_mapping

        graph, unreadable = self.graph, self.unreadable
        started, fetched_at = time.perf_counter(), dt.datetime.now(dt.UTC)
        sp = graph.service_principal(str(self.settings.app_id))
        job, schema = self.job_and_schema(sp["id"])
        mappings, mapping_source = effective_mapping(schema, overrides)
        self.notes.append(f"mapping: {mapping_source}")
        if schema:
            _check_live_mapping(schema, unreadable)
        audited = _audited(mappings, scim_schemas, self.notes)
        select = graph_user_properties(audited, extra=_scoping_attributes(schema))
        expand_manager = any("manager" in m.references for m in audited)
        users = graph.users(select, expand_manager=expand_manager, on_page=self.progress.bar("Entra users"))
        assignments = graph.app_role_assignments(sp["id"])
        group_ids = list(dict.fromkeys(a["principalId"] for a in assignments if a.get("principalType") == "Group"))
        members = {gid: graph.group_members(gid) for gid in group_ids}
        transitive: dict[str, list[dict[str, Any]]] = {}
        for gid in group_ids:
            found = unreadable.read("transitive group members", lambda gid=gid: graph.group_transitive_members(gid))
            if found is None:
                transitive = {}
                break
            transitive[gid] = found
        deleted = unreadable.read("deleted users", lambda: graph.deleted_users(
            select, on_page=self.progress.bar("Entra deleted users")), [])
        since = fetched_at - dt.timedelta(days=self.event_days)
        events = unreadable.read("provisioning events", lambda: graph.provisioning_events(
            str(job["id"]), since), []) if job else []
        sync_settings = None
        if self.settings.read_sync_secrets:  # opt-in: the answer holds RingCentral's credentials too
            sync_settings = unreadable.read("synchronization settings", lambda: graph.sync_settings(sp["id"]))
            if sync_settings is not None:
                self.notes.append("sync settings from the job's synchronization secrets: " + (", ".join(
                    f"{k}={v}" for k, v in sync_settings.items()) or "neither SyncAll nor SkipOutOfScopeDeletions"))
        self.timed("graph", started)
        return {"graph_fetched_at": fetched_at, "service_principal": sp, "job": job, "schema": schema,
                "sync_settings": sync_settings,
                "users": users, "app_role_assignments": assignments, "group_members": members,
                "group_transitive_members": transitive, "deleted_users": deleted, "provisioning_events": events,
                "audited_attributes": [m.target for m in audited]}

    def scim_users(self, config: dict[str, Any], audited: list[str]) -> dict[str, Any]:
        from rcaudit.model.scim_path import parse_target
        from rcaudit.model.vocabulary import CORE_USER

        started, fetched_at = time.perf_counter(), dt.datetime.now(dt.UTC)
        keys = [t.attribute if t.schema.lower() == CORE_USER.lower() else t.schema
                for t in (parse_target(target) for target in audited)]
        fetched = self.scim.fetch_users(
            keys, self.scim.page_size(config), on_page=self.progress.bar("RingCentral users"),
            on_details=lambda n: self.progress.bar("RingCentral users one by one", total=n))
        self.notes.extend(fetched.notes)
        self.timed("scim_users", started)
        return {"scim_fetched_at": fetched_at, "scim_users": fetched.users}


def fetch_snapshot(settings: Settings, *, source: str = "environment", progress: bool | None = None,
                   interactive: bool | None = None, session: requests.Session | None = None,
                   retry: RetryPolicy | None = None, event_days: int = EVENT_DAYS,
                   mapping_overrides: str | Path | None = None) -> Snapshot:
    """Read both services into a `Snapshot`.

    Order: RingCentral's discovery first (its `/Schemas` decides which attributes are audited, hence
    fetched), then Graph (service principal, job and live mapping, users with just the properties the
    audited mapping reads, assignments, group members, deleted users, provisioning events), then every
    SCIM user. `progress`/`interactive` default to "is a person watching" (`auth.detect_interactive`);
    `retry` bounds how long any one request keeps retrying (tests make it small); `mapping_overrides` is
    the audit's YAML override file, so attributes it adds are fetched too.
    """
    from rcaudit.connect.auth import detect_interactive
    from rcaudit.connect.http import RetryPolicy, make_session, stats_of

    missing = settings.missing()
    if missing:
        raise ConfigError("not configured: set " + "; ".join(missing))
    if mapping_overrides is not None:  # a broken mapping file fails before any request (DESIGN.md "Live mapping")
        from rcaudit.audit.overrides import load_mapping_overrides

        load_mapping_overrides(mapping_overrides)
    person = detect_interactive() if interactive is None or progress is None else interactive
    retry = retry or RetryPolicy(max_total=settings.retry_max_seconds)
    session = session or make_session(settings.ca_bundle, retry=retry)
    log_progress = progress is not False and os.environ.get("RCAUDIT_PROGRESS") == "log"  # set by `rcaudit audit`
    fetch = _Fetch(settings, session, person if interactive is None else interactive,
                   person if progress is None else progress, event_days, log_progress)
    started = time.perf_counter()
    try:
        config = fetch.scim.service_provider_config()
        scim_schemas = fetch.scim.schemas()
        fetch.timed("scim_discovery", started)
        graph = fetch.graph_side(scim_schemas, mapping_overrides)
        scim = fetch.scim_users(config, graph["audited_attributes"])
    finally:
        fetch.progress.close()
    fetch.timed("fetch", started)
    return Snapshot(
        tenant_id=str(settings.tenant_id), scim_service_provider_config=config, scim_schemas=scim_schemas,
        **graph, **scim, source=source, unreadable=fetch.unreadable.items, requests=stats_of(session).summary(),
        timings=fetch.timings, notes=fetch.notes, rc_identity=rc_identity(settings.scim_url, fetch.scim.token.owner_id),
    )
