"""Run the real CLI in a child process and stop it at a chosen botocore event (see
pause_hook/sitecustomize.py), to kill it there or to hold its lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.world import World

HOOK_DIR = Path(__file__).parent / "pause_hook"
REPO = Path(__file__).resolve().parents[2]


class Paused:
    """``python -m wizard <args>`` paused at ``event``; a context manager that kills it."""

    def __init__(self, world: World, home: Path, event: str, *args: str) -> None:
        self.marker = home / "paused.pid"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_CONFIG_FILE": str(world.config_file), "AWS_ENDPOINT_URL": world.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true", "XACCT_WIZARD_HOME": str(home),
            "PYTHONPATH": os.pathsep.join([str(HOOK_DIR), str(REPO)]),
            "XW_PAUSE_AT": event, "XW_PAUSE_MARKER": str(self.marker),
        })
        self.proc = subprocess.Popen([sys.executable, "-m", "wizard", *args], env=env,
                                     cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_paused(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.marker.exists():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"exited {self.proc.returncode} before pausing:\n"
                                     f"{out.decode()}\n{err.decode()}")
            if time.monotonic() > deadline:
                raise AssertionError("the child never reached the pause point")
            time.sleep(0.05)
        assert int(self.marker.read_text()) == self.proc.pid

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()  # type: ignore[union-attr]
        self.proc.stderr.close()  # type: ignore[union-attr]

    def __enter__(self) -> Paused:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
