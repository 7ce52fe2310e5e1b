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


def cli(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
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
    assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{out[-4000:]}"
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


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A `prefect server start` on a free port; torn down (and checked for leftovers) afterwards."""
    home, port = tmp_path / "prefect-home", free_port()
    env = isolated_env(home, port)
    api = env["PREFECT_API_URL"]
    server_log = tmp_path / "server.log"
    server = start(["server", "start", "--host", "127.0.0.1", "--port", str(port)], env, server_log)
    procs: dict[str, subprocess.Popen[bytes]] = {"server": server}
    info: dict[str, object] = {"env": env, "api": api, "port": port, "procs": procs, "tmp": tmp_path}
    try:
        wait_healthy(api, server, server_log)
        yield info
    finally:
        stopped = {name: stop(p) for name, p in reversed(procs.items())}
        deadline = time.monotonic() + 30
        while (left := spawned_by(home)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        assert stopped == dict.fromkeys(procs, True), f"did not stop on SIGTERM: {stopped}"
        assert not left, f"processes left behind: {[(p.pid, p.name()) for p in left]}"
        assert not port_open(port), f"port {port} still open"


def test_on_demand_deployment_runs_through_a_worker(stack: dict[str, object], capsys) -> None:
    t0 = time.monotonic()
    env, api, tmp = stack["env"], stack["api"], stack["tmp"]
    assert isinstance(env, dict) and isinstance(api, str) and isinstance(tmp, Path)
    procs = stack["procs"]
    assert isinstance(procs, dict)

    cli(["work-pool", "create", POOL, "--type", "process"], env)
    out = cli(["--no-prompt", "deploy", "--all"], env)
    assert "faasr-regression/nightly" in out and "faasr-regression/on-demand" in out, out
    worker_log = tmp / "worker.log"
    procs["worker"] = start(
        ["worker", "start", "--pool", POOL, "--name", f"w-{uuid.uuid4().hex[:6]}"], env, worker_log
    )

    out = cli(
        [
            "deployment",
            "run",
            "faasr-regression/on-demand",
            "--param",
            f"spec={SPEC}",
            "--watch",
            "--watch-interval",
            "1",
        ],
        env,
        timeout=420,
    )
    assert "Flow run finished successfully in 'Completed'" in out, out[-4000:]
    found = re.search(r"UUID: ([0-9a-f-]{36})", out)
    assert found, out
    run_id = found.group(1)
    wall = time.monotonic() - t0

    with httpx.Client(base_url=api, timeout=10) as http:
        run = http.get(f"/flow_runs/{run_id}").json()
        assert run["state"]["type"] == "COMPLETED", (run["state"], worker_log.read_text()[-4000:])
        assert run["parameters"]["spec"] == SPEC
        children = http.post(
            "/flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}}
        )
        subflows = children.json()
        assert [s["state"]["type"] for s in subflows] == ["COMPLETED"]
        keys_of = {
            rid: {
                a["key"]: a["type"]
                for a in http.post(
                    "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [rid]}}}
                ).json()
            }
            for rid in (run_id, subflows[0]["id"])
        }
        assert keys_of[run_id].get("faasr-suite-adhoc") == "table", keys_of[run_id]
        assert keys_of[run_id].get("faasr-suite-adhoc-summary") == "markdown", keys_of[run_id]
        assert keys_of[subflows[0]["id"]].get("faasr-integration-functions") == "table", keys_of
        # `{{ $PWD }}` of prefect.yaml became the checkout `prefect deploy` ran in.
        deployment = http.get(f"/deployments/{run['deployment_id']}").json()
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
        ]
        # The UI serves the run's page (the SPA answers deep links asked for as HTML).
        base = api.removesuffix("/api")
        page = http.get(f"{base}/v2/runs/flow-run/{run_id}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "<html" in page.text.lower()

    with capsys.disabled():
        print(f"\n[deploy] work pool + deploy + worker + watched on-demand run: {wall:.1f} s wall")
