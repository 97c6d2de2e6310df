"""Where each side's credentials come from, and the boto3 Sessions built from them.

Two sources only: an AWS named profile (anything boto3 resolves: static keys, IAM Identity
Center/SSO, role_arn + source_profile, MFA, credential_process) or access keys kept in the OS
keyring under the service name ``xacct-wizard``. Secrets live in the keyring and in memory,
never in a file, a log line or an exception message.
"""

from __future__ import annotations

import configparser
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from wizard.aws import new_session
from wizard.errors import CredentialsError, KeyringUnavailable, from_exception, register_secret
from wizard.profile import CredentialRef

KEYRING_SERVICE = "xacct-wizard"
_INDEX_ENTRY = "__names__"
_keyring_lock = threading.Lock()  # Secret Service misbehaves when called from several threads

MfaPrompt = Callable[[str], str]


# --------------------------------------------------------------------------- keyring
def _backend():  # type: ignore[no-untyped-def]
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    names = [type(b).__module__ for b in getattr(backend, "backends", [backend])]
    if isinstance(backend, fail.Keyring) or not names:
        raise KeyringUnavailable(
            "No OS keyring is available to keep access keys safely.",
            cause="keyring found no Secret Service / Keychain / Credential Locker backend.",
            fix="Use an AWS named profile instead (credentials: {profile: NAME}), or start a "
                "Secret Service such as gnome-keyring. xacct-wizard never stores keys in a file.",
        )
    for name in names:
        if name.startswith("keyrings.alt") or "plaintext" in name.lower():
            raise KeyringUnavailable(
                f"The configured keyring backend ({name}) stores secrets in a plain file.",
                fix="Configure a real OS keyring, or use an AWS named profile instead.",
            )
    return backend


def keyring_available() -> bool:
    try:
        _backend()
    except KeyringUnavailable:
        return False
    return True


@dataclass(frozen=True)
class StoredKeys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"StoredKeys(access_key_id={self.access_key_id[:4]}…, secret_access_key=****)"


def store_keys(name: str, keys: StoredKeys) -> None:
    if not name.strip():
        raise CredentialsError("A keyring entry needs a name.")
    with _keyring_lock:
        backend = _backend()
        payload = {"aws_access_key_id": keys.access_key_id,
                   "aws_secret_access_key": keys.secret_access_key}
        if keys.session_token:
            payload["aws_session_token"] = keys.session_token
        backend.set_password(KEYRING_SERVICE, name, json.dumps(payload))
        names = set(_read_index(backend))
        names.add(name)
        backend.set_password(KEYRING_SERVICE, _INDEX_ENTRY, json.dumps(sorted(names)))


def load_keys(name: str) -> StoredKeys:
    with _keyring_lock:
        raw = _backend().get_password(KEYRING_SERVICE, name)
    if raw is None:
        raise CredentialsError(
            f"No access keys named {name!r} in the OS keyring.",
            fix=f"Store them with `xacct-wizard credentials set {name}`.",
        )
    data = json.loads(raw)
    keys = StoredKeys(data["aws_access_key_id"], data["aws_secret_access_key"],
                      data.get("aws_session_token"))
    register_secret(keys.secret_access_key)
    register_secret(keys.session_token)
    return keys


def list_keys() -> list[str]:
    with _keyring_lock:
        backend = _backend()
        return [n for n in _read_index(backend)
                if backend.get_password(KEYRING_SERVICE, n) is not None]


def delete_keys(name: str) -> bool:
    import keyring.errors

    with _keyring_lock:
        backend = _backend()
        try:
            backend.delete_password(KEYRING_SERVICE, name)
            found = True
        except keyring.errors.PasswordDeleteError:
            found = False
        names = [n for n in _read_index(backend) if n != name]
        backend.set_password(KEYRING_SERVICE, _INDEX_ENTRY, json.dumps(names))
    return found


def _read_index(backend) -> list[str]:  # type: ignore[no-untyped-def]
    raw = backend.get_password(KEYRING_SERVICE, _INDEX_ENTRY)
    try:
        return list(json.loads(raw)) if raw else []
    except ValueError:
        return []


# --------------------------------------------------------------------------- named profiles
@dataclass(frozen=True)
class NamedProfile:
    name: str
    kind: str  # "sso", "assume-role", "process", "keys", "other"
    region: str | None = None
    mfa: bool = False



