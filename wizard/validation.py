"""Single-field rules of the profile, shared by the loader and the GUI's inline checks.

Why a module of its own: the GUI validates a line edit on every keystroke with exactly the rules
the CLI applies to a file, so the rules live here as small pure functions (value in, message or
None out) with no knowledge of the profile's structure. `wizard.profile` composes them into the
whole-profile validation and adds the cross-field rules (account of an ARN, owner != consumer...).

Every function here accepts any object and never raises: a profile is user input and may hold any
type, any unicode, any size. Messages may echo a short value, but only through `show`, which
truncates, repr-escapes (a profile may carry control or bidi characters) and redacts anything that
looks like a secret: an error message ends up in terminals, logs and bug reports.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import ipaddress
import re
import unicodedata
from collections.abc import Callable

MAX_SHOWN = 60
REDACTED = "<redacted>"
CREDENTIALS_HINT = (
    "Secrets never go in a profile: store access keys in the OS keyring with "
    "`xacct-wizard credentials set NAME` and refer to them as credentials: {keyring: NAME}"
)

# --------------------------------------------------------------------------- secrets
# An access key id is distinctive enough to look for anywhere in a value.
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
# A secret access key is 40 base64 characters. As a whole value it is unmistakable; inside free
# text (the test query, a pasted credentials line) only as a delimited token, so that ARNs and
# paths, which never contain whitespace, are judged only as whole values.
_SECRET_KEY = re.compile(r"[A-Za-z0-9/+]{40}")
_SECRET_KEY_TOKEN = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_LONG_RUN = re.compile(r"[A-Za-z0-9/+=]{40,}")  # maximal: the scan starts at a run's start
_SESSION_TOKEN = re.compile(r"[A-Za-z0-9/+=]{100,}")
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b(?:aws_secret_access_key|secret_access_key|aws_session_token|aws_security_token)"
    r"\s*[=:]\s*\S"
)
_SECRET_KEY_NAME = re.compile(
    r"secret|password|passwd|passphrase|session_?token|security_?token|access_?key|private_?key"
    r"|^token$|^credential_?process$"
)


def _mixed(token: str) -> bool:
    """Random base64 has upper, lower and digits/symbols; names and words rarely all three."""
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() or c in "/+" for c in token)
    )


def looks_secret(value: object) -> str | None:
    """What kind of secret ``value`` looks like ("an AWS secret access key", ...), else None.

    Cheap substring tests guard the regexes: this runs on every value of a profile, including
    a test query of up to 256 KiB, on every keystroke in the GUI.
    """
    if not isinstance(value, str) or len(value) < 16:
        return None
    if ("AKIA" in value or "ASIA" in value) and _ACCESS_KEY_ID.search(value):
        return "an AWS access key id"
    stripped = value.strip()
    if _SECRET_KEY.fullmatch(stripped) and _mixed(stripped):
        return "an AWS secret access key"
    if _SESSION_TOKEN.fullmatch(stripped) and _mixed(stripped):
        return "an AWS session token"
    if any(c.isspace() for c in value):
        for match in _LONG_RUN.finditer(value):
            token = match.group()
            if len(token) == 40 and "=" not in token and _mixed(token):
                return "an AWS secret access key"
    lower = value.lower()
    if ("_access_key" in lower or "_token" in lower) and _SECRET_ASSIGNMENT.search(value):
        return "a line of an AWS credentials file"
    return None


def secret_key_name(key: object) -> bool:
    """True for mapping keys that name a secret (aws_secret_access_key, password, ...)."""
    if not isinstance(key, str):
        return False
    norm = re.sub(r"[\s.-]+", "_", key.strip().lower())
    return bool(_SECRET_KEY_NAME.search(norm))


def secret_message(kind: str) -> str:
    return f"looks like {kind}; it was not accepted and is not repeated here. {CREDENTIALS_HINT}"


# --------------------------------------------------------------------------- showing values
def type_name(value: object) -> str:
    """The user-facing name of a YAML value's type ("str", "list", "mapping", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, set | frozenset):
        return "set"
    if isinstance(value, _dt.datetime):
        return "timestamp"
    if isinstance(value, _dt.date):
        return "date"
    return type(value).__name__


