"""A saved snapshot whose parts have the wrong shape is refused naming the part file and the index (issue 10
point 9), both by `Snapshot.load` and by `rcaudit audit --snapshot` (exit 2), instead of `KeyError: 'id'` or
`'str' object has no attribute 'get'` deep in the audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rcaudit.model.errors import SnapshotError
from rcaudit.model.snapshot import Snapshot
from tests.support.saved_snapshots import edited_copy, fetch_and_save


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot read over HTTPS from the sandbox and saved as a run would save it."""
    return fetch_and_save(tmp_path_factory.mktemp("saved"))


def _pop_id(items: list[dict[str, Any]], i: int) -> list[dict[str, Any]]:
    items[i].pop("id")
    return items


@pytest.mark.parametrize(("part", "edit", "said"), [
    ("users", lambda v: _pop_id(v, 3), "users.json.gz: users[3].id: missing or not a string"),
    ("scim_users", lambda v: [*v[:2], "1200001", *v[2:]], "scim_users.json.gz: scim_users[2]: expected an object, "
                                                           "got a string"),
    ("scim_users", lambda v: {"Resources": v}, "scim_users.json.gz: scim_users: expected a list, got an object"),
    ("app_role_assignments", lambda v: [{"appRoleId": "x"}, *v],
     "app_role_assignments.json.gz: app_role_assignments[0].principalId: missing"),
    ("group_members", lambda v: {k: ["id-as-text"] for k in v},
     "group_members.json.gz: group_members["),
    ("service_principal", lambda v: "RingCentral", "service_principal.json.gz: service_principal: expected an object"),
    ("job", lambda v: ["Active"], "job.json.gz: job: expected an object, got a list"),
])
def test_a_part_of_the_wrong_shape_names_the_part_and_the_index(saved: Path, tmp_path: Path, part: str,
                                                               edit: Callable[[Any], Any], said: str) -> None:
    with pytest.raises(SnapshotError, match=None) as err:
        Snapshot.load(edited_copy(saved, tmp_path, part, edit))
    assert said in str(err.value)


def test_a_bad_manifest_time_is_named(saved: Path, tmp_path: Path) -> None:
    folder = edited_copy(saved, tmp_path, "users", lambda v: v)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["graph_fetched_at"] = "yesterday"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match=r"manifest.json: graph_fetched_at: 'yesterday' is not an ISO 8601"):
        Snapshot.load(folder)
