"""The command the Finish page shows works when pasted into a terminal: taken from the page,
run as a child process on a terminal (it asks before changing anything), against a sandbox."""

from __future__ import annotations

import os
import pty
import select
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.processes import REPO
from tests.ui.fakes import FakeBackend
from tests.ui.helpers import advance_to
from tests.ui.test_pages import open_example
from ui.pages.base import FINISH, REVIEW
from wizard.sandbox.server import example_profile_text


def _run_on_a_terminal(command: str, env: dict[str, str], answer: bytes,
                       timeout: float = 240) -> tuple[int, str]:
    """Run ``command`` as a shell would, with a terminal for stdin/stdout; answer its
    question with ``answer``."""
    main, child = pty.openpty()
    proc = subprocess.Popen(shlex.split(command), stdin=child, stdout=child, stderr=child,
                            env=env, cwd=env["HOME"], close_fds=True)
    os.close(child)
    out = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if not answered and b"[y/N]" in out:
                os.write(main, answer)
                answered = True
            if proc.poll() is not None and not ready:
                break
        else:
            proc.kill()
        return proc.wait(timeout=30), out.decode(errors="replace")
    finally:
        os.close(main)


@pytest.mark.slow
def test_the_finish_command_works_when_pasted(qtbot: Any, make_window: Any,
                                              tmp_path: Path) -> None:
    window, ctx, _ = open_example(qtbot, make_window, FakeBackend(), page=REVIEW)
    advance_to(qtbot, window, FINISH)
    page = window.currentPage()
    profile = tmp_path / "sandbox setup.yaml"
    profile.write_text(example_profile_text())  # what the sandbox example saves as
    ctx.state.profile_path = profile
    page._show_command()
    command = page.command.text()
    assert "--sandbox" in command

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), XACCT_WIZARD_HOME=str(home / "xacct"),
               PYTHONPATH=str(REPO), AWS_EC2_METADATA_DISABLED="true")
    code, out = _run_on_a_terminal(command, env, b"y\n")
    assert code == 0, out
    assert "Applied " in out and "Journal:" in out, out
    assert "not in your AWS config" not in out
