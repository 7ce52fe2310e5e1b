"""`prefect-faasr run`: exit 0 passed / 1 failed / 2 bad input, and the JSON report (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLE
from .helpers import write_spec

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).parent / "prefect-faasr")


def cli(*args: str, api: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if api:
        env["PREFECT_API_URL"] = api  # the session's Prefect API: no second server per call
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_run_passes_and_writes_the_report(prefect_api: str, state_file: str, tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.json"
    done = cli(
        "run",
        str(EXAMPLE / "spec.yaml"),
        "--local-state",
        state_file,
        "--report",
        str(report),
        api=prefect_api,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout and "test-rank(5)" in done.stdout
    data = json.loads(report.read_text())
    assert data["passed"] is True and data["failed_checks"] == []
    assert data["statuses"]["test-dontrun-false"] == "not_invoked"
    timing = next(i for i in data["instances"] if i["instance"] == "sync2")
    assert timing["invoked_at"] and timing["started_at"] and timing["finished_at"] and timing["seconds"] >= 0
    assert data["invocation_id"] in data["invocation_folder"]


def test_run_with_a_failing_function_exits_1(prefect_api: str, state_file: str, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "fault.yaml",
        name="cli-fault",
        workflow=str(EXAMPLE / "workflow.json"),
        functions=str(EXAMPLE / "functions"),
        timeouts={"run": 120, "poll": 0.5, "settle": 2},
        returns={"sync1": True, "test-run-true": False},
        faults={"sync1": {"raise": "sync1 broke"}},
    )
    report = tmp_path / "report.json"
    done = cli("run", str(spec), "--local-state", state_file, "--report", str(report), api=prefect_api)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout and "sync1" in done.stdout
    data = json.loads(report.read_text())
    assert data["passed"] is False
    assert data["statuses"]["sync1"] == "failed"
    assert any(c["subject"] == "sync1" and "sync1 broke" in c["message"] for c in data["failed_checks"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no/such/spec.yaml"], "file not found"),
        (["run", str(EXAMPLE / "spec.yaml"), "--timeout", "start=abc"], "not a number"),
        (["run", str(EXAMPLE / "spec.yaml"), "--timeout", "forever=3"], "unknown budget"),
        (["run", str(EXAMPLE / "spec.yaml"), "--returns", "sync1=false"], "--returns is for --dry-run"),
        (["run", str(EXAMPLE / "workflow.json"), "--dry-run", "--returns", "sync1=maybe"], "sync1=maybe"),
        (["run", str(EXAMPLE / "spec.yaml"), "--local", "--env", "x"], "exclude each other"),
    ],
)
def test_bad_input_exits_2_without_traceback(args: list[str], message: str) -> None:
    done = cli(*args, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_invalid_spec_names_file_and_field(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "bad.yaml", workflow=str(EXAMPLE / "workflow.json"), expect={"nope": "done"})
    done = cli("run", str(spec), timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert str(spec) in done.stderr and "expect" in done.stderr
