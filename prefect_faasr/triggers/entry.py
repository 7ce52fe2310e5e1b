"""Start an invocation: trigger the entry action on its compute server, the way FaaSr's invoke does.

The harness chooses InvocationID and InvocationTimestamp itself and sends them in the entry's OVERWRITTEN
(contract §2.3/§2.4, like `invoke_workflow(testing=True)`), so the invocation folder is known up front.
"""

from __future__ import annotations

from typing import Any

import requests

from prefect_faasr.errors import Problem
from prefect_faasr.names import json_path
from prefect_faasr.triggers import github, lambda_, openwhisk
from prefect_faasr.triggers.auth import ComputeAuth, GitHubAuth, LambdaAuth, OpenWhiskAuth
from prefect_faasr.triggers.errors import TriggerError, UnsupportedFaaSTypeError
from prefect_faasr.triggers.receipt import TriggerReceipt
from prefect_faasr.triggers.transport import DEFAULT_TIMEOUT
from prefect_faasr.workflow import FaaSrWorkflow, Invocation

SUPPORTED_FAAS_TYPES = ("GitHubActions", "OpenWhisk", "Lambda")
AUTH_TYPES: dict[str, type] = {"GitHubActions": GitHubAuth, "OpenWhisk": OpenWhiskAuth, "Lambda": LambdaAuth}


def entry_overwritten(workflow: FaaSrWorkflow, invocation: Invocation) -> dict[str, str]:
    """The entry's OVERWRITTEN: which action to run and the invocation identity the harness chose."""
    return {
        "FunctionInvoke": workflow.entry,
        "InvocationID": invocation.invocation_id,
        "InvocationTimestamp": invocation.timestamp,
    }


def deployed_name(workflow: FaaSrWorkflow, action: str) -> str:
    """Name of an action's deployment (Lambda function, OpenWhisk action): `{WF}-{A}`."""
    return f"{workflow.name}-{action}"


def unsupported_message(faas_type: str) -> str:
    return (
        f"FaaSType {faas_type} is not supported yet by prefect-faasr "
        f"(supported: {', '.join(SUPPORTED_FAAS_TYPES)})"
    )


def entry_problems(workflow: FaaSrWorkflow) -> list[Problem]:
    """What stops the harness from starting `workflow` at all: an entry server of a FaaSType without a
    trigger here, or one without `UseSecretStore: true` (FaaSr starts a workflow only from a server that
    reads credentials from its own secret store, and the harness never ships them in OVERWRITTEN)."""
    name = workflow.actions[workflow.entry].faas_server
    server = workflow.compute_server(workflow.entry)
    faas_type = server["FaaSType"]
    where = f"the entry action {workflow.entry!r} runs on {name!r}"
    if faas_type not in SUPPORTED_FAAS_TYPES:
        return [
            Problem(
                json_path("ComputeServers", name, "FaaSType"), f"{where}: {unsupported_message(faas_type)}"
            )
        ]
    if server.get("UseSecretStore") is not True:
        return [
            Problem(
                json_path("ComputeServers", name, "UseSecretStore"),
                f'{where}, which must set "UseSecretStore": true (FaaSr starts a workflow only from a '
                f"server that reads its credentials from its own secret store)",
            )
        ]
    return []


def entry_server(workflow: FaaSrWorkflow) -> tuple[str, dict[str, Any]]:
    """Name and settings of the entry's ComputeServer, after the checks of `entry_problems`.

    Raises `UnsupportedFaaSTypeError` or `TriggerError` naming the JSON path of the problem.
    """
    for problem in entry_problems(workflow):
        error = UnsupportedFaaSTypeError if problem.path.endswith(".FaaSType") else TriggerError
        raise error(str(problem))
    name = workflow.actions[workflow.entry].faas_server
    return name, workflow.compute_server(workflow.entry)


def trigger_entry(
    workflow: FaaSrWorkflow,
    invocation: Invocation,
    payload_url: str,
    credentials: ComputeAuth,
    *,
    session: requests.Session | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
) -> TriggerReceipt:
    """Start the entry action of `workflow` as invocation `invocation`, dispatching on its FaaSType.

    `payload_url` is what every action fetches the workflow JSON from (`owner/repo/branch/path.json`).
    `credentials` must match the entry server's FaaSType. Raises `TriggerError` (a `FaaSrUserError`)
    with a message saying what to check; messages never contain a secret.
    """
    name, server = entry_server(workflow)
    faas_type = server["FaaSType"]
    prefix = f"entry action {workflow.entry!r} on ComputeServers {name!r} ({faas_type}): "
    expected = AUTH_TYPES[faas_type]
    if not isinstance(credentials, expected):
        raise TriggerError(
            f"{prefix}the environment gives {type(credentials).__name__} credentials, but a {faas_type} "
            f"server needs {expected.__name__}"
        )
    if not payload_url.strip():
        raise TriggerError(f"{prefix}payload_url is empty: every action fetches the workflow JSON from it")
    overwritten = entry_overwritten(workflow, invocation)
    target = deployed_name(workflow, workflow.entry)
    try:
        if isinstance(credentials, GitHubAuth):
            return github.dispatch(
                auth=credentials,
                owner=server["UserName"],
                repo=server["ActionRepoName"],
                workflow_file=github.workflow_file(workflow.name, workflow.entry),
                ref=server["Branch"],
                overwritten=overwritten,
                payload_url=payload_url,
                session=session,
                timeout=timeout,
            )
        if isinstance(credentials, OpenWhiskAuth):
            return openwhisk.invoke(
                auth=credentials,
                endpoint=server["Endpoint"],
                namespace=server["Namespace"],
                action_name=target,
                overwritten=overwritten,
                payload_url=payload_url,
                verify=openwhisk.tls_verify(server),
                session=session,
                timeout=timeout,
            )
        client = lambda_.lambda_client(credentials, server.get("Region"))
        return lambda_.invoke(
            client,
            function_name=target,
            overwritten=overwritten,
            payload_url=payload_url,
            source=credentials.source,
            secrets=credentials.secrets(),
        )
    except TriggerError as exc:
        raise type(exc)(prefix + str(exc)) from None
