#!/usr/bin/env bash
# The hand-written alternative to `xacct-wizard destroy`: the runbook's "Cleanup" section, in
# reverse order, undoing exactly what manual_setup.sh did (same environment variables; the
# prior bucket policy comes back from $STATE_DIR/prior-bucket-policy.json).
set -euo pipefail

AWS=${AWS:-aws}
REGION=${REGION:-us-east-1}
A=${A:-111111111111}
B=${B:-222222222222}
CAT=${CAT:-acct1dynamodb}
SPILL=${SPILL:-xacct-sandbox-spill-$A}
P=${P:-arn:aws:iam::$B:user/analyst}
OWNER_PROFILE=${OWNER_PROFILE:-sandbox-owner}
CONSUMER_PROFILE=${CONSUMER_PROFILE:-sandbox-consumer}
STATE_DIR=${STATE_DIR:-.}
STACK=serverlessrepo-$CAT
ROLE=AthenaCrossAccountCreate-$A
P_NAME=${P##*/}

owner()    { "$AWS" --profile "$OWNER_PROFILE" --region "$REGION" "$@"; }
consumer() { "$AWS" --profile "$CONSUMER_PROFILE" --region "$REGION" "$@"; }
say()      { echo "== $*" >&2; }

say "catalog $CAT in B"
consumer athena delete-data-catalog --name "$CAT"

say "identity policy of $P"
consumer iam delete-user-policy --user-name "$P_NAME" --policy-name xacct-manual-athena-federation

say "share role $ROLE"
consumer iam delete-role-policy --role-name "$ROLE" --policy-name xacct-manual-share
consumer iam delete-role --role-name "$ROLE"

say "Lambda grant"
owner lambda remove-permission --function-name "$CAT" --statement-id "xacct-manual-$B"

say "restore the spill bucket policy"
PRIOR=$(cat "$STATE_DIR/prior-bucket-policy.json" 2>/dev/null || true)
if [ -n "$PRIOR" ] && [ "$PRIOR" != "None" ]; then
  owner s3api put-bucket-policy --bucket "$SPILL" --policy "$PRIOR" --expected-bucket-owner "$A"
else
  owner s3api delete-bucket-policy --bucket "$SPILL" --expected-bucket-owner "$A"
fi

say "catalog $CAT in A"
owner athena delete-data-catalog --name "$CAT"

say "stack $STACK"
owner cloudformation delete-stack --stack-name "$STACK"
owner cloudformation wait stack-delete-complete --stack-name "$STACK"

say "log group /aws/lambda/$CAT (not a stack resource)"
owner logs delete-log-group --log-group-name "/aws/lambda/$CAT" 2>/dev/null || true
say "done"
