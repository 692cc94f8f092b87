"""A threaded WSGI server on 127.0.0.1 over HTTPS, for independent SCIM implementations (scim2-server).

rcaudit only talks HTTPS, so even the in-process reference servers present a certificate: one signed by
a CA generated for the test (the sandbox's own generator), which the test's Settings trust.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from rcaudit.sandbox.servers.tls import create_tls


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def https_wsgi(app: Any) -> Iterator[tuple[str, Path]]:
    """Serve `app`; yields (`https://127.0.0.1:PORT`, the CA file that verifies it)."""
    with tempfile.TemporaryDirectory(prefix="rcaudit-wsgi-tls-") as workdir:
        tls = create_tls(Path(workdir))
        server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet)
        server.socket = tls.server_context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{server.server_port}", tls.ca_file
        finally:
            server.shutdown()
            server.server_close()
