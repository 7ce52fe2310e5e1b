"""Triggering an action's successors, as the engine's OpenWhisk path does (contract §2.2, §2.3, §4.3, §5.5).

Items of InvokeNext are processed in order; a ranked target `x(N)` gets N requests that differ only in
`OVERWRITTEN.FunctionRank`. Each request is a real HTTP POST to the compute server named by the
target's FaaSServer, with the OVERWRITTEN this action received plus FunctionInvoke/FunctionRank and
the ComputeServers/DataStores (OpenWhisk triggers always carry them).
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from typing import Any

import requests

from prefect_faasr.local.actionlog import SCHEDULER, ActionLog, console
from prefect_faasr.local.faults import Fault
from prefect_faasr.local.payload import Payload

TIMEOUT = (5, 30)


class TriggerExit(Exception):
    """The scheduler ends the action: `code` 1; `flush` False when the engine would crash unflushed."""

    def __init__(self, reason: str, *, flush: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.flush = flush


def trigger_all(
    payload: Payload, log: ActionLog, result: bool | None, http: requests.Session, fault: Fault | None = None
) -> None:
    current = payload.action
    invoke_next = payload["ActionList"][current].get("InvokeNext") or []
    if not isinstance(invoke_next, list):
        invoke_next = [invoke_next]
    if not invoke_next:
        log.info(SCHEDULER, f"no triggers for {current}")
        return
    if any(isinstance(item, dict) for item in invoke_next) and result is None:
        log.error(SCHEDULER, "InvokeNext contains conditionals but function did not return a value")
        raise TriggerExit("conditional without a return value")
    for item in invoke_next:
        if isinstance(item, dict):
            branch = item.get(str(result))
            if branch is None:
                # The engine iterates None here: an uncaught TypeError, its buffered lines never flushed.
                err = TypeError("'NoneType' object is not iterable")
                console("".join(traceback.format_exception(err)).rstrip("\n"), sys.stderr)
                raise TriggerExit(f"InvokeNext has no {str(result)!r} branch", flush=False)
            for target in [branch] if isinstance(branch, str) else branch:
                trigger(payload, log, target, http, fault)
        else:
            trigger(payload, log, item, http, fault)


def trigger(
    payload: Payload, log: ActionLog, target: str, http: requests.Session, fault: Fault | None
) -> None:
    parts = re.split(r"[()]", target)
    action, count = (parts[0], int(parts[1])) if len(parts) > 1 else (target, 1)
    payload["FunctionInvoke"] = action
    server_name = payload["ActionList"][action]["FaaSServer"]
    for rank in range(1, count + 1):
        if count > 1:
            payload["FunctionRank"] = rank
        elif "FunctionRank" in payload:
            payload.delete("FunctionRank")
        if server_name not in payload["ComputeServers"]:
            log.error(SCHEDULER, f"invalid server name: {server_name}")
            raise TriggerExit(f"invalid server name: {server_name}")
        server = payload["ComputeServers"][server_name]
        if server.get("FaaSType") != "OpenWhisk":
            log.error(
                SCHEDULER,
                f"local runtime: cannot trigger {action} on server {server_name} "
                f"(FaaSType {server.get('FaaSType')}); deploy the workflow to the local runtime first",
            )
            raise TriggerExit("server is not the local compute server")
        invoke_openwhisk(
            payload, log, server, action, http, dropped=bool(fault and fault.drops_trigger(action))
        )


def invoke_openwhisk(
    payload: Payload,
    log: ActionLog,
    server: dict[str, Any],
    action: str,
    http: requests.Session,
    *,
    dropped: bool,
) -> None:
    full_name = f"{payload['WorkflowName']}-{action}"
    log.debug(SCHEDULER, f"Prepending workflow name. Full function: {full_name}")
    endpoint = server["Endpoint"]
    if not endpoint.startswith("http"):
        endpoint = f"https://{endpoint}"
    url = (
        f"{endpoint}/api/v1/namespaces/{server['Namespace']}/actions/{full_name}?blocking=false&result=false"
    )
    overwritten = payload.overwritten
    overwritten["ComputeServers"] = payload["ComputeServers"]
    overwritten["DataStores"] = payload["DataStores"]
    body: dict[str, Any] = {"OVERWRITTEN": overwritten, "PAYLOAD_URL": payload.url}
    if os.environ.get("GH_PAT"):
        body["GH_PAT"] = os.environ["GH_PAT"]
    if dropped:
        # Fault: the platform loses the request after accepting it.
        log.info(SCHEDULER, f"OpenWhisk: Succesfully invoked {action}")
        return
    verify = server.get("AllowSelfSignedCertificate") is False
    try:
        user, _, password = (server.get("APIkey") or "").partition(":")
        response = http.post(
            url,
            auth=(user, password),
            data=json.dumps(body),
            headers={"accept": "application/json", "Content-Type": "application/json"},
            verify=verify,
            timeout=TIMEOUT,
        )
    except requests.exceptions.ConnectionError as exc:
        log.error(SCHEDULER, f"Openwhisk: ConnectionError: {exc}", exc=exc, stack=True)
        raise TriggerExit("trigger connection error") from None
    except Exception as exc:
        log.error(SCHEDULER, f"OpenWhisk: Error invoking {action}", exc=exc, stack=True)
        raise TriggerExit("trigger error") from None
    if response.status_code in (200, 202):
        log.info(SCHEDULER, f"OpenWhisk: Succesfully invoked {action}")
    else:
        log.error(SCHEDULER, f"OpenWhisk: Error invoking {action}: status code: {response.status_code}")
        raise TriggerExit(f"trigger of {action} answered {response.status_code}")
