"""Typed errors, and the translation of known AWS/Athena failures into a cause and a fix.

Users meet AWS errors as walls of text; the runbook lists the ones people actually hit. Every
error the tool shows passes through here so it says what went wrong and what to do about it,
and never carries a secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit


class WizardError(Exception):
    """Base of every error the tool reports to a person; ``exit_code`` follows the CLI contract."""

    exit_code = 1

    def __init__(self, message: str, *, cause: str = "", fix: str = "") -> None:
        super().__init__(redact(message))
        self.cause = redact(cause)
        self.fix = redact(fix)

    def explain(self) -> str:
        parts = [str(self)]
        if self.cause:
            parts.append(f"Cause: {self.cause}")
        if self.fix:
            parts.append(f"Fix: {self.fix}")
        return "\n".join(parts)


class InvalidInput(WizardError):
    """Something the user gave us is wrong; nothing was changed (exit 2)."""

    exit_code = 2


class AwsOperationError(WizardError):
    """An AWS call or the test query failed (exit 1)."""

    def __init__(
        self,
        message: str,
        *,
        cause: str = "",
        fix: str = "",
        code: str = "",
        operation: str = "",
        account: str = "",
    ) -> None:
        super().__init__(message, cause=cause, fix=fix)
        self.code = code
        self.operation = operation
        self.account = account


class Cancelled(WizardError):
    """The user cancelled; what was done so far is in the journal and can be resumed."""


class CredentialsError(WizardError):
    """Credentials could not be found, resolved or checked."""

    exit_code = 2


class KeyringUnavailable(CredentialsError):
    """No usable OS keyring: we never fall back to a file, we offer named profiles instead."""


# --------------------------------------------------------------------------- redaction
_SECRET_PATTERNS = [
    # aws_secret_access_key = xxx / "SecretAccessKey": "xxx" / session tokens
    re.compile(
        r"(?i)((?:aws_)?secret_?access_?key|secretaccesskey|(?:aws_)?session_?token|sessiontoken"
        r"|x-amz-security-token|signature)([\"']?\s*[:=]\s*[\"']?)([^\s\"',}&]+)"
    ),
]
_BARE_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_TOKEN = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{100,}={0,2}(?![A-Za-z0-9/+=])")
_TOKEN_BEFORE = re.compile(r"[^\s\"'=,()\[\]{}<>]*$")  # the word a match stands in, up to it
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret this process holds so that ``redact`` removes it wherever it appears."""
    if value and len(value) >= 8:
        _known_secrets.add(value)


def redact(text: str) -> str:
    """Remove secrets from text bound for a person, a log or a file."""
    if not text:
        return text
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "****")
    for pat in _SECRET_PATTERNS:
        text = pat.sub(lambda m: f"{m.group(1)}{m.group(2)}****", text)
    text = _TOKEN.sub("****", text)
    # 40-char base64 runs with lower case and an upper-case letter, digit, '/' or '+' look like
    # secret keys. The resource part of an ARN (``...:123456789012:role/LongRoleName``,
    # ``arn:aws:s3:::bucket/Key``) can look the same: a run inside an ARN is kept.
    def bare(m: re.Match[str]) -> str:
        run = m.group(0)
        if not (re.search(r"[a-z]", run) and re.search(r"[A-Z0-9/+]", run)):
            return run
        token = _TOKEN_BEFORE.search(m.string, 0, m.start())
        if token is not None and token.group(0).startswith("arn:"):
            return run
        return "****"

    return _BARE_SECRET.sub(bare, text)


# --------------------------------------------------------------------------- translation
@dataclass(frozen=True)
class Known:
    pattern: re.Pattern[str]
    cause: str
    fix: str


# The catch-all for a missing permission; its fix is specialised to name the permission.
_ACCESS_DENIED = Known(
    re.compile(r"AccessDenied|Forbidden|not authorized to perform: (\S+)", re.I),
    "The credentials used for this step lack a permission.",
    "Grant the missing permission named in the message to the admin identity for that "
    "account, then retry (apply resumes where it stopped).",
)

