"""Page 1, Start: a new setup, a saved profile (recent ones remembered), or the sandbox.

The sandbox choice is how a new user tries the whole flow with nothing to configure: it loads
the sandbox's complete example profile, so every later page is already filled in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from ui.errors import log_shown, shown
from ui.pages.base import ACCOUNTS, BasePage
from ui.pages.diagnose import DIAGNOSE
from ui.state import blank_profile
from ui.widgets.common import MessageLabel
from wizard.plural import count
from wizard.profile import ProfileError, SetupProfile, load_profile


class StartPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Athena cross-account federated query")
        self.setSubTitle(
            "Let a consumer account (B) query a DynamoDB table that lives in an owner account "
            "(A). The wizard deploys the Athena DynamoDB connector in A, grants B access, shares "
            "the catalog into B and runs a test query - and can undo all of it.")
        self.new = QRadioButton("Start a ne&w setup", self)
        self.open = QRadioButton("&Open a saved profile", self)
        self.sandbox = QRadioButton("Try it in the &sandbox: two emulated accounts on this "
                                    "computer; nothing touches AWS", self)
        self.diagnose = QRadioButton("&Diagnose an existing setup (pick its profile above): "
                                     "reads both accounts, changes nothing", self)
        self.choice = QButtonGroup(self)
        for i, b in enumerate((self.new, self.open, self.sandbox, self.diagnose)):
            self.choice.addButton(b, i)
        self.recent = QListWidget(self)
        self.recent.setAccessibleName("Recent profiles")
        self.recent.setMaximumHeight(self.fontMetrics().height() * 7)
        self.no_recent = QLabel("No profiles opened yet: Browse… for a saved profile (YAML).",
                                self)
        self.browse = QPushButton("&Browse…", self)
        self.open_msg = MessageLabel(self)
        self.sandbox_status = QLabel(self)
        self.sandbox_status.setWordWrap(True)
        self.sandbox_msg = MessageLabel(self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.new)
        layout.addSpacing(6)
        layout.addWidget(self.open)
        indent = QVBoxLayout()
        indent.setContentsMargins(self.fontMetrics().height() * 2, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.recent, 1)
        row.addWidget(self.no_recent, 1)
        row.addWidget(self.browse, 0, Qt.AlignmentFlag.AlignTop)
        indent.addLayout(row)
        indent.addWidget(self.open_msg)
        layout.addLayout(indent)
        layout.addWidget(self.diagnose)
        layout.addSpacing(6)
        layout.addWidget(self.sandbox)
        sb_indent = QVBoxLayout()
        sb_indent.setContentsMargins(self.fontMetrics().height() * 2, 0, 0, 0)
        sb_indent.addWidget(self.sandbox_status)
        sb_indent.addWidget(self.sandbox_msg)
        layout.addLayout(sb_indent)
        layout.addStretch(1)

        self._opened: tuple[Path, SetupProfile] | None = None
        self._sandbox_profile: SetupProfile | None = None
        self._sandbox_path: Path | None = None
        self._sandbox_loading = False
        self._committed: Any = None
        self._loading_path: Path | None = None
        self._advance_when_loaded = False

        self.choice.idToggled.connect(self._choice_changed)
        self.recent.currentItemChanged.connect(self._recent_selected)
        self.recent.itemActivated.connect(self._recent_activated)
        self.browse.clicked.connect(self._browse)
        self._fill_recent()
        if ctx.state.sandbox:
            self.sandbox.setChecked(True)
        elif ctx.settings.last_profile and self.recent.count():
            self.open.setChecked(True)
            self.recent.setCurrentRow(0)
        else:
            self.new.setChecked(True)
        self._choice_changed()

    # ---------------------------------------------------------------- recent
    def _fill_recent(self) -> None:
        self.recent.clear()
        for path in self.ctx.settings.recent:
            item = QListWidgetItem(Path(path).name)
            item.setToolTip(path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            if not Path(path).exists():
                item.setText(f"{Path(path).name}  (missing)")
            self.recent.addItem(item)
        self.recent.setVisible(self.recent.count() > 0)
        self.no_recent.setVisible(self.recent.count() == 0)
        last = self.ctx.settings.last_profile
        for i in range(self.recent.count()):
            if self.recent.item(i).data(Qt.ItemDataRole.UserRole) == last:
                self.recent.setCurrentRow(i)

    def open_path(self, path: Path) -> None:
        """Open the file given on the command line: it is the one highlighted in the recent
        list (or none is, when it is not there), never another one."""
        self.open.setChecked(True)
        target = path.expanduser().resolve()
        self.recent.blockSignals(True)
        try:
            self.recent.setCurrentRow(-1)
            self.recent.clearSelection()
            for i in range(self.recent.count()):
                if Path(self.recent.item(i).data(Qt.ItemDataRole.UserRole)).expanduser() \
                        .resolve() == target:
                    self.recent.setCurrentRow(i)
                    break
        finally:
            self.recent.blockSignals(False)
        self.load(path.expanduser())

    def _recent_selected(self, item: QListWidgetItem | None, _prev: Any = None) -> None:
        if item is not None:
            if not self.diagnose.isChecked():
                self.open.setChecked(True)
            self.load(Path(item.data(Qt.ItemDataRole.UserRole)))

    def _recent_activated(self, item: QListWidgetItem) -> None:
        self._advance_when_loaded = True
        self._recent_selected(item)

    def _browse(self) -> None:
        start = str(self._opened[0].parent) if self._opened else str(Path.home())
        name, _ = QFileDialog.getOpenFileName(self, "Open a setup profile", start,
                                              "Setup profiles (*.yaml *.yml)"
                                              ";;All files (*)")
        if name:
            if not self.diagnose.isChecked():
                self.open.setChecked(True)
            self.load(Path(name))

    def load(self, path: Path) -> None:
        """Read and validate a profile file on a worker (validation reads botocore's region
        table, and the file may sit on a slow mount); the result shows below the list."""
        self._opened = None
        self._loading_path = path
        self.open_msg.show_message(f"Reading {path.name}…", "info")
        self.refresh_complete()

        def work(job: Any) -> tuple[SetupProfile | None, str]:
            try:
                return load_profile(path), ""
            except ProfileError as exc:
                return None, str(exc)

        self.run(work, on_returned=lambda result: self._loaded(path, result))

    def _loaded(self, path: Path, result: tuple[SetupProfile | None, str]) -> None:
        if path != self._loading_path:
            return  # the user picked another file meanwhile
        profile, problem = result
        advance, self._advance_when_loaded = self._advance_when_loaded, False
        if profile is None:
            self.open_msg.show_message(f"{path.name} cannot be used:\n{problem}")
            log_shown(f"{path} cannot be used: {problem}", "Start")
            self.refresh_complete()
            return
        self._opened = (path, profile)
        self.open_msg.show_message(f"{path} - owner {profile.owner.account_id}, "
                                   f"{count(len(profile.consumers), 'consumer')}", "ok")
        self.refresh_complete()
        if advance and self.isComplete() and self.wizard() is not None:
            self.wizard().next()

    # ---------------------------------------------------------------- sandbox
    def _choice_changed(self, *_: Any) -> None:
        if self.sandbox.isChecked() and self._sandbox_profile is None \
                and not self._sandbox_loading:
            self._load_sandbox()
        self.refresh_complete()

    def _load_sandbox(self) -> None:
        self._sandbox_loading = True
        self.sandbox_msg.show_message(None)
        running = self.ctx.state.sandbox
        self.sandbox_status.setText("Loading the sandbox's example profile…" if running else
                                    "Starting the sandbox (a few seconds)…")
        backend = self.ctx.backend

        def work(job: Any) -> Any:
            sandbox = None if running else backend.start_sandbox()
            profile, path = backend.sandbox_example(sandbox)
            return sandbox, profile, path

        self.run(work, on_returned=self._sandbox_ready, on_errored=self._sandbox_failed,
                 on_finished=self._sandbox_done)
        self.refresh_complete()

    def _sandbox_ready(self, result: tuple[Any, SetupProfile, Path | None]) -> None:
        sandbox, profile, path = result
        if sandbox is not None:
            # boto3 reads these at client creation: every later call goes to the sandbox
            os.environ.update(sandbox.env())
            self.ctx.state.sandbox = True
            self.ctx.sandbox_handle = sandbox
            self.ctx.sources.reload(self.ctx.pool, self.ctx.backend)
        self._sandbox_profile = profile
        self._sandbox_path = path
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
        self.sandbox_status.setText(
            f"Sandbox ready{' at ' + endpoint if endpoint else ''}: owner "
            f"{profile.owner.account_id}, consumer {profile.consumers[0].account_id}, the Music "
            "table seeded. Press Next - every page is filled in.")

    def _sandbox_failed(self, exc: BaseException) -> None:
        self.sandbox_status.setText("")
        self.sandbox_msg.show_message(f"The sandbox could not start: {shown(exc, 'Start')}")

    def _sandbox_done(self) -> None:
        self._sandbox_loading = False
        self.refresh_complete()

    # ---------------------------------------------------------------- navigation
    def ready(self) -> bool:
        if self.open.isChecked() or self.diagnose.isChecked():
            return self._opened is not None
        if self.sandbox.isChecked():
            return self._sandbox_profile is not None
        return True

    def validatePage(self) -> bool:
        state = self.ctx.state
        if (self.open.isChecked() or self.diagnose.isChecked()) and self._opened is not None:
            key: Any = ("open", self._opened[0])
            if key != self._committed:
                path, profile = self._opened
                state.replace_profile(profile, path)
                self.ctx.settings.remember(path)
                self.ctx.settings.save()
        elif self.sandbox.isChecked() and self._sandbox_profile is not None:
            key = ("sandbox",)
            if key != self._committed:
                state.replace_profile(self._sandbox_profile, None)
        else:
            key = ("new",)
            if key != self._committed:
                state.replace_profile(blank_profile(), None)
        self._committed = key
        return True

    def nextId(self) -> int:
        return DIAGNOSE if self.diagnose.isChecked() else ACCOUNTS
