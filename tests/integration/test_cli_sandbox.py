"""`rcaudit sandbox` as a subprocess: its printed exports point a client at it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

import requests


def _read_exports(process: subprocess.Popen[str], deadline: float) -> dict[str, str]:
    exports: dict[str, str] = {}
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("export "):
            name, _, value = line[len("export "):].strip().partition("=")
            exports[name] = shlex.split(value)[0]
        elif line.startswith("# rcaudit sandbox up"):
            return exports
    raise AssertionError(f"no ready line from rcaudit sandbox; got {exports}")


def test_sandbox_command_serves_what_its_exports_describe(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCAUDIT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "rcaudit", "sandbox", "--users", "150", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        exports = _read_exports(process, time.monotonic() + 30)
        assert exports["RCAUDIT_AUTHORITY"].startswith("https://127.0.0.1:")
        session = requests.Session()
        session.trust_env = False
        session.verify = exports["RCAUDIT_CA_BUNDLE"]
        token = session.post(
            f"{exports['RCAUDIT_AUTHORITY']}/{exports['RCAUDIT_TENANT_ID']}/oauth2/v2.0/token",
            data={"client_id": exports["RCAUDIT_CLIENT_ID"], "client_secret": exports["RCAUDIT_CLIENT_SECRET"],
                  "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
        ).json()["access_token"]
        sp = session.get(f"{exports['RCAUDIT_GRAPH_URL']}/servicePrincipals(appId='{exports['RCAUDIT_APP_ID']}')",
                         headers={"Authorization": f"Bearer {token}"})
        assert sp.status_code == 200 and sp.json()["displayName"] == "RingCentral"
        users = session.get(f"{exports['RCAUDIT_SCIM_URL']}/Users", params={"count": 1},
                            headers={"Authorization": f"Bearer {exports['RCAUDIT_SCIM_TOKEN']}"})
        assert users.status_code == 200 and users.json()["totalResults"] > 100
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
