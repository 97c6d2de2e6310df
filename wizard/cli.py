"""The command line (design.md, "Command line contract (v1)"). Scripts depend on it: extend it,
never break it. Exit status: 0 success, 1 an AWS operation or the query failed, 2 invalid input.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wizard import __version__
from wizard.errors import InvalidInput, WizardError, redact
from wizard.plural import count

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
DEFAULT_SANDBOX_ACCOUNTS = 5  # member accounts of `xacct-wizard sandbox` (--accounts)
MAX_SANDBOX_ACCOUNTS = 500


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; keep its message but make it say what to do."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the commands.",
              file=sys.stderr)
        raise SystemExit(EXIT_INVALID)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="xacct-wizard", description="Set up Amazon Athena cross-account federated "
                "queries over DynamoDB: owner account A, one or more consumer accounts B.")
    p.add_argument("--version", action="version", version=f"xacct-wizard {__version__}")
    p.add_argument("--sandbox", dest="top_sandbox", action="store_true",
                   help="open the GUI on the embedded sandbox (same as `gui --sandbox`)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    def aws_opts(sp: argparse.ArgumentParser, sandbox: bool = True) -> None:
        sp.add_argument("--endpoint-url", metavar="URL",
                        help="send every AWS call to this endpoint (an emulator)")
        if sandbox:
            sp.add_argument("--sandbox", action="store_true",
                            help="use the running `xacct-wizard sandbox`, else an in-process one")

    g = sub.add_parser("gui", help="open the wizard (the default)")
    g.add_argument("profile", nargs="?")
    aws_opts(g)

    for name, helptext in (("plan", "show the changes apply would make; changes nothing"),
                           ("apply", "create or repair the setup"),
                           ("verify", "check the setup and run the test query as the consumer"),
                           ("destroy", "remove what this tool created, restore what it changed")):
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("profile")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        if name in ("apply", "destroy"):
            sp.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        if name == "apply":
            sp.add_argument("--rollback-on-failure", action="store_true",
                            help="when the test query fails after a connector upgrade, return "
                                 "to the previous version and parameters, and test again")
        if name == "verify":
            sp.add_argument("--sql", help="run this query instead of the profile's test_query")
            sp.add_argument("--all-accounts", action="store_true",
                            help="consumers_from: query from every account of the OU, not a "
                                 "sample")
        if name == "plan":
            sp.add_argument("--diff", action="store_true", help="show policy document diffs")
        aws_opts(sp)

    dr = sub.add_parser(
        "doctor", help="diagnose a setup link by link (any setup, this tool's or not); "
        "changes nothing",
        description="Follow the chain an analyst's query takes and say which link breaks. "
        "Give a profile, or --owner-profile/--consumer-profile/--catalog/--principal for a "
        "setup without one. Exit 0: no link broken; 1: a link is broken; 2: invalid input.")
    dr.add_argument("profile", nargs="?", help="a setup profile (YAML)")
    dr.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    dr.add_argument("--consumer", metavar="ACCOUNT_ID", help="only this consumer of the profile")
    dr.add_argument("--owner-profile", metavar="P", help="AWS profile of the owner account (A)")
    dr.add_argument("--consumer-profile", metavar="Q",
                    help="AWS profile of an admin of the consumer account (B)")
    dr.add_argument("--catalog", metavar="NAME", help="the catalog's name in B")
    dr.add_argument("--principal", metavar="ARN", help="the IAM user or role that queries")
    dr.add_argument("--query-profile", metavar="R",
                    help="AWS profile of the principal itself, to run the test query")
    dr.add_argument("--region", metavar="REGION", help="default: the owner profile's region")
    dr.add_argument("--workgroup", default="primary", help="the principal's workgroup")
    dr.add_argument("--query-results", metavar="S3_URI",
                    help="the query results location (default: the workgroup's)")
    dr.add_argument("--sql", help="the test query (default: a small SELECT)")
    aws_opts(dr)

    sb = sub.add_parser("sandbox", help="serve the embedded emulator until interrupted")
    sb.add_argument("--port", type=int, default=0)
    sb.add_argument("--accounts", type=int, default=DEFAULT_SANDBOX_ACCOUNTS, metavar="N",
                    help="member accounts in the organization's Analytics OU (1-500, default "
                         f"{DEFAULT_SANDBOX_ACCOUNTS})")

    d = sub.add_parser("demo", help="the whole flow on a fresh in-process sandbox")
    d.add_argument("--keep", action="store_true",
                   help="keep the setup and serve the sandbox until interrupted")

    c = sub.add_parser("credentials", help="access keys in the OS keyring")
    csub = c.add_subparsers(dest="action", required=True, parser_class=_Parser)
    cs = csub.add_parser("set", help="store access keys (prompts, no echo)")
    cs.add_argument("name")
    csub.add_parser("list", help="names of stored keys")
    cd = csub.add_parser("delete", help="delete stored keys")
    cd.add_argument("name")
    add_export_parser(sub, aws_opts)
    return p


# --------------------------------------------------------------------------- helpers
def _out(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


@contextlib.contextmanager
def _sandbox_child() -> Iterator[Path]:
    """Serve a sandbox from a child process that dies with this one; yields its state dir.
    The GUI uses this so the emulator never competes with the window for the interpreter
    lock."""
    from wizard.sandbox.child import SandboxChild

    with SandboxChild() as child:
        yield child.state_dir


@contextlib.contextmanager
def _aws_environment(args: argparse.Namespace, *, child: bool = False) -> Iterator[None]:
    """--endpoint-url and --sandbox become boto3's own standard environment for this command.

    With ``child``, a sandbox that is not already running is served from a child process
    rather than in this one.
    """
    url = getattr(args, "endpoint_url", None)
    if url is not None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"--endpoint-url {url[:80]!r} is not an http(s) URL.",
                               fix="Give it like http://127.0.0.1:5000 (an emulator) or "
                                   "https://athena.us-east-1.amazonaws.com.")
    saved = dict(os.environ)
    try:
        if getattr(args, "sandbox", False):
            from wizard.sandbox import find_running, sandbox_env

            state = None
            stack = contextlib.ExitStack()
            if child and find_running() is None:
                state = stack.enter_context(_sandbox_child())
            with stack, sandbox_env(state) as info:
                print(f"sandbox: {info.endpoint_url}", file=sys.stderr)
                if args.endpoint_url:
                    os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
                yield
            return
        if getattr(args, "endpoint_url", None):
            os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _engine(args: argparse.Namespace, quiet: bool = False):  # type: ignore[no-untyped-def]
    from wizard.engine import Engine
    from wizard.logs import log_event, setup_file_logging
    from wizard.profile import load_profile
    from wizard.render import printer

    profile = load_profile(args.profile)
    mfa = (lambda prompt: getpass.getpass(prompt)) if sys.stdin.isatty() else None
    setup_file_logging()
    show = None if quiet else printer(sys.stderr)

    def on_event(event):  # type: ignore[no-untyped-def]
        log_event(event)
        if show:
            show(event)

    return Engine(profile, on_event=on_event, mfa_prompt=mfa)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise InvalidInput("Refusing to change AWS without confirmation: there is no terminal "
                           "to ask on.", fix="Run it again with --yes.")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


# --------------------------------------------------------------------------- commands
def cmd_plan(args: argparse.Namespace) -> int:
    from wizard.logs import log_findings
    from wizard.render import plan_text

    plan = _engine(args, quiet=args.json).plan()
    log_findings(plan.findings)
    if args.json:
        _out(plan.to_json())
    else:
        print(plan_text(plan, verbose=args.diff))
    return EXIT_FAILED if plan.blocking else EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    from wizard.render import changes_text, plan_text

    engine = _engine(args, quiet=args.json)
    if not args.yes:
        plan = engine.plan()
        from wizard.logs import log_findings

        log_findings(plan.findings)
        print(plan_text(plan, verbose=True), file=sys.stderr if args.json else sys.stdout)
        if plan.blocking:
            return EXIT_FAILED
        if not plan.pending:
            if args.json:
                _out({"changes": [c.to_json() for c in plan.changes], "applied": 0})
            return EXIT_OK
        if not _confirm(f"Apply {count(len(plan.pending), 'change')}?"):
            print("Nothing changed.", file=sys.stderr)
            return EXIT_OK
    changes = engine.apply(rollback_on_failure=args.rollback_on_failure)
    applied = [c for c in changes if c.action != "none"]
    if args.json:
        _out({"changes": [c.to_json() for c in changes], "applied": len(applied),
              "journal": str(engine.journal_path)})
    else:
        print("\n".join(changes_text(changes)))
        print(f"Applied {count(len(applied), 'change')}. Journal: {engine.journal_path}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from wizard.render import query_text

    engine = _engine(args, quiet=args.json)
    result = engine.verify(args.sql, all_accounts=args.all_accounts)
    q = result.query
    report = result.doctor
    if args.json:
        doc: dict[str, Any] = q.to_json() if q else {"state": "NOT_RUN"}
        doc["findings"] = [f.to_json() for f in result.findings]
        # v1.1: every consumer's chain and test query (the keys above are the first's).
        doc["ok"] = result.ok
        doc["consumers"] = [{**c.to_json(), "query": c.query.to_json() if c.query else
                             {"state": "NOT_RUN"}} for c in (report.consumers if report else [])]
        if result.accounts:
            doc["accounts"] = [{"account": f"consumer:{a}", "state": r.state,
                                "rows": len(r.rows), "error": r.error, "cause": r.cause,
                                "fix": r.fix} for a, r in result.accounts]
        _out(doc)
    else:
        for f in result.findings:
            print(f"{f.severity.upper()}: {f.message}" + (f"\n  fix: {f.fix}" if f.fix else ""))
        for account, r in result.accounts:
            print(f"[consumer:{account}] {r.state}: {count(len(r.rows), 'row')}"
                  + (f" - {r.error}" if r.error else ""))
        if q:
            print(query_text(q))
        for c in (report.consumers[1:] if report else []):
            state = c.query.state if c.query else "NOT_RUN"
            rows = (f", {count(len(c.query.rows), 'row')}"
                    if c.query and state == "SUCCEEDED" else "")
            error = f": {c.query.error}" if c.query and c.query.error else ""
            print(f"[{c.account}] test query as {c.principal}: {state}{rows}{error}")
    return EXIT_OK if result.ok else EXIT_FAILED


_ADHOC = ("owner_profile", "consumer_profile", "catalog", "principal")


def _doctor_report(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The doctor's Report, for a profile or for the ad-hoc options; InvalidInput on misuse."""
    given = [name for name in _ADHOC if getattr(args, name)]
    if args.profile:
        if given or args.query_profile:
            raise InvalidInput("Give either a profile or --owner-profile/--consumer-profile/"
                               "--catalog/--principal, not both.")
        engine = _engine(args, quiet=True)
        ids = [c.account_id for c in engine.profile.consumers]
        if args.consumer and args.consumer not in ids:
            raise InvalidInput(f"--consumer {args.consumer} is not a consumer of this profile.",
                               fix=f"Pick one of: {', '.join(ids)}.")
        return engine.diagnose(args.consumer, sql=args.sql)
    missing = [f"--{name.replace('_', '-')}" for name in _ADHOC if not getattr(args, name)]
    if missing:
        raise InvalidInput(f"doctor needs a profile, or all of --owner-profile, "
                           f"--consumer-profile, --catalog and --principal (missing: "
                           f"{', '.join(missing)}).")
    if args.consumer:
        raise InvalidInput("--consumer picks a consumer of a profile; without a profile, "
                           "--consumer-profile and --principal say who.")
    if not re.match(r"^arn:aws[\w-]*:iam::\d{12}:(user|role)/.+", args.principal):
        raise InvalidInput(f"--principal {args.principal!r} is not an IAM user or role ARN.",
                           fix="Give it like arn:aws:iam::222222222222:user/analyst.")
    if args.query_results and not args.query_results.startswith("s3://"):
        raise InvalidInput(f"--query-results {args.query_results!r} is not an s3:// URI.")
    from wizard.credentials import make_session
    from wizard.doctor import doctor_for_accounts
    from wizard.profile import CredentialRef

    owner = make_session(CredentialRef(profile=args.owner_profile), args.region)
    region = args.region or owner.region_name
    if not region:
        raise InvalidInput("No region: the owner profile names none.", fix="Add --region.")
    consumer = make_session(CredentialRef(profile=args.consumer_profile), region)
    query = (make_session(CredentialRef(profile=args.query_profile), region)
             if args.query_profile else None)
    return doctor_for_accounts(owner, consumer, catalog=args.catalog,
                               principal_arn=args.principal, region=region,
                               query_session=query, sql=args.sql or "",
                               workgroup=args.workgroup,
                               query_results=args.query_results or "").run()


