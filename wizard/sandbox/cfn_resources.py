"""CloudFormation resource types the exported templates use and moto does not model (well).

moto's CloudFormation deploys a resource through a ``CloudFormationModel`` subclass registered
by its type name. It has none for ``AWS::Serverless::Application``, ``AWS::Athena::DataCatalog``
or ``AWS::S3::BucketPolicy``, and its ``AWS::Lambda::Permission`` stores a principal raw where
Lambda stores ``{"AWS": arn}``. This module adds them, so an exported template deploys through
the sandbox's CloudFormation exactly like the wizard's API calls would set things up:

* ``AWS::Serverless::Application`` is what the Serverless transform turns into a nested stack:
  here a nested stack of the emulated repository's plain template (:func:`sar.plain_template`),
  after the same application, version and parameter checks the repository makes.
* ``AWS::Athena::DataCatalog`` is stored in moto's Athena backend, where the sandbox's Athena
  emulation (and its federated queries) finds catalogs.
* ``AWS::S3::BucketPolicy`` replaces the whole bucket policy (as CloudFormation does), and
  refuses a principal that does not exist (as S3 does).
* ``AWS::Lambda::Permission`` and ``AWS::IAM::Role`` are moto's, storing what they store in the
  form AWS returns it (a principal as ``{"AWS": arn}``, inline role policies as JSON).

Every use of moto's internals for this lives here. :func:`install` registers the types; it is
idempotent.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from wizard.sandbox import sar
from wizard.sandbox.layer import ApiRequest, ServiceError

_INSTALLED = False
_LOCK = threading.Lock()

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
_NAMED_IAM = {"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName",
              "AWS::IAM::Group": "GroupName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
              "AWS::IAM::InstanceProfile": "InstanceProfileName"}
_IAM_TYPES = {*_NAMED_IAM, "AWS::IAM::Policy", "AWS::IAM::AccessKey",
              "AWS::IAM::UserToGroupAddition"}


def _validation(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _models() -> list[type]:
    from moto.backends import get_backend
    from moto.core.common_models import CloudFormationModel

    class ServerlessApplication(CloudFormationModel):
        """A SAR application: a nested stack of the emulated repository's template."""

        def __init__(self, account_id: str, region: str, stack: Any) -> None:
            self.account_id, self.region, self.stack = account_id, region, stack

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Serverless::Application"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr.startswith("Outputs.")

        @property
        def physical_resource_id(self) -> str:
            return str(self.stack.stack_id)

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            key = attribute_name.removeprefix("Outputs.")
            for out in self.stack.stack_outputs or []:
                if getattr(out, "key", None) == key:
                    return out.value
            raise _validation(f"Template error: the nested stack has no output {key}")

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str, **kwargs: Any) -> ServerlessApplication:
            props = cloudformation_json.get("Properties", {})
            location = props.get("Location") or {}
            if not isinstance(location, dict):
                raise _validation("Location must name ApplicationId and SemanticVersion "
                                  "(an application in the Serverless Application Repository)")
            app_id = str(location.get("ApplicationId", ""))
            version = str(location.get("SemanticVersion", ""))
            repo = _repository()
            try:
                repo._check_app(app_id)
                semver, _ = repo._version(app_id, version or None)
                values = repo._parameters(
                    [{"Name": k, "Value": str(v)}
                     for k, v in (props.get("Parameters") or {}).items()], semver)
            except ServiceError as err:
                raise _validation(f"{resource_name}: {err.message}") from err
            cfn = get_backend("cloudformation")[account_id][region_name]
            tags = {"serverlessrepo:applicationId": sar.APPLICATION_ID,
                    "serverlessrepo:semanticVersion": semver}
            tags.update({str(k): str(v) for k, v in (props.get("Tags") or {}).items()})
            stack = cfn.create_stack(name=resource_name,
                                     template=json.dumps(sar.plain_template(values, semver)),
                                     parameters=values, tags=tags)
            return cls(account_id, region_name, stack)

        def delete(self, account_id: str, region: str) -> None:
            get_backend("cloudformation")[account_id][region].delete_stack(self.stack.stack_id)

    class AthenaDataCatalog(CloudFormationModel):
        """An Athena data catalog, kept where the sandbox's Athena emulation reads catalogs."""

        def __init__(self, account_id: str, region: str, name: str) -> None:
            self.account_id, self.region, self.name = account_id, region, name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Athena::DataCatalog"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str, **kwargs: Any) -> AthenaDataCatalog:
            props = cloudformation_json.get("Properties", {})
            name = str(props.get("Name") or resource_name)
            ctype = str(props.get("Type", ""))
            if ctype not in ("LAMBDA", "GLUE", "HIVE", "FEDERATED"):
                raise _validation(f"Invalid catalog type: {ctype}")
            params = {str(k): str(v) for k, v in (props.get("Parameters") or {}).items()}
            if ctype == "LAMBDA" and not ("function" in params or (
                    "metadata-function" in params and "record-function" in params)):
                raise _validation("Parameters for a LAMBDA catalog must contain 'function', or "
                                  "both 'metadata-function' and 'record-function'")
            backend = get_backend("athena")[account_id][region_name]
            if any(n.lower() == name.lower() for n in backend.data_catalogs):
                raise _validation(f"DataCatalog {name} already exists")
            backend.create_data_catalog(name=name, catalog_type=ctype,
                                        description=str(props.get("Description") or ""),
                                        parameters=params, tags=props.get("Tags") or [])
            return cls(account_id, region_name, name)

        def delete(self, account_id: str, region: str) -> None:
            get_backend("athena")[account_id][region].data_catalogs.pop(self.name, None)

    class BucketPolicy(CloudFormationModel):
        """The whole policy of one bucket (CloudFormation replaces it, other statements too)."""

        def __init__(self, account_id: str, bucket: str) -> None:
            self.account_id, self.bucket = account_id, bucket

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False

        @property
        def physical_resource_id(self) -> str:
            return self.bucket

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str, **kwargs: Any) -> BucketPolicy:
            from wizard.sandbox.resource_policies import _aws_principals, principal_exists

            props = cloudformation_json.get("Properties", {})
            bucket = str(props.get("Bucket", ""))
            doc = props.get("PolicyDocument")
            if isinstance(doc, str):
                doc = json.loads(doc)
            if not isinstance(doc, dict):
                raise _validation("PolicyDocument must be a policy document")
            sts = doc.get("Statement", [])
            for st in sts if isinstance(sts, list) else [sts]:
                for entry in _aws_principals(st.get("Principal")):
                    if not principal_exists(entry):
                        raise _validation(f"Invalid principal in policy: {entry} (Service: S3, "
                                          "Status Code: 400, Error Code: MalformedPolicy)")
            get_backend("s3")[account_id]["aws"].put_bucket_policy(
                bucket, json.dumps(doc).encode("utf-8"))
            return cls(account_id, bucket)

        def delete(self, account_id: str, region: str) -> None:
            try:
                get_backend("s3")[account_id]["aws"].delete_bucket_policy(self.bucket)
            except Exception:  # the bucket is gone: so is its policy
                pass

    class LambdaPermission(CloudFormationModel):
        """One statement of a function's resource policy, stored the way Lambda stores it."""

        def __init__(self, account_id: str, region: str, function: str, sid: str) -> None:
            self.account_id, self.region, self.function, self.sid = (account_id, region,
                                                                     function, sid)

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::Permission"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False

        @property
        def physical_resource_id(self) -> str:
            return f"{self.function}:{self.sid}"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str, **kwargs: Any) -> LambdaPermission:
            import re

            from wizard.sandbox.resource_policies import principal_exists

            props = dict(cloudformation_json.get("Properties", {}))
            fn_name = str(props.get("FunctionName", ""))
            fn = get_backend("lambda")[account_id][region_name].get_function(fn_name)
            principal = str(props.get("Principal", ""))
            if not principal_exists(principal):
                raise _validation("The provided principal was invalid. Please check the "
                                  "principal and try again.")
            sid = resource_name  # CloudFormation names the statement after the resource
            raw = {"StatementId": sid, "Action": props.get("Action", "lambda:InvokeFunction"),
                   "Principal": principal}
            for key in ("SourceArn", "SourceAccount", "PrincipalOrgID"):
                if props.get(key):
                    raw[key] = props[key]
            fn.policy.add_statement(json.dumps(raw))
            for st in fn.policy.statements:
                p = st.get("Principal")
                if st.get("Sid") == sid and isinstance(p, str) and p != "*" and \
                        not p.endswith(".amazonaws.com"):
                    arn = f"arn:aws:iam::{p}:root" if re.fullmatch(r"\d{12}", p) else p
                    st["Principal"] = {"AWS": arn}
            return cls(account_id, region_name, fn_name, sid)

        def delete(self, account_id: str, region: str) -> None:
            try:
                fn = get_backend("lambda")[account_id][region].get_function(self.function)
                fn.policy.del_statement(self.sid)
            except Exception:  # the function (or the statement) is gone already
                pass

    from moto.iam.models import Role as MotoRole

    class IamRole(CloudFormationModel):
        """moto's AWS::IAM::Role, with inline ``Policies`` stored as JSON text (moto keeps the
        parsed template value, which GetRolePolicy then returns as a Python repr)."""

        @staticmethod
        def cloudformation_name_type() -> str:
            return MotoRole.cloudformation_name_type()

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::IAM::Role"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return MotoRole.has_cfn_attr(attr)

        @staticmethod
        def _as_text(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
            props = dict(cloudformation_json.get("Properties", {}))
            props["Policies"] = [
                {**pol, "PolicyDocument": pol["PolicyDocument"] if isinstance(
                    pol.get("PolicyDocument"), str) else json.dumps(pol.get("PolicyDocument"))}
                for pol in props.get("Policies") or []]
            return {**cloudformation_json, "Properties": props}

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str, **kwargs: Any) -> Any:
            return MotoRole.create_from_cloudformation_json(
                resource_name, cls._as_text(cloudformation_json), account_id, region_name,
                **kwargs)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
                cls, original_resource: Any, new_resource_name: str,
                cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
            return MotoRole.update_from_cloudformation_json(
                original_resource, new_resource_name, cls._as_text(cloudformation_json),
                account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str) -> None:
            MotoRole.delete_from_cloudformation_json(resource_name, cloudformation_json,
                                                     account_id, region_name)

    return [ServerlessApplication, AthenaDataCatalog, BucketPolicy, LambdaPermission, IamRole]


