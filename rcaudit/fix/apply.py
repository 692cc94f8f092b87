"""Applying fix-up plans to RingCentral: guarded, paced, journaled PATCHes (the network edge of fix-ups).

A dry run is the default; writing needs `apply=True` (`--apply`). Before anything is written the guards
must pass: at most `max_changes` operations; deactivations only with `allow_deactivate`, and never more
than 5 % of the target's active accounts, counting every account deactivated on the same RingCentral in the
last 24 h (the journals of every run, and the user's ledger of every applied (de)activation, wherever its run
folder is); an audit no older than `max_age_hours`; the environment points at the
audited tenant and at the audited RingCentral (SCIM URL and JWT owner, recorded in the snapshot); no other
apply holds the run folder's lock. An account whose re-read userName is not the audited one is not written.

Per account: wait for a write slot (RingCentral's Heavy group, from the rate-limit headers), re-read the
account (`GET /Users/{id}`, Light group: RingCentral has no ETags), skip every operation whose attribute no
longer holds the audited value (`skipped_stale`, with why), then send one PatchOp request with the rest,
shaped from the re-read account in the plan's forms (`Plan.wire`): Entra's (`active` "True"/"False", typed
values on their filtered paths) for current plans, the forms it was written with for a legacy plan.json.
The session paces both groups to the `X-Rate-Limit-*` headers and never sends inside a penalty.

Every request is announced by an `intent` line per operation (with `before`), written and fsynced before it
is sent, and every operation gets its outcome line (same op_id) before the next request, so a crash,
`kill -9` or Ctrl-C loses nothing: a re-run of the same plan skips every op_id already applied, and decides
each intent without an outcome by re-reading the account (it holds the planned value and `before` did not:
journaled `applied`, "decided after a crash", so a rollback undoes it; else it is planned as usual).
Per-operation errors are journaled and the run goes on:
- 400 (e.g. `invalidValue`: a refused region) or 409 (`uniqueness`) on a request of several operations:
  each operation is sent alone, so one refused value does not hold back the others;
- 404: the account is gone;
- 5xx or no answer: the write may have happened, so the account is re-read: the new values → applied;
  the old values → sent again (at most `write_retries` times); anything else → failed;
- 429 beyond the retry budget: failed.
After `max_consecutive_failures` accounts in a row failed, the run stops and says why. A refused token or
a missing permission stops it at once (`ApplyError`).
"""


from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

import pandas as pd

from rcaudit.audit.reconcile import reconcile
from rcaudit.connect.config import Settings
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.connect.scim import HEAVY, ScimClient
from rcaudit.fix.audited_run import RunAudit
from rcaudit.fix.guards import (
    Guards,
    append_ledger,
    check_guards,
    ensure_ledger,
    journals_for_window,
    ledger_line,
    ledger_path,
    recent_deactivations,
    target_problems,
)
from rcaudit.fix.journal import LOCK_NAME, JournalLine, applied_op_ids, fixes_folder, pending_intents, run_journals
from rcaudit.fix.ops import same_value, shape_operations, shown, wire_value
from rcaudit.fix.plan import LIFECYCLE_KINDS, Operation, Plan
from rcaudit.model.errors import (
    ApplyError,
    AuthError,
    ConfigError,
    ExitCode,
    FetchError,
    PermissionDenied,
    PlanRejected,
    RateLimited,
)
from rcaudit.model.findings import finding_key, finding_rows
from rcaudit.model.runs import new_run_id
from rcaudit.model.scim_path import target_reader
from rcaudit.model.snapshot import rc_identity

JOURNAL_FIELDS = ("time", "fix_id", "plan_id", "op_id", "scim_id", "entra_id", "path", "op", "value", "audited",
                  "before", "after", "status", "http_status", "error")
STATUSES = ("applied", "skipped_stale", "failed", "dry_run")  # outcomes (the counts); `intent` precedes a request
INTENT = "intent"


EXIT_OK, EXIT_FAILED, EXIT_ERROR = ExitCode.OK, ExitCode.FINDINGS, ExitCode.ERROR


