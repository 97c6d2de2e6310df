"""Sandbox test fixtures: one server for the package's tests, reset before every test.

Starting a Sandbox is cheap, but moto's state is process-global, so only one can run per
process: the package shares one and ``reset()``s it (the config file stays valid because the
seeded access keys are deterministic). Tests that need a fresh process (serve, lifecycle)
use subprocesses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.sandbox.support import DEFAULT_THRESHOLD, Accounts, session
from wizard.sandbox import Sandbox


@pytest.fixture(scope="package")
def sandbox_server() -> Iterator[Sandbox]:
    """One running sandbox for this package's tests.

    Package scope (not session): it is stopped when the last sandbox test is done, so other
    test packages remain free to start their own (one per process).
    """
    sb = Sandbox().start()
    try:
        yield sb
    finally:
        sb.stop()
        leftover = [t.name for t in threading.enumerate()
                    if t.name.startswith("xacct-sandbox") or "process_request" in t.name]
        assert not leftover, f"sandbox threads still running after stop(): {leftover}"


@pytest.fixture
def sandbox(sandbox_server: Sandbox, _isolated_env: None,
            monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The session sandbox, freshly reset, with this test's environment pointing at it."""
    sandbox_server.reset()
    sandbox_server.spill_threshold_bytes = DEFAULT_THRESHOLD
    sandbox_server.query_latency = 0.0
    for key, value in sandbox_server.env().items():
        monkeypatch.setenv(key, value)
    return sandbox_server


@pytest.fixture
def accounts(sandbox: Sandbox) -> Accounts:
    return Accounts(*(session(p) for p in
                      ("sandbox-owner", "sandbox-consumer", "sandbox-analyst", "sandbox-base")))
