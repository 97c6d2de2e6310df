"""Page 4, Access: who in each consumer account may query (a picker of B's users and roles),
how the catalog is shared, its name there, where query results go; consumers can be added and
removed. The first consumer's account and credentials come from the Accounts page.

Or, instead of listed accounts, every account of an organizational unit (``consumers_from``):
the organization's credentials, an OU picked from the organization's tree (read on a worker),
the principal's name in every account and where each account's results go.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSplitter,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ui.errors import shown
from ui.pages.base import BasePage
from ui.state import blank_consumer
from ui.widgets.account_side import AccountSide
from ui.widgets.common import MessageLabel, stacked
from wizard.plural import count
from wizard.profile import ConsumerConfig, ConsumersFrom, CredentialRef

SHARE_METHODS = [
    ("assume-role", "Assume a role in B (what the console's Share does)"),
    ("direct", "Directly: the wizard creates the catalog in B with B's credentials"),
]
ASSUME = "(the principal itself: assume it when it is a role)"
PICK_CREDENTIALS = "(pick the management or delegated-administrator account's credentials)"


def _consumer_name(path: str) -> str:
    """``consumers[1]`` -> ``consumer 2`` (the list numbers consumers from 1)."""
    if path.startswith("consumers[") and path.endswith("]"):
        try:
            return f"consumer {int(path[len('consumers['):-1]) + 1}"
        except ValueError:
            pass
    return path


class AccessPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Access")
        self.setSubTitle("Who in the consumer account may query the table, and how the catalog "
                         "reaches that account. Add a consumer for every further account.")
        # --- consumer list
        self.list = QListWidget(self)
        self.list.setAccessibleName("Consumers")
        self.add = QPushButton("&Add consumer", self)
        self.remove = QPushButton("Re&move", self)
        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Consumer accounts:", left))
        ll.addWidget(self.list, 1)
        brow = QHBoxLayout()
        brow.addWidget(self.add)
        brow.addWidget(self.remove)
        ll.addLayout(brow)

        # --- details of the selected consumer
        self.details = QGroupBox(self)
        self.side = AccountSide(ctx, "Account and credentials", "consumer", self.details)
        self.side_note = QLabel(self.details)
        self.side_note.setWordWrap(True)
        self.principal = QComboBox(self.details)
        self.principal.setEditable(True)
        self.principal.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.principal.setAccessibleName("Consumer principal ARN")
        self.principal.lineEdit().setPlaceholderText("arn:aws:iam::ACCOUNT:user/NAME or :role/NAME")
        self.principal_status = QLabel(self.details)
        self.principal_msg = MessageLabel(self.details)
        self.create_principal = QCheckBox("Create this IAM &user if it does not exist",
                                          self.details)
        self.share = QComboBox(self.details)
        for value, text in SHARE_METHODS:
            self.share.addItem(text, value)
        self.catalog = QLineEdit(self.details)
        self.catalog_msg = MessageLabel(self.details)
        self.results = QLineEdit(self.details)
        self.results.setPlaceholderText("s3://bucket-in-B/prefix/")
        self.results_msg = MessageLabel(self.details)
        self.workgroup = QLineEdit(self.details)
        self.workgroup_msg = MessageLabel(self.details)
        self.query_as = QComboBox(self.details)
        self.query_as.setAccessibleName("Run the test query as")
        self.query_as_msg = MessageLabel(self.details)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self.side_note)
        form.addRow(self.side)
        labels = []
        for text, field in (
            ("P&rincipal:", stacked(self.principal, self.principal_status, self.principal_msg,
                                   self.create_principal)),
            ("S&hare method:", self.share),
            ("Ca&talog name in B:", stacked(self.catalog, self.catalog_msg)),
            ("&Query results:", stacked(self.results, self.results_msg)),
            ("Work&group:", stacked(self.workgroup, self.workgroup_msg)),
            ("Test query runs a&s:", stacked(self.query_as, self.query_as_msg)),
        ):
            label = QLabel(text, self.details)
            labels.append(label)
            form.addRow(label, field)
        for label, buddy in zip(labels, (self.principal, self.share, self.catalog, self.results,
                                         self.workgroup, self.query_as), strict=True):
            label.setBuddy(buddy)
        self.details.setLayout(form)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(left)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 4)
        split.setChildrenCollapsible(False)
        self.mode_accounts = QRadioButton("&These accounts", self)
        self.mode_org = QRadioButton("Every account in an &organizational unit", self)
        self.mode = QButtonGroup(self)
        self.mode.addButton(self.mode_accounts, 0)
        self.mode.addButton(self.mode_org, 1)
        self.mode_accounts.setChecked(True)
        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Consumers:", self))
        mode_row.addWidget(self.mode_accounts)
        mode_row.addWidget(self.mode_org)
        mode_row.addStretch(1)
        self.org = OrgPanel(ctx, self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(split)
        self.stack.addWidget(self.org)
        layout = QVBoxLayout(self)
        layout.addLayout(mode_row)
        layout.addWidget(self.stack, 1)
        self.list_msg = MessageLabel(self)
        layout.addWidget(self.list_msg)

        self._index = 0
        self._loading = False
        self._principals: dict[Any, list[Any]] = {}
        self._query_checks: dict[Any, tuple[str, str]] = {}  # (state, message) per choice
        self._query_state = ""
        self.list.currentRowChanged.connect(self._select)
        self.add.clicked.connect(self._add)
        self.remove.clicked.connect(self._remove)
        self.side.changed.connect(self._changed)
        self.side.checked.connect(self.refresh)
        self.principal.currentTextChanged.connect(self._changed)
        self.create_principal.toggled.connect(self._changed)
        self.share.currentIndexChanged.connect(self._changed)
        for edit in (self.catalog, self.results, self.workgroup):
            edit.textChanged.connect(self._changed)
        self.query_as.currentIndexChanged.connect(self._changed)
        ctx.sources.changed.connect(self._fill_query_as)
        self._org_saved: ConsumersFrom | None = None
        self.mode.idToggled.connect(self._mode_toggled)
        self.org.changed.connect(self.refresh)

    # ---------------------------------------------------------------- list
    def initializePage(self) -> None:
        for c in self.profile.consumers:
            if not c.catalog_name:
                c.catalog_name = self.profile.connector.catalog_name
        org = self.profile.consumers_from is not None
        self.mode.blockSignals(True)
        (self.mode_org if org else self.mode_accounts).setChecked(True)
        self.mode.blockSignals(False)
        self.stack.setCurrentIndex(1 if org else 0)
        if org:
            self.org.load(self.profile)
        self._fill_list()
        self.list.setCurrentRow(0)
        self._select(0)

    @property
    def org_mode(self) -> bool:
        return self.profile.consumers_from is not None

    def _mode_toggled(self, button: int, checked: bool) -> None:
        if not checked:
            return
        p = self.profile
        if button == 1 and p.consumers_from is None:
            p.consumers_from = self._org_saved or ConsumersFrom(
                organizational_unit="", principal_name="role/AthenaAnalyst",
                credentials=CredentialRef(), query_results="",
                catalog_name=p.connector.catalog_name)
            self.org.load(p)
        elif button == 0 and p.consumers_from is not None:
            self._org_saved, p.consumers_from = p.consumers_from, None
        self.stack.setCurrentIndex(button)
        self.refresh()

    def _label(self, i: int, c: ConsumerConfig) -> str:
        who = c.principal_name if c.principal_arn else "no principal yet"
        return f"{i + 1}. {c.account_id or '(account?)'} - {who}"

    def _fill_list(self) -> None:
        self.list.blockSignals(True)
        row = self.list.currentRow()
        self.list.clear()
        for i, c in enumerate(self.profile.consumers):
            self.list.addItem(self._label(i, c))
        self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))
        self.list.blockSignals(False)
        self.remove.setEnabled(len(self.profile.consumers) > 1)

    def _add(self) -> None:
        c = blank_consumer()
        c.catalog_name = self.profile.connector.catalog_name
        self.profile.consumers.append(c)
        self._fill_list()
        self.list.setCurrentRow(len(self.profile.consumers) - 1)
        self.side.account.setFocus()

    def _remove(self) -> None:
        consumers = self.profile.consumers
        if len(consumers) <= 1:
            return
        i = self.list.currentRow()
        if i <= 0:
            self.list_msg.show_message("The first consumer is the one on the Accounts page; "
                                       "change it there.", "warn")
            return
        del consumers[i]
        self._fill_list()
        self.list.setCurrentRow(min(i, len(consumers) - 1))
        self._select(self.list.currentRow())

    # ---------------------------------------------------------------- details
    def _current(self) -> ConsumerConfig:
        return self.profile.consumers[self._index]

    def _select(self, row: int) -> None:
        if row < 0 or row >= len(self.profile.consumers):
            return
        self._index = row
        c = self._current()
        self._loading = True
        try:
            self.details.setTitle(f"Consumer {row + 1}")
            first = row == 0
            self.side.setVisible(not first)
            self.side_note.setText(
                f"Account {c.account_id or '(not set)'} with "
                f"{c.credentials.describe() if (c.credentials.profile or c.credentials.keyring) else 'no credentials'}"  # noqa: E501
                " - set on the Accounts page." if first else
                "A further consumer account: its id and the credentials of one of its admins.")
            if not first:
                self.side.set_values(c.account_id, c.credentials)
                self.side.set_region(self.profile.region)
            self.principal.setEditText(c.principal_arn)
            self.create_principal.setChecked(bool(c.create_principal))
            self.share.setCurrentIndex(max(self.share.findData(c.share_method), 0))
            self.catalog.setText(c.catalog_name)
            self.results.setText(c.query_results)
            self.workgroup.setText(c.workgroup)
            self._fill_query_as()
        finally:
            self._loading = False
        self.refresh()
        self._load_principals()

    def _fill_query_as(self) -> None:
        """Whose credentials run the test query. Item data is "profile:NAME"/"keyring:NAME"
        (plain strings: QComboBox.findData compares Python tuples by identity)."""
        c = self._current() if self.profile.consumers else None
        loading, self._loading = self._loading, True
        try:
            self.query_as.clear()
            self.query_as.addItem(ASSUME, "")
            for p in self.ctx.sources.profiles:
                self.query_as.addItem(f"profile {p.name}", f"profile:{p.name}")
            for name in self.ctx.sources.keyring:
                self.query_as.addItem(f"keyring entry {name}", f"keyring:{name}")
            ref = c.query_credentials if c is not None else None
            if ref is not None:
                data = f"keyring:{ref.keyring}" if ref.keyring else f"profile:{ref.profile}"
                if self.query_as.findData(data) < 0:
                    kind, name = data.split(":", 1)
                    self.query_as.addItem(f"{kind} {name}  (not found here)", data)
                self.query_as.setCurrentIndex(self.query_as.findData(data))
            else:
                self.query_as.setCurrentIndex(0)
        finally:
            self._loading = loading

    def _load_principals(self) -> None:
        c = self._current()
        ref = CredentialRef(c.credentials.profile, c.credentials.keyring)
        if not (ref.profile or ref.keyring) or not c.account_id:
            self.principal_status.setText("")
            return
        key = (c.account_id, ref.profile, ref.keyring, self.profile.region)
        if key in self._principals:
            self._show_principals(self._principals[key])
            return
        backend, region = self.ctx.backend, self.profile.region
        self.principal_status.setText(f"reading users and roles of {c.account_id}…")
        index = self._index
        account, label = c.account_id, ("consumer" if index == 0 else f"consumer:{index + 1}")

        def listing(job: Any) -> list[Any]:
            # Only principals of the declared account are ever offered: the credentials are
            # checked to be that account's first (CredentialsError names the real one).
            backend.check(ref, region, account, label)
            return [p for p in backend.principals(ref, region)
                    if p.arn.split(":")[4:5] == [account]]

        def read(principals: list[Any]) -> None:
            self._principals[key] = principals
            if self._index == index:
                self._show_principals(principals)

        def failed(exc: BaseException) -> None:
            if self._index == index:
                self._show_principals([])
                self.principal_status.setText(
                    f"could not list users and roles: {shown(exc, 'Access principals')}")

        self.run(listing, on_returned=read, on_errored=failed)

    def _show_principals(self, principals: list[Any]) -> None:
        text = self.principal.currentText()
        self.principal.blockSignals(True)
        self.principal.clear()
        for p in principals:
            self.principal.addItem(f"{p.arn}", p.arn)
            self.principal.setItemData(self.principal.count() - 1, f"IAM {p.kind} {p.name}",
                                       Qt.ItemDataRole.ToolTipRole)
        self.principal.setEditText(text)
        self.principal.blockSignals(False)
        users = sum(1 for p in principals if p.kind == "user")
        roles = len(principals) - users
        self.principal_status.setText(f"{count(users, 'user')} and {count(roles, 'role')} "
                                      "to pick from, or type an ARN")

    def _changed(self, *_: Any) -> None:
        if self._loading or not self.profile.consumers:
            return
        c = self._current()
        if self._index > 0:
            c.account_id = self.side.account_id()
            c.credentials = self.side.credential_ref()
        c.principal_arn = self.principal.currentText().strip()
        c.create_principal = self.create_principal.isChecked()
        c.share_method = str(self.share.currentData())
        c.catalog_name = self.catalog.text().strip()
        c.query_results = self.results.text().strip()
        c.workgroup = self.workgroup.text().strip()
        kind, _, name = str(self.query_as.currentData() or "").partition(":")
        c.query_credentials = None if not name else (
            CredentialRef(keyring=name) if kind == "keyring" else CredentialRef(profile=name))
        item = self.list.item(self._index)
        if item is not None:
            item.setText(self._label(self._index, c))
        # a failed check is tried again when it is chosen again (the keys may be fixed now)
        self._query_checks = {k: v for k, v in self._query_checks.items() if v[0] != "error"}
        self.refresh()
        if self._index > 0:
            self._load_principals()

    # ---------------------------------------------------------------- validation
    def refresh(self) -> None:
        if self.org_mode:
            self._problems = self.problems("consumers_from")
            self._failed = False
            self._query_state = ""  # the listed consumers' query identities do not apply
            self.org.show_problems(self._problems, self.message_for)
            self.list_msg.show_message(None)
            self.refresh_complete()
            return
        i = self._index
        p = f"consumers[{i}]"
        probs = self.problems("consumers")
        mine = [x for x in probs if x.path.startswith(p + ".") or x.path == p]
        m = self.message_for
        if i > 0:
            self.side.set_messages(m(mine, f"{p}.account_id"), m(mine, f"{p}.credentials"))
        self.principal_msg.show_message(m(mine, f"{p}.principal_arn"))
        self.catalog_msg.show_message(m(mine, f"{p}.catalog_name"))
        self.results_msg.show_message(m(mine, f"{p}.query_results"))
        self.workgroup_msg.show_message(m(mine, f"{p}.workgroup"))
        c = self._current() if self.profile.consumers else None
        query_problem = m(mine, f"{p}.query_credentials")
        state, note = self._query_identity(c) if c is not None and not query_problem \
            else ("", None)
        # every consumer whose principal is a user needs its query credentials checked, not
        # only the one shown (the others are checked on workers too)
        others = [self._query_identity(x)[0] for j, x in enumerate(self.profile.consumers)
                  if j != i and not self.org_mode]
        self._query_state = state if state not in ("", "ok") else next(
            (o for o in others if o not in ("", "ok")), state)
        self.query_as_msg.show_message(query_problem or note,
                                       "error" if query_problem or state == "error" else
                                       "ok" if state == "ok" else "muted")
        others = sorted({x.path.split(".")[0] for x in probs
                         if not (x.path.startswith(p + ".") or x.path == p)})
        self.list_msg.show_message(
            ("Also to fix: " + ", ".join(_consumer_name(o) for o in others)) if others else None)
        failed = i > 0 and self.side.check_state == "error"
        self._problems = probs
        self._failed = failed
        self.refresh_complete()

    def ready(self) -> bool:
        return not getattr(self, "_problems", [None]) and not getattr(self, "_failed", False) \
            and getattr(self, "_query_state", "") in ("", "ok")

    # ---------------------------------------------------------------- query identity
    def _query_identity(self, c: ConsumerConfig) -> tuple[str, str | None]:
        """For a user principal: (state, message) of the credentials the test query runs with.

        A user cannot be assumed, so its own keys (a named profile or a keyring entry) are
        asked for here and checked on a worker: they must be that user in that account, or
        the test query would fail three pages later.
        """
        if not c.principal_arn or c.principal_kind != "user" or self.org_mode:
            return "", None
        ref = c.query_credentials
        if ref is None or not (ref.profile or ref.keyring):
            return "error", (f"A user cannot be assumed: pick the named profile or keyring "
                             f"entry with {c.principal_name}'s own keys.")
        key = (c.principal_arn, c.account_id, ref.profile, ref.keyring, self.profile.region)
        known = self._query_checks.get(key)
        if known is not None:
            return known
        self._query_checks[key] = ("busy", f"Checking that {ref.describe()} is "
                                           f"{c.principal_name}…")
        backend, region, arn, account = (self.ctx.backend, self.profile.region,
                                         c.principal_arn, c.account_id)

        def run(job: Any) -> Any:
            return backend.check(CredentialRef(ref.profile, ref.keyring), region, account,
                                 "test query")

        def done(ident: Any) -> None:
            if ident.arn.lower() == arn.lower():
                self._query_checks[key] = ("ok", f"✓ {ref.describe()} is {ident.arn}")
            else:
                who = ref.describe().capitalize()
                self._query_checks[key] = (
                    "error", f"{who} is {ident.arn}, not the principal {arn}: pick "
                             f"the credentials of {c.principal_name} itself.")

        def failed(exc: BaseException) -> None:
            self._query_checks[key] = ("error", shown(exc, "Access test query credentials"))

        self.run(run, on_returned=done, on_errored=failed, on_finished=self.refresh)
        return self._query_checks[key]


class OrgPanel(QWidget):
    """consumers_from: the organization's credentials, the OU (picked from its tree, read on a
    worker), the principal's name in every account, results location, catalog, workgroup."""

    changed = Signal()

    def __init__(self, ctx: Any, page: AccessPage) -> None:
        from PySide6.QtGui import QStandardItemModel

        super().__init__(page)
        self.ctx = ctx
        self.page = page
        self._loading = False
        self.credentials = QComboBox(self)
        self.credentials.setAccessibleName("Organization credentials")
        self.credentials_msg = MessageLabel(self)
        self.ou = QLineEdit(self)
        self.ou.setPlaceholderText("ou-abcd-12345678 (or pick it below)")
        self.ou_msg = MessageLabel(self)
        self.list_ous = QPushButton("&List the organization's OUs", self)
        self.tree_model = QStandardItemModel(self)
        self.tree_model.setHorizontalHeaderLabels(["Organizational unit", "Id"])
        self.tree = QTreeView(self)
        self.tree.setModel(self.tree_model)
        self.tree.setAccessibleName("Organizational units")
        self.tree.setUniformRowHeights(True)
        self.tree_status = QLabel(self)
        self.principal = QLineEdit(self)
        self.principal.setPlaceholderText("role/AthenaAnalyst")
        self.principal_msg = MessageLabel(self)
        self.create_principal = QCheckBox("&Create it in every account", self)
        self.results = QLineEdit(self)
        self.results.setPlaceholderText("s3://athena-results-{account_id}/queries/")
        self.results_msg = MessageLabel(self)
        self.catalog = QLineEdit(self)
        self.catalog_msg = MessageLabel(self)
        self.workgroup = QLineEdit(self)
        self.workgroup_msg = MessageLabel(self)
        note = QLabel("One CloudFormation StackSet sets up every account of the OU and of the "
                      "OUs below it, and every account that joins later; the owner grants the "
                      "organization once, whatever the number of accounts.", self)
        note.setWordWrap(True)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(note)
        form.addRow("Organization &credentials:", stacked(self.credentials,
                                                          self.credentials_msg))
        ou_row = QHBoxLayout()
        ou_row.addWidget(self.ou, 1)
        ou_row.addWidget(self.list_ous)
        ou_box = QWidget(self)
        ou_box.setLayout(ou_row)
        ou_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Organizational &unit:", stacked(ou_box, self.ou_msg, self.tree,
                                                     self.tree_status))
        form.addRow("P&rincipal in each account:", stacked(self.principal, self.principal_msg,
                                                           self.create_principal))
        form.addRow("&Query results:", stacked(self.results, self.results_msg))
        form.addRow("Ca&talog name:", stacked(self.catalog, self.catalog_msg))
        form.addRow("Work&group:", stacked(self.workgroup, self.workgroup_msg))
        self.list_ous.clicked.connect(self.load_tree)
        self.tree.clicked.connect(self._picked)
        self.credentials.currentIndexChanged.connect(self._edited)
        for edit in (self.ou, self.principal, self.results, self.catalog, self.workgroup):
            edit.textChanged.connect(self._edited)
        self.create_principal.toggled.connect(self._edited)
        ctx.sources.changed.connect(self._fill_credentials)

    # ---------------------------------------------------------------- model <-> fields
    def load(self, profile: Any) -> None:
        f = profile.consumers_from
        if f is None:
            return
        self._loading = True
        try:
            self._fill_credentials()
            self.ou.setText(f.organizational_unit)
            self.principal.setText(f.principal_name)
            self.create_principal.setChecked(bool(f.create_principal))
            self.results.setText(f.query_results)
            self.catalog.setText(f.catalog_name)
            self.workgroup.setText(f.workgroup)
        finally:
            self._loading = False

    def _fill_credentials(self) -> None:
        f = self.page.profile.consumers_from
        loading, self._loading = self._loading, True
        try:
            self.credentials.clear()
            self.credentials.addItem(PICK_CREDENTIALS, "")
            for p in self.ctx.sources.profiles:
                self.credentials.addItem(f"profile {p.name}", f"profile:{p.name}")
            for name in self.ctx.sources.keyring:
                self.credentials.addItem(f"keyring entry {name}", f"keyring:{name}")
            ref = f.credentials if f is not None else None
            data = "" if ref is None or not (ref.profile or ref.keyring) else (
                f"keyring:{ref.keyring}" if ref.keyring else f"profile:{ref.profile}")
            if data and self.credentials.findData(data) < 0:
                kind, name = data.split(":", 1)
                self.credentials.addItem(f"{kind} {name}  (not found here)", data)
            self.credentials.setCurrentIndex(max(self.credentials.findData(data), 0))
        finally:
            self._loading = loading

    def credential_ref(self) -> CredentialRef:
        kind, _, name = str(self.credentials.currentData() or "").partition(":")
        if not name:
            return CredentialRef()
        return CredentialRef(keyring=name) if kind == "keyring" else CredentialRef(profile=name)

    def _edited(self, *_: Any) -> None:
        f = self.page.profile.consumers_from
        if self._loading or f is None:
            return
        f.credentials = self.credential_ref()
        f.organizational_unit = self.ou.text().strip()
        f.principal_name = self.principal.text().strip()
        f.create_principal = self.create_principal.isChecked()
        f.query_results = self.results.text().strip()
        f.catalog_name = self.catalog.text().strip()
        f.workgroup = self.workgroup.text().strip()
        self.changed.emit()

    def show_problems(self, problems: list[Any], message_for: Any) -> None:
        p = "consumers_from"
        self.credentials_msg.show_message(message_for(problems, f"{p}.credentials"))
        self.ou_msg.show_message(message_for(problems, f"{p}.organizational_unit"))
        self.principal_msg.show_message(message_for(problems, f"{p}.principal_name"))
        self.results_msg.show_message(message_for(problems, f"{p}.query_results"))
        self.catalog_msg.show_message(message_for(problems, f"{p}.catalog_name"))
        self.workgroup_msg.show_message(message_for(problems, f"{p}.workgroup"))

    # ---------------------------------------------------------------- the OU tree
    def load_tree(self) -> None:
        """Read the organization's OUs on a worker and show them as a tree."""
        ref = self.credential_ref()
        if not (ref.profile or ref.keyring):
            self.tree_status.setText("Pick the organization's credentials first.")
            return
        backend, region = self.ctx.backend, self.page.profile.region
        self.tree_status.setText("reading the organization's OUs…")
        self.list_ous.setEnabled(False)

        def done(units: list[Any]) -> None:
            self._show_tree(units)
            self.list_ous.setEnabled(True)

        def failed(exc: BaseException) -> None:
            self.tree_status.setText(f"could not list the OUs: {exc}")
            self.list_ous.setEnabled(True)

        self.page.run(lambda job: backend.ou_tree(ref, region), on_returned=done,
                      on_errored=failed)

    def _show_tree(self, units: list[Any]) -> None:
        from PySide6.QtGui import QStandardItem

        self.tree_model.removeRows(0, self.tree_model.rowCount())
        items: dict[str, QStandardItem] = {}
        for u in units:  # parents come before their children
            name, ident = QStandardItem(u.name), QStandardItem(u.id)
            for item in (name, ident):
                item.setEditable(False)
                item.setData(u.id, Qt.ItemDataRole.UserRole)
            parent = items.get(u.parent_id)
            (parent or self.tree_model.invisibleRootItem()).appendRow([name, ident])
            items[u.id] = name
        self.tree.expandAll()
        self.tree_status.setText(f"{count(len(units), 'organizational unit')}, root included: pick "
                                 "one (its accounts and those of the OUs below it)")
        chosen = self.ou.text().strip()
        if chosen in items:
            self.tree.setCurrentIndex(items[chosen].index())

    def _picked(self, index: Any) -> None:
        ou = index.data(Qt.ItemDataRole.UserRole)
        if ou:
            self.ou.setText(str(ou))
