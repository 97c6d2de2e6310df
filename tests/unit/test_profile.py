"""Profile loading, validation and saving: every rule, good and bad, by field path.

The profile drives changes in production accounts and arrives from users, so each rule is pinned
here with a value it must accept and values it must refuse, and each refusal is checked for the
path it names (the CLI prints it, the GUI highlights that field).
"""

from __future__ import annotations

import copy
import os
import pickle
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from wizard import profile as profile_mod
from wizard.profile import (
    ConnectorConfig,
    ConsumerConfig,
    CredentialRef,
    OwnerConfig,
    Problem,
    ProfileError,
    SetupProfile,
    load_profile,
    profile_from_dict,
    profile_to_dict,
    save_profile,
    validate,
    validate_field,
)

# design.md, "Profile file (YAML, version 1)", verbatim.
DESIGN_EXAMPLE = """\
version: 1
region: us-east-1
owner:                                  # account A: owns the table and the connector
  account_id: "111111111111"
  credentials: {profile: owner-admin}   # or {keyring: NAME}; never a secret in this file
connector:
  catalog_name: acct1dynamodb           # Lambda function name and Athena catalog in A
  spill_bucket: example-spill-bucket
  spill_prefix: athena-spill
  application_version: latest           # or a SAR semantic version
  # existing_function_arn: arn:aws:lambda:...   use a connector that is already deployed
consumers:                              # one or more consumer accounts (B)
  - account_id: "222222222222"
    credentials: {profile: consumer-admin}
    principal_arn: arn:aws:iam::222222222222:user/analyst
    create_principal: false             # true: create this IAM user when it does not exist
    query_credentials: {profile: analyst}   # optional: who runs the test query (see below)
    catalog_name: acct1dynamodb         # the catalog's name in B
    share_method: assume-role           # console parity (AthenaCrossAccountCreate-<A>) or "direct"
    query_results: s3://example-athena-results/queries/
    workgroup: primary
test_query: SELECT * FROM "acct1dynamodb"."default"."music" LIMIT 10
"""

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" + "Ab1+" * 30


def example() -> dict[str, Any]:
    """A fresh, valid profile as YAML loads it (design.md's example)."""
    return yaml.safe_load(DESIGN_EXAMPLE)


def _walk(data: Any, dotted: str) -> tuple[Any, Any]:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, int(last) if isinstance(node, list) else last


def with_value(dotted: str, value: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The example with one value replaced (``consumers.0.principal_arn``)."""
    data = example() if data is None else data
    node, key = _walk(data, dotted)
    node[key] = value
    return data


def without(dotted: str) -> dict[str, Any]:
    data = example()
    node, key = _walk(data, dotted)
    del node[key]
    return data


def problems(data: object) -> dict[str, str]:
    """{path: message} of a profile that must be refused."""
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data)
    err = info.value
    assert err.problems, "a ProfileError always says why"
    out: dict[str, str] = {}
    for p in err.problems:
        out[p.path] = out[p.path] + " | " + p.message if p.path in out else p.message
    return out


def assert_refused(data: object, path: str, *fragments: str) -> str:
    found = problems(data)
    assert path in found, f"expected a problem at {path}, got {found}"
    for fragment in fragments:
        assert fragment in found[path], f"{fragment!r} not in {found[path]!r}"
    return found[path]


def assert_only(data: object, path: str, *fragments: str) -> None:
    """Exactly one problem, at ``path``: one mistake is reported once."""
    found = problems(data)
    assert list(found) == [path], found
    for fragment in fragments:
        assert fragment in found[path], f"{fragment!r} not in {found[path]!r}"


# =========================================================================== the example
def test_design_example_loads() -> None:
    p = profile_from_dict(example())
    assert p.region == "us-east-1"
    assert p.owner == OwnerConfig("111111111111", CredentialRef(profile="owner-admin"))
    assert p.connector.catalog_name == "acct1dynamodb"
    assert p.connector.deployed_stack_name == "serverlessrepo-acct1dynamodb"
    (c,) = p.consumers
    assert c.principal_arn == "arn:aws:iam::222222222222:user/analyst"
    assert c.query_credentials == CredentialRef(profile="analyst")
    assert c.principal_kind == "user" and c.principal_name == "analyst"
    assert validate(p) == []


def test_design_md_file_example_loads(tmp_path: Path) -> None:
    """The example in ../shared/design.md itself (when the checkout has it) stays loadable."""
    design = Path(__file__).resolve().parents[3] / "shared" / "design.md"
    if not design.exists():
        pytest.skip("design.md is not beside this checkout")
    text = design.read_text(encoding="utf-8")
    start = text.index("```yaml\n", text.index("## Profile file")) + len("```yaml\n")
    block = text[start : text.index("```", start)]
    f = tmp_path / "design.yaml"
    f.write_text(block, encoding="utf-8")
    assert load_profile(f) == profile_from_dict(example())


def test_profile_to_dict_is_the_documented_shape() -> None:
    """Saving the design example gives back exactly the documented keys and values."""
    assert profile_to_dict(profile_from_dict(example())) == example()


# =========================================================================== version
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("1", "expected the integer 1, got str"),
        (True, "got bool"),
        (1.0, "got float"),
        (None, "got null"),
        (0, "unsupported version 0"),
        (-1, "unsupported version"),
    ],
)
def test_bad_version(value: object, fragment: str) -> None:
    assert_only(with_value("version", value), "version", fragment)


def test_missing_version() -> None:
    assert_only(without("version"), "version", "missing", "version: 1")


@pytest.mark.parametrize("newer", [2, 99, 10**5000], ids=["2", "99", "huge"])
def test_newer_version_refused_alone(newer: int) -> None:
    """A newer file's keys would all look unknown: only the upgrade message is given."""
    data = with_value("version", newer)
    data["some_future_key"] = {"x": 1}
    data["region"] = 12
    assert_only(data, "version", "newer xacct-wizard", "upgrade")


# =========================================================================== account ids
@pytest.mark.parametrize("good", ["111111111111", "000000000001", 111111111111, 999999999999])
def test_good_owner_account(good: object) -> None:
    assert profile_from_dict(with_value("owner.account_id", good)).owner.account_id == str(good)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (11111111111, "quotes"),  # 11 digits: lost a leading zero
        (0o11111111111, "quotes"),  # what YAML makes of an unquoted 011111111111
        (1111111111111, "12 digits"),
        (-111111111111, "12 digits"),
        (10**400, "12 digits"),
        ("11111111111", "12 digits"),
        ("1111111111111", "12 digits"),
        ("11111111111a", "12 digits"),
        (" 111111111111", "12 digits"),
        ("١١١١١١١١١١١١", "12 digits"),  # Arabic-Indic digits are digits to str.isdigit
        (111111111111.0, "got float"),
        (True, "got bool"),
        (None, "got null"),
        (["111111111111"], "got list"),
    ],
)
def test_bad_account_ids(bad: object, fragment: str) -> None:
    assert_only(with_value("owner.account_id", bad), "owner.account_id", fragment)
    assert_only(with_value("consumers.0.account_id", bad), "consumers[0].account_id", fragment)