KNOWN_FAILURES: list[Known] = [
    Known(
        re.compile(r"(Role|User|DataCatalog) (with name )?\S+ already exists", re.I),
        "The account already has a role, user or catalog of the name the StackSet creates (made "
        "by hand, or by a per-account setup of this tool), so its stack was rolled back.",
        "Remove or rename it in that account (or destroy the per-account setup that made it).",
    ),
    Known(
        re.compile(r"not authorized to perform: lambda:InvokeFunction.*no identity-based policy",
                   re.I | re.S),
        "The consumer principal's identity policy (its own IAM policy) does not allow invoking "
        "the connector Lambda (runbook step 10).",
        "Run `xacct-wizard apply` again to restore the principal's identity policy, or add "
        "lambda:InvokeFunction on the connector function ARN to the principal's policy.",
    ),
    Known(
        re.compile(r"not authorized to perform: lambda:InvokeFunction.*(no resource-based policy"
                   r"|resource-based policy)", re.I | re.S),
        "The connector Lambda's resource policy in the owner account does not allow the consumer "
        "principal (runbook step 7).",
        "Run `xacct-wizard apply` again to restore the Lambda permission, or add a permission for "
        "the principal with `aws lambda add-permission` in the owner account.",
    ),
    Known(
        re.compile(r"not authorized to perform: lambda:InvokeFunction.*explicit deny", re.I | re.S),
        "An explicit Deny in an IAM policy blocks invoking the connector Lambda.",
        "Find the Deny statement on the principal (or its groups / permission boundary / SCP) "
        "and exclude the connector function from it.",
    ),
    Known(
        re.compile(r"not authorized to perform: athena:StartQueryExecution", re.I),
        "The principal may not run queries in this workgroup (runbook step 10).",
        "Run `xacct-wizard apply` to restore the identity policy, or allow "
        "athena:StartQueryExecution on the workgroup ARN.",
    ),
    Known(
        re.compile(r"spill_bucket: .* not found under your account|Error while checking bucket "
                   r"ownership", re.I | re.S),
        "The connector cannot use its spill bucket: wrong name, wrong region, or a trailing '/'.",
        "Check connector.spill_bucket (no trailing '/') and that the bucket is in the profile's "
        "region in the owner account.",
    ),
    Known(
        re.compile(r"(access denied|accessdenied|not authorized).*(spill)", re.I | re.S),
        "The consumer cannot read the connector's spill data: large results are spilled to S3 "
        "in the owner account and read back as the consumer (runbook step 8/9).",
        "Run `xacct-wizard apply` again to restore the spill-bucket grant (and the KMS key grant "
        "when the spill data uses a customer-managed key).",
    ),
    Known(
        re.compile(r"does not have the permissions to assume a role", re.I),
        "The owner account could not assume the share role in the consumer account: the role "
        "must be named AthenaCrossAccountCreate-<owner id> and trust the owner (runbook step 11).",
        "Run `xacct-wizard apply` again to recreate the role, or fix its name and trust policy.",
    ),
    Known(
        re.compile(r"Catalog '?\"?([^'\" ]+)'?\"? does not exist|CATALOG_NOT_FOUND", re.I),
        "The data catalog is not registered in the consumer account (runbook step 12).",
        "Run `xacct-wizard apply` again to share the catalog, and check the catalog name the "
        "query uses.",
    ),
    Known(
        re.compile(r"Requested resource not found: Table: (\S+) not found|Table .* not found",
                   re.I),
        "The connector found no such DynamoDB table in the owner account and region.",
        "Check the table name and region; names are matched case-insensitively, and two tables "
        "whose names differ only by case cannot both be queried.",
    ),
    Known(
        re.compile(r"Requires capabilities", re.I),
        "The application needs IAM capabilities that were not acknowledged (runbook step 3).",
        "Pass the application's RequiredCapabilities (xacct-wizard does this; update it).",
    ),
    Known(
        re.compile(r"(output location|OutputLocation|s3:PutObject)", re.I),
        "Athena could not write the query results: no output location, or no s3:PutObject on it.",
        "Set consumers[].query_results to an s3:// URI in the consumer account and re-apply so "
        "the principal may write there.",
    ),
    Known(
        re.compile(r"Invalid principal in policy", re.I),
        "S3 rejected the bucket policy because the consumer principal does not exist.",
        "Create the principal first (or set create_principal: true) and apply again.",
    ),
    Known(
        re.compile(r"ExpiredToken|security token included in the request is expired", re.I),
        "The credentials have expired.",
        "Sign in again (an SSO profile: Sign in on the Accounts page, or `aws sso login "
        "--profile` with the profile's name; a role: check again, a new MFA code is asked) "
        "and retry.",
    ),
    Known(
        re.compile(r"InvalidClientTokenId|UnrecognizedClientException|security token included "
                   r"in the request is invalid", re.I),
        "AWS does not recognise these credentials.",
        "Check the profile or keyring entry; the access key may be deleted or inactive.",
    ),
    _ACCESS_DENIED,
    Known(
        re.compile(r"Throttl|Rate exceeded|TooManyRequests|RequestLimitExceeded|SlowDown"
                   r"|reduce your request rate", re.I),
        "AWS throttled the requests even after retries.",
        "Wait a minute and run the same command again; it resumes where it stopped.",
    ),
    Known(
        re.compile(r"Could not connect|Connect timeout|Read timeout|EndpointConnectionError"
                   r"|Connection was closed|Connection reset", re.I),
        "The AWS endpoint could not be reached (xacct-wizard retried the call 5 times).",
        "Check the network / proxy / --endpoint-url and run the same command again; it resumes "
        "where it stopped.",
    ),
]

