"""`make lab`: JupyterLab at the project root (the notebooks and the run folders in `outputs/` side by side).

With real settings in the environment the notebooks use them; without, a sandbox is started here and
its exports are set for the kernels, so `source="auto"` finds it (the notebooks say so in a banner).

Also the kernel side of a Lab run: `SessionRecorder` keeps what each cell of the audit notebook displayed, so
the notebook's last step can write the run folder's `audit.ipynb` and `report.html` as `rcaudit audit` does.
The kernel never sees the outputs Lab shows (they live in the browser, saved only with the notebook, and
saving them would put personal data into the git-tracked notebook), so they are recorded where they are
made: IPython's display publisher, its display hook, stdout/stderr and the post-run-cell event.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

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
               f"--ServerApp.root_dir={PROJECT_ROOT}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    print(f"open http://127.0.0.1:{port}/lab/tree/notebooks/audit.ipynb?token={token}  (the project root: "
          "notebooks/ and the run folders in outputs/; Ctrl-C stops JupyterLab)", flush=True)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class SessionRecorder:
    """What this kernel's cells displayed since `start()`: per execution, its source and nbformat outputs.

    Widgets (the fetch's progress bars) are left out: their state lives in the browser, and a report never
    loads widget code."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.executions: list[dict[str, Any]] = []
        self.current: dict[str, Any] | None = None

    def start(self) -> SessionRecorder:
        """Record from now on: the running cell (its source is already in `In`) and every later one. Every output
        the kernel sends goes through its session's `send` (streams, displays, results, errors): one hook."""
        shell = self.shell
        history = shell.user_ns.get("In") or [""]
        self._begin(str(history[-1]))
        shell.events.register("pre_run_cell", lambda info: self._begin(str(getattr(info, "raw_cell", ""))))
        session = shell.kernel.session
        send = session.send

        def recorded_send(stream: Any, msg_or_type: Any, content: Any = None, *args: Any, **kwargs: Any) -> Any:
            with contextlib.suppress(Exception):  # recording must never break the kernel's output
                self._message(msg_or_type, content)
            return send(stream, msg_or_type, content, *args, **kwargs)

        session.send = recorded_send
        return self

    def _begin(self, source: str) -> None:
        self.current = {"source": source, "outputs": []}
        self.executions.append(self.current)

    def _message(self, msg_or_type: Any, content: Any) -> None:
        """One IOPub message as an nbformat output (widgets and display updates left out)."""
        kind = msg_or_type if isinstance(msg_or_type, str) else (msg_or_type.get("header") or {}).get("msg_type")
        if content is None and isinstance(msg_or_type, dict):
            content = msg_or_type.get("content")
        content = content or {}
        if kind == "stream":
            self._stream(str(content.get("name", "stdout")), str(content.get("text", "")))
        elif kind in ("display_data", "execute_result") and WIDGET_VIEW not in (content.get("data") or {}):
            output = {"output_type": kind, "data": dict(content.get("data") or {}),
                      "metadata": dict(content.get("metadata") or {})}
            if kind == "execute_result":
                output["execution_count"] = None
            self._add(output)
        elif kind == "error":
            self._add({"output_type": "error", "ename": str(content.get("ename", "")),
                       "evalue": str(content.get("evalue", "")), "traceback": list(content.get("traceback") or [])})

    def _add(self, output: dict[str, Any]) -> None:
        if self.current is not None:
            self.current["outputs"].append(output)

    def _stream(self, name: str, text: str) -> None:
        if self.current is None or not text:
            return
        outputs = self.current["outputs"]
        if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == name:
            outputs[-1]["text"] += text
        else:
            outputs.append({"output_type": "stream", "name": name, "text": text})

    def notebook(self, saved: Path) -> Any:
        """The saved notebook's cells with the outputs this session's runs of the same code gave (the latest run
        of each); code run here that the saved notebook does not hold comes last, so nothing shown is lost."""
        import nbformat

        nb = nbformat.read(str(saved), as_version=4)
        latest = {e["source"].strip(): e for e in self.executions}
        used: set[str] = set()
        for cell in nb.cells:
            if cell.cell_type == "code":
                found = latest.get(cell.source.strip())
                cell.outputs = [nbformat.from_dict(o) for o in found["outputs"]] if found else []
                used.add(cell.source.strip())
        for source, execution in latest.items():
            if source and source not in used:
                cell = nbformat.v4.new_code_cell(source)
                cell.outputs = [nbformat.from_dict(o) for o in execution["outputs"]]
                nb.cells.append(cell)
        return nb


_recorder: SessionRecorder | None = None


def record_session() -> SessionRecorder | None:
    """Start recording this kernel's outputs (once) when a notebook is run by hand (JupyterLab, nbclient), not by
    `rcaudit audit` (it exports papermill's executed notebook itself; it sets RCAUDIT_PROGRESS=log)."""
    global _recorder
    if _recorder is not None or os.environ.get("RCAUDIT_PROGRESS") == "log":
        return _recorder
    from rcaudit.connect.auth import _in_kernel

    if not _in_kernel():
        return None
    from IPython import get_ipython

    _recorder = SessionRecorder(get_ipython()).start()
    return _recorder


def write_session_report(folder: Path, saved: Path) -> Path | None:
    """The run folder's `audit.ipynb` and `report.html` from what this session displayed (None when not
    recording: under `rcaudit audit` the runner writes both from papermill's notebook)."""
    if _recorder is None:
        return None
    import nbformat

    from rcaudit.report.export import export_html, strip_saved_notebook

    for stream in (sys.stdout, sys.stderr):  # the kernel sends stream text on a timer: send what is pending
        stream.flush()
    notebook = folder / "audit.ipynb"
    nbformat.write(_recorder.notebook(saved), str(notebook))
    strip_saved_notebook(notebook)
    return export_html(notebook, folder / "report.html", title="rcaudit report")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8888))
