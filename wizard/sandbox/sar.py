"""The Serverless Application Repository, as far as the wizard uses it (moto has none).

Only one application exists: AthenaDynamoDBConnector, with the real template's parameter list
(awslabs/aws-athena-query-federation, athena-dynamodb/athena-dynamodb.yaml). A change set
request becomes a *real* moto CloudFormation change set in the caller's account and region,
on stack ``serverlessrepo-<StackName>``, deploying a plain (non-SAM) template with the same
effect: an execution role and the function ``ConnectorConfig`` named AthenaCatalogName with
the connector's environment. So the wizard's CloudFormation waiters, events, stack resources
and deletion all run against moto exactly as they would against AWS.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from wizard.sandbox.layer import ApiRequest, ApiResponse, ServiceError

PUBLISHER_ACCOUNT = "292517598671"
APPLICATION_NAME = "AthenaDynamoDBConnector"
APPLICATION_ID = (f"arn:aws:serverlessrepo:us-east-1:{PUBLISHER_ACCOUNT}:applications/"
                  f"{APPLICATION_NAME}")
# Dated versions as the connector publishes them; the newest tag seen is 2026.33.1.
VERSIONS: list[tuple[str, str]] = [
    ("2025.45.1", "2025-11-12T18:04:11.000Z"),
    ("2026.8.1", "2026-02-25T17:21:40.000Z"),
    ("2026.21.1", "2026-05-27T16:45:02.000Z"),
    ("2026.33.1", "2026-08-19T17:12:55.000Z"),
]
LATEST_VERSION = VERSIONS[-1][0]
# Withdrawn by the publisher: listed nowhere and not deployable, but a stack deployed before
# the withdrawal is still at it (a test makes one by offering it again for a moment:
# ``SarEmulator.withdrawn.discard(v)``, deploy, ``withdrawn.add(v)``).
WITHDRAWN = frozenset({"2025.45.1"})
# A release that deploys cleanly but whose function fails every query (a regression fixed in
# the next release): the rollback path runs for real. The function carries the defect in its
# environment, where the sandbox's Athena emulation reads it (athena.py, invoke_connector).
DEFECT_VARIABLE = "xacct_sandbox_defect"
BROKEN = {"2026.21.1": "java.lang.NoSuchMethodError: 'software.amazon.awssdk.services.dynamodb."
                       "model.ScanRequest$Builder software.amazon.awssdk.services.dynamodb."
                       "model.ScanRequest$Builder.consistentRead(java.lang.Boolean)'"}
REQUIRED_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
SOURCE_CODE_URL = "https://github.com/awslabs/aws-athena-query-federation"
HANDLER = "com.amazonaws.athena.connectors.dynamodb.DynamoDBCompositeHandler"
_STACK_NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _since(version: str, first: str) -> bool:
    """Whether ``version`` has what ``first`` introduced (dated versions compare part by part)."""
    return _key(version) >= _key(first)


# What changed between the sandbox's versions, as an upgrade meets it:
# 2026.21.1 adds the PermissionsBoundaryARN parameter (with a default); 2026.33.1 changes the
# function's log level variable and moves the execution role under a path (CloudFormation
# replaces a role whose Path changes).
BOUNDARY_SINCE = "2026.21.1"
ROLE_PATH_SINCE = "2026.33.1"
ROLE_PATH = "/athena-federation/"


def parameter_definitions(version: str = LATEST_VERSION) -> list[dict[str, Any]]:
    """The template's Parameters, in SAR's ParameterDefinition shape (camelCase on the wire)."""
    defs = _all_parameter_definitions()
    if not _since(version, BOUNDARY_SINCE):
        defs = [d for d in defs if d["name"] != "PermissionsBoundaryARN"]
    return defs


def _all_parameter_definitions() -> list[dict[str, Any]]:
    return [
        {"name": "AthenaCatalogName", "type": "String",
         "description": "This is the name of the lambda function that will be created. This "
                        "name must satisfy the pattern ^[a-z0-9-_]{1,64}$",
         "allowedPattern": "^[a-z0-9-_]{1,64}$", "referencedByResources": ["ConnectorConfig"]},
        {"name": "SpillBucket", "type": "String",
         "description": "The name of the bucket where this function can spill data.",
         "referencedByResources": ["ConnectorConfig", "FunctionExecutionPolicy"]},
        {"name": "SpillPrefix", "type": "String", "defaultValue": "athena-spill",
         "description": "The prefix within SpillBucket where this function can spill data.",
         "referencedByResources": ["ConnectorConfig"]},
        {"name": "LambdaTimeout", "type": "Number", "defaultValue": "900",
         "description": "Maximum Lambda invocation runtime in seconds. (min 1 - 900 max)",
         "referencedByResources": ["ConnectorConfig"]},
        {"name": "LambdaMemory", "type": "Number", "defaultValue": "3008",
         "description": "Lambda memory in MB (min 128 - 3008 max).",
         "referencedByResources": ["ConnectorConfig"]},
        {"name": "DisableSpillEncryption", "type": "String", "defaultValue": "false",
         "description": "WARNING: If set to 'true' encryption for spilled data is disabled.",
         "referencedByResources": ["ConnectorConfig"]},
        {"name": "KMSKeyId", "type": "String", "defaultValue": "",
         "description": "(Optional) By default any data that is spilled to S3 is encrypted "
                        "using AES-GCM and a randomly generated key. Setting a KMS Key ID "
                        "allows your Lambda function to use KMS for key generation for a "
                        "stronger source of encryption keys.",
         "referencedByResources": ["ConnectorConfig", "FunctionKMSPolicy"]},
        {"name": "LambdaRole", "type": "String", "defaultValue": "",
         "description": "(Optional) A custom role to be used by the Connector lambda",
         "referencedByResources": ["ConnectorConfig", "FunctionRole"]},
        {"name": "PermissionsBoundaryARN", "type": "String", "defaultValue": "",
         "description": "(Optional) An IAM policy ARN to use as the PermissionsBoundary for "
                        "the created Lambda function's execution role",
         "referencedByResources": ["FunctionRole"]},
    ]


def _version_body(version: str, created: str) -> dict[str, Any]:
    return {
        "applicationId": APPLICATION_ID,
        "creationTime": created,
        "parameterDefinitions": parameter_definitions(version),
        "requiredCapabilities": list(REQUIRED_CAPABILITIES),
        "resourcesSupported": True,
        "semanticVersion": version,
        "sourceCodeUrl": f"{SOURCE_CODE_URL}/tree/v{version}",
        "templateUrl": f"https://awsserverlessrepo-changesets-sandbox.s3.amazonaws.com/"
                       f"{PUBLISHER_ACCOUNT}/{APPLICATION_NAME}/{version}/template.yaml",
    }


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def plain_template(params: dict[str, str], version: str = LATEST_VERSION) -> dict[str, Any]:
    """A plain CloudFormation template with the effect of the connector's SAM template.

    SAM's AWS::Serverless::Function becomes an AWS::Lambda::Function (inline code: there is no
    jar to run in the sandbox); the execution role carries the template's policy statements
    inline (moto does not load AWS managed policies, so AWSLambdaBasicExecutionRole's logging
    permissions are inlined too). Conditions are resolved here from the parameter values.
    """
    spill = params["SpillBucket"]
    custom_role = params.get("LambdaRole", "")
    kms = params.get("KMSKeyId", "")
    boundary = params.get("PermissionsBoundaryARN", "")
    env: dict[str, Any] = {
        "disable_spill_encryption": {"Ref": "DisableSpillEncryption"},
        "spill_bucket": {"Ref": "SpillBucket"},
        "spill_prefix": {"Ref": "SpillPrefix"},
    }
    if kms:
        env["kms_key_id"] = {"Ref": "KMSKeyId"}
    env["athena_connector_log_level"] = "WARN" if _since(version, ROLE_PATH_SINCE) else "INFO"
    if version in BROKEN:
        env[DEFECT_VARIABLE] = BROKEN[version]
    code = (
        "# Stand-in for the Athena DynamoDB connector inside the xacct-wizard sandbox.\n"
        "# The sandbox's Athena emulation serves queries for this function itself.\n"
        "def handler(event, context):\n"
        "    return {'@type': 'PingResponse', 'catalogName': event.get('catalogName'),\n"
        "            'sourceType': 'ddb', 'capabilities': 23}\n"
    )
    function: dict[str, Any] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": {"Ref": "AthenaCatalogName"},
            "Description": "Enables Amazon Athena to communicate with DynamoDB, making your "
                           "tables accessible via SQL",
            "Handler": "index.handler",
            "Runtime": "python3.12",
            "Code": {"ZipFile": code},
            "Timeout": {"Ref": "LambdaTimeout"},
            "MemorySize": {"Ref": "LambdaMemory"},
            "Environment": {"Variables": env},
            "Role": {"Ref": "LambdaRole"} if custom_role else {"Fn::GetAtt": ["FunctionRole",
                                                                              "Arn"]},
        },
    }
    resources: dict[str, Any] = {"ConnectorConfig": function}
    if not custom_role:
        statements: list[dict[str, Any]] = [
            {"Effect": "Allow", "Resource": "*", "Action": [
                "dynamodb:DescribeTable", "dynamodb:ListSchemas", "dynamodb:ListTables",
                "dynamodb:Query", "dynamodb:Scan", "glue:GetTableVersions",
                "glue:GetPartitions", "glue:GetTables", "glue:GetTableVersion",
                "glue:GetDatabases", "glue:GetTable", "glue:GetPartition", "glue:GetDatabase",
                "athena:GetQueryExecution", "s3:ListAllMyBuckets"]},
            {"Effect": "Allow", "Action": [
                "s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
                "s3:PutObject", "s3:PutObjectAcl", "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration", "s3:DeleteObject"],
             "Resource": [f"arn:aws:s3:::{spill}", f"arn:aws:s3:::{spill}/*"]},
        ]
        policies = [
            {"PolicyName": "FunctionExecutionPolicy",
             "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}},
            {"PolicyName": "AWSLambdaBasicExecutionRole",
             "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                 "Effect": "Allow", "Resource": "*",
                 "Action": ["logs:CreateLogGroup", "logs:CreateLogStream",
                            "logs:PutLogEvents"]}]}},
        ]
        if kms:
            policies.append({"PolicyName": "FunctionKMSPolicy", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["kms:GenerateRandom"], "Resource": "*"},
                    {"Effect": "Allow", "Action": ["kms:GenerateDataKey"],
                     "Resource": {"Fn::Sub": "arn:aws:kms:${AWS::Region}:${AWS::AccountId}"
                                             ":key/${KMSKeyId}"}}]}})
        role_props: dict[str, Any] = {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]},
                "Action": ["sts:AssumeRole"]}]},
            "Policies": policies,
        }
        if boundary and _since(version, BOUNDARY_SINCE):
            role_props["PermissionsBoundary"] = {"Ref": "PermissionsBoundaryARN"}
        if _since(version, ROLE_PATH_SINCE):
            role_props["Path"] = ROLE_PATH
        resources["FunctionRole"] = {"Type": "AWS::IAM::Role", "Properties": role_props}
    parameters = {}
    for p in parameter_definitions(version):
        decl: dict[str, Any] = {"Type": p["type"], "Description": p["description"]}
        if "defaultValue" in p:
            decl["Default"] = p["defaultValue"]
        if "allowedPattern" in p:
            decl["AllowedPattern"] = p["allowedPattern"]
        parameters[p["name"]] = decl
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "AthenaDynamoDBConnector (xacct-wizard sandbox equivalent of the SAR "
                       "application's SAM template)",
        "Parameters": parameters,
        "Resources": resources,
    }


class SarEmulator:
    """Serves the serverlessrepo REST API for the one application the wizard deploys."""

    def __init__(self, template_base_url: str = "") -> None:
        self._lock = threading.Lock()
        self.template_base_url = template_base_url
        self.templates: dict[str, dict[str, Any]] = {}
        self.withdrawn: set[str] = set(WITHDRAWN)

    def reset(self) -> None:
        with self._lock:
            self.templates.clear()
            self.withdrawn = set(WITHDRAWN)

    def offered(self) -> list[tuple[str, str]]:
        """The versions the repository lists and deploys (oldest first)."""
        return [v for v in VERSIONS if v[0] not in self.withdrawn]

    # ----------------------------------------------------------------- routing
    def operations(self) -> dict[str, Callable[[ApiRequest], dict[str, Any]]]:
        """Operation name -> handler (the layer reads the request and writes the answer)."""
        return {
            "GetApplication": lambda req: self.get_application(
                req.params.get("ApplicationId", ""), req.params.get("SemanticVersion")),
            "ListApplicationVersions": lambda req: self.list_versions(
                req.params.get("ApplicationId", ""), req.params.get("MaxItems"),
                req.params.get("NextToken")),
            "CreateCloudFormationChangeSet": lambda req: self.create_change_set(
                req, req.params.get("ApplicationId", ""), req.params),
            "CreateCloudFormationTemplate": lambda req: self.create_template(
                req.params.get("ApplicationId", ""), req.params),
            "GetCloudFormationTemplate": lambda req: self.get_template(
                req.params.get("ApplicationId", ""), req.params.get("TemplateId", "")),
        }

    # ----------------------------------------------------------------- operations
    @staticmethod
    def _check_app(app_id: str) -> None:
        if app_id != APPLICATION_ID:
            raise ServiceError("NotFoundException",
                               f"Cannot find application with id {app_id}", 404)

    def _version(self, app_id: str, version: str | None) -> tuple[str, str]:
        offered = self.offered()
        if not version:
            return offered[-1]
        for v in offered:
            if v[0] == version:
                return v
        raise ServiceError("NotFoundException",
                           f"Cannot find version {version} for application {app_id}", 404)

    def get_application(self, app_id: str, version: str | None) -> dict[str, Any]:
        self._check_app(app_id)
        semver, created = self._version(app_id, version)
        return {
            "applicationId": APPLICATION_ID,
            "author": "default author",
            "creationTime": VERSIONS[0][1],
            "description": "This connector enables Amazon Athena to communicate with DynamoDB, "
                           "making your tables accessible via SQL.",
            "homePageUrl": SOURCE_CODE_URL,
            "isVerifiedAuthor": True,
            "verifiedAuthorUrl": "https://github.com/awslabs",
            "labels": ["athena-federation"],
            "licenseUrl": f"{SOURCE_CODE_URL}/blob/master/LICENSE.txt",
            "name": APPLICATION_NAME,
            "readmeUrl": f"{SOURCE_CODE_URL}/blob/master/athena-dynamodb/README.md",
            "spdxLicenseId": "Apache-2.0",
            "version": _version_body(semver, created),
        }

    def list_versions(self, app_id: str, max_items: int | str | None,
                      next_token: str | None) -> dict[str, Any]:
        self._check_app(app_id)
        start = int(next_token) if next_token and next_token.isdigit() else 0
        size = int(max_items) if max_items and str(max_items).isdigit() else 100
        offered = self.offered()
        page = offered[start:start + size]
        body: dict[str, Any] = {"versions": [
            {"applicationId": APPLICATION_ID, "creationTime": created, "semanticVersion": v,
             "sourceCodeUrl": f"{SOURCE_CODE_URL}/tree/v{v}"} for v, created in page]}
        if start + size < len(offered):
            body["nextToken"] = str(start + size)
        return body

    def create_template(self, app_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self._check_app(app_id)
        semver, _ = self._version(app_id, params.get("SemanticVersion"))
        template_id = str(uuid.uuid4())
        record = {
            "applicationId": APPLICATION_ID, "creationTime": _iso_now(),
            "expirationTime": _iso_now(), "semanticVersion": semver, "status": "ACTIVE",
            "templateId": template_id,
            "templateUrl": f"{self.template_base_url}{template_id}.json",
        }
        with self._lock:
            self.templates[template_id] = record
        return record

    def get_template(self, app_id: str, template_id: str) -> dict[str, Any]:
        self._check_app(app_id)
        with self._lock:
            record = self.templates.get(template_id)
        if record is None:
            raise ServiceError("NotFoundException",
                               f"Cannot find template with id {template_id}", 404)
        return record

    def template_document(self, name: str) -> ApiResponse | None:
        """The plain template behind a CreateCloudFormationTemplate URL (for curious clients)."""
        template_id = name.removesuffix(".json")
        if template_id not in self.templates:
            return None
        defaults = {p["name"]: p.get("defaultValue", "x") for p in parameter_definitions()}
        return ApiResponse.json(plain_template(defaults), content_type="application/json")

    def create_change_set(self, req: ApiRequest, app_id: str,
                          params: dict[str, Any]) -> dict[str, Any]:
        self._check_app(app_id)
        semver, _ = self._version(app_id, params.get("SemanticVersion"))
        stack_name = str(params.get("StackName") or "")
        if not stack_name:
            raise ServiceError("BadRequestException", "Missing required parameter: stackName")
        full_name = f"serverlessrepo-{stack_name}"
        if not _STACK_NAME_RE.match(full_name) or len(full_name) > 128:
            raise ServiceError(
                "BadRequestException",
                f"1 validation error detected: Value '{full_name}' at 'stackName' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "[a-zA-Z][-a-zA-Z0-9]*")
        given = set(params.get("Capabilities") or [])
        missing = [c for c in REQUIRED_CAPABILITIES if c not in given]
        if missing:
            raise ServiceError("BadRequestException",
                               f"Requires capabilities : [{', '.join(missing)}]")
        values = self._parameters(params.get("ParameterOverrides") or [], semver)
        template = json.dumps(plain_template(values, semver))
        from moto.backends import get_backend

        caller = req.caller
        cfn = get_backend("cloudformation")[caller.account_id][req.region]
        existing = next((s for s in cfn.stacks.values()
                         if s.name == full_name and s.status not in ("DELETE_COMPLETE",
                                                                     "REVIEW_IN_PROGRESS")),
                        None)
        # A stack still in REVIEW_IN_PROGRESS (its CREATE change set was never executed, e.g.
        # the answer was lost and the call retried): CloudFormation puts the new change set on
        # that same stack. moto would make a second stack of the same name, so drop the stale
        # one (and its change sets) first: one stack, and the newest change set executes.
        for sid, stale in list(cfn.stacks.items()):
            if stale.name == full_name and stale.status == "REVIEW_IN_PROGRESS":
                del cfn.stacks[sid]
                for cs_id, cs in list(cfn.change_sets.items()):
                    if getattr(cs, "stack", None) is stale:
                        del cfn.change_sets[cs_id]
        change_set_name = str(params.get("ChangeSetName") or f"a{uuid.uuid4().hex}")
        tags = {"serverlessrepo:applicationId": APPLICATION_ID,
                "serverlessrepo:semanticVersion": semver}
        for t in params.get("Tags") or []:
            tags[str(t.get("Key"))] = str(t.get("Value"))
        try:
            change_set_id, stack_id = cfn.create_change_set(
                stack_name=full_name,
                change_set_name=change_set_name,
                template=template,
                parameters=values,
                description=str(params.get("Description") or ""),
                change_set_type="UPDATE" if existing is not None else "CREATE",
                notification_arns=params.get("NotificationArns") or None,
                tags=tags,
            )
        except Exception as exc:  # moto validation errors -> SAR's wording
            raise ServiceError("BadRequestException", str(getattr(exc, "message", exc))) from exc
        return {"applicationId": APPLICATION_ID, "changeSetId": change_set_id,
                "semanticVersion": semver, "stackId": stack_id}

    @staticmethod
    def _parameters(overrides: list[dict[str, Any]], version: str) -> dict[str, str]:
        """Validate parameter overrides the way CloudFormation does; fill template defaults."""
        defs = {p["name"]: p for p in parameter_definitions(version)}
        values: dict[str, str] = {}
        unknown = []
        for o in overrides:
            name = str(o.get("Name", ""))
            if name not in defs:
                unknown.append(name)
                continue
            values[name] = str(o.get("Value", ""))
        if unknown:
            raise ServiceError("BadRequestException",
                               f"Parameters: [{', '.join(unknown)}] do not exist in the template")
        missing = [n for n, d in defs.items() if n not in values and "defaultValue" not in d]
        if missing:
            raise ServiceError("BadRequestException",
                               f"Parameters: [{', '.join(missing)}] must have values")
        for name, d in defs.items():
            values.setdefault(name, d.get("defaultValue", ""))
            pattern = d.get("allowedPattern")
            if pattern and not re.match(pattern, values[name]):
                raise ServiceError("BadRequestException",
                                   f"Parameter '{name}' must match pattern {pattern}")
            if d["type"] == "Number":
                try:
                    float(values[name])
                except ValueError:
                    raise ServiceError("BadRequestException",
                                       f"Parameter '{name}' must be a number.") from None
        return values

