"""Cancelling a test run (Ctrl-C on the CLI, a cancel through the Prefect API): the workflow's
activations are killed on the local runtime, every unfinished instance is `skipped` with "run
cancelled", the report (artifacts, JSON) is still published, the flow run ends Cancelled, and no
process is left behind."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import subprocess
import termios
import threading
from pathlib import Path

import psutil
import pytest
from prefect.client.orchestration import get_client
from prefect.states import Cancelling

from prefect_faasr.local.client import LocalRuntimeClient

from .flow_runs import (
    CLI,
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
    wait_for(  # logs reach the API in batches, possibly after the flow run ended
        "the cancel in the flow run's log",
        lambda: any(
            "cancelling the test run: the flow run was cancelled" in m for m in flow_logs(flow_run_id)
        ),
        timeout=30,
        step=1,
    )
    client.close()


@pytest.mark.slow
def test_ctrl_c_in_a_terminal(faasr_state_file: str, tmp_path: Path) -> None:
    """Ctrl-C typed in a terminal (a pty): the kernel signals the whole foreground process group, which
    without isolation would also stop Prefect's temporary API server (no PREFECT_API_URL here) before
    the run could report. The CLI still cancels cleanly, reports, and leaves no process behind."""
    client = LocalRuntimeClient.from_state_file(faasr_state_file)
    before = {a.activation_id for a in client.activations(docs=False)}
    report = tmp_path / "report.json"
    spec = hang_spec(tmp_path, "cancel-terminal")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), COLUMNS="200")
    master, slave = pty.openpty()

    def controlling_terminal() -> None:  # runs in the child: a new session whose terminal is the pty
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    args = [CLI, "run", str(spec), "--local-state", faasr_state_file, "--report", str(report)]
    proc = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        preexec_fn=controlling_terminal,
    )  # fmt: skip
    os.close(slave)
    screen = bytearray()
    reader = threading.Thread(target=_drain, args=(master, screen), daemon=True)
    reader.start()
    try:
        hung = wait_for("sync1 running", lambda: new_invocation(client, before, "sync1"), timeout=240)
        group = [p for p in psutil.process_iter() if _in_session(p, proc.pid)]
        assert len(group) >= 3, group  # the CLI, the isolated command, Prefect's server at least
        os.write(master, b"\x03")  # Ctrl-C: the terminal driver sends SIGINT to the foreground group
        code = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(10)
    os.close(master)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))  # no terminal styles
    assert code == 130, out[-3000:]
    assert "cancelled (exit 130)" in out, out[-3000:]
    data = json.loads(report.read_text())
    assert data["reason"].startswith("cancelled: interrupted (Ctrl-C / SIGINT)"), data["reason"]
    check_cancelled(
        data["statuses"], {i["instance"]: i["message"] for i in data["instances"]}, data["reason"]
    )
    check_killed(client, hung.invocation_id)
    wait_for("no process of the CLI left", lambda: not [p for p in group if _alive(p)], timeout=30)
    client.close()


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's last user is gone
            return
        if not chunk:
            return
        into += chunk


def _in_session(proc: psutil.Process, sid: int) -> bool:
    try:
        return os.getsid(proc.pid) == sid
    except (OSError, psutil.Error):
        return False


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
