"""One account's identity: its id, where its credentials come from, and a Check of both.

Used for the owner and the consumer on the Accounts page, and for every further consumer on
the Access page. Credentials are a *reference* (an AWS named profile or a keyring entry); the
only place a secret is ever typed is the Store-new-keys dialog, whose secret field is masked,
never echoed back, and cleared as soon as the keys are in the OS keyring.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ui.errors import shown
from ui.widgets.common import Badge, MessageLabel
from wizard.profile import CredentialRef

if TYPE_CHECKING:
    from ui.context import AppContext
    from wizard.credentials import Identity

KIND_NOTE = {"sso": "SSO", "assume-role": "role", "process": "process", "keys": "keys",
             "other": ""}


def profile_label(name: str, kind: str, mfa: bool) -> str:
    """How a named profile reads in a picker: SSO ones marked, MFA ones flagged."""
    marks = [m for m in (KIND_NOTE.get(kind, ""), "MFA" if mfa else "") if m]
    return f"{name}  ({', '.join(marks)})" if marks else name


class StoreKeysDialog(QDialog):
    """Enter access keys once; they go to the OS keyring and the secret is never shown again."""

    def __init__(self, parent: QWidget | None = None, suggested_name: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Store access keys in the OS keyring")
        self.name = QLineEdit(suggested_name, self)
        self.key_id = QLineEdit(self)
        self.key_id.setPlaceholderText("AKIA…")
        self.secret = QLineEdit(self)
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setAccessibleName("Secret access key (hidden)")
        self.token = QLineEdit(self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("only for temporary credentials")
        for field in (self.secret, self.token):
            field.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)  # no copy-out
        form = QFormLayout()
        form.addRow("&Name in the keyring:", self.name)
        form.addRow("Access &key ID:", self.key_id)
        form.addRow("&Secret access key:", self.secret)
        form.addRow("Session &token:", self.token)
        note = QLabel("The keys are kept in your operating system's keyring, never in a file. "
                      "The secret is not shown again.", self)
        note.setWordWrap(True)
        self.message = MessageLabel(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 36)

    def _accept(self) -> None:
        from wizard.profile import validate_field

        problem = validate_field("credential_name", self.name.text())
        if problem:
            self.message.show_message(f"Name: {problem}")
            return
        if not self.key_id.text().strip() or not self.secret.text():
            self.message.show_message("Both the access key ID and the secret access key are "
                                      "needed.")
            return
        self.accept()

    def take(self) -> tuple[str, str, str, str]:
        """(name, key id, secret, token), then wipe the masked fields."""
        out = (self.name.text().strip(), self.key_id.text().strip(), self.secret.text(),
               self.token.text())
        self.secret.clear()
        self.token.clear()
        return out


class AccountSide(QGroupBox):
    """Account id + credential source + Check, for one side of the setup."""

    changed = Signal()
    checked = Signal()

    def __init__(self, ctx: AppContext, title: str, label: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.ctx = ctx
        self.label = label  # "owner" / "consumer:<n>": how errors name this side
        self.region = "us-east-1"
        self._loading = False
        self._worker: Any = None
        # Fields the admin has edited (or that came filled in): only their problems are shown,
        # so a fresh page opens without red; the page reveals the rest when Next is pressed.
        self.touched: set[str] = set()

        self.account = QLineEdit(self)
        self.account.setPlaceholderText("12 digits, e.g. 111111111111")
        self.account.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,12}"),
                                                              self.account))
        self.account.setAccessibleName(f"{title} account id")
        self.account_msg = MessageLabel(self, reserve=2)

        self.use_profile = QRadioButton("AWS named &profile", self)
        self.use_keyring = QRadioButton("Access keys in the OS &keyring", self)
        self.source = QButtonGroup(self)
        self.source.addButton(self.use_profile)
        self.source.addButton(self.use_keyring)
        self.use_profile.setChecked(True)

        self.profile = QComboBox(self)
        self.profile.setEditable(True)
        self.profile.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.profile.setAccessibleName(f"{title} named profile")
        self.profile.lineEdit().setPlaceholderText("profile name from ~/.aws/config")
        self.keyring = QComboBox(self)
        self.keyring.setAccessibleName(f"{title} keyring entry")
        self.store_new = QPushButton("Store ne&w keys…", self)
        self.cred_msg = MessageLabel(self, reserve=2)
        self.keyring_note = MessageLabel(self)  # why the keyring cannot be used, and the fix
        self.keyring_note.setAccessibleName(f"{title} keyring availability")

        # IAM Identity Center: sign in from here when the profile's login is missing/expired.
        self.sign_in_button = QPushButton("&Sign in…", self)
        self.sign_in_button.setToolTip("Sign in to IAM Identity Center for this profile in "
                                       "your browser (as `aws sso login` does)")
        self.sign_in_cancel = QPushButton("Cancel sign-in", self)
        self.sign_in_msg = QLabel(self)
        self.sign_in_msg.setWordWrap(True)
        self.sign_in_msg.setTextFormat(Qt.TextFormat.RichText)
        self.sign_in_msg.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sign_in_msg.hide()
        self.sign_in_cancel.hide()
        self._sign_in: Any = None

        self.check_button = QPushButton("&Check", self)
        self.check_button.setToolTip("Ask AWS who these credentials are (GetCallerIdentity)")
        self.badge = Badge(self)

        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        account_label = QLabel("Account &ID:", self)
        account_label.setBuddy(self.account)
        grid.addWidget(account_label, 0, 0)
        grid.addWidget(self.account, 0, 1, 1, 2)
        grid.addWidget(self.account_msg, 1, 1, 1, 2)
        grid.addWidget(QLabel("Credentials:", self), 2, 0)
        grid.addWidget(self.use_profile, 2, 1, 1, 2)
        grid.addWidget(self.profile, 3, 1, 1, 2)
        grid.addWidget(self.use_keyring, 4, 1, 1, 2)
        krow = QHBoxLayout()
        krow.addWidget(self.keyring, 1)
        krow.addWidget(self.store_new)
        grid.addLayout(krow, 5, 1, 1, 2)
        grid.addWidget(self.keyring_note, 6, 1, 1, 2)
        grid.addWidget(self.cred_msg, 7, 1, 1, 2)
        crow = QHBoxLayout()
        crow.addWidget(self.check_button)
        crow.addWidget(self.badge, 1)
        grid.addLayout(crow, 8, 0, 1, 3)
        srow = QHBoxLayout()
        srow.addWidget(self.sign_in_button)
        srow.addWidget(self.sign_in_cancel)
        srow.addStretch(1)
        grid.addLayout(srow, 9, 0, 1, 3)
        grid.addWidget(self.sign_in_msg, 10, 0, 1, 3)
        grid.setRowStretch(11, 1)  # extra height goes below: the fields never move
        self.setLayout(grid)

        self.account.textEdited.connect(lambda *_: self._touch("account"))
        self.profile.currentTextChanged.connect(lambda *_: self._touch("credentials"))
        self.keyring.currentIndexChanged.connect(lambda *_: self._touch("credentials"))
        self.account.textEdited.connect(self._edited)
        self.profile.currentTextChanged.connect(self._edited)
        self.keyring.currentIndexChanged.connect(self._edited)
        self.source.buttonToggled.connect(self._source_toggled)
        self.store_new.clicked.connect(self._store_new)
        self.check_button.clicked.connect(self.check)
        self.sign_in_button.clicked.connect(self.sign_in)
        self.sign_in_cancel.clicked.connect(self.cancel_sign_in)
        ctx.sources.changed.connect(self._refill)
        self._refill()
        self._source_toggled()

    # ---------------------------------------------------------------- values
    def set_values(self, account_id: str, ref: CredentialRef | None) -> None:
        self._loading = True
        try:
            self.account.setText(account_id or "")
            ref = ref or CredentialRef()
            if ref.keyring:
                self.use_keyring.setChecked(True)
                self._ensure_item(self.keyring, ref.keyring)
                self.keyring.setCurrentIndex(self.keyring.findData(ref.keyring))
            else:
                self.use_profile.setChecked(True)
                name = ref.profile or ""
                if name:
                    self._ensure_item(self.profile, name)
                    self.profile.setCurrentIndex(self.profile.findData(name))
                else:
                    self.profile.setCurrentIndex(-1)
                    self.profile.setEditText("")
            self._source_toggled()
        finally:
            self._loading = False
        self.touched = {name for name, given in (("account", account_id),
                                                 ("credentials", ref.profile or ref.keyring))
                        if given}
        self.reset_badge()

    def account_id(self) -> str:
        return self.account.text().strip()

    def credential_ref(self) -> CredentialRef:
        if self.use_keyring.isChecked():
            name = self.keyring.currentData()
            return CredentialRef(keyring=str(name)) if name else CredentialRef()
        name = self._profile_name()
        return CredentialRef(profile=name) if name else CredentialRef()

    def _profile_name(self) -> str:
        text = self.profile.currentText().strip()
        idx = self.profile.findText(text)
        data = self.profile.itemData(idx) if idx >= 0 else None
        return str(data) if data else text

    def set_region(self, region: str) -> None:
        self.region = region
        self._region_note()

    def set_messages(self, account: str | None, credentials: str | None) -> None:
        """Inline problems from ``wizard.profile.validate`` for this side's fields."""
        self.account_msg.show_message(account)
        if credentials:
            self.cred_msg.show_message(credentials)
        else:
            self._region_note()

    # ---------------------------------------------------------------- pickers
    @staticmethod
    def _ensure_item(combo: QComboBox, name: str) -> None:
        if combo.findData(name) < 0:
            combo.addItem(f"{name}  (not found here)", name)

    def _refill(self) -> None:
        """New lists of profiles/keyring entries; the choice (and a check of it) stays."""
        src = self.ctx.sources
        before = (self.credential_ref(), self.use_keyring.isChecked())
        self._loading = True
        try:
            current = self._profile_name()
            self.profile.clear()
            for p in src.profiles:
                self.profile.addItem(profile_label(p.name, p.kind, p.mfa), p.name)
            if current:
                self._ensure_item(self.profile, current)
                self.profile.setCurrentIndex(self.profile.findData(current))
            else:
                self.profile.setCurrentIndex(-1)
            key = self.keyring.currentData()
            self.keyring.clear()
            for name in src.keyring:
                self.keyring.addItem(name, name)
            if key:
                self._ensure_item(self.keyring, str(key))
                self.keyring.setCurrentIndex(self.keyring.findData(key))
            usable = not src.keyring_error
            self.use_keyring.setEnabled(usable or self.use_keyring.isChecked())
            self.store_new.setEnabled(usable)
            self.use_keyring.setToolTip(src.keyring_error or "Keys stored with `xacct-wizard "
                                                              "credentials set NAME` or below")
            # Said on the page, not only in a tooltip: why it is greyed out and what to do.
            said = "\n".join(line for line in src.keyring_error.splitlines()
                             if not line.startswith("Cause: "))  # the tooltip has it all
            self.keyring_note.show_message(
                f"The OS keyring cannot be used here: {said}" if said else None, "warn")
        finally:
            self._loading = False
        if (self.credential_ref(), self.use_keyring.isChecked()) != before:
            self._source_toggled()
        else:
            self._sync_source_widgets()
            self._region_note()

    def _sync_source_widgets(self) -> None:
        keyring = self.use_keyring.isChecked()
        named = None if keyring else self.ctx.sources.profile(self._profile_name())
        self.sign_in_button.setVisible(named is not None and named.kind == "sso")
        self.profile.setEnabled(not keyring)
        self.keyring.setEnabled(keyring)
        self.store_new.setEnabled(keyring and not self.ctx.sources.keyring_error)

    def _touch(self, name: str) -> None:
        if not self._loading:
            self.touched.add(name)

    def _source_toggled(self, *_: Any) -> None:
        self._sync_source_widgets()
        if not self._loading:
            self.touched.add("credentials")
            self._edited()

    def _region_note(self) -> None:
        if self.use_profile.isChecked():
            p = self.ctx.sources.profile(self._profile_name())
            if p is not None and p.region and p.region != self.region:
                self.cred_msg.show_message(
                    f"Profile {p.name} is set up for {p.region}; this setup uses "
                    f"{self.region} for both accounts (cross-region federation is not "
                    "supported).", "warn")
                return
        if self.use_keyring.isChecked() and self.ctx.sources.keyring_error:
            self.cred_msg.show_message(self.ctx.sources.keyring_error, "warn")
            return
        self.cred_msg.show_message(None)

    def _edited(self, *_: Any) -> None:
        if self._loading:
            return
        self._sync_source_widgets()
        self.cancel_sign_in()  # a sign-in for what was chosen before
        self.reset_badge()
        self._region_note()
        self.changed.emit()

    def _store_new(self) -> None:
        dialog = StoreKeysDialog(self, suggested_name=f"xacct-{self.account_id() or 'keys'}")
        if dialog.exec() != QDialog.DialogCode.Accepted:
            dialog.take()
            return
        name, key_id, secret, token = dialog.take()
        dialog.deleteLater()
        backend = self.ctx.backend
        self.badge.set_state("busy", f"storing keys as {name}…")

        def store(job: Any) -> str:
            backend.store_keys(name, key_id, secret, token or None)
            return name

        def stored(stored_name: str) -> None:
            self._ensure_item(self.keyring, stored_name)
            self.keyring.setCurrentIndex(self.keyring.findData(stored_name))
            self.use_keyring.setChecked(True)
            self.badge.set_state("none", f"Stored as {stored_name}; not checked yet")
            self.ctx.sources.reload(self.ctx.pool, self.ctx.backend)

        def failed(exc: BaseException) -> None:
            self.badge.set_state("error", shown(exc, f"{self.label} keyring"))

        self.ctx.pool.start(store, on_returned=stored, on_errored=failed)

    # ---------------------------------------------------------------- SSO sign-in
    def sign_in(self) -> None:
        """The device flow on a worker: the page shows the URL and code, the browser opens
        at the URL (the code is in it), and the side is checked again once signed in."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        name = self._profile_name()
        backend = self.ctx.backend
        self.sign_in_button.setEnabled(False)
        self.sign_in_cancel.show()
        self.sign_in_msg.setText(f"Starting the IAM Identity Center sign-in for "
                                 f"{html.escape(name)}…")
        self.sign_in_msg.show()
        self.badge.set_state("busy", "Signing in…")
        self.check_button.setEnabled(False)
        self.checked.emit()  # the page's verdict follows the badge (no stale ✗ hint)

        def run(job: Any) -> Any:
            return backend.sso_sign_in(name, job.progress, job.cancel_event)

        def code(device: Any) -> None:
            self.sign_in_msg.setText(
                f"In the browser, sign in and approve code <b>{html.escape(device.user_code)}"
                f"</b> (opened at {html.escape(device.verification_uri)}; open it yourself if "
                "it did not appear). Waiting for the approval…")
            self.sign_in_msg.setAccessibleDescription(device.user_code)
            QDesktopServices.openUrl(QUrl(device.verification_uri_complete))

        def done(_: Any) -> None:
            self.sign_in_msg.setText(f"Signed in as profile {html.escape(name)}.")
            self.check()

        def failed(exc: BaseException) -> None:
            self.sign_in_msg.setText("")
            self.sign_in_msg.hide()
            self.badge.set_state("error", shown(exc, f"{self.label} sign-in"))
            self.checked.emit()

        def finished() -> None:
            self._sign_in = None
            self.check_button.setEnabled(True)
            self.sign_in_button.setEnabled(True)
            self.sign_in_cancel.hide()

        self._sign_in = self.ctx.pool.start(run, on_progress=code, on_returned=done,
                                            on_errored=failed, on_finished=finished)

    def cancel_sign_in(self) -> None:
        """Stop polling: the worker sees the cancel at its next poll and ends."""
        if self._sign_in is not None:
            self._sign_in.cancel()

    # ---------------------------------------------------------------- check
    def reset_badge(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self.badge.set_state("none", "Not checked yet")

    @property
    def check_state(self) -> str:
        return self.badge.state

    def check(self) -> None:
        """GetCallerIdentity on a worker; the badge shows the account id and ARN."""
        ref = self.credential_ref()
        self.touched.add("credentials")
        if not (ref.profile or ref.keyring):
            self.badge.set_state("error", "Choose where the credentials come from first.")
            self.checked.emit()
            return
        expected = self.account_id() or None
        backend, region, label = self.ctx.backend, self.region, self.label
        self.badge.set_state("busy", "Checking…")
        self.check_button.setEnabled(False)

        def run(job: Any) -> Identity:
            return backend.check(ref, region, expected, label)

        def done(ident: Identity) -> None:
            if worker is not self._worker:
                return
            self.badge.set_state("ok", f"{ident.account_id} · {ident.arn}")
            if not self.account_id():
                self.account.setText(ident.account_id)  # fill it in, it is what we found
                self.touched.add("account")
                self.changed.emit()

        def failed(exc: BaseException) -> None:
            if worker is not self._worker:
                return
            self.badge.set_state("error", shown(exc, f"{self.label} credentials check"))

        def finished() -> None:
            self.check_button.setEnabled(True)
            if worker is self._worker:
                self._worker = None
                self.checked.emit()

        worker = self.ctx.pool.start(run, on_returned=done, on_errored=failed,
                                     on_finished=finished)
        self._worker = worker

