"""The integration workflow as pytest tests, with prefect-faasr's pytest plugin.

    pytest examples/integration                      # embedded local runtime (no cloud account)
    pytest examples/integration --faasr-env nightly  # real backends: a FaaSrEnvironment block

One test run (a Prefect flow run) serves the whole module; each test waits only for the functions
it looks at. Every run has its own InvocationID, so tests can run in any order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prefect_faasr.testing.workflow_run import WorkflowRun

FOLDER = "integration-tests/{InvocationID}"


@pytest.fixture(scope="module")
def run(faasr_workflow) -> Iterator[WorkflowRun]:
    with faasr_workflow("spec.yaml") as run:
        yield run


def test_create_input_writes_the_inputs(run: WorkflowRun) -> None:
    run.wait_for("create-input")
    run.assert_content_equals(f"{FOLDER}/input2.txt", "Test input2", after="create-input")
    run.assert_content_equals(f"{FOLDER}/input3.txt", "Test input3", after="create-input")


def test_py_api_reads_writes_and_deletes(run: WorkflowRun) -> None:
    run.assert_function_completed("test-py-api")
    run.assert_content_equals(f"{FOLDER}/output1-py.txt", "Test input1 + Test input2", after="test-py-api")
    run.assert_object_does_not_exist(f"{FOLDER}/input1.txt", after="test-py-api")
    run.assert_logs_contain("test-py-api", "Deleted input1.txt")


def test_conditionals_take_the_declared_branches(run: WorkflowRun) -> None:
    run.assert_function_completed("sync1")  # returns True
    run.assert_function_completed("test-run-true")  # returns False
    run.assert_function_completed("test-run-false")
    run.assert_function_not_invoked("test-dontrun-false")
    run.assert_function_not_invoked("test-dontrun-true")
    run.assert_content_equals(f"{FOLDER}/run_true_output.txt", "test-run-true ran")


def test_every_rank_runs_once(run: WorkflowRun) -> None:
    for rank in range(1, 6):
        assert run.wait_for(f"test-rank({rank})") == "completed"
        run.assert_content_equals(f"{FOLDER}/rank_files/rank-{rank}.txt", f"rank {rank} of 5")
    run.assert_logs_contain("test-rank", "test-rank: wrote")


def test_fan_in_sees_every_rank(run: WorkflowRun) -> None:
    run.assert_function_completed("sync2")
    run.assert_logs_contain("sync2", "sync2: all 5 ranks present")
    run.assert_object_exists(f"{FOLDER}/summary.txt")


def test_whole_run_matches_the_expected_trace(run: WorkflowRun) -> None:
    run.assert_expected_trace()