def cmd_doctor(args: argparse.Namespace) -> int:
    from wizard.render import doctor_text

    report = _doctor_report(args)
    if args.json:
        _out(report.to_json())
    else:
        print(doctor_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_destroy(args: argparse.Namespace) -> int:
    from wizard.render import changes_text

    engine = _engine(args, quiet=args.json)
    if not args.yes:
        plan = engine.plan_destroy()
        if not plan.changes:
            print("Nothing to destroy: the journal lists nothing this tool created or changed.",
                  file=sys.stderr)
            if args.json:
                _out({"changes": []})
            return EXIT_OK
        print("\n".join(changes_text(plan.changes)), file=sys.stderr if args.json else sys.stdout)
        if not _confirm(f"Undo {count(len(plan.changes), 'change')}?"):
            print("Nothing changed.", file=sys.stderr)
            return EXIT_OK
    changes = engine.destroy()
    if args.json:
        _out({"changes": [c.to_json() for c in changes]})
    else:
        print("\n".join(changes_text(changes)) or "Nothing to destroy.")
        print(f"Undid {count(len(changes), 'change')}.")
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from wizard.sandbox import serve
    from wizard.sandbox.child import remove_own_home

    if not 1 <= args.accounts <= MAX_SANDBOX_ACCOUNTS:
        print(f"--accounts must be from 1 to {MAX_SANDBOX_ACCOUNTS}, got {args.accounts}",
              file=sys.stderr)
        return EXIT_INVALID
    try:
        serve(args.port, accounts=args.accounts)
    except (RuntimeError, OSError) as exc:  # already running, or the port is taken
        print(f"Cannot start the sandbox: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        remove_own_home()  # the temporary folder a GUI or CLI run made for this child
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from wizard.engine import Engine
    from wizard.profile import load_profile
    from wizard.render import printer, query_text
    from wizard.sandbox import Sandbox

    saved = dict(os.environ)
    with Sandbox() as sb:
        try:
            os.environ.update(sb.env())
            profile = load_profile(sb.example_profile)
            engine = Engine(profile, on_event=printer(sys.stderr), poll_delay=0.2)
            print(f"Sandbox at {sb.endpoint_url}; applying {sb.example_profile}", file=sys.stderr)
            engine.apply()
            result = engine.verify()
            if result.query:
                print(query_text(result.query))
            if args.keep:
                print(f"\nKept. AWS_ENDPOINT_URL={sb.endpoint_url} AWS_CONFIG_FILE={sb.config_file}"
                      "\nServing until Ctrl-C.", file=sys.stderr)
                with contextlib.suppress(KeyboardInterrupt):
                    import threading

                    threading.Event().wait()
            else:
                engine.destroy()
            return EXIT_OK if result.ok else EXIT_FAILED
        finally:
            os.environ.clear()
            os.environ.update(saved)


def cmd_credentials(args: argparse.Namespace) -> int:
    from wizard import credentials as cr

    if args.action == "list":
        for name in cr.list_keys():
            print(name)
        return EXIT_OK
    if args.action == "delete":
        if cr.delete_keys(args.name):
            print(f"Deleted {args.name}.")
            return EXIT_OK
        print(f"No access keys named {args.name!r}.", file=sys.stderr)
        return EXIT_INVALID
    cr._backend()  # fail before asking anything when there is no keyring
    if sys.stdin.isatty():
        key_id = input("AWS access key id: ").strip()
        secret = getpass.getpass("AWS secret access key (not shown): ").strip()
        token = getpass.getpass("Session token (optional, not shown): ").strip() or None
    else:
        lines = [ln.strip() for ln in sys.stdin.read().splitlines()]
        key_id, secret = [*lines, "", ""][:2]
        token = lines[2] if len(lines) > 2 and lines[2] else None
    if not key_id or not secret:
        raise InvalidInput("Both the access key id and the secret access key are needed.")
    cr.store_keys(args.name, cr.StoredKeys(key_id, secret, token))
    print(f"Stored access keys {args.name!r} ({key_id[:4]}…) in the OS keyring.")
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    from ui.app import run

    return run(getattr(args, "profile", None), sandbox=getattr(args, "sandbox", False))


# --------------------------------------------------------------------------- export (v1.1)
def add_export_parser(sub: Any, aws_opts: Any) -> None:
    """``export PROFILE --format cloudformation|terraform|cli [--out DIR]`` (design.md v1.1)."""
    from wizard.export import FORMATS

    e = sub.add_parser("export", help="write the setup as CloudFormation, Terraform or an AWS "
                                      "CLI script (reads both accounts; changes nothing)")
    e.add_argument("profile")
    e.add_argument("--format", required=True, choices=FORMATS)
    e.add_argument("--out", metavar="DIR",
                   help="folder to write into (default: ./xacct-export-FORMAT)")
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    aws_opts(e)


def cmd_export(args: argparse.Namespace) -> int:
    from wizard.export import export

    engine = _engine(args, quiet=True)
    out = Path(args.out or f"xacct-export-{args.format}")
    result = export(engine, args.format, out, args.profile)
    if args.json:
        _out(result.to_json())
    else:
        print(f"Wrote {count(len(result.files), 'file')} ({args.format}):")
        for f in result.files:
            print(f"  {f}")
    for w in result.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    return EXIT_OK


COMMANDS = {"plan": cmd_plan, "apply": cmd_apply, "verify": cmd_verify, "destroy": cmd_destroy,
            "doctor": cmd_doctor,
            "sandbox": cmd_sandbox, "demo": cmd_demo, "credentials": cmd_credentials,
            "gui": cmd_gui, "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "gui"
    if command == "gui" and not hasattr(args, "sandbox"):
        args.sandbox, args.endpoint_url, args.profile = args.top_sandbox, None, None
    try:
        if command in ("plan", "apply", "verify", "destroy", "export", "doctor"):
            if getattr(args, "profile", None):
                from wizard.profile import load_profile

                load_profile(args.profile)  # an invalid file is reported before anything starts
            with _aws_environment(args):
                return COMMANDS[command](args)
        if command == "gui":
            with _aws_environment(args, child=True):
                return cmd_gui(args)
        return COMMANDS[command](args)
    except WizardError as exc:
        from wizard.logs import log_error

        text = redact(exc.explain() if hasattr(exc, "explain") else str(exc))
        log_error(text, command)
        print(text, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted. Apply again to resume, or destroy to roll back.", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # the last line of defence: a message, never a secret
        from wizard.profile import ProfileError

        if isinstance(exc, ProfileError):
            print(redact(str(exc)), file=sys.stderr)
            return EXIT_INVALID
        print(redact(f"Unexpected error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
