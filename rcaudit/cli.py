"""The `rcaudit` command (DESIGN.md "Commands"); exit codes 0 ok, 1 findings/failed operations, 2 error."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rcaudit import __version__
from rcaudit.connect.config import Settings
from rcaudit.model.errors import ConfigError, ExitCode, RcauditError, scrub

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = ExitCode.OK, ExitCode.FINDINGS, ExitCode.ERROR  # defined once, in errors


DEFAULT_USERS, DEFAULT_SEED = 2000, 1


def _generated(args: argparse.Namespace) -> Any:
    from rcaudit.sandbox import generate

    return generate(users=args.users, seed=args.seed, schema_profile=args.schema_profile,
                    job_status=args.job_status)


def _tenant_from_args(args: argparse.Namespace) -> dict[str, Any]:
    from rcaudit.sandbox import load_tenant

    return load_tenant(args.tenant) if args.tenant else _generated(args).tenant


def cmd_sandbox(args: argparse.Namespace) -> int:
    from rcaudit.sandbox import Sandbox, save_tenant, write_truth_csv
    from rcaudit.sandbox.tenant.file import with_defaults

    if args.save:
        if args.tenant:
            raise ConfigError("--save writes a generated tenant: use --users/--seed, not --tenant")
        generated = _generated(args)
        path = save_tenant(with_defaults(generated.tenant), args.save)
        truth = write_truth_csv(generated.truth, path.parent / "truth.csv")
        print(f"wrote {path} ({args.users} users, seed {args.seed}) and {truth} ({len(generated.truth)} findings)")
        return EXIT_OK
    tenant = _tenant_from_args(args)
    started = time.perf_counter()
    sandbox = Sandbox(tenant, port=args.port).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        print(sandbox.exports(graph_auth=args.graph_auth, rc_auth=args.rc_auth))
        print(f"# rcaudit sandbox up in {time.perf_counter() - started:.2f} s: Entra login + Graph at "
              f"{sandbox.authority}, RingCentral at {sandbox.rc_url}. Ctrl-C stops it.", flush=True)
        stop.wait()
    finally:
        sandbox.stop()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """The sandbox plus exactly the audit `rcaudit audit` runs; 0 when the run succeeds, drift or not."""
    from rcaudit.runner import audit, check_parameters

    settings = Settings.from_env()
    if args.tenant:
        from rcaudit.sandbox import load_tenant

        load_tenant(args.tenant)  # a malformed tenant file is exit 2 naming the JSON path, before any run folder
    params = {"sandbox_users": args.users, "sandbox_seed": args.seed, "sandbox_profile": args.schema_profile,
              "sandbox_job_status": args.job_status,
              **check_parameters([("sandbox_tenant", args.tenant or "", True)], settings)}
    return audit(settings=settings, source="sandbox", out=args.out, params=params, fail_on="none",
                 verbose=args.verbose, label="rcaudit demo")


def cmd_audit(args: argparse.Namespace) -> int:
    """Check -p/-r against the notebook's parameters cell (names, types, ranges, no credentials), then audit."""
    from rcaudit.runner import RESERVED, SANDBOX_ONLY, audit, check_parameters

    settings = Settings.from_env()
    given = [(name, value, False) for name, value in args.parameter] + [(name, value, True) for name, value in args.raw]
    params = check_parameters(given, settings, reserved=(*RESERVED, *SANDBOX_ONLY))
    return audit(settings=settings, source="environment", out=args.out, snapshot=args.snapshot,
                 params=params, fail_on=args.fail_on, mask_pii=args.mask_pii, log_cells=True,
                 notify_on=args.notify_on, keep=args.keep, verbose=args.verbose)


def cmd_check(args: argparse.Namespace) -> int:
    from rcaudit.connect.check import run_checks, webhook_checks
    from rcaudit.connect.notify import KINDS
    from rcaudit.report.notify_messages import trial_message

    settings = Settings.from_env()
    checks = run_checks(settings, report=lambda check: print(check.line(), flush=True))
    tests = {kind: trial_message(kind) for kind in KINDS} if args.notify else None
    checks += webhook_checks(settings, test_messages=tests, report=lambda check: print(check.line(), flush=True))
    failed = [c for c in checks if not c.passed]
    print(f"{len(failed)} required check(s) failed" if failed else "every required check passed")
    return EXIT_ERROR if failed else EXIT_OK


