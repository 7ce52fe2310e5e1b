"""InvocationObserver over real HTTP S3 (moto): trouble, recovery, threads, reading, API."""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from prefect_faasr.derive import Budgets
from prefect_faasr.observe import InvocationObserver, PlatformEvent
from prefect_faasr.s3client import s3_client
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys

from .conftest import FakeClock, FlakyS3
from .engine import START, Writer
from .shapes import local_fail_wf

S = FunctionStatus


@pytest.fixture
def wf() -> FaaSrWorkflow:
    return local_fail_wf()


@pytest.fixture
def keys(wf: FaaSrWorkflow) -> InvocationKeys:
    return wf.keys("0f1e2d3c-aaaa-bbbb-cccc-000000000001", "2026-11-21T10-00-00")


@pytest.fixture
def writer(s3: Any, bucket: str, keys: InvocationKeys) -> Writer:
    return Writer(s3, bucket, keys)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- S3 trouble ----------------------------------------------------------------------------------------


def test_an_unreachable_s3_changes_no_status_and_fires_no_budget(
    wf: FaaSrWorkflow, keys: InvocationKeys, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    dead = s3_client(f"http://127.0.0.1:{closed_port()}", "us-east-1", "k", "s", max_attempts=1)
    obs = InvocationObserver(
        wf, keys, log_client=dead, log_bucket="b", budgets=Budgets(start=5, execution=5, run=5), clock=clock
    )
    obs.mark_invoked("fstart")
    with caplog.at_level(logging.WARNING, logger="prefect_faasr.observe"):
        for _ in range(3):
            clock.advance(100)
            assert obs.poll_once() is False
    assert obs.statuses() == {"fstart": S.INVOKED, "boom": S.PENDING, "ok": S.PENDING, "fjoin": S.PENDING}
    assert obs.degraded and not obs.done
    stats = obs.stats
    assert stats.failed_polls == 3 and stats.degraded_periods == 1 and stats.polls == 0
    attempts = dead.meta.config.retries["total_max_attempts"]  # botocore retries count too
    assert stats.requests["ListObjectsV2"] == 3 * attempts
    assert "S3 degraded" in caplog.text and "EndpointConnectionError" in caplog.text


def test_503_for_a_while_then_recovery(
    flaky_s3: FlakyS3, s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer,
    clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    front = s3_client(flaky_s3.endpoint, "us-east-1", "k", "s", max_attempts=1)
    assert front.meta.config.retries["total_max_attempts"] == 2
    budgets = Budgets(start=60, execution=60, run=600)
    obs = InvocationObserver(
        wf, keys, log_client=front, log_bucket=bucket, budgets=budgets, settle=2, clock=clock
    )
    obs.mark_invoked("fstart")
    writer.log("fstart", START)
    assert obs.poll_once()
    assert obs.status("fstart") is S.RUNNING

    flaky_s3.failing = True
    with caplog.at_level(logging.INFO, logger="prefect_faasr.observe"):
        for _ in range(3):
            clock.advance(300)  # far past every budget, the run's included
            assert obs.poll_once() is False
        assert obs.statuses()["fstart"] is S.RUNNING and obs.degraded
        assert "SlowDown (HTTP 503)" in caplog.text
        writer.run("fstart", "boom", "ok")  # the function finished while S3 looked down to us

        flaky_s3.failing = False
        clock.advance(1)
        assert obs.poll_once()
        assert "S3 readable again" in caplog.text
    statuses = obs.statuses()
    assert statuses == {"fstart": S.COMPLETED, "boom": S.INVOKED, "ok": S.INVOKED, "fjoin": S.PENDING}
    assert not obs.degraded
    stats = obs.stats
    assert stats.degraded_periods == 1 and stats.degraded_seconds == pytest.approx(3 * 300 + 1)
    assert stats.requests["ListObjectsV2"] == 1 + 3 * 2 + 1  # both attempts of each failed poll count
    assert flaky_s3.refused == 6

    # Budgets run again once S3 is readable: boom never logs, so the start budget fires.
    clock.advance(61)
    assert obs.poll_once()
    assert obs.status("boom") is S.TIMEOUT
    assert obs.state("boom").message == "no log within the start budget of 60 s"


def test_an_unexpected_bug_in_a_poll_does_not_kill_the_thread(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    class Malformed:
        calls = 0

        def poll(self) -> list[Any]:
            self.calls += 1
            return [object()] if self.calls == 1 else []  # not a PlatformEvent: the poll crashes

    probe = Malformed()
    obs = InvocationObserver(
        wf, keys, log_client=s3, log_bucket=bucket, poll_interval=0.02, settle=0.1, probe=probe
    )
    writer.run("fstart")
    with caplog.at_level(logging.ERROR, logger="prefect_faasr.observe"), obs:
        obs.mark_invoked("fstart")
        assert obs.wait("fstart", timeout=20).status is S.COMPLETED
    assert probe.calls >= 2
    assert "observer poll failed unexpectedly" in caplog.text


def test_a_failing_probe_is_reported_and_s3_still_decides(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    class Down:
        def poll(self) -> list[PlatformEvent]:
            raise ConnectionError("compute server gone")

    obs = InvocationObserver(wf, keys, log_client=s3, log_bucket=bucket, probe=Down())
    writer.run("fstart", "boom")
    obs.mark_invoked("fstart")
    with caplog.at_level(logging.WARNING, logger="prefect_faasr.observe"):
        assert obs.poll_once()
    assert obs.status("fstart") is S.COMPLETED
    assert "platform probe failed (compute server gone)" in caplog.text


# ---- the background thread and waiting --------------------------------------------------------------------


def test_background_polling_wait_and_stop(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer
) -> None:
    obs = InvocationObserver(
        wf, keys, log_client=s3, log_bucket=bucket, poll_interval=0.02, settle=0.2, budgets=Budgets(run=60)
    )
    obs.start()
    obs.mark_invoked("fstart")
    state = obs.wait("boom", timeout=0.1)
    assert not state.is_final and state.status is S.PENDING

    def engine() -> None:
        writer.run("fstart", "boom", "ok")
        time.sleep(0.05)
        writer.done("boom")
        writer.log("boom", START + "[0.3] [ERROR] [executor.py] intentional failure\n")
        writer.run("ok", "fjoin")
        time.sleep(0.05)
        writer.run("fjoin")

    producer = threading.Thread(target=engine)
    producer.start()
    fjoin = obs.wait("fjoin", timeout=30)
    producer.join()
    assert fjoin.status is S.COMPLETED
    assert fjoin.invoked_at is not None and fjoin.started_at is not None and fjoin.finished_at is not None
    assert fjoin.seconds is not None and fjoin.seconds >= 0
    states = obs.wait_all(timeout=30)
    assert {i: s.status for i, s in states.items()} == {
        "fstart": S.COMPLETED,
        "boom": S.FAILED,
        "ok": S.COMPLETED,
        "fjoin": S.COMPLETED,
    }
    assert states["boom"].errors[0].message == "intentional failure"
    # Polls may miss a short phase, but the history only moves forward and every change says when.
    order = [S.PENDING, S.INVOKED, S.RUNNING, S.COMPLETED]
    history = [c.status for c in states["ok"].history]
    assert history[0] is S.PENDING and history[-1] is S.COMPLETED
    assert history == sorted(history, key=order.index)
    times = [c.at for c in states["ok"].history]
    assert times == sorted(times)
    assert obs.done
    deadline = time.monotonic() + 10
    while obs._thread is not None and obs._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not obs._thread.is_alive(), "the poller keeps polling after everything settled"
    obs.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("faasr-observer")]


def test_cancel_skips_the_rest_and_releases_waiters(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer
) -> None:
    obs = InvocationObserver(wf, keys, log_client=s3, log_bucket=bucket, poll_interval=0.02)
    writer.run("fstart", "boom", "ok")
    with obs:
        obs.mark_invoked("fstart")
        assert obs.wait("fstart", timeout=20).status is S.COMPLETED
        result: dict[str, Any] = {}
        waiter = threading.Thread(target=lambda: result.update(s=obs.wait("fjoin")))
        waiter.start()
        obs.cancel("flow cancelled by the user")
        waiter.join(5)
        assert not waiter.is_alive()
    assert (
        result["s"].status is S.SKIPPED and result["s"].message == "run cancelled: flow cancelled by the user"
    )
    assert obs.statuses()["fstart"] is S.COMPLETED and obs.done


# ---- reading logs ------------------------------------------------------------------------------------------


def test_records_are_forwarded_in_order_and_the_last_one_is_held_back_until_final(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer, clock: FakeClock
) -> None:
    obs = InvocationObserver(
        wf,
        keys,
        log_client=s3,
        log_bucket=bucket,
        settle=5,
        clock=clock,
        live_read_interval=0,
        live_reads_per_second=None,
    )
    obs.mark_invoked("fstart")
    text = START + "[0.2] [ERROR] [executor.py] boom\nTraceback (most recent call last):\n"
    writer.log("fstart", text)
    obs.poll_once()
    assert [r.message for r in obs.records("fstart")] == ["Starting server on localhost port 8000"]
    assert obs.status("fstart") is S.FAILED  # failed at once, but the log may still grow
    text += '  File "x.py", line 1, in f\nValueError: boom\n'
    writer.log("fstart", text)
    clock.advance(1)
    obs.poll_once()
    assert len(obs.records("fstart")) == 1
    clock.advance(6)
    obs.poll_once()
    forwarded = obs.records("fstart")
    assert [r.level for r in forwarded] == ["INFO", "ERROR"]
    assert forwarded[1].continuation[-1] == "ValueError: boom"
    assert obs.records("fstart", start=1) == forwarded[1:]
    assert obs.snapshot()["fstart"].log_records == 2


def test_only_new_bytes_are_fetched_and_a_log_changed_in_place_is_read_again(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer, clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    obs = InvocationObserver(
        wf,
        keys,
        log_client=s3,
        log_bucket=bucket,
        clock=clock,
        live_read_interval=0,
        live_reads_per_second=None,
    )
    first = START + "x" * 500 + "\n"
    writer.log("fstart", first)
    obs.poll_once()
    writer.log("fstart", first + "appended\n")
    obs.poll_once()
    stats = obs.stats
    assert stats.bytes_by_operation["GetObject"] == len(first) + 64 + len("appended\n")
    assert stats.rereads == 0
    assert [r.message for r in obs.records("fstart")][-1:] == ["x" * 500]  # last one held back

    with caplog.at_level(logging.INFO, logger="prefect_faasr.observe"):
        writer.log("fstart", first.replace("x", "y") + "appended\nmore\n")  # same length prefix, new bytes
        obs.poll_once()
        assert obs.stats.rereads == 1
        assert "changed in place" in caplog.text
        assert obs.records("fstart")[1].message == "y" * 500
        writer.log("fstart", START)  # shrank
        obs.poll_once()
    assert obs.stats.rereads == 2
    assert obs.snapshot()["fstart"].log_records == 1


@pytest.mark.slow
def test_a_folder_of_more_than_1000_keys_is_listed_in_pages(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, writer: Writer
) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: s3.put_object(Bucket=bucket, Key=f"{keys.folder}/a/{i:04d}", Body=b""), range(1001)
            )
        )
    writer.run("fstart", "boom", "ok")  # sorts after the 1001 "a/..." keys, so it is on page 2
    obs = InvocationObserver(wf, keys, log_client=s3, log_bucket=bucket)
    obs.mark_invoked("fstart")
    assert obs.poll_once()
    assert obs.status("fstart") is S.COMPLETED
    assert obs.stats.requests["ListObjectsV2"] == 2


# ---- API ---------------------------------------------------------------------------------------------------


def test_unknown_instances_are_rejected_with_the_list(
    wf: FaaSrWorkflow, keys: InvocationKeys, s3: Any
) -> None:
    obs = InvocationObserver(wf, keys, log_client=s3, log_bucket="unused")
    with pytest.raises(
        ValueError, match=r"'worker' is not a function instance of LocalFailWF \(instances: fstart"
    ):
        obs.mark_invoked("worker")
    with pytest.raises(ValueError):
        obs.wait("nope", timeout=0)


def test_platform_events_fail_an_instance_that_never_logged(
    s3: Any, bucket: str, wf: FaaSrWorkflow, keys: InvocationKeys, clock: FakeClock
) -> None:
    events = [
        PlatformEvent("fstart", "started"),
        PlatformEvent("fstart", "ended", exit_code=1, detail="import"),
    ]

    class Probe:
        def poll(self) -> list[PlatformEvent]:
            out, events[:] = list(events), []
            return out

    obs = InvocationObserver(wf, keys, log_client=s3, log_bucket=bucket, probe=Probe(), clock=clock)
    obs.mark_invoked("fstart")
    assert obs.poll_once()
    state = obs.state("fstart")
    assert state.status is S.FAILED and state.message == "activation ended with exit code 1: import"
    clock.advance(10)
    obs.poll_once()
    assert obs.statuses() == {"fstart": S.FAILED, "boom": S.SKIPPED, "ok": S.SKIPPED, "fjoin": S.SKIPPED}