# --- the journal and the lock ----------------------------------------------------------------------------
class Journal:
    """`journal.jsonl`: one JSON line per operation, flushed and fsynced before the caller goes on. Opened on
    first use (`open`), so a plan refused by a guard leaves no empty journal behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def open(self) -> None:
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        with contextlib.suppress(OSError):  # make the new file's name durable too
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def write(self, line: dict[str, Any]) -> None:
        self.open()
        self._file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """`fixes/.apply.lock` in the run folder: one apply at a time. A lock left by a process of this machine that
    no longer runs (a crash) is taken over."""

    def __init__(self, run_folder: str | Path, fix_id: str) -> None:
        self.path = fixes_folder(run_folder) / LOCK_NAME
        self.fix_id = fix_id
        self.took_over: dict[str, Any] | None = None
        self._held = False

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"fix_id": self.fix_id, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": dt.datetime.now(dt.UTC).isoformat()}
        for _ in range(2):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder.get("host") == record["host"] and isinstance(holder.get("pid"), int) \
                        and not _alive(holder["pid"]):
                    self.took_over = holder
                    with contextlib.suppress(FileNotFoundError):
                        self.path.unlink()
                    continue
                raise PlanRejected(
                    f"another apply holds {self.path} (fix {holder.get('fix_id')}, pid {holder.get('pid')} on "
                    f"{holder.get('host')}, since {holder.get('since')}): two applies at once could write the same "
                    "account twice; if no other apply runs, delete the lock file") from None
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            self._held = True
            return self
        raise PlanRejected(f"{self.path}: could not take the apply lock")

    def _holder(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def __exit__(self, *exc: object) -> None:
        if self._held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._held = False


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[threading.Event]:
    """Ctrl-C (SIGINT) sets the event instead of raising, so the account being written is finished and
    journaled; the caller stops before the next one. A second Ctrl-C raises at once."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag.is_set():
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# --- results ---------------------------------------------------------------------------------------------
@dataclass
class ApplyResult:
    """What one dry run or apply did: its journal lines, and why it stopped early (if it did)."""

    fix_id: str
    plan: Plan
    folder: Path
    apply: bool
    lines: list[dict[str, Any]] = field(default_factory=list)
    already_applied: dict[str, str] = field(default_factory=dict)  # op_id → fix_id of an earlier run
    refused: list[str] = field(default_factory=list)  # dry run: why --apply would be refused
    stopped: str | None = None
    interrupted: bool = False
    undecided: list[str] = field(default_factory=list)  # in-flight requests of a crashed apply not decided yet
    reads: int = 0
    writes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def journal(self) -> Path:
        return self.folder / "journal.jsonl"

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(line["status"] for line in self.lines)
        return {status: counted.get(status, 0) for status in STATUSES}

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_ERROR
        return EXIT_FAILED if self.failed or self.stopped or self.undecided else EXIT_OK

    def table(self) -> pd.DataFrame:
        """The journal as a table: user, attribute, status, before → after, HTTP status, error."""
        columns = ["user", "attribute", "op", "status", "before", "after", "http_status", "error", "scim_id", "op_id"]
        rows = [{"user": line.get("user_name"), "attribute": line.get("attribute"), "op": line.get("op"),
                 "status": line["status"], "before": shown(line.get("before")), "after": shown(line.get("after")),
                 "http_status": line.get("http_status"), "error": line.get("error") or "",
                 "scim_id": line.get("scim_id"), "op_id": line.get("op_id")} for line in self.lines]
        return pd.DataFrame(rows, columns=columns)

    ALREADY_DONE: ClassVar[str] = "operation(s) already applied by an earlier run of this plan"

    def headline(self, mode: str, counts: str) -> str:
        """The first line of `render`: what ran, how many requests, where the journal is."""
        return (f"fix {self.fix_id} ({mode}, plan {self.plan.plan_id}): {counts}; {self.writes} PATCH request(s), "
                f"{self.reads} re-read(s); journal {self.journal}")

    def render(self) -> str:
        mode = "applied" if self.apply else "dry run"
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v) or "nothing to do"
        lines = [self.headline(mode, counts)]
        if self.already_applied:
            lines.append(f"{len(self.already_applied)} {self.ALREADY_DONE}: skipped")
        lines += [f"--apply would be refused: {problem}" for problem in self.refused]
        lines += [f"note: {note}" for note in self.notes]
        if self.stopped:
            lines.append(f"stopped: {self.stopped}")
        return "\n".join(lines)


