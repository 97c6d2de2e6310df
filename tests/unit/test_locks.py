"""The dependency locks (requirements/*.lock, made by tools/lock.sh) match pyproject.toml.

A dependency added to pyproject.toml without refreshing the locks would be missing from every
locked install (README, CI, desktop build) while `pip install -e .` still had it; a range
raised past a lock's pin would install a version the project says it cannot use. Both fail
here, with the fix in the message: run tools/lock.sh.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: ;.*)? \\$")
# lock -> the pyproject requirement lists it must satisfy
LOCKS = {"app.lock": [], "test.lock": ["test"], "build.lock": ["build"]}


def pins(lock: str) -> dict[str, Version]:
    """name -> version of every package in a lock, after checking each has sha256 hashes."""
    lines = (ROOT / "requirements" / lock).read_text().splitlines()
    found: dict[str, Version] = {}
    for i, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{lock}: {line} has no hash"
            found[canonicalize_name(match[1])] = Version(match[2])
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_every_declared_dependency_is_pinned_within_its_range(lock: str) -> None:
    locked = pins(lock)
    declared = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in LOCKS[lock]:
        declared += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    for req in declared:
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in requirements/{lock}: run tools/lock.sh"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"requirements/{lock} pins {req.name} {locked[name]}, outside {req.specifier}: "
            "run tools/lock.sh")


def test_the_locks_agree_on_every_package_they_share() -> None:
    """The build extra installs into the test venv (CI's desktop build) without changing it."""
    test = pins("test.lock")
    for lock in ("app.lock", "build.lock"):
        other = pins(lock)
        differ = {n: (v, test[n]) for n, v in other.items() if n in test and test[n] != v}
        assert differ == {}, f"{lock} and test.lock differ: run tools/lock.sh"
    assert set(pins("app.lock")) <= set(test)
