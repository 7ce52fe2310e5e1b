"""OpenWhisk: start a FaaSr action through the REST API (contract §2.2).

`POST {Endpoint}/api/v1/namespaces/{Namespace}/actions/{WF}-{A}?blocking=false&result=false` with basic
auth from the API key and `{"OVERWRITTEN": <object>, "PAYLOAD_URL": url}`; 200 or 202 means accepted.
The local compute server of prefect_faasr.local speaks the same subset, so local runs use this module too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from prefect_faasr.triggers.auth import OpenWhiskAuth
from prefect_faasr.triggers.errors import TriggerError, scrub
from prefect_faasr.triggers.findings import Finding
from prefect_faasr.triggers.receipt import TriggerReceipt
from prefect_faasr.triggers.transport import (
    DEFAULT_TIMEOUT,
    connection_reason,
    reply_message,
    retryable_status,
    session_scope,
    undelivered,
)

JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
Timeout = float | tuple[float, float]


def base_url(endpoint: str) -> str:
    """FaaSr prefixes `https://` when the Endpoint has no scheme."""
    endpoint = endpoint.strip().rstrip("/")
    return endpoint if endpoint.startswith("http") else f"https://{endpoint}"


def tls_verify(server: Mapping[str, Any]) -> bool:
    """FaaSr's rule: verify certificates only when AllowSelfSignedCertificate is present and false."""
    return "AllowSelfSignedCertificate" in server and not server["AllowSelfSignedCertificate"]


def action_url(endpoint: str, namespace: str, action_name: str) -> str:
    return f"{base_url(endpoint)}/api/v1/namespaces/{namespace}/actions/{action_name}"


def invoke(
    *,
    auth: OpenWhiskAuth,
    endpoint: str,
    namespace: str,
    action_name: str,
    overwritten: Mapping[str, Any],
    payload_url: str,
    verify: bool = False,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> TriggerReceipt:
    """Start the action without waiting for it; raise `TriggerError` unless OpenWhisk answers 200 or 202."""
    url = action_url(endpoint, namespace, action_name)
    body = json.dumps({"OVERWRITTEN": dict(overwritten), "PAYLOAD_URL": payload_url})
    response = _request(
        "POST",
        url,
        auth,
        session,
        timeout,
        verify,
        params={"blocking": "false", "result": "false"},
        data=body,
    )
    if response.status_code in (200, 202):
        activation = _activation_id(response)
        return TriggerReceipt("OpenWhisk", action_name, url, response.status_code, activation)
    problem = _problem(response, auth, namespace, action_name, endpoint)
    raise TriggerError(
        scrub(f"OpenWhisk did not start {action_name}: {problem}", [auth.api_key]),
        retryable=retryable_status(response.status_code),
    )


def check_action(
    *,
    auth: OpenWhiskAuth,
    endpoint: str,
    namespace: str,
    action_name: str,
    verify: bool = False,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> Finding | None:
    """A problem reading the action with this key (bad key, no such action, unreachable), or None."""
    url = action_url(endpoint, namespace, action_name)
    try:
        response = _request("GET", url, auth, session, timeout, verify)
    except TriggerError as exc:
        return Finding(str(exc), server_wide=True)
    if response.status_code == 200:
        return None
    text = scrub(_problem(response, auth, namespace, action_name, endpoint), [auth.api_key])
    return Finding(text, server_wide=response.status_code != 404)


def _problem(
    response: requests.Response, auth: OpenWhiskAuth, namespace: str, action_name: str, endpoint: str
) -> str:
    status, message = response.status_code, reply_message(response, "error")
    if status == 401:
        return f"OpenWhisk rejected {auth.source} (401 {message}): check the key user:password"
    if status == 403:
        return f"the API key may not use namespace {namespace!r} (403 {message}): check Namespace and the key"
    if status == 404:
        return (
            f"no action {action_name} in namespace {namespace!r} at {base_url(endpoint)} (404): check "
            f"Namespace and that the workflow is registered (FaaSr creates one action {action_name})"
        )
    return f"OpenWhisk at {base_url(endpoint)} answered HTTP {status}: {message}"


def _request(
    method: str,
    url: str,
    auth: OpenWhiskAuth,
    session: requests.Session | None,
    timeout: Timeout,
    verify: bool,
    **kwargs: Any,
) -> requests.Response:
    basic = auth.basic_auth()
    try:
        with session_scope(session) as s:
            return s.request(
                method, url, auth=basic, headers=JSON_HEADERS, timeout=timeout, verify=verify, **kwargs
            )
    except requests.RequestException as exc:
        reason = scrub(connection_reason(exc), [auth.api_key])
        hint = ""
        if isinstance(exc, requests.exceptions.SSLError):
            hint = " (for a self-signed certificate, set AllowSelfSignedCertificate to true or remove it)"
        raise TriggerError(
            f"cannot reach OpenWhisk at {url.split('/api/')[0]}: {reason}{hint}", retryable=undelivered(exc)
        ) from None


def _activation_id(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get("activationId") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