# --- connecting ------------------------------------------------------------------------------------------
def scim_client(settings: Settings, retry: RetryPolicy | None = None) -> ScimClient:
    """A RingCentral SCIM client from the environment's settings (only the RingCentral ones are needed)."""
    if not settings.scim_token and not (settings.rc_client_id and settings.rc_client_secret and settings.rc_jwt):
        raise ConfigError("cannot write to RingCentral: set RCAUDIT_SCIM_TOKEN (or RCAUDIT_RC_CLIENT_ID + "
                          "RCAUDIT_RC_CLIENT_SECRET + RCAUDIT_RC_JWT) and RCAUDIT_SCIM_URL")
    session = make_session(settings.ca_bundle, retry=retry or RetryPolicy(max_total=settings.retry_max_seconds),
                           service="scim")
    return ScimClient(settings, session)


def can_connect(settings: Settings) -> bool:
    return bool(settings.scim_token or (settings.rc_client_id and settings.rc_client_secret and settings.rc_jwt))


# --- applying --------------------------------------------------------------------------------------------
IN_FLIGHT_UNDONE = ("decided after a crash: the re-read showed that the request in flight when that apply stopped "
                    "had gone through; undone")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class _Writer:
    """Processes one account at a time and journals every operation."""

    def __init__(self, plan: Plan, client: ScimClient | None, journal: Journal, result: ApplyResult, guards: Guards,
                 sleep: Callable[[float], None], on_line: Callable[[dict[str, Any]], None] | None,
                 target: dict[str, str] | None = None) -> None:
        self.plan, self.client, self.journal, self.result, self.guards = plan, client, journal, result, guards
        self.sleep, self.on_line = sleep, on_line
        self.boolean_strings = plan.booleans_as_strings  # Entra's "True"/"False" unless the plan says otherwise
        self.target = target or {}  # the RingCentral written to: {scim_url, owner_id}
        self.announced: set[str] = set()  # op_ids whose intent line this run wrote
        self.account_user_name = ""  # the userName of the account being written, as re-read

    # --- journal ---------------------------------------------------------------------------------------
    def line(self, operation: Operation, status: str, *, before: Any = None, after: Any = None,
             http_status: int | None = None, error: str = "", sent: dict[str, Any] | None = None,
             decides: str | None = None) -> dict[str, Any]:
        """One journal line (DESIGN.md's fields first, then what a person, a rollback and the guards need):
        checked as a `JournalLine` where it is made, handed on as the plain dict journal readers take."""
        written: JournalLine = {
            "time": _now(), "fix_id": self.result.fix_id, "plan_id": self.plan.plan_id, "op_id": operation.op_id,
            "scim_id": operation.scim_id, "entra_id": operation.entra_id, "path": operation.path, "op": operation.op,
            "value": operation.value, "audited": operation.audited, "before": before, "after": after,
            "status": status, "http_status": http_status, "error": error,
            # beyond DESIGN.md's fields: what a person and a rollback need
            "attribute": operation.attribute, "expected": operation.expected, "sent": sent, "kind": operation.kind,
            "severity": operation.severity, "user_name": operation.user_name, "inverse": operation.inverse,
            "reverts": operation.reverts or None, "decides": decides,
            "target_user_name": self.account_user_name or operation.target_user_name or None,
            "scim_url": self.target.get("scim_url") or None, "rc_owner_id": self.target.get("owner_id") or None,
            "wire": self.plan.wire,  # the forms `sent` follows (a rollback without plan.json reads it)
        }
        return cast(dict[str, Any], written)

    def record(self, operation: Operation, status: str, *, before: Any = None, after: Any = None,
               http_status: int | None = None, error: str = "", sent: dict[str, Any] | None = None,
               decides: str | None = None) -> None:
        """Journal an outcome (fsynced) and show it."""
        line = self.line(operation, status, before=before, after=after, http_status=http_status, error=error,
                         sent=sent, decides=decides)
        self.journal.write(line)
        entry = ledger_line(line)
        if entry is not None:  # right after the journal line: the 24 h count sees it from any run folder
            try:
                append_ledger(entry)
            except OSError as exc:
                raise ApplyError(f"account {operation.scim_id} was written and journaled, but the deactivation "
                                 f"ledger {ledger_path()} could not record it ({exc.strerror}): stopped") from None
        self.result.lines.append(line)
        if self.on_line is not None:
            self.on_line(line)

    def announce(self, operations: list[Operation], befores: dict[str, Any], sent: dict[str, dict[str, Any]]) -> None:
        """The intent lines, fsynced before the request goes out: if the process dies while it is in flight, the
        next run (or a rollback) knows a write may have happened and decides it by re-reading the account."""
        for o in operations:
            if o.op_id not in self.announced:
                self.journal.write(self.line(o, INTENT, before=befores.get(o.op_id), sent=sent.get(o.op_id)))
                self.announced.add(o.op_id)

    def fail_all(self, operations: list[Operation], befores: dict[str, Any], error: str, status: int | None,
                 sent: dict[str, dict[str, Any]] | None = None) -> None:
        for o in operations:
            self.record(o, "failed", before=befores.get(o.op_id), http_status=status, error=error,
                        sent=(sent or {}).get(o.op_id))

    # --- pacing ----------------------------------------------------------------------------------------
    def wait_for_write_slot(self) -> None:
        """Wait until the Heavy group may send, so the re-read is as fresh as it can be when the PATCH goes."""
        assert self.client is not None
        pacer = getattr(self.client.session, "pacer", None)
        if pacer is None:
            return
        group = pacer.group(urlsplit(self.client.settings.scim_url).netloc, HEAVY, self.client.token.rate_key)
        wait = pacer.delay(group)
        if wait > 0:
            pacer.clock.sleep(wait)

    def read(self, scim_id: str) -> dict[str, Any]:
        assert self.client is not None
        self.result.reads += 1
        try:
            return self.client.get_user(scim_id)
        except (AuthError, PermissionDenied) as exc:
            raise ApplyError(f"re-reading account {scim_id}: {exc.message}", response=exc.response) from None

    # --- one account -----------------------------------------------------------------------------------
    def account(self, scim_id: str, operations: list[Operation]) -> str:
        """Re-read, skip what is stale, write the rest; returns `applied`, `failed`, `skipped` or `dry_run`."""
        self.account_user_name = ""
        if self.client is None:
            for o in operations:
                self.record(o, "dry_run", after=o.expected, error="not re-read: no connection to RingCentral")
            return "dry_run"
        if self.result.apply:
            self.wait_for_write_slot()
        try:
            current = self.read(scim_id)
        except FetchError as exc:
            gone = " (the account is gone)" if exc.status == 404 else ""
            if not self.result.apply:
                for o in operations:
                    self.record(o, "dry_run", http_status=exc.status,
                                error=f"re-read failed{gone}: {exc.message}; applying would fail")
                return "dry_run"
            self.fail_all(operations, {}, f"re-read failed{gone}: {exc.message}", exc.status)
            return "failed"
        self.account_user_name = str(current.get("userName") or "")
        other = self.another_account(operations, current)
        if other:
            for o in operations:
                self.record(o, "dry_run" if not self.result.apply else "failed", error=other)
            return "dry_run" if not self.result.apply else "failed"
        live: list[Operation] = []
        befores: dict[str, Any] = {}
        for o in operations:
            before = target_reader(o.attribute)(current)
            befores[o.op_id] = before
            if same_value(o.attribute, before, o.audited):
                live.append(o)
            elif same_value(o.attribute, before, o.expected):
                self.record(o, "skipped_stale", before=before, after=before,
                            error="the account holds the value from before the request that was in flight when "
                                  "that apply stopped (it never went through, or was undone since): nothing to undo"
                            if o.in_flight else
                            "already holds the planned value (applied earlier, or fixed since the audit)")
            else:
                self.record(o, "skipped_stale", before=before, after=before,
                            error=f"changed since the audit: audited {shown(o.audited)}, now {shown(before)}")
        if not live:
            return "skipped"
        wire, _ = shape_operations([(o.attribute, self.value(o)) for o in live], current, self.plan.wire)
        if not self.result.apply:
            for o, sent in zip(live, wire, strict=True):
                self.record(o, "dry_run", before=befores[o.op_id], after=o.expected, sent=sent)
            return "dry_run"
        return self.send(scim_id, live, wire, befores, current)

    @staticmethod
    def another_account(operations: list[Operation], current: dict[str, Any]) -> str:
        """Why not to write when the id now names another account (its userName is not the audited one)."""
        audited = next((o.target_user_name for o in operations if o.target_user_name), "")
        now = str(current.get("userName") or "")
        if not audited or now.casefold() == audited.casefold():
            return ""
        return (f"not written: account {operations[0].scim_id} is now userName {now or '(none)'}, the audit saw "
                f"{audited}: the id may name another person's account now; audit again")

    def value(self, operation: Operation) -> Any:
        return wire_value(operation.attribute, operation.expected, self.boolean_strings)

    def send(self, scim_id: str, operations: list[Operation], wire: list[dict[str, Any]], befores: dict[str, Any],
             current: dict[str, Any]) -> str:
        assert self.client is not None
        sent = {o.op_id: w for o, w in zip(operations, wire, strict=True)}
        self.announce(operations, befores, sent)
        attempt = 0
        while True:
            self.result.writes += 1
            try:
                body = self.client.patch_user(scim_id, wire)
            except (AuthError, PermissionDenied) as exc:
                self.fail_all(operations, befores, exc.message, getattr(exc.response, "status_code", None), sent)
                raise ApplyError(f"writing account {scim_id}: {exc.message}", response=exc.response) from None
            except RateLimited as exc:
                self.fail_all(operations, befores, exc.message, 429, sent)
                return "failed"
            except FetchError as exc:
                if exc.status is None or exc.status >= 500:
                    outcome = self.after_uncertain(scim_id, operations, befores, sent, exc, attempt)
                    if outcome == "resend":
                        self.sleep(self.guards.retry_wait * 2 ** attempt)
                        attempt += 1
                        continue
                    return outcome
                if exc.status in (400, 409) and len(operations) > 1:
                    return self.one_by_one(scim_id, operations, befores, current)
                gone = " (the account is gone)" if exc.status == 404 else ""
                self.fail_all(operations, befores, exc.message + gone, exc.status, sent)
                return "failed"
            for o in operations:
                after = target_reader(o.attribute)(body) if body is not None else o.expected
                self.record(o, "applied", before=befores[o.op_id], after=after,
                            http_status=204 if body is None else 200, sent=sent[o.op_id],
                            error=IN_FLIGHT_UNDONE if o.in_flight else "")
            return "applied"

    def after_uncertain(self, scim_id: str, operations: list[Operation], befores: dict[str, Any],
                        sent: dict[str, dict[str, Any]], exc: FetchError, attempt: int) -> str:
        """A 5xx or no answer: the write may have happened. Re-read and decide: applied, resend or failed."""
        what = f"HTTP {exc.status}" if exc.status else "no answer"
        try:
            now = self.read(scim_id)
        except FetchError as again:
            self.fail_all(operations, befores, f"{exc.message}; the re-read to check failed too: {again.message}",
                          exc.status, sent)
            return "failed"
        values = {o.op_id: target_reader(o.attribute)(now) for o in operations}
        if all(same_value(o.attribute, values[o.op_id], o.expected) for o in operations):
            for o in operations:
                self.record(o, "applied", before=befores[o.op_id], after=values[o.op_id], http_status=exc.status,
                            error=f"{what}, but the re-read shows the new values: the write went through",
                            sent=sent[o.op_id])
            return "applied"
        unchanged = all(same_value(o.attribute, values[o.op_id], befores[o.op_id]) for o in operations)
        if unchanged and attempt < self.guards.write_retries:
            return "resend"
        why = "nothing written" if unchanged else "the account changed in between"
        self.fail_all(operations, befores, f"{exc.message} ({why}; {attempt + 1} attempt(s))", exc.status, sent)
        return "failed"

    def decide(self, intents: dict[str, dict[str, Any]], operations: dict[str, Operation]) -> set[str]:
        """Decide the requests a crashed apply left in flight (intent, no outcome) by re-reading each account:
        applied when it now holds the planned value and `before` did not (journaled `applied`, noting it was
        decided after a crash); otherwise it is planned as usual. Returns the op_ids decided as applied."""
        by_account: dict[str, list[dict[str, Any]]] = {}
        for line in intents.values():
            by_account.setdefault(str(line["scim_id"]), []).append(line)
        decided: set[str] = set()
        for scim_id, lines in by_account.items():
            try:
                current = self.read(scim_id)
            except FetchError as exc:
                if exc.status == 404:
                    continue  # the account is gone: planned as usual, its re-read journals it `failed`
                self.result.undecided += [str(line["op_id"]) for line in lines]
                self.result.notes.append(f"could not decide {len(lines)} operation(s) on account {scim_id} left in "
                                         f"flight by fix {lines[0].get('fix_id')} (re-read failed: {exc.message}): "
                                         "not written this time; run the plan again")
                continue
            self.account_user_name = str(current.get("userName") or "")
            other = self.another_account([operations[str(line["op_id"])] for line in lines], current)
            if other:
                self.result.undecided += [str(line["op_id"]) for line in lines]
                self.result.notes.append(f"could not decide {len(lines)} operation(s) left in flight by fix "
                                         f"{lines[0].get('fix_id')}: {other}")
                continue
            for line in lines:
                o = operations[str(line["op_id"])]
                now, before = target_reader(o.attribute)(current), line.get("before")
                if same_value(o.attribute, now, o.expected) and not same_value(o.attribute, before, o.expected):
                    self.record(o, "applied", before=before, after=now, sent=line.get("sent"),
                                decides=str(line.get("fix_id")),
                                error=f"decided after a crash: fix {line.get('fix_id')} stopped while this request "
                                      "was in flight (an intent line without an outcome); the re-read shows the "
                                      "planned value, which the account did not hold before")
                    decided.add(o.op_id)
        return decided

    def one_by_one(self, scim_id: str, operations: list[Operation], befores: dict[str, Any],
                   current: dict[str, Any]) -> str:
        """A refused request of several operations: send each alone, so only the refused one fails."""
        outcomes = []
        state = current
        for o in operations:
            wire, after_state = shape_operations([(o.attribute, self.value(o))], state, self.plan.wire)
            outcome = self.send(scim_id, [o], wire, befores, state)
            if outcome == "applied":
                state = after_state
            outcomes.append(outcome)
        return "applied" if "applied" in outcomes else "failed"


