"""The consumer principal P in B: checked before anything names it (S3 rejects a policy naming a
principal that does not exist), created only when the profile says ``create_principal: true``.
"""

from __future__ import annotations

from wizard.changes import Change, Finding
from wizard.errors import WizardError
from wizard.journal import Entry
from wizard.profile import ConsumerConfig
from wizard.steps.base import Step, aws_call, create_call, error_code, flatten


def principal_exists(step: Step, c: ConsumerConfig) -> bool:
    acct = step.ctx.consumer_account(c)
    try:
        if c.principal_kind == "role":
            aws_call(acct, "iam", "get_role", RoleName=c.principal_name)
        else:
            aws_call(acct, "iam", "get_user", UserName=c.principal_name)
        return True
    except WizardError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise


class PrincipalStep(Step):
    id = "principal"
    title = "Consumer principal"
    side = "consumer"

    def _plan_one(self, c: ConsumerConfig) -> list[Change]:
        exists = principal_exists(self, c)
        if exists:
            return [self.change(c.key, c.principal_arn, "none", "principal exists",
                                kind="principal", consumer=c.account_id)]
        if c.create_principal and c.principal_kind == "user":
            return [self.change(c.key, c.principal_arn, "create", f"create IAM user "
                                f"{c.principal_name}", kind="principal", consumer=c.account_id)]
        return []

    def preflight(self) -> list[Finding]:
        def check(c: ConsumerConfig) -> list[Finding]:
            if principal_exists(self, c):
                return []
            if c.create_principal and c.principal_kind == "user":
                return []
            fix = ("Create it first, or set create_principal: true for this consumer."
                   if c.principal_kind == "user" else "Create the role first.")
            return [self.finding("error", f"The principal {c.principal_arn} does not exist in "
                                 f"{c.account_id}.", fix, c.key)]

        return flatten(self.ctx.map_consumers(check))

    def plan(self) -> list[Change]:
        return flatten(self.ctx.map_consumers(self._plan_one))

    def apply(self, changes: list[Change]) -> None:
        consumers = {c.account_id: c for c in self.ctx.profile.consumers}
        for ch in changes:
            if ch.action != "create":
                continue
            c = consumers[ch.data["consumer"]]
            entry = self.ctx.journal.begin(self.id, c.key, c.principal_arn, "created",
                                           data={"user": c.principal_name})
            path = "/" + "/".join(c.principal_arn.split(":user/", 1)[1].split("/")[:-1])
            path = path if path.endswith("/") else path + "/"
            create_call(self.ctx.consumer_account(c), "iam", "create_user",
                        UserName=c.principal_name, Path=path,
                        Tags=[{"Key": "created-by", "Value": "xacct-wizard"}],
                        is_ours=lambda c=c: principal_exists(self, c))
            self.ctx.journal.done(entry)

    def plan_destroy(self) -> list[Change]:
        return [self.change(e.account, e.resource, "delete", "delete the IAM user we created",
                            kind="principal") for e in self.ctx.journal.for_step(self.id)]

    def destroy(self) -> list[Change]:
        def undo(entry: Entry) -> Change:
            acct = self.ctx.consumers[entry.account.split(":", 1)[1]]
            user = entry.data["user"]
            try:
                for name in aws_call(acct, "iam", "list_user_policies",
                                     UserName=user)["PolicyNames"]:
                    aws_call(acct, "iam", "delete_user_policy", UserName=user, PolicyName=name)
                for key in aws_call(acct, "iam", "list_access_keys",
                                    UserName=user)["AccessKeyMetadata"]:
                    aws_call(acct, "iam", "delete_access_key", UserName=user,
                             AccessKeyId=key["AccessKeyId"])
                for pol in aws_call(acct, "iam", "list_attached_user_policies",
                                    UserName=user)["AttachedPolicies"]:
                    aws_call(acct, "iam", "detach_user_policy", UserName=user,
                             PolicyArn=pol["PolicyArn"])
                aws_call(acct, "iam", "delete_user", UserName=user)
            except WizardError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
            self.ctx.journal.forget(entry)
            return self.change(entry.account, entry.resource, "delete", kind="principal")

        return self.ctx.map_accounts(self.ctx.journal.for_step(self.id), undo)
