"""Fixtures of the reliability suite: one moto server (three accounts) per test session, reset to
the baseline only when a test leaves it elsewhere; botocore's retry backoff recorded, not slept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.world import World, make_engine
from tests.service.conftest import _moto_delete_data_catalog  # noqa: F401  (autouse shim)
from tests.support.moto_accounts import moto_server_on_loopback


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server_on_loopback() as endpoint:
        yield endpoint


@pytest.fixture(scope="module", autouse=True)
def _moto_lambda_rejects_duplicate_statement_ids() -> Iterator[None]:
    """Real Lambda answers AddPermission with a StatementId that exists with a 409
    ResourceConflictException; moto appends a duplicate. The difference matters exactly when a
    retried AddPermission meets its own first attempt, so make moto faithful (while this suite
    runs)."""
    import json

    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.policy import Policy

    original = Policy.add_statement

    def add_statement(self: Any, raw: str, qualifier: str | None = None) -> Any:
        sid = json.loads(raw).get("Sid") or json.loads(raw).get("StatementId")
        if sid and any(st.get("Sid") == sid for st in self.statements):
            err = LambdaClientError(
                "ResourceConflictException", f"The statement id ({sid}) provided already "
                "exists. Please provide a new statement id, or remove the existing statement.")
            err.code = 409
            raise err
        return original(self, raw, qualifier)

    Policy.add_statement = add_statement  # type: ignore[method-assign]
    yield
    Policy.add_statement = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def _world(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> World:
    w = World(moto_endpoint, tmp_path_factory.mktemp("world") / "aws-config")
    w.reset()
    return w


@pytest.fixture
def world(_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The baseline world. A test that leaves it changed (or fails) gets it reseeded after."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(_world.config_file))
    monkeypatch.setenv("AWS_ENDPOINT_URL", _world.endpoint)
    if not _world.alive():
        _world.reset()
    _world.verified = False
    yield _world
    # a test that ended by checking the baseline needs no second look
    if not _world.verified and not _world.at_baseline():
        _world.reset()


class Backoff:
    """botocore's real ExponentialBackoff computes every delay; we record it and sleep 0."""

    def __init__(self) -> None:
        self.delays: list[float] = []


@pytest.fixture(autouse=True)
def backoff(monkeypatch: pytest.MonkeyPatch) -> Backoff:
    from botocore.retries.standard import ExponentialBackoff

    rec = Backoff()
    original = ExponentialBackoff.delay_amount

    def delay_amount(self: Any, context: Any) -> float:
        rec.delays.append(original(self, context))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", delay_amount)
    return rec


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures (README, "Safety"): faults injected and inputs fuzzed in this run."""
    from tests.reliability.faults import INJECTED
    from tests.reliability.test_cli_fuzz import COUNTS

    if not INJECTED and not COUNTS:
        return
    faults = ", ".join(f"{n} {kind}" for kind, n in sorted(INJECTED.items()))
    fuzzed = sum(n for k, n in COUNTS.items())
    terminalreporter.write_line(
        f"reliability: {sum(INJECTED.values())} faults injected ({faults}); "
        f"{fuzzed} CLI inputs fuzzed ({', '.join(f'{n} {k}' for k, n in COUNTS.items())})")


__all__ = ["Backoff", "make_engine"]
