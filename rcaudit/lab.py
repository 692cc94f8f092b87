"""`make lab`: JupyterLab on `notebooks/` for an analyst.

With real settings in the environment the notebooks use them; without, a sandbox is started here and
its exports are set for the kernels, so `source="auto"` finds it (the notebooks say so in a banner).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from rcaudit.connect.config import PROJECT_ROOT, Settings


def main(port: int = 8888) -> int:
    env = dict(os.environ)
    sandbox = None
    if not Settings.from_env().configured:
        from rcaudit.sandbox import Sandbox, generate

        sandbox = Sandbox(generate(users=2000, seed=1).tenant).start()
        env.update(sandbox.env())
        env["RCAUDIT_SANDBOX"] = "1"  # lets the notebooks label the source `sandbox`, not `environment`
        print(f"no RCAUDIT_* settings in the environment: started the sandbox ({sandbox.authority}, "
              f"{sandbox.rc_url}) and pointed the notebooks at it", flush=True)
    token = secrets.token_urlsafe(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
               f"--ServerApp.root_dir={PROJECT_ROOT / 'notebooks'}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    print(f"open http://127.0.0.1:{port}/lab?token={token}  (Ctrl-C stops JupyterLab)", flush=True)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8888))
