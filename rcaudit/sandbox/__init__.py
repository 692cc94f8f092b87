"""Local HTTPS emulators of Entra login, Microsoft Graph and RingCentral SCIM, serving a tenant file."""

from .builtin import builtin_tenant
from .generate import GeneratedTenant, TruthRow, generate, read_truth_csv, write_truth_csv
from .sandbox import Sandbox
from .tenant import load_tenant, save_tenant, validate_tenant

__all__ = [
    "GeneratedTenant", "Sandbox", "TruthRow", "builtin_tenant", "generate", "load_tenant", "read_truth_csv",
    "save_tenant", "validate_tenant", "write_truth_csv",
]