def show(value: object) -> str:
    """A short, escaped, secret-free rendering of a user value for an error message."""
    try:
        if isinstance(value, str):
            if looks_secret(value):
                return REDACTED
            if len(value) > MAX_SHOWN:
                return repr(value[:MAX_SHOWN]) + f"... ({len(value)} characters)"
            return repr(value)
        if isinstance(value, bool) or value is None:
            return "true" if value is True else "false" if value is False else "null"
        if isinstance(value, int):
            if value.bit_length() > 128:  # str() of a huge int raises past 4300 digits
                return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
            return repr(value)
        if isinstance(value, float):
            return repr(value)
        return f"a {type_name(value)}"
    except Exception:  # a hostile object's repr; never let an error message raise
        return f"a {type(value).__name__}"


def redact_text(text: str, limit: int = 200) -> str:
    """Free text from a library (a YAML error) with secret-looking tokens removed, truncated."""
    text = _ACCESS_KEY_ID.sub(REDACTED, text)
    text = _SECRET_KEY_TOKEN.sub(lambda m: REDACTED if _mixed(m.group()) else m.group(), text)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def expected(what: str, value: object) -> str:
    """The standard wrong-type message: "expected a list, got str"."""
    return f"expected {what}, got {type_name(value)}"


def did_you_mean(word: str, choices: list[str] | set[str] | frozenset[str]) -> str:
    """A '; did you mean 'x'?' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(word.lower(), sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _has_hostile_chars(text: str, allow: str = "") -> bool:
    """Control, format (bidi overrides, zero-width) and unpaired surrogate characters.

    str.isprintable (C speed) clears ordinary text at once; only text that fails it - which
    includes harmless non-ASCII spaces - is looked at character by character. This runs per
    keystroke on a test query of up to 256 KiB.
    """
    if (text.translate({ord(c): None for c in allow}) if allow else text).isprintable():
        return False
    return any(
        c not in allow and unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"}
        for c in text
    )


# --------------------------------------------------------------------------- field rules
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_CATALOG = re.compile(r"[a-z0-9_-]{1,64}")
_CONSUMER_CATALOG = re.compile(r"[A-Za-z0-9_@-]{1,127}")
RESERVED_CATALOGS = frozenset({"awsdatacatalog", "hive", "jmx", "system"})
_STACK = re.compile(r"[A-Za-z][-A-Za-z0-9]*")
MAX_STACK_NAME = 128
_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_KEY_CHARS = re.compile(r"[A-Za-z0-9!_.'()/=-]*")
_REGION_SHAPE = re.compile(r"[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}")
_IAM_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
_IAM_PATH_CHARS = re.compile(r"[!-)+->@-~]*")  # printable ASCII without '*' and '?'
_FUNCTION_ARN = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)
_SEMVER = re.compile(r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)")
_WORKGROUP = re.compile(r"[A-Za-z0-9._-]{1,128}")
_KMS_KEY_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
)
SHARE_METHODS = ("assume-role", "direct")
MAX_QUERY_BYTES = 262_144
LAMBDA_MEMORY = (128, 3008)
LAMBDA_TIMEOUT = (1, 900)
MAX_NAME = 128


def check_account_id(value: object) -> str | None:
    """AWS account ids are exactly 12 ASCII digits, kept as text (leading zeros matter)."""
    if not isinstance(value, str):
        return expected("a 12-digit account id in quotes", value)
    if not _ACCOUNT_ID.fullmatch(value):
        return f"must be exactly 12 digits, e.g. 111111111111; got {show(value)}"
    return None


def check_catalog_name(value: object) -> str | None:
    """The connector's catalog name is also its Lambda function name (template AllowedPattern)."""
    if not isinstance(value, str):
        return expected("a string", value)
    if not value:
        return "must not be empty"
    if len(value) > 64:
        return f"must be at most 64 characters (it is the Lambda function name), got {len(value)}"
    if not _CATALOG.fullmatch(value):
        lower = value.lower()
        hint = f"; try {lower!r}" if lower != value and _CATALOG.fullmatch(lower) else ""
        return (
            f"must be 1-64 lowercase letters, digits, '-' or '_' (it is also the Lambda "
            f"function's name), e.g. acct1dynamodb; got {show(value)}{hint}"
        )
    if value in RESERVED_CATALOGS:
        return f"{value!r} is reserved by Athena; choose another name"
    return None


