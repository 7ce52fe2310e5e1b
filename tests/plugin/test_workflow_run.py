"""The WorkflowRun handle in this process: what its assertions say when they fail, cancelling, reports."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml
from prefect.client.orchestration import get_client

from prefect_faasr.environment import EnvironmentNotFoundError
from prefect_faasr.errors import SpecValidationError
from prefect_faasr.local.client import LocalRuntimeClient, LocalRuntimeError
from prefect_faasr.status import FunctionStatus as S
from prefect_faasr.testing.workflow_run import WorkflowRun
from prefect_faasr.testrun import STATE_FILE_ENV

from .conftest import EXAMPLE

pytestmark = pytest.mark.integration

FOLDER = "integration-tests/{InvocationID}"


def write_spec(path: Path, **changes: object) -> Path:
    spec = yaml.safe_load((EXAMPLE / "spec.yaml").read_text(encoding="utf-8"))
    spec.update(workflow=str(EXAMPLE / "workflow.json"), functions=str(EXAMPLE / "functions"), **changes)
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(state_file: str) -> Iterator[WorkflowRun]:
    with WorkflowRun(EXAMPLE / "spec.yaml", local_state=state_file) as run:
        yield run


def test_wait_for_returns_final_statuses(run: WorkflowRun) -> None:
    assert run.wait_for("test-py-api") is S.COMPLETED
    assert run.wait_for("test-rank(4)") is S.COMPLETED
    assert run.wait_for("test-dontrun-true") is S.NOT_INVOKED  # a branch not taken is no error
    assert run.status("create-input") is S.COMPLETED


def test_names_and_keys(run: WorkflowRun) -> None:
    assert run.key("{WorkflowName}/{InvocationID}/x") == f"IntegrationTestWorkflow/{run.invocation_id}/x"
    with pytest.raises(ValueError, match=r"test-rank has 5 ranked instances; name one: test-rank\(1\)"):
        run.wait_for("test-rank")
    with pytest.raises(ValueError, match="'nope' is not a function of workflow IntegrationTestWorkflow"):
        run.status("nope")
    with pytest.raises(ValueError, match=r"test-rank\(9\) is not an instance of test-rank"):
        run.status("test-rank(9)")
    with pytest.raises(ValueError, match="unknown placeholder"):
        run.key("{Nope}")


def test_object_assertions_say_what_and_where(run: WorkflowRun) -> None:
    bucket = run.workflow.data_store(run.workflow.default_store)["Bucket"]
    folder = f"integration-tests/{run.invocation_id}"
    assert run.assert_object_exists(f"{FOLDER}/input2.txt") == f"{folder}/input2.txt"

    with pytest.raises(AssertionError) as missing:
        run.assert_object_exists(f"{FOLDER}/nope.txt")
    text = str(missing.value)
    assert f"expected s3://{bucket}/{folder}/nope.txt to exist, it does not" in text
    assert f"s3://{bucket}/{folder}/ holds: " in text and "input2.txt" in text

    with pytest.raises(
        AssertionError, match=r"input2.txt not to exist, but it does \(11 bytes: 'Test input2'"
    ):
        run.assert_object_does_not_exist(f"{FOLDER}/input2.txt")

    with pytest.raises(AssertionError) as differs:
        run.assert_content_equals(f"{FOLDER}/input2.txt", "Test input9")
    assert f"s3://{bucket}/{folder}/input2.txt: expected 'Test input9', found 'Test input2'" in str(
        differs.value
    )
    run.assert_content_equals(f"{FOLDER}/input2.txt", b"Test input2")
    assert run.read_object(f"{FOLDER}/input1.txt", after="test-py-api") is None  # deleted by test-py-api


def test_status_and_log_assertions_say_what_and_where(run: WorkflowRun) -> None:
    with pytest.raises(AssertionError) as wrong:
        run.assert_function_failed("sync1")
    assert str(wrong.value).startswith(
        "expected sync1 to be failed, it completed: completed with result True"
    )
    assert f"function instance sync1, invocation {run.invocation_id}, flow run " in str(wrong.value)

    with pytest.raises(
        AssertionError, match="expected test-dontrun-true to be completed, it was not invoked"
    ):
        run.assert_function_completed("test-dontrun-true")

    records = run.assert_logs_contain("test-rank", "test-rank: wrote")
    assert len(records) == 5
    with pytest.raises(AssertionError) as no_line:
        run.assert_logs_contain("test-py-api", "no such words")
    text = str(no_line.value)
    assert "expected the log of test-py-api to contain 'no such words'" in text
    assert re.search(r"s3://\S+/FaaSrLog/IntegrationTestWorkflow/\S+/test-py-api\.txt", text)
    assert re.search(r"line \d+: ", text)
    with pytest.raises(AssertionError, match="test-dontrun-false to contain 'x', but it has no log"):
        run.assert_logs_contain("test-dontrun-false", "x")


def test_the_report_and_the_flow_run_after_the_run(run: WorkflowRun) -> None:
    run.assert_expected_trace()
    report = run.report  # waits for the flow to end
    assert report.passed, report.reason
    assert report.invocation_id == run.invocation_id
    assert report.statuses == {i: s.value for i, s in run.statuses().items()}
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run.state.state_details.flow_run_id)
    assert flow_run.name == run.flow_run_name and flow_run.state.is_completed()
    assert flow_run.parameters["local_state"] == str(run.local_state)


def test_cancelling_skips_what_is_left_and_kills_its_activations(state_file: str, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "hang.yaml", name="hangs", faults={"test-py-api": {"hang": True}})
    with WorkflowRun(spec, local_state=state_file, should_cancel=lambda: "the module gave up") as run:
        deadline = time.monotonic() + 120
        while run.status("test-py-api") is not S.RUNNING and time.monotonic() < deadline:
            run.observer.wait("test-py-api", timeout=0.25)
        assert run.status("test-py-api") is S.RUNNING
    report = run.report
    assert not report.passed and run.state.is_failed()
    assert report.statuses["create-input"] == "completed"
    assert report.statuses["test-py-api"] == report.statuses["sync2"] == "skipped"
    assert "run cancelled: the module gave up" in report.instance("test-py-api").message
    client = LocalRuntimeClient.from_state_file(state_file)
    assert not [a for a in client.activations(run.invocation_id, docs=False) if a.active]


def test_an_interrupt_cancels_and_an_own_runtime_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STATE_FILE_ENV, raising=False)
    spec = write_spec(tmp_path / "hang.yaml", name="interrupted", faults={"create-input": {"hang": True}})
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    run = WorkflowRun(spec).start()  # no state file: the handle starts its own runtime
    client = LocalRuntimeClient.from_state_file(Path(str(run.local_state)))
    client.health()
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert started  # the runtime's S3 and compute servers

    run.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)

    message = run.report.instance("create-input").message
    assert run.report.statuses["create-input"] == "skipped"
    assert "run cancelled: the test session was interrupted (KeyboardInterrupt)" in message
    with pytest.raises(LocalRuntimeError, match="not reachable"):
        client.health()
    assert [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


def test_bad_input_stops_before_any_flow(tmp_path: Path) -> None:
    with pytest.raises(SpecValidationError, match="file not found"):
        WorkflowRun(tmp_path / "missing.yaml").start()
    with pytest.raises(EnvironmentNotFoundError, match="no FaaSrEnvironment block named 'absent'"):
        WorkflowRun(EXAMPLE / "spec.yaml", environment="absent").start()
