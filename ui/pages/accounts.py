"""Page 2, Accounts: owner (A) and consumer (B) side by side, the region, each side's
credentials, and a Check that shows who those credentials really are.

The usual first mistake is credentials for the wrong account; the Check names both ids
(typed vs. real) before anything is planned, and owner == consumer is refused inline.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
)

from ui.pages.base import NOT_YET, BasePage
from ui.widgets.account_side import AccountSide
from ui.widgets.common import MessageLabel

# Regions where Athena federated queries and the DynamoDB connector are available (common
# ones first); the field is editable, and the engine's region check is the authority.
REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
           "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
           "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
           "ap-southeast-1", "ap-southeast-2", "sa-east-1", "me-south-1", "af-south-1"]


class AccountsPage(BasePage):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.setTitle("Accounts")
        self.setSubTitle("Which account owns the DynamoDB table (A) and which one will query "
                         "it (B), and the credentials the wizard uses for each. Both accounts "
                         "work in one region.")
        self.region = QComboBox(self)
        self.region.setEditable(True)
        self.region.addItems(REGIONS)
        self.region.setAccessibleName("Region")
        self.region_msg = MessageLabel(self, reserve=1)
        self.owner = AccountSide(ctx, "Owner account (A)", "owner", self)
        self.owner.setToolTip("Owns the DynamoDB table; the connector is deployed here.")
        self.consumer = AccountSide(ctx, "Consumer account (B)", "consumer", self)
        self.consumer.setToolTip("Queries the table through the shared catalog.")
        self.cross_msg = MessageLabel(self, reserve=1)
        self.region.setMinimumContentsLength(16)
        self.region.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.region.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.help = QLabel(
            "The wizard works with an administrator's credentials in each account: in A it "
            "deploys a CloudFormation stack (Lambda, IAM role), registers an Athena catalog and "
            "edits the spill bucket's policy; in B it edits IAM (the principal's policy, the "
            "share role) and registers the shared catalog. Check shows who the credentials "
            "belong to before anything is planned.", self)
        self.help.setWordWrap(True)

        form = QFormLayout()
        region_label = QLabel("&Region:", self)
        region_label.setBuddy(self.region)
        region_row = QHBoxLayout()
        region_row.addWidget(self.region)
        region_row.addWidget(self.region_msg, 1)
        form.addRow(region_label, region_row)
        sides = QHBoxLayout()
        sides.addWidget(self.owner, 1)
        sides.addWidget(self.consumer, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(sides)
        layout.addWidget(self.cross_msg)
        layout.addSpacing(self.fontMetrics().height())
        layout.addWidget(self.help)
        layout.addStretch(1)

        self.setTabOrder(self.region, self.owner.account)
        self._loading = False
        self._reveal_all = False  # Next was pressed: every field's problem is shown
        self._advance_when_checked = False  # Next started the checks; go on when they pass
        self.region.currentTextChanged.connect(self._changed)
        for side in (self.owner, self.consumer):
            side.changed.connect(self._changed)
            side.checked.connect(self._side_checked)

    # ---------------------------------------------------------------- fill / collect
    def initializePage(self) -> None:
        p = self.profile
        self._loading = True
        try:
            self.region.setCurrentText(p.region or "")
            self.owner.set_values(p.owner.account_id, p.owner.credentials)
            c = p.consumers[0]
            self.consumer.set_values(c.account_id, c.credentials)
            for side in (self.owner, self.consumer):
                side.set_region(p.region)
        finally:
            self._loading = False
        self._reveal_all = False
        self._advance_when_checked = False
        self.refresh()
        self.check_all()

    def check_all(self) -> None:
        """Check every side that has credentials (a loaded profile shows its badges at once)."""
        for side in (self.owner, self.consumer):
            ref = side.credential_ref()
            if ref.profile or ref.keyring:
                side.check()

    def _changed(self, *_: Any) -> None:
        if self._loading:
            return
        self._advance_when_checked = False  # what Next was checking has changed
        p = self.profile
        p.region = self.region.currentText().strip()
        p.owner.account_id = self.owner.account_id()
        p.owner.credentials = self.owner.credential_ref()
        c = p.consumers[0]
        c.account_id = self.consumer.account_id()
        c.credentials = self.consumer.credential_ref()
        for side in (self.owner, self.consumer):
            side.set_region(p.region)
        self.refresh()

    # ---------------------------------------------------------------- next
    def validatePage(self) -> bool:
        """Next goes on only with both sides checked: an unchecked side is checked now (on a
        worker) and the page moves on by itself once both pass."""
        sides = (self.owner, self.consumer)
        if all(s.check_state == "ok" for s in sides):
            return True
        self._reveal_all = True
        self.refresh()
        if self._problems:
            return False
        self._advance_when_checked = True
        for side in sides:
            if side.check_state not in ("ok", "busy"):
                side.check()
        self.refresh()
        return False

    def _side_checked(self) -> None:
        self.refresh()
        sides = (self.owner, self.consumer)
        if not self._advance_when_checked or any(s.check_state == "busy" for s in sides):
            return
        self._advance_when_checked = False
        wizard = self.wizard()
        if all(s.check_state == "ok" for s in sides) and wizard is not None \
                and wizard.currentPage() is self:
            wizard.next()

    # ---------------------------------------------------------------- validation
    def _shown(self, probs: list[Any], path: str, side: AccountSide | None,
               field: str) -> str | None:
        """A field's problem, once the field was edited (or came filled in) or Next pressed."""
        if not (self._reveal_all or (side is None) or field in side.touched):
            return None
        return self.message_for(probs, path)

    def refresh(self) -> None:
        probs = self.problems("region", "owner.", "consumers[0].account_id",
                              "consumers[0].credentials")
        shown = [
            self._shown(probs, "region", None, "region"),
            self._shown(probs, "owner.account_id", self.owner, "account"),
            self._shown(probs, "owner.credentials", self.owner, "credentials"),
            self._shown(probs, "consumers[0].account_id", self.consumer, "account"),
            self._shown(probs, "consumers[0].credentials", self.consumer, "credentials"),
        ]
        self.region_msg.show_message(shown[0])
        self.owner.set_messages(shown[1], shown[2])
        self.consumer.set_messages(shown[3], shown[4])
        self._shown_problem = any(shown) or (self._reveal_all and bool(probs))
        failed = [s for s in (self.owner, self.consumer) if s.check_state == "error"]
        if failed:
            self.cross_msg.show_message(
                "Fix the credentials marked ✗ (or the account id they are checked against), "
                "then press Check again.")
        elif self._advance_when_checked:
            self.cross_msg.show_message("Checking both accounts' credentials before going "
                                        "on…", "info")
        else:
            self.cross_msg.show_message(None)
        self._problems = probs
        self.refresh_complete()

    def ready(self) -> bool:
        """Next is offered unless a shown problem, a failed check or a running check holds
        it; pressing it reveals the remaining problems and checks unchecked sides."""
        probs = getattr(self, "_problems", None)
        if probs is None or probs == [NOT_YET]:
            return False
        return not self._shown_problem and all(
            s.check_state not in ("error", "busy") for s in (self.owner, self.consumer))
