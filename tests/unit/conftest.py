"""The unit folder's promise, kept: no test here opens a network socket (the sandbox and every server live in
tests/integration, notebooks and their kernels in tests/notebooks)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

NETWORK = (socket.AF_INET, socket.AF_INET6)


def _refuse(name: str) -> Any:
    real = getattr(socket.socket, name)

    def guarded(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if self.family in NETWORK:
            raise AssertionError(f"a unit test opened a network socket ({name} {args[:1]}): "
                                 "it belongs in tests/integration or tests/notebooks")
        return real(self, *args, **kwargs)

    return guarded


@pytest.fixture(autouse=True)
def no_network_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """connect/bind on an IPv4 or IPv6 socket fails the test, naming where it belongs."""
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _refuse(name))
    yield
