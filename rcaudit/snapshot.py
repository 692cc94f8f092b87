"""What was read from both services, as one immutable record that can be saved and re-audited.

The audit engine works from a `Snapshot` only, never from the network, so a saved run re-audits
identically: the grace window is measured from `graph_fetched_at`, not from the wall clock.
Saved as gzipped JSON files in the run folder's `snapshot/` (one per part, plus `manifest.json`).

`fetch_snapshot` reads both services into one (the network modules are imported only there, so the
audit engine can import this module without pulling in HTTP). Any failure of a required read raises:
a partial snapshot is never returned as if it were complete. Optional reads refused with a 403 are
recorded in `unreadable` and the fetch goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, FetchError, MappingError, PermissionDenied, RateLimited, SnapshotError
from .vocabulary import SYNC_SETTING_KEYS

if TYPE_CHECKING:
    import requests

    from .config import Settings
    from .http import RetryPolicy

SNAPSHOT_VERSION = 1
# The large parts, each in its own gzipped file; everything else goes to manifest.json.
_PARTS = ("users", "deleted_users", "app_role_assignments", "group_members", "group_transitive_members",
          "provisioning_events", "scim_users", "job", "schema", "scim_schemas", "service_principal",
          "scim_service_provider_config")


# Load-time shape of each part: "list" of objects, "map" of id -> list of objects, "object", or "object?" (or null);
# the second item names the string key each object must have ("" for none).
_SHAPES: dict[str, tuple[str, str]] = {
    "users": ("list", "id"), "deleted_users": ("list", "id"), "app_role_assignments": ("list", "principalId"),
    "group_members": ("map", "id"), "group_transitive_members": ("map", "id"), "provisioning_events": ("list", ""),
    "scim_users": ("list", "id"), "scim_schemas": ("list", ""), "job": ("object?", ""), "schema": ("object?", ""),
    "service_principal": ("object", "id"), "scim_service_provider_config": ("object", ""),
}
_MANIFEST_SHAPES: dict[str, type] = {"tenant_id": str, "source": str, "unreadable": list, "requests": dict,
                                     "timings": dict, "notes": list, "audited_attributes": list}



def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _check_objects(items: Any, key: str, where: str) -> None:
    """A list of objects, each with a non-empty string `key` (when `key` is given)."""
    if not isinstance(items, list):
        raise SnapshotError(f"{where}: expected a list, got {_kind(items)}")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise SnapshotError(f"{where}[{i}]: expected an object, got {_kind(item)}")
        if key and (not isinstance(item.get(key), str) or not item[key]):
            raise SnapshotError(f"{where}[{i}].{key}: missing or not a string")


def check_part(name: str, value: Any, where: str) -> None:
    """Raise SnapshotError naming the part file and the index when a saved part has the wrong shape (a hand-edited
    or foreign file would otherwise fail deep in the audit as `KeyError: 'id'`)."""
    shape, key = _SHAPES.get(name, ("any", ""))
    if shape == "any":
        return
    if shape == "list":
        _check_objects(value, key, f"{where}: {name}")
    elif shape == "map":
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: {name}: expected an object of id -> members, got {_kind(value)}")
        for group, members in value.items():
            _check_objects(members, key, f"{where}: {name}[{group!r}]")
    elif not isinstance(value, dict) and not (shape == "object?" and value is None):
        raise SnapshotError(f"{where}: {name}: expected an object, got {_kind(value)}")
    elif key and isinstance(value, dict) and not isinstance(value.get(key), str):
        raise SnapshotError(f"{where}: {name}.{key}: missing or not a string")


def _manifest_value(name: str, value: Any, where: Path) -> Any:
    """A manifest field, checked: times must be ISO 8601, the rest of the type the snapshot keeps."""
    if name.endswith("_fetched_at"):
        try:
            return dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise SnapshotError(f"{where}: {name}: {value!r} is not an ISO 8601 time") from None
    wanted = _MANIFEST_SHAPES.get(name)
    if wanted is not None and not isinstance(value, wanted):
        raise SnapshotError(f"{where}: {name}: expected {_kind(wanted())}, got {_kind(value)}")
    if name == "sync_settings" and value is not None:
        if not isinstance(value, dict) or set(value) - set(SYNC_SETTING_KEYS):
            raise SnapshotError(f"{where}: sync_settings: expected null or an object with only "
                                f"{', '.join(SYNC_SETTING_KEYS)}")
        return {k: str(v) for k, v in value.items()}
    if name == "unreadable":
        for i, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get("what"), str):
                raise SnapshotError(f"{where}: unreadable[{i}]: expected an object with what and reason")
    return value


@dataclass(frozen=True)
class Snapshot:
    """Both sides' raw records plus what is needed to interpret them."""

    tenant_id: str
    graph_fetched_at: dt.datetime  # when the Graph read started: the grace window is measured from here
    scim_fetched_at: dt.datetime
    service_principal: dict[str, Any]
    users: list[dict[str, Any]]  # Graph v1.0 users as read ($select), with "manager": {"id"} when expanded
    deleted_users: list[dict[str, Any]]  # soft-deleted users (deletedItems), UPN as Entra rewrote it
    app_role_assignments: list[dict[str, Any]]  # appRoleAssignedTo of the service principal
    group_members: dict[str, list[dict[str, Any]]]  # assigned group id -> direct members ({"@odata.type", "id"})
    group_transitive_members: dict[str, list[dict[str, Any]]]  # assigned group id -> transitive members
    scim_service_provider_config: dict[str, Any]
    scim_schemas: list[dict[str, Any]]
    scim_users: list[dict[str, Any]]  # RingCentral SCIM users, as returned
    job: dict[str, Any] | None = None  # synchronization job (without its schema), None when unreadable/absent
    schema: dict[str, Any] | None = None  # the job's synchronizationSchema: the live mapping
    provisioning_events: list[dict[str, Any]] = field(default_factory=list)
    source: str = "environment"  # "sandbox" or "environment"
    unreadable: list[dict[str, str]] = field(default_factory=list)  # [{"what", "reason"}]
    requests: dict[str, int] = field(default_factory=lambda: {"graph": 0, "scim": 0, "throttled": 0})
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. "fetched 120 users one by one: list omits addresses"
    audited_attributes: list[str] = field(default_factory=list)  # targets mapped and declared by /Schemas at fetch
    rc_identity: dict[str, str] = field(default_factory=dict)  # the RingCentral read: {scim_url, owner_id}
    # the job's SyncAll / SkipOutOfScopeDeletions from its synchronization secrets (RCAUDIT_READ_SYNC_SECRETS=1):
    # only those two keys are ever kept; None when not read
    sync_settings: dict[str, str] | None = None

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {"snapshot_version": SNAPSHOT_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _PARTS:
                with gzip.open(folder / f"{f.name}.json.gz", "wt", encoding="utf-8", compresslevel=5) as handle:
                    json.dump(value, handle, ensure_ascii=False, separators=(",", ":"))
            elif isinstance(value, dt.datetime):
                manifest[f.name] = value.astimezone(dt.UTC).isoformat()
            else:
                manifest[f.name] = value
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Snapshot:
        """Load `folder` (a run's `snapshot/`, or the run folder that holds it)."""
        folder = Path(folder)
        if (folder / "snapshot" / "manifest.json").is_file():
            folder = folder / "snapshot"
        manifest_file = folder / "manifest.json"
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError(f"expected an object, got {_kind(manifest)}")
        except FileNotFoundError:
            raise SnapshotError(f"{folder}: no snapshot here (manifest.json is missing)") from None
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"{manifest_file}: unreadable: {exc}") from None
        if manifest.get("snapshot_version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"{manifest_file}: snapshot_version {manifest.get('snapshot_version')!r} is not "
                                f"{SNAPSHOT_VERSION}")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in _PARTS:
                part = folder / f"{f.name}.json.gz"
                try:
                    with gzip.open(part, "rt", encoding="utf-8") as handle:
                        values[f.name] = json.load(handle)
                except (OSError, EOFError, ValueError) as exc:
                    raise SnapshotError(f"{part}: unreadable: {exc}") from None
                check_part(f.name, values[f.name], str(part))
            elif f.name in manifest:
                values[f.name] = _manifest_value(f.name, manifest[f.name], manifest_file)
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise SnapshotError(f"{manifest_file}: missing {', '.join(missing)}")
        return cls(**values)


