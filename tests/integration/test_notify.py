"""Notifications of `rcaudit audit`, end to end, against a local HTTPS receiver on 127.0.0.1.

Three audits share one module fixture (each runs the audit notebook): a first run against the sandbox tells
Teams, Slack and a generic JSON receiver; a re-audit of the same snapshot changes nothing and stays quiet under
the default `--notify-on new`; a re-audit of a copy with one more active account nobody owns (a new high finding)
posts again, masked, while a second receiver answers 500 every time. The receiver presents a certificate from a
CA made for the test (the sandbox's generator), trusted through RCAUDIT_CA_BUNDLE: TLS verification stays on.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gzip
import io
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rcaudit.cli import main
from rcaudit.model.runs import new_run_id
from rcaudit.sandbox import Sandbox, generate
from tests.support.tls_wsgi import https_wsgi

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # the first test sets up three audit-notebook runs

SECRETS = ("Teams-Path-Secret-9a1f", "Sig-Secret-5d2c", "Slack-Secret-77e0", "Json-Secret-3b4d", "Fail-Secret-c0de")
ORPHAN_NAME = "zed.newcomer@contoso.example"


@dataclass
class Receiver:
    """What the webhook receiver got: (path, JSON body) per request; /fail/… answers 500."""

    url: str = ""
    ca_file: Path = Path()
    got: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        with self.lock:
            self.got.append((environ["PATH_INFO"], json.loads(body or b"null")))
        status = "500 Internal Server Error" if environ["PATH_INFO"].startswith("/fail/") else \
            "202 Accepted" if environ["PATH_INFO"].startswith("/teams/") else "200 OK"
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok" if status.startswith("2") else b"boom"]

    def during(self, run: Run, prefix: str) -> list[Any]:
        """The bodies posted to paths under `prefix` while `run` ran."""
        return [body for path, body in self.got[run.mark:run.end] if path.startswith(prefix)]


@dataclass
class Run:
    code: int
    folder: Path
    out: str
    mark: int  # receiver requests before this run
    end: int  # and after it (posts are done when `rcaudit audit` returns)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    with https_wsgi(found.app) as (url, ca_file):
        found.url, found.ca_file = url, ca_file
        yield found


def _urls(receiver: Receiver, *kinds: str) -> str:
    teams, sig, slack, generic, fail = SECRETS
    entries = {"teams": f"teams:{receiver.url}/teams/{teams}/run?sig={sig}",
               "slack": f"slack:{receiver.url}/slack/T000/B000/{slack}",
               "json": f"json:{receiver.url}/json/{generic}",
               "fail": f"json:{receiver.url}/fail/{fail}"}
    return " ".join(entries[k] for k in kinds)


def _audit(receiver: Receiver, argv: list[str], folder: Path) -> Run:
    mark = len(receiver.got)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["audit", *argv, "--out", str(folder)])
    return Run(code, folder, printed.getvalue(), mark, len(receiver.got))


def _with_orphan(snapshot: Path, into: Path) -> Path:
    """A copy of a saved snapshot with one more active RingCentral account that no Entra user owns."""
    shutil.copytree(snapshot, into)
    part = into / "scim_users.json.gz"
    users = json.loads(gzip.decompress(part.read_bytes()))
    orphan = copy.deepcopy(next(u for u in users if u.get("active")))
    orphan.update(id="orphan-0001", userName=ORPHAN_NAME, externalId="zed.newcomer", active=True,
                  name={"givenName": "Zed", "familyName": "Newcomer"},
                  emails=[{"type": "work", "value": ORPHAN_NAME, "primary": True}])
    part.write_bytes(gzip.compress(json.dumps([*users, orphan]).encode()))
    return into


OTHER_TENANT_RUN = new_run_id(dt.datetime.now(dt.UTC) - dt.timedelta(days=60))


def _other_tenant_run(root: Path) -> Path:
    """An old finished run of another tenant: never "the previous run" of these, and pruned by --keep 3."""
    folder = root / OTHER_TENANT_RUN
    folder.mkdir()
    summary = {"run_id": folder.name, "started_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=60)).isoformat(),
               "source": "environment", "origin": {"tenant_id": "another-tenant", "scim_url": "https://x/scim/v2"},
               "findings": {"total": 0, "by_severity": {"high": 0, "medium": 0, "low": 0}, "waived": 0}}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "findings.csv").write_text(",".join(["kind", "severity", "entra_id", "scim_id", "user_name", "attribute",
                                                   "waived"]) + "\n")
    return folder


@pytest.fixture(scope="module")
def runs(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("outputs")
    bundle = tmp_path_factory.mktemp("ca") / "both.pem"
    done: dict[str, Run] = {}
    with pytest.MonkeyPatch.context() as mp, Sandbox(generate(users=150, seed=5).tenant) as sandbox:
        bundle.write_bytes(sandbox.ca_file.read_bytes() + receiver.ca_file.read_bytes())
        for name, value in sandbox.env().items():
            mp.setenv(name, value)
        mp.setenv("RCAUDIT_CA_BUNDLE", str(bundle))  # the sandbox's CA and the receiver's: both verified
        mp.setenv("RCAUDIT_OUTPUTS", str(root))
        mp.setenv("RCAUDIT_PII_KEY", "notify-test-key")
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        mp.setenv("RCAUDIT_NOTIFY_URLS", _urls(receiver, "teams", "slack", "json"))
        _other_tenant_run(root)
        done["first"] = _audit(receiver, [], root / new_run_id())
        first = done["first"].folder
        done["unchanged"] = _audit(receiver, ["--snapshot", str(first)], root / new_run_id())
        changed = _with_orphan(first / "snapshot", tmp_path_factory.mktemp("changed") / "snapshot")
        mp.setenv("RCAUDIT_NOTIFY_URLS", _urls(receiver, "json", "fail"))
        done["new_high"] = _audit(receiver, ["--snapshot", str(changed), "--mask-pii", "--keep", "3"],
                                  root / new_run_id())
    return done


def test_the_first_run_posts_to_teams_an_adaptive_card_of_the_documented_shape(runs: dict[str, Run],
                                                                              receiver: Receiver) -> None:
    first = runs["first"]
    assert first.code == 1
    [message] = receiver.during(first, "/teams/")
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert {element["type"] for element in card["body"]} <= {"TextBlock", "FactSet"}
    facts = {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}
    summary = json.loads((first.folder / "summary.json").read_text())
    high = summary["findings"]["by_severity"]["high"]
    assert high > 0 and f"high {high}" in facts["Findings"]
    assert facts["Verdict"].startswith("FAIL") and "Fixed" in facts and "New" in facts
    assert facts["Report"].endswith("report.html") and first.folder.name in facts["Report"]


def test_the_first_run_posts_block_kit_to_slack_and_the_summary_to_the_json_receiver(runs: dict[str, Run],
                                                                                    receiver: Receiver) -> None:
    first = runs["first"]
    [slack] = receiver.during(first, "/slack/")
    assert slack["text"].startswith("rcaudit")  # the notification's fallback text
    assert {block["type"] for block in slack["blocks"]} <= {"header", "section", "context"}
    header = slack["blocks"][0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text" and len(header["text"]["text"]) <= 150
    fields = [f["text"] for b in slack["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    assert len(fields) <= 10 and any(text.startswith("Verdict: FAIL") for text in fields)
    [generic] = receiver.during(first, "/json/")
    summary = json.loads((first.folder / "summary.json").read_text())
    assert generic["summary"] == summary
    assert generic["previous_run"] is None and generic["new"]["total"] == summary["findings"]["total"]
    assert generic["new"]["by_severity"] == summary["findings"]["by_severity"]
    assert "; notify: 3 sent" in first.out


def test_an_unchanged_second_run_stays_quiet(runs: dict[str, Run], receiver: Receiver) -> None:
    unchanged = runs["unchanged"]
    assert unchanged.code == 1
    assert unchanged.end == unchanged.mark  # nothing posted
    summary = json.loads((unchanged.folder / "summary.json").read_text())
    assert summary["changes"]["previous_run"] == runs["first"].folder.name and summary["changes"]["new"] == 0
    assert "notify: quiet" in unchanged.out
    assert "not sent (--notify-on new" in (unchanged.folder / "run.log").read_text()


def test_a_new_high_finding_posts_and_names_no_one_under_mask_pii(runs: dict[str, Run], receiver: Receiver) -> None:
    run = runs["new_high"]
    [generic] = receiver.during(run, "/json/")
    assert generic["new"]["by_severity"]["high"] == 1 and generic["new"]["at_or_above_fail_on"] == 1
    assert generic["previous_run"] == runs["unchanged"].folder.name
    assert [e["who"] for e in generic["examples"]] == ["orphan-0001"]  # an id, not a name
    text = json.dumps(generic).lower()
    first_names = (runs["first"].folder / "findings.csv").read_text().lower()
    names = {line.split(",")[4] for line in first_names.splitlines()[1:] if line.split(",")[4]}
    assert ORPHAN_NAME not in text and "newcomer" not in text
    assert names and not [n for n in names if n in text]


def test_a_receiver_answering_500_leaves_the_exit_code_and_the_failure_in_run_log(runs: dict[str, Run],
                                                                                 receiver: Receiver) -> None:
    run = runs["new_high"]
    assert run.code == runs["first"].code == 1  # drift decides the exit code, not the failed post
    assert len(receiver.during(run, "/fail/")) == 3  # bounded retries
    log = (run.folder / "run.log").read_text()
    assert "FAILED (HTTP 500, 3 attempts)" in log and "json #2" in log
    assert "notify: 1 sent, 1 FAILED (see" in run.out


def test_no_webhook_url_appears_in_any_run_folder_or_output(runs: dict[str, Run]) -> None:
    for run in runs.values():
        assert not [s for s in SECRETS if s in run.out]
        for path in run.folder.rglob("*"):
            if path.is_file():
                data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
                assert not [s for s in SECRETS if s.encode() in data], path


def test_every_run_writes_summary_md_and_rcaudit_summary_prints_it(runs: dict[str, Run],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = runs["new_high"]
    assert main(["summary", "--run", str(run.folder)]) == 0
    printed = capsys.readouterr().out
    assert printed == (run.folder / "summary.md").read_text()
    assert "**Verdict: FAIL**" in printed and "**1 new**" in printed and "orphan_in_target" in printed
    first_csv = (runs["first"].folder / "findings.csv").read_text().lower().splitlines()[1:]
    names = {line.split(",")[4] for line in first_csv if line.split(",")[4]}
    assert ORPHAN_NAME not in printed.lower() and not [n for n in names if n in printed.lower()]  # masked run
    unmasked = (runs["first"].folder / "summary.md").read_text()
    assert "everything above is new" in unmasked and len(unmasked.splitlines()) < 80  # short enough to paste


def test_runs_of_another_tenant_are_not_compared_and_audit_keep_prunes_them(runs: dict[str, Run]) -> None:
    first = json.loads((runs["first"].folder / "summary.json").read_text())
    assert first["changes"] is None  # the other tenant's older run is not "the previous run"
    run = runs["new_high"]
    root = run.folder.parent
    assert not (root / OTHER_TENANT_RUN).exists()
    assert {r.folder.name for r in runs.values()} <= {p.name for p in root.iterdir()}  # the 3 newest stay
    assert f"deleted {OTHER_TENANT_RUN}" in (run.folder / "run.log").read_text()
    assert "; pruned 1 old run(s)" in run.out


def test_http_logs_never_show_a_webhook_even_at_debug(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """The session logs each request's URL (redacted of credential-like query values only): while a webhook is
    posted those lines are scrubbed, since a webhook's path and query are its secret."""
    from rcaudit.connect.notify import parse_targets, post_all

    targets = parse_targets({"RCAUDIT_NOTIFY_URLS": _urls(receiver, "teams", "fail")})
    caplog.set_level("DEBUG", logger="rcaudit.http")
    outcomes = post_all(targets, {"teams": {"type": "message"}, "json": {"x": 1}}, str(receiver.ca_file),
                        backoff=0.01)
    assert [(o.sent, o.attempts) for o in outcomes] == [(True, 1), (False, 3)]
    assert "POST" in caplog.text and "[webhook]" in caplog.text  # the lines are there, scrubbed
    assert not [s for s in SECRETS if s in caplog.text]
    assert not [s for s in SECRETS if s in " ".join(o.line() for o in outcomes)]


