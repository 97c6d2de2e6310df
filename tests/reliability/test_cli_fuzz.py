"""Item 4 (the CLI): whatever argv and whatever profile file, ``wizard.cli.main`` ends with an
exit status of the contract (0 success, 1 an AWS operation failed, 2 invalid input) and a
message - never a traceback, never an exception escaping. A profile the loader refuses is exit 2
with a message naming the field. (The loader itself is fuzzed in tests/unit/test_profile_fuzz.)

Nothing here can reach AWS: there is no AWS config, the keyring is in memory and emptied for
every example, AWS_ENDPOINT_URL points at a closed local port, and generated --endpoint-url
values are never a reachable host. The GUI, the sandbox server and the demo are not started.
"""

from __future__ import annotations

import copy
import io
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard.cli import build_parser, main
from wizard.profile import ProfileError, load_profile

COUNTS: dict[str, int] = {}  # examples run per property (reported by the README figures)
SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

VALID: dict[str, Any] = {
    "version": 1, "region": "us-east-1",
    "owner": {"account_id": "111111111111", "credentials": {"profile": "owner-admin"}},
    "connector": {"catalog_name": "acct1dynamodb", "spill_bucket": "example-spill-bucket",
                  "spill_prefix": "athena-spill", "application_version": "latest"},
    "consumers": [{
        "account_id": "222222222222", "credentials": {"keyring": "consumer-keys"},
        "principal_arn": "arn:aws:iam::222222222222:user/analyst", "create_principal": False,
        "query_credentials": {"profile": "analyst"}, "catalog_name": "acct1dynamodb",
        "share_method": "assume-role", "query_results": "s3://example-athena-results/q/",
        "workgroup": "primary"}],
    "test_query": 'SELECT * FROM "acct1dynamodb"."default"."music" LIMIT 10',
}

INJECTION = ["; rm -rf /", "$(id)", "`id`", "../../etc/passwd", "/etc/passwd", "|| true",
             "a\nb", "x\x00y", "\u202eevil", "' OR 1=1 --", "${HOME}", "%s%s%n", "\\\\?\\C:",
             "arn:aws:iam::*:*", "*", "", " ", "\t", "A" * 5000, "🦆" * 300, "\x1b[31mred"]
NASTY_TEXT = st.one_of(st.sampled_from(INJECTION), st.text(max_size=80),
                       st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), NASTY_TEXT)
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(NASTY_TEXT, inner, max_size=4)),
    max_leaves=12)

# YAML the safe loader must refuse or bound: object tags, alias bombs, deep nesting, huge ints
YAML_NASTIES = [
    "!!python/object/apply:os.system ['id']\n",
    "a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d]\n",
    "[" * 5000 + "]" * 5000, "version: 1e99999\n", "version: " + "9" * 5000 + "\n",
    "version: 1\nversion: 2\n", "? [a, b]\n: c\n", "%YAML 9.9\n---\na: 1\n", "\ufeff\ufeff",
    "a: !!binary AAAA\n", "--- |\n  " + "x" * 100 + "\n", "\t- tab\n", "a: b: c\n",
]


