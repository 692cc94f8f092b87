"""Start and stop the sandbox: the two HTTPS emulators over one shared in-memory state."""

from __future__ import annotations

import errno
import shlex
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from rcaudit.sandbox.servers.faults import FaultSet
from rcaudit.sandbox.servers.http_server import RunningServer
from rcaudit.sandbox.servers.services import EntraService, RingCentralService
from rcaudit.sandbox.servers.state import SandboxState
from rcaudit.sandbox.servers.tls import create_tls


class Sandbox:
    """Entra login + Graph at `https://127.0.0.1:P`, RingCentral at `https://127.0.0.1:P+1`.

    Use as a context manager or call `start()`/`stop()`. `state` is the Python API tests use to read
    and change what the services hold; `faults` is the fault knob; `env()` gives the `RCAUDIT_*`
    settings that point rcaudit at it.
    """

    def __init__(self, tenant: dict[str, Any], *, port: int = 0, workdir: str | Path | None = None) -> None:
        self.state = SandboxState(tenant)
        self._requested_port = port
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="rcaudit-sandbox-"))
        self._servers: list[RunningServer] = []

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> Sandbox:
        tls = create_tls(self.workdir)
        self.ca_file = tls.ca_file
        last_error: OSError | None = None
        for _ in range(50):
            graph = None
            try:
                graph = RunningServer(EntraService(self.state), tls.server_context, self._requested_port)
                rc = RunningServer(RingCentralService(self.state), tls.server_context, graph.port + 1)
            except OSError as exc:  # P+1 taken: with a fixed port that is final, else try another P
                if graph is not None:
                    graph.stop()
                last_error = exc
                if self._requested_port or exc.errno != errno.EADDRINUSE:
                    raise
                continue
            self._servers = [graph.start(), rc.start()]
            self._write_client_files()
            return self
        raise OSError(f"no free pair of ports found: {last_error}")

    def stop(self) -> None:
        # Stop both at once: each shutdown waits for its serve loop's next poll.
        stoppers = [threading.Thread(target=server.stop) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        self._servers = []
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start() if not self._servers else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses ------------------------------------------------------------------------------
    @property
    def graph_server(self) -> RunningServer:
        return self._servers[0]

    @property
    def rc_server(self) -> RunningServer:
        return self._servers[1]

    @property
    def port(self) -> int:
        return self.graph_server.port

    @property
    def authority(self) -> str:
        """The login host; MSAL's authority is `f"{authority}/{tenant_id}"`."""
        return self.graph_server.url

    @property
    def tenant_id(self) -> str:
        return str(self.state.graph["tenantId"])

    @property
    def graph_url(self) -> str:
        return f"{self.graph_server.url}/v1.0"

    @property
    def rc_url(self) -> str:
        """RingCentral's platform server (JWT grant at `/restapi/oauth/token`)."""
        return self.rc_server.url

    @property
    def scim_url(self) -> str:
        return f"{self.rc_server.url}/scim/v2"

    @property
    def client(self) -> dict[str, Any]:
        """The first app registration rcaudit signs in as."""
        return dict(self.state.settings["clients"][0])

    @property
    def rc_app(self) -> dict[str, Any]:
        return dict(self.state.settings["rcApps"][0])

    @property
    def faults(self) -> FaultSet:
        return self.state.faults

    def _write_client_files(self) -> None:
        client = self.client
        if client.get("certificatePem") and client.get("privateKeyPem"):
            (self.workdir / "client-cert.pem").write_text(client["certificatePem"])
            key = self.workdir / "client-key.pem"
            key.write_text(client["privateKeyPem"])
            key.chmod(0o600)

    def env(self, graph_auth: str = "secret", rc_auth: str = "token") -> dict[str, str]:
        """The `RCAUDIT_*` settings pointing at this sandbox.

        `graph_auth`: `secret` or `certificate`; `rc_auth`: `token` (static bearer) or `jwt` (JWT grant).
        """
        client = self.client
        env = {
            "RCAUDIT_TENANT_ID": self.tenant_id,
            "RCAUDIT_CLIENT_ID": client["clientId"],
            "RCAUDIT_APP_ID": self.state.graph["servicePrincipal"]["appId"],
            "RCAUDIT_AUTHORITY": self.authority,
            "RCAUDIT_GRAPH_URL": self.graph_url,
            "RCAUDIT_SCIM_URL": self.scim_url,
            "RCAUDIT_CA_BUNDLE": str(self.ca_file),
        }
        if graph_auth == "certificate":
            env["RCAUDIT_CLIENT_CERT"] = str(self.workdir / "client-cert.pem")
            env["RCAUDIT_CLIENT_KEY"] = str(self.workdir / "client-key.pem")
        else:
            env["RCAUDIT_CLIENT_SECRET"] = client["secret"]
        if rc_auth == "jwt":
            app = self.rc_app
            env.update(
                RCAUDIT_RC_SERVER=self.rc_url,
                RCAUDIT_RC_CLIENT_ID=app["clientId"],
                RCAUDIT_RC_CLIENT_SECRET=app["clientSecret"],
                RCAUDIT_RC_JWT=app["jwt"],
            )
        else:
            env["RCAUDIT_SCIM_TOKEN"] = self.state.settings["scimToken"]
        return env

    def exports(self, **kwargs: str) -> str:
        """`export RCAUDIT_…=…` lines for a shell."""
        return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in self.env(**kwargs).items())

    def dump(self) -> dict[str, Any]:
        return self.state.dump()
