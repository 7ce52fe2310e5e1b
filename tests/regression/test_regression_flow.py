"""The faasr-regression flow through Prefect's real API: subflows, verdicts, artifacts, JUnit, and
the failure webhook (a pytest-httpserver receiver that checks what it gets)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_UI_URL, temporary_settings
from prefect.states import State
from pytest_httpserver import HTTPServer

from prefect_faasr.flows import faasr_regression
from prefect_faasr.notify import WEBHOOK_ENV
from prefect_faasr.suite_report import SuiteFailed, SuiteReport
from prefect_faasr.testrun import STATE_FILE_ENV

pytestmark = pytest.mark.integration

HOOK = "/hooks/T0KEN-s3cr3t"  # the path stands for a webhook's secret part: it must never be logged


def run(**parameters: Any) -> tuple[State, SuiteReport]:
    state = faasr_regression(**parameters, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, SuiteFailed):
        result = result.report
    assert isinstance(result, SuiteReport), f"no report: {state.type} {state.message} {result!r}"
    return state, result


def subflows(state: State) -> list[Any]:
    with get_client(sync_client=True) as client:
        flt = FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[state.state_details.flow_run_id])
        )
        return client.read_flow_runs(flow_run_filter=flt)


def spec_tasks(state: State, count: int) -> dict[str, Any]:
    """The suite's `spec` task runs by name (each runs one subflow; it starts when the scheduler lets
    it), once the server has recorded all `count` of them as ended (task runs arrive as events)."""
    flt = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            found = {
                t.name: t
                for t in client.read_task_runs(flow_run_filter=flt)
                if t.task_key.startswith("run_suite")
            }
            if (
                len(found) == count and all(t.end_time for t in found.values())
            ) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def artifacts(state: State) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        flt = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        return {a.key: a for a in client.read_artifacts(artifact_filter=flt)}


def log_lines(state: State) -> list[str]:
    """Every log line of the flow run (and of the task runs of its subflows), once all were sent."""
    APILogHandler().flush()
    out: list[str] = []
    with get_client(sync_client=True) as client:
        flt = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        while page := client.read_logs(log_filter=flt, limit=200, offset=len(out)):
            out += [entry.message for entry in page]
    return out


def flow_run_name(state: State) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def overlap(a: Any, b: Any) -> bool:
    return a.start_time < b.end_time and b.start_time < a.end_time


def most_at_once(flow_runs: Any) -> int:
    """The largest number of flow runs running at the same moment (ends sort before starts)."""
    events = sorted([(r.start_time, 1) for r in flow_runs] + [(r.end_time, -1) for r in flow_runs])
    now = top = 0
    for _, step in events:
        now += step
        top = max(top, now)
    return top


@pytest.mark.slow
def test_failing_suite_keeps_going_reports_every_spec_and_posts_once(
    suite_dir: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    junit = tmp_path / "out" / "junit.xml"
    with temporary_settings(updates={PREFECT_UI_URL: "http://ui.example:4200/v2"}):
        state, report = run(
            suite=str(suite_dir / "suite.yaml"),
            junit_path=str(junit),
            webhook=httpserver.url_for(HOOK),
            max_parallel=2,
        )

    # Ends Failed naming exactly the failed specs; the others ran to the end anyway.
    assert state.is_failed()
    assert state.message == "2 of 4 specs failed: left-raises, broken"
    verdicts = {o.name: o.verdict for o in report.outcomes}
    assert verdicts == {
        "serial": "passed",
        "left-raises": "failed",
        "boom-expected": "passed",
        "broken": "error",
    }
    assert "left (failed)" in report.outcome("left-raises").failing_functions()
    assert "injected in left" in report.outcome("left-raises").reason
    assert "retries" in report.outcome("broken").reason

    # One faasr-test-run subflow per spec, all on the ONE runtime started for the suite (gone now).
    runs = {r.name.rsplit("-", 2)[0]: r for r in subflows(state)}
    assert set(runs) == set(verdicts)
    shared = {r.parameters["local_state"] for r in runs.values()}
    assert len(shared) == 1 and None not in shared
    assert not Path(shared.pop()).exists()
    assert {r.state.type.value for n, r in runs.items() if n != "broken"} == {"COMPLETED", "FAILED"}
    # At most two at once; two specs of one workflow never at once on the shared runtime; two
    # specs of different workflows were let run side by side (their spec tasks overlap: a subflow
    # may start late on a loaded API server, so the subflows themselves need not).
    assert not overlap(runs["serial"], runs["left-raises"])
    tasks = spec_tasks(state, len(verdicts))
    assert overlap(tasks["serial"], tasks["boom-expected"])
    assert most_at_once(runs.values()) <= 2 and most_at_once(tasks.values()) == 2

    # The summary table artifact: one row per spec, in suite order.
    found = artifacts(state)
    assert found["faasr-suite-regression-test"].type == "table"
    rows = json.loads(found["faasr-suite-regression-test"].data)
    assert [(r["spec"], r["verdict"]) for r in rows] == [(o.name, o.verdict) for o in report.outcomes]
    assert "left (failed)" in rows[1]["failing functions"]
    assert found["faasr-suite-regression-test-summary"].type == "markdown"

    # JUnit: one test suite per spec, the failure and the error where they belong.
    suites = {s.get("name"): s for s in ET.parse(junit).getroot().findall("testsuite")}
    assert list(suites) == ["serial", "left-raises", "boom-expected", "broken"]
    assert suites["serial"].get("failures") == "0" and int(suites["serial"].get("tests")) > 0
    failed_cases = [
        c.get("name") for c in suites["left-raises"].iter("testcase") if c.find("failure") is not None
    ]
    assert "left" in failed_cases
    assert suites["broken"].get("errors") == "1" and suites["broken"].find("testcase/error") is not None

    # The webhook got exactly one POST, saying what failed and where to look.
    assert len(httpserver.log) == 1
    request, _ = httpserver.log[0]
    assert request.headers["Content-Type"] == "application/json"
    body = request.get_json()
    run_id = str(state.state_details.flow_run_id)
    assert body["flow_run"] == {
        "id": run_id,
        "name": flow_run_name(state),
        "url": f"http://ui.example:4200/v2/runs/flow-run/{run_id}",
    }
    assert body["suite"] == "regression-test" and body["state"] == "Failed"
    assert body["message"] == state.message
    assert [f["spec"] for f in body["failed"]] == ["left-raises", "broken"]
    assert body["failed"][0]["reason"] == report.outcome("left-raises").reason
    assert body["failed"][0]["url"] == f"http://ui.example:4200/v2/runs/flow-run/{runs['left-raises'].id}"
    assert body["passed"] == ["serial", "boom-expected"]
    assert body["flow_run"]["url"] in body["text"]
    lines = log_lines(state)
    assert any("failure notification sent to http://localhost" in m and m.endswith("/…") for m in lines), (
        lines
    )
    assert not any("T0KEN" in m for m in lines)


def test_passing_suite_completes_on_the_given_runtime_and_posts_nothing(
    suite_dir: Path, state_file: str, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    state, report = run(
        suite=str(suite_dir / "suite.yaml"),
        only=["boom-expected", "serial"],
        local_state=state_file,
        webhook=httpserver.url_for(HOOK),
    )
    assert state.is_completed(), state.message
    assert isinstance(state.result(), SuiteReport)
    assert [o.name for o in report.outcomes] == ["serial", "boom-expected"]
    assert report.reason == "all 2 specs passed"
    assert {r.parameters["local_state"] for r in subflows(state)} == {state_file}
    assert httpserver.log == []


def test_a_failing_webhook_is_a_warning_and_the_url_comes_from_a_secret_block(
    suite_dir: Path, state_file: str, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("down", status=500)
    Secret(value=httpserver.url_for(HOOK)).save("faasr-test-hook", overwrite=True)
    state, _report = run(
        suite=str(suite_dir / "suite.yaml"),
        only=["broken"],
        local_state=state_file,
        webhook="faasr-test-hook",
    )
    assert state.is_failed()
    assert state.message == "1 of 1 specs failed: broken"  # the suite's verdict, not the webhook's
    assert len(httpserver.log) == 1 and httpserver.log[0][0].get_json()["failed"][0]["spec"] == "broken"
    lines = log_lines(state)
    assert any("not delivered" in m and "answered HTTP 500" in m for m in lines), lines
    assert not any("T0KEN" in m for m in lines)


def test_webhook_and_runtime_may_come_from_the_environment(
    suite_dir: Path, state_file: str, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How a worker is configured: $PREFECT_FAASR_WEBHOOK and $PREFECT_FAASR_LOCAL_STATE_FILE."""
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    monkeypatch.setenv(WEBHOOK_ENV, httpserver.url_for(HOOK))
    monkeypatch.setenv(STATE_FILE_ENV, state_file)
    state, _ = run(suite=str(suite_dir / "suite.yaml"), only=["broken"])
    assert state.is_failed()
    assert [r.get_json()["message"] for r, _ in httpserver.log] == ["1 of 1 specs failed: broken"]
    assert [r.parameters["local_state"] for r in subflows(state)] == [state_file]


def test_an_unreachable_runtime_fails_the_suite_saying_so(suite_dir: Path, tmp_path: Path) -> None:
    gone = tmp_path / "no-such-state.json"
    state = faasr_regression(suite=str(suite_dir / "suite.yaml"), local_state=str(gone), return_state=True)
    assert state.is_failed()
    assert str(gone) in state.message
    assert subflows(state) == []


def test_an_invalid_suite_fails_before_anything_runs(tmp_path: Path, state_file: str) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: bad\nspecs:\n  - path: nowhere.yaml\n    tiemouts: {run: 3}\n")
    state = faasr_regression(suite=str(suite), local_state=state_file, return_state=True)
    assert state.is_failed()
    assert "invalid regression suite" in state.message and "specs[0].tiemouts" in state.message
    assert subflows(state) == []
