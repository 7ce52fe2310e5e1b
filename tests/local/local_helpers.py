"""Helpers of the local runtime's tests: paths to the shared golden data, S3 readers, small workflows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.local.client import ActivationInfo, StartedInvocation
from prefect_faasr.logs import LogRecord, parse_log
from prefect_faasr.workflow import FaaSrWorkflow

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "faasr"
REAL_RUN = SHARED / "real-run"
SCENARIOS = REAL_RUN / "engine-scenarios"
RUN_WORKFLOWS = REAL_RUN / "workflows"
EXAMPLE = REPO / "examples" / "integration"


def objects(env: LocalFaaSr, bucket: str, prefix: str = "") -> dict[str, str]:
    """Every object under a prefix with its text."""
    s3 = env.s3_client()
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"]] = body.decode("utf-8", errors="replace")
    return out


def run_workflow(
    env: LocalFaaSr,
    workflow: Any,
    functions: Path,
    *,
    faults: dict[str, Any] | None = None,
    timeout: float = 120,
) -> tuple[FaaSrWorkflow, StartedInvocation, list[ActivationInfo]]:
    wf = env.deploy(workflow, functions)
    started = env.client.start(wf, faults=faults)
    return wf, started, env.client.wait_idle(started.invocation_id, timeout=timeout)


def bucket_of(wf: FaaSrWorkflow) -> str:
    return wf.data_store(wf.default_store)["Bucket"]


def logs_of(env: LocalFaaSr, wf: FaaSrWorkflow, started: StartedInvocation) -> dict[str, list[LogRecord]]:
    """Parsed logs of an invocation, keyed by function instance."""
    folder = started.keys.folder + "/"
    out = {}
    for key, text in objects(env, bucket_of(wf), folder).items():
        kind = started.keys.classify(key)
        if kind and kind[0] == "log":
            out[kind[1]] = parse_log(text)
    return out


def done_set(env: LocalFaaSr, wf: FaaSrWorkflow, started: StartedInvocation) -> set[str]:
    keys = objects(env, bucket_of(wf), started.keys.folder + "/function_completions/")
    return {started.keys.classify(k)[1] for k in keys}  # type: ignore[index]


def wait_for_object(env: LocalFaaSr, bucket: str, key: str, timeout: float = 60) -> str:
    """Poll until an object exists (for tests that act while an invocation runs)."""
    s3 = env.s3_client()
    deadline = time.monotonic() + timeout
    while True:
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except s3.exceptions.NoSuchKey:
            if time.monotonic() > deadline:
                raise AssertionError(f"s3://{bucket}/{key} did not appear within {timeout} s") from None
            time.sleep(0.05)


def wait_activation(env: LocalFaaSr, activation_id: str, timeout: float = 60) -> ActivationInfo:
    """Poll one activation until it is neither queued nor running."""
    deadline = time.monotonic() + timeout
    while (act := env.client.activation(activation_id)).active:
        if time.monotonic() > deadline:
            raise AssertionError(f"activation {activation_id} still {act.state} after {timeout} s")
        time.sleep(0.05)
    return act


def chain(name: str, n: int, function: str = "s2", *, fan_out: bool = False) -> dict:
    """`a1 -> a2 -> ... -> an` (or `a1 -> [a2, ..., an]` with fan_out), every action running `function`."""
    wf = single_action(name, function)
    actions = {}
    for i in range(1, n + 1):
        nxt = [f"a{j}" for j in range(2, n + 1)] if fan_out and i == 1 else []
        if not fan_out and i < n:
            nxt = [f"a{i + 1}"]
        actions[f"a{i}"] = {**wf["ActionList"]["only"], "InvokeNext": nxt}
    return {**wf, "FunctionInvoke": "a1", "ActionList": actions}


def by_instance(acts: list[ActivationInfo]) -> dict[str, list[ActivationInfo]]:
    out: dict[str, list[ActivationInfo]] = {}
    for a in acts:
        out.setdefault(a.instance or a.name, []).append(a)
    return out


def single_action(name: str, function: str, *, arguments: dict[str, Any] | None = None, **extra: Any) -> dict:
    """A one-action workflow (GitHub-style servers, localized on deploy)."""
    return {
        "WorkflowName": name,
        "FunctionInvoke": "only",
        "DefaultDataStore": "S3",
        "LoggingDataStore": "S3",
        "FaaSrLog": "FaaSrLog",
        "ActionList": {
            "only": {
                "FunctionName": function,
                "FaaSServer": "GH",
                "Type": extra.pop("type", "Python"),
                "Arguments": arguments or {},
                "InvokeNext": [],
            }
        },
        "ComputeServers": {
            "GH": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r", "Branch": "main"}
        },
        "DataStores": {
            "S3": {"Endpoint": "https://s3.amazonaws.com", "Bucket": "local-tests", "Region": "us-east-1"}
        },
        **extra,
    }


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids: set[int] | list[int], timeout: float = 10) -> None:
    """Give processes a moment to exit (they may be gone already)."""
    deadline = time.monotonic() + timeout
    while any(process_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def hanging_user_process(
    env: LocalFaaSr, invocation_id: str, action: str, timeout: float = 60
) -> tuple[int, int]:
    """Wait until `action` of an invocation runs its user-function process; (action pid, user pid)."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for act in env.client.activations(invocation_id, docs=False):
            pid = act.record["faasr"].get("pid")
            if act.action == action and act.state == "running" and pid:
                try:
                    children = psutil.Process(pid).children()
                except psutil.NoSuchProcess:
                    children = []
                if children:
                    return pid, children[0].pid
        time.sleep(0.05)
    raise AssertionError(f"{action} of {invocation_id} did not start its user function within {timeout} s")
