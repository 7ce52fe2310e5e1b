"""A conditional without a list for the value returned: FaaSr crashes after triggering the items before
it (contract §5.6, §8.6). Found by dry runs of the corpus (`gcp`, `rworkflow`: `{"True": ["folders(10)"]}`
with `--returns delete=false`): the runtime crashed as the engine does, the oracle expected `completed`."""

from __future__ import annotations

from typing import Any

import pytest

from prefect_faasr.flows import faasr_test_run
from prefect_faasr.oracle import expected_trace
from prefect_faasr.report import TestRunFailed, TestRunReport
from prefect_faasr.status import FunctionStatus as S
from prefect_faasr.workflow import FaaSrWorkflow

from .conftest import CORPUS
from .corpus import FAST


def shape(invoke_next: dict[str, list[Any]]) -> FaaSrWorkflow:
    action = {"FunctionName": "f", "FaaSServer": "GH", "Type": "Python"}
    return FaaSrWorkflow.parse(
        {
            "WorkflowName": "MissingBranch",
            "FunctionInvoke": next(iter(invoke_next)),
            "DefaultDataStore": "S3",
            "LoggingDataStore": "S3",
            "FaaSrLog": "FaaSrLog",
            "ActionList": {a: {**action, "InvokeNext": n} for a, n in invoke_next.items()},
            "ComputeServers": {
                "GH": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r", "Branch": "main"}
            },
            "DataStores": {
                "S3": {"Endpoint": "https://s3.amazonaws.com", "Bucket": "b-x", "Region": "us-east-1"}
            },
        }
    )


def test_the_oracle_fails_the_action_and_fires_only_the_items_before_the_conditional() -> None:
    wf = shape({"a": ["before", {"True": ["yes"]}, "after"], "before": [], "yes": [], "after": []})
    assert expected_trace(wf, {"a": True}) == {
        "a": S.COMPLETED,
        "before": S.COMPLETED,
        "yes": S.COMPLETED,
        "after": S.COMPLETED,
    }
    assert expected_trace(wf, {"a": False}) == {
        "a": S.FAILED,
        "before": S.COMPLETED,
        "yes": S.SKIPPED,
        "after": S.SKIPPED,
    }
    # An explicit expectation still wins; an empty list is a branch (nothing to trigger, no crash).
    assert expected_trace(wf, {"a": False}, {"a": "completed"})["a"] is S.COMPLETED
    empty = shape({"a": [{"True": ["yes"], "False": []}], "yes": []})
    assert expected_trace(empty, {"a": False}) == {"a": S.COMPLETED, "yes": S.NOT_INVOKED}


@pytest.mark.integration
@pytest.mark.slow
def test_a_dry_run_down_the_missing_branch_fails_the_action_as_the_oracle_says(
    prefect_api: str, state_file: str
) -> None:
    state = faasr_test_run(
        spec=str(CORPUS / "FaaSr__FaaSr-workflow__gcp--5c0d7c4.json"),
        local_state=state_file,
        dry_run=True,
        returns={"delete": False},
        timeouts=FAST,
        return_state=True,
    )
    report = state.result(raise_on_failure=False)
    report = report.report if isinstance(report, TestRunFailed) else report
    assert isinstance(report, TestRunReport), state.message
    assert report.passed, report.reason
    assert report.statuses["delete"] == "failed"
    assert (
        "exit code (1)" in report.instance("delete").message
        or "exit code 1" in report.instance("delete").message
    )
    assert {report.statuses[f"folders({r})"] for r in range(1, 11)} == {"skipped"}