def test_yaml_unquoted_short_account_id_explains_quoting(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(DESIGN_EXAMPLE.replace('"111111111111"', "11111111111"), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(f)
    assert "owner.account_id: " in str(info.value)
    assert "quotes" in str(info.value) and "leading zeros" in str(info.value)


def test_yaml_unquoted_twelve_digit_account_id_accepted(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(DESIGN_EXAMPLE.replace('"111111111111"', "111111111111"), encoding="utf-8")
    assert load_profile(f).owner.account_id == "111111111111"


def test_owner_and_consumer_must_differ() -> None:
    data = with_value("consumers.0.account_id", "111111111111")
    data["consumers"][0]["principal_arn"] = "arn:aws:iam::111111111111:user/analyst"
    assert_only(data, "consumers[0].account_id", "owner's account", "another account")


def test_consumers_unique() -> None:
    data = example()
    data["consumers"].append(copy.deepcopy(data["consumers"][0]))
    assert_only(data, "consumers[1].account_id", "same account as consumers[0]")


def test_two_distinct_consumers_fine() -> None:
    data = example()
    second = copy.deepcopy(data["consumers"][0])
    second.update(account_id="333333333333", principal_arn="arn:aws:iam::333333333333:role/q")
    data["consumers"].append(second)
    assert [c.account_id for c in profile_from_dict(data).consumers] == [
        "222222222222",
        "333333333333",
    ]


@pytest.mark.parametrize(("value", "fragment"), [([], "at least one"), ("x", "got str"),
                                                 ({"a": 1}, "got mapping"), (None, "got null")])
def test_consumers_list(value: object, fragment: str) -> None:
    assert_only(with_value("consumers", value), "consumers", fragment)


# =========================================================================== catalog + stack
@pytest.mark.parametrize("good", ["acct1dynamodb", "a", "my_cat-1", "x" * 64, "0-_"])
def test_good_catalog(good: str) -> None:
    data = with_value("connector.catalog_name", good)
    del data["consumers"][0]["catalog_name"]
    p = profile_from_dict(data)
    assert p.connector.catalog_name == good
    assert p.consumers[0].catalog_name == good  # the consumer's defaults to the connector's


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "empty"),
        ("x" * 65, "at most 64"),
        ("Acct1", "lowercase"),
        ("a.b", "lowercase letters, digits"),
        ("café", "lowercase letters, digits"),
        ("hive", "reserved"),
        ("awsdatacatalog", "reserved"),
        ("jmx", "reserved"),
        ("system", "reserved"),
        (123, "got int (put it in quotes)"),
    ],
)
def test_bad_catalog(bad: object, fragment: str) -> None:
    data = with_value("connector.catalog_name", bad)
    del data["consumers"][0]["catalog_name"]  # inherits the bad name: still one problem
    assert_only(data, "connector.catalog_name", fragment)


def test_catalog_with_underscore_derives_a_valid_stack_name() -> None:
    p = profile_from_dict(with_value("connector.catalog_name", "acct_1"))
    assert p.connector.deployed_stack_name == "serverlessrepo-acct-1"


@pytest.mark.parametrize("good", ["my-stack", "A1", "x" * 113, "serverlessrepo-x"])
def test_good_stack_name(good: str) -> None:
    p = profile_from_dict(with_value("connector.stack_name", good))
    assert p.connector.deployed_stack_name == f"serverlessrepo-{good}"


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("my_stack", "'_' is not allowed"),
        ("x" * 114, "at most 128"),  # 15 + 114 = 129
        ("a.b", "letters, digits"),
        ("", "must not be empty"),
        (7, "got int"),
    ],
)
def test_bad_stack_name(bad: object, fragment: str) -> None:
    assert_only(with_value("connector.stack_name", bad), "connector.stack_name", fragment)


@pytest.mark.parametrize("good", ["Acct1@x-y_z", "x" * 127, "acct1dynamodb"])
def test_good_consumer_catalog(good: str) -> None:
    assert profile_from_dict(with_value("consumers.0.catalog_name", good))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [("x" * 128, "at most 127"), ("a.b", "letters, digits"), ("HIVE", "reserved"),
     ("", "empty"), ("a b", "letters"), (None, "got null")],
)
def test_bad_consumer_catalog(bad: object, fragment: str) -> None:
    data = with_value("consumers.0.catalog_name", bad)
    assert_only(data, "consumers[0].catalog_name", fragment)


# =========================================================================== numbers, query
@pytest.mark.parametrize(("key", "good"), [("lambda_memory", 128), ("lambda_memory", 3008),
                                           ("lambda_timeout", 1), ("lambda_timeout", 900)])
def test_good_lambda_limits(key: str, good: int) -> None:
    assert getattr(profile_from_dict(with_value(f"connector.{key}", good)).connector, key) == good


@pytest.mark.parametrize(
    ("key", "bad", "fragment"),
    [
        ("lambda_memory", 127, "between 128 and 3008"),
        ("lambda_memory", 3009, "between 128 and 3008"),
        ("lambda_memory", 10**1000, "between 128 and 3008"),
        ("lambda_memory", "1024", "expected an integer, got str"),
        ("lambda_memory", 1024.0, "got float"),
        ("lambda_memory", True, "got bool"),
        ("lambda_timeout", 0, "between 1 and 900"),
        ("lambda_timeout", 901, "between 1 and 900"),
        ("lambda_timeout", None, "got null"),
    ],
)
def test_bad_lambda_limits(key: str, bad: object, fragment: str) -> None:
    assert_only(with_value(f"connector.{key}", bad), f"connector.{key}", fragment)


