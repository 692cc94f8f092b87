"""A saved snapshot whose parts have the wrong shape is refused naming the part file and the index (issue 10
point 9), both by `Snapshot.load` and by `rcaudit audit --snapshot` (exit 2), instead of `KeyError: 'id'` or
`'str' object has no attribute 'get'` deep in the audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcaudit.model.snapshot import Snapshot
from tests.support.audit_runs import PASSES, audit_with
from tests.support.saved_snapshots import edited_copy, fetch_and_save

pytestmark = pytest.mark.slow  # runs a notebook (papermill): make test-fast skips it


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot read over HTTPS from the sandbox and saved as a run would save it."""
    return fetch_and_save(tmp_path_factory.mktemp("saved"))


def test_rcaudit_audit_of_a_broken_snapshot_exits_2_naming_the_part(saved: Path, tmp_path: Path) -> None:
    """Through `rcaudit audit --snapshot` with a stand-in notebook (tests/support/notebooks/passes.ipynb) that
    loads the snapshot with `Snapshot.load`, as the audit notebook's first step does: no real audit is needed to
    see the SnapshotError's part and index reach stderr with exit 2."""
    broken = edited_copy(saved, tmp_path, "scim_users", lambda v: [*v[:5], "oops", *v[5:]])
    run = audit_with(PASSES, tmp_path / "run", "--snapshot", str(broken))
    assert run.code == 2
    assert "SnapshotError" in run.err
    assert "scim_users.json.gz: scim_users[5]: expected an object, got a string" in run.err
    assert Snapshot.load(saved).scim_users  # the untouched snapshot still loads
