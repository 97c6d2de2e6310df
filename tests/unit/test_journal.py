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


def test_concurrent_intents_are_each_fsynced_before_begin_returns_and_share_fsyncs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """20 consumers record intent at once: each begin() returns only when the file on disk
    (fsynced) holds its entry, yet the writes are grouped instead of 20 fsyncs in a row."""
    import os
    import threading
    import time

    path = tmp_path / "j.json"
    j = Journal(path, "k")
    synced: list[set[str]] = []  # the resources in the file at each fsync
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.02)  # a disk that takes its time: later begins queue up behind it
        real_fsync(fd)
        text = Path(f"/proc/self/fd/{fd}").read_text(encoding="utf-8")
        synced.append({e["resource"] for e in json.loads(text)["entries"]})

    monkeypatch.setattr(os, "fsync", slow_fsync)
    start = threading.Barrier(20)
    problems: list[str] = []

    def consumer(n: int) -> None:
        start.wait()
        resource = f"role {n}"
        j.begin("share-role", f"consumer:{n}", resource, "created")
        if not any(resource in s for s in synced):
            problems.append(f"{resource}: begin returned before an fsync held it")

    threads = [threading.Thread(target=consumer, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not problems
    assert len(Journal(path).entries) == 20
    assert len(synced) < 20, f"{len(synced)} fsyncs for 20 intents: no group commit"


def test_a_confirmation_is_written_even_when_an_older_durable_write_is_on_disk(
        tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    j = Journal(path, "k")
    e = j.begin("principal", "consumer:1", "user", "created")
    j.done(e, arn="arn:1")
    j.set_status("applied")
    on_disk = json.loads(path.read_text())
    assert on_disk["status"] == "applied"
    assert on_disk["entries"][0]["state"] == "done"
    j.forget(e)
    j.set_status("destroyed")
    assert not path.exists()  # nothing left to remember: the file goes
