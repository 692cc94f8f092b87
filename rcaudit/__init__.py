"""rcaudit: audit and reconcile Entra ID -> RingCentral SCIM provisioning drift."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rcaudit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
