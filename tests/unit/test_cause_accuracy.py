"""Cause accuracy on generated tenants: every planted finding carries the cause the generator planted evidence
for (its truth says which, by its own rules, without the engine), and `unknown` appears only where nothing was
planted. The confusion table (planted × found) is printed (`pytest -s`)."""

from __future__ import annotations

import functools
from collections import Counter

import pytest

from rcaudit.audit.reconcile import reconcile
from rcaudit.model.findings import CAUSES, Cause
from rcaudit.sandbox import generate
from tests.support.snapshots import NOW, snapshot_from_tenant

CASES = [(1, "current", "Active"), (2, "classic", "Active"), (3, "current", "Quarantine"),
         (4, "classic", "Paused"), (5, "classic", "Quarantine"), (6, "current", "TooManyDeletes")]


@functools.cache
def confusion(seed: int, profile: str, status: str) -> Counter[tuple[str, str]]:
    """(planted cause, found cause) -> how many planted findings."""
    generated = generate(2000, seed=seed, now=NOW, schema_profile=profile, job_status=status)
    findings = reconcile(snapshot_from_tenant(generated.tenant, NOW)).findings
    found = {row[:4]: row[4] for row in zip(findings["kind"], findings["entra_id"], findings["scim_id"],
                                            findings["attribute"], findings["cause"], strict=True)}
    return Counter((t.cause or "(none)", found.get((t.kind, t.entra_id, t.scim_id, t.attribute), "(not found)"))
                   for t in generated.truth)


def table(counts: Counter[tuple[str, str]]) -> str:
    planted = sorted({p for p, _ in counts})
    found = sorted({f for _, f in counts})
    width = max(len(c) for c in planted + found)
    lines = [" " * width + " | " + " ".join(f"{f[:12]:>12}" for f in found)]
    lines += [f"{p:<{width}} | " + " ".join(f"{counts.get((p, f), 0):>12}" for f in found) for p in planted]
    return "\n".join(lines)


@pytest.mark.parametrize(("seed", "profile", "status"), CASES)
def test_every_planted_finding_carries_its_planted_cause(seed: int, profile: str, status: str) -> None:
    counts = confusion(seed, profile, status)
    print(f"\nseed {seed}, {profile}, job {status}: planted (rows) x found (columns)\n{table(counts)}")
    wrong = {pair: n for pair, n in counts.items() if pair[0] != pair[1]}
    assert not wrong, wrong
    assert all(planted in CAUSES for planted, _ in counts)  # every planted finding has a cause of the vocabulary


def test_unknown_only_where_nothing_was_planted() -> None:
    """The generator plants evidence for every finding it makes, so no planted finding is `unknown`."""
    total = sum((confusion(*case) for case in CASES), Counter())
    assert not [pair for pair in total if Cause.UNKNOWN in pair]
    print(f"\nall cases: planted (rows) x found (columns)\n{table(total)}")


def test_the_generator_plants_most_of_the_vocabulary() -> None:
    planted = {p for case in CASES for p, _ in confusion(*case)}
    assert {Cause.JOB_NOT_RUNNING, Cause.EXPORT_FAILED, Cause.MANAGER_SCOPED_LATER, Cause.CLEARED_IN_ENTRA,
            Cause.CHANGED_IN_RINGCENTRAL, Cause.CAME_BACK_INTO_SCOPE, Cause.SKIPPED_BY_ENTRA, Cause.SOFT_DELETED,
            Cause.DISABLED, Cause.NESTED_ONLY, Cause.UNASSIGNED, Cause.CREATED_IN_RINGCENTRAL,
            Cause.DELETED_USER_LEFTOVER, Cause.RENAME_LEFTOVER, Cause.DEACTIVATED_IN_RINGCENTRAL,
            Cause.DELETION_THRESHOLD} <= planted
