"""SetupProfile: the typed model of the YAML profile file (design.md, "Profile file").

The model is the single source of truth the CLI, the engine and the GUI share: the GUI builds
one, the CLI loads one, the engine only ever reads one.

Below the model: loading, validation and saving. The file is user input that will drive changes
in production accounts, so loading is total - any input at all ends in a `SetupProfile` or a
`ProfileError` listing *every* problem with its field path (the CLI exits 2 with it, the GUI
marks the fields) - and nothing a user could paste by mistake (an access key) is accepted, saved
or echoed back. The single-field rules live in `wizard.validation`, shared with the GUI.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wizard.validation import (
    CREDENTIALS_HINT,
    check_account_id,
    check_application_version,
    check_bool,
    check_bucket,
    check_catalog_name,
    check_consumer_catalog_name,
    check_credential_name,
    check_function_arn,
    check_kms_key_id,
    check_lambda_memory,
    check_lambda_timeout,
    check_org_s3_uri,
    check_organizational_unit,
    check_principal_arn,
    check_principal_name,
    check_region,
    check_s3_uri,
    check_sample,
    check_share_method,
    check_spill_prefix,
    check_sql,
    check_stack_name,
    check_workgroup,
    did_you_mean,
    expected,
    looks_secret,
    redact_text,
    secret_key_name,
    secret_message,
    show,
    type_name,
    validate_field,
)

__all__ = [
    "DEFAULT_TEST_QUERY",
    "PROFILE_VERSION",
    "ConnectorConfig",
    "ConsumerConfig",
    "CredentialRef",
    "OwnerConfig",
    "Problem",
    "ProfileError",
    "SetupProfile",
    "load_profile",
    "profile_from_dict",
    "profile_to_dict",
    "save_profile",
    "validate",
    "validate_field",
]

PROFILE_VERSION = 1
DEFAULT_TEST_QUERY = 'SELECT * FROM "{catalog}"."default"."music" LIMIT 10'


@dataclass
class CredentialRef:
    """Where one side's credentials come from: an AWS named profile or a keyring entry."""

    profile: str | None = None
    keyring: str | None = None

    def describe(self) -> str:
        return f"profile {self.profile}" if self.profile else f"keyring entry {self.keyring}"

    def to_dict(self) -> dict[str, str]:
        return {"profile": self.profile} if self.profile else {"keyring": self.keyring or ""}


@dataclass
class OwnerConfig:
    account_id: str
    credentials: CredentialRef


@dataclass
class ConnectorConfig:
    catalog_name: str
    spill_bucket: str
    spill_prefix: str = "athena-spill"
    application_version: str = "latest"
    existing_function_arn: str | None = None
    lambda_memory: int = 3008
    lambda_timeout: int = 900
    # SAR prefixes it with "serverlessrepo-"; defaults to catalog_name with "_" -> "-"
    stack_name: str | None = None
    kms_key_id: str | None = None
    disable_spill_encryption: bool = False
    create_spill_bucket: bool = False
    # An Athena catalog of this name that points elsewhere is refused unless this says so;
    # then it is repointed, and destroy points it back.
    take_over_catalog: bool = False

    @property
    def effective_stack_name(self) -> str:
        return self.stack_name or self.catalog_name.replace("_", "-")

    @property
    def deployed_stack_name(self) -> str:
        return f"serverlessrepo-{self.effective_stack_name}"


@dataclass
class ConsumerConfig:
    account_id: str
    credentials: CredentialRef
    principal_arn: str
    query_results: str
    catalog_name: str = ""
    create_principal: bool = False
    take_over_catalog: bool = False  # as ConnectorConfig.take_over_catalog, for the catalog in B
    query_credentials: CredentialRef | None = None
    share_method: str = "assume-role"  # or "direct"
    workgroup: str = "primary"

    @property
    def key(self) -> str:
        """The account label used in Changes and the journal: ``consumer:<id>``."""
        return f"consumer:{self.account_id}"

    @property
    def principal_kind(self) -> str:
        """``user`` or ``role`` (from the ARN's resource type)."""
        return self.principal_arn.split(":", 5)[-1].split("/", 1)[0]

    @property
    def principal_name(self) -> str:
        return self.principal_arn.rsplit("/", 1)[-1]


