"""An endpoint that answers a web page (a 404 page, a proxy's error, a captive portal) where
an AWS API response was expected: the user is told who answered, that it is not AWS (or not
this SDK's protocol) and what to check - never shown the raw HTML."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.moto_accounts import PROFILE_YAML
from wizard.aws import Account, new_session
from wizard.cli import main
from wizard.errors import AwsOperationError, from_exception
from wizard.steps.base import aws_call

PAGE = (b"<!doctype html><html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1><p>nginx</p></body></html>")


class _Html404(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(PAGE)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html404)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _account(url: str, monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    session = new_session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x" * 12,
                          region_name="us-east-1")
    return Account("owner", "111111111111", session, "us-east-1")


@pytest.mark.parametrize(("service", "operation", "kwargs"), [
    ("athena", "get_data_catalog", {"Name": "acct1dynamodb"}),  # JSON: a ClientError
    ("sts", "get_caller_identity", {}),  # XML: botocore's parser would choke
    ("s3", "get_bucket_policy", {"Bucket": "spill"}),  # REST-XML
])
def test_a_web_page_is_translated_with_the_endpoint_and_what_to_check(
        web_server: str, monkeypatch: pytest.MonkeyPatch, service: str, operation: str,
        kwargs: dict[str, str]) -> None:
    with pytest.raises(AwsOperationError) as caught:
        aws_call(_account(web_server, monkeypatch), service, operation, **kwargs)
    err = caught.value
    text = err.explain()
    assert "<" not in text, text  # no HTML reaches the user
    assert f"{web_server} answered with an HTTP 404 web page" in str(err)
    assert "not an AWS API response" in str(err)
    assert str(err).startswith(f"{''.join(p.title() for p in operation.split('_'))} failed "
                               "(owner)")
    assert f"not the AWS {service} API" in err.cause and "protocol" in err.cause
    assert "--endpoint-url" in err.fix and f"AWS_ENDPOINT_URL_{service.upper()}" in err.fix
    assert "botocore " in err.fix
    assert '"404 Not Found"' in str(err)


def test_a_client_made_elsewhere_is_translated_too(
        web_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain boto3 client has no hook: the HTML in its ClientError is still recognised."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", web_server)
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE",
                          aws_secret_access_key="x" * 12)
    with pytest.raises(Exception) as caught:
        client.get_function(FunctionName="f")
    assert "<!doctype html>" in str(caught.value)  # what botocore says on its own
    err = from_exception(caught.value, service="lambda")
    assert "<" not in err.explain()
    assert f"{web_server} answered with an HTTP 404 web page" in str(err)
    assert "AWS_ENDPOINT_URL_LAMBDA" in err.fix


def test_cli_plan_against_a_web_server_explains_and_logs_it(
        web_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "aws-config"
    config.write_text("".join(
        f"[profile {name}]\naws_access_key_id = AKIAEXAMPLE{i}\n"
        f"aws_secret_access_key = {'s' * 20}\nregion = us-east-1\n\n"
        for i, name in enumerate(("owner", "consumer", "analyst"))))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    profile = tmp_path / "setup.yaml"
    profile.write_text(PROFILE_YAML)

    code = main(["plan", str(profile), "--endpoint-url", web_server])
    out, err = capsys.readouterr()
    assert code == 1
    shown = out + err
    assert "<" not in shown.replace("<SERVICE>", ""), shown
    assert f"{web_server} answered with an HTTP 404 web page" in shown
    assert "--endpoint-url" in shown
    log = (Path(os.environ["XACCT_WIZARD_HOME"]) / "logs" / "xacct-wizard.log").read_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert any("not an AWS API response" in line for line in errors), log
    assert "Fix: Check --endpoint-url" in log


def test_an_empty_or_xml_answer_labelled_html_is_not_a_web_page() -> None:
    """Emulators (moto) label XML and empty answers text/html: only markup decides."""
    from wizard.errors import looks_like_html

    assert not looks_like_html(b"")
    assert not looks_like_html(b'<?xml version="1.0"?><CreateBucketResponse/>')
    assert not looks_like_html(b'{"__type": "ResourceNotFoundException"}')
    assert looks_like_html(b"\n  <!DOCTYPE HTML PUBLIC><html>")
    assert looks_like_html(b"<html><body>Proxy error</body></html>")
