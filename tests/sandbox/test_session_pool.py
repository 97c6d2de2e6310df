"""MFA once per side per run: the session pool against MFA-protected role profiles.

The sandbox's STS does not check one-time codes, but botocore asks for one every time it
resolves a role profile with ``mfa_serial`` - which is exactly what an admin sees. So counting
the prompts here counts the codes an admin would have to type.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from wizard.engine import Engine
from wizard.profile import CredentialRef, load_profile
from wizard.sandbox import Sandbox
from wizard.sandbox.seed import ADMIN_ROLE, BASE_USER
from wizard.session_pool import SessionPool

MFA_SERIAL = "arn:aws:iam::000000000000:mfa/admin"


@pytest.fixture
def mfa_config(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sandbox's AWS config plus role profiles that demand an MFA code."""
    text = sandbox.config_file.read_text()
    for name, account in (("mfa-owner", Sandbox.OWNER_ACCOUNT),
                          ("mfa-consumer", Sandbox.CONSUMER_ACCOUNT)):
        text += (f"\n[profile {name}]\nrole_arn = arn:aws:iam::{account}:role/{ADMIN_ROLE}\n"
                 f"source_profile = {BASE_USER}\nmfa_serial = {MFA_SERIAL}\n"
                 f"region = {Sandbox.REGION}\nendpoint_url = {sandbox.endpoint_url}\n")
    path = tmp_path / "aws-config"
    path.write_text(text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    return path


class Prompts:
    """Counts the codes asked for, and whether two prompts were ever open at once."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.open = 0
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, message: str) -> str:
        with self._lock:
            self.open += 1
            self.overlapped |= self.open > 1
            self.asked.append(message)
        threading.Event().wait(0.05)  # an admin takes a moment to type the code
        with self._lock:
            self.open -= 1
        return "123456"


def test_one_code_per_side_across_checks_pickers_plan_and_apply(
        mfa_config: Path, sandbox: Sandbox, tmp_path: Path) -> None:
    prompts = Prompts()
    pool = SessionPool(mfa_prompt=prompts)
    owner, consumer = CredentialRef(profile="mfa-owner"), CredentialRef(profile="mfa-consumer")

    # Accounts page: both sides checked at once; Connector page: three lookups at once
    def who(ref: CredentialRef) -> str:
        return pool.session(ref, "us-east-1").client("sts").get_caller_identity()["Account"]

    with ThreadPoolExecutor(4) as ex:
        assert sorted(ex.map(who, [owner, consumer, owner, consumer])) == [
            Sandbox.OWNER_ACCOUNT, Sandbox.OWNER_ACCOUNT,
            Sandbox.CONSUMER_ACCOUNT, Sandbox.CONSUMER_ACCOUNT]
        ex.submit(lambda: pool.session(owner, "us-east-1").client("s3").list_buckets()).result()
    assert len(prompts.asked) == 2

    # Review (plan) and Apply, as the GUI's engine does with the pool as session factory
    text = sandbox.example_profile.read_text()
    text = text.replace("profile: sandbox-owner", "profile: mfa-owner").replace(
        "profile: sandbox-consumer", "profile: mfa-consumer")
    path = tmp_path / "setup.yaml"
    path.write_text(text)
    profile = load_profile(path)
    for _ in range(2):  # Review is visited twice (Back, Next)
        engine = Engine(profile, session_factory=pool, journal_path=tmp_path / "j.json")
        engine.plan()
    engine = Engine(profile, session_factory=pool, journal_path=tmp_path / "j.json")
    engine.apply()
    assert len(prompts.asked) == 2, prompts.asked
    assert not prompts.overlapped, "two MFA prompts were open at the same time"


def test_a_failed_or_cancelled_prompt_is_asked_again_next_time(mfa_config: Path) -> None:
    answers = iter([KeyboardInterrupt, "123456"])

    def prompt(message: str) -> str:
        answer = next(answers)
        if answer is KeyboardInterrupt:
            raise RuntimeError("cancelled")
        return str(answer)

    pool = SessionPool(mfa_prompt=prompt)
    ref = CredentialRef(profile="mfa-owner")
    with pytest.raises(RuntimeError):
        pool.session(ref, "us-east-1")
    sts = pool.session(ref, "us-east-1").client("sts")
    assert sts.get_caller_identity()["Account"] == Sandbox.OWNER_ACCOUNT


def test_forget_makes_the_next_use_resolve_and_prompt_again(mfa_config: Path) -> None:
    prompts = Prompts()
    pool = SessionPool(mfa_prompt=prompts)
    ref = CredentialRef(profile="mfa-owner")
    pool.session(ref, "us-east-1").client("sts").get_caller_identity()
    pool.forget(ref)
    pool.session(ref, "us-east-1").client("sts").get_caller_identity()
    assert len(prompts.asked) == 2
