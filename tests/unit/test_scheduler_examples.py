"""The scheduler examples in docs/schedulers/ are at least syntactically right, and say only what rcaudit accepts.

How each is checked (no scheduler is installed here): the crontab line's five fields against cron's ranges;
the systemd units parsed as INI with configparser (and `OnCalendar` by `systemd-analyze calendar` when that tool
exists); the GitHub Actions and Azure DevOps files parsed with PyYAML, their cron schedules checked like the
crontab, and every secret taken from the platform's secret store; the Airflow DAG parsed with `ast` and imported
with stub `airflow` modules (Airflow itself is far too heavy to install for this), so its task chain, notebook
path and papermill parameters are real values checked against the audit notebook's own parameters cell. Every
`rcaudit …` command line in any example is parsed by rcaudit's own argument parser.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from rcaudit.cli import build_parser
from rcaudit.model.runs import RUN_ID
from rcaudit.runner import CREDENTIAL_NAME, notebook_parameters

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "schedulers"
README = Path(__file__).resolve().parents[2] / "README.md"
SECRET_SETTINGS = ("RCAUDIT_CLIENT_SECRET", "RCAUDIT_SCIM_TOKEN", "RCAUDIT_PII_KEY", "RCAUDIT_NOTIFY_URLS")
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def cron_field_ok(text: str, low: int, high: int) -> bool:
    """One crontab field: `*`, numbers, ranges, lists and steps within cron's range for that field."""
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return False
        if base == "*":
            continue
        bounds = base.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            return False
        numbers = [int(b) for b in bounds]
        if not all(low <= n <= high for n in numbers) or numbers != sorted(numbers):
            return False
    return True


def assert_cron(expression: str) -> None:
    fields = expression.split()
    assert len(fields) == 5, expression
    assert all(cron_field_ok(f, lo, hi) for f, (lo, hi) in zip(fields, CRON_RANGES, strict=True)), expression


def test_the_cron_checker_can_fail() -> None:
    for bad in ("15 6 * *", "61 6 * * *", "15 24 * * *", "15 6 * * 1-9", "15 6 * * Mon-Fri/x"):
        with pytest.raises(AssertionError):
            assert_cron(bad)


def rcaudit_commands(text: str) -> list[list[str]]:
    """Every `rcaudit …` invocation in a text, as argv after `rcaudit` (up to a shell operator or line end)."""
    found = []
    for match in re.finditer(r"(?:^|[\s/=\"'])rcaudit ((?:audit|summary|runs|demo|check|fix|rollback)\b[^\n]*)",
                             text):
        words = []
        for word in shlex.split(match.group(1).replace('"', " ").replace("'", " ")):
            if word in (">>", ">", "&&", "||", "|", ";", "2>&1"):
                break
            words.append(word)
        found.append(words)
    return found


def assert_commands_parse(text: str, at_least: int = 1) -> list[Any]:
    commands = rcaudit_commands(text)
    assert len(commands) >= at_least, text[:200]
    parser = build_parser()
    parsed = []
    for argv in commands:
        try:
            parsed.append(parser.parse_args(argv))
        except SystemExit:
            pytest.fail(f"rcaudit {' '.join(argv)}: rejected by rcaudit's own parser")
    return parsed


