"""Page 8, Finish: save the setup as a profile, export it as infrastructure as code, see what
exists now in each account (with AWS console links), and Clean up - destroy everything this
setup made, after a confirmation that lists it.

The saved file is the CLI's profile format: ``xacct-wizard apply PROFILE`` repeats or repairs
this exact setup, and opening it here again shows the same plan.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.console_links import console_url
from ui.errors import log_shown, shown
from ui.pages.apply import event_text
from ui.pages.base import BasePage
from ui.pages.review import account_group
from ui.widgets.common import MessageLabel, heading, mono_font, tone
from ui.widgets.log_pane import LogPane
from wizard.plural import count
from wizard.profile import ProfileError, save_profile

if TYPE_CHECKING:
    from wizard.changes import Change, Event, Plan

PRESENCE = {"none": ("exists", "ok"), "update": ("exists, differs", "warn"),
            "create": ("not there", "muted"), "delete": ("to remove", "warn")}


class FinishPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Finish")
        self.setSubTitle("Save this setup as a profile to repeat or repair it later (the command "
                         "shown then does it from a terminal), or clean it all up again.")
        self.save_button = QPushButton("&Save profile…", self)
        self.saved = MessageLabel(self)
        self.export_button = QPushButton("&Export…", self)
        self.export_button.setToolTip("Write this setup as CloudFormation templates, a Terraform "
                                      "module or an AWS CLI script.")
        self.exported = MessageLabel(self)
        self.command_label = QLabel("Run it again any time with:", self)
        self.command = QLineEdit(self)
        self.command.setReadOnly(True)
        self.command.setFont(mono_font())
        self.command.setAccessibleName("Command that repeats this setup")
        self.copy_button = QPushButton("&Copy", self)
        self.copy_button.setToolTip("Copy the command to the clipboard")
        self.refresh_button = QPushButton("&Refresh", self)
        self.cleanup_button = QPushButton("Clean &up…", self)
        self.cleanup_button.setToolTip("Remove everything this setup created and restore what "
                                       "it changed, in both accounts.")
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.summary = QTreeWidget(self)
        self.summary.setColumnCount(3)
        self.summary.setHeaderLabels(["Resource", "Now", "AWS console"])
        self.summary.setAccessibleName("What exists now")
        self.summary.setUniformRowHeights(True)
        self.summary.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # full text: tooltip
        hdr = self.summary.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setStretchLastSection(False)
        self.error = MessageLabel(self)
        self.log = LogPane("Clean-up log", self)
        self.log.hide()

        srow = QHBoxLayout()
        srow.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignTop)
        srow.addWidget(self.saved, 1)
        srow.addStretch(0)
        erow = QHBoxLayout()
        erow.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        erow.addWidget(self.exported, 1)
        erow.addStretch(0)
        crow = QHBoxLayout()
        crow.addWidget(self.command_label)
        crow.addWidget(self.command, 1)
        crow.addWidget(self.copy_button)
        arow = QHBoxLayout()
        arow.addWidget(heading("What exists now"))
        arow.addStretch(1)
        arow.addWidget(self.refresh_button)
        arow.addWidget(self.cleanup_button)
        upper = QWidget(self)
        ul = QVBoxLayout(upper)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.addLayout(arow)
        ul.addWidget(self.status)
        ul.addWidget(self.progress)
        ul.addWidget(self.error)
        ul.addWidget(self.summary, 1)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(upper)
        split.addWidget(self.log)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(srow)
        layout.addLayout(erow)
        layout.addLayout(crow)
        layout.addWidget(split, 1)

        self.save_button.clicked.connect(self.ask_save)
        self.export_button.clicked.connect(self.ask_export)
        self.copy_button.clicked.connect(self.copy_command)
        self.refresh_button.clicked.connect(self.refresh_summary)
        self.cleanup_button.clicked.connect(self.ask_cleanup)
        self.summary.itemActivated.connect(self._open_link)
        self._worker: Any = None
        self.cleaned = False
        self.saved_path: Path | None = None
        self._to_clean = 0  # what Clean up would remove or restore (0: nothing left)
        self._restore_to: dict[str, Any] = {}  # resource -> the policy clean-up puts back

    def nextId(self) -> int:
        """The last page (the Diagnose page, after it in id order, is reached from Start)."""
        return -1

    def initializePage(self) -> None:
        if self.ctx.state.profile_path is not None:
            self.saved.show_message(f"Opened from {self.ctx.state.profile_path}", "info")
        self._show_command()
        self.refresh_summary()

    # ---------------------------------------------------------------- the command
    def command_text(self) -> str:
        """The command that repeats (or repairs) this setup, as it works when pasted: the
        sandbox's AWS profiles exist only with ``--sandbox``."""
        from wizard.commands import command_for

        path = self.ctx.state.profile_path
        return command_for("apply", path, sandbox=self.ctx.state.sandbox) if path else ""

    def _show_command(self) -> None:
        text = self.command_text()
        self.command.setText(text)
        self.command.setToolTip(text)
        self.command.setCursorPosition(0)
        self.command.setPlaceholderText("Save the profile first: the command names its file.")
        self.copy_button.setEnabled(bool(text))

    def copy_command(self) -> None:
        from PySide6.QtGui import QGuiApplication

        QGuiApplication.clipboard().setText(self.command.text())
        self.copy_button.setText("Copied")
        QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText("&Copy"))

    # ---------------------------------------------------------------- save
    def ask_save(self) -> None:
        state = self.ctx.state
        default = state.profile_path or (
            self.ctx.settings.save_folder()
            / f"{self.profile.connector.catalog_name or 'setup'}.yaml")
        name, _ = QFileDialog.getSaveFileName(self, "Save the setup as a profile", str(default),
                                              "Setup profiles (*.yaml *.yml)")
        if name:
            self.save_to(Path(name))

    def save_to(self, path: Path) -> bool:
        """Write the profile (validated, atomic, never a secret) and remember it as recent."""
        try:
            save_profile(self.ctx.state.profile_to_save(), path)
        except ProfileError as exc:
            self.saved.show_message(f"Not saved:\n{exc}")
            log_shown(f"Not saved:\n{exc}", "Finish")
            return False
        except OSError as exc:
            self.saved.show_message(f"Not saved: {exc.strerror or exc}")
            log_shown(f"Not saved to {path}: {exc.strerror or exc}", "Finish")
            return False
        self.saved_path = path
        self.ctx.state.profile_path = path
        self.ctx.state.mark_saved()
        self.ctx.settings.remember(path)
        self.ctx.settings.save()
        self.saved.show_message(f"Saved to {path}.", "ok")
        self._show_command()
        return True

    # ---------------------------------------------------------------- export
    EXPORT_FORMATS = {"CloudFormation templates": "cloudformation",
                      "Terraform module": "terraform", "AWS CLI script": "cli"}

    def ask_export(self) -> None:
        """Ask for a format and a folder, then export (in a worker: it reads both accounts)."""
        label, ok = QInputDialog.getItem(self, "Export", "Write this setup as:",
                                         list(self.EXPORT_FORMATS), 0, False)
        if not ok:
            return
        fmt = self.EXPORT_FORMATS[label]
        start = self.ctx.state.profile_path.parent if self.ctx.state.profile_path else Path.home()
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", str(start))
        if folder:
            self.export_to(fmt, Path(folder))

    def export_to(self, fmt: str, folder: Path) -> None:
        if self._worker is not None:
            return
        state, backend = self.ctx.state, self.ctx.backend
        name = state.profile_path.name if state.profile_path else (
            f"{self.profile.connector.catalog_name or 'setup'}.yaml (not saved)")

        def work(job: Any) -> Any:
            state.set_sink(None)
            return backend.export(state.engine(new_run=True), fmt, folder, name)

        def done(result: Any) -> None:
            files = ", ".join(f.name for f in result.files)
            warnings = "\n".join(f"Warning: {w}" for w in result.warnings)
            self.exported.show_message(f"Wrote {files} to {folder}." + (
                f"\n{warnings}" if warnings else ""), "warn" if warnings else "ok")

        self.exported.show_message(None)
        self.status.setText("Reading both accounts to export…")
        self._start(work, done)

    # ---------------------------------------------------------------- summary
    def refresh_summary(self) -> None:
        if self._worker is not None:
            return
        state = self.ctx.state
        self.status.setText("Reading both accounts…")
        self.error.show_message(None)

        def work(job: Any) -> tuple[Plan, Plan]:
            state.set_sink(None)
            engine = state.engine(new_run=True)
            job.on_cancel(engine.cancel)
            return engine.plan(), engine.plan_destroy()

        self._start(work, self._show_summary)

    def _presence(self, change: Change) -> tuple[str, str]:
        """How a resource reads now. After a clean-up, a policy the wizard had changed and
        put back reads as restored when it means what clean-up meant to write (compared by
        meaning, as plan does: S3 hands a policy back in its own form)."""
        from wizard.policies import equivalent

        restored = self._restore_to.get(change.resource)
        if self.cleaned and change.action == "update" and restored is not None \
                and equivalent(change.before, restored):
            return "restored as before", "ok"
        return PRESENCE.get(change.action, (change.action, "muted"))

    def _show_summary(self, plans: tuple[Plan, Plan]) -> None:
        plan, undo = plans
        self._to_clean = len(undo.changes)
        for ch in undo.changes:  # what clean-up would put back (kept once it is done)
            if ch.kind == "bucket-policy" and ch.action == "update" and ch.after is not None:
                self._restore_to[ch.resource] = ch.after
        self.summary.clear()
        region = self.profile.region
        groups: dict[str, QTreeWidgetItem] = {}
        present = 0
        for change in plan.changes:
            parent = account_group(self.summary, groups, change.account, self.profile)
            text, level = self._presence(change)
            restored = text == "restored as before"  # no longer anything of this setup
            present += change.action in ("none", "update") and not restored
            item = QTreeWidgetItem([change.resource, text, ""])
            item.setToolTip(0, change.resource + (f"\n{change.summary}" if change.summary
                                                  else ""))
            item.setForeground(1, tone(level))
            parent.addChild(item)
            url = console_url(change.kind, change.resource, region)
            if url and change.action != "create":
                item.setData(2, Qt.ItemDataRole.UserRole, url)
                link = QLabel(f'<a href="{html.escape(url)}">open in console</a>')
                link.setContentsMargins(6, 0, 6, 0)
                link.setOpenExternalLinks(True)
                link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
                link.setToolTip(url + ("\n(sandbox resources are not in the real console)"
                                       if self.ctx.state.sandbox else ""))
                self.summary.setItemWidget(item, 2, link)
        sandbox = (" (in the sandbox: the console links show where each resource lives in "
                   "real AWS)") if self.ctx.state.sandbox else ""
        verb = "exists" if present == 1 else "exist"
        self.status.setText(f"{present} of {count(len(plan.changes), 'resource')} of this setup "
                            f"{verb} now{sandbox}." if plan.changes
                            else "Nothing of this setup exists.")

    def _open_link(self, item: QTreeWidgetItem, _col: int) -> None:
        url = item.data(2, Qt.ItemDataRole.UserRole)
        if url:
            from PySide6.QtCore import QUrl
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(QUrl(url))

    # ---------------------------------------------------------------- clean up
    def ask_cleanup(self) -> None:
        """Read what would be removed (worker), confirm it with the user, then destroy."""
        if self._worker is not None:
            return
        state = self.ctx.state

        def work(job: Any) -> Plan:
            engine = state.engine(new_run=True)
            return engine.plan_destroy()

        self.status.setText("Reading what this setup created…")
        self._start(work, self._confirm_cleanup)

    def _confirm_cleanup(self, plan: Plan) -> None:
        changes = plan.changes
        if not changes:
            self.status.setText("This setup has created nothing that is still there.")
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Clean up")
        box.setText(f"Remove or restore {count(len(changes), 'resource')} in both accounts?\n"
                    "Only what this wizard created is removed; policies it changed get their "
                    "other statements back.")
        box.setDetailedText("\n".join(f"{c.action:<7} {c.resource}" for c in changes))
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setObjectName("cleanup-confirm")
        if box.exec() != QMessageBox.StandardButton.Yes:
            self.status.setText("Clean-up not started.")
            return
        self.clean_up()

    def clean_up(self) -> None:
        state = self.ctx.state
        self.log.show()
        self.log.append("clean up: starting")
        self.progress.setValue(0)

        def work(job: Any) -> list[Change]:
            state.set_sink(job.progress)
            engine = state.engine(new_run=True)
            job.on_cancel(engine.cancel)
            return engine.destroy()

        def done(changes: list[Change]) -> None:
            self.cleaned = True
            state.applied = False
            self.log.append(f"clean up: done, {count(len(changes), 'undo action')}")
            self.status.setText("Cleaned up.")
            self._worker = None
            self.refresh_summary()

        self.status.setText("Cleaning up…")
        self._start(work, done, self._event)

    def _event(self, event: Event) -> None:
        if event.fraction is not None:
            self.progress.setValue(int(event.fraction * 100))
        self.log.append(event_text(event))

    # ---------------------------------------------------------------- plumbing
    def _start(self, work: Any, on_returned: Any, on_progress: Any = None) -> None:
        self.set_busy(True)
        self.progress.setVisible(on_progress is not None)
        for b in (self.refresh_button, self.cleanup_button, self.export_button):
            b.setEnabled(False)

        def failed(exc: BaseException) -> None:
            text = shown(exc, "Finish")
            self.error.show_message(text)
            self.status.setText("")
            self.log.append(text)

        worker = self.run(work, on_returned=on_returned, on_errored=failed,
                          on_progress=on_progress,
                          on_finished=lambda: self._finished(worker))
        self._worker = worker

    def _finished(self, worker: Any) -> None:
        if self._worker is worker:
            self._worker = None
        if self._worker is None:
            self.progress.hide()
            for b in (self.refresh_button, self.export_button):
                b.setEnabled(True)
            self._sync_cleanup()
            self.set_busy(False)

    def _sync_cleanup(self) -> None:
        """Clean up only when this setup left something to remove or restore."""
        self.cleanup_button.setEnabled(self._to_clean > 0)
        self.cleanup_button.setToolTip(
            "Remove everything this setup created and restore what it changed, in both "
            "accounts." if self._to_clean else
            "Nothing to clean up: this setup has created or changed nothing that is still "
            "there.")
