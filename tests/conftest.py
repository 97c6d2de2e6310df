"""Shared test setup: offscreen Qt, no real AWS, no real home directory, an in-memory keyring."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Qt or botocore.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

logging.getLogger("werkzeug").setLevel(logging.WARNING)

_AWS_VARS = [v for v in os.environ if v.startswith("AWS_") and v != "AWS_EC2_METADATA_DISABLED"]


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own config/state dirs and sees no AWS setup from the machine."""
    home = tmp_path_factory.mktemp("home")
    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials-absent"))
    monkeypatch.setenv("XACCT_WIZARD_HOME", str(home / "xacct"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


class MemoryKeyring:
    """A keyring backend that keeps everything in a dict (unit tests only)."""

    priority = 1

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        import keyring.errors

        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Install an in-memory keyring backend for one test."""
    import keyring
    from keyring.backend import KeyringBackend

    class _Backend(KeyringBackend):
        priority = 1  # type: ignore[assignment]
        mem = MemoryKeyring()

        def get_password(self, service: str, username: str) -> str | None:
            return self.mem.get_password(service, username)

        def set_password(self, service: str, username: str, password: str) -> None:
            self.mem.set_password(service, username, password)

        def delete_password(self, service: str, username: str) -> None:
            self.mem.delete_password(service, username)

    previous = keyring.get_keyring()
    backend = _Backend()
    keyring.set_keyring(backend)
    try:
        yield backend.mem
    finally:
        keyring.set_keyring(previous)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
