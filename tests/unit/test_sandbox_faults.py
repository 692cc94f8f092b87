"""A fault rule with an unknown action is refused by name (the fault knobs over HTTPS are in
tests/integration/test_sandbox_faults.py)."""

from __future__ import annotations

import pytest


def test_unknown_action_is_refused_by_name() -> None:
    from rcaudit.sandbox.servers.faults import FaultSet

    with pytest.raises(ValueError, match="unknown fault action 'explode'"):
        FaultSet().add("explode")  # type: ignore[arg-type]