def test_test_query_default_when_omitted() -> None:
    p = profile_from_dict(without("test_query"))
    assert p.test_query == ""
    assert p.effective_test_query == 'SELECT * FROM "acct1dynamodb"."default"."music" LIMIT 10'


@pytest.mark.parametrize("good", ["SELECT 1", "x" * 262_144, "é" * 131_072, "SELECT\n\t1"])
def test_good_test_query(good: str) -> None:
    assert profile_from_dict(with_value("test_query", good)).test_query == good


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "must not be empty"),
        ("  \n\t", "must not be empty"),
        ("x" * 262_145, "262,144"),
        ("é" * 131_073, "262,144"),  # 262,146 bytes of UTF-8 in 131,073 characters
        ("SELECT 1\x00", "control or invisible"),
        ("SELECT 1\u200b", "zero-width"),
        ("SELECT '\ud800'", "not valid Unicode"),
        (5, "got int"),
        (None, "got null"),
    ],
)
def test_bad_test_query(bad: object, fragment: str) -> None:
    assert_only(with_value("test_query", bad), "test_query", fragment)


# =========================================================================== S3
GOOD_BUCKETS = ["abc", "a.b-c", "x" * 63, "1bucket", "example-spill-bucket", "my.bucket.1"]
BAD_BUCKETS = [
    ("ab", "3 to 63"),
    ("x" * 64, "3 to 63"),
    ("Abc", "lowercase"),
    ("a_b", "lowercase letters, digits"),
    ("-abc", "start and end"),
    ("abc-", "start and end"),
    (".abc", "start and end"),
    ("a..b", "'..'"),
    ("192.168.5.4", "IP address"),
    ("xn--abc", "'xn--'"),
    ("sthree-abc", "'sthree-'"),
    ("amzn-s3-demo-x", "reserved"),
    ("abc-s3alias", "'-s3alias'"),
    ("abc--ol-s3", "reserved"),
    ("abc.mrap", "reserved"),
    ("abc--x-s3", "reserved"),
    ("my-bucket/", "trailing '/'"),
    ("s3://my-bucket", "without 's3://'"),
    ("my-bucket/spill", "cannot contain '/'"),
    ("bücket", "lowercase letters"),
]


@pytest.mark.parametrize("good", GOOD_BUCKETS)
def test_good_buckets(good: str) -> None:
    assert profile_from_dict(with_value("connector.spill_bucket", good))
    assert profile_from_dict(with_value("consumers.0.query_results", f"s3://{good}/q/"))


@pytest.mark.parametrize(("bad", "fragment"), BAD_BUCKETS)
def test_bad_buckets(bad: str, fragment: str) -> None:
    assert_only(with_value("connector.spill_bucket", bad), "connector.spill_bucket", fragment)
    if "/" not in bad:
        assert_only(
            with_value("consumers.0.query_results", f"s3://{bad}/q/"),
            "consumers[0].query_results",
            "bucket of the URI",
            fragment,
        )


@pytest.mark.parametrize("good", ["athena-spill", "a/b", "x.y_z", "spill(1)", "k=v"])
def test_good_spill_prefix(good: str) -> None:
    assert profile_from_dict(with_value("connector.spill_prefix", good))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "must not be empty"),
        ("/athena-spill", "no leading or trailing '/'"),
        ("athena-spill/", "write 'athena-spill'"),
        ("a//b", "'//'"),
        ("a*b", "no '*'"),
        ("a?b", "no '*' or '?'"),
        ("../x", "'..'"),
        ("a b", "may contain only"),
        (5, "got int"),
        (None, "got null"),
    ],
)
def test_bad_spill_prefix(bad: object, fragment: str) -> None:
    assert_only(with_value("connector.spill_prefix", bad), "connector.spill_prefix", fragment)


@pytest.mark.parametrize("good", ["s3://bucket/", "s3://bucket/a/b/", "s3://a.b-c/queries/"])
def test_good_query_results(good: str) -> None:
    assert profile_from_dict(with_value("consumers.0.query_results", good))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("s3://bucket/queries", "must end with '/'"),
        ("s3://bucket", "must end with '/'"),
        ("https://bucket/x/", "s3:// URI"),
        ("bucket/queries/", "s3:// URI"),
        ("s3:///x/", "bucket of the URI"),
        ("s3://bucket/a*/", "no '*'"),
        ("s3://bucket//", "'//'"),
        ("", "s3:// URI"),
        (["s3://bucket/"], "got list"),
    ],
)
def test_bad_query_results(bad: object, fragment: str) -> None:
    assert_only(with_value("consumers.0.query_results", bad), "consumers[0].query_results",
                fragment)


# =========================================================================== ARNs
@pytest.mark.parametrize(
    "good",
    [
        "arn:aws:iam::222222222222:user/analyst",
        "arn:aws:iam::222222222222:role/analyst",
        "arn:aws:iam::222222222222:user/division/team/analyst",
        "arn:aws:iam::222222222222:role/service-role/a+b=c,d.e@f_g-h",
        "arn:aws:iam::222222222222:user/" + "n" * 64,
    ],
)
def test_good_principal(good: str) -> None:
    c = profile_from_dict(with_value("consumers.0.principal_arn", good)).consumers[0]
    assert c.principal_kind in {"user", "role"}


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("arn:aws:iam::333333333333:user/analyst", "in account 333333333333"),
        ("arn:aws:iam::222222222222:group/analysts", "user or a role"),
        ("arn:aws:sts::222222222222:assumed-role/Analyst/sess",
         "arn:aws:iam::222222222222:role/Analyst"),
        ("arn:aws-cn:iam::222222222222:user/analyst", "'aws' partition"),
        ("arn:aws:iam::22222222222:user/analyst", "12 digits"),
        ("arn:aws:iam::222222222222:user/", "name must be 1 to 64"),
        ("arn:aws:iam::222222222222:user/bad name", "name must be 1 to 64"),
        ("arn:aws:iam::222222222222:user/" + "n" * 65, "name must be 1 to 64"),
        ("arn:aws:iam::222222222222:user/ünï", "name must be 1 to 64"),
        ("arn:aws:iam:us-east-1:222222222222:user/analyst", "IAM ARN"),
        ("arn:aws:s3:::bucket", "IAM ARN"),
        ("arn:aws:iam::222222222222:user/a*b/analyst", "invalid IAM path"),
        ("arn:aws:iam::222222222222:role//analyst", "invalid IAM path"),
        ("arn:aws:iam::222222222222:role/a//analyst", "invalid IAM path"),
        ("analyst", "IAM user or role ARN"),
        ("", "IAM user or role ARN"),
        (42, "got int"),
    ],
)
def test_bad_principal(bad: object, fragment: str) -> None:
    assert_only(with_value("consumers.0.principal_arn", bad), "consumers[0].principal_arn",
                fragment)


