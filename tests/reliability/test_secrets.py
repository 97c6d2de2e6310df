"""Item 5: secrets live in the OS keyring and nowhere else.

* The whole flow on the embedded sandbox (connector deployed from the emulated Serverless
  Application Repository, grants, share, the test query, destroy) with every side's access keys
  in the keyring, stored with ``xacct-wizard credentials set``; then every file the tool wrote,
  everything it printed and logged, and the messages of the errors it raised are searched for
  the secret keys (raw, URL-encoded, base64) - none.
* A real Secret Service (gnome-keyring in a private D-Bus session) stores and returns keys.
* No keyring: the tool says so and points to named profiles; a plaintext backend is refused;
  nothing is ever written to a file instead.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from wizard.cli import main
from wizard.profile import CredentialRef, load_profile, save_profile

OWNER, CONSUMER = "111111111111", "222222222222"
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh embedded sandbox for one test (moto's state is global: the reliability world is
    reseeded by the next test that uses it)."""
    from wizard.sandbox import Sandbox

    sb = Sandbox().start()
    try:
        for k, v in sb.env().items():
            monkeypatch.setenv(k, v)
        yield sb
    finally:
        sb.stop()


def _new_keys(sb: Any, profile: str, user: str, admin: bool) -> tuple[str, str]:
    iam = boto3.Session(profile_name=profile).client("iam", endpoint_url=sb.endpoint_url)
    try:
        iam.create_user(UserName=user)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    if admin:
        iam.put_user_policy(UserName=user, PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, urllib.parse.quote(secret, safe="").encode(),
            urllib.parse.quote_plus(secret).encode(), base64.b64encode(raw),
            json.dumps(secret).encode()[1:-1]]


def _files_under(*roots: Path) -> list[Path]:
    out = []
    for root in roots:
        if root.is_file():
            out.append(root)
        elif root.is_dir():
            out += [p for p in root.rglob("*") if p.is_file()]
    return out


def _log_files() -> list[Path]:
    found = []
    for name in ("xacct_wizard", ""):
        for h in logging.getLogger(name).handlers:
            base = getattr(h, "baseFilename", None)
            if base:
                found += [Path(p) for p in
                          [base, *(f"{base}.{i}" for i in range(1, 4))] if Path(p).exists()]
    return found


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str], transcript: list[str],
         monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        status = main(argv)
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    transcript += [f"$ {' '.join(argv)} -> {status}", out, err]
    return status


def test_full_sandbox_flow_with_keyring_keys_leaves_no_secret_anywhere(
        sandbox: Any, memory_keyring: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO)
    owner = _new_keys(sandbox, "sandbox-owner", "xw-admin", admin=True)
    consumer = _new_keys(sandbox, "sandbox-consumer", "xw-admin", admin=True)
    analyst = _new_keys(sandbox, "sandbox-consumer", "analyst", admin=False)
    secrets = [owner[1], consumer[1], analyst[1]]
    transcript: list[str] = []
    errors: list[str] = []

    def cli(*argv: str, stdin: str = "") -> int:
        return _cli(list(argv), capsys, transcript, monkeypatch, stdin)

    # keys go into the keyring through the CLI (stdin: key id, secret)
    for name, (key_id, secret) in (("owner-keys", owner), ("consumer-keys", consumer),
                                   ("analyst-keys", analyst)):
        assert cli("credentials", "set", name, stdin=f"{key_id}\n{secret}\n") == 0
    assert cli("credentials", "list") == 0
    assert transcript[-2].split() == ["analyst-keys", "consumer-keys", "owner-keys"]
    assert any(secrets[0] in v for v in memory_keyring.store.values())

    # the sandbox's own profile, every side switched to the keyring
    profile = load_profile(sandbox.example_profile)
    profile.owner.credentials = CredentialRef(keyring="owner-keys")
    c = profile.consumers[0]
    c.credentials = CredentialRef(keyring="consumer-keys")
    c.query_credentials = CredentialRef(keyring="analyst-keys")
    path = tmp_path / "setup.yaml"
    save_profile(profile, path)
    assert "keyring: owner-keys" in path.read_text()

    home = Path(os.environ["XACCT_WIZARD_HOME"])
    seen: dict[str, bytes] = {}  # every file the tool wrote, read while it exists

    def collect() -> None:
        for p in _files_under(home.parent, tmp_path, *_log_files()):
            seen[f"{p} @{len(transcript)}"] = p.read_bytes()

    assert cli("plan", str(path), "--diff") == 0
    assert cli("apply", str(path), "--yes") == 0
    collect()
    assert any("journals" in k for k in seen), "the journal should exist after apply"
    assert cli("verify", str(path)) == 0
    assert "Nirvana" in transcript[-2] or "SUCCEEDED" in transcript[-2]
    assert cli("verify", str(path), "--json") == 0
    assert json.loads(transcript[-2])["state"] == "SUCCEEDED"
    assert cli("verify", str(path), "--sql", "SELECT * FROM nowhere.nothing") == 1
    assert cli("plan", str(path), "--json") == 0
    collect()
    # a side with the wrong account's keys: refused, naming both accounts
    wrong = tmp_path / "wrong.yaml"
    profile.owner.credentials = CredentialRef(keyring="consumer-keys")
    save_profile(profile, wrong)
    assert cli("plan", str(wrong)) == 2
    assert OWNER in transcript[-1] and CONSUMER in transcript[-1]

    # what an exception can show of the keys: the repr of what the keyring returned
    from wizard.credentials import load_keys

    errors.append(repr(load_keys("owner-keys")))

    assert cli("destroy", str(path), "--yes") == 0
    assert cli("credentials", "delete", "analyst-keys") == 0

    # --------------------------------------------------------------- the scan
    collect()
    assert any(".log" in k for k in seen), "the run should have logged"
    texts = dict(seen)
    texts["stdout/stderr"] = "\n".join(transcript).encode()
    texts["log records"] = caplog.text.encode()
    texts["exceptions"] = "\n".join(errors).encode()
    for secret in secrets:
        for form in _forms(secret):
            leaked = [where for where, data in texts.items() if form in data]
            assert not leaked, f"a secret key ({form[:4]!r}...) was found in {leaked}"
    assert len(texts) >= 6
    if os.environ.get("XW_SHOW_SCANNED"):
        print("\n".join(sorted(texts)))


