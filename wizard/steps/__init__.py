"""One module per runbook concern, in runbook order (see ``ORDER``)."""

from wizard.steps.base import Context, Step
from wizard.steps.catalogs import OwnerCatalogStep, SharedCatalogStep
from wizard.steps.connector import ConnectorStep
from wizard.steps.identity_policy import IdentityPolicyStep
from wizard.steps.kms_grant import KmsGrantStep
from wizard.steps.lambda_grant import LambdaGrantStep
from wizard.steps.principal import PrincipalStep
from wizard.steps.share_role import ShareRoleStep
from wizard.steps.spill_bucket import SpillBucketStep
from wizard.steps.spill_grant import SpillGrantStep

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

__all__ = ["ORDER", "Context", "Step"]