def _run_plan(plan: Any, args: argparse.Namespace, settings: Settings) -> int:
    """Dry run (default) or apply a plan, then the review: verdict and guards first, then the operations table
    (as wide as the terminal), then what no PATCH fixes. A progress bar with ETA runs while accounts are paced."""
    from rcaudit.fix.apply import apply_plan, can_connect, scim_client
    from rcaudit.fix.guards import Guards
    from rcaudit.model.errors import PlanRejected
    from rcaudit.terminal import account_progress, show_review

    guards = Guards(max_changes=args.max_changes, allow_deactivate=args.allow_deactivate,
                    max_age_hours=args.max_age_hours)
    client = scim_client(settings) if args.apply or can_connect(settings) else None
    what = "applying" if args.apply else "dry run: re-reading"
    try:
        with account_progress(what) as tick:
            result = apply_plan(plan, client, apply=args.apply, guards=guards, settings=settings, on_account=tick)
    except PlanRejected as exc:
        show_review(plan, None, refused=exc.message)
        raise
    show_review(plan, result)
    return int(result.exit_code)


def cmd_fix(args: argparse.Namespace) -> int:
    """Plan fixes for an audit run; dry-run them, or apply them with --apply."""
    from rcaudit.fix.audited_run import latest_run
    from rcaudit.fix.plan import Filters, plan_for_run

    settings = Settings.from_env()
    run = latest_run(settings.outputs) if args.run == "latest" else Path(args.run)
    if run is None:
        raise ConfigError(f"--run latest: no audit run with a snapshot under {settings.outputs}")
    filters = Filters.parse(args.kinds or "", args.attributes or "", args.severity or "", args.users or "",
                            args.include_orphans)
    plan = plan_for_run(run, filters, json_booleans=args.json_booleans)
    return _run_plan(plan, args, settings)


def cmd_rollback(args: argparse.Namespace) -> int:
    """Undo every applied operation of a journal (dry run unless --apply)."""
    from rcaudit.fix.rollback import plan_rollback

    return _run_plan(plan_rollback(args.journal), args, Settings.from_env())


def cmd_provision(args: argparse.Namespace) -> int:
    """Provision on demand (Graph provisionOnDemand) the run's missing_in_target users: a dry run unless --apply;
    after an apply, a re-audit of those users says whether each account now exists."""
    from rcaudit.fix.apply import can_connect, scim_client
    from rcaudit.fix.audited_run import latest_run, load_run
    from rcaudit.fix.guards import Guards
    from rcaudit.fix.provision import build_provision_plan
    from rcaudit.fix.provision_apply import graph_client, provision_plan_apply, reaudit_provisioned

    settings = Settings.from_env()
    run_folder = latest_run(settings.outputs) if args.run == "latest" else Path(args.run)
    if run_folder is None:
        raise ConfigError(f"--run latest: no audit run with a snapshot under {settings.outputs}")
    users = [u for u in (args.users or "").split(",") if u.strip()]
    run = load_run(run_folder)
    plan = build_provision_plan(run, users)
    print(plan.render())
    if plan.operations:
        print(plan.review().drop(columns=["op_id"]).to_string(index=False, max_rows=200))
    guards = Guards(max_changes=args.max_changes, max_age_hours=args.max_age_hours)
    client = graph_client(settings) if args.apply else None
    result = provision_plan_apply(plan, client, apply=args.apply, guards=guards, settings=settings)
    table = result.table()
    if not table.empty:
        print()
        print(table.drop(columns=["op_id"]).to_string(index=False, max_rows=200))
    print(result.render())
    if args.apply and any(line["status"] == "applied" for line in result.lines):
        if not can_connect(settings):
            print("note: no RingCentral settings (RCAUDIT_SCIM_URL and a token): the new accounts were not re-read")
            return int(result.exit_code)
        proof = reaudit_provisioned(run, result, scim_client(settings))
        print("\nre-audit of the provisioned users:")
        print(proof.to_string(index=False, max_rows=200))
        if (proof["status"] != "provisioned").any():
            return int(EXIT_FINDINGS)
    return int(result.exit_code)


