"""IAM Identity Center (SSO) sign-in from the app: the OAuth device-authorization flow.

An expired SSO login used to end in "run `aws sso login`", in a terminal, outside the app.
This does what that command does, with botocore's own ``sso-oidc`` client: register a public
client, start a device authorization, show the user the verification URL and code (the
caller opens the browser), poll ``CreateToken`` at the interval the service asks for, and
write the token where the AWS CLI keeps it (``~/.aws/sso/cache/<sha1>.json``, through
botocore's ``JSONFileCache``, file mode 0600) - so the CLI and this tool share one login, and
botocore's SSO credential provider finds it for the profile straight away.

The token is a short-lived bearer token for the SSO portal, not AWS access keys; the cache is
the AWS CLI's own, which any SSO user already has.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.tokens import SSOTokenProvider
from botocore.utils import JSONFileCache, SSOTokenLoader

from wizard.errors import CredentialsError, register_secret

CLIENT_NAME = "xacct-wizard"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_SCOPES = ["sso:account:access"]


@dataclass(frozen=True)
class SsoConfig:
    """What a profile says about its SSO login (new ``sso_session`` or legacy style)."""

    profile: str
    start_url: str
    region: str
    session_name: str | None  # None: a legacy profile (token cached by start URL)
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class DeviceCode:
    """What the user must see: open this URL (the code is in it) and check the code."""

    verification_uri: str
    verification_uri_complete: str
    user_code: str
    expires_at: float


def sso_config(profile: str, session: Any = None) -> SsoConfig:
    """The SSO settings of an AWS named profile; CredentialsError when it is not an SSO one."""
    bs = session or botocore.session.Session(profile=profile)
    full = bs.full_config
    prof = full.get("profiles", {}).get(profile)
    if prof is None:
        raise CredentialsError(f"AWS profile {profile!r} is not in your AWS config.",
                               fix="Pick another profile, or run `aws configure sso`.")
    if "sso_session" in prof:
        name = prof["sso_session"]
        sess = full.get("sso_sessions", {}).get(name)
        if not sess or "sso_start_url" not in sess or "sso_region" not in sess:
            raise CredentialsError(
                f"AWS profile {profile!r} names sso_session {name!r}, which is missing or "
                "lacks sso_start_url / sso_region.",
                fix=f"Run `aws configure sso-session` to define [sso-session {name}].")
        scopes = tuple(s.strip() for s in str(sess.get("sso_registration_scopes", "")).split(",")
                       if s.strip()) or tuple(DEFAULT_SCOPES)
        return SsoConfig(profile, sess["sso_start_url"], sess["sso_region"], name, scopes)
    if "sso_start_url" in prof and "sso_region" in prof:
        return SsoConfig(profile, prof["sso_start_url"], prof["sso_region"], None, ())
    raise CredentialsError(f"AWS profile {profile!r} does not sign in with IAM Identity Center.",
                           fix="Sign-in applies to SSO profiles (`aws configure sso`).")


def token_cache() -> JSONFileCache:
    """The AWS CLI's SSO token cache (botocore's own location and format)."""
    return JSONFileCache(SSOTokenProvider._SSO_TOKEN_CACHE_DIR,
                         dumps_func=lambda obj: json.dumps(obj, default=str))


def sign_in(profile: str, *, on_code: Callable[[DeviceCode], None],
            cancel: threading.Event | None = None, oidc: Any = None,
            cache: Any = None, sleep: Callable[[float], None] = time.sleep,
            now: Callable[[], float] = time.time) -> dt.datetime:
    """Run the device flow for ``profile``; returns when the token expires.

    ``on_code`` is called once with the URL and code to show (open the browser there).
    ``cancel`` set: stop polling (CredentialsError). ``oidc``/``cache``/``sleep``/``now``
    are for tests (a stubbed client, a dict, no waiting).
    """
    cfg = sso_config(profile)
    client = oidc or botocore.session.Session().create_client(
        "sso-oidc", config=Config(region_name=cfg.region, signature_version=UNSIGNED))
    try:
        reg_args: dict[str, Any] = {"clientName": CLIENT_NAME, "clientType": "public"}
        if cfg.session_name is not None:
            reg_args["scopes"] = list(cfg.scopes)
        registration = client.register_client(**reg_args)
        register_secret(registration.get("clientSecret"))
        auth = client.start_device_authorization(
            clientId=registration["clientId"], clientSecret=registration["clientSecret"],
            startUrl=cfg.start_url)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise CredentialsError(f"Could not start the IAM Identity Center sign-in for {profile}.",
                               cause=str(exc),
                               fix=f"Check sso_start_url ({cfg.start_url}) and sso_region "
                                   f"({cfg.region}) in the profile, and the network.") from exc
    code = DeviceCode(auth["verificationUri"],
                      auth.get("verificationUriComplete") or auth["verificationUri"],
                      auth["userCode"], now() + float(auth.get("expiresIn", 600)))
    on_code(code)
    interval = float(auth.get("interval") or 5)
    while True:
        if cancel is not None and cancel.is_set():
            raise CredentialsError("The sign-in was cancelled.")
        if now() >= code.expires_at:
            raise CredentialsError("The sign-in code expired before it was approved.",
                                   fix="Press Sign in again and approve it in the browser.")
        try:
            token = client.create_token(
                grantType=DEVICE_GRANT, deviceCode=auth["deviceCode"],
                clientId=registration["clientId"], clientSecret=registration["clientSecret"])
            break
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {}).get("Code", "")
            if error == "AuthorizationPendingException":
                sleep(interval)
                continue
            if error == "SlowDownException":
                interval += 5  # RFC 8628: slow down by 5 seconds
                sleep(interval)
                continue
            if error in ("AccessDeniedException", "ExpiredTokenException"):
                raise CredentialsError("The sign-in was not approved.",
                                       cause=error,
                                       fix="Press Sign in again and approve the request.") from exc
            raise CredentialsError("The IAM Identity Center sign-in failed.",
                                   cause=str(exc)) from exc
    register_secret(token.get("accessToken"))
    register_secret(token.get("refreshToken"))
    expires = dt.datetime.fromtimestamp(now() + float(token["expiresIn"]), dt.UTC)
    record: dict[str, Any] = {
        "startUrl": cfg.start_url,
        "region": cfg.region,
        "accessToken": token["accessToken"],
        "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if cfg.session_name is not None:  # what the CLI keeps to refresh a session token
        record.update(clientId=registration["clientId"],
                      clientSecret=registration["clientSecret"],
                      registrationExpiresAt=dt.datetime.fromtimestamp(
                          float(registration.get("clientSecretExpiresAt", now() + 7776000)),
                          dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if token.get("refreshToken"):
            record["refreshToken"] = token["refreshToken"]
    SSOTokenLoader(cache=cache if cache is not None else token_cache()).save_token(
        cfg.start_url, record, session_name=cfg.session_name)
    return expires
