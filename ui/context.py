"""What every page is given: the shared state, the worker pool, the backend, the settings,
and the credential sources read from the machine (AWS config profiles, keyring entries).

Passing one object into each page (instead of globals) keeps the pages testable with a fake
backend, in the spirit of qutebrowser's stubs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from ui.settings import GuiSettings
from ui.state import WizardState
from ui.workers import WorkerPool

if TYPE_CHECKING:
    from ui.backend import Backend
    from wizard.credentials import NamedProfile


class CredentialSources(QObject):
    """Named profiles and keyring entries, read on a worker and shared by every picker."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.profiles: list[NamedProfile] = []
        self.keyring: list[str] = []
        self.keyring_error: str = ""  # why the keyring cannot be used ("" when it can)
        self.loaded = False

    def profile(self, name: str) -> NamedProfile | None:
        return next((p for p in self.profiles if p.name == name), None)

    def reload(self, pool: WorkerPool, backend: Backend) -> None:
        def read(job: Any) -> tuple[list[Any], list[str], str]:
            profiles = backend.named_profiles()
            try:
                names, error = backend.keyring_names(), ""
            except Exception as exc:  # KeyringUnavailable, or a backend misbehaving
                explain = getattr(exc, "explain", None)  # with its cause and fix
                names, error = [], explain() if callable(explain) else str(exc)
            return profiles, names, error

        pool.start(read, on_returned=self._loaded)

    def _loaded(self, result: tuple[list[Any], list[str], str]) -> None:
        self.profiles, self.keyring, self.keyring_error = result
        self.loaded = True
        self.changed.emit()


@dataclass
class AppContext:
    state: WizardState
    pool: WorkerPool
    backend: Backend
    settings: GuiSettings = field(default_factory=GuiSettings)
    sources: CredentialSources = field(default_factory=CredentialSources)
    sandbox_handle: Any = None  # a sandbox child process the GUI started (stopped at exit)
    preloaded: bool = False  # the engine's modules and AWS models are loaded
    log_file: str = ""  # where every event and every error shown is logged
