"""What every page shares: access to the state and the worker pool, a busy flag that holds
Next and Back while work runs, and inline problems taken from ``wizard.profile.validate``.

Validation lives in the engine (Vorta's lesson): pages only decide *where* a message is shown,
never what is valid, so the GUI and ``xacct-wizard apply`` accept exactly the same profiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWizard, QWizardPage

from ui.context import AppContext
from ui.workers import Worker
from wizard.profile import Problem, SetupProfile, validate

START, ACCOUNTS, CONNECTOR, ACCESS, REVIEW, APPLY, QUERY, FINISH = range(8)
NOT_YET = Problem("(loading)", "")  # validation is not available yet (see BasePage.problems)


class BasePage(QWizardPage):
    """A page of the wizard, given the app context instead of reaching for globals."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._busy = False
        ctx.state.profile_replaced.connect(self.profile_replaced)
        ctx.state.warmed.connect(self._warmed)

    # ---------------------------------------------------------------- shortcuts
    @property
    def profile(self) -> SetupProfile:
        return self.ctx.state.profile

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Worker:
        """Start ``fn(job, *args)`` on the pool; ``on_*`` callbacks run on the GUI thread."""
        return self.ctx.pool.start(fn, *args, **kwargs)

    # ---------------------------------------------------------------- busy
    @property
    def busy(self) -> bool:
        return self._busy

    def set_busy(self, busy: bool) -> None:
        """While busy, Next and Back are held: leaving mid-run would orphan the run's UI."""
        self._busy = busy
        self.completeChanged.emit()
        self._sync_back()
        # initializePage runs before the wizard switches to the page (and re-enables Back):
        # hold it again once the switch is done.
        QTimer.singleShot(0, self._sync_back)

    def _sync_back(self) -> None:
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            back = wizard.button(QWizard.WizardButton.BackButton)
            if self._busy:
                back.setEnabled(False)

    def isComplete(self) -> bool:
        return not self._busy and self.ready()

    def ready(self) -> bool:
        """Whether Next may be pressed (besides not being busy)."""
        return True

    def refresh_complete(self) -> None:
        self.completeChanged.emit()
        self._sync_back()

    # ---------------------------------------------------------------- problems
    def problems(self, *prefixes: str) -> list[Problem]:
        """Profile problems under any of ``prefixes`` (``connector.``, ``consumers[0].``…).

        Until the engine is loaded (a second after launch) the answer is "not yet": Next
        stays disabled and no message is shown; the page refreshes once it is loaded.
        """
        if not self.ctx.state.warm:
            return [NOT_YET]
        return [p for p in validate(self.ctx.state.effective_profile())
                if any(p.path == x.rstrip(".") or p.path.startswith(x) for x in prefixes)]

    def _warmed(self) -> None:
        refresh = getattr(self, "refresh", None)
        wizard = self.wizard()
        if refresh is not None and wizard is not None and wizard.currentPage() is self:
            refresh()

    @staticmethod
    def message_for(problems: list[Problem], *paths: str) -> str | None:
        """The first problem at exactly one of ``paths`` or below it."""
        for p in problems:
            for path in paths:
                if p.path == path or p.path.startswith(path + ".") or \
                        p.path.startswith(path + "["):
                    return p.message
        return None

    def profile_replaced(self) -> None:
        """A new profile was opened: pages already visited reload on their next visit."""