# --------------------------------------------------------------------------- real keyring
REAL_KEYRING_SNIPPET = r"""
import json, sys
import keyring
import keyring.backends.SecretService as ss
keyring.set_keyring(ss.Keyring())
from wizard import credentials as c
assert type(c._backend()).__module__ == "keyring.backends.SecretService", c._backend()
keys = c.StoredKeys("AKIAREALKEYRINGTEST1", sys.argv[1], None)
c.store_keys("xw-real-test", keys)
c.store_keys("xw-real-test-2", c.StoredKeys("AKIAREALKEYRINGTEST2", sys.argv[1][::-1]))
got = c.load_keys("xw-real-test")
listed = c.list_keys()
deleted = c.delete_keys("xw-real-test"), c.delete_keys("xw-real-test")
print(json.dumps({"secret_ok": got.secret_access_key == sys.argv[1],
                  "key_id": got.access_key_id, "listed": listed, "deleted": deleted,
                  "after": c.list_keys(), "repr": repr(got)}))
"""


@pytest.mark.real_keyring
def test_keys_round_trip_through_a_real_secret_service(tmp_path: Path) -> None:
    missing = [t for t in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(t)]
    if missing:
        pytest.skip(f"no Secret Service to test against: {', '.join(missing)} not installed "
                    "(Debian: apt-get install dbus gnome-keyring)")
    secret = "Xw/rEaL+keyring" + "S3cr3t" * 4
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_RUNTIME_DIR": str(run_dir),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPATH": str(Path.cwd())}
    script = ("echo -n x | gnome-keyring-daemon --unlock --components=secrets --daemonize "
              ">/dev/null && exec \"$0\" -c \"$1\" \"$2\"")
    proc = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script, sys.executable, REAL_KEYRING_SNIPPET,
         secret], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["secret_ok"] and result["key_id"] == "AKIAREALKEYRINGTEST1"
    assert result["listed"] == ["xw-real-test", "xw-real-test-2"]
    assert result["deleted"] == [True, False]
    assert result["after"] == ["xw-real-test-2"]
    assert secret not in result["repr"] and secret not in proc.stderr
    # the keyring's own files hold it encrypted; nothing else under HOME has it in clear
    for p in _files_under(tmp_path):
        assert secret.encode() not in p.read_bytes(), p


