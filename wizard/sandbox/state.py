"""Finding, serving and borrowing a sandbox: the state file of ``xacct-wizard sandbox``.

``serve()`` writes ``sandbox.json`` into the state directory while it runs, so that a second
terminal's ``--sandbox`` can connect to it (``find_running``) instead of starting its own -
that is how ``xacct-wizard sandbox`` in one terminal and ``apply --sandbox`` in another share
the same two accounts. A stale file (process gone, port silent, or another program on the
port) is ignored, never trusted.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

STATE_FILE = "sandbox.json"
HOME_ENV = "XACCT_WIZARD_HOME"
# Variables that would point boto3 somewhere other than the sandbox while --sandbox is active.
_HIDDEN_PREFIXES = ("AWS_ENDPOINT_URL_",)
_HIDDEN = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
           "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
           "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_REGION")


@dataclass(frozen=True)
class SandboxInfo:
    """How to reach a sandbox (running here or in another process)."""

    endpoint_url: str
    config_file: Path
    example_profile: Path
    credentials_file: Path
    pid: int = 0
    port: int = 0

    def env(self) -> dict[str, str]:
        """The environment that points boto3 (and our CLI) at this sandbox."""
        return {
            "AWS_CONFIG_FILE": str(self.config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def to_json(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint_url, "config_file": str(self.config_file),
                "example_profile": str(self.example_profile),
                "credentials_file": str(self.credentials_file), "pid": self.pid,
                "port": self.port}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxInfo:
        return cls(endpoint_url=str(data["endpoint_url"]),
                   config_file=Path(data["config_file"]),
                   example_profile=Path(data["example_profile"]),
                   credentials_file=Path(data["credentials_file"]),
                   pid=int(data.get("pid", 0)), port=int(data.get("port", 0)))


def default_state_dir() -> Path:
    """``$XACCT_WIZARD_HOME/sandbox`` when set, else the platform's user state dir."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home) / "sandbox"
    import platformdirs

    return Path(platformdirs.user_state_dir("xacct-wizard")) / "sandbox"


def info_of(sandbox: Any) -> SandboxInfo:
    """SandboxInfo for an in-process :class:`~wizard.sandbox.server.Sandbox`."""
    return SandboxInfo(sandbox.endpoint_url, sandbox.config_file, sandbox.example_profile,
                       sandbox.credentials_file, os.getpid(), sandbox.port)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _health(endpoint_url: str, timeout: float = 1.0) -> dict[str, Any] | None:
    from wizard.sandbox.layer import HEALTH_PATH

    # Never through a proxy: the sandbox is on loopback and http_proxy must not intercept it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(endpoint_url + HEALTH_PATH, timeout=timeout) as resp:
            data = json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_running(state_dir: Path | None = None) -> SandboxInfo | None:
    """The ``xacct-wizard sandbox`` serving from ``state_dir``, if it is really there."""
    path = (state_dir or default_state_dir()) / STATE_FILE
    try:
        info = SandboxInfo.from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not info.endpoint_url.startswith("http://127.0.0.1:") or not _pid_alive(info.pid):
        return None
    health = _health(info.endpoint_url)
    if not health or health.get("service") != "xacct-wizard-sandbox" \
            or int(health.get("pid", -1)) != info.pid:
        return None
    if not info.config_file.is_file():
        return None
    return info


