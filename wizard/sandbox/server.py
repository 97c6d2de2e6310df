"""The Sandbox: moto's server plus our layer, serving two emulated AWS accounts on loopback.

Only one Sandbox may run per process at a time: moto keeps its state in module-level globals,
so two servers in one process would share (and reset) each other's accounts. ``start()``
refuses a second one instead of letting that happen silently.

Binding is always to 127.0.0.1: the sandbox has fixed, published access keys and must never be
reachable from another machine.
"""

from __future__ import annotations

import errno
import gc
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from wizard.sandbox import seed as seedmod
from wizard.sandbox.seed import SeedResult

if TYPE_CHECKING:
    from wizard.sandbox.state import SandboxInfo

HOST = "127.0.0.1"
# Middle-generation collections between two full ones while serving (Python's default: 10).
GC_FULL_COLLECTION_EVERY = 1000
_ACTIVE_LOCK = threading.Lock()
_ACTIVE: Sandbox | None = None


def example_profile_text(name: str = "sandbox.yaml") -> str:
    """A complete setup profile for the sandbox (shipped copy of examples/sandbox.yaml; or
    ``sandbox-org.yaml``: every account of the sandbox organization's Analytics OU)."""
    from importlib import resources

    return resources.files("wizard.sandbox").joinpath(f"data/{name}").read_text("utf-8")


def _stacksets() -> Any:
    from wizard.sandbox.stacksets import StackSetsEmulator

    return StackSetsEmulator()


