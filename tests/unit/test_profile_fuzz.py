"""Fuzzing the profile loader: whatever comes in, the outcome is a profile or a ProfileError.

Issue 5 item 4: bad input never crashes. The CLI turns a ProfileError into exit status 2 with
its problems; anything else escaping the loader would be a traceback in front of a user. Every
problem must also be printable as is (no raw control or bidi characters reach a terminal) and
must not echo a secret.
"""

from __future__ import annotations

import copy
import os
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard.profile import (
    ConnectorConfig,
    ConsumerConfig,
    CredentialRef,
    OwnerConfig,
    ProfileError,
    SetupProfile,
    load_profile,
    profile_from_dict,
    profile_to_dict,
    save_profile,
    validate,
)

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
EXAMPLE: dict[str, Any] = {  # design.md's example profile
    "version": 1,
    "region": "us-east-1",
    "owner": {"account_id": "111111111111", "credentials": {"profile": "owner-admin"}},
    "connector": {
        "catalog_name": "acct1dynamodb",
        "spill_bucket": "example-spill-bucket",
        "spill_prefix": "athena-spill",
        "application_version": "latest",
    },
    "consumers": [
        {
            "account_id": "222222222222",
            "credentials": {"profile": "consumer-admin"},
            "principal_arn": "arn:aws:iam::222222222222:user/analyst",
            "create_principal": False,
            "query_credentials": {"profile": "analyst"},
            "catalog_name": "acct1dynamodb",
            "share_method": "assume-role",
            "query_results": "s3://example-athena-results/queries/",
            "workgroup": "primary",
        }
    ],
    "test_query": 'SELECT * FROM "acct1dynamodb"."default"."music" LIMIT 10',
}
EXAMPLE_YAML = yaml.safe_dump(EXAMPLE, sort_keys=False)


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)

# XACCT_FUZZ_EXAMPLES=5000 for a deeper local run; the default keeps the unit suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("XACCT_FUZZ_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

KNOWN_KEYS = [
    "version", "region", "owner", "connector", "consumers", "test_query", "account_id",
    "credentials", "profile", "keyring", "catalog_name", "spill_bucket", "spill_prefix",
    "application_version", "existing_function_arn", "lambda_memory", "lambda_timeout",
    "stack_name", "kms_key_id", "disable_spill_encryption", "create_spill_bucket",
    "principal_arn", "create_principal", "query_credentials", "share_method", "query_results",
    "workgroup",
]
HOSTILE = "\x00\x07\x1b\u202e\u200b\ufeff\n\t\r'\"\\${}*?/:;`|<>&%\U0001f600é"
hostile_text = st.text(alphabet=st.sampled_from(HOSTILE) | st.characters(), max_size=40)
# (ints past Python's 4300-digit str() limit are tested below: hypothesis cannot print them)
odd_numbers = st.sampled_from([10**4000, -(10**4000), 2**64, float("inf"), float("-inf"),
                               float("nan"), -0.0, 1e308])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | odd_numbers
    | st.floats()
    | hostile_text
    | st.sampled_from(["111111111111", "us-east-1", "arn:aws:iam::222222222222:user/a",
                      "s3://b-b-b/x/", "latest", "direct", "acct1dynamodb"])
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=12)
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


def check_outcome(call: Any, arg: object) -> ProfileError | SetupProfile:
    """The only two allowed outcomes, and a well-formed error when it is one."""
    try:
        result = call(arg)
    except ProfileError as err:
        assert err.problems
        for p in err.problems:
            for text in (p.path, p.message):
                assert isinstance(text, str) and text.strip()
                assert text.isprintable(), f"unescaped character in {text!r}"
            assert "internal error" not in p.message, p
        assert str(err).count("\n") == len(err.problems) - 1
        return err
    assert isinstance(result, SetupProfile)
    assert validate(result) == []
    return result


# --------------------------------------------------------------------------- raw structures
@FUZZ
@given(json_like)
def test_any_structure(data: object) -> None:
    check_outcome(profile_from_dict, data)


@FUZZ
@given(st.dictionaries(keys, json_like, max_size=6))
def test_any_mapping(data: dict[str, Any]) -> None:
    check_outcome(profile_from_dict, data)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_examples(draw: st.DrawFn) -> dict[str, Any]:
    """The valid example with a few values replaced, keys dropped or keys added."""
    data = example()
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_like)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(keys)] = draw(json_like)
    return data


