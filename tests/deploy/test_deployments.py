"""prefect.yaml for real: server, process work pool, `prefect deploy --all`, a worker, and
`prefect deployment run 'faasr-regression/on-demand' --watch`, then teardown without leftovers.

This is the README's sequence, run with the venv's own `prefect` from the project root, a free port
and a PREFECT_HOME of its own. The worker runs the flow in a subprocess of its own, so this also
checks that the pull step finds the checkout (`{{ $PWD }}`) and that the package imports there.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).parent / "prefect"
POOL = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"][1]["work_pool"]["name"]
SPEC = "examples/integration/spec.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def isolated_env(home: Path, port: int) -> dict[str, str]:
    """The caller's environment without any Prefect or prefect-faasr settings, plus this server's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PYTEST_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_UI_URL=f"http://127.0.0.1:{port}/v2",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_WORKER_QUERY_SECONDS="2",
        PWD=str(ROOT),  # what a shell sets after `cd` into the checkout; prefect.yaml's pull step uses it
    )
    return env


def _default_sigint() -> None:
    # A child of a non-interactive shell's background job inherits an ignored SIGINT, and then the
    # worker ignores SIGTERM too (prefect-notes §6, pitfall 2).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(PREFECT), *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )


def cli(args: list[str], env: dict[str, str], timeout: float = 120, log: Path | None = None) -> str:
    """Run a prefect command; on failure the message has its output (and the tail of `log`)."""
    done = subprocess.run(
        [str(PREFECT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    out = done.stdout + done.stderr
    more = f"\n--- {log.name}:\n{log.read_text()[-4000:]}" if log and log.exists() else ""
    assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{out[-4000:]}{more}"
    return out


def wait_healthy(api: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"prefect server exited {server.returncode}:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api}/health", timeout=2).json() is True:
                return
        time.sleep(0.5)
    raise AssertionError(f"no /api/health after {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """SIGTERM, wait; True when it stopped by itself. Otherwise its process group is killed."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return False


def spawned_by(home: Path) -> list[psutil.Process]:
    """Live processes that carry this test's PREFECT_HOME: everything the server, the worker and the
    flow run started inherits it, whatever session or parent it ends up with."""
    found = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if p.environ().get("PREFECT_HOME") == str(home) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
    return found


@dataclass
class Stack:
    """A running `prefect server start` and what the test adds to it (torn down by the fixture)."""

    env: dict[str, str]
    api: str
    tmp: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture
def stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Stack]:
    """A `prefect server start` on a free port; torn down (and checked for leftovers) afterwards."""
    home, port = tmp_path / "prefect-home", free_port()
    env = isolated_env(home, port)
    t0 = time.monotonic()
    server_log = tmp_path / "server.log"
    server = start(["server", "start", "--host", "127.0.0.1", "--port", str(port)], env, server_log)
    info = Stack(env, env["PREFECT_API_URL"], tmp_path, {"server": server})
    try:
        wait_healthy(info.api, server, server_log)
        info.seconds["server start until /api/health"] = time.monotonic() - t0
        yield info
    finally:
        t1 = time.monotonic()
        stopped = {name: stop(p) for name, p in reversed(info.procs.items())}
        deadline = time.monotonic() + 30
        while (left := spawned_by(home)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        info.seconds["teardown (SIGTERM worker, server)"] = time.monotonic() - t1
        info.seconds["total"] = time.monotonic() - t0
        with capsys.disabled():
            print("\n[deploy] " + "; ".join(f"{k}: {v:.1f} s" for k, v in info.seconds.items()))
        assert stopped == dict.fromkeys(info.procs, True), f"did not stop on SIGTERM: {stopped}"
        assert not left, f"processes left behind: {[(p.pid, p.name()) for p in left]}"
        assert not port_open(port), f"port {port} still open"


def test_on_demand_deployment_runs_through_a_worker(stack: Stack) -> None:
    env, api = stack.env, stack.api
    t0 = time.monotonic()
    cli(["work-pool", "create", POOL, "--type", "process"], env)
    out = cli(["--no-prompt", "deploy", "--all"], env)
    assert "faasr-regression/nightly" in out and "faasr-regression/on-demand" in out, out
    stack.seconds["work-pool create + deploy --all"] = time.monotonic() - t0

    t0 = time.monotonic()
    worker_log = stack.tmp / "worker.log"
    name = f"w-{uuid.uuid4().hex[:6]}"
    stack.procs["worker"] = start(["worker", "start", "--pool", POOL, "--name", name], env, worker_log)
    watch = ["deployment", "run", "faasr-regression/on-demand", "--param", f"spec={SPEC}", "--watch"]
    out = cli([*watch, "--watch-interval", "1"], env, timeout=420, log=worker_log)
    assert "Flow run finished successfully in 'Completed'" in out, out[-4000:]
    stack.seconds["worker start + watched on-demand run"] = time.monotonic() - t0
    found = re.search(r"UUID: ([0-9a-f-]{36})", out)
    assert found, out
    run_id = found.group(1)

    with httpx.Client(base_url=api, timeout=10) as http:
        run = http.get(f"/flow_runs/{run_id}").json()
        assert run["state"]["type"] == "COMPLETED", run["state"]
        assert run["parameters"]["spec"] == SPEC
        flt = {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}}
        subflows = http.post("/flow_runs/filter", json=flt).json()
        assert [s["state"]["type"] for s in subflows] == ["COMPLETED"]

        def artifact_types(flow_run_id: str) -> dict[str, str]:
            flt = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
            return {a["key"]: a["type"] for a in http.post("/artifacts/filter", json=flt).json()}

        suite_artifacts = artifact_types(run_id)
        assert suite_artifacts.get("faasr-suite-adhoc") == "table", suite_artifacts
        assert suite_artifacts.get("faasr-suite-adhoc-summary") == "markdown", suite_artifacts
        spec_artifacts = artifact_types(subflows[0]["id"])
        assert spec_artifacts.get("faasr-integration-functions") == "table", spec_artifacts

        # `{{ $PWD }}` of prefect.yaml became the checkout `prefect deploy` ran in.
        deployment = http.get(f"/deployments/{run['deployment_id']}").json()
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
        ]
        nightly = http.get("/deployments/name/faasr-regression/nightly").json()
        assert nightly["parameters"] == {"suite": "examples/suite.yaml"}
        schedule = nightly["schedules"][0]
        assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"], schedule["active"]) == (
            "0 3 * * *",
            "UTC",
            True,
        )

        # The UI serves the run's page (the SPA answers deep links asked for as HTML).
        base = api.removesuffix("/api")
        page = http.get(f"{base}/v2/runs/flow-run/{run_id}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "<html" in page.text.lower()
