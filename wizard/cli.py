"""The command line (design.md, "Command line contract (v1)"). Scripts depend on it: extend it,
never break it. Exit status: 0 success, 1 an AWS operation or the query failed, 2 invalid input.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wizard import __version__
from wizard.errors import InvalidInput, WizardError, redact

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
                "queries over DynamoDB: owner account A, consumer account(s) B.")
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
        if name == "verify":
            sp.add_argument("--sql", help="run this query instead of the profile's test_query")
            sp.add_argument("--all-accounts", action="store_true",
                            help="consumers_from: query from every account of the OU, not a "
                                 "sample")
        if name == "plan":
            sp.add_argument("--diff", action="store_true", help="show policy document diffs")
        aws_opts(sp)

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
    return p


# --------------------------------------------------------------------------- helpers
def _out(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


@contextlib.contextmanager
def _sandbox_child() -> Iterator[Path]:
    """Serve a sandbox from a child process; yields its state dir. The GUI uses this so the
    emulator never competes with the window for the interpreter lock."""
    import shutil
    import signal
    import subprocess
    import tempfile

    from wizard.sandbox.state import wait_for_state

    home = Path(tempfile.mkdtemp(prefix="xacct-sandbox-"))
    frozen = getattr(sys, "frozen", False)
    cmd = [sys.executable, "sandbox"] if frozen else [sys.executable, "-m", "wizard", "sandbox"]
    proc = subprocess.Popen(cmd, env={**os.environ, "XACCT_WIZARD_HOME": str(home)},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        if wait_for_state(home / "sandbox", timeout=60) is None:
            proc.kill()
            detail = (proc.communicate(timeout=5)[1] or b"").decode(errors="replace")[-500:]
            raise WizardError(f"The sandbox did not start: {redact(detail)}",
                              fix="Run `xacct-wizard sandbox` in a terminal to see why.")
        yield home / "sandbox"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(home, ignore_errors=True)


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
    from wizard.render import plan_text

    plan = _engine(args, quiet=args.json).plan()
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
        print(plan_text(plan, verbose=True), file=sys.stderr if args.json else sys.stdout)
        if plan.blocking:
            return EXIT_FAILED
        if not plan.pending:
            if args.json:
                _out({"changes": [c.to_json() for c in plan.changes], "applied": 0})
            return EXIT_OK
        if not _confirm(f"Apply {len(plan.pending)} change(s)?"):
            print("Nothing changed.", file=sys.stderr)
            return EXIT_OK
    changes = engine.apply()
    applied = [c for c in changes if c.action != "none"]
    if args.json:
        _out({"changes": [c.to_json() for c in changes], "applied": len(applied),
              "journal": str(engine.journal_path)})
    else:
        print("\n".join(changes_text(changes)))
        print(f"Applied {len(applied)} change(s). Journal: {engine.journal_path}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from wizard.render import query_text

    engine = _engine(args, quiet=args.json)
    result = engine.verify(args.sql, all_accounts=args.all_accounts)
    q = result.query
    if args.json:
        doc: dict[str, Any] = q.to_json() if q else {"state": "NOT_RUN"}
        doc["findings"] = [f.to_json() for f in result.findings]
        if result.accounts:
            doc["accounts"] = [{"account": f"consumer:{a}", "state": r.state,
                                "rows": len(r.rows), "error": r.error, "cause": r.cause,
                                "fix": r.fix} for a, r in result.accounts]
        _out(doc)
    else:
        for f in result.findings:
            print(f"{f.severity.upper()}: {f.message}" + (f"\n  fix: {f.fix}" if f.fix else ""))
        for account, r in result.accounts:
            print(f"[consumer:{account}] {r.state}: {len(r.rows)} row(s)"
                  + (f" - {r.error}" if r.error else ""))
        if q:
            print(query_text(q))
    return EXIT_OK if result.ok else EXIT_FAILED


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
        if not _confirm(f"Undo {len(plan.changes)} change(s)?"):
            print("Nothing changed.", file=sys.stderr)
            return EXIT_OK
    changes = engine.destroy()
    if args.json:
        _out({"changes": [c.to_json() for c in changes]})
    else:
        print("\n".join(changes_text(changes)) or "Nothing to destroy.")
        print(f"Undid {len(changes)} change(s).")
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from wizard.sandbox import serve

    if not 1 <= args.accounts <= MAX_SANDBOX_ACCOUNTS:
        print(f"--accounts must be from 1 to {MAX_SANDBOX_ACCOUNTS}, got {args.accounts}",
              file=sys.stderr)
        return EXIT_INVALID
    try:
        serve(args.port, accounts=args.accounts)
    except (RuntimeError, OSError) as exc:  # already running, or the port is taken
        print(f"Cannot start the sandbox: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
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


COMMANDS = {"plan": cmd_plan, "apply": cmd_apply, "verify": cmd_verify, "destroy": cmd_destroy,
            "sandbox": cmd_sandbox, "demo": cmd_demo, "credentials": cmd_credentials,
            "gui": cmd_gui}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "gui"
    if command == "gui" and not hasattr(args, "sandbox"):
        args.sandbox, args.endpoint_url, args.profile = args.top_sandbox, None, None
    try:
        if command in ("plan", "apply", "verify", "destroy"):
            with _aws_environment(args):
                return COMMANDS[command](args)
        if command == "gui":
            with _aws_environment(args, child=True):
                return cmd_gui(args)
        return COMMANDS[command](args)
    except WizardError as exc:
        print(redact(exc.explain() if hasattr(exc, "explain") else str(exc)), file=sys.stderr)
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
