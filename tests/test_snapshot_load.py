"""A saved snapshot whose parts have the wrong shape is refused naming the part file and the index (issue 10
point 9), both by `Snapshot.load` and by `rcaudit audit --snapshot` (exit 2), instead of `KeyError: 'id'` or
`'str' object has no attribute 'get'` deep in the audit."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rcaudit.cli import main
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.model.errors import SnapshotError
from rcaudit.model.snapshot import Snapshot
from rcaudit.sandbox import Sandbox, generate


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot read over HTTPS from the sandbox and saved as a run would save it."""
    with Sandbox(generate(users=80, seed=5).tenant) as sandbox:
        snapshot = fetch_snapshot(Settings.from_env(sandbox.env()), source="sandbox", progress=False,
                                  interactive=False)
    return snapshot.save(tmp_path_factory.mktemp("saved") / "snapshot")


def _edited(saved: Path, tmp_path: Path, part: str, edit: Callable[[Any], Any]) -> Path:
    copy = tmp_path / "snapshot"
    copy.mkdir()
    for path in saved.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    file = copy / f"{part}.json.gz"
    with gzip.open(file, "rt", encoding="utf-8") as handle:
        value = json.load(handle)
    with gzip.open(file, "wt", encoding="utf-8") as handle:
        json.dump(edit(value), handle)
    return copy


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
        Snapshot.load(_edited(saved, tmp_path, part, edit))
    assert said in str(err.value)


def test_a_bad_manifest_time_is_named(saved: Path, tmp_path: Path) -> None:
    folder = _edited(saved, tmp_path, "users", lambda v: v)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["graph_fetched_at"] = "yesterday"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match=r"manifest.json: graph_fetched_at: 'yesterday' is not an ISO 8601"):
        Snapshot.load(folder)


def test_rcaudit_audit_of_a_broken_snapshot_exits_2_naming_the_part(saved: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    broken = _edited(saved, tmp_path, "scim_users", lambda v: [*v[:5], "oops", *v[5:]])
    assert main(["audit", "--snapshot", str(broken), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "SnapshotError" in err and "scim_users.json.gz: scim_users[5]: expected an object, got a string" in err
    assert Snapshot.load(saved).scim_users  # the untouched snapshot still loads
