"""The journal survives crashes and knows what was ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wizard.errors import InvalidInput
from wizard.journal import Journal, default_path


def test_entries_are_on_disk_before_the_call_and_marked_done_after(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    j = Journal(path, "k")
    e = j.begin("share-role", "consumer:222222222222", "role X", "created")
    on_disk = json.loads(path.read_text())
    assert on_disk["entries"][0]["state"] == "pending"
    j.done(e, arn="arn:x")
    again = Journal(path)
    assert again.entries[0].state == "done" and again.entries[0].data["arn"] == "arn:x"
    assert again.owns("share-role", "consumer:222222222222", "role X")


def test_a_resumed_begin_keeps_the_first_prior_state(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.json")
    j.begin("spill-grant", "owner", "policy", "changed", prior={"Statement": ["original"]})
    j.begin("spill-grant", "owner", "policy", "changed", prior={"Statement": ["ours too"]})
    assert len(j.entries) == 1
    assert j.entries[0].prior == {"Statement": ["original"]}


def test_forgetting_everything_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    j = Journal(path)
    e = j.begin("s", "owner", "r", "created")
    j.set_status("destroyed")
    j.forget(e)
    assert not path.exists()


def test_a_newer_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text(json.dumps({"version": 99, "entries": []}))
    with pytest.raises(InvalidInput, match="newer"):
        Journal(path)


def test_default_path_is_per_setup_and_under_the_state_dir() -> None:
    a = default_path("111111111111", "us-east-1", "cat_a")
    b = default_path("111111111111", "us-east-1", "cat-a")
    assert a != b and a.parent == b.parent