@dataclass
class ConsumersFrom:
    """Every account of an organizational unit (and the OUs below it) as a consumer.

    The consumer side is one CloudFormation StackSet deployed by the organization's management
    (or delegated-administrator) account, so ``credentials`` are that account's; the owner side
    grants the organization (or the OU's path) once, whatever the number of accounts.
    """

    organizational_unit: str
    principal_name: str  # "role/NAME" or "user/NAME": the same in every account
    credentials: CredentialRef
    create_principal: bool = True  # False: the principal exists in every account already
    query_results: str = ""  # s3:// URI; "{account_id}" is replaced by each account's id
    catalog_name: str = ""  # the catalog's name in every account (default: the connector's)
    workgroup: str = "primary"
    stack_set_name: str = ""  # default: xacct-wizard-<catalog>
    verify_sample: int = 3  # accounts `verify` queries from (all with --all-accounts)

    @property
    def principal_kind(self) -> str:
        return self.principal_name.partition("/")[0]

    @property
    def principal_short_name(self) -> str:
        return self.principal_name.partition("/")[2]

    def principal_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:{self.principal_name}"

    def results_for(self, account_id: str) -> str:
        return self.query_results.replace("{account_id}", account_id)

    def effective_stack_set_name(self, catalog: str) -> str:
        return self.stack_set_name or f"xacct-wizard-{catalog.replace('_', '-')}"


@dataclass
class SetupProfile:
    region: str
    owner: OwnerConfig
    connector: ConnectorConfig
    consumers: list[ConsumerConfig] = field(default_factory=list)
    test_query: str = ""
    version: int = PROFILE_VERSION
    consumers_from: ConsumersFrom | None = None

    @property
    def is_organization(self) -> bool:
        return self.consumers_from is not None

    @property
    def effective_test_query(self) -> str:
        if self.consumers_from is not None and not self.consumers:
            catalog = self.consumers_from.catalog_name or self.connector.catalog_name
        else:
            catalog = self.consumers[0].catalog_name
        return self.test_query or DEFAULT_TEST_QUERY.format(catalog=catalog)


