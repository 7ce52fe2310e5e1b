"""Running the flow and reading back what it left in the Prefect API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogHandler
from prefect.states import State

from prefect_faasr.flows import faasr_test_run
from prefect_faasr.report import TestRunFailed, TestRunReport


def run(**parameters: Any) -> tuple[State, TestRunReport]:
    """Run the flow; its state and the report (from the result, or from TestRunFailed)."""
    state = faasr_test_run(**parameters, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, TestRunFailed):
        result = result.report
    assert isinstance(result, TestRunReport), f"no report: {state.type} {state.message} {result!r}"
    return state, result


def write_spec(path: Path, **fields: Any) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False), encoding="utf-8")
    return path


def flow_run_record(state: State) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


def task_runs(state: State) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        flt = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        return client.read_task_runs(flow_run_filter=flt, limit=200)


def logs(state: State) -> list[Any]:
    """Every log of the flow run, once the log worker has sent what it queued."""
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        flt = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        out, offset = [], 0
        while True:
            page = client.read_logs(log_filter=flt, limit=200, offset=offset)
            out += page
            if len(page) < 200:
                return out
            offset += 200


def artifacts(state: State) -> list[Any]:
    with get_client(sync_client=True) as client:
        flt = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        return client.read_artifacts(artifact_filter=flt, limit=100)