@pytest.fixture(scope="module")
def broken_runs(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, int, int]]:
    """Two scheduled runs that do not finish, under the default `--notify-on new`: one whose RingCentral token
    the service refuses (a secret that expired: the fetch cell fails), one with no SCIM setting at all (refused
    before any run folder). (exit code, stderr, receiver mark before, after) each."""
    root = tmp_path_factory.mktemp("broken-outputs")
    bundle = tmp_path_factory.mktemp("ca-broken") / "both.pem"
    done: dict[str, tuple[int, str, int, int]] = {}
    with pytest.MonkeyPatch.context() as mp, Sandbox(generate(users=60, seed=9).tenant) as sandbox:
        bundle.write_bytes(sandbox.ca_file.read_bytes() + receiver.ca_file.read_bytes())
        for name, value in sandbox.env().items():
            mp.setenv(name, value)
        mp.setenv("RCAUDIT_CA_BUNDLE", str(bundle))
        mp.setenv("RCAUDIT_OUTPUTS", str(root))
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-broken")))
        mp.setenv("RCAUDIT_NOTIFY_URLS", _urls(receiver, "teams", "slack", "json"))
        mp.setenv("RCAUDIT_SCIM_TOKEN", "expired-" + "x" * 24)
        for name in ("RCAUDIT_RC_CLIENT_ID", "RCAUDIT_RC_CLIENT_SECRET", "RCAUDIT_RC_JWT"):
            mp.delenv(name, raising=False)
        for case in ("refused_token", "no_settings"):
            if case == "no_settings":
                mp.delenv("RCAUDIT_SCIM_TOKEN")
            mark, errors = len(receiver.got), io.StringIO()
            with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
                code = main(["audit", "--out", str(root / case)])
            done[case] = (code, errors.getvalue(), mark, len(receiver.got))
    return done


