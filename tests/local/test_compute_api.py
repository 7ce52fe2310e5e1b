"""The compute server's OpenWhisk API subset over real HTTP: auth, errors, actions, activations."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from local_helpers import SCENARIOS, chain, wait_activation

from prefect_faasr.local import LocalFaaSr

pytestmark = pytest.mark.integration
FUNCTIONS = SCENARIOS / "functions.py"


def url(env: LocalFaaSr, path: str) -> str:
    return f"{env.compute_endpoint}/api/v1/namespaces/{env.namespace}{path}"


def auth(env: LocalFaaSr) -> tuple[str, str]:
    user, _, password = env.api_key.partition(":")
    return user, password


def is_openwhisk_error(resp: requests.Response, status: int, message: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "code"}
    assert body["error"].startswith(message), body
    assert body["code"]


@pytest.fixture(scope="module")
def deployed(runtime: LocalFaaSr) -> dict[str, Any]:
    wf = runtime.deploy(chain("ApiWF", 2), FUNCTIONS)
    return {"wf": wf, "payload": runtime.payload_url(wf)}


def invoke_body(deployed: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"OVERWRITTEN": {"FunctionInvoke": "a1", **over}, "PAYLOAD_URL": deployed["payload"]}


def test_api_key_has_openwhisk_form_and_is_hidden(runtime: LocalFaaSr) -> None:
    user, _, key = runtime.api_key.partition(":")
    assert len(user) == 36 and user.count("-") == 4 and len(key) >= 32
    for text in (repr(runtime), repr(runtime.info), repr(runtime.client), str(runtime.info)):
        assert key not in text and runtime.s3_secret_key not in text


def test_missing_and_wrong_auth_are_401(runtime: LocalFaaSr, deployed: dict) -> None:
    target = url(runtime, "/actions/ApiWF-a1?blocking=false&result=false")
    resp = requests.post(target, json=invoke_body(deployed), timeout=10)
    is_openwhisk_error(resp, 401, "The resource requires authentication")
    user, _ = auth(runtime)
    resp = requests.post(target, json=invoke_body(deployed), auth=(user, "wrong"), timeout=10)
    is_openwhisk_error(resp, 401, "The supplied authentication is invalid")
    resp = requests.get(url(runtime, "/activations"), headers={"Authorization": "Bearer x"}, timeout=10)
    is_openwhisk_error(resp, 401, "The supplied authentication is invalid")


def test_unknown_action_and_activation_are_404(runtime: LocalFaaSr, deployed: dict) -> None:
    resp = requests.post(
        url(runtime, "/actions/ApiWF-nope?blocking=false&result=false"),
        json=invoke_body(deployed),
        auth=auth(runtime),
        timeout=10,
    )
    is_openwhisk_error(resp, 404, "The requested resource does not exist.")
    resp = requests.get(url(runtime, "/activations/0123456789abcdef"), auth=auth(runtime), timeout=10)
    is_openwhisk_error(resp, 404, "The requested resource does not exist.")


def test_other_namespace_is_403(runtime: LocalFaaSr) -> None:
    resp = requests.get(
        f"{runtime.compute_endpoint}/api/v1/namespaces/someone/activations", auth=auth(runtime), timeout=10
    )
    is_openwhisk_error(resp, 403, "The supplied authentication is not authorized to access 'someone'.")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "The request content was malformed"),
        (b'{"PAYLOAD_URL": "/x.json"}', "OVERWRITTEN: Field required"),
        (
            b'{"OVERWRITTEN": "{}", "PAYLOAD_URL": "/x.json"}',
            "OVERWRITTEN: Input should be a valid dictionary",
        ),
        (b'{"OVERWRITTEN": {}, "PAYLOAD_URL": ""}', "PAYLOAD_URL"),
        (b"[]", "The request content was malformed"),
    ],
)
def test_malformed_invoke_body_is_400(
    runtime: LocalFaaSr, deployed: dict, body: bytes, expected: str
) -> None:
    resp = requests.post(
        url(runtime, "/actions/ApiWF-a1?blocking=false&result=false"),
        data=body,
        headers={"Content-Type": "application/json"},
        auth=auth(runtime),
        timeout=10,
    )
    assert resp.status_code == 400, resp.text
    assert expected in resp.json()["error"]


def test_invoke_answers_202_and_the_record_has_openwhisk_shape(runtime: LocalFaaSr, deployed: dict) -> None:
    started = runtime.client.start(deployed["wf"])
    resp = requests.post(
        url(runtime, "/actions/ApiWF-a2?blocking=false&result=false"),
        json=invoke_body(
            deployed,
            FunctionInvoke="a2",
            InvocationID=started.invocation_id,
            InvocationTimestamp=started.timestamp,
        ),
        auth=auth(runtime),
        timeout=10,
    )
    assert resp.status_code == 202
    assert set(resp.json()) == {"activationId"}
    act = wait_activation(runtime, resp.json()["activationId"])
    rec = requests.get(
        url(runtime, f"/activations/{act.activation_id}"), auth=auth(runtime), timeout=10
    ).json()
    for key in (
        "activationId",
        "name",
        "namespace",
        "start",
        "end",
        "duration",
        "response",
        "logs",
        "annotations",
    ):
        assert key in rec
    assert rec["name"] == "ApiWF-a2" and rec["namespace"] == runtime.namespace
    assert rec["response"]["status"] == "success" and rec["response"]["success"] is True
    assert rec["end"] >= rec["start"] > 0 and rec["duration"] == rec["end"] - rec["start"]
    assert any(
        line.endswith("stdout: [INFO] [executor.py] Starting function: s2 (Python)") for line in rec["logs"]
    )
    assert rec["faasr"]["state"] == "succeeded" and rec["faasr"]["exitCode"] == 0
    assert rec["faasr"]["invocationId"] == started.invocation_id and rec["faasr"]["action"] == "a2"
    logs = requests.get(
        url(runtime, f"/activations/{act.activation_id}/logs"), auth=auth(runtime), timeout=10
    )
    assert logs.json()["logs"] == rec["logs"]
    result = requests.get(
        url(runtime, f"/activations/{act.activation_id}/result"), auth=auth(runtime), timeout=10
    )
    assert result.json()["success"] is True
    runtime.client.wait_idle(started.invocation_id)


def test_list_filters_by_invocation(runtime: LocalFaaSr, deployed: dict) -> None:
    first, second = runtime.client.start(deployed["wf"]), runtime.client.start(deployed["wf"])
    for run in (first, second):
        acts = runtime.client.wait_idle(run.invocation_id)
        assert [(a.action, a.invocation_id, a.state) for a in acts] == [
            ("a1", run.invocation_id, "succeeded"),
            ("a2", run.invocation_id, "succeeded"),
        ]
    raw = requests.get(
        url(runtime, "/activations"),
        params={"invocationId": first.invocation_id, "limit": 1},
        auth=auth(runtime),
        timeout=10,
    ).json()
    assert len(raw) == 1 and raw[0]["faasr"]["action"] == "a2"  # newest first, like OpenWhisk
    assert "stdout" not in raw[0]["faasr"]  # docs=false: summaries


def test_actions_put_get_delete(runtime: LocalFaaSr) -> None:
    body = {
        "exec": {"kind": "blackbox", "image": "x"},
        "parameters": [{"key": "FAASR_FUNCTIONS_DIR", "value": "/x"}],
    }
    target = url(runtime, "/actions/Tmp-a")
    created = requests.put(target, json=body, auth=auth(runtime), timeout=10)
    assert created.status_code == 200 and created.json()["version"] == "0.0.1"
    is_openwhisk_error(
        requests.put(target, json=body, auth=auth(runtime), timeout=10), 409, "resource already exists"
    )
    updated = requests.put(target, params={"overwrite": "true"}, json=body, auth=auth(runtime), timeout=10)
    assert updated.json()["version"] == "0.0.2"
    assert requests.get(target, auth=auth(runtime), timeout=10).json()["parameters"] == body["parameters"]
    names = [a["name"] for a in requests.get(url(runtime, "/actions"), auth=auth(runtime), timeout=10).json()]
    assert "Tmp-a" in names and "ApiWF-a1" in names
    assert requests.delete(target, auth=auth(runtime), timeout=10).status_code == 200
    is_openwhisk_error(requests.get(target, auth=auth(runtime), timeout=10), 404, "The requested resource")


def test_deploy_registers_every_action_with_its_functions(runtime: LocalFaaSr, deployed: dict) -> None:
    for action in ("a1", "a2"):
        rec = requests.get(url(runtime, f"/actions/ApiWF-{action}"), auth=auth(runtime), timeout=10).json()
        params = {p["key"]: p["value"] for p in rec["parameters"]}
        assert params["FAASR_FUNCTIONS_DIR"] == str(FUNCTIONS.resolve())


def test_underscore_namespace_is_the_default(runtime: LocalFaaSr) -> None:
    resp = requests.get(
        f"{runtime.compute_endpoint}/api/v1/namespaces/_/actions/ApiWF-a1", auth=auth(runtime), timeout=10
    )
    assert resp.status_code == 200