def environment_target(client: ScimClient | None, settings: Settings | None) -> dict[str, str]:
    """The RingCentral this apply would write to: the SCIM URL and, under the JWT grant, the owner_id (a grant
    is made now if none was: it is a read of the token endpoint, nothing is written)."""
    if client is None:
        return rc_identity(settings.scim_url, None) if settings is not None else {}
    owner = None
    if not client.token.static:
        client.token.get()
        owner = client.token.owner_id
    return rc_identity(client.settings.scim_url, owner)


def _preflight(plan: Plan, client: ScimClient | None, apply: bool, settings: Settings | None,
               result: ApplyResult) -> tuple[ScimClient | None, dict[str, str], list[str]]:
    """Before the lock: plan.json is written (for review, even when refused), a damaged journal of this plan
    stops it before anything is read, and the environment must point at the audited RingCentral; a dry run
    against another one reads nothing. Returns the client to use, the target and what is wrong with it."""
    folder = result.folder
    plan.save(folder / "plan.json")
    run_journals(plan.run_folder, plan.plan_id)  # a damaged journal of this plan stops it before anything is read
    target = environment_target(client, settings)
    wrong_target = target_problems(plan, target, static_token=bool(client is not None and client.token.static))
    if not plan.scim_url:
        result.notes.append("the audit did not record which RingCentral it read (a snapshot from before this "
                            "check): the environment's SCIM URL and owner could not be compared with it")
    if wrong_target:
        if apply:
            raise PlanRejected("refused: " + "; ".join(wrong_target) + f" (the plan is in {folder / 'plan.json'})")
        client = None
        result.notes.append("the environment points at another RingCentral: the dry run did not re-read the accounts")
    if apply and client is None:
        raise ConfigError("applying needs a connection to RingCentral (RCAUDIT_SCIM_URL and a token)")
    return client, target, wrong_target


