"""Lambda trigger against moto in server mode (real HTTP), and a stand-in for IAM refusals.

moto 5 runs Lambda without Docker when its config says `{"lambda": {"use_docker": false}}` (set over HTTP
at /moto-api/config). That backend accepts Event invokes; moto's recorder shows the request it received.
"""

from __future__ import annotations

import json
import re

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from prefect_faasr.triggers import LambdaAuth, TriggerError, trigger_entry
from prefect_faasr.triggers import lambda_ as lam
from triggers.standins import MotoServer, closed_port, create_lambda_function, lambda_server, workflow

pytestmark = pytest.mark.integration  # a moto server


PAYLOAD_URL = "faasr-owner/faasr-actions/main/tests/TriggerWF.json"
KEY_ID, SECRET = "AKIAFAASRTESTKEY0001", "faasrLambdaSecret/0123456789abcdefghijkl"


def auth(endpoint: str) -> LambdaAuth:
    return LambdaAuth(
        access_key_id=SecretStr(KEY_ID),
        secret_access_key=SecretStr(SECRET),
        endpoint_url=endpoint,
        source="block aws-credentials/lambda",
    )


@pytest.fixture
def simple_lambda(moto: MotoServer) -> MotoServer:
    moto.set_lambda_docker(False)
    return moto


def test_event_invoke_reaches_lambda_with_faasr_payload(simple_lambda: MotoServer) -> None:
    create_lambda_function(simple_lambda, "TriggerWF-start", region="us-west-2")
    wf = workflow(lambda_server("us-west-2"))
    invocation = wf.new_invocation()

    with simple_lambda.record() as seen:
        receipt = trigger_entry(wf, invocation, PAYLOAD_URL, auth(simple_lambda.url))

    invokes = [e for e in seen if "/invocations" in e["url"]]
    assert len(invokes) == 1
    request = invokes[0]
    assert request["method"] == "POST"
    assert request["url"].endswith("/2015-03-31/functions/TriggerWF-start/invocations")
    assert request["headers"]["X-Amz-Invocation-Type"] == "Event"
    assert f"Credential={KEY_ID}/" in request["headers"]["Authorization"]
    assert "/us-west-2/lambda/aws4_request" in request["headers"]["Authorization"]
    payload = json.loads(request["body"])
    assert set(payload) == {"OVERWRITTEN", "PAYLOAD_URL"}
    assert payload["PAYLOAD_URL"] == PAYLOAD_URL
    assert isinstance(payload["OVERWRITTEN"], str), "Lambda gets OVERWRITTEN as JSON text"
    assert json.loads(payload["OVERWRITTEN"]) == {
        "FunctionInvoke": "start",
        "InvocationID": invocation.invocation_id,
        "InvocationTimestamp": invocation.timestamp,
    }
    assert receipt.faas_type == "Lambda"
    assert receipt.status_code == 202
    assert receipt.url == "lambda:us-west-2:TriggerWF-start"
    assert receipt.activation_id


def test_missing_function(moto: MotoServer) -> None:
    # moto's Docker backend looks the function up before it would need Docker: a real ResourceNotFound.
    moto.set_lambda_docker(True)
    try:
        wf = workflow(lambda_server("eu-west-1"), name="NoSuchWF")
        with pytest.raises(TriggerError) as exc:
            trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(moto.url))
    finally:
        moto.set_lambda_docker(False)
    message = str(exc.value)
    assert "no Lambda function NoSuchWF-start in region eu-west-1 (ResourceNotFoundException)" in message
    assert "entry action 'start' on ComputeServers 'Entry' (Lambda)" in message
    assert SECRET not in message and KEY_ID not in message


def test_check_function(simple_lambda: MotoServer) -> None:
    create_lambda_function(simple_lambda, "CheckWF-start")
    client = lam.lambda_client(auth(simple_lambda.url), "us-east-1")
    assert lam.check_function(client, "CheckWF-start") is None
    missing = lam.check_function(client, "CheckWF-absent")
    assert missing is not None and not missing.server_wide
    assert "no Lambda function CheckWF-absent in region us-east-1" in missing.message


def test_unreachable_endpoint() -> None:
    wf = workflow(lambda_server())
    with pytest.raises(TriggerError, match="cannot reach the Lambda endpoint for region us-east-1"):
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(f"http://127.0.0.1:{closed_port()}"))


class FakeLambdaIam:
    """Lambda's REST-JSON error answers to an IAM refusal: one known key, which has no permission."""

    def __init__(self, server: HTTPServer, known_key: str) -> None:
        self.known_key = known_key
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        server.expect_request(re.compile(r"^/2015-03-31/functions/.*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.seen.append((request.method, request.path, dict(request.headers)))
        m = re.search(
            r"Credential=([^/]+)/\d{8}/([^/]+)/lambda/aws4_request", request.headers.get("Authorization", "")
        )
        if not m or m[1] != self.known_key:
            return self.error(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        action = "InvokeFunction" if request.path.endswith("/invocations") else "GetFunction"
        name = request.path.split("/")[3]
        return self.error(
            "AccessDeniedException",
            f"User: arn:aws:iam::123456789012:user/faasr-ci is not authorized to perform: lambda:{action} on "
            f"resource: arn:aws:lambda:{m[2]}:123456789012:function:{name} because no identity-based policy "
            f"allows the lambda:{action} action",
        )

    @staticmethod
    def error(error_type: str, message: str) -> Response:
        headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": "6f0e5c3e-0000-4000-8000-000000000000"}
        return Response(
            json.dumps({"Type": "User", "message": message}), 403, headers, content_type="application/json"
        )


def test_unknown_key(httpserver: HTTPServer) -> None:
    iam = FakeLambdaIam(httpserver, known_key="AKIAOTHERKEY00000000")
    wf = workflow(lambda_server())
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(httpserver.url_for("").rstrip("/")))
    message = str(exc.value)
    assert "AWS rejected block aws-credentials/lambda (UnrecognizedClientException)" in message
    assert SECRET not in message and KEY_ID not in message
    method, path, headers = iam.seen[0]
    assert (method, path) == ("POST", "/2015-03-31/functions/TriggerWF-start/invocations")
    assert headers["X-Amz-Invocation-Type"] == "Event"


def test_access_denied(httpserver: HTTPServer) -> None:
    FakeLambdaIam(httpserver, known_key=KEY_ID)
    wf = workflow(lambda_server())
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(httpserver.url_for("").rstrip("/")))
    message = str(exc.value)
    assert "block aws-credentials/lambda may not use TriggerWF-start (AccessDeniedException" in message
    assert "lambda:InvokeFunction" in message
    client = lam.lambda_client(auth(httpserver.url_for("").rstrip("/")), "us-east-1")
    denied = lam.check_function(client, "TriggerWF-start")
    assert denied is not None and "lambda:GetFunction" in denied.message and denied.server_wide


def test_lambda_auth_repr_hides_keys() -> None:
    text = repr(auth("http://x"))
    assert SECRET not in text and KEY_ID not in text