# =========================================================================== problems
@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile: where (``consumers[0].principal_arn``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ProfileError(Exception):
    """The profile cannot be used; ``problems`` lists every reason at once (CLI exit status 2).

    Every reason at once, because fixing a file one error per run is how people give up.
    """

    exit_code = 2

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(self.problems)  # args stay picklable: ProfileError(problems)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


FILE = "(file)"  # path of problems with the file itself (unreadable, not YAML)
ROOT = "(profile)"  # path of problems with the document as a whole
MAX_FILE_BYTES = 1024 * 1024  # a profile is a few hundred bytes; the test query caps at 256 KiB
MAX_DEPTH = 32  # a valid profile is 4 levels deep
MAX_NODES = 100_000


def _join(path: str, key: object) -> str:
    """``consumers[0]`` + ``principal_arn`` -> ``consumers[0].principal_arn``; odd keys quoted."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{show(key)}]"


def _under(path: str, roots: set[str]) -> bool:
    """True when ``path`` is one of ``roots`` or inside one (``a.b`` is inside ``a``)."""
    return any(path == r or path.startswith((r + ".", r + "[")) for r in roots)


# =========================================================================== secrets
def _scan_secrets(data: object) -> tuple[list[Problem], set[str]]:
    """Find secret-looking keys and values anywhere, known keys or not, without recursion.

    Iterative with a visited set, because YAML aliases can make a document refer to itself and
    a Python caller can hand us anything; bounded, because the GUI and fuzzers do. Returns the
    problems and the paths whose other findings must be dropped (they would echo the secret).
    """
    problems: list[Problem] = []
    hide: set[str] = set()
    seen: set[int] = set()
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    nodes = 0
    while stack:
        node, path, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            problems.append(Problem(ROOT, f"too large: more than {MAX_NODES:,} values"))
            break
        if isinstance(node, str):
            kind = looks_secret(node)
            if kind:
                problems.append(Problem(path or ROOT, secret_message(kind)))
                hide.add(path or ROOT)
            continue
        if not isinstance(node, dict | list | tuple | set | frozenset):
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth >= MAX_DEPTH:
            problems.append(Problem(path or ROOT, f"nested more than {MAX_DEPTH} levels deep"))
            continue
        if isinstance(node, dict):
            children: list[tuple[object, str]] = []
            for key, value in node.items():
                kind = looks_secret(key)
                if kind:
                    problems.append(Problem(path or ROOT, "a key " + secret_message(kind)))
                    continue
                child = _join(path, key)
                if secret_key_name(key):
                    problems.append(Problem(child, (
                        f"{show(key)} names a secret; its value was not accepted and is not "
                        f"repeated here. {CREDENTIALS_HINT}"
                    )))
                    hide.add(child)
                    continue
                children.append((value, child))
        else:
            children = [(item, f"{path}[{i}]") for i, item in enumerate(node)]
        stack.extend((value, child, depth + 1) for value, child in reversed(children))
    return problems, hide


# =========================================================================== parsing
_TOP_KEYS = ("version", "region", "owner", "connector", "consumers", "test_query",
             "consumers_from")
_CONSUMERS_FROM_KEYS = ("organizational_unit", "principal_name", "credentials",
                        "create_principal", "query_results", "catalog_name", "workgroup",
                        "stack_set_name", "verify_sample")
_OWNER_KEYS = ("account_id", "credentials")
_CONNECTOR_KEYS = (
    "catalog_name",
    "spill_bucket",
    "spill_prefix",
    "application_version",
    "existing_function_arn",
    "lambda_memory",
    "lambda_timeout",
    "stack_name",
    "kms_key_id",
    "disable_spill_encryption",
    "create_spill_bucket",
    "take_over_catalog",
)
_CONSUMER_KEYS = (
    "account_id",
    "credentials",
    "principal_arn",
    "create_principal",
    "query_credentials",
    "catalog_name",
    "share_method",
    "query_results",
    "workgroup",
    "take_over_catalog",
)
_CREDENTIAL_KEYS = ("profile", "keyring")
_REQUIRED: Any = object()  # sentinel: the key must be present


class _Reader:
    """Turns raw YAML data into the model, noting every structural problem on the way.

    Where a value is missing or of the wrong type it puts a placeholder in the model and notes
    the problem; `validate` then runs on the model, and its findings at paths already noted are
    dropped, so each mistake is reported once, with the clearest message.
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str | None) -> None:
        if message:
            self.problems.append(Problem(path or ROOT, message))

    def mapping(self, value: object, path: str, keys: tuple[str, ...]) -> dict[str, object]:
        """The known keys of a mapping; unknown ones are problems with a "did you mean"."""
        if not isinstance(value, dict):
            self.add(path, expected("a mapping", value))
            return {}
        out: dict[str, object] = {}
        for key, item in value.items():
            if isinstance(key, str) and key in keys:
                out[key] = item
            elif not isinstance(key, str):
                if looks_secret(key) is None:  # the secret scan reports those
                    self.add(path, f"keys are names, got the {type_name(key)} key {show(key)}")
            elif not secret_key_name(key) and looks_secret(key) is None:
                hint = did_you_mean(key, set(keys)) or f" (known here: {', '.join(keys)})"
                self.add(_join(path, key), f"unknown key {show(key)}{hint}")
        return out

    def text(self, m: dict[str, object], key: str, path: str, default: Any = _REQUIRED) -> Any:
        """A string field. ``default=None`` makes it optional and nullable."""
        where = _join(path, key)
        if key not in m:
            if default is _REQUIRED:
                self.add(where, "missing (required)")
                return ""
            return default
        value = m[key]
        if value is None and default is None:
            return None
        if not isinstance(value, str):
            quote = " (put it in quotes)" if isinstance(value, int | float) else ""
            self.add(where, expected("a string", value) + quote)
            return "" if default is _REQUIRED or default is None else default
        return value

    def integer(self, m: dict[str, object], key: str, path: str, default: int) -> Any:
        if key not in m:
            return default
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(_join(path, key), expected("an integer", value))
            return default
        return value

    def boolean(self, m: dict[str, object], key: str, path: str, default: bool) -> bool:
        if key not in m:
            return default
        value = m[key]
        if not isinstance(value, bool):
            self.add(_join(path, key), expected("true or false", value))
            return default
        return value

    def account(self, m: dict[str, object], key: str, path: str) -> str:
        """Account ids are text; YAML turns unquoted ones into numbers, sometimes wrong ones."""
        where = _join(path, key)
        if key not in m:
            self.add(where, "missing (required)")
            return ""
        value = m[key]
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            if 10**11 <= value < 10**12:
                return str(value)
            self.add(where, (
                f"must be exactly 12 digits, got the number {show(value)}: put account ids in "
                "quotes (\"011111111111\"); unquoted, YAML reads a number and drops leading "
                "zeros (or reads a leading 0 as octal)"
            ))
            return ""
        self.add(where, expected("a 12-digit account id in quotes", value))
        return ""

    def credentials(
        self, m: dict[str, object], key: str, path: str, required: bool
    ) -> CredentialRef | None:
        where = _join(path, key)
        if key not in m or (m[key] is None and not required):
            if required:
                self.add(where, "missing (required): {profile: NAME} or {keyring: NAME}")
                return CredentialRef()
            return None
        value = m[key]
        if not isinstance(value, dict):
            self.add(where, expected("a mapping like {profile: NAME} or {keyring: NAME}", value))
            return CredentialRef()
        cm = self.mapping(value, where, _CREDENTIAL_KEYS)
        for key_ in _CREDENTIAL_KEYS:
            if key_ in cm and cm[key_] is None:
                self.add(_join(where, key_), expected("a name", None))
                cm[key_] = ""
        return CredentialRef(
            profile=self.text(cm, "profile", where, None),
            keyring=self.text(cm, "keyring", where, None),
        )

    def version(self, data: dict[Any, object]) -> int | None:
        """The format version; None (with a problem) when it is missing or not an integer."""
        if "version" not in data:
            self.add("version", f"missing: add 'version: {PROFILE_VERSION}' at the top")
            return None
        value = data["version"]
        if isinstance(value, bool) or not isinstance(value, int):
            self.add("version", expected(f"the integer {PROFILE_VERSION}", value))
            return None
        return value