class Sandbox:
    """Two emulated AWS accounts (owner A, consumer B) on ``http://127.0.0.1:<port>``.

    Usage::

        with Sandbox() as sb:
            os.environ.update(sb.env())   # or pass sb.config_file / sb.endpoint_url around
            ...

    ``state_dir`` is where the AWS config file, the empty credentials file and the example
    profile are written; by default a private temporary directory (removed by ``stop()``), so
    an in-process sandbox never overwrites the files of a running ``xacct-wizard sandbox``.

    ``spill_threshold_bytes`` (settable while running): a federated query whose result is
    larger (the size of its result CSV) goes through the spill bucket in A and needs the
    caller's spill grant, as the real connector spills results over ~6 MB. ``query_latency``
    (seconds, default 0) holds every federated query in QUEUED that long - for tests and demos
    of cancelling.

    Only one Sandbox can run per process (moto's state is global): ``start()`` raises
    RuntimeError while another is running.
    """

    OWNER_ACCOUNT = seedmod.OWNER_ACCOUNT
    CONSUMER_ACCOUNT = seedmod.CONSUMER_ACCOUNT
    REGION = seedmod.REGION

    def __init__(self, port: int = 0, *, extra_consumers: int = 0,
                 spill_threshold_bytes: int = 6 * 1024 * 1024,
                 state_dir: Path | None = None) -> None:
        if extra_consumers < 0 or extra_consumers > 9999:
            raise ValueError("extra_consumers must be between 0 and 9999")
        self.requested_port = port
        self.extra_consumers = extra_consumers
        self.spill_threshold_bytes = spill_threshold_bytes
        self._given_state_dir = Path(state_dir) if state_dir is not None else None
        self._own_state_dir = False
        self.state_dir: Path = self._given_state_dir or Path()
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._warm_thread: threading.Thread | None = None
        self._gc_threshold: tuple[int, int, int] | None = None
        self.athena: Any = None
        self.sar: Any = None
        self.stacksets: Any = None
        self.seeded: SeedResult | None = None
        # Seconds every federated query waits in QUEUED before it runs: lets a test (or a demo
        # of the Cancel button) stop a query that is still in flight.
        self.query_latency: float = 0.0

    # ----------------------------------------------------------------- properties
    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "aws-config"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "aws-credentials"

    @property
    def example_profile(self) -> Path:
        return self.state_dir / "sandbox.yaml"

    @property
    def example_org_profile(self) -> Path:
        return self.state_dir / "sandbox-org.yaml"

    @property
    def member_accounts(self) -> list[str]:
        """The organization's member accounts in its Analytics OU (``--accounts N``)."""
        return self.consumer_accounts[1:]

    @property
    def consumer_accounts(self) -> list[str]:
        """B plus the benchmark consumers, in order."""
        return [self.CONSUMER_ACCOUNT] + [seedmod.extra_consumer_account(n)
                                          for n in range(1, self.extra_consumers + 1)]

    @property
    def running(self) -> bool:
        return self._server is not None

    def info(self) -> SandboxInfo:
        """How another component (or process) reaches this sandbox."""
        from wizard.sandbox.state import info_of

        return info_of(self)

    def env(self) -> dict[str, str]:
        """Environment for boto3/botocore (and our CLI) to use this sandbox and nothing else."""
        return {
            "AWS_CONFIG_FILE": str(self.config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Sandbox:
        """Serve, seed, write the config files; returns once requests are answered."""
        global _ACTIVE
        with _ACTIVE_LOCK:
            if _ACTIVE is not None:
                raise RuntimeError(
                    "a Sandbox is already running in this process (moto's state is global; "
                    "stop it first or reuse it)")
            _ACTIVE = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        # moto reads these at request time; a leftover from the caller's environment would
        # pin every request to one account or send CloudFormation to real AWS endpoints.
        os.environ.pop("MOTO_ACCOUNT_ID", None)
        # moto keeps every item as Python objects (a 100 000-item table is ~1.1 million that
        # the cyclic GC tracks), and a full collection walks them all: ~0.3 s, in most large
        # queries. Full collections are made rarer while the sandbox serves (the threshold
        # of the oldest generation only; restored by stop()). Short-lived garbage is still
        # freed at once, and cycles still collected, only less often.
        self._gc_threshold = gc.get_threshold()
        young, middle, old = self._gc_threshold
        gc.set_threshold(young, middle, max(old, GC_FULL_COLLECTION_EVERY))
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from wizard.sandbox import (
            cfn_resources,
            cloudformation,
            organizations,
            resource_policies,
            sts,
        )
        from wizard.sandbox.athena import AthenaEmulator
        from wizard.sandbox.layer import TEMPLATE_PATH, SandboxLayer, ServiceHandlers
        from wizard.sandbox.s3_access import S3Guard
        from wizard.sandbox.sar import SarEmulator
        from wizard.sandbox.sigv4 import SignatureGuard

        if self._given_state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="xacct-sandbox-"))
            self._own_state_dir = True
        else:
            self.state_dir = self._given_state_dir
            self.state_dir.mkdir(parents=True, exist_ok=True)

        self.athena = AthenaEmulator(self)
        self.sar = SarEmulator()
        cfn_resources.install()  # the resource types exported templates use
        self.stacksets = _stacksets()
        moto_app = _cached_dispatcher(DomainDispatcherApplication)(create_backend_app)
        moto_app = S3Guard(moto_app)  # bucket and identity policies, as S3 evaluates them
        layer = SandboxLayer(
            moto_app,
            [
                # moto has no Serverless Application Repository, and its Athena reads only
                # the json protocol: both are answered here entirely.
                ServiceHandlers("athena", self.athena.operations(), answer_all=True),
                ServiceHandlers("serverlessrepo", self.sar.operations(), answer_all=True),
                # The others are inspected for the checks moto skips, then moto answers.
                ServiceHandlers("sts", {"AssumeRole": sts.assume_role}),
                ServiceHandlers("cloudformation",
                                {"ExecuteChangeSet": cloudformation.execute_change_set_replacing,
                                 "DescribeChangeSet": cloudformation.describe_change_set,
                                 # exported templates: the capabilities AWS asks for
                                 "CreateStack": cfn_resources.check_capabilities,
                                 "CreateChangeSet": cfn_resources.check_capabilities,
                                 **self.stacksets.operations()},
                                after={"ExecuteChangeSet":
                                       cloudformation.after_execute_change_set}),
                ServiceHandlers("organizations",
                                {"MoveAccount": organizations.move_account},
                                after={"MoveAccount": organizations.after_move_account}),
                ServiceHandlers("s3", {"PutBucketPolicy": resource_policies.put_bucket_policy}),
                ServiceHandlers("lambda", {"AddPermission": resource_policies.add_permission},
                                after={"AddPermission": resource_policies.after_add_permission}),
            ],
            extra_routes={TEMPLATE_PATH: self.sar.template_document},
        )
        app = SignatureGuard(layer)  # wrong secrets and unknown keys fail as in AWS
        if self.requested_port:
            _check_port_free(self.requested_port)
        try:
            self._server = make_server(HOST, self.requested_port, app, threaded=True,
                                       request_handler=_request_handler())
        except SystemExit:  # werkzeug exits the process when the port is taken
            raise OSError(errno.EADDRINUSE, _port_in_use(self.requested_port)) from None
        _track_connections(self._server)
        self.port = self._server.server_port
        self.sar.template_base_url = f"{self.endpoint_url}{TEMPLATE_PATH}"
        self._reset_backends()
        self.seeded = seedmod.seed(self.consumer_accounts)
        self._write_files()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"xacct-sandbox-{self.port}", daemon=True)
        self._thread.start()
        self._warm_thread = threading.Thread(target=_warm_imports, name="xacct-sandbox-warm",
                                             daemon=True)
        self._warm_thread.start()

    def stop(self) -> None:
        """Stop serving, finish/cancel queries, close connections, wipe moto state."""
        global _ACTIVE
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None and self._thread.is_alive():
                server.shutdown()
            _close_connections(server)
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.athena is not None:
            self.athena.shutdown()
        if self.stacksets is not None:
            self.stacksets.shutdown()
            self.stacksets = None
        if self._warm_thread is not None:
            self._warm_thread.join(timeout=10)
            self._warm_thread = None
        if server is not None:
            self._reset_backends()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self._own_state_dir = False
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        with _ACTIVE_LOCK:
            if _ACTIVE is self:
                _ACTIVE = None

    def reset(self) -> None:
        """Wipe every account and re-seed, keeping the server, port and config files.

        Access keys are deterministic, so clients built from the config file keep working;
        sessions of assumed roles do not survive (their temporary keys are gone, as after
        expiry in AWS) - create new boto3 sessions after a reset.
        """
        if not self.running:
            raise RuntimeError("the sandbox is not running")
        self.athena.reset()
        self.sar.reset()
        self.stacksets.reset()
        self._reset_backends()
        self.seeded = seedmod.seed(self.consumer_accounts)

    def __enter__(self) -> Sandbox:
        return self if self.running else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _reset_backends() -> None:
        from moto.core.base_backend import BackendDict

        BackendDict.reset()

    def _write_files(self) -> None:
        assert self.seeded is not None
        ep = self.endpoint_url
        common = f"region = {self.REGION}\nendpoint_url = {ep}\n"
        base = self.seeded.base_key
        lines = [
            "# AWS config for the xacct-wizard sandbox (emulator keys, not real credentials).",
            f"# Endpoint: {ep}",
            "",
            f"[profile {seedmod.BASE_USER}]",
            f"aws_access_key_id = {base.access_key_id}",
            f"aws_secret_access_key = {base.secret_access_key}",
            common,
        ]

        def role_profile(name: str, account: str) -> None:
            lines.extend([f"[profile {name}]",
                          f"role_arn = arn:aws:iam::{account}:role/{seedmod.ADMIN_ROLE}",
                          f"source_profile = {seedmod.BASE_USER}",
                          f"role_session_name = {name}",
                          common])

        def analyst_profile(name: str, account: str) -> None:
            key = self.seeded.analyst_keys[account]  # type: ignore[union-attr]
            lines.extend([f"[profile {name}]",
                          f"aws_access_key_id = {key.access_key_id}",
                          f"aws_secret_access_key = {key.secret_access_key}",
                          common])

        from wizard.sandbox.organizations import MANAGEMENT_ACCOUNT, NEWCOMER_ACCOUNT

        role_profile("sandbox-management", MANAGEMENT_ACCOUNT)
        role_profile("sandbox-newcomer", NEWCOMER_ACCOUNT)
        analyst_profile("sandbox-analyst-newcomer", NEWCOMER_ACCOUNT)
        role_profile("sandbox-owner", self.OWNER_ACCOUNT)
        role_profile("sandbox-consumer", self.CONSUMER_ACCOUNT)
        analyst_profile("sandbox-analyst", self.CONSUMER_ACCOUNT)
        for n in range(1, self.extra_consumers + 1):
            account = seedmod.extra_consumer_account(n)
            role_profile(f"sandbox-consumer-{n}", account)
            analyst_profile(f"sandbox-analyst-{n}", account)
        _atomic_write(self.config_file, "\n".join(lines))
        _atomic_write(self.credentials_file, "")
        _atomic_write(self.example_profile, example_profile_text())
        _atomic_write(self.example_org_profile, example_profile_text("sandbox-org.yaml"))


