"""Where the tool keeps its own files (platformdirs, overridable with XACCT_WIZARD_HOME)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

from wizard import APP_NAME


def _home() -> Path | None:
    value = os.environ.get("XACCT_WIZARD_HOME")
    return Path(value) if value else None


def _made(sub: str, platform_dir: Callable[[str], str]) -> Path:
    """``$XACCT_WIZARD_HOME/<sub>`` when set, else the platform's folder; created."""
    home = _home()
    path = home / sub if home else Path(platform_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    return _made("state", platformdirs.user_state_dir)


def config_dir() -> Path:
    return _made("config", platformdirs.user_config_dir)


def profiles_dir() -> Path:
    """Where setup profiles are saved unless the user picks another folder (created)."""
    path = config_dir() / "profiles"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    return _made("logs", platformdirs.user_log_dir)


def resources_dir() -> Path:
    """The top-level resources/ folder (source tree, editable install, or PyInstaller bundle)."""
    import sys

    base = getattr(sys, "_MEIPASS", None)
    if base:
        return Path(base) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def atomic_write(path: Path, text: str, *, durable: bool = True) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half.

    ``durable`` also survives a power cut (fsync); without it a killed process is still safe,
    which is enough for records that only confirm something already recorded.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
