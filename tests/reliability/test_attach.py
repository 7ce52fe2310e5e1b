"""Re-attaching (`prefect-faasr attach`, the flow's invocation_id/invocation_timestamp): a watcher
that crashed loses nothing, since the runtime keeps running the workflow and everything the report
needs is in the invocation folder; a finished invocation is reported as it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from prefect_faasr.local.client import LocalRuntimeClient

from .flow_runs import (
    CLI,
    EXAMPLE,
    RETURNS,
    FlowInThread,
    cli,
    expected,
    invocation_timestamp,
    new_invocation,
    wait_for,
    write_spec,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BUCKET = "faasr-integration-tests"
WORKFLOW = "IntegrationTestWorkflow"


def test_attach_after_the_watcher_was_killed(prefect_api: str, faasr_state_file: str, tmp_path: Path) -> None:
    client = LocalRuntimeClient.from_state_file(faasr_state_file)
    before = {a.activation_id for a in client.activations(docs=False)}
    spec = write_spec(
        tmp_path,
        "attach-killed",
        faults={"sync1": {"delay": 6}},  # still running when the watcher dies
        returns=RETURNS,
        timeouts={"run": 240, "start": 60, "execution": 60, "poll": 0.5, "settle": 1},
    )
    watcher = cli("run", str(spec), "--local-state", faasr_state_file, api=prefect_api)
    try:
        running = wait_for("sync1 running", lambda: new_invocation(client, before, "sync1"), timeout=180)
    finally:
        watcher.send_signal(signal.SIGKILL)  # a crash: no cleanup, no report
        watcher.communicate(timeout=30)
    assert watcher.returncode == -signal.SIGKILL
    invocation_id = running.invocation_id
    assert invocation_id is not None
    timestamp = invocation_timestamp(client, BUCKET, WORKFLOW, invocation_id)

    report = tmp_path / "report.json"
    attach = cli(
        "attach", str(spec), "--local-state", faasr_state_file, "--invocation-id", invocation_id,
        "--timestamp", timestamp, "--report", str(report), api=prefect_api,
    )  # fmt: skip
    out, _ = attach.communicate(timeout=240)
    assert attach.returncode == 0, out
    assert "PASSED" in out and invocation_id in out

    data = json.loads(report.read_text())
    assert data["passed"] is True and data["failed_checks"] == [], data["reason"]
    assert (data["invocation_id"], data["invocation_timestamp"]) == (invocation_id, timestamp)
    assert data["statuses"] == expected(spec)
    assert {c["kind"] for c in data["checks"]} == {"status", "object", "log"}  # the spec's checks all ran
    by_name = {i["instance"]: i for i in data["instances"]}
    assert by_name["sync1"]["finished_at"] and by_name["sync2"]["finished_at"]
    # The workflow ran once: attaching triggered nothing.
    entries = [a for a in client.activations(invocation_id, docs=False) if a.instance == "create-input"]
    assert len(entries) == 1, entries
    client.close()


def test_attach_to_a_finished_invocation(prefect_api: str, faasr_state_file: str, tmp_path: Path) -> None:
    """The whole invocation is in S3 already: the flow reports it without triggering anything."""
    client = LocalRuntimeClient.from_state_file(faasr_state_file)
    wf = client.deploy(EXAMPLE / "workflow.json", EXAMPLE / "functions")
    started = client.start(wf)
    client.wait_idle(started.invocation_id, timeout=180)
    spec = write_spec(
        tmp_path, "attach-finished", faults={}, returns=RETURNS, timeouts={"poll": 0.5, "settle": 1}
    )

    run = FlowInThread(
        spec=str(spec),
        local_state=faasr_state_file,
        invocation_id=started.invocation_id,
        invocation_timestamp=started.timestamp,
    )
    state, report = run.wait()
    assert state.is_completed() and report.passed, report.reason
    assert report.statuses == expected(spec)
    assert report.invocation_id == started.invocation_id
    entries = [
        a for a in client.activations(started.invocation_id, docs=False) if a.instance == "create-input"
    ]
    assert len(entries) == 1, entries
    client.close()


SPEC = str(EXAMPLE / "spec.yaml")
IDENTITY = ["--invocation-id", "x", "--timestamp", "2026-11-21T09-47-39"]
STATE = ["--local-state", "s.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*IDENTITY, *STATE], "give either"),
        ([SPEC, "--workflow", str(EXAMPLE / "workflow.json"), *IDENTITY, *STATE], "give either"),
        (
            [SPEC, "--invocation-id", "x", "--timestamp", "2026-11-21 09:47", *STATE],
            "not an InvocationTimestamp",
        ),
        (
            [SPEC, "--invocation-id", "a/b", "--timestamp", "2026-11-21T09-47-39", *STATE],
            "not an InvocationID",
        ),
        ([SPEC, *IDENTITY], "--local-state"),
        (["--workflow", SPEC, *IDENTITY, *STATE], "a workflow JSON file is expected"),
    ],
)
def test_attach_bad_input_exits_2(args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_FAASR_LOCAL_STATE_FILE"}
    done = subprocess.run([CLI, "attach", *args], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