def _newer_version(value: object) -> str:
    return (
        f"this profile was written by a newer xacct-wizard (format version {show(value)}; this "
        f"one reads version {PROFILE_VERSION}): upgrade xacct-wizard to use it"
    )


def profile_from_dict(data: object) -> SetupProfile:
    """Parse and validate loaded YAML data; raise ProfileError listing every problem at once.

    Never raises anything else, whatever ``data`` is.
    """
    try:
        return _profile_from_dict(data)
    except ProfileError:
        raise
    except (RecursionError, MemoryError):
        raise ProfileError([Problem(ROOT, "too large or too deeply nested")]) from None
    except Exception as exc:  # a bug here must still end as "invalid input", not a traceback
        raise ProfileError(
            [Problem(ROOT, f"could not be checked (internal error {type(exc).__name__}); "
                           "please report this")]
        ) from None


def _profile_from_dict(data: object) -> SetupProfile:
    if not isinstance(data, dict):
        what = "an empty document" if data is None else type_name(data)
        raise ProfileError([Problem(ROOT, (
            f"expected a mapping with version, region, owner, connector and consumers, got {what}"
        ))])
    scanned, secret_paths = _scan_secrets(data)
    r = _Reader()
    version = r.version(data)
    if version is not None and version > PROFILE_VERSION:
        # A newer format's keys would all look unknown: say the one thing that matters.
        raise ProfileError([*scanned, Problem("version", _newer_version(version))])
    if version is not None and version < 1:
        r.add("version", f"unsupported version {show(version)}; this xacct-wizard reads "
                         f"version {PROFILE_VERSION}")

    top = r.mapping(data, "", _TOP_KEYS)
    region = r.text(top, "region", "")

    owner = OwnerConfig("", CredentialRef())
    if "owner" not in top:
        r.add("owner", "missing (required)")
    elif isinstance(top["owner"], dict):
        om = r.mapping(top["owner"], "owner", _OWNER_KEYS)
        owner = OwnerConfig(
            account_id=r.account(om, "account_id", "owner"),
            credentials=r.credentials(om, "credentials", "owner", True) or CredentialRef(),
        )
    else:
        r.add("owner", expected("a mapping", top["owner"]))

    defaults = ConnectorConfig(catalog_name="", spill_bucket="")
    connector = defaults
    if "connector" not in top:
        r.add("connector", "missing (required)")
    elif isinstance(top["connector"], dict):
        cm = r.mapping(top["connector"], "connector", _CONNECTOR_KEYS)
        p = "connector"
        connector = ConnectorConfig(
            catalog_name=r.text(cm, "catalog_name", p),
            spill_bucket=r.text(cm, "spill_bucket", p),
            spill_prefix=r.text(cm, "spill_prefix", p, defaults.spill_prefix),
            application_version=r.text(cm, "application_version", p,
                                       defaults.application_version),
            existing_function_arn=r.text(cm, "existing_function_arn", p, None),
            lambda_memory=r.integer(cm, "lambda_memory", p, defaults.lambda_memory),
            lambda_timeout=r.integer(cm, "lambda_timeout", p, defaults.lambda_timeout),
            stack_name=r.text(cm, "stack_name", p, None),
            kms_key_id=r.text(cm, "kms_key_id", p, None),
            disable_spill_encryption=r.boolean(cm, "disable_spill_encryption", p,
                                               defaults.disable_spill_encryption),
            create_spill_bucket=r.boolean(cm, "create_spill_bucket", p,
                                          defaults.create_spill_bucket),
            take_over_catalog=r.boolean(cm, "take_over_catalog", p, False),
        )
    else:
        r.add("connector", expected("a mapping", top["connector"]))

    consumers: list[ConsumerConfig] = []
    inherited: set[str] = set()
    consumers_from: ConsumersFrom | None = None
    if "consumers_from" in top:
        p = "consumers_from"
        fm = r.mapping(top["consumers_from"], p, _CONSUMERS_FROM_KEYS)
        consumers_from = ConsumersFrom(
            organizational_unit=r.text(fm, "organizational_unit", p),
            principal_name=r.text(fm, "principal_name", p),
            credentials=r.credentials(fm, "credentials", p, True) or CredentialRef(),
            create_principal=r.boolean(fm, "create_principal", p, True),
            query_results=r.text(fm, "query_results", p),
            catalog_name=r.text(fm, "catalog_name", p, connector.catalog_name),
            workgroup=r.text(fm, "workgroup", p, "primary"),
            stack_set_name=r.text(fm, "stack_set_name", p, ""),
            verify_sample=r.integer(fm, "verify_sample", p, 3),
        )
        if "consumers" in top:
            r.add("consumers", "give either consumers (a list of accounts) or consumers_from "
                               "(every account of an OU), not both")
    if "consumers" not in top:
        if consumers_from is None:
            r.add("consumers", "missing (required): a list of one or more consumer accounts "
                               "(or consumers_from: every account of an organizational unit)")
    elif not isinstance(top["consumers"], list):
        r.add("consumers", expected("a list of consumer accounts", top["consumers"]))
    else:
        for i, item in enumerate(top["consumers"]):
            p = f"consumers[{i}]"
            km = r.mapping(item, p, _CONSUMER_KEYS)
            if not isinstance(item, dict):
                consumers.append(ConsumerConfig("", CredentialRef(), "", ""))
                continue
            if "catalog_name" not in km:  # defaults to the connector's: its problems are its
                inherited.add(f"{p}.catalog_name")
            consumers.append(ConsumerConfig(
                account_id=r.account(km, "account_id", p),
                credentials=r.credentials(km, "credentials", p, True) or CredentialRef(),
                principal_arn=r.text(km, "principal_arn", p),
                query_results=r.text(km, "query_results", p),
                catalog_name=r.text(km, "catalog_name", p, connector.catalog_name),
                create_principal=r.boolean(km, "create_principal", p, False),
                query_credentials=r.credentials(km, "query_credentials", p, False),
                share_method=r.text(km, "share_method", p, "assume-role"),
                workgroup=r.text(km, "workgroup", p, "primary"),
                take_over_catalog=r.boolean(km, "take_over_catalog", p, False),
            ))

    test_query = ""
    if "test_query" in top:
        test_query = r.text(top, "test_query", "", "")
        if isinstance(top["test_query"], str) and not test_query.strip():
            r.add("test_query", "must not be empty (leave the key out to use the default query)")

    profile = SetupProfile(
        region=region,
        owner=owner,
        connector=connector,
        consumers=consumers,
        test_query=test_query,
        version=version if version is not None else PROFILE_VERSION,
        consumers_from=consumers_from,
    )
    parsed = [p for p in r.problems if not _under(p.path, secret_paths)]
    noted = secret_paths | {p.path for p in parsed}
    checked = [p for p in validate(profile) if not _under(p.path, noted)]
    if any(p.path == "connector.catalog_name" for p in [*parsed, *checked]):
        checked = [p for p in checked if p.path not in inherited]
    problems = [*scanned, *parsed, *checked]
    if problems:
        raise ProfileError(problems)
    return profile


