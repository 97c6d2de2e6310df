"""One module per runbook concern, in runbook order (see ``ORDER``)."""

from wizard.steps.base import Context, Step
from wizard.steps.catalogs import OwnerCatalogStep, SharedCatalogStep
from wizard.steps.connector import ConnectorStep
from wizard.steps.identity_policy import IdentityPolicyStep
from wizard.steps.kms_grant import KmsGrantStep
from wizard.steps.lambda_grant import LambdaGrantStep
from wizard.steps.org_grants import OrgLambdaGrantStep, OrgSpillGrantStep
from wizard.steps.principal import PrincipalStep
from wizard.steps.share_role import ShareRoleStep
from wizard.steps.spill_bucket import SpillBucketStep
from wizard.steps.spill_grant import SpillGrantStep
from wizard.steps.stackset import StackSetStep

# Runbook order; destroy walks it backwards. The principal comes before the grants that name
# it, because S3 rejects a bucket policy naming a principal that does not exist.
ORDER: list[type[Step]] = [
    SpillBucketStep,      # 1
    ConnectorStep,        # 2-5
    OwnerCatalogStep,     # 6
    PrincipalStep,        # (10) P must exist before 7/8 name it
    LambdaGrantStep,      # 7
    SpillGrantStep,       # 8
    KmsGrantStep,         # 9 (only with a customer-managed key on the spill data)
    IdentityPolicyStep,   # 10
    ShareRoleStep,        # 11
    SharedCatalogStep,    # 12-13
]

# consumers_from (every account of an OU): the owner side grants the organization once, and
# one StackSet makes steps 10-13 in every account. It runs last: the grants name no principal,
# and each account's catalog points at a function that exists and may be invoked.
ORG_ORDER: list[type[Step]] = [
    SpillBucketStep,      # 1
    ConnectorStep,        # 2-5
    OwnerCatalogStep,     # 6
    OrgLambdaGrantStep,   # 7, for the organization
    OrgSpillGrantStep,    # 8, for the OU's path
    StackSetStep,         # 10-13 in every account of the OU
]


def order_for(profile: object) -> list[type[Step]]:
    """The steps a profile needs: per listed account, or for an organizational unit."""
    return ORG_ORDER if getattr(profile, "consumers_from", None) is not None else ORDER


__all__ = ["ORDER", "ORG_ORDER", "Context", "Step", "order_for"]