# --------------------------------------------------------------------------- internals
def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _warm_imports() -> None:
    """Import the query engine in the background so the first query does not pay for it."""
    time.sleep(0.05)
    try:
        import duckdb  # noqa: F401
        import sqlglot
        import sqlglot.dialects.duckdb
        import sqlglot.dialects.trino  # noqa: F401
    except Exception:  # pragma: no cover - the query will report the real import error
        pass


def _request_handler() -> Any:
    try:  # newer moto keeps S3 metadata headers with underscores; older: werkzeug's own
        from moto.moto_server.werkzeug_app import MotoRequestHandler as Base
    except ImportError:
        from werkzeug.serving import WSGIRequestHandler as Base

    class Handler(Base):  # type: ignore[valid-type, misc]
        """moto's handler, quiet (a CLI user's terminal is no place for an access log)."""

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            pass

        def log(self, type: str, message: str, *args: Any) -> None:
            if type == "error":
                super().log(type, message, *args)

    return Handler


def _track_connections(server: Any) -> None:
    """Remember open client sockets, so stop() can end keep-alive connections at once.

    The threaded server joins its handler threads on close; a thread parked on an idle
    keep-alive connection would otherwise hold stop() until the client hangs up.
    """
    server._xacct_conns = set()
    server._xacct_conns_lock = threading.Lock()
    original_process = server.process_request
    original_shutdown = server.shutdown_request

    def process_request(request: socket.socket, client_address: Any) -> None:
        with server._xacct_conns_lock:
            server._xacct_conns.add(request)
        original_process(request, client_address)

    def shutdown_request(request: socket.socket) -> None:
        with server._xacct_conns_lock:
            server._xacct_conns.discard(request)
        original_shutdown(request)

    server.process_request = process_request
    server.shutdown_request = shutdown_request