def install() -> None:
    """Register the types with moto's CloudFormation (once per process)."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        from moto.cloudformation import parsing

        _models()
        # moto maps type names to the direct subclasses of CloudFormationModel, the later one
        # winning a name (ours replace its Lambda::Permission); the maps are cached.
        for cached in ("get_model_list", "get_model_map", "get_name_type_map"):
            fn = getattr(parsing, cached, None)
            if fn is not None and hasattr(fn, "cache_clear"):
                fn.cache_clear()
        _INSTALLED = True


# --------------------------------------------------------------------------- capabilities
def _template(req: ApiRequest) -> dict[str, Any] | None:
    import yaml

    body = req.params.get("TemplateBody")
    if not body:
        return None
    try:
        doc = yaml.safe_load(body)  # JSON is YAML too; short-form tags (!Ref) are not
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None


def required_capabilities(template: dict[str, Any]) -> list[str]:
    """What CloudFormation requires the caller to acknowledge for this template."""
    need: list[str] = []
    transforms = template.get("Transform") or []
    if isinstance(transforms, str):
        transforms = [transforms]
    resources = template.get("Resources") or {}
    types = {str(r.get("Type", "")): r for r in resources.values() if isinstance(r, dict)}
    named = any(_NAMED_IAM.get(t) in (r.get("Properties") or {})
                for r in resources.values() if isinstance(r, dict)
                for t in [str(r.get("Type", ""))])
    if named:
        need.append("CAPABILITY_NAMED_IAM")
    elif any(t in _IAM_TYPES for t in types):
        need.append("CAPABILITY_IAM")
    if "AWS::Serverless::Application" in types:
        # The nested application's own: the connector creates a role and a resource policy.
        for cap in sar.REQUIRED_CAPABILITIES:
            if cap not in need and not (cap == "CAPABILITY_IAM" and named):
                need.append(cap)
    if SERVERLESS_TRANSFORM in transforms:
        need.append("CAPABILITY_AUTO_EXPAND")
    return need


def check_capabilities(req: ApiRequest) -> None:
    """CreateStack / CreateChangeSet: refuse a template whose capabilities were not given."""
    install()
    template = _template(req)
    if template is None:
        return None
    given = set(req.params.get("Capabilities") or [])
    if "CAPABILITY_NAMED_IAM" in given:
        given.add("CAPABILITY_IAM")
    missing = [c for c in required_capabilities(template) if c not in given]
    if missing:
        raise ServiceError("InsufficientCapabilitiesException",
                           f"Requires capabilities : [{', '.join(missing)}]")
    return None


def _repository() -> Any:
    """The running sandbox's emulated repository (its offered and withdrawn versions), or a
    fresh one when CloudFormation runs without a sandbox (a test's bare moto)."""
    from wizard.sandbox import server

    active = server._ACTIVE
    if active is not None and active.sar is not None:
        return active.sar
    return sar.SarEmulator()