@FUZZ
@given(mutated_examples())
def test_mutated_example(data: dict[str, Any]) -> None:
    before = copy.deepcopy(data)
    check_outcome(profile_from_dict, data)
    # (data != data when a NaN is in it)
    assert data == before or data != data, "the loader must not modify its input"


# --------------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load_text(directory: Path, content: str | bytes) -> ProfileError | SetupProfile:
    f = directory / "fuzz.yaml"
    f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "replace"))
    return check_outcome(load_profile, f)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_file(fuzz_dir: Path, text: str) -> None:
    _load_text(fuzz_dir, text)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_file(fuzz_dir: Path, content: bytes) -> None:
    _load_text(fuzz_dir, content)


YAML_NOISE = st.sampled_from([
    ":", "- ", "  ", "\t", "{", "}", "[", "]", "&a ", "*a", "!!", "!!python/object:os.system ",
    "<<: ", "? ", "|", ">", "#", "'", '"', "\n", "%YAML 1.1\n", "---\n", "...\n", "\x00",
    "\ufeff", "9" * 5000, "0o7", "0x1F", "1e9999", ".nan", "~", "yes", "2026-01-01",
])


@st.composite
def yaml_ish(draw: st.DrawFn) -> str:
    """The example's YAML (or a mutated dump of it) with random edits spliced in."""
    if draw(st.booleans()):
        text = EXAMPLE_YAML
    else:
        text = yaml.safe_dump(draw(mutated_examples()), sort_keys=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        edit = draw(st.sampled_from(["insert", "delete", "duplicate", "replace"]))
        if not lines:
            lines = [draw(YAML_NOISE)]
        elif edit == "insert":
            line = lines[i]
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(YAML_NOISE | hostile_text) + line[at:]
        elif edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines[i] = draw(st.text(alphabet=string.printable, max_size=30)) + "\n"
    return "".join(lines)


@FUZZ
@given(yaml_ish())
def test_yaml_ish_files(fuzz_dir: Path, text: str) -> None:
    _load_text(fuzz_dir, text)


# --------------------------------------------------------------------------- secrets
secrets_ = st.sampled_from([SECRET_KEY, ACCESS_KEY_ID]) | st.builds(
    lambda a, b: a + b,
    st.sampled_from(["AKIA", "ASIA"]),
    st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=16),
)


@FUZZ
@given(mutated_examples(), secrets_, st.data())
def test_injected_secret_never_echoed(data: dict[str, Any], secret: str, draw: Any) -> None:
    """A secret anywhere - as a value or a key, known place or not - is refused, unrepeated."""
    paths = [p for p in _paths(data) if p]
    target: Any = data
    if paths and draw.draw(st.booleans()):
        path = draw.draw(st.sampled_from(paths))
        for part in path[:-1]:
            target = target[part]
        if isinstance(target, dict | list):
            target[path[-1]] = secret
    else:
        data[secret if draw.draw(st.booleans()) else "password"] = secret
    result = check_outcome(profile_from_dict, data)
    if isinstance(result, ProfileError):
        assert secret not in str(result)
    else:  # only when the injection landed nowhere (e.g. under a replaced scalar)
        assert secret not in repr(result)


# --------------------------------------------------------------------------- round trip
def _text(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=low, max_size=high)


LOWER = string.ascii_lowercase + string.digits
accounts = _text(string.digits, 12, 12)
creds = st.one_of(
    st.builds(CredentialRef, profile=_text(LOWER + "-", 1, 20)),
    st.builds(CredentialRef, keyring=_text(string.ascii_letters + "._-", 1, 20)),
)
iam_names = _text(string.ascii_letters + string.digits + "_+=,.@-", 1, 20)
folders = st.lists(_text(LOWER, 1, 8), max_size=2)


