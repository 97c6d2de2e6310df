"""IAM Identity Center sign-in from the app, against a stubbed ``sso-oidc`` (no network).

The proof that the login is usable is botocore's own: after ``sign_in``, botocore's SSO token
provider for the profile loads the token from the AWS CLI's cache folder.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.stub import Stubber
from botocore.tokens import SSOTokenProvider
from botocore.utils import JSONFileCache

from wizard import sso
from wizard.errors import CredentialsError

START_URL = "https://example.awsapps.com/start"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config"
    path.write_text(
        "[profile admin-sso]\nsso_session = corp\nsso_account_id = 111111111111\n"
        "sso_role_name = Admin\nregion = us-east-1\n\n"
        f"[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\n"
        "sso_registration_scopes = sso:account:access\n\n"
        f"[profile legacy]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\n"
        "sso_account_id = 111111111111\nsso_role_name = Admin\n\n"
        "[profile keys]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    return path


def stubbed_oidc(pending: int = 2, slow_down: int = 0) -> tuple[object, Stubber]:
    client = botocore.session.Session().create_client(
        "sso-oidc", config=Config(region_name="eu-west-1", signature_version=UNSIGNED))
    stub = Stubber(client)
    stub.add_response("register_client", {
        "clientId": "cid", "clientSecret": "csecret-value", "clientIdIssuedAt": 1,
        "clientSecretExpiresAt": 4102444800})
    stub.add_response("start_device_authorization", {
        "deviceCode": "dev", "userCode": "ABCD-EFGH", "verificationUri": "https://device.sso",
        "verificationUriComplete": "https://device.sso?user_code=ABCD-EFGH",
        "expiresIn": 600, "interval": 1})
    for _ in range(slow_down):
        stub.add_client_error("create_token", "SlowDownException")
    for _ in range(pending):
        stub.add_client_error("create_token", "AuthorizationPendingException")
    stub.add_response("create_token", {"accessToken": "the-access-token", "expiresIn": 3600,
                                       "tokenType": "Bearer", "refreshToken": "refresh-me"})
    stub.activate()
    return client, stub


def test_sign_in_writes_the_token_where_botocore_and_the_aws_cli_read_it(
        config: Path, tmp_path: Path) -> None:
    cache = JSONFileCache(str(tmp_path / "sso-cache"))
    client, stub = stubbed_oidc(pending=2, slow_down=1)
    shown: list[sso.DeviceCode] = []
    waits: list[float] = []
    sso.sign_in("admin-sso", on_code=shown.append, oidc=client, cache=cache,
                sleep=waits.append)
    stub.assert_no_pending_responses()
    assert [c.user_code for c in shown] == ["ABCD-EFGH"]
    assert shown[0].verification_uri_complete.endswith("user_code=ABCD-EFGH")
    assert waits == [6.0, 6.0, 6.0]  # interval 1 s, +5 s after SlowDown (RFC 8628)

    bs = botocore.session.Session(profile="admin-sso")
    provider = SSOTokenProvider(bs, cache=cache)
    assert provider.load_token().get_frozen_token().token == "the-access-token"
    files = list((tmp_path / "sso-cache").iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    record = json.loads(files[0].read_text())
    assert record["startUrl"] == START_URL and record["refreshToken"] == "refresh-me"


def test_a_legacy_sso_profile_is_cached_by_its_start_url(config: Path) -> None:
    cache: dict[str, dict[str, str]] = {}
    client, _ = stubbed_oidc(pending=0)
    sso.sign_in("legacy", on_code=lambda c: None, oidc=client, cache=cache,
                sleep=lambda s: None)
    import hashlib

    record = cache[hashlib.sha1(START_URL.encode()).hexdigest()]
    assert record["accessToken"] == "the-access-token" and "clientSecret" not in record


def test_cancel_stops_polling(config: Path) -> None:
    cancel = threading.Event()
    client, _ = stubbed_oidc(pending=5)
    with pytest.raises(CredentialsError, match="cancelled"):
        sso.sign_in("admin-sso", on_code=lambda c: None, oidc=client, cache={},
                    sleep=lambda s: cancel.set(), cancel=cancel)


def test_a_profile_without_sso_is_refused_with_what_to_do(config: Path) -> None:
    with pytest.raises(CredentialsError) as err:
        sso.sso_config("keys")
    assert "aws configure sso" in err.value.fix