def check_consumer_catalog_name(value: object) -> str | None:
    """A catalog name in Athena: at most 127 of [A-Za-z0-9_@-], not a reserved name."""
    if not isinstance(value, str):
        return expected("a string", value)
    if not value:
        return "must not be empty"
    if len(value) > 127:
        return f"must be at most 127 characters, got {len(value)}"
    if not _CONSUMER_CATALOG.fullmatch(value):
        return (
            "may contain only letters, digits, '_', '@' and '-' (Athena catalog names), "
            f"e.g. acct1dynamodb; got {show(value)}"
        )
    if value.lower() in RESERVED_CATALOGS:
        return f"{value!r} is reserved by Athena; choose another name"
    return None


def check_stack_name(value: object) -> str | None:
    """A CloudFormation stack name (the full, deployed one: SAR's prefix included)."""
    if not isinstance(value, str):
        return expected("a string", value)
    if not value:
        return "must not be empty"
    if len(value) > MAX_STACK_NAME:
        return f"stack names are at most {MAX_STACK_NAME} characters, got {len(value)}"
    if not _STACK.fullmatch(value):
        why = " ('_' is not allowed)" if "_" in value else ""
        return (
            "CloudFormation stack names start with a letter and contain only letters, digits "
            f"and '-'{why}, e.g. serverlessrepo-acct1dynamodb; got {show(value)}"
        )
    return None


def check_bucket(value: object) -> str | None:
    """S3's general-purpose bucket naming rules, so a typo fails here and not mid-apply."""
    if not isinstance(value, str):
        return expected("a bucket name", value)
    if value.startswith("s3://"):
        return "give the bucket name only, without 's3://'"
    if value.endswith("/"):
        return "no trailing '/': give the bucket name only (put folders in the prefix)"
    if "/" in value:
        return f"a bucket name cannot contain '/' (put folders in the prefix), got {show(value)}"
    if not 3 <= len(value) <= 63:
        return f"bucket names are 3 to 63 characters long, got {len(value)}"
    if not _BUCKET_CHARS.fullmatch(value):
        hint = " (bucket names are lowercase)" if value.lower() != value else ""
        return (
            f"bucket names contain only lowercase letters, digits, '.' and '-'{hint}, "
            f"e.g. example-spill-bucket; got {show(value)}"
        )
    if not (value[0].isalnum() and value[-1].isalnum()):
        return f"bucket names start and end with a letter or digit, got {show(value)}"
    if ".." in value:
        return f"bucket names cannot contain '..', got {show(value)}"
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        pass
    else:
        return f"bucket names cannot be formatted like an IP address, got {show(value)}"
    for prefix in _BUCKET_PREFIXES:
        if value.startswith(prefix):
            return f"bucket names cannot start with {prefix!r} (reserved by S3)"
    for suffix in _BUCKET_SUFFIXES:
        if value.endswith(suffix):
            return f"bucket names cannot end with {suffix!r} (reserved by S3)"
    return None


def _check_key_prefix(prefix: str) -> str | None:
    """An S3 key prefix that is safe to embed in a policy ARN (no wildcards, no odd segments)."""
    if len(prefix) > 512:
        return f"is too long ({len(prefix)} characters, at most 512)"
    if not _KEY_CHARS.fullmatch(prefix):
        return (
            "may contain only letters, digits, '/' and !_.'()=- (no '*' or '?': it becomes "
            f"part of an IAM policy resource), e.g. athena-spill/team1; got {show(prefix)}"
        )
    if "//" in prefix:
        return f"cannot contain '//' (an empty folder name), got {show(prefix)}"
    if any(part in {".", ".."} for part in prefix.split("/")):
        return f"cannot contain '.' or '..' folders, got {show(prefix)}"
    return None


