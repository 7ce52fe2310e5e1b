"""Compute outage on the local runtime: the compute server stops after the entry ran and before its
successors start. What never started ends `timeout` naming the start budget, the observer keeps
reading S3, and no process of the compute server or its activations is left behind."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from prefect_faasr.local import LocalFaaSr, LocalRuntimeError
from prefect_faasr.local.client import ActivationInfo
from prefect_faasr.observe import InvocationObserver, PlatformEvent
from prefect_faasr.status import FunctionStatus
from prefect_faasr.testrun import make_observer, open_target, start_invocation
from prefect_faasr.workflow import FaaSrWorkflow

from .matrix_helpers import INSTANCES, MATRIX, matrix_spec, process_tree, wait_all_gone

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START, EXECUTION, RUN, POLL, SETTLE = 4.0, 10.0, 30.0, 0.25, 1.0
TIMEOUTS = {"start": START, "execution": EXECUTION, "run": RUN, "poll": POLL, "settle": SETTLE}
ENTRY_DELAY = 2.0  # the entry runs this long: time to queue the blocker before it triggers anything


@pytest.fixture
def runtime() -> Iterator[LocalFaaSr]:
    """A runtime of its own (its compute server is stopped), with ONE worker: what is queued waits."""
    with LocalFaaSr(max_workers=1) as env:
        yield env


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
    return value


def by_instance(acts: list[ActivationInfo]) -> dict[str, ActivationInfo]:
    return {a.instance: a for a in acts if a.instance}


@pytest.mark.parametrize("crash", [False, True], ids=["shutdown", "crash"])
def test_successors_that_never_start_time_out_on_the_start_budget(
    runtime: LocalFaaSr, crash: bool, caplog: pytest.LogCaptureFixture
) -> None:
    client = runtime.client
    spec = matrix_spec("compute-outage", {"start": {"delay": ENTRY_DELAY}}, TIMEOUTS)
    with open_target(spec, runtime_client=client) as target:
        wf = target.workflow
        invocation = wf.new_invocation()
        run_id = invocation.invocation_id
        observer = make_observer(target, spec, wf.keys(invocation), run_logger=logging.getLogger("outage"))
        observer.start()
        try:
            start_invocation(target, spec, invocation)
            observer.mark_invoked(wf.entry)
            wait_for("the entry running", lambda: by_instance(client.activations(run_id)).get("start"))
            # Another invocation queues behind the entry and hangs on the only worker once the entry
            # ends, so the successors the entry triggers stay queued: ran, but never started.
            blocker = client.start(wf, faults={"start": {"hang": True}})

            def successors_queued() -> bool:
                acts = by_instance(client.activations(run_id))
                entry = acts.get("start")
                queued = [acts[i].state for i in ("mid", "side") if i in acts]
                return entry is not None and entry.state == "succeeded" and queued == ["queued"] * 2

            wait_for("the entry ending with mid and side queued", successors_queued)
            wait_for(
                "the blocker hanging", lambda: client.activation(blocker.activation_id).state == "running"
            )
            tree = process_tree(runtime.pids()["compute"])
            activation_pids = {a.record["faasr"]["pid"] for a in client.activations() if a.state == "running"}
            assert activation_pids and activation_pids <= {p.pid for p in tree}

            with caplog.at_level(logging.WARNING, logger="outage"):
                runtime.stop_compute(crash=crash)
                assert not runtime.compute_running
                states = observer.wait_all(timeout=RUN + 10)
        finally:
            observer.stop()

    statuses = {i: s.status for i, s in states.items()}
    assert statuses == {
        "start": FunctionStatus.COMPLETED,
        "mid": FunctionStatus.TIMEOUT,
        "side": FunctionStatus.TIMEOUT,
        **dict.fromkeys(INSTANCES[3:], FunctionStatus.SKIPPED),
    }
    for inst in ("mid", "side"):
        assert states[inst].message == f"no log within the start budget of {START:g} s"
    assert "predecessor mid timeout" in states["work(1)"].message
    # S3 stayed readable: the outage never looked like an S3 problem, only the platform probe failed,
    # and that was said once, not on every poll.
    assert not observer.degraded and observer.stats.failed_polls == 0
    probe_warnings = [r for r in caplog.records if "platform probe failed" in r.getMessage()]
    assert len(probe_warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "not reachable" in probe_warnings[0].getMessage()

    # Nothing of the compute server is left: not the server, its forkserver, nor any activation.
    assert not wait_all_gone(tree), [(p.pid, p.name()) for p in tree if p.is_running()]
    with pytest.raises(LocalRuntimeError, match="not reachable"):
        client.health()
    # The rest of the runtime still works: S3 answers and the entry's objects are there.
    listing = runtime.s3_client().list_objects_v2(
        Bucket="faasr-fault-matrix", Prefix=wf.keys(invocation).folder
    )
    assert any(o["Key"].endswith("/start.txt") for o in listing["Contents"])


class FlakyProbe:
    """A platform probe that cannot reach its platform for the first `failures` polls."""

    def __init__(self, failures: int) -> None:
        self.left = failures

    def poll(self) -> list[PlatformEvent]:
        if self.left:
            self.left -= 1
            raise LocalRuntimeError("local runtime not reachable at http://127.0.0.1:9")
        return []


def test_an_unreachable_platform_is_reported_once_and_so_is_its_return(
    direct: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    wf = FaaSrWorkflow.parse(MATRIX / "workflow.json")
    log = logging.getLogger("flaky-probe")
    obs = InvocationObserver(
        wf,
        wf.keys(wf.new_invocation()),
        log_client=direct,
        log_bucket=bucket,
        probe=FlakyProbe(3),
        logger=log,
    )
    with caplog.at_level(logging.INFO, logger="flaky-probe"):
        for _ in range(5):
            assert obs.poll_once()  # S3 answers: the polls succeed whatever the probe does
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if "probe" in m] == [
        "platform probe failed (local runtime not reachable at http://127.0.0.1:9); continuing with S3 only",
        "platform probe answers again",
    ]


def test_stop_compute_on_a_stopped_runtime_says_so() -> None:
    env = LocalFaaSr()
    with pytest.raises(RuntimeError, match="not running"):
        env.stop_compute()
    assert not env.compute_running


def test_whole_runtime_stops_cleanly_after_a_compute_outage() -> None:
    env = LocalFaaSr(max_workers=1).start()
    try:
        trees = [process_tree(pid) for pid in env.pids().values()]
        env.stop_compute()
        assert env.s3_client().list_buckets()["Buckets"] == []
    finally:
        env.stop()
    left = wait_all_gone([p for tree in trees for p in tree])
    assert not left, [p.pid for p in left]
