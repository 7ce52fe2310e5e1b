"""The faasr-test-run flow end to end on the local runtime, through Prefect's real API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefect_faasr.status import FunctionStatus as S

from .conftest import EXAMPLE, REAL_RUN
from .helpers import artifacts, flow_run_record, logs, run, task_runs, write_spec

pytestmark = pytest.mark.integration


def test_integration_example_passes_end_to_end(state_file: str, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    junit_path = tmp_path / "junit.xml"
    state, report = run(
        spec=str(EXAMPLE / "spec.yaml"),
        local_state=state_file,
        report_path=str(report_path),
        junit_path=str(junit_path),
    )
    assert state.is_completed(), state.message
    assert report.passed, report.reason
    assert report.statuses["test-dontrun-false"] == "not_invoked"
    assert [report.statuses[f"test-rank({r})"] for r in range(1, 6)] == ["completed"] * 5
    assert {c.kind for c in report.checks} == {"status", "object", "log"}
    # One task run per function instance, whose Prefect state mirrors the FaaSr status.
    watchers = {t.name: t for t in task_runs(state) if t.task_key.startswith("watch_function")}
    assert set(watchers) == set(report.statuses)
    assert watchers["sync2"].state.type.value == "COMPLETED" and watchers["sync2"].state.name == "Completed"
    assert watchers["test-dontrun-true"].state.name == "NotInvoked"
    # Remote log lines were forwarded into the watcher's task log.
    by_task = {}
    for entry in logs(state):
        by_task.setdefault(entry.task_run_id, []).append(entry.message)
    assert any("Deleted input1.txt" in m for m in by_task[watchers["test-py-api"].id])
    assert any("Succesfully invoked sync1" in m for m in by_task[watchers["test-py-api"].id])
    # Artifacts: progress, the functions table and the markdown summary.
    kinds = {a.type for a in artifacts(state)}
    assert {"progress", "table", "markdown"} <= kinds
    saved = json.loads(report_path.read_text())
    assert saved["passed"] is True and saved["invocation_id"] == report.invocation_id
    assert saved["statuses"] == report.statuses
    assert "<testsuite" in junit_path.read_text()


def test_a_raising_function_fails_the_run_naming_it(state_file: str, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "fault.yaml",
        name="integration-fault",
        workflow=str(EXAMPLE / "workflow.json"),
        functions=str(EXAMPLE / "functions"),
        timeouts={"run": 120, "start": 60, "execution": 60, "settle": 2, "poll": 0.5},
        returns={"sync1": True, "test-run-true": False},
        faults={"test-py-api": {"raise": "injected failure"}},
    )
    state, report = run(spec=str(spec), local_state=state_file)
    assert state.is_failed()
    assert state.message.startswith("12 of 13 checks failed: test-py-api: expected completed, found failed")
    assert "injected failure" in state.message
    assert report.statuses["create-input"] == "completed"
    assert report.statuses["test-py-api"] == "failed"
    downstream = [i for i in report.statuses if i not in ("create-input", "test-py-api")]
    assert {report.statuses[i] for i in downstream} == {"skipped"}
    failed = report.instance("test-py-api")
    assert any("injected failure" in line for line in failed.log_excerpt)


def test_exit_code_fault_skips_the_join_while_the_other_branch_completes(
    state_file: str, tmp_path: Path
) -> None:
    wf_dir = REAL_RUN / "workflows"
    spec = write_spec(
        tmp_path / "left-exits.yaml",
        name="left-exits",
        workflow=str(wf_dir / "workflows" / "LocalTestWF.json"),
        functions=str(wf_dir / "functions"),
        timeouts={"run": 120, "start": 60, "execution": 60, "settle": 2, "poll": 0.5},
        returns={"prep": True},
        expect={"left": "failed", "join": "skipped", "worker": "skipped", "final": "skipped"},
        faults={"left": {"exit": 3}},
    )
    state, report = run(spec=str(spec), local_state=state_file)
    assert state.is_completed(), state.message  # the failure was the expectation
    statuses = report.statuses
    assert statuses["right"] == statuses["prep"] == "completed"
    assert statuses["never"] == "not_invoked"
    assert statuses["left"] == "failed" and "exit code (3)" in report.instance("left").message
    assert [statuses[i] for i in ("join", "worker(1)", "worker(2)", "worker(3)", "final")] == ["skipped"] * 5


def test_an_expected_failure_that_does_not_happen_fails_the_run(state_file: str, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "expect-fail.yaml",
        name="expect-fail",
        workflow=str(EXAMPLE / "workflow.json"),
        functions=str(EXAMPLE / "functions"),
        timeouts={"run": 120, "poll": 0.5, "settle": 2},
        returns={"sync1": True, "test-run-true": False},
        expect={"sync2": "failed"},
    )
    state, report = run(spec=str(spec), local_state=state_file)
    assert state.is_failed()
    assert report.instance("sync2").expected is S.FAILED and report.statuses["sync2"] == "completed"
    assert "sync2: expected failed, found completed" in state.message


def test_embedded_runtime_and_cleanup_delete_the_invocation(tmp_path: Path) -> None:
    state, report = run(spec=str(EXAMPLE / "spec.yaml"), cleanup=True)
    assert state.is_completed(), state.message
    assert flow_run_record(state).parameters["cleanup"] is True
    # The embedded runtime is gone with the flow, so check cleanup through the report's own stats:
    assert report.stats["s3_requests"] > 0


def test_dry_run_matches_the_oracle_for_both_branches(state_file: str) -> None:
    for returns, ran in (({"prep": True}, "left"), ({"prep": False}, "never")):
        state, report = run(
            spec=str(REAL_RUN / "workflows" / "workflows" / "LocalTestWF.json"),
            local_state=state_file,
            dry_run=True,
            returns=returns,
            timeouts={"poll": 0.5, "settle": 2},
        )
        assert state.is_completed(), state.message
        assert report.statuses[ran] == "completed"
        assert all(c.passed for c in report.checks)