def _provision_parser(commands: Any) -> None:
    """`rcaudit provision` (DESIGN.md "Commands")."""
    provision = commands.add_parser(
        "provision", help="provision on demand (Graph provisionOnDemand) the run's missing users",
        description="Ask Entra's provisioning service to provision each missing_in_target user of an audit run now "
                    "(Graph provisionOnDemand on the RingCentral app's provisioning job, one user per request, "
                    "paced to Graph's 5 requests per 10 seconds). A dry run unless --apply; needs the application "
                    "permission Synchronization.ReadWrite.All. `rcaudit rollback --journal … --apply "
                    "--allow-deactivate` deactivates the accounts it created.")
    provision.add_argument("--run", required=True, metavar="DIR", help="the audit run folder, or `latest`")
    provision.add_argument("--users", metavar="ID,...", help="only these users: Entra ids or user names")
    provision.add_argument("--apply", action="store_true", help="send the requests (default: a dry run, no request)")
    provision.add_argument("--max-changes", type=int, default=25, metavar="N",
                           help="refuse to provision more than N users (default 25)")
    provision.add_argument("--max-age-hours", type=float, default=24.0, metavar="H",
                           help="refuse an audit older than H hours (default 24)")
    provision.set_defaults(func=cmd_provision)


# --- run history: summary, runs, and what `audit` does after a run (notifications, --keep) ---------------------
def _run_folder_arg(value: str, settings: Settings) -> Path:
    """`--run DIR` or `latest` (the newest finished run under RCAUDIT_OUTPUTS)."""
    if value != "latest":
        return Path(value).expanduser()
    from rcaudit.model.runs import list_runs

    runs = list_runs(settings.outputs)
    if not runs:
        raise ConfigError(f"--run latest: no finished audit run under {settings.outputs} (RCAUDIT_OUTPUTS)")
    return runs[-1].folder


def cmd_summary(args: argparse.Namespace) -> int:
    """Print a run's summary.md (ticket text)."""
    folder = _run_folder_arg(args.run, Settings.from_env())
    path = folder / "summary.md"
    if not path.is_file():
        raise ConfigError(f"--run {folder}: no summary.md there (not a run folder, or a run made before summary.md "
                          "existed: re-audit it with `rcaudit audit --snapshot`)")
    print(path.read_text(encoding="utf-8"), end="")
    return EXIT_OK


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def _run_line(run: Any) -> str:
    by = run.findings.get("by_severity") or {}
    counts = "/".join(str(int(by.get(level, 0))) for level in ("high", "medium", "low")) if run.summary else "-"
    return (f"{run.started_at:%Y-%m-%d %H:%M}Z  {run.run_id}  {run.kind:<4}  {run.verdict:<10}  "
            f"{counts:>14}  {_size(run.size):>9}")


def cmd_runs(args: argparse.Namespace) -> int:
    """List run folders newest first; with --prune, show (and with --apply, delete) the old ones."""
    from rcaudit.retention import plan_prune, prune, scan_runs

    settings = Settings.from_env()
    runs = scan_runs(settings.outputs)
    if not args.prune:
        if args.keep is not None or args.older_than is not None or args.apply:
            raise ConfigError("--keep, --older-than and --apply go with --prune")
        print(f"{len(runs)} run folder(s) under {settings.outputs}, newest first "
              "(kind: demo = sandbox, real = a tenant's data; counts high/medium/low):")
        for run in runs:
            print(_run_line(run))
        print(f"total {_size(sum(r.size for r in runs))}")
        return EXIT_OK
    decisions = plan_prune(runs, keep=args.keep, older_than=args.older_than)
    doomed = [d for d in decisions if d.delete]
    for decision in decisions:
        verb = ("delete" if args.apply else "would delete") if decision.delete else "keep"
        print(f"{verb:<12}  {_run_line(decision.run)}  {decision.reason}")
    deleted, problems = prune(decisions, apply=args.apply)
    for problem in problems:
        print(f"rcaudit: {problem}", file=sys.stderr)
    freed = _size(sum(d.run.size for d in doomed if d.run.folder in set(deleted)))
    if args.apply:
        print(f"deleted {len(deleted)} run folder(s), {freed} freed")
    else:
        print(f"dry run: {len(doomed)} run folder(s) ({_size(sum(d.run.size for d in doomed))}) would be deleted; "
              "add --apply to delete them")
    return EXIT_ERROR if problems else EXIT_OK


