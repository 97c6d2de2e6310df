"""Page tests: the real window and pages over a fake backend (tests/ui/fakes.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.ui.fakes import FakeBackend
from ui.app import MainWizard, build, shutdown, start_background
from ui.context import AppContext
from ui.settings import GuiSettings


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


def _leave_without_asking(window: Any) -> None:
    window.may_leave = lambda: True


@pytest.fixture
def make_window(qtbot: Any) -> Iterator[Callable[..., tuple[MainWizard, AppContext]]]:
    """Build a window over a backend; it is closed and its workers drained afterwards."""
    made: list[tuple[MainWizard, AppContext]] = []

    def make(backend: Any, **kwargs: Any) -> tuple[MainWizard, AppContext]:
        kwargs.setdefault("settings", GuiSettings())
        window, ctx = build(backend, **kwargs)
        # The test is over when pytest-qt closes it: closing must not stop to ask.
        qtbot.addWidget(window, before_close_func=_leave_without_asking)
        window.show()
        start_background(ctx)  # as run() does after the first paint
        qtbot.waitUntil(lambda: ctx.sources.loaded and ctx.state.warm, timeout=15000)
        made.append((window, ctx))
        return window, ctx

    yield make
    for window, ctx in made:
        ctx.pool.cancel_all()
        shutdown(ctx)
        window.hide()
