#!/usr/bin/env bash
# The hand-written alternative to `xacct-wizard apply` + `verify`: the runbook
# (shared/runbook.md), step by step, as an administrator would script it with the AWS CLI.
#
# bench/run.py times this against the sandbox; it works against real accounts too. Everything
# comes from the environment (defaults: the sandbox's accounts and profiles):
#   OWNER_PROFILE, CONSUMER_PROFILE, ANALYST_PROFILE   AWS named profiles for A, B's admin, P
#   A, B, REGION, CAT, SPILL, PREFIX, P, RESULTS, WORKGROUP, APP
#   STATE_DIR   where the prior bucket policy is kept for manual_teardown.sh
#   AWS         the aws executable (default: aws on PATH); PYTHON for the policy merge
# The AWS CLI comes from PyPI (`pip install awscli`); AWS_ENDPOINT_URL / AWS_CONFIG_FILE point
# it at an emulator. No jq: the bucket policy merge (runbook step 8) is a few lines of Python.
set -euo pipefail

AWS=${AWS:-aws}
PYTHON=${PYTHON:-python3}
REGION=${REGION:-us-east-1}
A=${A:-111111111111}
B=${B:-222222222222}
CAT=${CAT:-acct1dynamodb}
SPILL=${SPILL:-xacct-sandbox-spill-$A}
PREFIX=${PREFIX:-athena-spill}
P=${P:-arn:aws:iam::$B:user/analyst}
RESULTS=${RESULTS:-s3://xacct-sandbox-results-$B/queries/}
WORKGROUP=${WORKGROUP:-primary}
APP=${APP:-arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaDynamoDBConnector}
OWNER_PROFILE=${OWNER_PROFILE:-sandbox-owner}
CONSUMER_PROFILE=${CONSUMER_PROFILE:-sandbox-consumer}
ANALYST_PROFILE=${ANALYST_PROFILE:-sandbox-analyst}
STATE_DIR=${STATE_DIR:-.}
STACK=serverlessrepo-$CAT
ROLE=AthenaCrossAccountCreate-$A
SID=ManualSpillRead$B
P_NAME=${P##*/}
RESULTS_BUCKET=${RESULTS#s3://}
RESULTS_BUCKET=${RESULTS_BUCKET%%/*}
RESULTS_PREFIX=${RESULTS#s3://$RESULTS_BUCKET/}

owner()    { "$AWS" --profile "$OWNER_PROFILE" --region "$REGION" "$@"; }
consumer() { "$AWS" --profile "$CONSUMER_PROFILE" --region "$REGION" "$@"; }
analyst()  { "$AWS" --profile "$ANALYST_PROFILE" --region "$REGION" "$@"; }
say()      { echo "== $*" >&2; }
mkdir -p "$STATE_DIR"

# ---------------------------------------------------------------- owner account A
say "1. spill bucket $SPILL exists"
owner s3api head-bucket --bucket "$SPILL" >/dev/null

say "2. SAR application: newest version and its capabilities"
read -r VERSION CAPS < <(owner serverlessrepo get-application --application-id "$APP" \
  --query '[Version.SemanticVersion, join(`,`, Version.RequiredCapabilities)]' --output text)
echo "AthenaDynamoDBConnector $VERSION ($CAPS)" >&2

say "3. change set for stack $STACK"
CHANGE_SET=$(owner serverlessrepo create-cloud-formation-change-set --application-id "$APP" \
  --semantic-version "$VERSION" --stack-name "$CAT" --capabilities ${CAPS//,/ } \
  --parameter-overrides Name=AthenaCatalogName,Value="$CAT" Name=SpillBucket,Value="$SPILL" \
    Name=SpillPrefix,Value="$PREFIX" Name=LambdaTimeout,Value=900 Name=LambdaMemory,Value=3008 \
    Name=DisableSpillEncryption,Value=false \
  --query ChangeSetId --output text)

say "4. wait for the change set, execute it, wait for the stack"
owner cloudformation wait change-set-create-complete --change-set-name "$CHANGE_SET"
owner cloudformation execute-change-set --change-set-name "$CHANGE_SET"
owner cloudformation wait stack-create-complete --stack-name "$STACK"
owner cloudformation describe-stack-events --stack-name "$STACK" \
  --query 'StackEvents[].[LogicalResourceId, ResourceStatus]' --output text >&2

say "5. the connector function"
FUNCTION=$(owner cloudformation describe-stack-resource --stack-name "$STACK" \
  --logical-resource-id ConnectorConfig --query StackResourceDetail.PhysicalResourceId \
  --output text)
FN_ARN=$(owner lambda get-function --function-name "$FUNCTION" \
  --query Configuration.FunctionArn --output text)
echo "$FN_ARN" >&2

say "6. LAMBDA data catalog $CAT in A"
owner athena create-data-catalog --name "$CAT" --type LAMBDA --parameters "function=$FN_ARN" \
  >/dev/null

# ---------------------------------------------------------------- consumer principal (10, first)
say "10a. principal $P exists (S3 rejects a bucket policy naming a missing one)"
consumer iam get-user --user-name "$P_NAME" --query User.Arn --output text >&2

say "7. Lambda grant: read the policy first (a duplicate StatementId is a conflict)"
if ! owner lambda get-policy --function-name "$FUNCTION" --query Policy --output text \
    2>/dev/null | grep -q "xacct-manual-$B"; then
  owner lambda add-permission --function-name "$FUNCTION" --statement-id "xacct-manual-$B" \
    --action lambda:InvokeFunction --principal "$P" >/dev/null
fi

say "8. spill grant: merge our statement into the bucket policy by Sid"
PRIOR=$(owner s3api get-bucket-policy --bucket "$SPILL" --query Policy --output text \
  2>/dev/null || true)
printf '%s' "$PRIOR" > "$STATE_DIR/prior-bucket-policy.json"
MERGED=$(PRIOR="$PRIOR" SID="$SID" P="$P" SPILL="$SPILL" "$PYTHON" -c '
import json, os
doc = json.loads(os.environ["PRIOR"] or "{\"Version\": \"2012-10-17\", \"Statement\": []}")
st = doc.setdefault("Statement", [])
if isinstance(st, dict):
    st = doc["Statement"] = [st]
b = os.environ["SPILL"]
new = {"Sid": os.environ["SID"], "Effect": "Allow", "Principal": {"AWS": [os.environ["P"]]},
       "Action": ["s3:GetObject", "s3:ListBucket"],
       "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}
doc["Statement"] = [s for s in st if s.get("Sid") != new["Sid"]] + [new]
print(json.dumps(doc))')
owner s3api put-bucket-policy --bucket "$SPILL" --policy "$MERGED" --expected-bucket-owner "$A"

# 9. KMS: the sandbox's spill bucket uses SSE-S3, so there is no key policy to change.

# ---------------------------------------------------------------- consumer account B
say "10b. identity policy on $P"
consumer iam put-user-policy --user-name "$P_NAME" --policy-name xacct-manual-athena-federation \
  --policy-document "$(cat <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": ["$FN_ARN"]},
 {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
  "Resource": ["arn:aws:s3:::$SPILL", "arn:aws:s3:::$SPILL/$PREFIX/*"]},
 {"Effect": "Allow", "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution",
   "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"],
  "Resource": ["arn:aws:athena:$REGION:$B:workgroup/$WORKGROUP"]},
 {"Effect": "Allow", "Action": ["athena:GetDataCatalog", "athena:ListDatabases",
   "athena:GetDatabase", "athena:ListTableMetadata", "athena:GetTableMetadata"],
  "Resource": ["arn:aws:athena:$REGION:$B:datacatalog/$CAT"]},
 {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
  "Resource": ["arn:aws:s3:::$RESULTS_BUCKET"]},
 {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
   "s3:ListMultipartUploadParts"], "Resource": ["arn:aws:s3:::$RESULTS_BUCKET/$RESULTS_PREFIX*"]}
]}
EOF
)"

say "11. share role $ROLE in B"
consumer iam create-role --role-name "$ROLE" --assume-role-policy-document \
  "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::$A:root\"}, \"Action\": \"sts:AssumeRole\"}]}" \
  >/dev/null
consumer iam put-role-policy --role-name "$ROLE" --policy-name xacct-manual-share \
  --policy-document "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": [\"athena:CreateDataCatalog\"], \"Resource\": [\"arn:aws:athena:$REGION:$B:datacatalog/$CAT\"]}]}"

say "12. share: A assumes $ROLE (IAM is eventually consistent: retry) and creates the catalog"
CREDS=""
for delay in 0 1 2 3 5; do
  sleep "$delay"
  if CREDS=$(owner sts assume-role --role-arn "arn:aws:iam::$B:role/$ROLE" \
      --role-session-name xacct-manual-share \
      --query '[Credentials.AccessKeyId, Credentials.SecretAccessKey, Credentials.SessionToken]' \
      --output text); then
    break
  fi
done
[ -n "$CREDS" ] || { echo "could not assume $ROLE" >&2; exit 1; }
read -r KEY SECRET TOKEN <<<"$CREDS"
env -u AWS_PROFILE AWS_ACCESS_KEY_ID="$KEY" AWS_SECRET_ACCESS_KEY="$SECRET" \
  AWS_SESSION_TOKEN="$TOKEN" "$AWS" --region "$REGION" athena create-data-catalog --name "$CAT" \
  --type LAMBDA --parameters "function=$FN_ARN" >/dev/null

say "13. verify: the catalog in B points at the connector"
consumer athena get-data-catalog --name "$CAT" --query 'DataCatalog.[Type, Parameters.function]' \
  --output text >&2

say "14. test query as $P, polled to completion"
QID=$(analyst athena start-query-execution \
  --query-string "SELECT * FROM \"$CAT\".\"default\".\"music\" LIMIT 10" \
  --query-execution-context "Catalog=$CAT,Database=default" --work-group "$WORKGROUP" \
  --result-configuration "OutputLocation=$RESULTS" --query QueryExecutionId --output text)
delay=0.05
while :; do
  STATE=$(analyst athena get-query-execution --query-execution-id "$QID" \
    --query QueryExecution.Status.State --output text)
  case "$STATE" in
    SUCCEEDED) break ;;
    FAILED|CANCELLED) echo "test query $STATE" >&2; exit 1 ;;
  esac
  sleep "$delay"
  delay=$(awk -v d="$delay" 'BEGIN { d *= 1.6; print (d > 2 ? 2 : d) }')
done
analyst athena get-query-results --query-execution-id "$QID" \
  --query 'ResultSet.Rows[].Data[].VarCharValue' --output text
say "done"