def _after_run_options(audit: argparse.ArgumentParser) -> None:
    audit.add_argument("--notify-on", choices=("new", "any", "always"), default="new",
                       help="when to post to the RCAUDIT_NOTIFY_URLS webhooks: new (default) = a finding at or above "
                            "--fail-on that the previous run of this tenant did not have; any = any such finding; "
                            "always = every run. A run that does not finish (exit 2) is posted under each")
    audit.add_argument("--keep", type=int, metavar="N",
                       help="after a finished run, delete run folders beyond the N newest (as `rcaudit runs --prune "
                            "--keep N --apply`)")


def _history_commands(commands: Any) -> None:
    summary = commands.add_parser("summary", help="print a run's summary.md (ticket text)")
    summary.add_argument("--run", default="latest", metavar="DIR",
                         help="the run folder, or `latest` (default): the newest finished run")
    summary.set_defaults(func=cmd_summary)
    runs = commands.add_parser(
        "runs", help="list run folders (newest first); --prune deletes old ones (a dry run unless --apply)",
        description="List run folders under RCAUDIT_OUTPUTS. --prune removes old ones: only folders named like a "
                    "run id that hold a summary.json, never following symlinks, never the latest successful run, a "
                    "run with a fix-up lock, or one with operations applied in the last 30 days.")
    runs.add_argument("--prune", action="store_true", help="show which run folders would be deleted")
    rule = runs.add_mutually_exclusive_group()
    rule.add_argument("--keep", type=int, metavar="N", help="with --prune: keep the N newest")
    rule.add_argument("--older-than", type=float, metavar="DAYS", help="with --prune: delete runs older than DAYS")
    runs.add_argument("--apply", action="store_true", help="with --prune: really delete (default: a dry run)")
    runs.set_defaults(func=cmd_runs)


def _apply_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true", help="write to RingCentral (default: a dry run)")
    parser.add_argument("--max-changes", type=int, default=25, metavar="N",
                        help="refuse to apply more than N operations (default 25)")
    parser.add_argument("--allow-deactivate", action="store_true",
                        help="allow deactivations (never more than 5%% of the active accounts)")
    parser.add_argument("--max-age-hours", type=float, default=24.0, metavar="H",
                        help="refuse values read more than H hours ago (default 24)")


