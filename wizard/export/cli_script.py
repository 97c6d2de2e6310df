"""A bash script of ``aws`` commands doing what ``apply`` does, then the test query.

Idempotent where the CLI allows it: every create is preceded by a read (check, then create),
Lambda permissions are looked up by StatementId in ``get-policy`` before ``add-permission``,
and the spill bucket policy is merged, not replaced: the script reads the live policy and puts
our statements in by Sid, keeping every other statement (a few lines of python3 do the JSON
merge; the AWS CLI itself needs Python, v1 at least).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from wizard.export.model import PLACEHOLDER_RE, ConsumerModel, SetupModel

SCRIPT_NAME = "setup.sh"


def _heredoc_json(doc: dict[str, Any], refs: dict[str, str]) -> str:
    """JSON text for an unquoted heredoc: placeholders -> ``${VAR}``, the rest literal."""
    text = json.dumps(doc, indent=2)
    out, last = [], 0

    def lit(s: str) -> str:
        return s.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")

    for m in PLACEHOLDER_RE.finditer(text):
        out.append(lit(text[last:m.start()]))
        out.append("${" + refs[m.group(1)] + "}")
        last = m.end()
    out.append(lit(text[last:]))
    return "".join(out)


def _doc_var(name: str, doc: dict[str, Any], refs: dict[str, str]) -> str:
    return f"{name}=$(cat <<EOF\n{_heredoc_json(doc, refs)}\nEOF\n)\n"


def _q(value: str) -> str:
    return shlex.quote(value)


def _cv(c: ConsumerModel, name: str) -> str:
    return f"{c.tag}_{name}"


def render(m: SetupModel) -> str:
    from wizard.policies import parse_s3_uri

    L: list[str] = []
    add = L.append
    add("#!/usr/bin/env bash")
    add(f"# {m.header}")
    add("#")
    add("# What `xacct-wizard apply` does, as AWS CLI commands; then the test query.")
    add("# Safe to run again: every step reads first and changes only what is missing.")
    add("# Set the profiles below (or export them before running) to your AWS named profiles.")
    add("set -euo pipefail")
    add("")
    add(f'REGION="${{REGION:-{m.region}}}"')
    add(f'OWNER_PROFILE="${{OWNER_PROFILE:-{m.owner_profile}}}"')
    for c in m.consumers:
        add(f'{_cv(c, "PROFILE")}="${{{_cv(c, "PROFILE")}:-{c.credentials_profile}}}"'
            f"        # consumer account {c.account_id}")
        add(f'{_cv(c, "QUERY_PROFILE")}="${{{_cv(c, "QUERY_PROFILE")}:-{c.query_profile}}}"'
            f"  # runs the test query as {c.principal_name}")
    add('PYTHON="${PYTHON:-python3}"')
    add("")
    add(f"OWNER_ACCOUNT={_q(m.owner_account)}")
    add(f"CATALOG={_q(m.catalog_name)}")
    add(f"SPILL_BUCKET={_q(m.spill_bucket)}")
    add(f"SPILL_PREFIX={_q(m.spill_prefix)}")
    if m.existing_function:
        add(f"FUNCTION_ARN={_q(m.function_arn)}")
    else:
        add(f"APPLICATION_ID={_q(m.application_id)}")
        add(f"CONNECTOR_VERSION={_q(m.application_version)}")
        add(f"STACK_NAME={_q(m.stack_name)}")
        add('FUNCTION_ARN="arn:aws:lambda:${REGION}:${OWNER_ACCOUNT}:function:${CATALOG}"')
    for c in m.consumers:
        rb, _ = parse_s3_uri(c.query_results)
        add(f"{_cv(c, 'ACCOUNT')}={_q(c.account_id)}")
        add(f"{_cv(c, 'PRINCIPAL_ARN')}={_q(c.principal_arn)}")
        add(f"{_cv(c, 'PRINCIPAL_NAME')}={_q(c.principal_name)}")
        add(f"{_cv(c, 'CATALOG')}={_q(c.catalog_name)}")
        add(f"{_cv(c, 'WORKGROUP')}={_q(c.workgroup)}")
        add(f"{_cv(c, 'RESULTS')}={_q(c.query_results)}")
        add(f"{_cv(c, 'RESULTS_BUCKET')}={_q(rb)}")
    add("")
    add('export AWS_PAGER=""')
    add('say() { printf "==> %s\\n" "$*" >&2; }')
    add('aws_as() { local p="$1"; shift; if [ -n "$p" ]; then aws --profile "$p" '
        '--region "$REGION" "$@"; else aws --region "$REGION" "$@"; fi; }')
    add('owner() { aws_as "$OWNER_PROFILE" "$@"; }')
    add("")

    if not m.existing_function:
        params = " ".join(f"Name={k},Value={v}" for k, v in m.connector_parameters.items()
                          if k not in ("AthenaCatalogName", "SpillBucket", "SpillPrefix"))
        add("# 1. The connector from the Serverless Application Repository")
        add('STATUS=$(owner cloudformation describe-stacks --stack-name '
            '"serverlessrepo-${STACK_NAME}" --query "Stacks[0].StackStatus" --output text '
            '2>/dev/null || echo NONE)')
        add('case "$STATUS" in')
        add("  CREATE_COMPLETE|UPDATE_COMPLETE|UPDATE_ROLLBACK_COMPLETE)")
        add('    say "connector stack serverlessrepo-${STACK_NAME} is deployed ($STATUS)" ;;')
        add("  *)")
        add('    if [ "$STATUS" != NONE ]; then')
        add('      say "deleting the stack left in $STATUS"')
        add('      owner cloudformation delete-stack --stack-name "serverlessrepo-${STACK_NAME}"')
        add('      owner cloudformation wait stack-delete-complete --stack-name '
            '"serverlessrepo-${STACK_NAME}"')
        add("    fi")
        add('    say "deploying AthenaDynamoDBConnector ${CONNECTOR_VERSION}"')
        add('    CHANGE_SET=$(owner serverlessrepo create-cloud-formation-change-set \\')
        add('      --application-id "$APPLICATION_ID" --semantic-version "$CONNECTOR_VERSION" \\')
        add('      --stack-name "$STACK_NAME" --capabilities CAPABILITY_IAM '
            'CAPABILITY_RESOURCE_POLICY \\')
        add('      --parameter-overrides Name=AthenaCatalogName,Value="$CATALOG" '
            'Name=SpillBucket,Value="$SPILL_BUCKET" \\')
        add(f'        Name=SpillPrefix,Value="$SPILL_PREFIX" {params} \\')
        add('      --query ChangeSetId --output text)')
        add('    owner cloudformation wait change-set-create-complete --change-set-name '
            '"$CHANGE_SET"')
        add('    owner cloudformation execute-change-set --change-set-name "$CHANGE_SET"')
        add('    owner cloudformation wait stack-create-complete --stack-name '
            '"serverlessrepo-${STACK_NAME}" ;;')
        add("esac")
        add("")

    add("# 2. The Athena data catalog in the owner account")
    add('if owner athena get-data-catalog --name "$CATALOG" >/dev/null 2>&1; then')
    add('  say "catalog $CATALOG exists in the owner account"')
    add("else")
    add('  owner athena create-data-catalog --name "$CATALOG" --type LAMBDA '
        '--description "Created by xacct-wizard export script" \\')
    add('    --parameters "function=${FUNCTION_ARN}"')
    add("fi")
    add("")

    created = [c for c in m.consumers if c.create_principal and c.principal_kind == "user"]
    if created:
        add("# 3. The consumer principals this setup creates (the grants below name them)")
        for c in created:
            add(f'if aws_as "${_cv(c, "PROFILE")}" iam get-user --user-name '
                f'"${_cv(c, "PRINCIPAL_NAME")}" >/dev/null 2>&1; then')
            add(f'  say "user ${_cv(c, "PRINCIPAL_NAME")} exists"')
            add("else")
            add(f'  aws_as "${_cv(c, "PROFILE")}" iam create-user --user-name '
                f'"${_cv(c, "PRINCIPAL_NAME")}" --path {_q(c.principal_path)} >/dev/null')
            add("fi")
        add("")

    add("# 4. The connector's resource policy: each consumer principal may invoke it")
    add('LAMBDA_POLICY=$(owner lambda get-policy --function-name "$FUNCTION_ARN" --query Policy '
        '--output text 2>/dev/null || true)')
    for c in m.consumers:
        sid = c.lambda_sid
        add(f"if printf '%s' \"$LAMBDA_POLICY\" | grep -Eq '\"Sid\": ?\"{sid}\"'; then")
        add(f'  say "permission {sid} exists"')
        add("else")
        add(f'  owner lambda add-permission --function-name "$FUNCTION_ARN" --statement-id {sid} '
            f'\\\n    --action lambda:InvokeFunction --principal "${_cv(c, "PRINCIPAL_ARN")}" '
            ">/dev/null")
        add("fi")
    add("")

    add("# 5. The spill bucket policy: our statements merged in by Sid, every other kept")
    owner_refs = {"SpillBucket": "SPILL_BUCKET", "AWS::Region": "REGION",
                  "AWS::AccountId": "OWNER_ACCOUNT"}
    for c in m.consumers:
        owner_refs[f"ConsumerPrincipal{c.tag}"] = _cv(c, "PRINCIPAL_ARN")
    ours = {"Statement": [st for st in m.bucket_policy["Statement"]
                          if st.get("Sid") in m.own_sids]}
    L.append(_doc_var("OUR_SPILL_STATEMENTS", ours, owner_refs))
    add('CURRENT_POLICY=$(owner s3api get-bucket-policy --bucket "$SPILL_BUCKET" '
        '--expected-bucket-owner "$OWNER_ACCOUNT" --query Policy --output text 2>/dev/null '
        '|| true)')
    add('MERGED_POLICY=$(CURRENT="$CURRENT_POLICY" OURS="$OUR_SPILL_STATEMENTS" "$PYTHON" -c \'')
    add("import json, os")
    add('cur = json.loads(os.environ["CURRENT"]) if os.environ["CURRENT"].strip() else '
        '{"Version": "2012-10-17", "Statement": []}')
    add('sts = cur.get("Statement", [])')
    add("sts = [sts] if isinstance(sts, dict) else list(sts)")
    add('for st in json.loads(os.environ["OURS"])["Statement"]:')
    add('    i = next((n for n, s in enumerate(sts) if s.get("Sid") == st["Sid"]), None)')
    add("    if i is None: sts.append(st)")
    add("    else: sts[i] = st")
    add('cur["Statement"] = sts')
    add("print(json.dumps(cur))')")
    add('owner s3api put-bucket-policy --bucket "$SPILL_BUCKET" --expected-bucket-owner '
        '"$OWNER_ACCOUNT" --policy "$MERGED_POLICY"')
    add('say "spill bucket policy: our statements in place, the others kept"')
    add("")

    for c in m.consumers:
        p = f'"${_cv(c, "PROFILE")}"'
        refs = {"ConnectorFunctionArn": "FUNCTION_ARN", "SpillBucket": "SPILL_BUCKET",
                "Workgroup": _cv(c, "WORKGROUP"), "CatalogName": _cv(c, "CATALOG"),
                "QueryResultsBucket": _cv(c, "RESULTS_BUCKET"), "AWS::Region": "REGION",
                "AWS::AccountId": _cv(c, "ACCOUNT")}
        add(f"# 6. Consumer account {c.account_id}: the principal's identity policy")
        L.append(_doc_var(f"{c.tag}_IDENTITY_POLICY", c.identity_policy, refs))
        kind = "role" if c.principal_kind == "role" else "user"
        add(f'aws_as {p} iam put-{kind}-policy --{kind}-name "${_cv(c, "PRINCIPAL_NAME")}" '
            f'--policy-name {_q(c.identity_policy_name)} \\\n'
            f'  --policy-document "${c.tag}_IDENTITY_POLICY"')
        add("")
        if c.share_method == "assume-role":
            role = c.share_role_name
            add(f"# 7. The share role {role} (the exact name the Athena console's Share assumes)")
            L.append(_doc_var(f"{c.tag}_SHARE_TRUST", c.share_trust, refs))
            L.append(_doc_var(f"{c.tag}_SHARE_POLICY", c.share_policy, refs))
            add(f"if aws_as {p} iam get-role --role-name {_q(role)} >/dev/null 2>&1; then")
            add(f'  say "role {role} exists"')
            add("else")
            add(f"  aws_as {p} iam create-role --role-name {_q(role)} "
                f'--assume-role-policy-document "${c.tag}_SHARE_TRUST" \\')
            add('    --description "Lets the Athena owner account share a data catalog into '
                'this account (xacct-wizard export)" >/dev/null')
            add("fi")
            add(f"aws_as {p} iam put-role-policy --role-name {_q(role)} --policy-name "
                f'{_q(c.share_policy_name)} --policy-document "${c.tag}_SHARE_POLICY"')
            add("")
        add(f"# 8. The catalog in {c.account_id}")
        add(f'if aws_as {p} athena get-data-catalog --name "${_cv(c, "CATALOG")}" >/dev/null '
            "2>&1; then")
        add(f'  say "catalog ${_cv(c, "CATALOG")} exists in {c.account_id}"')
        if c.share_method == "assume-role":
            role_arn = f"arn:aws:iam::{c.account_id}:role/{c.share_role_name}"
            add("else")
            add("  # As the owner account, through the share role (console parity); IAM may "
                "need a few")
            add("  # seconds before a new role can be assumed.")
            add("  for delay in 0 2 4 8; do")
            add('    sleep "$delay"')
            add(f"    if CREDS=$(owner sts assume-role --role-arn {_q(role_arn)} "
                "--role-session-name xacct-wizard-share \\")
            add("        --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' "
                "--output text); then break; fi")
            add("  done")
            add('  read -r KEY_ID SECRET TOKEN <<<"$CREDS"')
            add('  env -u AWS_PROFILE AWS_ACCESS_KEY_ID="$KEY_ID" '
                'AWS_SECRET_ACCESS_KEY="$SECRET" AWS_SESSION_TOKEN="$TOKEN" \\')
            add(f'    aws --region "$REGION" athena create-data-catalog --name '
                f'"${_cv(c, "CATALOG")}" --type LAMBDA \\')
            add(f'    --description "Shared from account {m.owner_account} (xacct-wizard '
                'export script)" --parameters "function=${FUNCTION_ARN}"')
            add("  unset CREDS KEY_ID SECRET TOKEN")
        else:
            add("else")
            add(f'  aws_as {p} athena create-data-catalog --name "${_cv(c, "CATALOG")}" '
                "--type LAMBDA \\")
            add(f'    --description "Shared from account {m.owner_account} (xacct-wizard '
                'export script)" --parameters "function=${FUNCTION_ARN}"')
        add("fi")
        add("")

    add("# 9. The test query, as each consumer principal (needs its credentials)")
    add(f"SQL={_q(m.test_query)}")
    for c in m.consumers:
        qp = _cv(c, "QUERY_PROFILE")
        add(f'if [ -z "${qp}" ]; then')
        add(f'  say "set {qp} to a profile of {c.principal_name} to run the test query in '
            f'{c.account_id}"')
        add("else")
        add(f'  QID=$(aws_as "${qp}" athena start-query-execution --query-string "$SQL" '
            f'--work-group "${_cv(c, "WORKGROUP")}" \\')
        add(f'    --result-configuration "OutputLocation=${_cv(c, "RESULTS")}" '
            "--query QueryExecutionId --output text)")
        add("  for _ in $(seq 1 120); do")
        add(f'    STATE=$(aws_as "${qp}" athena get-query-execution --query-execution-id "$QID" '
            "--query QueryExecution.Status.State --output text)")
        add('    case "$STATE" in SUCCEEDED|FAILED|CANCELLED) break ;; esac')
        add("    sleep 1")
        add("  done")
        add('  if [ "$STATE" != SUCCEEDED ]; then')
        add(f'    aws_as "${qp}" athena get-query-execution --query-execution-id "$QID" '
            "--query QueryExecution.Status.StateChangeReason --output text >&2")
        add(f'    say "test query in {c.account_id}: $STATE"; exit 1')
        add("  fi")
        add(f'  aws_as "${qp}" athena get-query-results --query-execution-id "$QID" '
            "--output table")
        add("fi")
    add('say "done"')
    return "\n".join(L) + "\n"


def write(m: SetupModel, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    path = out / SCRIPT_NAME
    path.write_text(render(m), encoding="utf-8")
    path.chmod(0o755)
    return [path]