# =========================================================================== validation
def validate(profile: SetupProfile) -> list[Problem]:
    """Every rule that can be checked without AWS, on an already-built model.

    The GUI calls this on every keystroke with whatever the user has typed so far, so it accepts
    any field of any type, never raises, and costs microseconds (regexes and a cached region
    list). Cross-field rules only run when the fields they compare are valid themselves, so one
    mistake gives one problem. A value that looks like a secret is reported as such, unechoed.
    """
    try:
        return _validate(profile)
    except Exception as exc:
        return [Problem(ROOT, f"could not be checked (internal error {type(exc).__name__}); "
                              "please report this")]


def _validate(profile: SetupProfile) -> list[Problem]:
    out: list[Problem] = []

    def add(path: str, message: str | None) -> None:
        if message:
            out.append(Problem(path, message))

    if not isinstance(profile, SetupProfile):
        return [Problem(ROOT, expected("a SetupProfile", profile))]

    v = profile.version
    if isinstance(v, bool) or not isinstance(v, int):
        add("version", expected(f"the integer {PROFILE_VERSION}", v))
    elif v > PROFILE_VERSION:
        add("version", _newer_version(v))
    elif v != PROFILE_VERSION:
        add("version", f"unsupported version {show(v)}; this xacct-wizard reads version "
                       f"{PROFILE_VERSION}")

    add("region", check_region(profile.region))
    region = profile.region if check_region(profile.region) is None else None

    owner_id: str | None = None
    owner = profile.owner
    if not isinstance(owner, OwnerConfig):
        add("owner", expected("an owner mapping", owner))
    else:
        add("owner.account_id", check_account_id(owner.account_id))
        owner_id = owner.account_id if check_account_id(owner.account_id) is None else None
        _check_credentials(add, "owner.credentials", owner.credentials, required=True)

    c = profile.connector
    if not isinstance(c, ConnectorConfig):
        add("connector", expected("a connector mapping", c))
    else:
        _validate_connector(add, c, region, owner_id)

    consumers = profile.consumers
    if not isinstance(consumers, list):
        add("consumers", expected("a list of consumer accounts", consumers))
        consumers = []
    elif not consumers and profile.consumers_from is None:
        add("consumers", "at least one consumer account is required")
    if profile.consumers_from is not None:
        _validate_consumers_from(add, profile.consumers_from)
    seen: dict[str, int] = {}
    for i, cons in enumerate(consumers):
        _validate_consumer(add, f"consumers[{i}]", cons, owner_id, seen, i)

    q = profile.test_query
    if not isinstance(q, str):
        add("test_query", expected("a string", q))
    elif q:  # "" means the default query
        add("test_query", check_sql(q))

    # A key pasted into any field (the GUI validates as the user types) is refused as such.
    try:
        leaked, hide = _scan_secrets(profile_to_dict(profile))
    except Exception:  # a model too broken to serialize: the checks above said why
        leaked, hide = [], set()
    return [*leaked, *(p for p in out if not _under(p.path, hide))]


