"""What was read from both services, as one immutable record that can be saved and re-audited.

The audit engine works from a `Snapshot` only, never from the network, so a saved run re-audits
identically: the grace window is measured from `graph_fetched_at`, not from the wall clock.
Saved as gzipped JSON files in the run folder's `snapshot/` (one per part, plus `manifest.json`).
The fetch that fills one is `rcaudit.connect.fetch`.
"""


from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcaudit.model.errors import SnapshotError
from rcaudit.model.vocabulary import SYNC_SETTING_KEYS

if TYPE_CHECKING:

    pass


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
