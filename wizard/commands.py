"""The command lines the tool shows people, spelled so that they work when pasted.

A bare ``xacct-wizard`` only works when its folder is on PATH (an activated venv, a pipx
install); a clone installed into ``.venv`` without activating it needs the full path, and the
frozen app is its own executable. The sandbox's AWS profiles exist only in the sandbox's AWS
config file, so a profile that uses them needs ``--sandbox``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

SCRIPT = "xacct-wizard"


def program() -> list[str]:
    """How to start this very installation of the CLI from a terminal."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    beside = Path(sys.executable).parent / (SCRIPT + (".exe" if os.name == "nt" else ""))
    on_path = shutil.which(SCRIPT)
    if beside.is_file():
        if on_path and Path(on_path).resolve() == beside.resolve():
            return [SCRIPT]
        return [str(beside)]
    if on_path:
        return [SCRIPT]
    return [sys.executable, "-m", "wizard"]


def command_for(action: str, profile_path: Path | str, *, sandbox: bool = False,
                extra: tuple[str, ...] = ()) -> str:
    """``xacct-wizard apply [--sandbox] PROFILE``, quoted for a POSIX shell."""
    args = [*program(), action, *(["--sandbox"] if sandbox else []), str(profile_path), *extra]
    return shlex.join(args)