def test_the_crontab_line_is_valid_and_reads_secrets_from_a_file() -> None:
    lines = [line for line in (EXAMPLES / "rcaudit.cron").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert_cron(" ".join(fields[:5]))
    command = fields[5]
    assert ". /etc/rcaudit/env" in command and not [s for s in SECRET_SETTINGS if f"{s}=" in command]
    [audit] = assert_commands_parse(command)
    assert audit.command == "audit" and audit.keep == 30 and audit.notify_on == "new"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((EXAMPLES / name).read_text())
    return parser


def test_the_systemd_units_parse_and_keep_secrets_in_an_environment_file() -> None:
    service, timer = _unit("rcaudit-audit.service"), _unit("rcaudit-audit.timer")
    assert service.sections() == ["Unit", "Service"] and timer.sections() == ["Unit", "Timer", "Install"]
    assert service["Service"]["Type"] == "oneshot" and service["Service"]["EnvironmentFile"].startswith("/")
    assert not [s for s in SECRET_SETTINGS if s in service["Service"].get("Environment", "")]
    [audit] = assert_commands_parse(service["Service"]["ExecStart"])
    assert audit.command == "audit"
    assert timer["Timer"]["Unit"] == "rcaudit-audit.service" and timer["Install"]["WantedBy"] == "timers.target"
    calendar = timer["Timer"]["OnCalendar"]
    tool = shutil.which("systemd-analyze")
    if tool:  # systemd's own parser of calendar expressions
        checked = subprocess.run([tool, "calendar", calendar], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
    else:
        assert re.fullmatch(r"[A-Za-z.,]* ?\*-\*-\* \d\d:\d\d:\d\d( UTC)?", calendar)


def _secret_refs(env: dict[str, str], pattern: str) -> None:
    for name in SECRET_SETTINGS:
        if name in env:
            assert re.fullmatch(pattern, str(env[name]).strip()), f"{name} must come from the secret store"


def test_the_github_actions_workflow_parses_and_takes_secrets_from_the_store() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    [schedule] = triggers["schedule"]
    assert_cron(schedule["cron"])
    [job] = workflow["jobs"].values()
    _secret_refs(job["env"], r"\$\{\{ secrets\.[A-Z_]+ \}\}")
    assert set(SECRET_SETTINGS) <= set(job["env"])
    runs = "\n".join(step["run"] for step in job["steps"] if "run" in step)
    parsed = assert_commands_parse(runs, at_least=2)
    assert [p.command for p in parsed] == ["audit", "summary"]


def test_the_azure_devops_pipeline_parses_and_maps_secret_variables() -> None:
    pipeline = yaml.safe_load((EXAMPLES / "azure-pipelines.yml").read_text())
    [schedule] = pipeline["schedules"]
    assert_cron(schedule["cron"])
    assert {"group": "rcaudit-secrets"} in pipeline["variables"]
    [audit_step] = [s for s in pipeline["steps"] if "rcaudit audit" in s.get("script", "")]
    _secret_refs(audit_step["env"], r"\$\([A-Z_]+\)")
    assert set(SECRET_SETTINGS) <= set(audit_step["env"])
    scripts = "\n".join(s["script"] for s in pipeline["steps"] if "script" in s)
    assert [p.command for p in assert_commands_parse(scripts, at_least=2)] == ["audit", "summary"]


class _Task:
    def __init__(self, task_id: str, **kwargs: Any) -> None:
        self.task_id, self.kwargs, self.downstream = task_id, kwargs, []  # type: list[_Task]
        _StubDAG.current.tasks.append(self)

    def __rshift__(self, other: _Task) -> _Task:
        self.downstream.append(other)
        return other


class _StubDAG:
    current: _StubDAG

    def __init__(self, dag_id: str, **kwargs: Any) -> None:
        self.dag_id, self.kwargs, self.tasks = dag_id, kwargs, []  # type: list[_Task]

    def __enter__(self) -> _StubDAG:
        _StubDAG.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _import_dag(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Import the DAG file with stub airflow modules: DAG, BashOperator and PapermillOperator record arguments."""
    stubs = {"airflow": {"DAG": _StubDAG}, "airflow.operators": {}, "airflow.operators.bash": {"BashOperator": _Task},
             "airflow.providers": {}, "airflow.providers.papermill": {}, "airflow.providers.papermill.operators": {},
             "airflow.providers.papermill.operators.papermill": {"PapermillOperator": type("Papermill", (_Task,), {})}}
    for name, attributes in stubs.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("rcaudit_dag_example", EXAMPLES / "rcaudit_dag.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_airflow_dag_parses_and_runs_the_audit_notebook_with_valid_parameters(
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = (EXAMPLES / "rcaudit_dag.py").read_text()
    ast.parse(source)
    dag = _import_dag(monkeypatch).dag
    assert dag.dag_id == "rcaudit_daily_audit" and dag.kwargs["catchup"] is False
    assert_cron(dag.kwargs["schedule"])
    order = [t.task_id for t in dag.tasks]
    assert order == ["run_folder", "audit", "ticket_text", "gate", "retention"]
    assert all(t.downstream == [dag.tasks[i + 1]] for i, t in enumerate(dag.tasks[:-1]))
    papermill = dag.tasks[1]
    notebook = Path(papermill.kwargs["input_nb"])
    assert notebook.is_file() and notebook.name == "audit.ipynb"
    parameters = papermill.kwargs["parameters"]
    valid = notebook_parameters(notebook)
    assert set(parameters) <= set(valid) and parameters["source"] == "environment"
    assert not [name for name in parameters if CREDENTIAL_NAME.search(name)]
    assert all(type(value) is type(valid[name]) for name, value in parameters.items())
    assert RUN_ID.match(Path(parameters["run_folder"].replace("{{ ts_nodash }}", "20261201T061500")).name)
    assert papermill.kwargs["output_nb"] == parameters["run_folder"] + "/audit.ipynb"
    rendered = "20261201T061500"  # what Airflow renders {{ ts_nodash }} as
    bash = "\n".join(t.kwargs.get("bash_command", "") for t in dag.tasks).replace("{{ ts_nodash }}", rendered)
    assert [p.command for p in assert_commands_parse(bash, at_least=2)] == ["summary", "runs"]


def test_the_readme_points_at_every_example() -> None:
    readme = README.read_text()
    for example in sorted(EXAMPLES.iterdir()):
        assert f"docs/schedulers/{example.name}" in readme, example.name