def _close_connections(server: Any) -> None:
    with server._xacct_conns_lock:
        conns = list(server._xacct_conns)
    for sock in conns:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _port_in_use(port: int) -> str:
    return (f"port {port} on 127.0.0.1 is already in use: choose another one (--port), or "
            "use 0 for any free port")


def _check_port_free(port: int) -> None:
    """Fail with a clear OSError (werkzeug would print and exit the whole process)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((HOST, port))
    except OSError as exc:
        raise OSError(exc.errno, _port_in_use(port)) from None
    finally:
        probe.close()


def port_answers(port: int, timeout: float = 0.5) -> bool:
    """Is something accepting connections on 127.0.0.1:port?"""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False



def _cached_dispatcher(base: type) -> type:
    """moto's request dispatcher, remembering which backend serves which host.

    For every request moto's ``get_backend_for_host`` lists moto's package folder (an
    ``isdir`` per service, ~200) and then tries every service's URL patterns, all under one
    global lock: at 20 consumers' worth of concurrent calls that was an eighth of the sandbox's
    time and serialised every request. The answer depends on the host string alone (the
    folder and the patterns are fixed), so it is kept, for a bounded number of hosts.
    """

    class CachedDispatcher(base):  # type: ignore[misc, valid-type]
        _HOSTS_KEPT = 1024

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._backend_by_host: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            # Called under the dispatcher's own lock (get_application).
            try:
                return self._backend_by_host[host]
            except KeyError:
                pass
            backend = super().get_backend_for_host(host)
            if len(self._backend_by_host) >= self._HOSTS_KEPT:
                self._backend_by_host.clear()  # e.g. many virtual-hosted S3 bucket names
            self._backend_by_host[host] = backend
            return backend

    return CachedDispatcher