FN = "arn:aws:lambda:us-east-1:111111111111:function:acct1dynamodb"


@pytest.mark.parametrize("good", [FN, FN + ":prod", FN + ":$LATEST", FN + ":3", None])
def test_good_existing_function(good: str | None) -> None:
    p = profile_from_dict(with_value("connector.existing_function_arn", good))
    assert p.connector.existing_function_arn == good


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (FN.replace("111111111111", "222222222222"), "owner account is 111111111111"),
        (FN.replace("us-east-1", "eu-west-1"), "cross-region"),
        ("arn:aws:lambda:us-east-1:111111111111:layer:x", "Lambda function ARN"),
        ("acct1dynamodb", "Lambda function ARN"),
        (FN + ":a:b", "Lambda function ARN"),
        (5, "got int"),
    ],
)
def test_bad_existing_function(bad: object, fragment: str) -> None:
    assert_only(with_value("connector.existing_function_arn", bad),
                "connector.existing_function_arn", fragment)


# =========================================================================== enums etc.
@pytest.mark.parametrize("good", ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"])
def test_good_region(good: str) -> None:
    data = with_value("region", good)
    assert profile_from_dict(data).region == good


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("us-est-1", "did you mean"),
        ("cn-north-1", "aws-cn partition"),
        ("us-gov-west-1", "aws-us-gov partition"),
        ("US-EAST-1", "not an AWS region"),
        ("mars-central-1", "not an AWS region"),
        ("", "must not be empty"),
        (5, "got int"),
    ],
)
def test_bad_region(bad: object, fragment: str) -> None:
    assert_only(with_value("region", bad), "region", fragment)


