"""CloudFormation: one template for the owner account, one per consumer account.

The owner template deploys the connector as ``AWS::Serverless::Application`` (the SAR
application and version the wizard deploys, so the stack needs ``CAPABILITY_AUTO_EXPAND``),
registers the catalog, grants each consumer principal ``lambda:InvokeFunction`` and writes the
spill bucket policy with every statement the live policy had. The consumer template holds the
principal's identity policy, the ``AthenaCrossAccountCreate-<A>`` role (console parity) and the
catalog in B.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from wizard.export.model import (
    BUCKET_POLICY_WARNING,
    PLACEHOLDER_RE,
    ConsumerModel,
    SetupModel,
)

OWNER_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY", "CAPABILITY_AUTO_EXPAND"]
CONSUMER_CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"


def to_cfn(value: Any) -> Any:
    """Placeholders -> ``Ref`` (a whole string) or ``Fn::Sub`` (part of one)."""
    if isinstance(value, dict):
        return {k: to_cfn(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_cfn(v) for v in value]
    if not isinstance(value, str) or not PLACEHOLDER_RE.search(value):
        return value
    whole = PLACEHOLDER_RE.fullmatch(value)
    if whole:
        return {"Ref": whole.group(1)}
    out, last = [], 0
    for m in PLACEHOLDER_RE.finditer(value):
        out.append(value[last:m.start()].replace("${", "${!"))
        out.append("${" + m.group(1) + "}")
        last = m.end()
    out.append(value[last:].replace("${", "${!"))
    return {"Fn::Sub": "".join(out)}


def _function_arn_sub() -> dict[str, Any]:
    return {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                       "${CatalogName}"}


def owner_template(m: SetupModel) -> dict[str, Any]:
    params: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    fn_arn: Any
    depends: list[str] = []
    if m.existing_function:
        params["ConnectorFunctionArn"] = {
            "Type": "String", "Default": m.function_arn,
            "Description": "The connector Lambda function that is already deployed."}
        fn_arn = {"Ref": "ConnectorFunctionArn"}
        params["CatalogName"] = {"Type": "String", "Default": m.catalog_name,
                                 "Description": "The Athena data catalog's name in this account."}
    else:
        cp = m.connector_parameters
        params["CatalogName"] = {
            "Type": "String", "Default": m.catalog_name, "AllowedPattern": "^[a-z0-9-_]{1,64}$",
            "Description": "Name of the connector Lambda function and of the Athena catalog."}
        params["ConnectorVersion"] = {
            "Type": "String", "Default": m.application_version,
            "Description": "AthenaDynamoDBConnector version in the Serverless Application "
                           "Repository (the one deployed at export time)."}
        params["LambdaTimeout"] = {"Type": "Number", "Default": int(cp.get("LambdaTimeout", 900)),
                                   "MinValue": 1, "MaxValue": 900,
                                   "Description": "Connector timeout in seconds."}
        params["LambdaMemory"] = {"Type": "Number", "Default": int(cp.get("LambdaMemory", 3008)),
                                  "MinValue": 128, "MaxValue": 10240,
                                  "Description": "Connector memory in MB."}
        params["DisableSpillEncryption"] = {
            "Type": "String", "Default": cp.get("DisableSpillEncryption", "false"),
            "AllowedValues": ["true", "false"],
            "Description": "true turns off the encryption of spilled data."}
        app_params: dict[str, Any] = {
            "AthenaCatalogName": {"Ref": "CatalogName"},
            "SpillBucket": {"Ref": "SpillBucket"},
            "SpillPrefix": {"Ref": "SpillPrefix"},
            "LambdaTimeout": {"Ref": "LambdaTimeout"},
            "LambdaMemory": {"Ref": "LambdaMemory"},
            "DisableSpillEncryption": {"Ref": "DisableSpillEncryption"},
        }
        if cp.get("KMSKeyId"):
            app_params["KMSKeyId"] = cp["KMSKeyId"]
        resources["Connector"] = {
            "Type": "AWS::Serverless::Application",
            "Properties": {
                "Location": {"ApplicationId": m.application_id,
                             "SemanticVersion": {"Ref": "ConnectorVersion"}},
                "Parameters": app_params,
                "Tags": {"created-by": "xacct-wizard-export"},
            },
        }
        fn_arn = _function_arn_sub()
        depends = ["Connector"]
    params["SpillBucket"] = {"Type": "String", "Default": m.spill_bucket,
                             "Description": "The connector's spill bucket (exists already)."}
    params["SpillPrefix"] = {"Type": "String", "Default": m.spill_prefix,
                             "Description": "Prefix of spilled data in the spill bucket."}
    for c in m.consumers:
        params[f"ConsumerPrincipal{c.tag}"] = {
            "Type": "String", "Default": c.principal_arn,
            "Description": f"The principal in {c.account_id} that runs the queries."}

    catalog: dict[str, Any] = {
        "Type": "AWS::Athena::DataCatalog",
        "Properties": {"Name": {"Ref": "CatalogName"}, "Type": "LAMBDA",
                       "Description": "Athena DynamoDB connector (xacct-wizard export)",
                       "Parameters": {"function": fn_arn}},
    }
    if depends:
        catalog["DependsOn"] = depends
    resources["OwnerCatalog"] = catalog
    for c in m.consumers:
        perm: dict[str, Any] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": fn_arn,
                           "Principal": {"Ref": f"ConsumerPrincipal{c.tag}"}},
        }
        if depends:
            perm["DependsOn"] = depends
        resources[f"InvokePermission{c.tag}"] = perm
    resources["SpillBucketPolicy"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Metadata": {"xacct-wizard": {
            "Warning": BUCKET_POLICY_WARNING,
            "StatementsWrittenByThisSetup": m.own_sids,
            "StatementsKeptFromTheLivePolicy": m.other_sids or ["(none at export time)"],
        }},
        "Properties": {"Bucket": {"Ref": "SpillBucket"},
                       "PolicyDocument": to_cfn(m.bucket_policy)},
    }
    outputs: dict[str, Any] = {
        "ConnectorFunctionArn": {"Description": "The connector Lambda function",
                                 "Value": fn_arn},
        "CatalogName": {"Description": "The Athena data catalog in this account",
                        "Value": {"Ref": "OwnerCatalog"}},
    }
    if not m.existing_function:
        outputs["ConnectorStack"] = {"Description": "The connector's nested stack",
                                     "Value": {"Ref": "Connector"}}
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09"}
    if not m.existing_function:
        template["Transform"] = SERVERLESS_TRANSFORM
    template["Description"] = (
        f"Athena cross-account federation, owner account {m.owner_account}: connector, catalog "
        f"{m.catalog_name}, Lambda permissions, spill bucket policy. {BUCKET_POLICY_WARNING}"
    )[:1024]
    template["Metadata"] = _metadata(m)
    template["Parameters"] = params
    template["Resources"] = resources
    template["Outputs"] = outputs
    return template


def consumer_template(m: SetupModel, c: ConsumerModel) -> dict[str, Any]:
    from wizard.policies import parse_s3_uri

    results_bucket, _ = parse_s3_uri(c.query_results)
    params: dict[str, Any] = {
        "CatalogName": {"Type": "String", "Default": c.catalog_name,
                        "Description": "The catalog's name in this account."},
        "ConnectorFunctionArn": {"Type": "String", "Default": m.function_arn,
                                 "Description": f"The connector in the owner account "
                                                f"{m.owner_account}."},
        "SpillBucket": {"Type": "String", "Default": m.spill_bucket,
                        "Description": "The connector's spill bucket in the owner account."},
        "Workgroup": {"Type": "String", "Default": c.workgroup,
                      "Description": "The Athena workgroup the principal runs queries in."},
        "QueryResultsBucket": {"Type": "String", "Default": results_bucket,
                               "Description": "The bucket of the Athena query results."},
    }
    resources: dict[str, Any] = {}
    principal_ref: Any = c.principal_name
    principal_arn: Any = c.principal_arn
    if c.create_principal and c.principal_kind == "user":
        resources["Principal"] = {
            "Type": "AWS::IAM::User",
            "Properties": {"UserName": c.principal_name, "Path": c.principal_path,
                           "Tags": [{"Key": "created-by", "Value": "xacct-wizard-export"}]},
        }
        principal_ref = {"Ref": "Principal"}
        principal_arn = {"Fn::GetAtt": ["Principal", "Arn"]}
    attach = "Roles" if c.principal_kind == "role" else "Users"
    resources["PrincipalPolicy"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyName": c.identity_policy_name,
                       "PolicyDocument": to_cfn(c.identity_policy),
                       attach: [principal_ref]},
    }
    outputs: dict[str, Any] = {
        "CatalogName": {"Description": "The Athena data catalog in this account",
                        "Value": {"Ref": "ConsumerCatalog"}},
        "PrincipalArn": {"Description": "Who runs the queries", "Value": principal_arn},
    }
    if c.share_method == "assume-role":
        resources["ShareRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": c.share_role_name,
                "Description": "Lets the Athena owner account share a data catalog into this "
                               "account (xacct-wizard export)",
                "AssumeRolePolicyDocument": to_cfn(c.share_trust),
                "Policies": [{"PolicyName": c.share_policy_name,
                              "PolicyDocument": to_cfn(c.share_policy)}],
                "Tags": [{"Key": "created-by", "Value": "xacct-wizard-export"}],
            },
        }
        outputs["ShareRoleArn"] = {"Description": "The role the Athena console's Share assumes",
                                   "Value": {"Fn::GetAtt": ["ShareRole", "Arn"]}}
    resources["ConsumerCatalog"] = {
        "Type": "AWS::Athena::DataCatalog",
        "Properties": {"Name": {"Ref": "CatalogName"}, "Type": "LAMBDA",
                       "Description": f"Shared from account {m.owner_account} (xacct-wizard "
                                      "export)",
                       "Parameters": {"function": {"Ref": "ConnectorFunctionArn"}}},
    }
    order = ("Deploy the owner template first (it grants this account's principal)."
             if not c.create_principal else
             "This template creates the principal: deploy it before the owner template "
             "(whose grants name the principal).")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (f"Athena cross-account federation, consumer account {c.account_id}: "
                        f"identity policy of {c.principal_name}, share role, catalog "
                        f"{c.catalog_name}. {order}")[:1024],
        "Metadata": _metadata(m),
        "Parameters": params,
        "Resources": resources,
        "Outputs": outputs,
    }


def _metadata(m: SetupModel) -> dict[str, Any]:
    return {"xacct-wizard": {"GeneratedBy": m.tool, "GeneratedAt": m.generated_at,
                             "Profile": m.profile_name}}


def _header(m: SetupModel, lines: list[str]) -> str:
    body = [m.header, *lines]
    return "".join(f"# {ln}\n" if ln else "#\n" for ln in body) + "\n"


def owner_file_name(m: SetupModel) -> str:
    return f"owner-{m.owner_account}.yaml"


def consumer_file_name(c: ConsumerModel) -> str:
    return f"consumer-{c.account_id}.yaml"


class _Dumper(yaml.SafeDumper):
    """Plain YAML: a value used twice is written twice (no &anchors a reader must follow)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(template: dict[str, Any]) -> str:
    return yaml.dump(template, Dumper=_Dumper, sort_keys=False, width=100,
                     default_flow_style=False)