_Add = Callable[[str, "str | None"], None]


def _check_credentials(add: _Add, path: str, ref: object, required: bool) -> None:
    if ref is None:
        if required:
            add(path, "missing (required): {profile: NAME} or {keyring: NAME}")
        return
    if not isinstance(ref, CredentialRef):
        add(path, expected("{profile: NAME} or {keyring: NAME}", ref))
        return
    if ref.profile is not None and ref.keyring is not None:
        add(path, "give exactly one of 'profile' or 'keyring', not both")
    elif ref.profile is None and ref.keyring is None:
        add(path, "give one of 'profile' (an AWS named profile) or 'keyring' (an entry made "
                  "with `xacct-wizard credentials set NAME`)")
    elif ref.profile is not None:
        add(f"{path}.profile", check_credential_name(ref.profile))
    else:
        add(f"{path}.keyring", check_credential_name(ref.keyring))


def _validate_connector(
    add: _Add, c: ConnectorConfig, region: str | None, owner_id: str | None
) -> None:
    p = "connector"
    catalog_problem = check_catalog_name(c.catalog_name)
    add(f"{p}.catalog_name", catalog_problem)
    add(f"{p}.spill_bucket", check_bucket(c.spill_bucket))
    add(f"{p}.spill_prefix", check_spill_prefix(c.spill_prefix))
    add(f"{p}.application_version", check_application_version(c.application_version))
    if c.existing_function_arn is not None:
        add(f"{p}.existing_function_arn",
            check_function_arn(c.existing_function_arn, region, owner_id))
    add(f"{p}.lambda_memory", check_lambda_memory(c.lambda_memory))
    add(f"{p}.lambda_timeout", check_lambda_timeout(c.lambda_timeout))
    if c.stack_name is not None:
        if not isinstance(c.stack_name, str):
            add(f"{p}.stack_name", expected("a string", c.stack_name))
        elif not c.stack_name:
            add(f"{p}.stack_name", "must not be empty (leave it out to derive it from "
                                   "catalog_name)")
        else:
            problem = check_stack_name(c.deployed_stack_name)
            if problem:
                add(f"{p}.stack_name", f"the deployed stack {show(c.deployed_stack_name)} "
                                       f"(SAR adds 'serverlessrepo-') is invalid: {problem}")
    elif catalog_problem is None:
        problem = check_stack_name(c.deployed_stack_name)
        if problem:
            add(f"{p}.catalog_name", (
                f"the stack name derived from it, {show(c.deployed_stack_name)}, is not a valid "
                f"CloudFormation name ({problem}): set connector.stack_name"
            ))
    if c.kms_key_id is not None:
        add(f"{p}.kms_key_id", check_kms_key_id(c.kms_key_id))
    add(f"{p}.disable_spill_encryption", check_bool(c.disable_spill_encryption))
    add(f"{p}.create_spill_bucket", check_bool(c.create_spill_bucket))
    add(f"{p}.take_over_catalog", check_bool(c.take_over_catalog))
    if c.kms_key_id and c.disable_spill_encryption is True:
        add(f"{p}.kms_key_id", "is set while disable_spill_encryption is true; the key would "
                               "not be used: remove one of them")