def _read_ini(path: Path) -> configparser.RawConfigParser:
    """An AWS config or credentials file, parsed; empty when missing or malformed."""
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except configparser.Error:
        pass
    return parser

def list_named_profiles() -> list[NamedProfile]:
    """The user's AWS profiles (config + credentials files), marked by kind, for pickers."""
    out: dict[str, NamedProfile] = {}
    cfg_path = Path(os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")).expanduser()
    cred_path = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE",
                                    "~/.aws/credentials")).expanduser()
    parser = _read_ini(cfg_path)
    for section in parser.sections():
        name = section[len("profile "):] if section.startswith("profile ") else section
        if section.startswith(("sso-session ", "services ")):
            continue
        sec = parser[section]
        if "sso_session" in sec or "sso_start_url" in sec:
            kind = "sso"
        elif "role_arn" in sec:
            kind = "assume-role"
        elif "credential_process" in sec:
            kind = "process"
        elif "aws_access_key_id" in sec:
            kind = "keys"
        else:
            kind = "other"
        out[name] = NamedProfile(name, kind, sec.get("region"), "mfa_serial" in sec)
    creds = _read_ini(cred_path)
    for section in creds.sections():
        if section not in out:
            out[section] = NamedProfile(section, "keys")
    return sorted(out.values(), key=lambda p: p.name)


# --------------------------------------------------------------------------- sessions
def make_session(ref: CredentialRef, region: str, *,
                 mfa_prompt: MfaPrompt | None = None) -> boto3.Session:
    """A boto3 Session for a credential reference; nothing is called yet."""
    if ref.keyring:
        keys = load_keys(ref.keyring)
        return new_session(aws_access_key_id=keys.access_key_id,
                           aws_secret_access_key=keys.secret_access_key,
                           aws_session_token=keys.session_token, region_name=region)
    try:
        session = new_session(profile_name=ref.profile, region_name=region)
        if ref.profile not in session.available_profiles:
            raise botocore.exceptions.ProfileNotFound(profile=ref.profile)
    except botocore.exceptions.ProfileNotFound as exc:
        raise CredentialsError(
            f"AWS profile {ref.profile!r} is not in your AWS config.",
            fix="Run `aws configure --profile NAME` (or `aws configure sso`), or pick another "
                "profile.",
        ) from exc
    if mfa_prompt is not None:
        provider = session._session.get_component("credential_provider").get_provider(
            "assume-role")
        if provider is not None:
            provider._prompter = mfa_prompt  # botocore asks through this for the MFA code
    return session


@dataclass(frozen=True)
class Identity:
    account_id: str
    arn: str
    user_id: str


def check_identity(session: boto3.Session, expected_account: str | None = None,
                   label: str = "", *, client: Any = None) -> Identity:
    """Who these credentials are; an error naming both ids when it is the wrong account.

    Pass ``client`` (an STS client the caller keeps) to avoid building a throwaway one.
    """
    from wizard.aws import RETRY_CONFIG

    try:
        sts = client or session.client("sts", config=RETRY_CONFIG)
        ans = sts.get_caller_identity()
    except botocore.exceptions.NoCredentialsError as exc:
        raise CredentialsError(
            f"No credentials found{' for ' + label if label else ''}.",
            fix="Pick a profile that has credentials, or store access keys with "
                "`xacct-wizard credentials set NAME`.",
        ) from exc
    except (botocore.exceptions.SSOTokenLoadError, botocore.exceptions.UnauthorizedSSOTokenError,
            botocore.exceptions.TokenRetrievalError) as exc:
        profile = getattr(session, "profile_name", None) or "NAME"
        raise CredentialsError(
            f"The IAM Identity Center (SSO) login{' for ' + label if label else ''} has "
            "expired or is missing.",
            fix=f"Press Sign in on the Accounts page, or run `aws sso login --profile {profile}`,"
                " then check again.",
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise from_exception(exc, operation="GetCallerIdentity", account=label) from exc
    except botocore.exceptions.ClientError as exc:
        raise from_exception(exc, operation="GetCallerIdentity", account=label) from exc
    ident = Identity(ans["Account"], ans["Arn"], ans["UserId"])
    if expected_account and ident.account_id != expected_account:
        raise CredentialsError(
            f"The credentials for {label or 'this side'} belong to account {ident.account_id} "
            f"({ident.arn}), but the setup declares account {expected_account} for it.",
            fix=f"Pick an AWS named profile or keyring entry of account {expected_account}, or "
                "correct the account id of this side in the setup.",
        )
    return ident
