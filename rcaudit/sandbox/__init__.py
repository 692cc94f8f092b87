"""Local HTTPS emulators of Entra login, Microsoft Graph and RingCentral SCIM, serving a tenant file."""

from .builtin import builtin_tenant
from .sandbox import Sandbox
from .tenant import load_tenant, save_tenant, validate_tenant

__all__ = ["Sandbox", "builtin_tenant", "load_tenant", "save_tenant", "validate_tenant"]
