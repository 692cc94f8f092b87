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

from . import __version__
from .config import Settings
from .errors import ConfigError, RcauditError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


DEFAULT_USERS, DEFAULT_SEED = 2000, 1


def _generated(args: argparse.Namespace) -> Any:
    from .sandbox import generate

    return generate(users=args.users, seed=args.seed, schema_profile=args.schema_profile,
                    job_status=args.job_status)


def _tenant_from_args(args: argparse.Namespace) -> dict[str, Any]:
    from .sandbox import load_tenant

    return load_tenant(args.tenant) if args.tenant else _generated(args).tenant


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox, save_tenant, write_truth_csv
    from .sandbox.tenant import with_defaults

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
    from .audit_run import audit

    params = {"sandbox_users": args.users, "sandbox_seed": args.seed, "sandbox_profile": args.schema_profile,
              "sandbox_job_status": args.job_status,
              "sandbox_tenant": str(Path(args.tenant).resolve()) if args.tenant else ""}
    started = time.perf_counter()
    code = audit(settings=Settings.from_env(), source="sandbox", out=args.out, params=params, fail_on="none")
    if code == EXIT_OK:
        print(f"rcaudit demo: done in {time.perf_counter() - started:.1f} s")
    return code


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit_run import audit, typed

    params = {name: typed(value) for name, value in args.parameter}
    params.update({name: value for name, value in args.raw})
    for reserved in ("source", "run_folder", "snapshot", "mask_pii", "fail_on"):
        if reserved in params:
            raise ConfigError(f"-p/-r {reserved}: set it with its own option (--out, --snapshot, --fail-on, "
                              "--mask-pii); the source of `rcaudit audit` is always the environment")
    return audit(settings=Settings.from_env(), source="environment", out=args.out, snapshot=args.snapshot,
                 params=params, fail_on=args.fail_on, mask_pii=args.mask_pii, log_cells=True)


def cmd_check(args: argparse.Namespace) -> int:
    from .check import run_checks

    checks = run_checks(Settings.from_env(), report=lambda check: print(check.line(), flush=True))
    failed = [c for c in checks if not c.passed]
    print(f"{len(failed)} required check(s) failed" if failed else "every required check passed")
    return EXIT_ERROR if failed else EXIT_OK


def _tenant_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--tenant", help="serve this tenant file")
    source.add_argument("--users", type=int, default=DEFAULT_USERS,
                        help=f"generate a tenant of N Entra users (default {DEFAULT_USERS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed (same seed, same company)")
    parser.add_argument("--schema-profile", choices=("current", "classic"), default="current",
                        help="what the RingCentral schema declares (classic adds displayName and manager)")
    parser.add_argument("--job-status", choices=("Active", "Paused", "Quarantine"), default="Active",
                        help="status of the generated provisioning job")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rcaudit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rcaudit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run against the built-in sandbox, no credentials needed")
    _tenant_options(demo)
    demo.add_argument("--out", help="the run folder to create (must not exist or be empty)")
    demo.set_defaults(func=cmd_demo)

    sandbox = commands.add_parser("sandbox", help="serve the local Entra + Graph + RingCentral emulators")
    _tenant_options(sandbox)
    sandbox.add_argument("--port", type=int, default=0,
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
                       help="hash names, e-mails and phone numbers in the report, CSV and summary")
    audit.set_defaults(func=cmd_audit)

    check = commands.add_parser("check", help="test both connections and each permission, one line per check")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RcauditError as exc:
        print(f"rcaudit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rcaudit: interrupted", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