def test_a_run_that_did_not_finish_is_posted_under_the_default_notify_on(
        broken_runs: dict[str, tuple[int, str, int, int]], receiver: Receiver) -> None:
    code, stderr, mark, end = broken_runs["refused_token"]
    assert code == 2
    bodies = receiver.got[mark:end]
    [generic] = [b for path, b in bodies if path.startswith("/json/")]
    assert generic["verdict"] == "error" and generic["summary"] is None
    assert generic["run_id"] == "refused_token" and generic["report"].endswith("refused_token/report.html")
    folder = Path(generic["report"]).parent
    assert "notify: the audit did not finish" in (folder / "run.log").read_text()
    for path in folder.rglob("*"):  # the failed run's folder holds no webhook either
        assert not path.is_file() or not [s for s in SECRETS if s.encode() in path.read_bytes()], path
    assert "cell" in generic["error"] and "401" in generic["error"], generic["error"]
    [teams] = [b for path, b in bodies if path.startswith("/teams/")]
    card = teams["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}
    assert facts["Verdict"].startswith("ERROR") and "Error" in facts
    assert card["body"][0]["color"] == "Attention"
    [slack] = [b for path, b in bodies if path.startswith("/slack/")]
    assert "did not finish" in slack["text"] and {b["type"] for b in slack["blocks"]} <= {"header", "section",
                                                                                         "context"}
    assert "rcaudit: notify: 3 sent (the audit did not finish)" in stderr
    assert "rcaudit: error:" in stderr  # the audit's own error is still what the run ends with
    assert not [s for s in SECRETS if s in stderr]


def test_a_run_refused_before_it_started_is_posted_without_a_run_folder(
        broken_runs: dict[str, tuple[int, str, int, int]], receiver: Receiver) -> None:
    code, stderr, mark, end = broken_runs["no_settings"]
    assert code == 2 and "RCAUDIT_SCIM_TOKEN" in stderr
    [generic] = [b for path, b in receiver.got[mark:end] if path.startswith("/json/")]
    assert generic["verdict"] == "error" and generic["run_id"] is None and generic["report"] is None
    assert "RCAUDIT_SCIM_TOKEN" in generic["error"] and "expired-" not in json.dumps(generic)
