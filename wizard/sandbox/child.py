"""A sandbox served by a child process that dies with its owner and leaves nothing behind.

Why a child: moto's request handling would otherwise share the window's interpreter lock. Why
the care: a GUI killed with SIGTERM or SIGKILL gets no chance to stop its child, which used to
run on, re-parented to init, with its ``/tmp/xacct-sandbox-*`` folder (and the sandbox's
credentials file) left behind. So the child watches its owner itself:

* on Linux, when the child was started from the owner's main thread, the kernel sends it
  SIGTERM the moment the owner dies (``prctl(PR_SET_PDEATHSIG)``). The signal follows the
  *thread* that forked, so a child started from a worker thread (the GUI's Start page) would
  be killed when that pool thread retires: it relies on the watchdog alone;
* everywhere, a watchdog thread notices within a fraction of a second that the owner is gone
  (the child was re-parented, or the pid no longer exists);
* SIGTERM/SIGINT stop the server cleanly (``serve``), and the child then removes the
  temporary folder it was given.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from wizard.sandbox.state import SandboxInfo, wait_for_state

OWNER_ENV = "XACCT_WIZARD_SANDBOX_OWNER"  # pid the sandbox lives and dies with
PDEATHSIG_ENV = "XACCT_WIZARD_SANDBOX_PDEATHSIG"  # "1": the kernel may signal its death
REMOVE_ENV = "XACCT_WIZARD_SANDBOX_REMOVE"  # the temporary folder to remove on the way out
PREFIX = "xacct-sandbox-"
_PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 0.2  # seconds between two looks at the owner


class SandboxChild:
    """``xacct-wizard sandbox`` in a child process with a private temporary home.

    It answers like an in-process :class:`~wizard.sandbox.server.Sandbox` where the GUI needs
    it (``env()``, ``example_profile``, ``endpoint_url``, ``stop()``).
    """

    def __init__(self) -> None:
        self.home: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: SandboxInfo | None = None

    # ------------------------------------------------------------------ what the GUI uses
    @property
    def state_dir(self) -> Path:
        assert self.home is not None, "not started"
        return self.home / "sandbox"

    @property
    def endpoint_url(self) -> str:
        return self._info.endpoint_url

    @property
    def example_profile(self) -> Path:
        return self._info.example_profile

    def env(self) -> dict[str, str]:
        return self._info.env()

    @property
    def _info(self) -> SandboxInfo:
        assert self.info is not None, "not started"
        return self.info

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 60) -> SandboxChild:
        """Start it and return once it answers; WizardError with its stderr when it cannot."""
        from wizard.errors import WizardError, redact

        self.home = Path(tempfile.mkdtemp(prefix=PREFIX))
        frozen = getattr(sys, "frozen", False)
        cmd = [sys.executable, "sandbox"] if frozen else [sys.executable, "-m", "wizard",
                                                          "sandbox"]
        env = {**os.environ, "XACCT_WIZARD_HOME": str(self.home),
               OWNER_ENV: str(os.getpid()), REMOVE_ENV: str(self.home)}
        if threading.current_thread() is threading.main_thread():
            env[PDEATHSIG_ENV] = "1"
        # Its own session: a Ctrl+C in the terminal reaches us, and we stop it in order.
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.info = wait_for_state(self.state_dir, timeout=timeout)
        if self.info is None:
            self.proc.kill()
            detail = (self.proc.communicate(timeout=5)[1] or b"").decode(errors="replace")
            self.stop()
            raise WizardError(f"The sandbox did not start: {redact(detail[-500:])}",
                              fix="Run `xacct-wizard sandbox` in a terminal to see why.")
        return self

    def stop(self) -> None:
        """Interrupt it (it stops serving and removes its folder), then make sure of both."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self) -> SandboxChild:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- child side
def _set_parent_death_signal() -> None:
    """Linux: SIGTERM to this process when the thread that started it dies."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _owner_gone(owner: int, parent: int) -> bool:
    if os.getppid() != parent:  # re-parented: whoever started us is gone
        return True
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def watch_owner(stop: threading.Event, environ: Any = None) -> threading.Thread | None:
    """In the child: set ``stop`` when the owner dies (see the module's docstring)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(OWNER_ENV, "")
    if not raw.isdigit():
        return None
    owner, parent = int(raw), os.getppid()
    if environ.get(PDEATHSIG_ENV) == "1" and parent == owner:
        _set_parent_death_signal()
    if _owner_gone(owner, parent):  # it died before we looked
        stop.set()
        return None

    def watch() -> None:
        while not stop.wait(WATCH_INTERVAL):
            if _owner_gone(owner, parent):
                stop.set()
                return

    thread = threading.Thread(target=watch, name="sandbox-owner-watch", daemon=True)
    thread.start()
    return thread


def remove_own_home(environ: Any = None) -> None:
    """In the child, on the way out: remove the temporary folder the owner made for us (only
    ever a ``xacct-sandbox-*`` folder in the temporary directory)."""
    environ = os.environ if environ is None else environ
    target = environ.get(REMOVE_ENV, "")
    if not target:
        return
    path = Path(target)
    if path.name.startswith(PREFIX) and path.parent.resolve() == \
            Path(tempfile.gettempdir()).resolve():
        shutil.rmtree(path, ignore_errors=True)
