"""An organization of 50 member accounts on the sandbox, shared by this package's tests.

moto's state is one per process, so this package runs its own sandbox (package scope, as
tests/sandbox does); ``org`` resets it before each test. The engine polls StackSet operations
every 20 ms here instead of AWS's seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from wizard.profile import SetupProfile, load_profile
from wizard.sandbox import Sandbox

MEMBERS = 50


@pytest.fixture(scope="package")
def org_server() -> Iterator[Sandbox]:
    sb = Sandbox(extra_consumers=MEMBERS).start()
    try:
        yield sb
    finally:
        sb.stop()
        leftover = [t.name for t in threading.enumerate() if t.name.startswith("xacct-sandbox")]
        assert not leftover, f"sandbox threads still running after stop(): {leftover}"


@dataclass
class Org:
    sandbox: Sandbox
    profile: SetupProfile
    profile_path: Path

    def session(self, name: str) -> boto3.Session:
        return boto3.Session(profile_name=name)

    def member_session(self, n: int) -> boto3.Session:
        """Admin of member account n (1-based)."""
        return boto3.Session(profile_name=f"sandbox-consumer-{n}")


@pytest.fixture
def org(org_server: Sandbox, _isolated_env: None, monkeypatch: pytest.MonkeyPatch) -> Org:
    org_server.reset()
    org_server.spill_threshold_bytes = 6 * 1024 * 1024
    for key, value in org_server.env().items():
        monkeypatch.setenv(key, value)
    return Org(org_server, load_profile(org_server.example_org_profile),
               org_server.example_org_profile)
