"""The one HTTP session factory every client uses.

`trust_env=False` is not optional: machines (this one included) set REQUESTS_CA_BUNDLE, which would
silently override `verify`. TLS verification always stays on; an extra CA (the sandbox's) is added to
the public roots, never substituted for verification.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import certifi
import requests
from requests.adapters import HTTPAdapter

from . import __version__

DEFAULT_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
USER_AGENT = f"rcaudit/{__version__}"


def trust_bundle(extra_ca: str | Path | None) -> str:
    """A CA bundle path: the public roots plus `extra_ca` when given (written once, keyed by content)."""
    roots = Path(certifi.where())
    if not extra_ca:
        return str(roots)
    extra = Path(extra_ca).read_bytes()
    digest = hashlib.sha256(extra).hexdigest()[:16]
    merged = Path(tempfile.gettempdir()) / f"rcaudit-ca-{digest}.pem"
    if not merged.exists():
        partial = merged.with_suffix(".tmp")
        partial.write_bytes(roots.read_bytes() + b"\n" + extra)
        partial.replace(merged)
    return str(merged)


class _Session(requests.Session):
    """A session with a default timeout (requests has none)."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def make_session(ca_bundle: str | Path | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 pool_size: int = 8) -> requests.Session:
    session = _Session(timeout)
    session.trust_env = False
    session.verify = trust_bundle(ca_bundle)
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
