"""The suite reads a subflow's report from the JSON it wrote when the subflow's final state has no data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.exceptions import MissingResult
from prefect.states import Completed, Failed

from prefect_faasr.flows.regression import _subflow_result
from prefect_faasr.report import TestRunFailed, TestRunReport


def report(passed: bool) -> TestRunReport:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    return TestRunReport(
        name="spec",
        workflow="wf",
        environment="local",
        invocation_id="id-1",
        invocation_timestamp="2026-11-21T12-00-00",
        invocation_folder="FaaSrLog/wf/2026-11-21T12-00-00/id-1",
        passed=passed,
        reason="all 1 checks held" if passed else "1 of 1 checks failed",
        started_at=now,
        finished_at=now,
    )


@pytest.mark.parametrize("state", [Completed(), Failed(message="1 of 1 checks failed")])
def test_a_state_without_data_falls_back_to_the_saved_report(state, tmp_path: Path) -> None:
    saved = tmp_path / "report.json"
    expected = report(passed=state.is_completed())
    expected.write_json(saved)
    got = _subflow_result(state, saved)
    assert isinstance(got, TestRunReport)
    assert (got.passed, got.reason, got.invocation_id) == (expected.passed, expected.reason, "id-1")


def test_the_state_data_wins_over_the_saved_report(tmp_path: Path) -> None:
    saved = tmp_path / "report.json"
    report(passed=True).write_json(saved)
    failed = TestRunFailed(report(passed=False))
    assert _subflow_result(Failed(data=failed), saved) is failed


def test_without_data_and_without_a_saved_report_the_error_stays(tmp_path: Path) -> None:
    with pytest.raises(MissingResult):
        _subflow_result(Completed(), tmp_path / "missing.json")
    assert isinstance(_subflow_result(Failed(message="crashed"), tmp_path / "missing.json"), Exception)