def check_spill_prefix(value: object) -> str | None:
    """The folder the connector spills to: non-empty (a lifecycle rule expires it), no '/' ends."""
    if not isinstance(value, str):
        return expected("a string", value)
    if not value:
        return (
            "must not be empty: the spill data needs its own folder (the recommended "
            "lifecycle rule expires everything under it)"
        )
    if value.startswith("/") or value.endswith("/"):
        return (
            f"no leading or trailing '/': write {value.strip('/') or 'athena-spill'!r} "
            "(the connector adds the separator)"
        )
    return _check_key_prefix(value)


def check_s3_uri(value: object) -> str | None:
    """An Athena query-results location: ``s3://bucket/`` or ``s3://bucket/prefix/``."""
    if not isinstance(value, str):
        return expected("an s3:// URI", value)
    if not value.startswith("s3://"):
        return f"must be an s3:// URI like 's3://my-athena-results/queries/', got {show(value)}"
    bucket, _, prefix = value[len("s3://") :].partition("/")
    problem = check_bucket(bucket)
    if problem:
        return f"bucket of the URI: {problem}"
    if prefix.startswith("/"):
        return f"cannot contain '//' (an empty folder name), got {show(value)}"
    problem = _check_key_prefix(prefix)
    if problem:
        return f"folder of the URI {problem}"
    if not value.endswith("/"):
        return (
            "must end with '/' (a folder; without it the grant would cover every key that "
            f"merely starts with the same text), e.g. {show(value + '/')}"
        )
    return None


@functools.lru_cache(maxsize=1)
def _regions() -> tuple[frozenset[str], dict[str, str]]:
    """(Athena regions of the aws partition, {region: partition} for every other partition).

    Read from botocore's bundled endpoint data: no network, and no boto3 Session, whose
    constructor raises ProfileNotFound when AWS_PROFILE names a missing profile.
    """
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    aws: set[str] = set()
    others: dict[str, str] = {}
    for partition in resolver.get_available_partitions():
        for region in resolver.get_available_endpoints("athena", partition):
            if partition == "aws":
                aws.add(region)
            else:
                others[region] = partition
    return frozenset(aws), others


def check_region(value: object) -> str | None:
    """A region where Athena exists, in the standard partition (the policies use ``arn:aws:``)."""
    if not isinstance(value, str):
        return expected("a region name like 'us-east-1'", value)
    if not value:
        return "must not be empty (e.g. 'us-east-1')"
    try:
        aws, others = _regions()
    except Exception:  # botocore data unreadable: fall back to the shape of a region name
        return None if _REGION_SHAPE.fullmatch(value) else f"not an AWS region: {show(value)}"
    if value in aws:
        return None
    if value in others:
        return (
            f"{value!r} is in the {others[value]} partition; only the standard 'aws' partition "
            "is supported (the generated policies use arn:aws: ARNs)"
        )
    return f"not an AWS region where Athena is available: {show(value)}" + did_you_mean(
        value, aws
    )


def check_principal_arn(value: object, account_id: str | None = None) -> str | None:
    """An IAM user or role ARN, in ``account_id`` when it is given (the consumer's account)."""
    if not isinstance(value, str):
        return expected("an IAM user or role ARN", value)
    example = "e.g. 'arn:aws:iam::222222222222:user/analyst' or '...:role/analyst'"
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return f"must be an IAM user or role ARN ({example}), got {show(value)}"
    _, partition, service, region, account, resource = parts
    if partition != "aws":
        return f"only the 'aws' partition is supported, got {show(partition)}"
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1] if resource.count("/") >= 1 else "NAME"
        return (
            "this is an STS session ARN; give the role itself: "
            f"arn:aws:iam::{account if _ACCOUNT_ID.fullmatch(account) else 'ACCOUNT'}:role/"
            f"{role if _IAM_NAME.fullmatch(role) else 'NAME'}"
        )
    if service != "iam" or region != "":
        return f"must be an IAM ARN (arn:aws:iam::ACCOUNT:...), got {show(value)}"
    if not _ACCOUNT_ID.fullmatch(account):
        return f"the account in the ARN must be 12 digits, got {show(account)}"
    kind, _, rest = resource.partition("/")
    if kind not in {"user", "role"}:
        return f"must name a user or a role (':user/...' or ':role/...'), got {show(kind)}"
    path, _, name = rest.rpartition("/")
    if rest.startswith("/") or "//" in rest:
        return f"invalid IAM path (an empty folder name): {show(value)}"
    if not _IAM_NAME.fullmatch(name):
        return (
            f"the {kind} name must be 1 to 64 of letters, digits and _+=,.@-, got {show(name)}"
        )
    if path and (len(path) > 510 or not _IAM_PATH_CHARS.fullmatch(path) or "//" in path):
        return f"invalid IAM path {show('/' + path + '/')}"
    if account_id is not None and account != account_id:
        return (
            f"the principal is in account {account}, but this consumer's account_id is "
            f"{account_id}: the principal must live in the consumer account"
        )
    return None


