"""Every fault knob, through real HTTPS: status on the Nth request, drop, delay, malformed JSON, expired tokens."""

from __future__ import annotations

import pytest


def test_unknown_action_is_refused_by_name() -> None:
    from rcaudit.sandbox.servers.faults import FaultSet

    with pytest.raises(ValueError, match="unknown fault action 'explode'"):
        FaultSet().add("explode")  # type: ignore[arg-type]