def _pending(writer: _Writer, plan: Plan, apply: bool, fix_id: str) -> list[Operation]:
    """Under the lock (so final): the operations still to do. What an earlier run of this plan applied is
    skipped; requests a crashed apply left in flight are decided by re-reading (with `apply`) before the
    guards count anything; an undecided one is not written this time."""
    result = writer.result
    files, journal_notes = run_journals(plan.run_folder, plan.plan_id)  # under the lock: final
    result.notes += journal_notes
    done = applied_op_ids(plan.run_folder, plan.plan_id, files)
    by_id = {o.op_id: o for o in plan.operations}
    intents = {k: v for k, v in pending_intents(files, plan.plan_id).items() if k in by_id and k not in done}
    if intents and apply:
        decided = writer.decide(intents, by_id)
        done.update({k: fix_id for k in decided})
    elif intents:
        result.notes.append(f"{len(intents)} operation(s) were in flight when an earlier apply of this plan "
                            "stopped: --apply decides each by re-reading the account")
    result.already_applied = {k: v for k, v in done.items() if k in by_id and v != fix_id}
    return [o for o in plan.operations if o.op_id not in done and o.op_id not in result.undecided]


def _guard(writer: _Writer, pending: list[Operation], guards: Guards, now: dt.datetime, settings: Settings | None,
           target: dict[str, str], wrong_target: list[str], apply: bool) -> None:
    """The guards over what this run would write (deactivations counted with every run's of the last 24 h on
    the same RingCentral): with `apply` a failing guard refuses the plan; a dry run says why `--apply` would
    be refused, and re-reads nothing from another tenant."""
    plan, result = writer.plan, writer.result
    scim_url = target.get("scim_url") or plan.scim_url
    earlier, window_notes = recent_deactivations(
        journals_for_window(plan.run_folder, settings.outputs if settings else None),
        scim_url, now) if any(o.deactivation for o in pending) else (set(), [])
    result.notes += window_notes
    problems = [*wrong_target, *check_guards(plan, pending, guards, now=now, settings=settings,
                                             earlier_deactivations=earlier, scim_url=scim_url)]
    if apply and problems:
        raise PlanRejected("refused: " + "; ".join(problems) + f" (the plan is in {result.folder / 'plan.json'})")
    if not apply:
        result.refused = problems
        if writer.client is None and not wrong_target:
            result.notes.append("no connection to RingCentral: the dry run did not re-read the accounts")
        elif any("not for this tenant" in p for p in problems):
            writer.client = None
            result.notes.append("the environment points at another tenant: the dry run did not re-read the "
                                "accounts")


