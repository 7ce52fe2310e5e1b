"""Cancelling a test run (Ctrl-C on the CLI, a cancel through the Prefect API): the workflow's
activations are killed on the local runtime, every unfinished instance is `skipped` with "run
cancelled", the report (artifacts, JSON) is still published, the flow run ends Cancelled, and no
process is left behind."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import psutil
import pytest
from prefect.client.orchestration import get_client
from prefect.states import Cancelling

from prefect_faasr.local.client import LocalRuntimeClient

from .flow_runs import (
    RETURNS,
    FlowInThread,
    activations,
    cli,
    flow_artifacts,
    flow_logs,
    flow_run,
    new_invocation,
    wait_for,
    write_spec,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BEFORE_HANG = ("create-input", "test-py-api")  # sync1 hangs after these two completed


def hang_spec(folder: Path, name: str) -> Path:
    return write_spec(
        folder,
        name,
        faults={"sync1": {"hang": True}},
        returns=RETURNS,
        timeouts={"run": 240, "start": 60, "execution": 200, "poll": 0.5, "settle": 1},
    )


def check_cancelled(statuses: dict[str, str], messages: dict[str, str], reason: str) -> None:
    """What a cancel while sync1 hangs leaves: sync1 and everything after it skipped ("run
    cancelled"); the two before it completed, or skipped too when the observer had not yet seen their
    logs settle (a cancel never waits for that)."""
    skipped = [i for i, s in statuses.items() if s == "skipped"]
    assert reason.startswith("cancelled: "), reason
    assert f"{len(skipped)} of 13 function instances unfinished (skipped)" in reason, reason
    for instance, status in statuses.items():
        assert status in (("completed", "skipped") if instance in BEFORE_HANG else ("skipped",)), statuses
        if status == "skipped":
            assert messages[instance].startswith("run cancelled: "), (instance, messages[instance])


def check_killed(client: LocalRuntimeClient, invocation_id: str) -> None:
    acts = activations(client, invocation_id)
    assert not [a for a in acts if a.active], acts
    (sync1,) = [a for a in acts if a.instance == "sync1"]
    assert sync1.killed, sync1
    assert {a.instance for a in acts} == {*BEFORE_HANG, "sync1"}  # nothing started after the cancel


@pytest.mark.parametrize(
    ("sig", "code", "said", "why"),
    [
        (signal.SIGINT, 130, "cancelled (exit 130)", "interrupted (Ctrl-C / SIGINT)"),
        # Prefect re-raises SIGTERM once its flow run has ended (the flow wrote the report first).
        (signal.SIGTERM, -signal.SIGTERM, "", "terminated (signal 15)"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_interrupting_the_cli_cancels_and_reports(
    prefect_api: str, faasr_state_file: str, tmp_path: Path, sig: int, code: int, said: str, why: str
) -> None:
    client = LocalRuntimeClient.from_state_file(faasr_state_file)
    before = {a.activation_id for a in client.activations(docs=False)}
    report = tmp_path / "report.json"
    spec = hang_spec(tmp_path, f"cancel-cli-{abs(code)}")
    proc = cli("run", str(spec), "--local-state", faasr_state_file, "--report", str(report), api=prefect_api)
    try:
        hung = wait_for("sync1 running", lambda: new_invocation(client, before, "sync1"), timeout=180)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, out
    assert said in out and "Traceback" not in out, out
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE], children

    data = json.loads(report.read_text())
    assert data["passed"] is False and data["invocation_id"] == hung.invocation_id
    messages = {i["instance"]: i["message"] for i in data["instances"]}
    check_cancelled(data["statuses"], messages, data["reason"])
    assert data["reason"].startswith(f"cancelled: {why}"), data["reason"]
    assert messages["sync1"] == f"run cancelled: {why}"
    check_killed(client, hung.invocation_id)
    client.close()


def test_cancel_through_the_prefect_api(prefect_api: str, faasr_state_file: str, tmp_path: Path) -> None:
    client = LocalRuntimeClient.from_state_file(faasr_state_file)
    report_path = tmp_path / "report.json"
    run = FlowInThread(
        spec=str(hang_spec(tmp_path, "cancel-api")),
        local_state=faasr_state_file,
        report_path=str(report_path),
    )
    invocation_id = run.observer.keys.invocation_id
    observer = run.observer
    wait_for("sync1 running", lambda: observer.status("sync1").value == "running", timeout=180)
    wait_for("test-py-api completed", lambda: observer.status("test-py-api").value == "completed", timeout=60)
    flow_run_id = run.flow_run_id
    with get_client(sync_client=True) as api:
        api.set_flow_run_state(flow_run_id, Cancelling(message="stopped by a test"))
    state, report = run.wait()

    assert state.is_cancelled(), state
    reason = "cancelled: the flow run was cancelled in Prefect (stopped by a test)"
    assert state.message.startswith(reason), state.message
    assert report.passed is False and report.reason == state.message
    check_cancelled(report.statuses, {i.instance: i.message for i in report.instances}, report.reason)
    assert [i for i, s in report.statuses.items() if s == "completed"] == list(BEFORE_HANG)
    check_killed(client, invocation_id)

    record = flow_run(flow_run_id)
    assert record.state.is_cancelled() and record.state.message == state.message, record.state
    kinds = {a.type for a in flow_artifacts(flow_run_id)}
    assert {"table", "markdown"} <= kinds, kinds
    assert json.loads(report_path.read_text())["reason"] == report.reason
    logs = flow_logs(flow_run_id)
    assert any("cancelling the test run: the flow run was cancelled in Prefect" in m for m in logs), logs[
        -20:
    ]
    client.close()
