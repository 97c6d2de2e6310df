"""The journal: what this tool created or changed, with the prior state it replaced.

It is what makes destroy safe (only what we made is deleted, what we changed is restored) and
apply resumable (a crash between "about to create" and "created" leaves a pending entry that
destroy still knows about). Written atomically after every entry, one file per setup.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from wizard.paths import atomic_write, state_dir

JOURNAL_VERSION = 1
EntryKind = Literal["created", "changed"]


@dataclass
class Entry:
    id: str
    step: str
    account: str
    resource: str
    kind: EntryKind
    state: Literal["pending", "done"] = "pending"
    prior: Any = None  # what was there before we changed it (None when we created it)
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


def journal_key(owner_account: str, region: str, catalog_name: str) -> str:
    return f"{owner_account}-{region}-{catalog_name}"


def default_path(owner_account: str, region: str, catalog_name: str) -> Path:
    key = journal_key(owner_account, region, catalog_name)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return state_dir() / "journals" / f"{safe}-{digest}.json"


class Journal:
    """Thread-safe; every mutation is on disk before it returns (intent also fsynced)."""

    def __init__(self, path: Path, key: str = "") -> None:
        self.path = path
        self.key = key
        self._lock = threading.RLock()  # entries and status
        self._write_lock = threading.Lock()  # one write of the file at a time
        self._version = self._written = self._synced = 0  # changes made / on disk / fsynced
        self.entries: list[Entry] = []
        self.status = "empty"
        if path.exists():
            self._load()

    def _load(self) -> None:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        version = data.get("version", 0)
        if version > JOURNAL_VERSION:
            from wizard.errors import InvalidInput

            raise InvalidInput(f"The journal {self.path} was written by a newer xacct-wizard.",
                               fix="Upgrade xacct-wizard.")
        self.key = data.get("key", self.key)
        self.status = data.get("status", "empty")
        self.entries = [Entry(**e) for e in data.get("entries", [])]

    def _changed(self) -> int:
        """Count a change to entries or status (caller holds ``_lock``); returns its number."""
        self._version += 1
        return self._version

    def _persist(self, version: int, *, durable: bool) -> None:
        """Write through: return once the file holds change ``version`` (fsynced if durable).

        Group commit: one thread writes at a time, and each write is a snapshot of everything
        recorded so far, so threads that queued behind a write find their change already on
        disk and return. With 20 consumers recording intent at once, that is a handful of
        fsyncs instead of one per entry, one after another. Only intent ("begin") needs fsync:
        a lost "done" or "forget" is re-derived from live state by the next apply or destroy.
        Never called holding ``_lock`` (this takes ``_write_lock``, then ``_lock``).
        """
        with self._write_lock:
            if (self._synced if durable else self._written) >= version:
                return
            with self._lock:
                latest = self._version
                doc = None
                if self.entries or self.status not in ("empty", "destroyed"):
                    doc = {"version": JOURNAL_VERSION, "key": self.key, "status": self.status,
                           "entries": [asdict(e) for e in self.entries]}
                text = None if doc is None else json.dumps(doc, indent=1, default=str)
            if text is None:
                self.path.unlink(missing_ok=True)
            else:
                atomic_write(self.path, text, durable=durable)
            self._written = latest
            if durable:
                self._synced = latest

    # ------------------------------------------------------------------ writing
    def begin(self, step: str, account: str, resource: str, kind: EntryKind, *,
              prior: Any = None, data: dict[str, Any] | None = None) -> Entry:
        """Record intent before the mutating call: a crash after the call is still known."""
        with self._lock:
            entry = self.find(step, account, resource)
            if entry is not None:
                # A resumed run: keep the earliest prior state, it is the one to restore.
                if data:
                    entry.data.update(data)
            else:
                entry = Entry(uuid.uuid4().hex[:12], step, account, resource, kind,
                              prior=prior, data=dict(data or {}))
                self.entries.append(entry)
            version = self._changed()
        self._persist(version, durable=True)
        return entry

    def done(self, entry: Entry, **data: Any) -> None:
        with self._lock:
            entry.state = "done"
            entry.data.update(data)
            version = self._changed()
        self._persist(version, durable=False)

    def forget(self, entry: Entry) -> None:
        """Destroy undid it (or it never happened)."""
        with self._lock:
            self.entries = [e for e in self.entries if e.id != entry.id]
            version = self._changed()
        self._persist(version, durable=False)

    def set_status(self, status: str) -> None:
        with self._lock:
            self.status = status
            version = self._changed()
        self._persist(version, durable=False)

    # ------------------------------------------------------------------ reading
    def find(self, step: str, account: str, resource: str) -> Entry | None:
        with self._lock:
            for e in self.entries:
                if e.step == step and e.account == account and e.resource == resource:
                    return e
        return None

    def for_step(self, step: str, account: str | None = None) -> list[Entry]:
        with self._lock:
            return [e for e in self.entries
                    if e.step == step and (account is None or e.account == account)]

    def owns(self, step: str, account: str, resource: str) -> bool:
        e = self.find(step, account, resource)
        return e is not None and e.kind == "created"