def apply_plan(plan: Plan, client: ScimClient | None = None, *, apply: bool = False, guards: Guards | None = None,
               settings: Settings | None = None, now: dt.datetime | None = None, fix_id: str | None = None,
               sleep: Callable[[float], None] = time.sleep,
               on_line: Callable[[dict[str, Any]], None] | None = None,
               on_account: Callable[[int, int], None] | None = None) -> ApplyResult:
    """Dry-run (default) or apply `plan`, into `<run folder>/fixes/<fix_id>/` (plan.json + journal.jsonl).

    `client` None: a dry run without re-reads (no connection). With `apply`, a failing guard raises
    `PlanRejected` (plan.json is still written, for review); in a dry run the reasons are in `refused`.
    The environment must point at the audited RingCentral (SCIM URL, JWT owner) before anything is read from
    it; requests a crashed apply of this plan left in flight are decided (re-read) before the guards count.
    `on_account(done, total)` is called before the first account and after each one (a progress bar's hook).
    """
    guards = guards or Guards()
    now = now or dt.datetime.now(dt.UTC)
    fix_id = fix_id or new_run_id(now)
    result = ApplyResult(fix_id, plan, fixes_folder(plan.run_folder) / fix_id, apply)
    client, target, wrong_target = _preflight(plan, client, apply, settings, result)
    lock = RunLock(plan.run_folder, fix_id) if apply else contextlib.nullcontext()
    journal = Journal(result.journal)
    try:
        with lock, deferred_interrupts() as interrupted:
            if isinstance(lock, RunLock) and lock.took_over:
                result.notes.append(f"took over the lock of fix {lock.took_over.get('fix_id')} (pid "
                                    f"{lock.took_over.get('pid')} is no longer running)")
            if apply and any(o.attribute == "active" for o in plan.operations):
                ensure_ledger()
            writer = _Writer(plan, client, journal, result, guards, sleep, on_line, target)
            pending = _pending(writer, plan, apply, fix_id)
            _guard(writer, pending, guards, now, settings, target, wrong_target, apply)
            journal.open()  # only now: a plan refused by a guard leaves no journal behind
            grouped: dict[str, list[Operation]] = {}
            for operation in pending:
                grouped.setdefault(operation.scim_id, []).append(operation)
            _write_accounts(writer, grouped, guards, interrupted, on_account)
    finally:
        journal.close()
    return result


