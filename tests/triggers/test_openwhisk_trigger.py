"""OpenWhisk trigger against a stand-in of OpenWhisk's REST API (plain HTTP and self-signed HTTPS)."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from prefect_faasr.triggers import OpenWhiskAuth, TriggerError, trigger_entry
from prefect_faasr.triggers import openwhisk as ow
from triggers.standins import OPENWHISK_KEY, FakeOpenWhisk, closed_port, openwhisk_server, workflow

PAYLOAD_URL = "faasr-owner/faasr-actions/main/tests/TriggerWF.json"
KEY = OpenWhiskAuth(api_key=SecretStr(OPENWHISK_KEY), source="block faasr-openwhisk-credentials/ow")


def test_invoke_sends_exactly_what_faasr_sends(openwhisk: FakeOpenWhisk) -> None:
    wf = workflow(openwhisk_server(openwhisk.endpoint))
    invocation = wf.new_invocation()

    receipt = trigger_entry(wf, invocation, PAYLOAD_URL, KEY)

    assert len(openwhisk.invocations) == 1
    full_path, headers, body = openwhisk.invocations[0]
    assert full_path == "/api/v1/namespaces/guest/actions/TriggerWF-start?blocking=false&result=false"
    user, password = OPENWHISK_KEY.split(":")
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert set(body) == {"OVERWRITTEN", "PAYLOAD_URL"}
    assert body["PAYLOAD_URL"] == PAYLOAD_URL
    assert body["OVERWRITTEN"] == {
        "FunctionInvoke": "start",
        "InvocationID": invocation.invocation_id,
        "InvocationTimestamp": invocation.timestamp,
    }, "OpenWhisk gets OVERWRITTEN as an object, not JSON text"
    assert receipt.faas_type == "OpenWhisk"
    assert receipt.status_code == 202
    assert receipt.target == "TriggerWF-start"
    assert receipt.activation_id and len(receipt.activation_id) == 32


def test_wrong_key(openwhisk: FakeOpenWhisk) -> None:
    wf = workflow(openwhisk_server(openwhisk.endpoint))
    wrong = OpenWhiskAuth(
        api_key=SecretStr("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:WRONGsecret"), source="block x/y"
    )
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, wrong)
    message = str(exc.value)
    assert "401 The supplied authentication is invalid." in message
    assert "block x/y" in message
    assert "WRONGsecret" not in message and OPENWHISK_KEY not in message
    assert openwhisk.invocations == []


def test_unknown_action(openwhisk: FakeOpenWhisk) -> None:
    wf = workflow(openwhisk_server(openwhisk.endpoint), name="Unregistered")
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, KEY)
    assert "no action Unregistered-start in namespace 'guest'" in str(exc.value)
    assert "(404)" in str(exc.value)


def test_foreign_namespace(openwhisk: FakeOpenWhisk) -> None:
    wf = workflow(openwhisk_server(openwhisk.endpoint, Namespace="someone-else"))
    with pytest.raises(TriggerError, match=r"may not use namespace 'someone-else' \(403"):
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, KEY)


def test_other_status_carries_openwhisk_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/api/v1/namespaces/guest/actions/TriggerWF-start", method="POST"
    ).respond_with_json(
        {"error": "Too many requests in the last minute (count: 61, allowed: 60).", "code": "abc"}, status=429
    )
    wf = workflow(openwhisk_server(httpserver.url_for("").rstrip("/")))
    with pytest.raises(TriggerError, match=r"answered HTTP 429: Too many requests in the last minute"):
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, KEY)


def test_unreachable_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    wf = workflow(openwhisk_server(endpoint))
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, KEY)
    assert f"cannot reach OpenWhisk at {endpoint}" in str(exc.value)


def test_key_without_colon_is_refused_without_showing_it() -> None:
    wf = workflow(openwhisk_server("http://127.0.0.1:9"))
    bad = OpenWhiskAuth(api_key=SecretStr("justonesecretstring"), source="block b/k")
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, bad)
    assert "block b/k is not of the form user:password" in str(exc.value)
    assert "justonesecretstring" not in str(exc.value)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_endpoint_without_scheme_gets_https_and_self_signed_is_accepted(tls_server: HTTPServer) -> None:
    """FaaSr prefixes https:// and skips certificate checks unless AllowSelfSignedCertificate is false."""
    ow_stub = FakeOpenWhisk(tls_server, actions={"TriggerWF-start"})
    host = f"127.0.0.1:{tls_server.port}"
    for extra in ({}, {"AllowSelfSignedCertificate": True}):
        wf = workflow(openwhisk_server(host, **extra))
        receipt = trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, KEY)
        assert receipt.url == f"https://{host}/api/v1/namespaces/guest/actions/TriggerWF-start"
    assert len(ow_stub.invocations) == 2


def test_certificate_is_verified_when_self_signed_is_disallowed(tls_server: HTTPServer) -> None:
    ow_stub = FakeOpenWhisk(tls_server, actions={"TriggerWF-start"})
    wf = workflow(openwhisk_server(f"127.0.0.1:{tls_server.port}", AllowSelfSignedCertificate=False))
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, KEY)
    assert "TLS handshake failed" in str(exc.value)
    assert "AllowSelfSignedCertificate" in str(exc.value)
    assert ow_stub.invocations == []


@pytest.mark.parametrize(
    ("server", "verify"),
    [
        ({}, False),
        ({"AllowSelfSignedCertificate": True}, False),
        ({"AllowSelfSignedCertificate": False}, True),
    ],
)
def test_tls_verify_rule(server: dict, verify: bool) -> None:
    assert ow.tls_verify(server) is verify


def test_check_action(openwhisk: FakeOpenWhisk) -> None:
    kw = {"auth": KEY, "endpoint": openwhisk.endpoint, "namespace": "guest"}
    assert ow.check_action(action_name="TriggerWF-start", **kw) is None
    missing = ow.check_action(action_name="TriggerWF-nope", **kw)
    assert missing is not None and "no action TriggerWF-nope" in missing.message and not missing.server_wide
    bad = OpenWhiskAuth(api_key=SecretStr("a:b"))
    denied = ow.check_action(
        auth=bad, endpoint=openwhisk.endpoint, namespace="guest", action_name="TriggerWF-start"
    )
    assert denied is not None and "401" in denied.message and denied.server_wide
