"""The embedded sandbox: two emulated AWS accounts on 127.0.0.1 (design.md, "Sandbox").

Public API (the engine, CLI, GUI and benchmark use exactly this):

* :class:`Sandbox` - start/stop/reset an in-process emulator; one per process at a time,
  because moto keeps its state in module globals.
* :func:`serve` - ``xacct-wizard sandbox``: run one until interrupted, announced in a state file.
* :func:`find_running` - the sandbox another process is serving, if any.
* :func:`sandbox_env` - ``--sandbox``: borrow the running one or start one for a block.

Imports are lazy: importing this package must not pull in moto (the GUI imports it at start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wizard.sandbox.server import Sandbox
    from wizard.sandbox.state import SandboxInfo, find_running, sandbox_env, serve

__all__ = ["Sandbox", "SandboxInfo", "find_running", "sandbox_env", "serve"]

_WHERE = {
    "Sandbox": "wizard.sandbox.server",
    "SandboxInfo": "wizard.sandbox.state",
    "find_running": "wizard.sandbox.state",
    "sandbox_env": "wizard.sandbox.state",
    "serve": "wizard.sandbox.state",
    "default_state_dir": "wizard.sandbox.state",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'wizard.sandbox' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