def check_function_arn(
    value: object, region: str | None = None, account_id: str | None = None
) -> str | None:
    """A Lambda function ARN, in the owner's account and the profile's region when given."""
    if not isinstance(value, str):
        return expected("a Lambda function ARN", value)
    m = _FUNCTION_ARN.fullmatch(value)
    if not m:
        return (
            "must be a Lambda function ARN like "
            f"'arn:aws:lambda:us-east-1:111111111111:function:acct1dynamodb', got {show(value)}"
        )
    if account_id is not None and m["account"] != account_id:
        return (
            f"the function is in account {m['account']}, but the owner account is {account_id}"
        )
    if region is not None and m["region"] != region:
        return (
            f"the function is in region {m['region']}, but the profile's region is {region} "
            "(cross-region federation is not supported)"
        )
    return None


def check_kms_key_id(value: object) -> str | None:
    """The SAR template builds ``arn:aws:kms:REGION:ACCOUNT:key/<KMSKeyId>``: a bare key id."""
    if not isinstance(value, str):
        return expected("a KMS key id", value)
    if _KMS_KEY_ID.fullmatch(value):
        return None
    if value.startswith("arn:") and ":key/" in value:
        return "give the key id only (the part after 'key/'), not the ARN"
    if value.startswith("alias/"):
        return "give the key id, not an alias (the connector's template needs the key id)"
    return (
        "must be a KMS key id like '1234abcd-12ab-34cd-56ef-1234567890ab' or "
        f"'mrk-...', got {show(value)}"
    )


def check_application_version(value: object) -> str | None:
    """'latest' or a semantic version of the SAR application (2026.33.1)."""
    if not isinstance(value, str):
        hint = " (quote it)" if isinstance(value, float | int) else ""
        return expected("'latest' or a version like '2026.33.1'", value) + hint
    if value == "latest" or _SEMVER.fullmatch(value):
        return None
    return f"must be 'latest' or a semantic version like '2026.33.1', got {show(value)}"


def check_share_method(value: object) -> str | None:
    if not isinstance(value, str):
        return expected("'assume-role' or 'direct'", value)
    if value in SHARE_METHODS:
        return None
    return f"must be 'assume-role' or 'direct', got {show(value)}" + did_you_mean(
        value, set(SHARE_METHODS)
    )


def check_workgroup(value: object) -> str | None:
    """Athena workgroup names; the name goes into the identity policy's ARN."""
    if not isinstance(value, str):
        return expected("a workgroup name", value)
    if not _WORKGROUP.fullmatch(value):
        return (
            "workgroup names are 1 to 128 letters, digits, '.', '_' and '-', "
            f"got {show(value)}"
        )
    return None


def check_credential_name(value: object) -> str | None:
    """An AWS profile name or a keyring entry name (never the secret itself)."""
    if not isinstance(value, str):
        return expected("a name", value)
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_NAME:
        return f"must be at most {MAX_NAME} characters, got {len(value)}"
    if _has_hostile_chars(value) or value != value.strip():
        return (
            "must not contain control or invisible formatting characters, or surrounding "
            f"spaces, got {show(value)}"
        )
    return None


