"""Page 3, Connector: deploy the AthenaDynamoDBConnector from the Serverless Application
Repository (versions read from it, newest preselected) or use a function already deployed;
the catalog name, the spill bucket (a picker of A's buckets in the region) and prefix, and the
Lambda's memory and timeout. Every field is checked as it is typed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.errors import shown
from ui.pages.base import BasePage
from ui.widgets.common import MessageLabel, stacked
from wizard.plural import count
from wizard.profile import CredentialRef


class ConnectorPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Connector")
        self.setSubTitle("The Lambda function that lets Athena read DynamoDB, in the owner "
                         "account, and the S3 bucket where it spills large results.")
        # --- source
        src = QGroupBox("Connector function", self)
        self.deploy = QRadioButton("&Deploy AthenaDynamoDBConnector from the Serverless "
                                   "Application Repository", src)
        self.existing = QRadioButton("Use a connector function that is &already deployed", src)
        self.source = QButtonGroup(self)
        self.source.addButton(self.deploy)
        self.source.addButton(self.existing)
        self.version = QComboBox(src)
        self.version.setAccessibleName("Connector version")
        self.version_status = QLabel(src)
        self.function = QComboBox(src)
        self.function.setEditable(True)
        self.function.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.function.setAccessibleName("Existing connector function ARN")
        self.function.lineEdit().setPlaceholderText(
            "arn:aws:lambda:REGION:ACCOUNT:function:NAME")
        self.function_msg = MessageLabel(src)
        indent = self.fontMetrics().height() * 2
        sl = QVBoxLayout(src)
        sl.addWidget(self.deploy)
        vrow = QHBoxLayout()
        vrow.setContentsMargins(indent, 0, 0, 0)
        vlabel = QLabel("&Version:", src)
        vlabel.setBuddy(self.version)
        vrow.addWidget(vlabel)
        vrow.addWidget(self.version, 1)
        vrow.addWidget(self.version_status, 1)
        sl.addLayout(vrow)
        sl.addWidget(self.existing)
        frow = QVBoxLayout()
        frow.setContentsMargins(indent, 0, 0, 0)
        frow.addWidget(self.function)
        frow.addWidget(self.function_msg)
        sl.addLayout(frow)

        # --- settings
        self.catalog = QLineEdit(self)
        self.catalog.setPlaceholderText("e.g. acct1dynamodb")
        self.catalog.setToolTip("The Athena catalog name in A; also the Lambda function's name.")
        self.catalog_msg = MessageLabel(self)
        self.bucket = QComboBox(self)
        self.bucket.setEditable(True)
        self.bucket.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.bucket.setAccessibleName("Spill bucket")
        self.bucket.lineEdit().setPlaceholderText("a bucket in the owner account, same region")
        self.bucket_msg = MessageLabel(self)
        self.create_bucket = QCheckBox("&Create the bucket if it does not exist", self)
        self.prefix = QLineEdit(self)
        self.prefix_msg = MessageLabel(self)
        self.memory = QSpinBox(self)
        self.memory.setRange(128, 3008)
        self.memory.setSingleStep(64)
        self.memory.setSuffix(" MB")
        self.timeout = QSpinBox(self)
        self.timeout.setRange(1, 900)
        self.timeout.setSuffix(" s")
        self.lambda_msg = MessageLabel(self)

        form = QFormLayout()
        form.addRow("Ca&talog name:", stacked(self.catalog, self.catalog_msg))
        bucket_box = QWidget(self)
        bl = QVBoxLayout(bucket_box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(2)
        bl.addWidget(self.bucket)
        bl.addWidget(self.bucket_msg)
        bl.addWidget(self.create_bucket)
        form.addRow("S&pill bucket:", bucket_box)
        form.addRow("Spill pre&fix:", stacked(self.prefix, self.prefix_msg))
        lrow = QHBoxLayout()
        lrow.addWidget(self.memory)
        tl = QLabel("T&imeout:", self)
        tl.setBuddy(self.timeout)
        lrow.addSpacing(12)
        lrow.addWidget(tl)
        lrow.addWidget(self.timeout)
        lrow.addStretch(1)
        lbox = QWidget(self)
        lb = QVBoxLayout(lbox)
        lb.setContentsMargins(0, 0, 0, 0)
        lb.addLayout(lrow)
        lb.addWidget(self.lambda_msg)
        form.addRow("Lambda &memory:", lbox)
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and isinstance(item.widget(), QLabel):
                buddy = {0: self.catalog, 1: self.bucket, 2: self.prefix, 3: self.memory}.get(row)
                if buddy is not None:
                    item.widget().setBuddy(buddy)

        layout = QVBoxLayout(self)
        layout.addWidget(src)
        layout.addLayout(form)
        layout.addStretch(1)

        self._loading = False
        self._lists_for: Any = None
        self._versions: list[str] = []  # read once per owner and region, kept across visits
        self.deploy.setChecked(True)
        self.source.buttonToggled.connect(self._changed)
        self.version.currentIndexChanged.connect(self._changed)
        self.function.currentTextChanged.connect(self._changed)
        self.catalog.textChanged.connect(self._changed)
        self.bucket.currentTextChanged.connect(self._changed)
        self.create_bucket.toggled.connect(self._changed)
        self.prefix.textChanged.connect(self._changed)
        self.memory.valueChanged.connect(self._changed)
        self.timeout.valueChanged.connect(self._changed)

    # ---------------------------------------------------------------- fill
    def initializePage(self) -> None:
        c = self.profile.connector
        self._loading = True
        try:
            (self.existing if c.existing_function_arn else self.deploy).setChecked(True)
            # The versions read on an earlier visit stay (for the same account and region).
            self._set_versions(self._versions if self._lists_key() == self._lists_for else [],
                               c.application_version)
            self.function.setEditText(c.existing_function_arn or "")
            self.catalog.setText(c.catalog_name)
            self.bucket.setEditText(c.spill_bucket)
            self.create_bucket.setChecked(bool(c.create_spill_bucket))
            self.prefix.setText(c.spill_prefix)
            self.memory.setValue(int(c.lambda_memory))
            self.timeout.setValue(int(c.lambda_timeout))
        finally:
            self._loading = False
        self._sync_enabled()
        self.refresh()
        self._load_lists()

    def _set_versions(self, versions: list[str], selected: str) -> None:
        self.version.blockSignals(True)
        self.version.clear()
        newest = versions[0] if versions else ""
        self.version.addItem(f"latest (newest: {newest})" if newest else "latest", "latest")
        for v in versions:
            self.version.addItem(v + ("  (newest)" if v == newest else ""), v)
        if selected not in ("", "latest") and self.version.findData(selected) < 0:
            self.version.addItem(f"{selected}  (not listed)", selected)
        idx = self.version.findData(selected or "latest")
        self.version.setCurrentIndex(max(idx, 0))
        self.version.blockSignals(False)

    def _lists_key(self) -> tuple[str | None, str | None, str]:
        """What the lists were read with: the owner's credentials and the region."""
        p = self.profile
        return (p.owner.credentials.profile, p.owner.credentials.keyring, p.region)

    def _load_lists(self) -> None:
        """Versions, buckets and functions, read with the owner's credentials on workers."""
        p = self.profile
        ref = CredentialRef(p.owner.credentials.profile, p.owner.credentials.keyring)
        key = self._lists_key()
        if key == self._lists_for or not (ref.profile or ref.keyring):
            return
        self._lists_for = key
        backend, region = self.ctx.backend, p.region
        self.version_status.setText("reading versions…")

        def versions_read(versions: list[str]) -> None:
            self._versions = list(versions)
            self._set_versions(versions, self.profile.connector.application_version)
            self.version_status.setText(f"{len(versions)} versions" if versions else "")

        def versions_failed(exc: BaseException) -> None:
            self._lists_for = None
            self.version_status.setText("could not read versions; 'latest' will be used")
            self.version_status.setToolTip(shown(exc, "Connector versions"))

        self.run(lambda job: backend.sar_versions(ref, region), on_returned=versions_read,
                 on_errored=versions_failed)

        def buckets_read(names: list[str]) -> None:
            text = self.bucket.currentText()
            self.bucket.blockSignals(True)
            self.bucket.clear()
            self.bucket.addItems(names)
            self.bucket.setEditText(text)
            self.bucket.blockSignals(False)
            self.bucket.setToolTip(f"{count(len(names), 'bucket')} of the owner account in "
                                  f"{region}")

        self.run(lambda job: backend.buckets(ref, region), on_returned=buckets_read,
                 on_errored=lambda exc: self.bucket.setToolTip(
                     f"could not list buckets: {shown(exc, 'Connector buckets')}"))

        def functions_read(functions: list[Any]) -> None:
            text = self.function.currentText()
            self.function.blockSignals(True)
            self.function.clear()
            for f in functions:
                self.function.addItem(f.arn, f.arn)
            self.function.setEditText(text)
            self.function.blockSignals(False)

        self.run(lambda job: backend.functions(ref, region), on_returned=functions_read,
                 on_errored=lambda exc: None)

    # ---------------------------------------------------------------- collect
    def _sync_enabled(self) -> None:
        deploy = self.deploy.isChecked()
        self.version.setEnabled(deploy)
        self.function.setEnabled(not deploy)
        self.memory.setEnabled(deploy)
        self.timeout.setEnabled(deploy)

    def _changed(self, *_: Any) -> None:
        if self._loading:
            return
        self._sync_enabled()
        c = self.profile.connector
        if self.deploy.isChecked():
            c.existing_function_arn = None
            c.application_version = str(self.version.currentData() or "latest")
        else:
            c.existing_function_arn = self.function.currentText().strip()
        c.catalog_name = self.catalog.text().strip()
        c.spill_bucket = self.bucket.currentText().strip()
        c.create_spill_bucket = self.create_bucket.isChecked()
        c.spill_prefix = self.prefix.text().strip()
        c.lambda_memory = self.memory.value()
        c.lambda_timeout = self.timeout.value()
        self.refresh()

    def refresh(self) -> None:
        probs = self.problems("connector.")
        m = self.message_for
        self.catalog_msg.show_message(m(probs, "connector.catalog_name", "connector.stack_name"))
        self.bucket_msg.show_message(m(probs, "connector.spill_bucket"))
        self.prefix_msg.show_message(m(probs, "connector.spill_prefix"))
        self.function_msg.show_message(m(probs, "connector.existing_function_arn"))
        self.lambda_msg.show_message(m(probs, "connector.lambda_memory",
                                       "connector.lambda_timeout"))
        self._problems = probs
        self.refresh_complete()

    def ready(self) -> bool:
        return not getattr(self, "_problems", [None])
