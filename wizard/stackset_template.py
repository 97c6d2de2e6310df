"""The one CloudFormation template every account of an OU gets (organization mode).

It holds what the per-account steps make in a consumer account - the share role
``AthenaCrossAccountCreate-<A>``, the principal (or, when it exists already, a policy attached
to it) with its identity policy, and the ``AWS::Athena::DataCatalog`` of type LAMBDA pointing at
A's connector - written once, with the account id left to CloudFormation
(``${AWS::AccountId}``), so the same template is right in every account, including ones that
join the OU later. Pure: no AWS calls.
"""

from __future__ import annotations

import json
from typing import Any

from wizard.policies import identity_policy, share_role_name, share_role_policy, share_role_trust
from wizard.profile import ConsumersFrom

ACCOUNT = "${AWS::AccountId}"
REGION_VAR = "${AWS::Region}"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]


def _sub(value: Any) -> Any:
    """Wrap every string that names ``${AWS::...}`` in Fn::Sub (recursively)."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if "${AWS::" in value else value
    if isinstance(value, list):
        return [_sub(v) for v in value]
    if isinstance(value, dict):
        return {k: _sub(v) for k, v in value.items()}
    return value


def policy_name(catalog: str) -> str:
    return f"XacctWizard-{catalog}"


def build(*, owner_account: str, region: str, function_arn: str, spill_bucket: str,
          spill_prefix: str, source: ConsumersFrom, catalog: str) -> dict[str, Any]:
    """The template as a document (see :func:`body` for the text CloudFormation takes)."""
    identity = identity_policy(
        region=region, consumer_account=ACCOUNT, function_arn=function_arn,
        spill_bucket=spill_bucket, spill_prefix=spill_prefix, workgroup=source.workgroup,
        catalog_name=catalog, results_uri=source.results_for(ACCOUNT))
    resources: dict[str, Any] = {
        "ShareRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": share_role_name(owner_account),
                "Description": f"Lets account {owner_account} share its Athena catalog "
                               f"{catalog} (xacct-wizard)",
                "AssumeRolePolicyDocument": share_role_trust(owner_account),
                "Policies": [{"PolicyName": "AthenaCreateDataCatalog",
                              "PolicyDocument": _sub(share_role_policy(region, ACCOUNT,
                                                                       catalog))}],
            },
        },
        "Catalog": {
            "Type": "AWS::Athena::DataCatalog",
            "Properties": {
                "Name": catalog,
                "Type": "LAMBDA",
                "Description": f"DynamoDB in account {owner_account} (xacct-wizard)",
                "Parameters": {"function": function_arn},
            },
        },
    }
    kind, name = source.principal_kind, source.principal_short_name
    inline = [{"PolicyName": policy_name(catalog), "PolicyDocument": _sub(identity)}]
    if source.create_principal and kind == "role":
        resources["Principal"] = {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": name,
            "Description": f"Queries the {catalog} catalog (xacct-wizard)",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": _sub(f"arn:aws:iam::{ACCOUNT}:root")},
                "Action": "sts:AssumeRole"}]},
            "Policies": inline}}
    elif source.create_principal:
        resources["Principal"] = {"Type": "AWS::IAM::User", "Properties": {
            "UserName": name, "Policies": inline}}
    else:
        resources["PrincipalPolicy"] = {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": policy_name(catalog), "PolicyDocument": _sub(identity),
            ("Roles" if kind == "role" else "Users"): [name]}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"xacct-wizard: query the {catalog} catalog of account {owner_account} "
                       f"(Athena federated query over DynamoDB)",
        "Resources": resources,
    }


def body(template: dict[str, Any]) -> str:
    """Stable text: the same setup gives the same body, so an unchanged plan is `none`."""
    return json.dumps(template, indent=1, sort_keys=True)
