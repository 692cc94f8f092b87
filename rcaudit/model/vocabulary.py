"""Names both sides agree on because the services define them, not because rcaudit decided them.

The audit engine and the sandbox's emulators and tenant generator each state their own rules; what they
share is only the services' vocabulary (schema URNs, the Default Access role id, the gallery app's
`active` expression). Keeping it here lets the generator's truth stay independent of the engine it checks.
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
