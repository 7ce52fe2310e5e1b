"""How the observer reads S3 (moto over HTTP): what it lists, which logs it reads when, in parallel."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from prefect_faasr.observe import InvocationObserver
from prefect_faasr.s3client import s3_client
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys

from .conftest import FakeClock
from .engine import ECHO, START, Writer, final
from .shapes import make

S = FunctionStatus
ID, TS = "0f1e2d3c-aaaa-bbbb-cccc-000000000002", "2026-11-21T10-00-00"


def fan_out(n: int) -> tuple[FaaSrWorkflow, InvocationKeys]:
    wf = make({"a": [f"x({n})"], "x": []}, name="FanOut")
    return wf, wf.keys(ID, TS)


def ranks_running(
    s3: Any, bucket: str, clock: FakeClock, n: int, **observer: Any
) -> tuple[InvocationKeys, Writer, InvocationObserver]:
    """`a` completed and triggered x(1..n), whose logs have started; an observer polling every 1 s."""
    wf, keys = fan_out(n)
    w = Writer(s3, bucket, keys)
    w.run("a", *(["x"] * n))
    for r in range(1, n + 1):
        w.log(f"x({r})", START)
    obs = InvocationObserver(
        wf, keys, log_client=s3, log_bucket=bucket, clock=clock, poll_interval=1, **observer
    )
    obs.mark_invoked("a")
    return keys, w, obs


def reads(obs: InvocationObserver) -> int:
    return obs.stats.requests["GetObject"]


def test_a_running_log_is_read_when_it_stops_changing_or_every_live_interval_and_at_once_with_done(
    s3: Any, bucket: str, clock: FakeClock
) -> None:
    wf, keys = fan_out(2)
    w = Writer(s3, bucket, keys)
    obs = InvocationObserver(
        wf, keys, log_client=s3, log_bucket=bucket, clock=clock, poll_interval=1, live_read_interval=5
    )
    obs.mark_invoked("a")
    text = START
    for second in range(5):  # a log that changes before every poll is not read...
        text += f"line {second}\n"
        w.log("a", text)
        obs.poll_once()
        clock.advance(1)
    assert reads(obs) == 0 and obs.status("a") is S.RUNNING and obs.records("a") == []
    text += "line 5\n"
    w.log("a", text)
    obs.poll_once()  # ...until it was not read for live_read_interval (5 s since first seen)
    assert reads(obs) == 1
    assert [r.message for r in obs.records("a")][:2] == ["Starting server on localhost port 8000", "line 0"]

    clock.advance(1)
    w.log("a", text + "[0.3] [ERROR] [executor.py] boom\n")  # the ERROR flush, then the process exits
    obs.poll_once()
    assert reads(obs) == 1  # changed, but only 1 s after the last read
    clock.advance(1)
    obs.poll_once()
    assert reads(obs) == 1  # unchanged for one interval only
    clock.advance(1)
    obs.poll_once()
    assert reads(obs) == 2 and obs.status("a") is S.FAILED  # unchanged for two intervals: read

    w.log("x(1)", START)
    obs.poll_once()
    w.done("x(1)")
    w.log("x(1)", START + ECHO + final("x"))
    clock.advance(1)
    obs.poll_once()  # .done and the final flush: read at once
    assert reads(obs) == 3 and obs.status("x(1)") is S.COMPLETED


def test_reads_of_running_logs_are_limited_per_second_quiet_ones_first_then_the_longest_unread(
    s3: Any, bucket: str, clock: FakeClock
) -> None:
    _, w, obs = ranks_running(s3, bucket, clock, 30, live_read_interval=5, live_reads_per_second=2)
    text = {r: START for r in range(1, 31)}
    assert obs.poll_once()
    read_at: dict[int, int] = {}
    s3.meta.events.register(
        "before-parameter-build.s3.GetObject",
        lambda params, **_: read_at.setdefault(int(params["Key"].rsplit("(", 1)[1].split(")")[0]), second),
        unique_id="who",
    )
    for second in range(1, 21):
        clock.advance(1)
        for r in range(2, 31):  # every log but x(1)'s keeps changing
            text[r] += f"line {second}\n"
            w.log(f"x({r})", text[r])
        gets = reads(obs)
        assert obs.poll_once()
        assert reads(obs) - gets <= (10 if second <= 5 else 2)  # a burst of 2/s * 5 s, then 2 a second
    assert read_at[1] <= 2  # the quiet one first
    assert sorted(read_at) == list(range(1, 31))  # everyone read within 20 s
    assert all(obs.status(f"x({r})") is S.RUNNING for r in range(1, 31))


def test_logs_are_read_in_parallel_and_a_poll_leaves_what_its_cap_did_not_reach_to_the_next(
    s3: Any, bucket: str, clock: FakeClock
) -> None:
    wf, keys = fan_out(12)
    w = Writer(s3, bucket, keys)
    for r in range(1, 13):
        w.run(f"x({r})")
    obs = InvocationObserver(
        wf, keys, log_client=s3, log_bucket=bucket, clock=clock, read_workers=4, read_cap=0
    )
    obs.mark_invoked("a")
    seen = []
    main = threading.get_ident()
    s3.meta.events.register("before-send.s3.GetObject", lambda **_: seen.append(threading.get_ident()))
    assert obs.poll_once()
    first = reads(obs)
    assert 4 <= first < 12  # each of the 4 readers reads one log at least, then the cap stops them
    statuses = obs.statuses()
    assert sum(statuses[f"x({r})"] is S.COMPLETED for r in range(1, 13)) == first  # unread: not final
    while reads(obs) < 12:
        clock.advance(1)
        assert obs.poll_once()
    assert reads(obs) == 12  # every log read exactly once, and every read counted
    assert all(obs.status(f"x({r})") is S.COMPLETED for r in range(1, 13))
    assert main not in seen and len(set(seen)) > 1
    assert not [t for t in threading.enumerate() if t.name.startswith("faasr-observer-read")]


def test_a_log_that_changed_since_the_listing_is_taken_as_read_without_a_412(
    s3: Any, bucket: str, clock: FakeClock, moto_endpoint: str
) -> None:
    wf, keys = fan_out(2)
    w = Writer(s3, bucket, keys)
    w.log("x(1)", START)
    w.done("x(1)")
    other = Writer(s3_client(moto_endpoint, "us-east-1", "test", "test"), bucket, keys)

    def final_flush_lands_first(**_: Any) -> None:  # between the listing and the GET
        other.log("x(1)", START + ECHO + final("x"))

    obs = InvocationObserver(wf, keys, log_client=s3, log_bucket=bucket, clock=clock)
    s3.meta.events.register_first("before-call.s3.GetObject", final_flush_lands_first, unique_id="race")
    obs.mark_invoked("a")
    assert obs.poll_once()
    s3.meta.events.unregister("before-call.s3.GetObject", unique_id="race")
    assert obs.status("x(1)") is S.COMPLETED  # the newer version read is complete: no second look
    assert obs.state("x(1)").result == "True"
    clock.advance(1)
    assert obs.poll_once()
    assert reads(obs) == 1 and obs.stats.rereads == 0


def test_a_finishing_log_outside_the_listing_is_fetched_directly_and_a_304_costs_no_bytes(
    s3: Any, bucket: str, clock: FakeClock
) -> None:
    # 150 instances: more keys than one request is worth, so only what can change is listed.
    _, w, obs = ranks_running(s3, bucket, clock, 150, live_read_interval=30)
    assert obs.poll_once()  # everything listed once (the logs are due)
    assert obs.status("x(7)") is S.RUNNING and obs.status("a") is S.COMPLETED
    listed = obs.stats.listed_keys
    assert listed >= 151

    w.done("x(7)")
    w.log("x(7)", START + ECHO)  # the get-return echo: the final flush is still to come
    clock.advance(1)
    assert obs.poll_once()
    assert obs.stats.listed_keys - listed < 20  # only the .done keys still expected were listed
    assert obs.status("x(7)") is S.RUNNING and obs.records("x(7)")  # read directly, in this poll
    get_bytes = obs.stats.bytes_by_operation["GetObject"]
    gets = reads(obs)

    clock.advance(1)
    assert obs.poll_once()  # nothing changed: If-None-Match answered 304
    assert reads(obs) == gets + 1 and obs.stats.bytes_by_operation["GetObject"] == get_bytes
    w.log("x(7)", START + ECHO + final("x"))
    clock.advance(1)
    assert obs.poll_once()
    assert obs.status("x(7)") is S.COMPLETED and obs.state("x(7)").result == "True"
    assert obs.stats.rereads == 0  # only the new bytes were fetched
    clock.advance(1)
    gets = reads(obs)
    assert obs.poll_once()
    assert reads(obs) == gets  # completed and settled: retired, never looked at again


def test_many_finishing_logs_are_listed_not_fetched_one_by_one(
    s3: Any, bucket: str, clock: FakeClock
) -> None:
    keys, w, obs = ranks_running(
        s3, bucket, clock, 150, live_read_interval=30, live_reads_per_second=1000, read_cap=60
    )
    assert obs.poll_once()
    clock.advance(30)
    assert obs.poll_once()  # every running log read once (not read for live_read_interval)
    assert reads(obs) == 151
    finishing = [f"x({r})" for r in range(1, 41)]
    for inst in finishing:  # .done and the get-return echo; the final flushes are still to come
        w.done(inst)
        w.log(inst, START + ECHO)
    w.done("x(41)")  # a .done whose log never appeared (the log was deleted, say)
    s3.delete_object(Bucket=bucket, Key=keys.log_key("x(41)"))
    clock.advance(1)
    assert obs.poll_once()  # the new .done files are listed; the 40 logs that changed are read
    assert all(obs.status(i) is S.RUNNING and obs.records(i) for i in finishing)
    gets, lists = reads(obs), obs.stats.requests["ListObjectsV2"]

    clock.advance(1)
    assert obs.poll_once()  # nothing changed: one listing says so, not 41 conditional GETs
    assert reads(obs) == gets
    assert obs.stats.requests["ListObjectsV2"] - lists <= 2
    for inst in finishing[:10]:
        w.log(inst, START + ECHO + final("x"))
    clock.advance(1)
    assert obs.poll_once()
    assert reads(obs) == gets + 10  # exactly the logs that changed
    assert all(obs.status(i) is S.COMPLETED for i in finishing[:10])
    assert all(obs.status(i) is S.RUNNING for i in finishing[10:])


@pytest.mark.parametrize("separate", [False, True], ids=["one-store", "done-store"])
def test_a_large_folder_lists_only_what_can_change(
    s3: Any, bucket: str, clock: FakeClock, moto_endpoint: str, separate: bool
) -> None:
    wf, keys = fan_out(150)
    done_s3, done_bucket = s3, bucket
    if separate:
        done_s3, done_bucket = s3_client(moto_endpoint, "us-east-1", "test", "test"), bucket + "-done"
        done_s3.create_bucket(Bucket=done_bucket)
    w, wd = Writer(s3, bucket, keys), Writer(done_s3, done_bucket, keys)
    w.log("a", START + final("a", *(["x"] * 150)))
    wd.done("a")
    for r in range(1, 141):  # 140 of 150 ranks finished
        w.log(f"x({r})", START + final("x"))
        wd.done(f"x({r})")
    obs = InvocationObserver(
        wf, keys, log_client=s3, log_bucket=bucket, done_client=done_s3, done_bucket=done_bucket,
        clock=clock, live_read_interval=30, read_cap=60,
    )  # fmt: skip
    obs.mark_invoked("a")
    assert obs.poll_once()
    assert sum(s is S.COMPLETED for s in obs.statuses().values()) == 141
    listed = obs.stats.listed_keys
    for _ in range(3):
        clock.advance(1)
        assert obs.poll_once()
    per_poll = (obs.stats.listed_keys - listed) / 3
    assert per_poll < 40  # the .done keys of x(141..150) and their neighbours, not 290 keys
    for r in range(141, 151):
        w.log(f"x({r})", START + final("x"))
        wd.done(f"x({r})")
    clock.advance(1)
    assert obs.poll_once()
    assert obs.done and all(s is S.COMPLETED for s in obs.statuses().values())
