"""The command line a new admin meets first: an invalid profile is reported before any
sandbox starts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from wizard.cli import main


def _sandbox_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("xacct-sandbox-*")}


@pytest.mark.parametrize("command", ["plan", "apply", "verify", "destroy"])
def test_a_broken_profile_is_reported_before_a_sandbox_starts(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from wizard.sandbox import server, state

    started: list[str] = []
    monkeypatch.setattr(server.Sandbox, "start", lambda self: started.append("in-process"))
    monkeypatch.setattr(state, "find_running", lambda *a: started.append("looked") or None)
    broken = tmp_path / "BROKEN.yaml"
    broken.write_text("version: 1\nregion: us-east-1\nowner:\n  account_id: '12'\n")
    before = _sandbox_dirs()

    code = main([command, str(broken), "--sandbox", *(["--yes"] if command in
                                                      ("apply", "destroy") else [])])
    _out, err = capsys.readouterr()
    assert code == 2
    assert "account_id" in err and "sandbox:" not in err
    assert started == []
    assert _sandbox_dirs() - before == set()