# --------------------------------------------------------------------------- no keyring
@pytest.fixture
def no_keyring() -> Iterator[None]:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def _plaintext_backend() -> Any:
    """A backend that writes secrets to a file, as keyrings.alt's PlaintextKeyring does (the
    tool must recognise it by its module and refuse it; keyrings.alt need not be installed)."""
    from keyring.backend import KeyringBackend

    class PlaintextKeyring(KeyringBackend):
        priority = 0.5  # type: ignore[assignment]
        file: Path | None = None

        def set_password(self, service: str, username: str, password: str) -> None:
            assert self.file is not None
            with open(self.file, "a") as f:
                f.write(f"{service} {username} {password}\n")

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def delete_password(self, service: str, username: str) -> None:
            pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    return PlaintextKeyring()


def test_without_a_keyring_the_tool_says_so_and_offers_named_profiles(
        no_keyring: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    transcript: list[str] = []
    secret = "NoKeyring/Secret+Value0123456789abcdefgh"
    assert _cli(["credentials", "set", "k"], capsys, transcript, monkeypatch,
                stdin=f"AKIANOKEYRING0000001\n{secret}\n") == 2
    for args in (["credentials", "list"], ["credentials", "delete", "k"]):
        assert _cli(args, capsys, transcript, monkeypatch) == 2
    text = "\n".join(transcript)
    assert text.count("No OS keyring is available") == 3
    assert "named profile" in text and "{profile: NAME}" in text
    # a profile that uses the keyring fails the same way, before any AWS call
    from tests.reliability.world import existing_profile

    profile = existing_profile()
    profile.owner.credentials = CredentialRef(keyring="k")
    path = tmp_path / "p.yaml"
    save_profile(profile, path)
    assert _cli(["plan", str(path)], capsys, transcript, monkeypatch) == 2
    assert "No OS keyring is available" in transcript[-1]
    home = Path(os.environ["XACCT_WIZARD_HOME"]).parent
    for p in _files_under(home, tmp_path):
        assert secret.encode() not in p.read_bytes(), p


def test_a_plaintext_keyring_backend_is_refused_and_never_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import chainer

    backend = _plaintext_backend()
    backend.file = tmp_path / "keyring_pass.cfg"
    secret = "Plaintext/Secret+Value0123456789abcdefghi"
    previous = keyring.get_keyring()
    transcript: list[str] = []
    try:
        for installed in (backend, _chain(chainer, backend)):
            keyring.set_keyring(installed)
            assert _cli(["credentials", "set", "k"], capsys, transcript, monkeypatch,
                        stdin=f"AKIAPLAINTEXT0000001\n{secret}\n") == 2
            assert "plain file" in transcript[-1] and "keyrings.alt" in transcript[-1]
    finally:
        keyring.set_keyring(previous)
    assert not backend.file.exists(), "the secret went to a file"


def _chain(chainer: Any, plaintext: Any) -> Any:
    """A chainer whose backends include the plaintext one (as keyring builds by priority)."""
    chain = chainer.ChainerBackend.__new__(chainer.ChainerBackend)
    type(chain).backends = property(lambda self: [plaintext])  # type: ignore[assignment]
    return chain


# --------------------------------------------------------------------------- exceptions
@pytest.mark.parametrize("method", ["plan", "apply", "verify", "destroy"])
def test_an_unexpected_exception_carrying_a_secret_leaves_the_engine_redacted(
        world: Any, method: str) -> None:
    """Whatever a library raises mid-run (here: a RuntimeError quoting a key, at a read the
    method makes), the engine hands its caller - the CLI, the GUI's worker - a WizardError
    whose text has no secret."""
    from tests.reliability.world import existing_profile, make_engine
    from wizard.errors import WizardError, register_secret

    secret = "Unexpected/Exception+Secret0123456789abc"
    register_secret(secret)  # as load_keys does for every key it returns
    if method == "destroy":
        make_engine(existing_profile()).apply()
    event = {"plan": "before-call.s3.HeadBucket", "apply": "before-call.s3.HeadBucket",
             "verify": "before-call.athena.GetDataCatalog",
             "destroy": "before-call.athena.DeleteDataCatalog"}[method]

    def boom(**_: Any) -> None:
        raise RuntimeError(f"signature mismatch computing with {secret}")

    engine = make_engine(existing_profile(), hooks=[(event, boom)])
    try:
        result = getattr(engine, method)()
    except WizardError as exc:
        shown = [str(exc), exc.explain(), repr(exc), str(exc.args)]
    else:  # plan reports it as a blocking finding instead of raising
        assert method == "plan"
        shown = [f"{f.message} {f.fix}" for f in result.blocking]
        assert shown
    assert any("signature mismatch" in s for s in shown)
    assert not [s for s in shown if secret in s]
    if method != "plan":
        make_engine(existing_profile()).destroy()
    assert world.at_baseline()
