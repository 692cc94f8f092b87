"""The tenant generator's output served by the sandbox: it loads and dumps back unchanged. The generator's
realism, determinism and truth are unit tests (tests/unit/test_generate.py)."""

from __future__ import annotations

import datetime as dt

from rcaudit.sandbox import Sandbox
from rcaudit.sandbox.tenant.generate import generate

NOW = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)


def test_generated_tenant_loads_into_the_sandbox_and_dumps_back_unchanged() -> None:
    generated = generate(400, seed=4, now=NOW)
    with Sandbox(generated.tenant) as sandbox:
        dumped = sandbox.dump()
    assert dumped["graph"] == generated.tenant["graph"]
    assert dumped["scim"] == generated.tenant["scim"]
    assert dumped["sandbox"]["schemaProfile"] == "current"