# The IAM action an operation needs, where it is not "<service>:<Operation>".
_IAM_ACTIONS = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
}
_NAMED_ACTION = re.compile(r"not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)", re.I)


def iam_action(service: str, operation: str) -> str:
    """``s3``/``PutBucketEncryption`` -> ``s3:PutEncryptionConfiguration`` (what to grant)."""
    return _IAM_ACTIONS.get((service, operation), f"{service}:{operation}")


def _denied_fix(message: str, service: str, operation: str, account: str) -> str:
    """A fix that names the missing permission: from AWS's message, else from the operation."""
    named = _NAMED_ACTION.search(message)
    action = named.group(1) if named else (iam_action(service, operation)
                                           if service and operation else "")
    if not action:
        return _ACCESS_DENIED.fix
    who = f"the {account} credentials" if account else "the admin credentials for that account"
    return (f"Allow {action} for {who} (the identity the profile uses there), then run the "
            "same command again; it resumes where it stopped.")


def _match(message: str) -> Known | None:
    for known in KNOWN_FAILURES:
        if known.pattern.search(message or ""):
            return known
    return None


def translate(message: str) -> tuple[str, str]:
    """(cause, fix) for a known failure message, else ("", "")."""
    known = _match(message)
    return (known.cause, known.fix) if known else ("", "")


# --------------------------------------------------------------------------- not AWS at all
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<title)", re.I)
_HTML_IN_TEXT = re.compile(r"<!doctype\s+html|<html[\s>]|<body[\s>]|<title>", re.I)
_TITLE = re.compile(r"<title[^>]*>\s*([^<]{1,120}?)\s*</title>", re.I | re.S)


def looks_like_html(body: bytes) -> bool:
    """Whether an HTTP answer is a web page (a proxy's error, a captive portal, a web server's
    404) rather than an AWS API response, which is always JSON or XML (or empty).

    The markup decides, not the Content-Type: emulators label XML and empty answers
    ``text/html`` (moto does), and an empty 404 to a HEAD is a normal AWS answer."""
    return bool(_HTML_START.match(body[:512]))