def _validate_consumer(
    add: _Add, p: str, cons: object, owner_id: str | None, seen: dict[str, int], index: int
) -> None:
    if not isinstance(cons, ConsumerConfig):
        add(p, expected("a consumer mapping", cons))
        return
    account_problem = check_account_id(cons.account_id)
    add(f"{p}.account_id", account_problem)
    account = cons.account_id if account_problem is None else None
    if account is not None:
        if account == owner_id:
            add(f"{p}.account_id", "is the owner's account; a consumer must be another account "
                                   "(this tool sets up cross-account access)")
        elif account in seen:
            add(f"{p}.account_id", f"the same account as consumers[{seen[account]}]; list each "
                                   "consumer account once")
        else:
            seen[account] = index
    _check_credentials(add, f"{p}.credentials", cons.credentials, required=True)
    add(f"{p}.principal_arn", check_principal_arn(cons.principal_arn, account))
    add(f"{p}.query_results", check_s3_uri(cons.query_results))
    add(f"{p}.catalog_name", check_consumer_catalog_name(cons.catalog_name))
    add(f"{p}.create_principal", check_bool(cons.create_principal))
    add(f"{p}.take_over_catalog", check_bool(cons.take_over_catalog))
    _check_credentials(add, f"{p}.query_credentials", cons.query_credentials, required=False)
    add(f"{p}.share_method", check_share_method(cons.share_method))
    add(f"{p}.workgroup", check_workgroup(cons.workgroup))


def _validate_consumers_from(add: _Add, f: object) -> None:
    p = "consumers_from"
    if not isinstance(f, ConsumersFrom):
        add(p, expected("a consumers_from mapping", f))
        return
    add(f"{p}.organizational_unit", check_organizational_unit(f.organizational_unit))
    add(f"{p}.principal_name", check_principal_name(f.principal_name))
    _check_credentials(add, f"{p}.credentials", f.credentials, required=True)
    add(f"{p}.create_principal", check_bool(f.create_principal))
    add(f"{p}.query_results", check_org_s3_uri(f.query_results))
    add(f"{p}.catalog_name", check_consumer_catalog_name(f.catalog_name))
    add(f"{p}.workgroup", check_workgroup(f.workgroup))
    if f.stack_set_name:
        add(f"{p}.stack_set_name", check_stack_name(f.stack_set_name))
    add(f"{p}.verify_sample", check_sample(f.verify_sample))