def test_region_check_ignores_a_broken_aws_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3.Session() raises with a missing AWS_PROFILE; the region list must not care."""
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    assert validate_field("region", "us-east-1") is None


@pytest.mark.parametrize("good", ["assume-role", "direct"])
def test_good_share_method(good: str) -> None:
    assert profile_from_dict(with_value("consumers.0.share_method", good))


@pytest.mark.parametrize(("bad", "fragment"), [("assume_role", "did you mean 'assume-role'"),
                                               ("", "must be"), (None, "got null")])
def test_bad_share_method(bad: object, fragment: str) -> None:
    assert_only(with_value("consumers.0.share_method", bad), "consumers[0].share_method",
                fragment)


@pytest.mark.parametrize("good", ["latest", "2026.33.1", "1.0.0", "2023.46.2"])
def test_good_application_version(good: str) -> None:
    assert profile_from_dict(with_value("connector.application_version", good))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (2026.33, "in quotes"),  # what YAML makes of an unquoted 2026.33
        ("v1.2.3", "semantic version"),
        ("1.2.3.4", "semantic version"),
        ("Latest", "semantic version"),
        ("", "semantic version"),
    ],
)
def test_bad_application_version(bad: object, fragment: str) -> None:
    assert_only(with_value("connector.application_version", bad),
                "connector.application_version", fragment)


@pytest.mark.parametrize("good", ["primary", "team.a_b-1"])
def test_good_workgroup(good: str) -> None:
    assert profile_from_dict(with_value("consumers.0.workgroup", good))


@pytest.mark.parametrize("bad", ["", "a b", "wg/x", "x" * 129, "prïmary"])
def test_bad_workgroup(bad: str) -> None:
    assert_only(with_value("consumers.0.workgroup", bad), "consumers[0].workgroup", "workgroup")


@pytest.mark.parametrize(
    ("key", "value"),
    [("consumers.0.create_principal", "false"), ("consumers.0.create_principal", 0),
     ("connector.create_spill_bucket", "yes"), ("connector.disable_spill_encryption", None)],
)
def test_booleans_are_real_booleans(key: str, value: object) -> None:
    path = key.replace(".0.", "[0].")
    assert_only(with_value(key, value), path, "expected true or false")


def test_optional_connector_settings_accepted() -> None:
    data = example()
    data["connector"].update(
        create_spill_bucket=True,
        stack_name="acct1-connector",
        kms_key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
        lambda_memory=1024,
        lambda_timeout=60,
        existing_function_arn=FN,
    )
    c = profile_from_dict(data).connector
    assert (c.create_spill_bucket, c.stack_name, c.lambda_memory, c.lambda_timeout) == (
        True, "acct1-connector", 1024, 60)


@pytest.mark.parametrize("good", ["1234abcd-12ab-34cd-56ef-1234567890ab",
                                  "mrk-1234abcd12ab34cd56ef1234567890ab"])
def test_good_kms_key_id(good: str) -> None:
    assert profile_from_dict(with_value("connector.kms_key_id", good))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
         "key id only"),
        ("alias/aws/s3", "not an alias"),
        ("nope", "KMS key id"),
    ],
)
def test_bad_kms_key_id(bad: str, fragment: str) -> None:
    assert_only(with_value("connector.kms_key_id", bad), "connector.kms_key_id", fragment)


def test_kms_key_with_encryption_disabled_is_contradictory() -> None:
    data = with_value("connector.kms_key_id", "1234abcd-12ab-34cd-56ef-1234567890ab")
    data["connector"]["disable_spill_encryption"] = True
    assert_only(data, "connector.kms_key_id", "disable_spill_encryption")


# =========================================================================== credentials
@pytest.mark.parametrize("good", [{"profile": "owner-admin"}, {"keyring": "owner-keys"},
                                  {"profile": "sso admin (prod)"}])
def test_good_credentials(good: dict[str, str]) -> None:
    assert profile_from_dict(with_value("owner.credentials", good)).owner.credentials == (
        CredentialRef(**good))


@pytest.mark.parametrize(
    ("bad", "path", "fragment"),
    [
        ({"profile": "a", "keyring": "b"}, "owner.credentials", "exactly one"),
        ({}, "owner.credentials", "give one of 'profile'"),
        ("owner-admin", "owner.credentials", "expected a mapping like {profile: NAME}"),
        (None, "owner.credentials", "got null"),
        ({"profile": ""}, "owner.credentials.profile", "must not be empty"),
        ({"profile": "  "}, "owner.credentials.profile", "must not be empty"),
        ({"profile": None}, "owner.credentials.profile", "got null"),
        ({"keyring": 5}, "owner.credentials.keyring", "got int"),
        ({"keyring": "a\nb"}, "owner.credentials.keyring", "control or invisible"),
        ({"profile": "x" * 129}, "owner.credentials.profile", "at most 128"),
        ({"profle": "x"}, "owner.credentials.profle", "did you mean 'profile'"),
    ],
)
def test_bad_credentials(bad: object, path: str, fragment: str) -> None:
    assert_refused(with_value("owner.credentials", bad), path, fragment)


def test_query_credentials_optional() -> None:
    data = without("consumers.0.query_credentials")
    assert profile_from_dict(data).consumers[0].query_credentials is None
    data = with_value("consumers.0.query_credentials", None)
    assert profile_from_dict(data).consumers[0].query_credentials is None
    data = with_value("consumers.0.query_credentials", {"keyring": "analyst-keys"})
    assert profile_from_dict(data).consumers[0].query_credentials == CredentialRef(
        keyring="analyst-keys")
    assert_only(with_value("consumers.0.query_credentials", {"profile": "a", "keyring": "b"}),
                "consumers[0].query_credentials", "exactly one")
    assert_only(with_value("consumers.0.query_credentials", "analyst"),
                "consumers[0].query_credentials", "expected a mapping")


# =========================================================================== structure
@pytest.mark.parametrize(
    ("where", "typo", "hint"),
    [
        ("", "regoin", "did you mean 'region'"),
        ("owner", "acount_id", "did you mean 'account_id'"),
        ("connector", "spill_bukcet", "did you mean 'spill_bucket'"),
        ("consumers.0", "principal_ar", "did you mean 'principal_arn'"),
        ("consumers.0.credentials", "keyrng", "did you mean 'keyring'"),
        ("connector", "zzz", "known here: catalog_name"),
    ],
)
def test_unknown_keys_with_hint(where: str, typo: str, hint: str) -> None:
    data = example()
    node = _walk(data, where + ".x")[0] if where else data
    node[typo] = "x"
    path = (where.replace(".0", "[0]") + "." if where else "") + typo
    assert_only(data, path, f"unknown key '{typo}'", hint)


def test_non_string_keys_reported() -> None:
    data = example()
    data["owner"][5] = "x"
    assert_only(data, "owner", "keys are names, got the int key 5")


@pytest.mark.parametrize(
    ("key", "value", "path", "fragment"),
    [
        ("region", 5, "region", "expected a string, got int"),
        ("owner", [], "owner", "expected a mapping, got list"),
        ("owner", "x", "owner", "expected a mapping, got str"),
        ("connector", None, "connector", "expected a mapping, got null"),
        ("consumers", "x", "consumers", "expected a list of consumer accounts, got str"),
        ("consumers", [["a"]], "consumers[0]", "expected a mapping, got list"),
    ],
)
def test_wrong_types(key: str, value: object, path: str, fragment: str) -> None:
    assert_only(with_value(key, value), path, fragment)


@pytest.mark.parametrize("missing", ["region", "owner", "connector", "consumers",
                                     "owner.account_id", "owner.credentials",
                                     "connector.catalog_name", "connector.spill_bucket",
                                     "consumers.0.account_id", "consumers.0.credentials",
                                     "consumers.0.principal_arn", "consumers.0.query_results"])
def test_required_keys(missing: str) -> None:
    assert_only(without(missing), missing.replace(".0.", "[0]."), "missing")


@pytest.mark.parametrize("document", [None, [], "text", 5, 1.5, True, ["version", 1]])
def test_document_must_be_a_mapping(document: object) -> None:
    assert_only(document, "(profile)", "expected a mapping")


def test_every_problem_reported_at_once() -> None:
    data = example()
    data["region"] = "nowhere-1"
    data["owner"]["account_id"] = "123"
    data["connector"]["lambda_memory"] = 5
    data["consumers"][0]["principal_arn"] = "analyst"
    data["consumers"][0]["workgroup"] = "a b"
    data["extra"] = 1
    found = problems(data)
    assert set(found) == {"region", "owner.account_id", "connector.lambda_memory",
                          "consumers[0].principal_arn", "consumers[0].workgroup", "extra"}


def test_cross_field_rules_wait_for_valid_fields() -> None:
    """A bad consumer account gives one problem, not a second one about the principal's."""
    assert_only(with_value("consumers.0.account_id", "2222"), "consumers[0].account_id")
    assert_only(with_value("region", "nope"), "region")  # not also the function's region
    data = with_value("connector.existing_function_arn", FN)
    data["region"] = "nope"
    assert_only(data, "region")


# =========================================================================== secrets
SECRET_KEY_NAMES = ["aws_secret_access_key", "secret_access_key", "aws_session_token",
                    "session_token", "secret", "password", "AWS_SECRET_ACCESS_KEY", "Password",
                    "aws-secret-access-key", "aws_access_key_id", "client_secret"]


@pytest.mark.parametrize("name", SECRET_KEY_NAMES)
@pytest.mark.parametrize("where", ["", "owner", "owner.credentials", "connector", "consumers.0",
                                   "consumers.0.query_credentials", "deep"])