def endpoint_of(url: str) -> str:
    """``scheme://host:port`` of a request URL: where the answer came from, without the path
    (which may carry resource names) or a query string (which may carry a signature)."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def configured_endpoint(service: str = "") -> str:
    """The endpoint override the environment sets for ``service`` (botocore's own variables),
    or "" when requests go to AWS's own endpoints."""
    if service:
        key = "AWS_ENDPOINT_URL_" + re.sub(r"[^A-Z0-9]", "_", service.upper())
        if os.environ.get(key):
            return os.environ[key]
    return os.environ.get("AWS_ENDPOINT_URL", "")


class NotAwsAnswer(Exception):
    """An endpoint answered with something that is not an AWS API response.

    Raised from a botocore hook (``wizard.aws``) before botocore tries to parse the page, so
    the user is told who answered instead of seeing raw HTML or an XML parser's complaint.
    """

    def __init__(self, *, endpoint: str, status: int, service: str, operation: str,
                 body: bytes | str = b"", sdk_version: str = "") -> None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        title = _TITLE.search(text or "")
        self.endpoint = endpoint
        self.status = status
        self.service = service
        self.operation = operation
        self.title = " ".join(title.group(1).split()) if title else ""
        self.sdk_version = sdk_version
        self.kwargs: dict[str, object] = {}  # what botocore's own errors carry (see wizard.aws)
        # Exception's, not super(): wizard.aws mixes this into botocore's BotoCoreError.
        Exception.__init__(self, f"{operation}: HTTP {status} web page from "
                                 f"{endpoint or 'the endpoint'}")


def _sdk_version() -> str:
    try:
        import botocore

        return str(botocore.__version__)
    except ImportError:  # pragma: no cover - the engine always has botocore
        return ""


def not_aws_error(answer: NotAwsAnswer, *, operation: str = "",
                  account: str = "") -> AwsOperationError:
    """The translation of a web page where an AWS answer was expected: who answered, that it
    is not AWS (or not this SDK's protocol), and what to check."""
    op = answer.operation or operation
    where = f" ({account})" if account else ""
    endpoint = answer.endpoint or configured_endpoint(answer.service) or "the AWS endpoint"
    page = (f"HTTP {answer.status} " if answer.status else "") + "web page" \
        + (f" \"{answer.title}\"" if answer.title else "")
    article = "an" if page[0] in "HAEIOU" or page.startswith("HTTP") else "a"
    service_var = ("AWS_ENDPOINT_URL_" + re.sub(r"[^A-Z0-9]", "_", answer.service.upper())
                   if answer.service else "AWS_ENDPOINT_URL_<SERVICE>")
    sdk = f"botocore {answer.sdk_version or _sdk_version()}".strip()
    message = (f"{op + ' failed' if op else 'An AWS call failed'}{where}: {endpoint} answered "
               f"with {article} {page}, not an AWS API response.")
    api = f"the AWS {answer.service} API" if answer.service else "an AWS API"
    cause = (f"What answers at {endpoint} is not {api}"
             " (a wrong endpoint URL, a proxy's error page, a captive portal or a plain web "
             "server), or it is an emulator that does not speak the protocol this SDK "
             f"({sdk}) uses for that service.")
    fix = (f"Check --endpoint-url and the AWS_ENDPOINT_URL / {service_var} variables (unset them "
           "to reach AWS itself), the proxy settings (HTTPS_PROXY / NO_PROXY) and the network "
           f"login; with an emulator, make sure it supports {sdk} (`pip show botocore`). Then "
           "run the same command again; it resumes where it stopped.")
    return AwsOperationError(message, cause=cause, fix=fix, code=str(answer.status),
                             operation=op, account=account)


def _html_answer(exc: BaseException, code: str, message: str,
                 service: str, operation: str) -> NotAwsAnswer | None:
    """A web page that reached us some other way: a ClientError whose message is HTML (a
    client made without our hook) or botocore's parser choking on it."""
    text = str(exc)
    if not (_HTML_IN_TEXT.search(message) or
            ("Unable to parse response" in text and _HTML_IN_TEXT.search(text))):
        return None
    status = int(code) if code.isdigit() else 0
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and not status:
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return NotAwsAnswer(endpoint=configured_endpoint(service), status=status, service=service,
                        operation=operation, body=message if _HTML_IN_TEXT.search(message)
                        else text)


def from_exception(exc: BaseException, *, operation: str = "", account: str = "",
                   service: str = "") -> WizardError:
    """Wrap any exception from a boto3 call as a translated, redacted WizardError."""
    if isinstance(exc, WizardError):
        return exc
    if isinstance(exc, NotAwsAnswer):
        return not_aws_error(exc, operation=operation, account=account)
    code = ""
    message = str(exc)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or message
    op_name = operation or getattr(exc, "operation_name", "")
    html = _html_answer(exc, code, message, service, op_name)
    if html is not None:
        return not_aws_error(html, operation=op_name, account=account)
    known = _match(f"{code} {message}")
    cause, fix = (known.cause, known.fix) if known else ("", "")
    if known is _ACCESS_DENIED:
        op_name = operation or getattr(exc, "operation_name", "")
        fix = _denied_fix(message, service, op_name, account)
    where = f" ({account})" if account else ""
    op = operation or getattr(exc, "operation_name", "")
    text = f"{op} failed{where}: {code + ': ' if code else ''}{message}" if op else message
    return AwsOperationError(text, cause=cause, fix=fix, code=code, operation=op, account=account)


class UpgradeFailed(AwsOperationError):
    """The test query failed after a connector upgrade (exit 1).

    ``rollback_to`` names the version the wizard can return to (None: it is no longer offered,
    or there is none); ``rolled_back`` says the return was made. The GUI offers the rollback
    from it; the CLI's ``apply --rollback-on-failure`` makes it without asking.
    """

    def __init__(self, message: str, *, cause: str = "", fix: str = "",
                 rollback_to: str | None = None, rolled_back: bool = False) -> None:
        super().__init__(message, cause=cause, fix=fix, operation="test query after upgrade",
                         account="owner")
        self.rollback_to = rollback_to
        self.rolled_back = rolled_back