def _paths(doc: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            out += [p, *_paths(v, p)]
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            p = f"{prefix}[{i}]"
            out += [p, *_paths(v, p)]
    return out


PATHS = _paths(VALID)


def _set(doc: Any, path: str, value: Any, delete: bool) -> None:
    import re

    parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
    for p in parts[:-1]:
        doc = doc[p]
    if delete:
        del doc[parts[-1]]
    else:
        doc[parts[-1]] = value


@st.composite
def mutated_profiles(draw: st.DrawFn) -> tuple[str, str]:
    """(YAML text, the field path that was broken)."""
    doc = copy.deepcopy(VALID)
    path = draw(st.sampled_from(PATHS))
    _set(doc, path, draw(JSONISH), delete=draw(st.booleans()))
    return yaml.safe_dump(doc, allow_unicode=draw(st.booleans())), path


PROFILE_TEXTS = st.one_of(
    mutated_profiles().map(lambda t: t[0]),
    JSONISH.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.sampled_from(YAML_NASTIES),
    st.text(max_size=300),
    st.binary(max_size=300),
)


# --------------------------------------------------------------------------- harness
@pytest.fixture
def cli(memory_keyring: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run main(argv) with stdin text; returns (status, stdout, stderr)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # closed: fails fast

    def run(argv: list[str], capsys: pytest.CaptureFixture[str],
            stdin: str = "") -> tuple[int, str, str]:
        memory_keyring.store.clear()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse: --help/--version (0) and usage errors (2)
            status = exc.code  # type: ignore[assignment]
        out, err = capsys.readouterr()
        return status, out, err

    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def check(status: Any, out: str, err: str) -> None:
    assert status in (0, 1, 2), (status, err[-2000:])
    assert "Traceback (most recent call last)" not in out + err, err[-3000:]
    if status != 0:
        assert err.strip(), "a failure must say why"


def starts_something_long(argv: list[str]) -> bool:
    """Would this argv open the GUI, serve the sandbox or run the demo?"""
    try:
        ns, extra = build_parser().parse_known_args(argv)
    except SystemExit:
        return False
    return not extra and getattr(ns, "command", None) in (None, "gui", "sandbox", "demo")


# --------------------------------------------------------------------------- properties
OPTION = st.one_of(
    st.sampled_from(["--json", "--yes", "--diff", "--sandbox", "-h", "--version", "--",
                     "--sql", "--endpoint-url", "--port", "--keep", "--no-such-option", "-x"]),
    NASTY_TEXT.filter(lambda s: "\x00" not in s),
)
ENDPOINT = st.sampled_from(["not a url", "http://[::1", "ftp://127.0.0.1:9", "", "💥",
                            "http://127.0.0.1:9", "http://127.0.0.1:9/$(id)", "http://",
                            "https://127.0.0.1:0", "http://user:pass@127.0.0.1:9"])


@st.composite
def argvs(draw: st.DrawFn) -> tuple[list[str], str | None]:
    """(argv, profile text to write at the path argv names, or None)."""
    command = draw(st.sampled_from(["plan", "apply", "verify", "destroy", "credentials",
                                    "gui", "sandbox", "demo", "--version", "-h", "nonsense",
                                    ""]))
    argv = [command] if command else []
    text = None
    if command in ("plan", "apply", "verify", "destroy"):
        where = draw(st.sampled_from(["file", "file", "nasty", "none"]))
        if where == "file":
            argv.append("@PROFILE@")
            text = draw(PROFILE_TEXTS)
        elif where == "nasty":
            argv.append(draw(NASTY_TEXT.filter(lambda s: "\x00" not in s)))
        for opt in draw(st.lists(OPTION, max_size=4)):
            argv.append(opt)
            if opt == "--endpoint-url":
                argv.append(draw(ENDPOINT))
            elif opt in ("--sql", "--port"):
                argv.append(draw(NASTY_TEXT.filter(lambda s: "\x00" not in s)))
    elif command == "credentials":
        argv += draw(st.lists(st.one_of(st.sampled_from(["set", "list", "delete"]),
                                        NASTY_TEXT.filter(lambda s: "\x00" not in s)),
                              max_size=3))
    else:
        argv += draw(st.lists(OPTION, max_size=3))
    return argv, text


@SETTINGS
@given(case=argvs(), stdin=st.one_of(st.just(""), st.text(max_size=200)))
def test_any_argv_ends_with_a_contract_exit_and_a_message(
        cli: Any, capsys: pytest.CaptureFixture[str], case: tuple[list[str], Any],
        stdin: str) -> None:
    argv, text = case
    if text is not None:
        path = cli.tmp / "profile.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "replace"))
        argv = [str(path) if a == "@PROFILE@" else a for a in argv]
    if starts_something_long(argv):
        return
    COUNTS["argv"] = COUNTS.get("argv", 0) + 1
    check(*cli(argv, capsys, stdin))


@SETTINGS
@given(case=mutated_profiles(), command=st.sampled_from(["plan", "apply", "verify",
                                                           "destroy"]))
def test_a_broken_profile_field_is_exit_2_naming_the_field(
        cli: Any, capsys: pytest.CaptureFixture[str], case: tuple[str, str],
        command: str) -> None:
    text, broken = case
    path = cli.tmp / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    COUNTS["fields"] = COUNTS.get("fields", 0) + 1
    yes = ["--yes"] if command in ("apply", "destroy") else []
    status, out, err = cli([command, str(path), *yes], capsys)
    check(status, out, err)
    try:
        load_profile(path)
    except ProfileError as exc:
        assert status == 2
        named = {p.path for p in exc.problems}
        # the problem names the broken field, a field inside it, or the field that holds it
        assert any(n == broken or n.startswith(broken) or broken.startswith(n) or
                   n in ("(file)", "(profile)") for n in named), (broken, named)
        for n in named - {"(file)", "(profile)"}:
            assert n in err, f"the message must name {n}: {err!r}"
        return
    # still a valid profile: it got as far as credentials (none here), a failure with a message
    assert status in (1, 2) and err.strip()


@SETTINGS
@given(text=PROFILE_TEXTS)
def test_any_profile_file_ends_with_a_contract_exit_and_a_message(
        cli: Any, capsys: pytest.CaptureFixture[str], text: Any) -> None:
    path = cli.tmp / "profile.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "replace"))
    COUNTS["files"] = COUNTS.get("files", 0) + 1
    check(*cli(["plan", str(path), "--json"], capsys))


@pytest.mark.parametrize("path", ["; rm -rf /", "$(id)", "../../etc/passwd", "/etc/passwd",
                                  "/", "/dev/null", "/dev/zero", "/proc/self/environ"])
def test_injection_looking_profile_paths_are_only_ever_read(
        cli: Any, capsys: pytest.CaptureFixture[str], path: str) -> None:
    status, out, err = cli(["plan", path], capsys)
    check(status, out, err)
    assert (status == 2 and "(file)" in err) or "(profile)" in err


def test_a_profile_naming_a_missing_aws_profile_is_invalid_input(
        cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = cli.tmp / "p.yaml"
    path.write_text(yaml.safe_dump(VALID))
    status, _out, err = cli(["plan", str(path)], capsys)
    assert status == 2 and "owner-admin" in err and "aws configure" in err


def test_an_invalid_endpoint_url_is_invalid_input(
        cli: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config = cli.tmp / "aws-config"
    config.write_text("".join(
        f"[profile {name}]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        for name in ("owner-admin", "consumer-admin")))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    doc = copy.deepcopy(VALID)
    doc["consumers"][0]["credentials"] = {"profile": "consumer-admin"}
    path = cli.tmp / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    status, _out, err = cli(["plan", str(path), "--endpoint-url", "not a url"], capsys)
    check(status, _out, err)
    assert status == 2 and "--endpoint-url" in err