def check_sql(value: object) -> str | None:
    """Athena's query-string limit is 262,144 bytes of UTF-8."""
    if not isinstance(value, str):
        return expected("a string", value)
    if not value.strip():
        return "must not be empty"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "contains characters that are not valid Unicode (unpaired surrogates)"
    if size > MAX_QUERY_BYTES:
        return f"is {size:,} bytes; Athena accepts at most {MAX_QUERY_BYTES:,} bytes"
    if _has_hostile_chars(value, allow="\t\n\r"):
        return "contains control or invisible formatting characters (e.g. zero-width, bidi)"
    return None


def check_int_range(value: object, low: int, high: int, unit: str) -> str | None:
    """An integer (not a bool, not a float) within the template's bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        return expected("an integer", value)
    if not low <= value <= high:
        return f"must be between {low} and {high} {unit}, got {show(value)}"
    return None


def check_lambda_memory(value: object) -> str | None:
    return check_int_range(value, *LAMBDA_MEMORY, "MB")


def check_lambda_timeout(value: object) -> str | None:
    return check_int_range(value, *LAMBDA_TIMEOUT, "seconds")


def check_bool(value: object) -> str | None:
    return None if isinstance(value, bool) else expected("true or false", value)


FIELD_CHECKS: dict[str, Callable[[object], str | None]] = {
    "account_id": check_account_id,
    "catalog_name": check_catalog_name,
    "consumer_catalog_name": check_consumer_catalog_name,
    "stack_name": check_stack_name,
    "bucket": check_bucket,
    "spill_prefix": check_spill_prefix,
    "s3_uri": check_s3_uri,
    "region": check_region,
    "principal_arn": check_principal_arn,
    "function_arn": check_function_arn,
    "kms_key_id": check_kms_key_id,
    "application_version": check_application_version,
    "share_method": check_share_method,
    "workgroup": check_workgroup,
    "credential_name": check_credential_name,
    "sql": check_sql,
}


def validate_field(kind: str, value: str) -> str | None:
    """Check one field as the user types it: an error message, or None when it is fine.

    The GUI calls this per keystroke, so it has no context: cross-field rules (the principal's
    account, the function's region) are `wizard.profile.validate`'s. A value that looks like a
    secret is refused first, whatever the field. ``stack_name`` checks the deployed name, so give
    it what CloudFormation will see (``serverlessrepo-`` + the name). An unknown ``kind`` is a
    programming error and raises ValueError.
    """
    try:
        check = FIELD_CHECKS[kind]
    except KeyError:
        raise ValueError(f"unknown field kind {kind!r}; one of {sorted(FIELD_CHECKS)}") from None
    kind_of_secret = looks_secret(value)
    if kind_of_secret:
        return secret_message(kind_of_secret)
    return check(value)


# --------------------------------------------------------------------------- organizations
_OU_ID = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")
_ROOT_ID = re.compile(r"r-[0-9a-z]{4,32}")
ACCOUNT_PLACEHOLDER = "{account_id}"


def check_organizational_unit(value: object) -> str | None:
    """An OU id (``ou-abcd-12345678``) or the organization's root (``r-abcd``)."""
    if not isinstance(value, str):
        return expected("an organizational unit id", value)
    if _OU_ID.fullmatch(value) or _ROOT_ID.fullmatch(value):
        return None
    return ("must be an organizational unit id like 'ou-abcd-12345678' (or the root, "
            f"'r-abcd'), got {show(value)}")


def check_principal_name(value: object) -> str | None:
    """The principal in every account of an OU: ``role/NAME`` or ``user/NAME``."""
    if not isinstance(value, str):
        return expected("'role/NAME' or 'user/NAME'", value)
    kind, _, name = value.partition("/")
    if kind not in ("role", "user") or not _IAM_NAME.fullmatch(name):
        return ("must be 'role/NAME' or 'user/NAME' (the same name in every account, e.g. "
                f"'role/AthenaAnalyst'), got {show(value)}")
    return None


def check_org_s3_uri(value: object) -> str | None:
    """A results location for every account: an s3:// URI, ``{account_id}`` allowed in it."""
    if not isinstance(value, str):
        return expected("an s3:// URI", value)
    return check_s3_uri(value.replace(ACCOUNT_PLACEHOLDER, "111111111111"))


def check_sample(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value > 500:
        return expected("a whole number from 1 to 500", value)
    return None
