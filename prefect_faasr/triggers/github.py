"""GitHub Actions: start a FaaSr action with a workflow_dispatch event (contract §2.2).

`POST {api}/repos/{UserName}/{ActionRepoName}/actions/workflows/{WF}-{A}.yml/dispatches` with
`{"ref": Branch, "inputs": {"OVERWRITTEN": "<JSON string>", "PAYLOAD_URL": url}}`; 204 means accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from prefect_faasr.triggers.auth import GitHubAuth
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

ACCEPT = "application/vnd.github.v3+json"
API_VERSION = "2022-11-28"
Timeout = float | tuple[float, float]


def workflow_file(workflow_name: str, action: str) -> str:
    """The GitHub workflow file FaaSr registers for an action: `{WF}-{A}.yml`."""
    return f"{workflow_name}-{action}.yml"


def headers(auth: GitHubAuth) -> dict[str, str]:
    """The headers FaaSr sends (the token scheme is `token`, not `Bearer`)."""
    return {
        "Authorization": f"token {auth.token.get_secret_value()}",
        "Accept": ACCEPT,
        "X-GitHub-Api-Version": API_VERSION,
    }


def dispatch(
    *,
    auth: GitHubAuth,
    owner: str,
    repo: str,
    workflow_file: str,
    ref: str,
    overwritten: Mapping[str, Any],
    payload_url: str,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> TriggerReceipt:
    """Send the workflow_dispatch event; raise `TriggerError` (what to check) unless GitHub answers 204."""
    url = f"{_api(auth)}/repos/{owner}/{repo}/actions/workflows/{workflow_file}/dispatches"
    body = {"ref": ref, "inputs": {"OVERWRITTEN": json.dumps(dict(overwritten)), "PAYLOAD_URL": payload_url}}
    response = _request("POST", url, auth, session, timeout, json=body)
    if response.status_code == 204:
        return TriggerReceipt("GitHubActions", workflow_file, url, 204)
    where = f"{owner}/{repo}"
    status, message = response.status_code, reply_message(response, "message")
    if status == 401:
        text = f"GitHub rejected {auth.source} (401 {message}): check that the token is valid and not expired"
    elif status == 403:
        text = (
            f"GitHub refused the dispatch (403 {message}): the token needs the 'workflow' scope (classic "
            f"token) or 'Actions: read and write' on {where} (fine-grained token), or a rate limit was hit"
        )
    elif status == 404:
        text = (
            f"GitHub found no workflow {workflow_file} in {where} (404): check UserName and ActionRepoName "
            f"of the compute server, that the workflow is registered (.github/workflows/{workflow_file} "
            f"on the default branch), that branch {ref!r} exists, and that the token can see {where}"
        )
    elif status == 422:
        text = (
            f"GitHub refused the dispatch of {workflow_file} in {where} (422 {message}): check that branch "
            f"{ref!r} exists and that the workflow takes workflow_dispatch inputs OVERWRITTEN and PAYLOAD_URL"
        )
    else:
        text = f"GitHub answered HTTP {status} to the dispatch of {workflow_file} in {where}: {message}"
    raise TriggerError(scrub(text, [auth.token]), retryable=retryable_status(status))


def check_repository(
    *,
    auth: GitHubAuth,
    owner: str,
    repo: str,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> Finding | None:
    """A problem reaching `owner/repo` with this token, or None when the repository is visible."""
    try:
        response = _request("GET", f"{_api(auth)}/repos/{owner}/{repo}", auth, session, timeout)
    except TriggerError as exc:
        return Finding(str(exc), server_wide=True)
    status, message = response.status_code, reply_message(response, "message")
    if status == 200:
        return None
    if status == 401:
        text = f"GitHub rejected {auth.source} (401 {message}): check that the token is valid and not expired"
    elif status == 404:
        text = (
            f"repository {owner}/{repo} not found (404): check UserName and ActionRepoName, and that "
            f"{auth.source} can see the repository (private repositories need the 'repo' scope)"
        )
    else:
        text = f"GitHub answered HTTP {status} for repository {owner}/{repo}: {message}"
    return Finding(scrub(text, [auth.token]), server_wide=True)


def check_workflow_file(
    *,
    auth: GitHubAuth,
    owner: str,
    repo: str,
    workflow_file: str,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> Finding | None:
    """A problem with the registered workflow `workflow_file` (missing or disabled), or None."""
    url = f"{_api(auth)}/repos/{owner}/{repo}/actions/workflows/{workflow_file}"
    try:
        response = _request("GET", url, auth, session, timeout)
    except TriggerError as exc:
        return Finding(str(exc), server_wide=True)
    status, message = response.status_code, reply_message(response, "message")
    if status == 200:
        state = _json_field(response, "state")
        if state in (None, "active"):
            return None
        return Finding(f"workflow {workflow_file} in {owner}/{repo} is {state}: enable it in the Actions tab")
    if status == 404:
        text = (
            f"no workflow {workflow_file} in {owner}/{repo} (404): register the FaaSr workflow so that "
            f".github/workflows/{workflow_file} exists on the default branch"
        )
    else:
        text = f"GitHub answered HTTP {status} for workflow {workflow_file} in {owner}/{repo}: {message}"
    return Finding(scrub(text, [auth.token]), server_wide=status in (401, 403))


def _api(auth: GitHubAuth) -> str:
    return auth.api_url.rstrip("/")


def _request(
    method: str,
    url: str,
    auth: GitHubAuth,
    session: requests.Session | None,
    timeout: Timeout,
    **kwargs: Any,
) -> requests.Response:
    try:
        with session_scope(session) as s:
            return s.request(method, url, headers=headers(auth), timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        reason = scrub(connection_reason(exc), [auth.token])
        raise TriggerError(
            f"cannot reach the GitHub API at {_api(auth)}: {reason}", retryable=undelivered(exc)
        ) from None


def _json_field(response: requests.Response, key: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get(key) if isinstance(body, dict) else None