def _port(text: str) -> int:
    """`--port P`: 0 (free ports) or a port whose P+1 (RingCentral's) exists too; else exit 2 naming --port."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65534:
        raise argparse.ArgumentTypeError(f"{port}: expected 0 (free ports) or 1-65534 (RingCentral gets P+1)")
    return port


def _tenant_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--tenant", help="serve this tenant file")
    source.add_argument("--users", type=int, default=DEFAULT_USERS,
                        help=f"generate a tenant of N Entra users (default {DEFAULT_USERS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed (same seed, same company)")
    parser.add_argument("--schema-profile", choices=("current", "classic"), default="current",
                        help="what the RingCentral schema declares (classic adds displayName and manager)")
    parser.add_argument("--job-status", choices=("Active", "Paused", "Quarantine", "TooManyDeletes"), default="Active",
                        help="status of the generated provisioning job (TooManyDeletes: in quarantine, its disables "
                             "held by accidental deletions prevention)")


def _verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show the notebook's cell log on stderr (it is always in the run folder's run.log)")


# Shown under each command's --help: what an analyst types first (command, then what it does). Commands not
# listed here (other helpers' additions) get none until they add theirs.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "": [("rcaudit demo", "the whole audit against the built-in sandbox, no credentials"),
         ("rcaudit check", "test both connections and each permission"),
         ("rcaudit audit --fail-on medium", "a scheduled audit: exit 1 on medium or high findings"),
         ("rcaudit fix --run latest", "review the fixes for the latest run (a dry run)"),
         ("rcaudit COMMAND --help", "each command's options and examples")],
    "demo": [("rcaudit demo", "2,000 generated users; the run folder is under outputs/"),
             ("rcaudit demo --users 300 --seed 4", "a smaller company, another seed"),
             ("rcaudit demo --job-status Quarantine", "how a quarantined job reads in the report"),
             ("rcaudit demo -v", "also show the cells' log on stderr (always in run.log)")],
    "sandbox": [("rcaudit sandbox", "serve the emulators; paste the export lines it prints"),
                ("rcaudit sandbox --rc-auth jwt", "the RingCentral JWT grant instead of a static token"),
                ("rcaudit sandbox --save /tmp/t.json", "write a generated tenant and its truth.csv, then exit")],
    "audit": [("rcaudit audit", "read both services; exit 1 on high findings"),
              ("rcaudit audit --fail-on none --mask-pii", "never fail; hash personal values in every output"),
              ("rcaudit audit -p scope_mode all -p waiver_file waivers.yaml", "notebook parameters"),
              ("rcaudit audit --snapshot outputs/RUN_ID", "re-audit a saved run without reading anything")],
    "check": [("rcaudit check", "one line per connection and permission; exit 2 if one fails")],
    "fix": [("rcaudit fix --run latest", "review every fix for the latest run (a dry run)"),
            ("rcaudit fix --run latest --attributes title,department --apply", "write those two attributes"),
            ("rcaudit fix --run latest --kinds should_be_inactive --allow-deactivate --apply",
             "deactivate the accounts of people who left"),
            ("rcaudit rollback --journal outputs/RUN_ID/fixes/FIX_ID/journal.jsonl", "undo an apply, reviewed")],
    "rollback": [("rcaudit rollback --journal outputs/RUN_ID/fixes/FIX_ID/journal.jsonl",
                  "what the rollback would write (a dry run)"),
                 ("rcaudit rollback --journal outputs/RUN_ID/fixes/FIX_ID/journal.jsonl --apply",
                  "undo every applied operation of that fix")],
}
EXIT_CODES = ("exit codes: 0 ok, 1 findings (audit --fail-on) or failed operations, 2 error "
              "(the message says what to do)")


def _examples_text(examples: list[tuple[str, str]]) -> str:
    """Each example on its own line, what it does on the next: fits 80 columns whatever the command's length."""
    lines = ["examples:"]
    for command, what in examples:
        lines += [f"  {command}", f"      {what}"]
    return "\n".join([*lines, EXIT_CODES.replace(" (the", "\n  (the")])


