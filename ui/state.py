"""The wizard's shared state: the profile being edited and the engine built from it.

Pages edit one ``SetupProfile`` in place (the same model the CLI loads), so what the Review page
plans is exactly what a saved profile makes ``xacct-wizard apply`` do. The Engine is built on a
worker (it imports boto3 and may ask for an MFA code) and reused while the profile stays the
same, so a Check/plan/apply sequence authenticates once; editing a field makes the next call
build a fresh one.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from wizard.profile import (
    ConnectorConfig,
    ConsumerConfig,
    CredentialRef,
    OwnerConfig,
    SetupProfile,
)

if TYPE_CHECKING:
    from ui.backend import Backend
    from wizard.changes import Event, Plan
    from wizard.engine import Engine

DEFAULT_REGION = "us-east-1"


def blank_consumer() -> ConsumerConfig:
    return ConsumerConfig(account_id="", credentials=CredentialRef(), principal_arn="",
                          query_results="", catalog_name="")


def blank_profile() -> SetupProfile:
    """A new setup with the template's defaults and nothing the user must choose filled in."""
    return SetupProfile(
        region=DEFAULT_REGION,
        owner=OwnerConfig("", CredentialRef()),
        connector=ConnectorConfig(catalog_name="", spill_bucket=""),
        consumers=[blank_consumer()],
    )


class WizardState(QObject):
    """The profile, where it came from, the last plan, and the engine for it."""

    profile_replaced = Signal()  # a whole new profile (opened, new, sandbox): pages reload
    warmed = Signal()  # the engine's modules (and botocore's region table) are loaded
    applied_changed = Signal()  # Apply succeeded, or its result was undone

    def __init__(self, backend: Backend, *, sandbox: bool = False) -> None:
        super().__init__()
        self.backend = backend
        self.profile: SetupProfile = blank_profile()
        self.profile_path: Path | None = None
        self.sandbox = sandbox
        self.plan: Plan | None = None
        self._applied = False
        self._engine: Engine | None = None
        self._engine_key: Any = None
        self._engine_lock = threading.Lock()
        self._sink: Callable[[Event], None] = lambda e: None
        self.warm = False
        self._saved: dict[str, Any] | None = None  # the profile as last opened or saved
        # The Test query page's SQL as the admin left it ("" = the default query; None = not
        # edited). Kept beside the profile, not in it: editing the SQL does not change the
        # setup (Review and Apply stay current); Finish writes it as ``test_query``.
        self.test_sql: str | None = None

    @property
    def applied(self) -> bool:
        """Whether the setup, as it is now, has been applied (the step list shows it)."""
        return self._applied

    @applied.setter
    def applied(self, value: bool) -> None:
        if value != self._applied:
            self._applied = value
            self.applied_changed.emit()

    def set_warm(self) -> None:
        """Validation may run on the GUI thread from now on: its region rule reads botocore's
        endpoint table, which the preload worker has loaded (importing botocore and parsing a
        megabyte of JSON on the GUI thread would stall the window)."""
        self.warm = True
        self.warmed.emit()

    # ------------------------------------------------------------------ profile
    def replace_profile(self, profile: SetupProfile, path: Path | None = None) -> None:
        self.profile = profile
        if not profile.consumers:
            profile.consumers.append(blank_consumer())
        self.profile_path = path
        self.plan = None
        self.applied = False
        self.test_sql = None
        # Opened, blank or the sandbox's example: nothing typed yet that closing would lose.
        self.mark_saved()
        self.profile_replaced.emit()

    def mark_saved(self) -> None:
        """The profile as it is now is in a file (or is nothing the user typed)."""
        self._saved = self.snapshot()

    @property
    def unsaved(self) -> bool:
        """Whether closing now would lose changes the user made to the setup."""
        return self._saved is not None and self.snapshot() != self._saved

    def effective_profile(self) -> SetupProfile:
        """The profile as it is applied and saved: with ``consumers_from`` (every account of
        an OU) the listed consumers are kept aside by the pages, not part of the setup."""
        if self.profile.consumers_from is None:
            return self.profile
        return dataclasses.replace(self.profile, consumers=[])

    def profile_to_save(self) -> SetupProfile:
        """The profile as saved: the effective one with the test query as last edited."""
        profile = self.effective_profile()
        if self.test_sql is None:
            return profile
        return dataclasses.replace(profile, test_query=self.test_sql)

    def snapshot(self) -> dict[str, Any]:
        """The profile as plain data: what decides whether the engine is still current."""
        return asdict(self.profile)

    # ------------------------------------------------------------------ engine (worker side)
    def engine(self, new_run: bool = False) -> Engine:
        """The engine for the profile as it is now. Call from a worker only.

        The engine gets a deep copy: editing a field while a plan runs cannot change the run.
        ``new_run`` (plan, apply, destroy) clears an earlier Cancel so Retry works after it
        (the journal resumes the run); reads alongside a run (the test query, an export)
        leave it alone, so they can never swallow a Cancel meant for that run.
        """
        key = self.snapshot()
        with self._engine_lock:
            if self._engine is None or self._engine_key != key:
                self._engine = self.backend.engine(copy.deepcopy(self.effective_profile()),
                                                   self._emit)
                self._engine_key = key
            engine = self._engine
        if new_run:
            engine.reset_cancel()
        return engine

    def forget_engine(self) -> None:
        with self._engine_lock:
            self._engine = None
            self._engine_key = None

    def set_sink(self, sink: Callable[[Event], None] | None) -> None:
        """Where engine events go now (a job's ``progress``: a queued signal to the GUI)."""
        self._sink = sink or (lambda e: None)

    def _emit(self, event: Event) -> None:  # engine worker threads
        from wizard.logs import log_event

        log_event(event)  # the log file holds what the window showed, as the CLI's does
        self._sink(event)
