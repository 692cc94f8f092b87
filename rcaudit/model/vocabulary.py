"""Names both sides agree on because the services define them, not because rcaudit decided them.

The audit engine and the sandbox's emulators and tenant generator each state their own rules; what they
share is only the services' vocabulary (schema URNs, the Default Access role id, the gallery app's
`active` expression). Keeping it here lets the generator's truth stay independent of the engine it checks.
One exception, for the same reason: the names of the probable causes (`Cause`), which rcaudit decides but the
generator's truth must spell as the engine does.
"""

from __future__ import annotations

# RFC 7643 §8.7.1 / §4.3: the core and enterprise user schema URNs.
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# RFC 7644 §3.5.2: the PatchOp message schema.
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Entra's Default Access app role (`msiam_access`): the all-zero role id.
DEFAULT_ACCESS_ROLE = "00000000-0000-0000-0000-000000000000"
# The expression the RingCentral gallery app maps to `active`.
ACTIVE_EXPRESSION = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'
# The two synchronization secrets that are job settings (the rest are the connector's credentials): Graph's
# synchronizationSecret names, the only ones rcaudit ever keeps from that answer.
SYNC_SETTING_KEYS = ("SyncAll", "SkipOutOfScopeDeletions")


class Cause:
    """The probable causes: a closed vocabulary (README "Causes", one predicate over the snapshot each).

    Shared by the engine that decides them (`rcaudit.audit.causes`, precedence in `rcaudit.model.findings`) and
    by the sandbox generator whose truth records the cause it planted, so both spell them alike without the
    generator importing the engine.
    """

    JOB_NOT_RUNNING = "job_not_running"
    EXPORT_FAILED = "export_failed"
    MANAGER_SCOPED_LATER = "manager_scoped_later"
    CLEARED_IN_ENTRA = "cleared_in_entra"
    CHANGED_IN_RINGCENTRAL = "changed_in_ringcentral"
    CAME_BACK_INTO_SCOPE = "came_back_into_scope"
    SKIPPED_BY_ENTRA = "skipped_by_entra"
    ASSIGNED_AFTER_LAST_CYCLE = "assigned_after_last_cycle"
    SKIP_OUT_OF_SCOPE_DELETIONS = "skip_out_of_scope_deletions"
    DELETION_THRESHOLD = "deletion_threshold"
    SOFT_DELETED = "soft_deleted"
    DISABLED = "disabled"
    FILTERED_OUT = "filtered_out"
    NESTED_ONLY = "nested_only"
    UNASSIGNED = "unassigned"
    CREATED_IN_RINGCENTRAL = "created_in_ringcentral"
    DELETED_USER_LEFTOVER = "deleted_user_leftover"
    RENAME_LEFTOVER = "rename_leftover"
    DEACTIVATED_IN_RINGCENTRAL = "deactivated_in_ringcentral"
    NOT_ACTIVATED_YET = "not_activated_yet"
    UNKNOWN = "unknown"
