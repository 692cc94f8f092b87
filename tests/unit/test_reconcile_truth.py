"""The engine against the generator's planted truth: precision = recall = 1.0 on (kind, entra_id, scim_id,
attribute) for seeds 1–5 under both schema profiles, and every trap producing nothing. Plus the hypothesis
property that a tenant reconciled against a perfect copy of itself (as RingCentral would store it) is clean."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rcaudit.audit.reconcile import reconcile
from rcaudit.sandbox import generate
from rcaudit.sandbox.tenant.generate import TruthRow
from tests.support.snapshots import NOW, audit, entra_user, rc_account, rows, small_tenant, snapshot_from_tenant

CASES = [(seed, profile) for seed in range(1, 6) for profile in ("current", "classic")]
# traps whose users/accounts carry no planted finding at all (rc_owned_phones may sit on drifted accounts)
SILENT_TRAPS = ("case", "whitespace", "phone_format", "country_code_vs_name", "empty_vs_absent",
                "disabled_never_provisioned", "correctly_deactivated", "inactive_orphan", "pending",
                "pending_activation", "default_access_provisioned")


@functools.cache
def audited(seed: int, profile: str):
    generated = generate(2000, seed=seed, now=NOW, schema_profile=profile)
    return generated, reconcile(snapshot_from_tenant(generated.tenant, NOW))


@pytest.mark.parametrize(("seed", "profile"), CASES)
def test_findings_are_exactly_the_planted_truth(seed: int, profile: str) -> None:
    generated, result = audited(seed, profile)
    found = [TruthRow(*row) for row in rows(result)]
    truth = set(generated.truth)
    assert len(found) == len(set(found))  # no finding twice
    hits = len(truth & set(found))
    precision, recall = hits / len(found), hits / len(truth)
    assert (precision, recall) == (1.0, 1.0), (sorted(set(found) - truth)[:5], sorted(truth - set(found))[:5])


@pytest.mark.parametrize("profile", ["current", "classic"])
def test_findings_are_the_planted_truth_on_a_tenant_without_a_job(profile: str) -> None:
    """No provisioning job (so no live mapping, no job status): DESIGN.md's default table is audited, and the
    findings are still exactly the planted truth."""
    generated = generate(2000, seed=7, now=NOW, schema_profile=profile)
    tenant = {**generated.tenant, "graph": {k: v for k, v in generated.tenant["graph"].items()
                                            if k not in ("synchronizationJob", "provisioningEvents")}}
    snapshot = snapshot_from_tenant(tenant, NOW)
    assert snapshot.job is None and snapshot.schema is None
    result = reconcile(snapshot)
    assert result.mapping_source == "default"
    assert {TruthRow(*row) for row in rows(result)} == set(generated.truth)


@pytest.mark.parametrize(("seed", "profile"), CASES[:2])
def test_every_trap_produces_nothing(seed: int, profile: str) -> None:
    generated, result = audited(seed, profile)
    mentioned = set(result.findings["scim_id"]) | {i for ids in result.findings["entra_id"] for i in ids.split(";")}
    for trap in SILENT_TRAPS:
        assert generated.traps[trap], trap
        assert not mentioned & set(generated.traps[trap]), trap
    ringcentral_phones = {'phoneNumbers[type eq "work"].value', 'phoneNumbers[type eq "other"].value'}
    assert not ringcentral_phones & set(result.findings["attribute"])


def test_scope_counts_add_up_on_a_generated_tenant() -> None:
    generated, result = audited(1, "current")
    scope, sizes = result.scope, result.sizes
    assert scope["in_scope"] + scope["filtered_out"] + scope["nested_only"] + scope["unassigned"] == \
        sizes["entra_users"] + sizes["entra_deleted_users"]
    assert scope["live"] + scope["disabled"] == scope["in_scope"] and scope["pending"] <= scope["live"]
    assert 0 < scope["default_access"] < scope["in_scope"]  # a subset of in_scope since the second edition
    assert len(result.pending) == scope["pending"] == len(generated.traps["pending"])
    assert min(scope["nested_only"], scope["default_access"], scope["unassigned"]) > 0


# --- hypothesis: a perfect copy is clean -------------------------------------------------------------------

PHONES = [("(415) 555-0101", "+14155550101", "US"), ("+1 415 555 0102", "+14155550102", "US"),
          ("07700 900123", "+447700900123", "GB"), ("0151 23456789", "+4915123456789", "DE"),
          ("070-123 45 67", "+46701234567", "SE"), (None, None, "US")]
COUNTRIES = {"US": ["US", "USA", "United States"], "GB": ["GB", "United Kingdom"], "DE": ["DE", "Germany"],
             "SE": ["SE", "Sweden"]}
TITLES = [None, "", "Engineer", "  Staff   Engineer ", "VP Sales", "Zoë's Team Lead"]


@st.composite
def person(draw, index: int) -> tuple[dict, dict]:
    """An Entra user and the account RingCentral would hold for it, rewritten the ways RingCentral does."""
    typed, e164, region = draw(st.sampled_from(PHONES))
    title = draw(st.sampled_from(TITLES))
    user = entra_user(f"user{index}.{draw(st.sampled_from(['lee', 'núñez', 'o.brien']))}",
                      jobTitle=title, mobilePhone=typed, usageLocation=draw(st.sampled_from([region, None])),
                      country=draw(st.sampled_from(COUNTRIES[region])),
                      department=draw(st.sampled_from(["Sales", None, ""])))
    changes: dict = {"address.country": draw(st.sampled_from(COUNTRIES[region]))}  # RingCentral's own spelling
    if draw(st.booleans()):
        changes["userName"] = user["userPrincipalName"].upper()  # case is not drift on userName
    if typed and draw(st.booleans()):
        changes["mobile"] = e164  # RingCentral stores E.164
    if title is not None and draw(st.booleans()):
        changes["title"] = " ".join(title.split()) or None  # trimmed; "" stored as absent
    return user, rc_account(user, str(1000 + index), **changes)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(min_value=1, max_value=6))
def test_a_tenant_reconciled_against_a_perfect_copy_of_itself_has_no_findings(data, size: int) -> None:
    pairs = [data.draw(person(i)) for i in range(size)]
    tenant = small_tenant([u for u, _ in pairs], [a for _, a in pairs])
    result = audit(tenant)
    assert rows(result) == [], result.findings.to_dict("records")
    assert result.scope["live"] == size