def _write_state(state_dir: Path, info: SandboxInfo) -> Path:
    path = state_dir / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _remove_state(path: Path) -> None:
    """Remove the state file if it is still ours (a newer sandbox may have replaced it)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        if int(data.get("pid", -1)) == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def usage_text(info: SandboxInfo) -> str:
    """What `xacct-wizard sandbox` prints: where it is and how to use it from elsewhere."""
    env = info.env()
    exports = " \\\n    ".join(f"{k}={v}" for k, v in env.items()
                              if k != "AWS_EC2_METADATA_DISABLED")
    return (
        f"xacct-wizard sandbox: two emulated AWS accounts on {info.endpoint_url}\n"
        "  owner    111111111111  profile sandbox-owner\n"
        "  consumer 222222222222  profile sandbox-consumer (analyst user: sandbox-analyst)\n"
        "  organization o-xactsandbx, management account 999999999999 (profile "
        "sandbox-management):\n"
        "    OU ou-xact-analytic (and ou-xact-reportin below it): the member accounts "
        "(sandbox-consumer-N)\n"
        "    OU ou-xact-onboardn: 333333333333 (sandbox-newcomer), to move into the OU\n"
        f"  AWS config file:  {info.config_file}\n"
        f"  example profile:  {info.example_profile}\n"
        f"  organization profile: {info.example_profile.parent / 'sandbox-org.yaml'}\n"
        "\n"
        "In another terminal, either let --sandbox find this one:\n"
        f"  xacct-wizard apply --sandbox {info.example_profile} --yes\n"
        f"  xacct-wizard verify --sandbox {info.example_profile}\n"
        "or point any AWS tool at it:\n"
        f"  export {exports}\n"
        f"  xacct-wizard apply {info.example_profile} --yes\n"
        f"  aws --profile sandbox-consumer sts get-caller-identity\n"
        "\n"
        "Press Ctrl+C to stop.\n"
    )


def serve(port: int = 0, *, state_dir: Path | None = None, out: TextIO | None = None,
          ready: threading.Event | None = None, stop: threading.Event | None = None,
          accounts: int = 0) -> None:
    """Run a sandbox until SIGINT/SIGTERM (or ``stop``), announcing it in the state file.

    ``ready``/``stop`` let a caller in another thread drive it (tests, the GUI); from the
    command line both are left out and the signals end it. ``accounts``: member accounts in
    the organization's Analytics OU (``--accounts N``).
    """
    from wizard.sandbox.server import Sandbox

    out = out or sys.stdout
    directory = state_dir or default_state_dir()
    other = find_running(directory)
    if other is not None:
        raise RuntimeError(f"a sandbox is already running at {other.endpoint_url} "
                           f"(pid {other.pid}); stop it first or use --sandbox to connect to it")
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda _s, _f: stop.set())
    from wizard.sandbox.child import watch_owner

    watch_owner(stop)  # started by a GUI or CLI run: die with it (wizard.sandbox.child)
    sandbox = Sandbox(port, state_dir=directory, extra_consumers=accounts)
    state_path: Path | None = None
    try:
        sandbox.start()
        info = info_of(sandbox)
        state_path = _write_state(directory, info)
        out.write(usage_text(info))
        out.flush()
        if ready is not None:
            ready.set()
        while not stop.wait(0.2):
            pass
    finally:
        if state_path is not None:
            _remove_state(state_path)
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            out.write("sandbox stopped\n")
            out.flush()
        except (OSError, ValueError):
            pass


@contextmanager
def sandbox_env(state_dir: Path | None = None) -> Iterator[SandboxInfo]:
    """``--sandbox``: use the running sandbox, else an in-process one, for the block's duration.

    While inside, ``os.environ`` points boto3 at the sandbox (and hides variables that would
    send requests or credentials elsewhere, like AWS_PROFILE or AWS_ENDPOINT_URL_S3); on exit
    the environment is restored exactly and an in-process sandbox is stopped.
    """
    info = find_running(state_dir)
    sandbox = None
    if info is None:
        from wizard.sandbox.server import Sandbox

        sandbox = Sandbox().start()
        info = info_of(sandbox)
    env = info.env()
    if any(os.environ.get(v) for v in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY",
                                        "https_proxy")):
        # botocore would send loopback traffic through the proxy otherwise.
        for var in ("NO_PROXY", "no_proxy"):
            current = os.environ.get(var, "")
            env[var] = f"{current},127.0.0.1" if current else "127.0.0.1"
    touched = set(env) | set(_HIDDEN) | {k for k in os.environ
                                         if k.startswith(_HIDDEN_PREFIXES)}
    saved = {k: os.environ.get(k) for k in touched}
    try:
        for k in touched - set(env):
            os.environ.pop(k, None)
        os.environ.update(env)
        yield info
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if sandbox is not None:
            sandbox.stop()


def wait_for_state(state_dir: Path, timeout: float = 10.0) -> SandboxInfo | None:
    """Poll until a sandbox serving from ``state_dir`` answers (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = find_running(state_dir)
        if info is not None:
            return info
        time.sleep(0.05)
    return None