def test_secret_keys_refused_without_echo(name: str, where: str) -> None:
    data = example()
    if where == "deep":
        data["connector"]["extra"] = {"nested": [{"more": {name: SECRET_KEY}}]}
        node = data["connector"]["extra"]["nested"][0]["more"]
    else:
        node = _walk(data, where + ".x")[0] if where else data
        node[name] = SECRET_KEY
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data)
    text = str(info.value)
    assert "xacct-wizard credentials set" in text
    assert SECRET_KEY not in text and SECRET_KEY[:20] not in text
    assert "names a secret" in text


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (SECRET_KEY, "secret access key"),
        (ACCESS_KEY_ID, "access key id"),
        ("ASIAQWERTYUIOPASDFGH", "access key id"),
        (SESSION_TOKEN, "session token"),
        (f"aws_secret_access_key = {SECRET_KEY}", "access key id|secret"),
        (f"my keys {ACCESS_KEY_ID} {SECRET_KEY}", "access key id"),
    ],
)
@pytest.mark.parametrize(
    "where",
    ["owner.credentials.profile", "consumers.0.query_credentials.keyring", "test_query",
     "connector.spill_bucket", "consumers.0.principal_arn", "region"],
)
def test_secret_values_refused_without_echo(secret: str, kind: str, where: str) -> None:
    if where.endswith("query_credentials.keyring"):  # replace the example's profile entry
        data = with_value("consumers.0.query_credentials", {"keyring": secret})
    else:
        data = with_value(where, secret)
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data)
    text = str(info.value)
    path = where.replace(".0.", "[0].")
    assert f"{path}: looks like an AWS" in text
    assert any(k in text for k in kind.split("|"))
    assert "xacct-wizard credentials set" in text
    for part in (secret, SECRET_KEY, ACCESS_KEY_ID, SESSION_TOKEN[:40]):
        assert part not in text
    assert len(info.value.problems) == 1  # the field's own check would have echoed it


def test_secret_as_a_key_or_in_a_list_refused() -> None:
    data = example()
    data["connector"][SECRET_KEY] = "x"
    data["consumers"][0]["notes"] = ["fine", ACCESS_KEY_ID]
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data)
    text = str(info.value)
    assert SECRET_KEY not in text and ACCESS_KEY_ID not in text
    assert "connector: a key looks like an AWS secret access key" in text
    assert "consumers[0].notes[1]: looks like an AWS access key id" in text


@pytest.mark.parametrize(
    ("where", "innocent"),
    [
        ("consumers.0.principal_arn",
         "arn:aws:iam::222222222222:role/AnalystRoleForAthenaQueriesInProd2024"),
        ("consumers.0.principal_arn",
         "arn:aws:iam::222222222222:role/Team2024/AnalystRoleForAthenaQueryXy"),  # long run
        ("owner.credentials.profile", "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"),  # 40 letters
        ("test_query", "SELECT * FROM t WHERE name = 'AnalystRoleForAthenaQueriesInProduction'"),
        ("test_query", "SELECT 'AKIA' || 'not a key', 'ASIA-2024'"),
    ],
)
def test_innocent_values_not_taken_for_secrets(where: str, innocent: str) -> None:
    """The secret heuristics must not refuse ordinary names, ARNs and queries."""
    assert profile_from_dict(with_value(where, innocent))


def test_secret_in_yaml_file_not_echoed_even_on_syntax_error(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(f"version: 1\nregion: us-east-1\nsecret: {SECRET_KEY}: x\n", encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(f)
    assert SECRET_KEY not in str(info.value)
    assert "line 3" in str(info.value)


def test_secret_duplicate_key_not_echoed(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(f"{SECRET_KEY}: 1\n{SECRET_KEY}: 2\n", encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(f)
    assert SECRET_KEY not in str(info.value)
    assert "duplicate key <redacted>" in str(info.value)


# =========================================================================== echoing values
def test_echoed_values_are_escaped_and_truncated() -> None:
    hostile = "\u202eus-east-1\x1b[31m\x00" + "z" * 500
    message = problems(with_value("region", hostile))["region"]
    assert "\u202e" not in message and "\x1b" not in message and "\x00" not in message
    assert "\\u202e" in message and "\\x1b" in message
    assert len(message) < 250
    assert "(516 characters)" in message


def test_hostile_keys_escaped_in_paths() -> None:
    data = example()
    data["owner"]["evil\nkey\u202e"] = 1
    found = problems(data)
    (path,) = found
    assert "\n" not in path and "\u202e" not in path
    assert path.startswith("owner[")


# =========================================================================== YAML files
def write(tmp_path: Path, content: str | bytes, name: str = "p.yaml") -> Path:
    f = tmp_path / name
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content, encoding="utf-8")
    return f


def load_problems(path: Path) -> list[Problem]:
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return info.value.problems


def test_load_design_example_file(tmp_path: Path) -> None:
    assert load_profile(write(tmp_path, DESIGN_EXAMPLE)) == profile_from_dict(example())
    assert load_profile(str(write(tmp_path, DESIGN_EXAMPLE, "q.yaml"))).region == "us-east-1"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version: 1\nregion: [us-east-1\nowner: x\n", 3, "invalid YAML at line 3"),
        ("version: 1\nowner:\n\taccount_id: x\n", 3, "line 3, column 1"),
        ("version: 1\nregion: a\nregion: b\n", 3, "duplicate key 'region' (first on line 2)"),
        ("version: 1\nregion: 'unterminated\n", 3, "invalid YAML"),
        ("a: b: c\n", 1, "not allowed here"),
        ("version: 1\nx: !!python/object/apply:os.system ['echo hi']\n", 2, "constructor"),
        ("version: 1\nx: !custom 5\n", 2, "constructor"),
    ],
)
def test_bad_yaml_names_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    (p,) = load_problems(write(tmp_path, text))
    assert p.path == "(file)"
    assert f"line {line}" in p.message and fragment in p.message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty document"),
        (b"# only a comment\n", "empty document"),
        (b"- a\n- b\n", "got list"),
        (b"just text\n", "got str"),
        (b"\x00\xff\xfe binary", "not UTF-8"),
        (b"version: 1\nregion: \x00\n", "not allowed"),
        (b"\xef\xbb\xbfversion: 1\n", "region: missing"),  # a BOM is fine
        (("version: " + "9" * 5000 + "\n").encode(), "too large"),
        (b"[" * 1000, "invalid"),
        (b"version: 1\nx: &a [*a]\n", "unknown key 'x'"),
        (b"a: &a {b: *a}\n", "unknown key 'a'"),
    ],
)
def test_odd_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    text = str(ProfileError(load_problems(write(tmp_path, content))))
    assert fragment in text


