"""Local HTTPS emulators of Entra login, Microsoft Graph and RingCentral SCIM, serving a tenant file."""

from rcaudit.sandbox.sandbox import Sandbox
from rcaudit.sandbox.tenant.builtin import builtin_tenant
from rcaudit.sandbox.tenant.file import load_tenant, save_tenant, validate_tenant
from rcaudit.sandbox.tenant.generate import GeneratedTenant, TruthRow, generate, read_truth_csv, write_truth_csv

__all__ = [
    "GeneratedTenant", "Sandbox", "TruthRow", "builtin_tenant", "generate", "load_tenant", "read_truth_csv",
    "save_tenant", "validate_tenant", "write_truth_csv",
]
