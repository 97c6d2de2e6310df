"""SetupProfile: the typed model of the YAML profile file (design.md, "Profile file").

The model is the single source of truth the CLI, the engine and the GUI share: the GUI builds
one, the CLI loads one, the engine only ever reads one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROFILE_VERSION = 1
DEFAULT_TEST_QUERY = 'SELECT * FROM "{catalog}"."default"."music" LIMIT 10'


@dataclass
class CredentialRef:
    """Where one side's credentials come from: an AWS named profile or a keyring entry."""

    profile: str | None = None
    keyring: str | None = None

    def describe(self) -> str:
        return f"profile {self.profile}" if self.profile else f"keyring entry {self.keyring}"

    def to_dict(self) -> dict[str, str]:
        return {"profile": self.profile} if self.profile else {"keyring": self.keyring or ""}


@dataclass
class OwnerConfig:
    account_id: str
    credentials: CredentialRef


@dataclass
class ConnectorConfig:
    catalog_name: str
    spill_bucket: str
    spill_prefix: str = "athena-spill"
    application_version: str = "latest"
    existing_function_arn: str | None = None
    lambda_memory: int = 3008
    lambda_timeout: int = 900
    # SAR prefixes it with "serverlessrepo-"; defaults to catalog_name with "_" -> "-"
    stack_name: str | None = None
    kms_key_id: str | None = None
    disable_spill_encryption: bool = False
    create_spill_bucket: bool = False

    @property
    def effective_stack_name(self) -> str:
        return self.stack_name or self.catalog_name.replace("_", "-")

    @property
    def deployed_stack_name(self) -> str:
        return f"serverlessrepo-{self.effective_stack_name}"


@dataclass
class ConsumerConfig:
    account_id: str
    credentials: CredentialRef
    principal_arn: str
    query_results: str
    catalog_name: str = ""
    create_principal: bool = False
    query_credentials: CredentialRef | None = None
    share_method: str = "assume-role"  # or "direct"
    workgroup: str = "primary"

    @property
    def key(self) -> str:
        """The account label used in Changes and the journal: ``consumer:<id>``."""
        return f"consumer:{self.account_id}"

    @property
    def principal_kind(self) -> str:
        """``user`` or ``role`` (from the ARN's resource type)."""
        return self.principal_arn.split(":", 5)[-1].split("/", 1)[0]

    @property
    def principal_name(self) -> str:
        return self.principal_arn.rsplit("/", 1)[-1]


@dataclass
class SetupProfile:
    region: str
    owner: OwnerConfig
    connector: ConnectorConfig
    consumers: list[ConsumerConfig] = field(default_factory=list)
    test_query: str = ""
    version: int = PROFILE_VERSION

    @property
    def effective_test_query(self) -> str:
        return self.test_query or DEFAULT_TEST_QUERY.format(catalog=self.consumers[0].catalog_name)