def test_unreadable_files(tmp_path: Path) -> None:
    (p,) = load_problems(tmp_path / "absent.yaml")
    assert p.path == "(file)" and "cannot read" in p.message and "No such file" in p.message
    assert "absent.yaml" in p.message
    deep = tmp_path.joinpath(*["d" * 50] * 6, "the-profile.yaml")
    (p,) = load_problems(deep)
    assert "the-profile.yaml'" in p.message  # long paths keep their file name
    (p,) = load_problems(tmp_path)
    assert "cannot read" in p.message
    big = write(tmp_path, b"#" * (profile_mod.MAX_FILE_BYTES + 1), "big.yaml")
    (p,) = load_problems(big)
    assert "larger than" in p.message
    (p,) = load_problems(Path("bad\x00name"))
    assert "cannot read" in p.message


def test_merge_keys_still_work(tmp_path: Path) -> None:
    """YAML merge keys are not duplicates: the explicit key overrides the merged one."""
    owner = (
        "owner:                                  # account A: owns the table and the connector\n"
        '  account_id: "111111111111"\n'
    )
    assert owner in DESIGN_EXAMPLE
    text = DESIGN_EXAMPLE.replace(
        owner, 'owner:\n  <<: {account_id: "999999999999"}\n  account_id: "111111111111"\n'
    )
    assert load_profile(write(tmp_path, text)).owner.account_id == "111111111111"


# =========================================================================== errors
def test_profile_error_shape() -> None:
    err = ProfileError([Problem("a.b", "first"), Problem("c[0]", "second")])
    assert str(err) == "a.b: first\nc[0]: second"
    assert err.exit_code == 2 == ProfileError.exit_code
    again = pickle.loads(pickle.dumps(err))
    assert again.problems == err.problems and str(again) == str(err)
    assert str(Problem("x", "y")) == "x: y"
    with pytest.raises(AttributeError):
        Problem("x", "y").path = "z"  # type: ignore[misc]


# =========================================================================== save
def full_profile() -> SetupProfile:
    """Every field away from its default, two consumers, keyring credentials."""
    return SetupProfile(
        region="eu-west-1",
        owner=OwnerConfig("011111111111", CredentialRef(keyring="owner-keys")),
        connector=ConnectorConfig(
            catalog_name="acct_1",
            spill_bucket="spill.example",
            spill_prefix="a/b",
            application_version="2026.33.1",
            existing_function_arn="arn:aws:lambda:eu-west-1:011111111111:function:acct_1",
            lambda_memory=512,
            lambda_timeout=30,
            stack_name="acct-one",
            kms_key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
            disable_spill_encryption=False,
            create_spill_bucket=True,
        ),
        consumers=[
            ConsumerConfig(
                account_id="022222222222",
                credentials=CredentialRef(profile="b-admin"),
                principal_arn="arn:aws:iam::022222222222:role/team/analyst",
                query_results="s3://results-b/",
                catalog_name="Shared@Cat",
                create_principal=True,
                query_credentials=None,
                share_method="direct",
                workgroup="analysts",
            ),
            ConsumerConfig(
                account_id="333333333333",
                credentials=CredentialRef(keyring="c"),
                principal_arn="arn:aws:iam::333333333333:user/x",
                query_results="s3://results-c/q/",
                catalog_name="acct_1",
                query_credentials=CredentialRef(keyring="c-analyst"),
            ),
        ],
        test_query="SELECT 1 -- ünïcode ✓\nFROM \"acct_1\".\"default\".\"music\"",
    )


@pytest.mark.parametrize("make", [lambda: profile_from_dict(example()), full_profile])
def test_save_then_load_is_equal(tmp_path: Path, make: Any) -> None:
    original = make()
    assert validate(original) == []
    f = tmp_path / "profile.yaml"
    save_profile(original, f)
    assert load_profile(f) == original
    save_profile(original, str(f))  # overwrite, str path
    assert load_profile(f) == original


def test_saved_file_is_plain_documented_yaml(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    save_profile(profile_from_dict(example()), f)
    text = f.read_text(encoding="utf-8")
    assert text.startswith("# xacct-wizard profile")
    assert yaml.safe_load(text) == example()
    assert "account_id: '111111111111'" in text  # quoted, so it stays text


def test_default_test_query_not_written(tmp_path: Path) -> None:
    p = profile_from_dict(without("test_query"))
    assert "test_query" not in profile_to_dict(p)
    save_profile(p, tmp_path / "p.yaml")
    assert load_profile(tmp_path / "p.yaml").test_query == ""


def test_save_refuses_invalid_profile_and_writes_nothing(tmp_path: Path) -> None:
    p = profile_from_dict(example())
    p.region = "nowhere"
    f = tmp_path / "p.yaml"
    with pytest.raises(ProfileError) as info:
        save_profile(p, f)
    assert info.value.problems[0].path == "region"
    assert not f.exists() and list(tmp_path.iterdir()) == []


def test_save_draft_without_check_but_never_a_secret(tmp_path: Path) -> None:
    p = profile_from_dict(example())
    p.region = ""
    save_profile(p, tmp_path / "draft.yaml", check=False)
    assert "region: ''" in (tmp_path / "draft.yaml").read_text()
    p.owner.credentials = CredentialRef(profile=SECRET_KEY)
    with pytest.raises(ProfileError) as info:
        save_profile(p, tmp_path / "draft2.yaml", check=False)
    assert SECRET_KEY not in str(info.value)
    assert not (tmp_path / "draft2.yaml").exists()


@pytest.mark.parametrize("fail_in", ["replace", "fsync", "write"])
def test_atomic_save_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_in: str
) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    before = f.read_bytes()
    changed = profile_from_dict(with_value("region", "eu-west-1"))

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if fail_in == "write":
        real_fdopen = os.fdopen

        class Broken:
            def __init__(self, fd: int, *a: Any, **k: Any) -> None:
                self.f = real_fdopen(fd, *a, **k)

            def __enter__(self) -> Broken:
                return self

            def __exit__(self, *exc: object) -> None:
                self.f.close()

            def write(self, text: str) -> None:
                self.f.write(text[:10])
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(profile_mod.os, "fdopen", Broken)
    else:
        monkeypatch.setattr(profile_mod.os, fail_in, boom)
    with pytest.raises(OSError, match="No space"):
        save_profile(changed, f)
    monkeypatch.undo()
    assert f.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.yaml"], "temp file left behind"
    assert load_profile(f).region == "us-east-1"


