"""Credentials: keyring entries round-trip, named profiles are listed by kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from wizard import credentials as cr
from wizard.errors import CredentialsError


def test_keys_round_trip_through_the_keyring_and_are_listed(memory_keyring) -> None:  # type: ignore[no-untyped-def]
    cr.store_keys("prod-owner", cr.StoredKeys("AKIAEXAMPLEEXAMPLE12", "s" * 40))
    cr.store_keys("prod-consumer", cr.StoredKeys("AKIAEXAMPLEEXAMPLE34", "t" * 40, "tok"))
    assert cr.list_keys() == ["prod-consumer", "prod-owner"]
    keys = cr.load_keys("prod-consumer")
    assert keys.secret_access_key == "t" * 40 and keys.session_token == "tok"
    assert "t" * 40 not in repr(keys)
    assert cr.delete_keys("prod-owner") is True
    assert cr.delete_keys("prod-owner") is False
    assert cr.list_keys() == ["prod-consumer"]


def test_missing_keyring_entry_says_how_to_store_it(memory_keyring) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CredentialsError) as err:
        cr.load_keys("nobody")
    assert "xacct-wizard credentials set nobody" in err.value.explain()


def test_named_profiles_are_listed_with_their_kind(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(
        "[default]\nregion = eu-west-1\n"
        "[profile sso-admin]\nsso_session = corp\nsso_account_id = 111111111111\n"
        "[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\n"
        "[profile via-role]\nrole_arn = arn:aws:iam::111111111111:role/Admin\n"
        "source_profile = default\nmfa_serial = arn:aws:iam::111111111111:mfa/me\n"
        "[profile proc]\ncredential_process = /bin/true\n")
    creds = tmp_path / "credentials"
    creds.write_text("[static]\naws_access_key_id = AKIA\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    got = {p.name: p for p in cr.list_named_profiles()}
    assert set(got) == {"default", "sso-admin", "via-role", "proc", "static"}
    assert got["sso-admin"].kind == "sso"
    assert got["via-role"].kind == "assume-role" and got["via-role"].mfa
    assert got["proc"].kind == "process"
    assert got["static"].kind == "keys"


def test_unknown_profile_is_a_clear_error() -> None:
    from wizard.profile import CredentialRef

    with pytest.raises(CredentialsError, match="not in your AWS config"):
        cr.make_session(CredentialRef(profile="does-not-exist"), "us-east-1")