class _ExamplesFormatter(argparse.HelpFormatter):
    """Descriptions wrapped to the terminal as usual; a text of several lines (the examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_examples(parser: argparse.ArgumentParser, commands: Any) -> None:
    """Each command's examples as its --help epilog."""
    for name, sub in {"": parser, **commands.choices}.items():
        if name in EXAMPLES:
            sub.epilog = _examples_text(EXAMPLES[name])
            sub.formatter_class = _ExamplesFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rcaudit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rcaudit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run against the built-in sandbox, no credentials needed")
    _tenant_options(demo)
    demo.add_argument("--out", help="the run folder to create (must not exist or be empty)")
    _verbose_option(demo)
    demo.set_defaults(func=cmd_demo)

    sandbox = commands.add_parser("sandbox", help="serve the local Entra + Graph + RingCentral emulators")
    _tenant_options(sandbox)
    sandbox.add_argument("--port", type=_port, default=0,
                         help="port P for login + Graph; RingCentral gets P+1 (default: free ports)")
    sandbox.add_argument("--save", help="write the tenant (with its sandbox section) to this file and exit")
    sandbox.add_argument("--graph-auth", choices=("secret", "certificate"), default="secret",
                         help="which Graph credential the printed exports use")
    sandbox.add_argument("--rc-auth", choices=("token", "jwt"), default="token",
                         help="static SCIM token or RingCentral JWT grant in the printed exports")
    sandbox.set_defaults(func=cmd_sandbox)

    audit = commands.add_parser("audit", help="scheduled audit from the environment: run folder, report, exit code")
    audit.add_argument("--out", help="the run folder to create (must not exist or be empty)")
    audit.add_argument("--snapshot", help="re-audit a saved run (its folder or its snapshot/) instead of reading")
    audit.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="a notebook parameter, typed like papermill's -p (0001 becomes 1)")
    audit.add_argument("-r", "--raw", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="a notebook parameter kept as a string")
    audit.add_argument("--fail-on", choices=("none", "low", "medium", "high"), default="high",
                       help="exit 1 when an unwaived finding at or above this severity exists (default high)")
    audit.add_argument("--mask-pii", action="store_true",
                       help="hash every personal value (all but active, title, department, country) in the report, "
                            "CSV and summary")
    _after_run_options(audit)
    _verbose_option(audit)
    audit.set_defaults(func=cmd_audit)

    check = commands.add_parser("check", help="test both connections and each permission, one line per check")
    check.add_argument("--notify", action="store_true",
                       help="also post a test message to each RCAUDIT_NOTIFY_URLS webhook (without it they are only "
                            "read and listed)")
    check.set_defaults(func=cmd_check)

    fix = commands.add_parser(
        "fix", help="plan (and with --apply, apply) SCIM PATCH fixes for an audit run",
        description="Plan (and with --apply, apply) SCIM PATCH fixes for an audit run, in the forms Entra's "
                    "provisioning service sends RingCentral: active as the strings \"True\"/\"False\", each typed "
                    "value on its own filtered path with a string (add, replace or remove of "
                    "phoneNumbers[type eq \"mobile\"].value), never a whole item or array.")
    fix.add_argument("--run", required=True, metavar="DIR",
                     help="the audit run folder (its snapshot/ gives the values), or `latest`")
    fix.add_argument("--kinds", metavar="K,...", help="only these finding kinds")
    fix.add_argument("--attributes", metavar="A,...", help="only these attribute paths (`active` for lifecycle fixes)")
    fix.add_argument("--severity", choices=("low", "medium", "high"), help="only findings at or above this severity")
    fix.add_argument("--users", metavar="ID,...", help="only these users: Entra ids, RingCentral ids or user names")
    fix.add_argument("--include-orphans", action="store_true",
                     help="also deactivate active accounts no Entra user matches")
    booleans = fix.add_mutually_exclusive_group()
    booleans.add_argument("--json-booleans", action="store_true",
                          help="send active as a JSON boolean (true/false) instead of Entra's strings "
                               "\"True\"/\"False\" (the default, what Entra sends RingCentral)")
    booleans.add_argument("--boolean-strings", action="store_true",
                          help="accepted for old scripts; changes nothing (Entra's strings are the default)")
    _apply_options(fix)
    fix.set_defaults(func=cmd_fix)

    rollback = commands.add_parser("rollback", help="undo every applied operation of a fix-up journal (in the "
                                                    "forms of the plan it undoes)")
    rollback.add_argument("--journal", required=True, metavar="FILE", help="a fixes/<fix_id>/journal.jsonl")
    _apply_options(rollback)
    rollback.set_defaults(func=cmd_rollback)
    _provision_parser(commands)
    _history_commands(commands)
    add_examples(parser, commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RcauditError as exc:  # the one place the error tree meets the terminal
        print(f"rcaudit: error: {scrub(str(exc), _configured_secrets())}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("rcaudit: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: exit 2 (an error), never Python's 1, which a scheduler reads as findings
        print(f"rcaudit: internal error: {unexpected_error_text(exc)}", file=sys.stderr)
        return EXIT_ERROR


def unexpected_error_text(exc: BaseException) -> str:
    """An exception rcaudit did not raise on purpose, with its traceback (for a bug report), every configured
    secret blanked: its message may hold anything a library put there."""
    import traceback

    text = "".join(traceback.format_exception(exc)).rstrip()
    return scrub(f"{type(exc).__name__} (a bug in rcaudit: please report it with this text)\n{text}",
                 _configured_secrets())


def _configured_secrets() -> list[str]:
    """The secrets in the environment (settings and webhooks), blanked from whatever reaches the terminal: a
    last net under the errors' own scrubbing (an answer that echoed one, a library's message)."""
    from rcaudit.connect.config import configured_secrets

    try:
        return configured_secrets(Settings.from_env())
    except Exception:  # the settings may be what is broken: the message is still shown
        return []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
