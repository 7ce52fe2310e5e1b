"""S3 trouble seen by the watcher only, through the real `faasr-test-run` flow on the local runtime.

The fault proxy stands between the harness (observer and checks) and the runtime's S3; the workflow's
functions keep writing to that S3 directly, so the workflow itself succeeds. A 10 s outage and a
30 s burst of 503 SlowDown mid-run: the observer backs off, logs that it is degraded, never reports a
status it did not see, the budgets (shorter than the trouble) do not fire, and the run passes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefect_faasr.testing.faultproxy import Fault, FaultProxy
from prefect_faasr.testrun import WATCH_S3_ENV

from .flow_runs import RETURNS, FlowInThread, expected, flow_logs, wait_for, write_spec

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BAD = {"failed", "timeout", "skipped"}


@pytest.fixture
def watch_proxy(faasr_local: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of the runtime's S3, used by the flow's harness only."""
    with FaultProxy.for_url(faasr_local.info.s3_endpoint) as proxy:
        monkeypatch.setenv(WATCH_S3_ENV, proxy.endpoint_url)
        yield proxy


class StatusSampler:
    """Samples the observer's statuses in the background while a fault is in force."""

    def __init__(self, observer: Any) -> None:
        self.observer = observer
        self.seen: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.seen.append({i: s.value for i, s in self.observer.statuses().items()})

    def __enter__(self) -> StatusSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_with_trouble(
    tmp_path: Path, state_file: str, proxy: FaultProxy, name: str, start: Any, *, run_budget: float
) -> tuple[Any, Any, FlowInThread, StatusSampler, Fault]:
    # Budgets shorter than the trouble: they would fire if blind time counted against them.
    spec = write_spec(
        tmp_path,
        name,
        faults={"sync1": {"delay": 3}},
        returns=RETURNS,
        timeouts={"run": run_budget, "start": 8, "execution": 8, "poll": 0.5, "settle": 1},
    )
    run = FlowInThread(spec=str(spec), local_state=state_file)
    wait_for("sync1 running", lambda: run.observer.status("sync1").value == "running", timeout=180)
    with StatusSampler(run.observer) as sampler:
        fault = start(proxy)
        assert proxy.wait_pass_through(120), "the fault did not end"
    state, report = run.wait()
    assert state.is_completed(), (state, report.reason)
    assert report.passed, report.reason
    assert report.statuses == expected(spec)
    return state, report, run, sampler, fault


def check_degraded(
    run: FlowInThread, report: Any, sampler: StatusSampler, fault: Fault, seconds: float
) -> None:
    assert fault.injected > 0, "the fault never struck the watcher"
    # No false status: nothing bad was ever derived, during the trouble or after it.
    assert sampler.seen and not [s for s in sampler.seen if BAD & set(s.values())], sampler.seen[-1]
    for instance in report.statuses:
        history = [c.status.value for c in run.observer.state(instance).history]
        assert not BAD & set(history), (instance, history)
    stats = run.observer.stats
    assert (
        report.stats["degraded_periods"] >= 1 and stats.degraded_periods == report.stats["degraded_periods"]
    )
    assert stats.failed_polls >= 2  # it retried (with backoff) rather than giving up
    # Blind from the last good listing before the fault to the first good one after it, so at least
    # as long as the fault; and the run could not end while the watcher was blind.
    assert stats.degraded_seconds >= seconds - 0.5, stats
    assert report.seconds >= seconds
    wait_for(  # logs reach the API in batches, possibly after the flow run ended
        "the degraded warning in the flow run's log",
        lambda: any(m.startswith("S3 degraded, keeping previous") for m in flow_logs(run.flow_run_id)),
        timeout=30,
        step=1,
    )
    wait_for(
        "the recovery in the flow run's log",
        lambda: any(m.startswith("S3 readable again after") for m in flow_logs(run.flow_run_id)),
        timeout=30,
        step=1,
    )


def test_s3_outage_mid_run(faasr_state_file: str, watch_proxy: FaultProxy, tmp_path: Path) -> None:
    _, report, run, sampler, fault = run_with_trouble(
        tmp_path, faasr_state_file, watch_proxy, "s3-outage", lambda p: p.outage(seconds=10), run_budget=180
    )
    check_degraded(run, report, sampler, fault, 10)
    assert watch_proxy.stats.dropped > 0


@pytest.mark.slow
def test_s3_slowdown_burst_mid_run(faasr_state_file: str, watch_proxy: FaultProxy, tmp_path: Path) -> None:
    """30 s of 503 SlowDown (botocore's own retries give up too) under a run budget of 45 s."""
    _, report, run, sampler, fault = run_with_trouble(
        tmp_path,
        faasr_state_file,
        watch_proxy,
        "s3-slowdown",
        lambda p: p.http_errors(503, code="SlowDown", seconds=30),
        run_budget=45,
    )
    check_degraded(run, report, sampler, fault, 30)
    assert watch_proxy.stats.errors > 0
