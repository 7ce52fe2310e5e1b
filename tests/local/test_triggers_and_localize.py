"""Workflow localisation, and the trigger requests an activation sends (to a local OpenWhisk stand-in)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from local_helpers import EXAMPLE, SCENARIOS, bucket_of, chain, objects
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.local.localize import is_localized, localize
from prefect_faasr.logs import parse_log, triggered
from prefect_faasr.workflow import FaaSrWorkflow

FUNCTIONS = SCENARIOS / "functions.py"


def test_localize_keeps_names_and_buckets_and_drops_credentials() -> None:
    raw = json.loads((EXAMPLE / "workflow.json").read_text())
    raw["DataStores"]["S3"]["AccessKey"] = "S3_AccessKey"
    raw["DataStores"]["Other"] = {"Bucket": "b2", "Region": "eu-west-1", "Anonymous": "true"}
    out = localize(
        raw, compute_endpoint="http://127.0.0.1:1", namespace="ns", s3_endpoint="http://127.0.0.1:2"
    )
    assert out["ComputeServers"] == {
        "GH": {
            "FaaSType": "OpenWhisk",
            "Endpoint": "http://127.0.0.1:1",
            "Namespace": "ns",
            "UseSecretStore": True,
            "AllowSelfSignedCertificate": True,
        }
    }
    local = {"Endpoint": "http://127.0.0.1:2", "Region": "us-east-1"}
    assert out["DataStores"] == {
        "S3": {"Bucket": "faasr-integration-tests", "Writable": "TRUE", **local},
        "Other": {"Bucket": "b2", "Anonymous": "true", **local},
    }
    assert {k: v for k, v in out.items() if k not in ("ComputeServers", "DataStores")} == {
        k: v for k, v in raw.items() if k not in ("ComputeServers", "DataStores")
    }
    assert raw["ComputeServers"]["GH"]["FaaSType"] == "GitHubActions"  # the input is not changed
    assert is_localized(out, "http://127.0.0.1:1", "http://127.0.0.1:2")
    assert not is_localized(raw, "http://127.0.0.1:1", "http://127.0.0.1:2")
    FaaSrWorkflow.parse(out)  # still a valid FaaSr workflow


@pytest.mark.integration
def test_deploy_creates_buckets_and_payload(runtime: LocalFaaSr) -> None:
    wf = runtime.deploy(EXAMPLE / "workflow.json", EXAMPLE / "functions")
    assert wf.compute_server("create-input")["Endpoint"] == runtime.compute_endpoint
    assert wf.data_store("S3")["Endpoint"] == runtime.s3_endpoint
    buckets = [b["Name"] for b in runtime.s3_client().list_buckets()["Buckets"]]
    assert "faasr-integration-tests" in buckets
    payload = Path(runtime.payload_url(wf))
    assert payload.is_file() and json.loads(payload.read_text()) == wf.raw
    assert runtime.payload_url(EXAMPLE / "workflow.json") == str(payload)  # same for the original
    secret_values = (runtime.api_key, runtime.s3_secret_key, runtime.s3_access_key)
    assert not any(v in payload.read_text() for v in secret_values)


@pytest.mark.integration
def test_trigger_request_and_done_before_trigger_lines(
    runtime: LocalFaaSr, httpserver: HTTPServer, tmp_path: Path
) -> None:
    """The successor lives on another OpenWhisk server (a stand-in that checks the request exactly).

    When the trigger arrives, the predecessor's `.done` already exists and its log does not yet hold
    the trigger line: `.done` is written before the final flush (contract §4.2).
    """
    wf = runtime.deploy(chain("OrderWF", 2), FUNCTIONS)
    raw = wf.to_dict()
    raw["ComputeServers"]["SLOW"] = {
        **raw["ComputeServers"]["GH"],
        "Endpoint": httpserver.url_for("/").rstrip("/"),
    }
    raw["ActionList"]["a2"]["FaaSServer"] = "SLOW"
    payload = tmp_path / "OrderWF.json"
    payload.write_text(json.dumps(raw))
    invocation = wf.new_invocation()
    keys = wf.keys(invocation.invocation_id, invocation.timestamp)
    s3, bucket = runtime.s3_client(), bucket_of(wf)
    seen: dict[str, Any] = {}

    def handler(request: Request) -> Response:
        seen["auth"] = request.headers.get("Authorization")
        seen["content_type"] = request.headers.get("Content-Type")
        seen["body"] = json.loads(request.get_data())
        seen["done"] = "Contents" in s3.list_objects_v2(Bucket=bucket, Prefix=keys.done_key("a1"))
        log = s3.get_object(Bucket=bucket, Key=keys.log_key("a1"))["Body"].read().decode()
        seen["trigger_line_in_log"] = "Succesfully invoked a2" in log
        return Response(json.dumps({"activationId": "0" * 32}), status=202, content_type="application/json")

    httpserver.expect_oneshot_request(
        "/api/v1/namespaces/guest/actions/OrderWF-a2",
        method="POST",
        query_string={"blocking": "false", "result": "false"},
    ).respond_with_handler(handler)
    overwritten = {"FunctionInvoke": "a1", "InvocationID": invocation.invocation_id}
    overwritten["InvocationTimestamp"] = invocation.timestamp
    runtime.client.invoke("OrderWF-a1", overwritten, str(payload))
    acts = runtime.client.wait_idle(invocation.invocation_id)
    httpserver.check_assertions()

    assert [(a.action, a.exit_code) for a in acts] == [("a1", 0)]
    assert seen["auth"] == "Basic " + base64.b64encode(runtime.api_key.encode()).decode()
    assert seen["content_type"] == "application/json"
    assert seen["done"] and not seen["trigger_line_in_log"]
    body = seen["body"]
    assert set(body) == {"OVERWRITTEN", "PAYLOAD_URL"} and body["PAYLOAD_URL"] == str(payload)
    over = body["OVERWRITTEN"]
    assert over["FunctionInvoke"] == "a2" and "FunctionRank" not in over
    assert over["InvocationID"] == invocation.invocation_id
    assert over["InvocationTimestamp"] == invocation.timestamp
    assert over["ComputeServers"]["SLOW"]["APIkey"] == runtime.api_key  # OpenWhisk triggers carry them
    assert over["DataStores"]["S3"]["AccessKey"] == runtime.s3_access_key
    final_log = objects(runtime, bucket, keys.log_key("a1"))[keys.log_key("a1")]
    assert triggered(parse_log(final_log)) == {"a2": 1}  # the trigger line came with the final flush
