"""Test runs of the `faasr-test-run` flow for the reliability tests: specs of the integration example
with faults, the flow in a thread (as the pytest plugin runs it), the CLI in a subprocess, and what the
run left in the Prefect API and on the local runtime."""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterName,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogHandler

from prefect_faasr import progress
from prefect_faasr.local.client import ActivationInfo, LocalRuntimeClient
from prefect_faasr.observe import InvocationObserver
from prefect_faasr.report import TestRunFailed, TestRunReport
from prefect_faasr.spec import TestSpec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "integration"
CLI = str(Path(sys.executable).parent / "prefect-faasr")
RETURNS = {"sync1": True, "test-run-true": False}  # the example's declared conditional outcomes


def write_spec(folder: Path, name: str, *, faults: dict[str, Any], **fields: Any) -> Path:
    """A spec of the integration example (its objects and logs checks included) with these faults."""
    base = yaml.safe_load((EXAMPLE / "spec.yaml").read_text(encoding="utf-8"))
    base.update(
        name=name,
        workflow=str(EXAMPLE / "workflow.json"),
        functions=str(EXAMPLE / "functions"),
        faults=faults,
        **fields,
    )
    base.pop("payload_url", None)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False), encoding="utf-8")
    return path


def expected(spec: Path) -> dict[str, str]:
    return {i: s.value for i, s in TestSpec.load(spec).expected_statuses().items()}


class FlowInThread:
    """`faasr_test_run` in a thread that carries this thread's Prefect settings; `observer` and
    `flow_run_id` are known once the invocation is being watched."""

    def __init__(self, **parameters: Any) -> None:
        from prefect_faasr.flows import faasr_test_run

        self.token = uuid.uuid4().hex
        self._claim = progress.claim(self.token)
        self.state: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.state = faasr_test_run(**parameters, progress_token=self.token, return_state=True)
            except BaseException as exc:  # handed to the test
                self.error = exc

        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(run,), daemon=True)
        self._thread.start()
        try:
            self.run_name, self.observer = self._claim.result(timeout=180)
        finally:
            progress.release(self.token)
        self.observer: InvocationObserver

    @property
    def flow_run_id(self) -> Any:
        with get_client(sync_client=True) as client:
            (run,) = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[self.run_name]))
            )
        return run.id

    def wait(self, timeout: float = 300) -> tuple[Any, TestRunReport]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the flow did not end within {timeout} s"
        assert self.error is None, f"the flow raised {self.error!r}"
        result = self.state.result(raise_on_failure=False)
        if isinstance(result, TestRunFailed):
            result = result.report
        assert isinstance(result, TestRunReport), f"no report: {self.state.type} {self.state.message}"
        return self.state, result


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 120, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout} s")


def cli(*args: str, api: str, **popen: Any) -> subprocess.Popen[str]:
    """The CLI in a subprocess on the session's Prefect API. SIGINT gets its default action back,
    as in a terminal (a shell's background jobs inherit it ignored, and Python then never raises
    KeyboardInterrupt)."""
    env = {**os.environ, "PREFECT_API_URL": api}
    return subprocess.Popen(
        [CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


def activations(client: LocalRuntimeClient, invocation_id: str) -> list[ActivationInfo]:
    return client.activations(invocation_id, docs=False)


def new_invocation(client: LocalRuntimeClient, before: set[str], instance: str) -> ActivationInfo | None:
    """The running activation of `instance` among the activations not in `before` (a new run's)."""
    for act in client.activations(docs=False):
        if act.activation_id not in before and act.instance == instance and act.state == "running":
            return act
    return None


def invocation_timestamp(client: LocalRuntimeClient, bucket: str, workflow: str, invocation_id: str) -> str:
    """The InvocationTimestamp of an invocation, from its folder `FaaSrLog/{WF}/{TS}/{ID}/` in S3."""
    s3 = client.s3_client()
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"FaaSrLog/{workflow}/")
        for page in pages:
            for obj in page.get("Contents", []):
                parts = obj["Key"].split("/")
                if len(parts) > 3 and parts[3] == invocation_id:
                    return parts[2]
    finally:
        s3.close()
    raise AssertionError(f"no folder of invocation {invocation_id} in s3://{bucket}/FaaSrLog/{workflow}/")


def flow_logs(flow_run_id: Any) -> list[str]:
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        flt = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        out: list[str] = []
        while True:
            page = client.read_logs(log_filter=flt, limit=200, offset=len(out))
            out += [log.message for log in page]
            if len(page) < 200:
                return out


def flow_artifacts(flow_run_id: Any) -> list[Any]:
    with get_client(sync_client=True) as client:
        flt = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        return client.read_artifacts(artifact_filter=flt, limit=100)


def flow_run(flow_run_id: Any) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)
