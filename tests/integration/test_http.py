"""The session factory against a real HTTPS server: a pre-created CA bundle holding a foreign CA is never
trusted. Retries, pacing, counts and redaction on a fake clock are unit tests (tests/unit/test_http.py)."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest
import requests

from rcaudit.connect.http import RetryPolicy, make_session, trust_bundle
from rcaudit.sandbox import Sandbox
from tests.support.tls_wsgi import https_wsgi


# --- the merged CA bundle (issue 10, point 5) -------------------------------------------------------
def _old_predictable_path(extra_ca: Path) -> Path:
    """Where rcaudit used to put (and reuse) the merged bundle: named only by the public CA's hash."""
    digest = hashlib.sha256(extra_ca.read_bytes()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"rcaudit-ca-{digest}.pem"


def test_a_pre_created_bundle_with_a_foreign_ca_is_never_trusted(sandbox: Sandbox) -> None:
    """Another local user pre-creates the old predictable file with their CA, which vouches for their server:
    rcaudit still trusts the sandbox (its configured CA) and not the impostor."""
    poisoned = _old_predictable_path(sandbox.ca_file)
    impostor = lambda environ, start: start("200 OK", []) or [b"{}"]  # noqa: E731
    with https_wsgi(impostor) as (impostor_url, foreign_ca):
        poisoned.write_bytes(foreign_ca.read_bytes())
        try:
            bundle = Path(trust_bundle(sandbox.ca_file))
            assert bundle != poisoned and bundle.read_bytes().endswith(sandbox.ca_file.read_bytes())
            assert foreign_ca.read_bytes() not in bundle.read_bytes()
            assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
            assert stat.S_IMODE(bundle.parent.stat().st_mode) == 0o700 and bundle.parent.stat().st_uid == os.getuid()
            session = make_session(sandbox.ca_file, retry=RetryPolicy(max_total=0.2, backoff=0.01))
            assert session.get(f"{sandbox.scim_url}/ServiceProviderConfig").status_code == 200, "the sandbox verifies"
            with pytest.raises(requests.exceptions.SSLError):
                session.get(f"{impostor_url}/")
        finally:
            poisoned.unlink(missing_ok=True)