# =========================================================================== files
class _StrictSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader (same safe constructors) that also refuses duplicate keys.

    PyYAML keeps the last of two equal keys silently; in a profile that is how a pasted second
    ``principal_arn`` quietly wins. Merge keys (``<<``) keep their documented override meaning.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = self.construct_object(key_node, deep=False)
                try:
                    if key in first:
                        raise yaml.constructor.ConstructorError(
                            None, None,
                            f"duplicate key {show(key)} (first on line {first[key] + 1})",
                            key_node.start_mark,
                        )
                    first[key] = key_node.start_mark.line
                except TypeError:  # unhashable: SafeConstructor reports it
                    continue
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: Exception, text: str) -> Problem:
    """A YAML error as "invalid YAML at line L, column C: what" - without the file's content."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = redact_text(exc.problem or exc.context or "syntax error")
        return Problem(FILE, f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: "
                             f"{what}")
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return Problem(FILE, f"invalid YAML at line {line}, column {column}: character "
                             f"#x{char:04x} is not allowed")
    if isinstance(exc, yaml.YAMLError):
        return Problem(FILE, f"invalid YAML: {redact_text(str(exc))}")
    if isinstance(exc, RecursionError):
        return Problem(FILE, "invalid profile: nested too deeply")
    if isinstance(exc, ValueError | OverflowError):  # int() past Python's 4300-digit limit
        return Problem(FILE, "invalid profile: a number is too large")
    return Problem(FILE, f"invalid YAML ({type(exc).__name__})")


def _show_path(path: str | Path) -> str:
    """The path, escaped; shortened from the left, because the file name is what matters."""
    try:
        text = os.fsdecode(path)
    except Exception:
        return "the profile"
    return repr(text if len(text) <= 200 else "..." + text[-200:])


def load_profile(path: str | Path) -> SetupProfile:
    """Read, parse and validate a profile file; any failure at all is a ProfileError."""
    shown = _show_path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(
            [Problem(FILE, f"cannot read {shown}: {exc.strerror or type(exc).__name__}")]
        ) from None
    except Exception as exc:  # e.g. a path with NUL in it (ValueError)
        raise ProfileError([Problem(FILE, f"cannot read {shown} ({type(exc).__name__})")]) \
            from None
    if len(raw) > MAX_FILE_BYTES:
        raise ProfileError([Problem(FILE, f"{shown} is larger than {MAX_FILE_BYTES:,} bytes; "
                                          "this is not a profile")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(
            [Problem(FILE, f"{shown} is not UTF-8 text (bad byte at offset {exc.start})")]
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        data = yaml.load(text, Loader=_StrictSafeLoader)  # a SafeLoader subclass: safe
    except Exception as exc:
        raise ProfileError([_yaml_problem(exc, text)]) from None
    return profile_from_dict(data)


def _credentials_to_dict(ref: CredentialRef) -> dict[str, str | None]:
    """Like CredentialRef.to_dict, but keeps an (invalid) both-set ref visible in a draft."""
    if ref.profile is not None and ref.keyring is not None:
        return {"profile": ref.profile, "keyring": ref.keyring}
    return ref.to_dict()


def profile_to_dict(profile: SetupProfile) -> dict[str, Any]:
    """The YAML v1 shape of design.md, in its key order.

    Keys design.md shows are always written (so a saved file reads like the documented one);
    the optional connector settings it leaves out are written only when they differ from their
    defaults, and ``test_query`` only when one is set ("" means the default query).
    """
    c = profile.connector
    defaults = ConnectorConfig(catalog_name="", spill_bucket="")
    connector: dict[str, Any] = {
        "catalog_name": c.catalog_name,
        "spill_bucket": c.spill_bucket,
        "spill_prefix": c.spill_prefix,
        "application_version": c.application_version,
    }
    for key in _CONNECTOR_KEYS[4:]:
        value = getattr(c, key)
        if value != getattr(defaults, key):
            connector[key] = value
    consumers: list[dict[str, Any]] = []
    for cons in profile.consumers:
        entry: dict[str, Any] = {
            "account_id": cons.account_id,
            "credentials": _credentials_to_dict(cons.credentials),
            "principal_arn": cons.principal_arn,
            "create_principal": cons.create_principal,
        }
        if cons.query_credentials is not None:
            entry["query_credentials"] = _credentials_to_dict(cons.query_credentials)
        entry.update(
            catalog_name=cons.catalog_name,
            share_method=cons.share_method,
            query_results=cons.query_results,
            workgroup=cons.workgroup,
        )
        if cons.take_over_catalog:
            entry["take_over_catalog"] = True
        consumers.append(entry)
    out: dict[str, Any] = {
        "version": profile.version,
        "region": profile.region,
        "owner": {
            "account_id": profile.owner.account_id,
            "credentials": _credentials_to_dict(profile.owner.credentials),
        },
        "connector": connector,
        "consumers": consumers,
    }
    f = profile.consumers_from
    if f is not None:
        if not consumers:
            del out["consumers"]
        out["consumers_from"] = {
            "organizational_unit": f.organizational_unit,
            "principal_name": f.principal_name,
            "credentials": _credentials_to_dict(f.credentials),
            "create_principal": f.create_principal,
            "query_results": f.query_results,
            "catalog_name": f.catalog_name,
            "workgroup": f.workgroup,
            **({"stack_set_name": f.stack_set_name} if f.stack_set_name else {}),
            "verify_sample": f.verify_sample,
        }
    if profile.test_query:
        out["test_query"] = profile.test_query
    return out


_HEADER = (
    f"# xacct-wizard profile (format version {PROFILE_VERSION}). No secrets in this file: keep "
    "access keys\n# in the OS keyring with `xacct-wizard credentials set NAME`.\n"
)


def save_profile(profile: SetupProfile, path: str | Path, *, check: bool = True) -> None:
    """Write the profile atomically: a crash or a full disk leaves the old file as it was.

    Refuses (ProfileError) to write a profile that `load_profile` would refuse, so the GUI can
    never produce a file the CLI rejects; ``check=False`` saves a draft anyway, but a value that
    looks like a secret is never written, draft or not. The temporary file is created beside the
    target (os.replace is only atomic within a file system) with the process umask, like any
    new file; an existing file keeps its permission bits, and a symlinked profile stays a link.
    """
    if check:
        problems = validate(profile)
        if problems:
            raise ProfileError(problems)
    data = profile_to_dict(profile)
    leaked, _ = _scan_secrets(data)
    if leaked:
        raise ProfileError(leaked)
    text = _HEADER + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = None
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