# --- fetching ---------------------------------------------------------------------------------------
EVENT_DAYS = 7


class _Progress:
    """tqdm bars on stderr (JupyterLab renders their carriage returns too), or nothing when nobody watches."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: list[Any] = []

    def bar(self, description: str, total: int | None = None) -> Callable[[int], Any]:
        """A new bar's `update` (the phases run one after another: the previous bar is closed)."""
        if not self.enabled:
            return lambda n: None
        from tqdm.std import tqdm

        self.close()

        bar = tqdm(total=total, desc=description, unit=" users", leave=False, dynamic_ncols=True)
        self._bars.append(bar)
        return bar.update

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
    from .graph import pick_job

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
    from .mapping import mapping_from_schema

    try:
        mapping_from_schema(schema)
    except MappingError as exc:
        unreadable.add("live mapping", f"{exc.message}: DESIGN.md's default mapping is audited instead")


def _audited(mappings: Any, scim_schemas: list[dict[str, Any]], notes: list[str]) -> list[Any]:
    """The mappings whose target RingCentral's `/Schemas` declares: only those are fetched and compared."""
    from .mapping import declared_by

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
                 event_days: int) -> None:
        from .auth import GraphAuth, RingCentralToken
        from .graph import GraphClient
        from .scim import ScimClient

        self.settings, self.session, self.event_days = settings, session, event_days
        self.scim = ScimClient(settings, session, RingCentralToken(settings, session))
        self.graph = GraphClient(settings, session, GraphAuth(settings, session, interactive=interactive))
        self.unreadable = _Unreadable()
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self.progress = _Progress(progress)

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
        from .mapping import effective_mapping, graph_user_properties

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
        from .mapping import CORE_USER, parse_target

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
    from .auth import detect_interactive
    from .http import RetryPolicy, make_session, stats_of

    missing = settings.missing()
    if missing:
        raise ConfigError("not configured: set " + "; ".join(missing))
    if mapping_overrides is not None:  # a broken mapping file fails before any request (DESIGN.md "Live mapping")
        from .mapping import load_mapping_overrides

        load_mapping_overrides(mapping_overrides)
    person = detect_interactive() if interactive is None or progress is None else interactive
    retry = retry or RetryPolicy(max_total=settings.retry_max_seconds)
    session = session or make_session(settings.ca_bundle, retry=retry)
    fetch = _Fetch(settings, session, person if interactive is None else interactive,
                   person if progress is None else progress, event_days)
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


def normal_scim_url(url: str) -> str:
    """The SCIM base URL in one spelling (lower-case scheme and host, default port dropped, no trailing slash),
    so that the RingCentral an audit read and the one an apply writes to can be compared."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(scheme)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def rc_identity(scim_url: str, owner_id: str | None) -> dict[str, str]:
    """Which RingCentral this is: the normalised SCIM URL, and the JWT grant's owner_id when there is one."""
    identity = {"scim_url": normal_scim_url(scim_url)}
    if owner_id:
        identity["owner_id"] = str(owner_id)
    return identity
