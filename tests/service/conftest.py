"""A bare moto server (one per session, reset per test) with two accounts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.moto_accounts import MotoAccounts, moto_server_on_loopback, seed, write_config


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    with moto_server_on_loopback() as endpoint:
        yield endpoint


@pytest.fixture
def accounts(moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MotoAccounts:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    cfg = tmp_path / "aws-config"
    base = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    write_config(cfg, moto_server, base, None)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    analyst = seed(moto_server, cfg)
    write_config(cfg, moto_server, base, analyst)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    assert os.environ["AWS_CONFIG_FILE"] == str(cfg)
    return MotoAccounts(moto_server, cfg, analyst)


@pytest.fixture(scope="session", autouse=True)
def _moto_delete_data_catalog() -> None:
    """moto 5 has no DeleteDataCatalog; real Athena (and our sandbox) do. Test-only shim."""
    from moto.athena.models import AthenaBackend
    from moto.athena.responses import AthenaResponse

    if hasattr(AthenaResponse, "delete_data_catalog"):
        return

    def backend_delete(self: AthenaBackend, name: str) -> bool:
        return self.data_catalogs.pop(name, None) is not None

    def delete_data_catalog(self: AthenaResponse) -> str:
        name = self._get_param("Name")
        if not self.athena_backend.delete_data_catalog(name):
            return self.error(f"Catalog {name} not found", 400)  # type: ignore[return-value]
        return "{}"

    AthenaBackend.delete_data_catalog = backend_delete  # type: ignore[attr-defined]
    AthenaResponse.delete_data_catalog = delete_data_catalog  # type: ignore[attr-defined]
