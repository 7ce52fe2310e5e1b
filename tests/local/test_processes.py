"""Process hygiene: nothing outlives the runtime (also with hanging activations), and `local serve`."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from local_helpers import (
    SCENARIOS,
    bucket_of,
    chain,
    hanging_user_process,
    objects,
    process_alive,
    run_workflow,
    single_action,
    wait_gone,
)

from prefect_faasr.local import LocalFaaSr, LocalRuntimeClient, StateFileError

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FUNCTIONS = SCENARIOS / "functions.py"


def descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_no_stray_processes_after_exit_even_with_hanging_activations(start_method: str) -> None:
    before = descendants()
    with LocalFaaSr(start_method=start_method, max_workers=2) as env:
        servers = env.pids()
        wf = env.deploy(chain("Leak", 2, fan_out=False), FUNCTIONS)
        run = env.client.start(wf, faults={"a2": {"hang": True}})
        hanging = hanging_user_process(env, run.invocation_id, "a2")
        queued = env.client.start(wf, faults={"a1": {"hang": True}})  # a second hang fills the pool
        third = env.client.start(wf)  # ... so this one stays queued
        hanging += hanging_user_process(env, queued.invocation_id, "a1")
        assert [a.state for a in env.client.activations(third.invocation_id)] == ["queued"]
        during = descendants() - before
        assert set(hanging) <= during and set(servers.values()) <= during
        state_dir = env.state_dir
    wait_gone(during)
    assert not [p for p in during if process_alive(p)]
    assert not any(process_alive(p) for p in servers.values())
    assert descendants() - before == set()
    assert state_dir is not None and not state_dir.exists()  # the temporary state folder is gone


def test_kill_reaches_the_user_function_process(runtime: LocalFaaSr) -> None:
    wf = runtime.deploy(chain("KillTree", 1), FUNCTIONS)
    run = runtime.client.start(wf, faults={"a1": {"hang": True}})
    action_pid, user_pid = hanging_user_process(runtime, run.invocation_id, "a1")
    tree = [psutil.Process(action_pid), psutil.Process(user_pid)]
    runtime.client.kill(run.invocation_id)
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_serve_writes_a_private_state_file_and_stops_cleanly(tmp_path: Path) -> None:
    state_file = tmp_path / "state" / "local.json"
    cmd = [sys.executable, "-m", "prefect_faasr.local.cli", "serve", "--state-file", str(state_file)]
    cmd += ["--state-dir", str(tmp_path / "runtime"), "--max-workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not state_file.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "serve did not write its state file"
            time.sleep(0.1)
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
        state = json.loads(state_file.read_text())
        assert state["version"] == 1 and state["pid"] == proc.pid
        assert set(state["compute"]) == {"endpoint", "namespace", "api_key"}
        assert set(state["s3"]) == {"endpoint", "region", "access_key", "secret_key"}

        client = LocalRuntimeClient.from_state_file(state_file)
        wf = client.deploy(chain("Served", 2), FUNCTIONS)
        run = client.start(wf)
        assert [a.exit_code for a in client.wait_idle(run.invocation_id)] == [0, 0]
        children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        assert children
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Ready." in out and state["compute"]["api_key"] not in out and state["s3"]["secret_key"] not in out
    assert not state_file.exists()
    wait_gone(children)
    assert not [p for p in children if process_alive(p)]


def test_state_file_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match="no local runtime state file"):
        LocalRuntimeClient.from_state_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(StateFileError, match="not a local runtime state file"):
        LocalRuntimeClient.from_state_file(bad)


def test_servers_exit_when_their_owner_dies(tmp_path: Path) -> None:
    """A runtime whose owning process is SIGKILLed (no cleanup) still goes away."""
    script = (
        "from prefect_faasr.local import LocalFaaSr; import json, time\n"
        f"env = LocalFaaSr({str(tmp_path / 'rt')!r}).start()\n"
        "print(json.dumps(env.pids()), flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    pids = json.loads(owner.stdout.readline())
    tree = [psutil.Process(owner.pid), *psutil.Process(owner.pid).children(recursive=True)]
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    _, alive = psutil.wait_procs([p for p in tree if p.pid != owner.pid], timeout=20)
    assert not alive, [p.pid for p in alive]
    assert not any(process_alive(p) for p in pids.values())


def test_background_processes_of_user_code_end_with_the_activation(
    runtime: LocalFaaSr, tmp_path: Path
) -> None:
    (tmp_path / "spawner.py").write_text(
        "import subprocess\n\n"
        "def spawner():\n"
        "    proc = subprocess.Popen(['sleep', '600'])\n"
        "    faasr_log(f'background pid {proc.pid}')  # noqa: F821\n"
    )
    wf, started, acts = run_workflow(runtime, single_action("Spawner", "spawner"), tmp_path)
    assert [a.exit_code for a in acts] == [0]
    log = objects(runtime, bucket_of(wf), started.keys.log_key("only"))[started.keys.log_key("only")]
    pid = int(next(line for line in log.splitlines() if line.startswith("background pid ")).split()[-1])
    wait_gone([pid])
    assert not process_alive(pid)