def test_save_keeps_existing_mode_and_new_files_follow_umask(tmp_path: Path) -> None:
    p = profile_from_dict(example())
    f = tmp_path / "p.yaml"
    f.write_text("x", encoding="utf-8")
    f.chmod(0o600)
    save_profile(p, f)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    old = os.umask(0o027)
    try:
        save_profile(p, tmp_path / "new.yaml")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640


def test_save_through_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("x", encoding="utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    save_profile(profile_from_dict(example()), link)
    assert link.is_symlink()
    assert load_profile(real) == profile_from_dict(example())


# =========================================================================== validate(model)
def test_validate_never_raises_on_wrong_types() -> None:
    p = profile_from_dict(example())
    p.region = None  # type: ignore[assignment]
    p.owner.account_id = 5  # type: ignore[assignment]
    p.owner.credentials = "x"  # type: ignore[assignment]
    p.connector.lambda_memory = "512"  # type: ignore[assignment]
    p.connector.stack_name = 3  # type: ignore[assignment]
    p.connector.catalog_name = None  # type: ignore[assignment]
    p.consumers.append("nope")  # type: ignore[arg-type]
    p.consumers[0].query_credentials = CredentialRef()
    p.test_query = b"x"  # type: ignore[assignment]
    p.version = "1"  # type: ignore[assignment]
    found = {x.path for x in validate(p)}
    assert found == {"region", "owner.account_id", "owner.credentials",
                     "connector.lambda_memory", "connector.stack_name", "connector.catalog_name",
                     "consumers[1]", "consumers[0].query_credentials", "test_query", "version"}
    assert validate("not a profile") == [  # type: ignore[arg-type]
        Problem("(profile)", "expected a SetupProfile, got str")]
    p.consumers = None  # type: ignore[assignment]
    p.owner = None  # type: ignore[assignment]
    p.connector = 7  # type: ignore[assignment]
    assert {x.path for x in validate(p)} >= {"consumers", "owner", "connector"}


def test_validate_model_rules_match_the_loader() -> None:
    p = profile_from_dict(example())
    p.consumers[0].catalog_name = ""
    p.version = 2
    found = {x.path: x.message for x in validate(p)}
    assert "empty" in found["consumers[0].catalog_name"]
    assert "newer" in found["version"]
    p.test_query = "   "
    assert any(x.path == "test_query" for x in validate(p))


def test_validate_reports_pasted_secrets_without_echo() -> None:
    p = profile_from_dict(example())
    p.owner.credentials = CredentialRef(keyring=SECRET_KEY)
    p.consumers[0].principal_arn = ACCESS_KEY_ID
    found = {x.path: x.message for x in validate(p)}
    assert set(found) == {"owner.credentials.keyring", "consumers[0].principal_arn"}
    assert all("credentials set" in m for m in found.values())
    assert SECRET_KEY not in str(found) and ACCESS_KEY_ID not in str(found)


def test_validate_is_fast() -> None:
    p = full_profile()
    validate(p)  # warm the region cache
    start = time.perf_counter()
    for _ in range(500):
        assert validate(p) == []
    assert (time.perf_counter() - start) / 500 < 0.002  # per keystroke
    p.test_query = "SELECT 1 FROM t -- ünïcode\n" * 9000  # near Athena's 256 KiB limit
    start = time.perf_counter()
    for _ in range(20):
        assert validate(p) == []
    assert (time.perf_counter() - start) / 20 < 0.2  # linear: a few ms on an idle machine


# =========================================================================== validate_field
@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("account_id", "111111111111", "11111111111"),
        ("catalog_name", "acct1dynamodb", "Acct1"),
        ("consumer_catalog_name", "Acct@1", "a.b"),
        ("stack_name", "serverlessrepo-acct1", "serverlessrepo-acct_1"),
        ("bucket", "example-spill-bucket", "Example"),
        ("spill_prefix", "athena-spill", "athena-spill/"),
        ("s3_uri", "s3://example-athena-results/queries/", "s3://example"),
        ("region", "us-east-1", "us-east-99"),
        ("principal_arn", "arn:aws:iam::222222222222:user/analyst", "analyst"),
        ("function_arn", FN, "arn:aws:lambda:us-east-1:111111111111:fn:x"),
        ("kms_key_id", "1234abcd-12ab-34cd-56ef-1234567890ab", "alias/x"),
        ("application_version", "2026.33.1", "2026.33"),
        ("share_method", "direct", "share"),
        ("workgroup", "primary", ""),
        ("credential_name", "owner-admin", ""),
        ("sql", "SELECT 1", "  "),
    ],
)
def test_validate_field(kind: str, good: str, bad: str) -> None:
    assert validate_field(kind, good) is None
    message = validate_field(kind, bad)
    assert isinstance(message, str) and message


@pytest.mark.parametrize("kind", ["account_id", "bucket", "sql", "credential_name", "region"])
def test_validate_field_refuses_secrets_without_echo(kind: str) -> None:
    for secret in (SECRET_KEY, ACCESS_KEY_ID, f"SELECT '{SECRET_KEY}' AS k"):
        message = validate_field(kind, secret)
        assert message and "credentials set" in message and SECRET_KEY not in message


def test_validate_field_wrong_type_and_unknown_kind() -> None:
    assert validate_field("account_id", 111111111111) == (  # type: ignore[arg-type]
        "expected a 12-digit account id in quotes, got int")
    with pytest.raises(ValueError, match="unknown field kind"):
        validate_field("colour", "red")


@pytest.mark.parametrize(("field", "bad", "example"), [
    ("catalog_name", "Bad Name!", "e.g. acct1dynamodb"),
    ("account_id", "12345", "e.g. 111111111111"),
    ("bucket", "a_b", "e.g. example-spill-bucket"),
])
def test_rule_messages_are_words_with_an_example(field: str, bad: str, example: str) -> None:
    from wizard.profile import validate_field

    message = validate_field(field, bad)
    assert message is not None and example in message
    assert not any(ch in message for ch in "^$[]{}"), message  # no raw regular expression