def _write_accounts(writer: _Writer, grouped: dict[str, list[Operation]], guards: Guards,
                    interrupted: threading.Event, on_account: Callable[[int, int], None] | None = None) -> None:
    """One account after another, stopping on Ctrl-C or after too many failures in a row."""
    result = writer.result
    failures_in_a_row = 0
    tick = on_account or (lambda done, total: None)
    tick(0, len(grouped))
    for position, (scim_id, operations) in enumerate(grouped.items()):
        left = len(grouped) - position
        if interrupted.is_set():
            result.interrupted = True
            result.stopped = (f"interrupted (Ctrl-C) with {left} account(s) not done: run the same plan "
                              "again to continue (applied operations are skipped)")
            break
        if failures_in_a_row >= guards.max_consecutive_failures:
            last = result.lines[-1].get("error") if result.lines else ""
            result.stopped = (f"{failures_in_a_row} accounts in a row failed (last: {last}); {left} "
                              "account(s) not attempted: fix the cause, then run the same plan again")
            break
        outcome = writer.account(scim_id, operations)
        tick(position + 1, len(grouped))
        if outcome == "failed":
            failures_in_a_row += 1
        elif outcome == "applied":
            failures_in_a_row = 0


# --- proving it ----------------------------------------------------------------------------------------
def reaudit_touched(run: RunAudit, result: ApplyResult, client: ScimClient) -> pd.DataFrame:
    """Re-read every account the apply wrote to, re-audit the run with them, and say per planned finding
    whether it is gone (`fixed`), still there, or whether a new finding appeared on a touched account."""
    touched = list(dict.fromkeys(line["scim_id"] for line in result.lines if line["status"] == "applied"))
    fresh: dict[str, dict[str, Any] | None] = {}
    for scim_id in touched:
        try:
            fresh[scim_id] = client.get_user(scim_id)
        except FetchError as exc:
            if exc.status != 404:
                raise
            fresh[scim_id] = None
    accounts = [fresh.get(str(a.get("id")), a) if str(a.get("id")) in fresh else a for a in run.snapshot.scim_users]
    snapshot = dataclasses.replace(run.snapshot, scim_users=[a for a in accounts if a is not None])
    after = reconcile(snapshot, run.mapping, run.options)
    columns = ["user", "scim_id", "kind", "attribute", "status"]
    if not touched:
        return pd.DataFrame(columns=columns)
    before = run.result.findings[run.result.findings["scim_id"].isin(touched)]
    now = after.findings[after.findings["scim_id"].isin(touched)]
    keys_now = set(finding_key(now))
    planned = {(line["scim_id"], line.get("kind"), "" if line.get("kind") in LIFECYCLE_KINDS else line.get("attribute"))
               for line in result.lines if line["status"] == "applied"}
    rows = []
    for row, key in zip(finding_rows(before), finding_key(before), strict=True):
        if (row["scim_id"], row["kind"], row["attribute"]) not in planned:
            continue
        rows.append({"user": row["user_name"], "scim_id": row["scim_id"], "kind": row["kind"],
                     "attribute": row["attribute"], "status": "still there" if key in keys_now else "fixed"})
    keys_before = set(finding_key(before))
    for row, key in zip(finding_rows(now), finding_key(now), strict=True):
        if key not in keys_before:
            rows.append({"user": row["user_name"], "scim_id": row["scim_id"], "kind": row["kind"],
                         "attribute": row["attribute"], "status": "new finding"})
    return pd.DataFrame(rows, columns=columns)
