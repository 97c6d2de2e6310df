"""Terraform: one root module (main.tf, variables.tf, outputs.tf, versions.tf).

One aliased ``aws`` provider per account (``aws.owner``, ``aws.consumer_c1``...). Policies are
``jsonencode`` of HCL objects, so references resolve and Terraform compares documents by
meaning. Grants to the connector use ``aws_lambda_permission`` only (never mixed with another
resource managing the same function policy).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from wizard.export.model import (
    BUCKET_POLICY_WARNING,
    PLACEHOLDER_RE,
    ConsumerModel,
    SetupModel,
)


class Expr(str):
    """A raw HCL expression (written as is, not quoted)."""


_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _escape(text: str) -> str:
    out = json.dumps(text)[1:-1]  # \" \\ \n \t and \uXXXX as HCL reads them
    return out.replace("${", "$${").replace("%{", "%%{")


def hcl_string(value: str, refs: dict[str, str]) -> str:
    """A quoted HCL string; placeholders become interpolations of ``refs[name]``."""
    whole = PLACEHOLDER_RE.fullmatch(value)
    if whole:
        return refs[whole.group(1)]
    out, last = ['"'], 0
    for m in PLACEHOLDER_RE.finditer(value):
        out.append(_escape(value[last:m.start()]))
        ref = refs[m.group(1)]
        out.append(_escape(json.loads(ref)) if ref.startswith('"') else "${" + ref + "}")
        last = m.end()
    out.append(_escape(value[last:]))
    out.append('"')
    return "".join(out)


def hcl_value(value: Any, refs: dict[str, str], indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return hcl_string(value, refs)
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{pad}  {hcl_value(v, refs, indent + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = aligned([(json.dumps(k), hcl_value(v, refs, indent + 1))
                         for k, v in value.items()], f"{pad}  ")
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    raise TypeError(f"cannot write {type(value).__name__} as HCL")


def aligned(items: list[tuple[str, str]], pad: str) -> list[str]:
    """``name = value`` lines aligned as ``terraform fmt`` does: the ``=`` of consecutive
    one-line arguments line up; an argument whose value spans lines stands alone."""
    out: list[str] = []
    group: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(n) for n, _ in group), default=0)
        out.extend(f"{pad}{n:<{width}} = {v}" for n, v in group)
        group.clear()

    for name, value in items:
        if "\n" in value:
            flush()
            out.append(f"{pad}{name} = {value}")
        else:
            group.append((name, value))
    flush()
    return out


def block(kind: str, labels: list[str], body: list[tuple[str, Any]] | list[str],
          refs: dict[str, str] | None = None, indent: int = 0) -> str:
    """``kind "l1" "l2" { ... }``; body items are (name, value) arguments or raw lines."""
    refs = refs or {}
    pad = "  " * indent
    head = " ".join([kind, *(json.dumps(x) for x in labels)])
    lines = [f"{pad}{head} {{"]
    run: list[tuple[str, str]] = []
    for item in body:
        if isinstance(item, tuple):
            name, value = item
            run.append((name, hcl_value(value, refs, indent + 1)))
            continue
        lines.extend(aligned(run, f"{pad}  "))
        run = []
        lines.extend(f"{pad}  {ln}" if ln else "" for ln in item.splitlines())
    lines.extend(aligned(run, f"{pad}  "))
    lines.append(f"{pad}}}")
    return "\n".join(lines) + "\n"


def provider_alias(c: ConsumerModel | None) -> str:
    return "owner" if c is None else f"consumer_{c.tag.lower()}"


def _var(name: str) -> Expr:
    return Expr(f"var.{name}")


def _policy(doc: dict[str, Any], refs: dict[str, str], indent: int = 1) -> Expr:
    return Expr("jsonencode(" + hcl_value(doc, refs, indent) + ")")


def _comment(text: str) -> str:
    import textwrap

    return "\n".join(f"# {ln}" for ln in textwrap.wrap(text, 96))


def _c(c: ConsumerModel, name: str) -> str:
    return f"consumer_{c.tag.lower()}_{name}"


def principal_arn_expr(c: ConsumerModel) -> str:
    if c.create_principal and c.principal_kind == "user":
        return f"aws_iam_user.principal_{c.tag.lower()}.arn"
    return f"var.{_c(c, 'principal_arn')}"


def main_tf(m: SetupModel) -> str:
    parts = [_header(m)]
    owner_refs = {"SpillBucket": "var.spill_bucket", "AWS::Region": "var.region",
                  "AWS::AccountId": json.dumps(m.owner_account)}
    for c in m.consumers:
        owner_refs[f"ConsumerPrincipal{c.tag}"] = principal_arn_expr(c)

    parts.append(block("provider", ["aws"], [
        ("alias", "owner"), ("region", _var("region")),
        ("profile", Expr('var.owner_profile != "" ? var.owner_profile : null')),
        ("allowed_account_ids", [m.owner_account])]))
    for c in m.consumers:
        parts.append(block("provider", ["aws"], [
            ("alias", provider_alias(c)), ("region", _var("region")),
            ("profile", Expr(f'var.{_c(c, "profile")} != "" ? var.{_c(c, "profile")} : null')),
            ("allowed_account_ids", [c.account_id])]))

    if m.existing_function:
        fn_arn = "var.connector_function_arn"
        fn_name = Expr("var.connector_function_arn")
        depends: list[str] = []
    else:
        parts.append(block("locals", [], [("connector_function_arn", Expr(
            f'"arn:aws:lambda:${{var.region}}:{m.owner_account}:function:${{var.catalog_name}}"'
        ))]))
        fn_arn = "local.connector_function_arn"
        fn_name = Expr("var.catalog_name")
        cp = m.connector_parameters
        sar_params: dict[str, Any] = {
            "AthenaCatalogName": _var("catalog_name"),
            "SpillBucket": _var("spill_bucket"),
            "SpillPrefix": _var("spill_prefix"),
            "LambdaTimeout": Expr("tostring(var.lambda_timeout)"),
            "LambdaMemory": Expr("tostring(var.lambda_memory)"),
            "DisableSpillEncryption": cp.get("DisableSpillEncryption", "false"),
        }
        if cp.get("KMSKeyId"):
            sar_params["KMSKeyId"] = cp["KMSKeyId"]
        parts.append(_comment("The connector, from the Serverless Application Repository. "
                              "CloudFormation deploys it as the stack serverlessrepo-<name>."))
        parts.append("\n" + block(
            "resource", ["aws_serverlessapplicationrepository_cloudformation_stack", "connector"],
            [("provider", Expr("aws.owner")), ("name", m.stack_name),
             ("application_id", m.application_id),
             ("semantic_version", _var("connector_version")),
             ("capabilities", ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]),
             ("parameters", sar_params),
             ("tags", {"created-by": "xacct-wizard-export"}),
             "",
             "lifecycle {\n"
             "  # The provider reads back the capabilities CloudFormation computed for the\n"
             "  # stack, not the ones given here, so every plan shows a change that is none\n"
             "  # (a perpetual diff: hashicorp/terraform-provider-aws#16485). Capabilities\n"
             "  # never change after the stack is created: ignore them.\n"
             "  ignore_changes = [capabilities]\n"
             "}"]))
        depends = ["aws_serverlessapplicationrepository_cloudformation_stack.connector"]

    dep = [("depends_on", [Expr(d) for d in depends])] if depends else []
    parts.append(block("resource", ["aws_athena_data_catalog", "owner"], [
        ("provider", Expr("aws.owner")), ("name", _var("catalog_name")),
        ("description", "Athena DynamoDB connector (xacct-wizard export)"),
        ("type", "LAMBDA"), ("parameters", {"function": Expr(fn_arn)}), *dep]))

    for c in m.consumers:
        parts.append(block("resource", ["aws_lambda_permission", f"invoke_{c.tag.lower()}"], [
            ("provider", Expr("aws.owner")), ("statement_id", c.lambda_sid),
            ("action", "lambda:InvokeFunction"), ("function_name", fn_name),
            ("principal", Expr(principal_arn_expr(c))), *dep]))

    kept = ", ".join(m.other_sids) if m.other_sids else "none at export time"
    parts.append(_comment("WARNING: " + BUCKET_POLICY_WARNING) + "\n"
                 + _comment(f"Statements written by this setup: {', '.join(m.own_sids)}. "
                            f"Statements kept from the live policy: {kept}.") + "\n")
    parts.append(block("resource", ["aws_s3_bucket_policy", "spill"], [
        ("provider", Expr("aws.owner")), ("bucket", _var("spill_bucket")),
        ("policy", _policy(m.bucket_policy, owner_refs))]))

    for c in m.consumers:
        t = c.tag.lower()
        prov = Expr(f"aws.{provider_alias(c)}")
        refs = {"ConnectorFunctionArn": fn_arn, "SpillBucket": "var.spill_bucket",
                "Workgroup": f"var.{_c(c, 'workgroup')}",
                "CatalogName": f"var.{_c(c, 'catalog_name')}",
                "QueryResultsBucket": f"var.{_c(c, 'query_results_bucket')}",
                "AWS::Region": "var.region", "AWS::AccountId": json.dumps(c.account_id)}
        parts.append(_comment(f"Consumer account {c.account_id}") + "\n")
        principal_name: Any = c.principal_name
        if c.create_principal and c.principal_kind == "user":
            parts.append(block("resource", ["aws_iam_user", f"principal_{t}"], [
                ("provider", prov), ("name", c.principal_name), ("path", c.principal_path),
                ("tags", {"created-by": "xacct-wizard-export"})]))
            principal_name = Expr(f"aws_iam_user.principal_{t}.name")
        if c.principal_kind == "role":
            parts.append(block("resource", ["aws_iam_role_policy", f"principal_{t}"], [
                ("provider", prov), ("name", c.identity_policy_name), ("role", principal_name),
                ("policy", _policy(c.identity_policy, refs))]))
        else:
            parts.append(block("resource", ["aws_iam_user_policy", f"principal_{t}"], [
                ("provider", prov), ("name", c.identity_policy_name), ("user", principal_name),
                ("policy", _policy(c.identity_policy, refs))]))
        catalog_dep: list[tuple[str, Any]] = []
        if c.share_method == "assume-role":
            parts.append(_comment("The exact name the Athena console's Share assumes.") + "\n")
            parts.append(block("resource", ["aws_iam_role", f"share_{t}"], [
                ("provider", prov), ("name", c.share_role_name),
                ("description", "Lets the Athena owner account share a data catalog into this "
                                "account (xacct-wizard export)"),
                ("assume_role_policy", _policy(c.share_trust, refs)),
                ("tags", {"created-by": "xacct-wizard-export"})]))
            parts.append(block("resource", ["aws_iam_role_policy", f"share_{t}"], [
                ("provider", prov), ("name", c.share_policy_name),
                ("role", Expr(f"aws_iam_role.share_{t}.id")),
                ("policy", _policy(c.share_policy, refs))]))
            catalog_dep = [("depends_on", [Expr(f"aws_iam_role_policy.share_{t}")])]
        parts.append(block("resource", ["aws_athena_data_catalog", f"consumer_{t}"], [
            ("provider", prov), ("name", _var(_c(c, "catalog_name"))),
            ("description", f"Shared from account {m.owner_account} (xacct-wizard export)"),
            ("type", "LAMBDA"), ("parameters", {"function": Expr(fn_arn)}), *catalog_dep]))
    return "\n".join(parts)


def variables_tf(m: SetupModel) -> str:
    from wizard.policies import parse_s3_uri

    def var(name: str, type_: str, default: Any, description: str) -> str:
        return block("variable", [name], [("type", Expr(type_)), ("default", default),
                                          ("description", description)])

    parts = [_header(m),
             var("region", "string", m.region, "The region of the whole setup."),
             var("owner_profile", "string", m.owner_profile,
                 f"AWS named profile for the owner account {m.owner_account} (\"\": the "
                 "default credentials)."),
             var("catalog_name", "string", m.catalog_name,
                 "Name of the connector function and of the owner account's catalog."),
             var("spill_bucket", "string", m.spill_bucket,
                 "The connector's spill bucket (exists already)."),
             var("spill_prefix", "string", m.spill_prefix, "Prefix of spilled data.")]
    if m.existing_function:
        parts.append(var("connector_function_arn", "string", m.function_arn,
                         "The connector Lambda function that is already deployed."))
    else:
        cp = m.connector_parameters
        parts += [var("connector_version", "string", m.application_version,
                      "AthenaDynamoDBConnector version in the Serverless Application "
                      "Repository."),
                  var("lambda_timeout", "number", int(cp.get("LambdaTimeout", 900)),
                      "Connector timeout in seconds."),
                  var("lambda_memory", "number", int(cp.get("LambdaMemory", 3008)),
                      "Connector memory in MB.")]
    for c in m.consumers:
        results_bucket, _ = parse_s3_uri(c.query_results)
        parts += [
            var(_c(c, "profile"), "string", c.credentials_profile,
                f"AWS named profile for the consumer account {c.account_id}."),
            var(_c(c, "catalog_name"), "string", c.catalog_name,
                f"The catalog's name in {c.account_id}."),
            var(_c(c, "workgroup"), "string", c.workgroup, "The principal's Athena workgroup."),
            var(_c(c, "query_results_bucket"), "string", results_bucket,
                "The bucket of the Athena query results."),
        ]
        if not (c.create_principal and c.principal_kind == "user"):
            parts.append(var(_c(c, "principal_arn"), "string", c.principal_arn,
                             f"The principal in {c.account_id} that runs the queries."))
    return "\n".join(parts)


def outputs_tf(m: SetupModel) -> str:
    fn = "var.connector_function_arn" if m.existing_function else "local.connector_function_arn"
    parts = [_header(m),
             block("output", ["connector_function_arn"], [("value", Expr(fn))]),
             block("output", ["owner_catalog"], [
                 ("value", Expr("aws_athena_data_catalog.owner.name"))])]
    for c in m.consumers:
        t = c.tag.lower()
        parts.append(block("output", [f"consumer_{t}_catalog"], [
            ("value", Expr(f"aws_athena_data_catalog.consumer_{t}.name"))]))
        if c.share_method == "assume-role":
            parts.append(block("output", [f"consumer_{t}_share_role_arn"], [
                ("value", Expr(f"aws_iam_role.share_{t}.arn"))]))
    return "\n".join(parts)


def versions_tf(m: SetupModel) -> str:
    return _header(m) + (
        "terraform {\n"
        '  required_version = ">= 1.5.0"\n'
        "  required_providers {\n"
        "    aws = {\n"
        '      source  = "hashicorp/aws"\n'
        '      version = ">= 5.0"\n'
        "    }\n"
        "  }\n"
        "}\n")


def _header(m: SetupModel) -> str:
    return f"{_comment(m.header)}\n"


def write(m: SetupModel, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"versions.tf": versions_tf(m), "variables.tf": variables_tf(m),
             "main.tf": main_tf(m), "outputs.tf": outputs_tf(m)}
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
