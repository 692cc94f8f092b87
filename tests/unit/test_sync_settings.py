"""The job's sync settings (DESIGN.md "Sync settings") as the audit applies them: the precedence parameter >
job > Entra's default, flag parameters, and SkipOutOfScopeDeletions keeping the finding and naming the
setting. The read over HTTPS is in tests/integration, the end-to-end secret check in tests/notebooks."""

from __future__ import annotations

import pytest

from rcaudit.audit.reconcile import AuditOptions, flag_parameter, resolve_sync_settings
from rcaudit.model.errors import ConfigError
from tests.support.snapshots import assign, audit, entra_user, rc_account, small_tenant

# --- precedence and rules (pure) ------------------------------------------------------------------------------

@pytest.mark.parametrize(("job", "options", "expected"), [
    (None, AuditOptions(), ("assigned", False, "default", "default")),
    ({"SyncAll": "true", "SkipOutOfScopeDeletions": "True"}, AuditOptions(), ("all", True, "job", "job")),
    ({"SyncAll": "false"}, AuditOptions(), ("assigned", False, "job", "default")),
    ({"SyncAll": "true", "SkipOutOfScopeDeletions": "True"},
     AuditOptions(scope_mode="assigned", skip_out_of_scope_deletions=False),
     ("assigned", False, "parameter", "parameter")),
    ({"SyncAll": "garbage"}, AuditOptions(skip_out_of_scope_deletions=True), ("assigned", True, "default",
                                                                             "parameter")),
])
def test_a_parameter_overrides_the_job_which_overrides_entras_default(job, options, expected) -> None:
    settings = resolve_sync_settings(job, options)
    sources = dict(settings.sources)
    assert (settings.scope_mode, settings.skip_out_of_scope_deletions, sources["scope_mode"],
            sources["skip_out_of_scope_deletions"]) == expected


def test_flag_parameters_are_true_false_or_empty() -> None:
    assert [flag_parameter(v) for v in ("", "true", "False", None, True)] == [None, True, False, None, True]
    with pytest.raises(ConfigError, match="skip_out_of_scope_deletions"):
        flag_parameter("maybe")


def test_skip_out_of_scope_deletions_keeps_the_finding_and_names_the_setting() -> None:
    leaver, gone = entra_user("left.scope"), entra_user("disabled.one", accountEnabled=False)
    tenant = small_tenant([leaver, gone], [rc_account(leaver, "1"), rc_account(gone, "2")],
                          assignments=[assign(gone["id"])])
    plain = audit(tenant)
    skipping = audit(tenant, skip_out_of_scope_deletions=True)
    assert list(plain.findings["kind"]) == list(skipping.findings["kind"]) == ["should_be_inactive"] * 2
    reasons = dict(zip(skipping.findings["scim_id"], skipping.findings["reason"], strict=True))
    assert "SkipOutOfScopeDeletions" in reasons["1"]  # left scope: Entra will not deactivate it
    assert "SkipOutOfScopeDeletions" not in reasons["2"]  # disabled: Entra deactivates it whatever the setting
    assert skipping.to_dict()["settings"] == {"scope_mode": "assigned", "skip_out_of_scope_deletions": True,
                                              "sources": {"scope_mode": "default",
                                                          "skip_out_of_scope_deletions": "parameter"}}