@st.composite
def valid_profiles(draw: st.DrawFn) -> SetupProfile:
    owner = draw(accounts)
    n = draw(st.integers(1, 3))
    ids = draw(st.lists(accounts.filter(lambda a: a != owner), min_size=n, max_size=n,
                        unique=True))
    catalog = "c" + draw(_text(LOWER + "_-", 0, 30))
    bucket = "b" + draw(_text(LOWER + "-", 1, 30)) + "1"
    consumers = [
        ConsumerConfig(
            account_id=a,
            credentials=draw(creds),
            principal_arn=f"arn:aws:iam::{a}:{draw(st.sampled_from(['user', 'role']))}/"
            + "".join(f + "/" for f in draw(folders)) + draw(iam_names),
            query_results=f"s3://{bucket}/" + "".join(f + "/" for f in draw(folders)),
            catalog_name=draw(st.sampled_from([catalog, catalog + "@b", "Cat_B"])),
            create_principal=draw(st.booleans()),
            query_credentials=draw(st.none() | creds),
            share_method=draw(st.sampled_from(["assume-role", "direct"])),
            workgroup=draw(_text(string.ascii_letters + "._-", 1, 20)),
        )
        for a in ids
    ]
    return SetupProfile(
        region=draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"])),
        owner=OwnerConfig(owner, draw(creds)),
        connector=ConnectorConfig(
            catalog_name=catalog,
            spill_bucket=bucket,
            spill_prefix="/".join(["s", *draw(folders)]),
            application_version=draw(st.sampled_from(["latest", "2026.33.1", "1.0.0"])),
            lambda_memory=draw(st.integers(128, 3008)),
            lambda_timeout=draw(st.integers(1, 900)),
            stack_name=draw(st.none() | st.builds(lambda t: "S" + t, _text(LOWER + "-", 0, 40))),
            create_spill_bucket=draw(st.booleans()),
            disable_spill_encryption=draw(st.booleans()),
        ),
        consumers=consumers,
        test_query=draw(st.just("") | st.text(min_size=1, max_size=50).filter(
            lambda q: q.strip() and q.isprintable())),
    )


@FUZZ
@given(valid_profiles())
def test_round_trip(profile: SetupProfile) -> None:
    assert validate(profile) == []
    text = yaml.safe_dump(profile_to_dict(profile), sort_keys=False, allow_unicode=True)
    assert profile_from_dict(yaml.safe_load(text)) == profile


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(valid_profiles())
def test_round_trip_through_files(fuzz_dir: Path, profile: SetupProfile) -> None:
    f = fuzz_dir / "round.yaml"
    save_profile(profile, f)
    assert load_profile(f) == profile


# --------------------------------------------------------------------------- extremes
def _deep(depth: int, make_list: bool) -> Any:
    node: Any = "leaf"
    for _ in range(depth):
        node = [node] if make_list else {"x": node}
    return node


@pytest.mark.parametrize("make_list", [True, False])
@pytest.mark.parametrize("depth", [40, 5_000, 50_000])
def test_deep_nesting(depth: int, make_list: bool) -> None:
    data = example()
    data["connector"]["extra"] = _deep(depth, make_list)
    err = check_outcome(profile_from_dict, data)
    assert isinstance(err, ProfileError)


def test_huge_numbers_everywhere() -> None:
    """An int str() refuses to print (over 4300 digits) in every place of the profile."""
    for path in _paths(example()):
        data = example()
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = 10**5000
        result = check_outcome(profile_from_dict, data)
        assert isinstance(result, ProfileError), path


def test_self_referential_structures() -> None:
    data = example()
    loop: list[Any] = []
    loop.append(loop)
    data["consumers"][0]["x"] = loop
    d: dict[str, Any] = {}
    d["d"] = d
    data["owner"]["credentials"]["profile"] = d
    assert isinstance(check_outcome(profile_from_dict, data), ProfileError)


def test_many_values() -> None:
    data = example()
    data["connector"]["extra"] = list(range(120_000))
    err = check_outcome(profile_from_dict, data)
    assert isinstance(err, ProfileError)


def test_hostile_objects() -> None:
    class Evil:
        def __repr__(self) -> str:
            raise RuntimeError("no")

        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no")

        __hash__ = object.__hash__

    data = example()
    data["region"] = Evil()
    data["owner"][Evil()] = Evil()
    data["consumers"][0] = Evil()
    check_outcome(profile_from_dict, data)
    check_outcome(profile_from_dict, Evil())