def write(m: SetupModel, out: Path) -> list[Path]:
    """Write the templates; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    owner_stack = f"xacct-{m.catalog_name.replace('_', '-')}-owner"
    caps = " ".join(OWNER_CAPABILITIES)
    path = out / owner_file_name(m)
    path.write_text(_header(m, [
        "",
        "Owner account template. Deploy with:",
        f"  aws cloudformation deploy --template-file {path.name} --stack-name {owner_stack} \\",
        f"    --capabilities {caps}",
        "",
        *_wrap("WARNING: " + BUCKET_POLICY_WARNING),
        "Statements kept from the live policy: "
        + (", ".join(m.other_sids) if m.other_sids else "none at export time."),
    ]) + dump(owner_template(m)), encoding="utf-8")
    written.append(path)
    for c in m.consumers:
        path = out / consumer_file_name(c)
        stack = f"xacct-{c.catalog_name.replace('_', '-')}-consumer"
        path.write_text(_header(m, [
            "",
            f"Consumer account {c.account_id} template. Deploy with:",
            f"  aws cloudformation deploy --template-file {path.name} --stack-name {stack} \\",
            f"    --capabilities {' '.join(CONSUMER_CAPABILITIES)}",
        ]) + dump(consumer_template(m, c)), encoding="utf-8")
        written.append(path)
    return written


def _wrap(text: str, width: int = 96) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


def template_json(path: Path) -> dict[str, Any]:
    """Read an exported template back (tests, deploys)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text("utf-8"))))
