"""A long dispatch phase replayed into moto: the entry of `entry -> worker(20) -> sink` sends 20 triggers at
0.5 s each (a GitHub dispatch) between its `.done` and its final flush, while the workers it triggered
already run. Its log is silent for 10 s, twice the settle window: it must not be judged settled then."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from prefect_faasr.derive import Budgets
from prefect_faasr.observe import InvocationObserver
from prefect_faasr.status import FunctionStatus

from .conftest import FakeClock
from .engine import ECHO, START, Writer, final
from .shapes import make

S = FunctionStatus
RANKS = 20
DISPATCH = 0.5  # seconds per trigger request


def timeline() -> list[tuple[float, str, str | None]]:
    """(time, instance, whole log text or None for its `.done`) of every write, in time order."""
    out: list[tuple[float, str, str | None]] = [(0.5, "entry", START)]
    out += [(2.0, "entry", None), (2.05, "entry", START + ECHO)]
    last = 0.0
    for r in range(1, RANKS + 1):
        sent = 2.1 + DISPATCH * r  # the engine sends trigger r; worker(r) starts a second later
        inst = f"worker({r})"
        out += [(sent + 1.0, inst, START), (sent + 2.0, inst, None)]
        out.append((sent + 2.05, inst, START + ECHO + final("worker", "sink")))
        last = sent + 2.05
    out.append((2.2 + DISPATCH * RANKS, "entry", START + ECHO + final("entry", *["worker"] * RANKS)))
    out += [(last + 1, "sink", START), (last + 2, "sink", None)]
    out.append((last + 2.05, "sink", START + ECHO + final("sink")))
    return sorted(out, key=lambda w: w[0])


def replay(s3: Any, bucket: str, clock: FakeClock, budgets: Budgets) -> tuple[InvocationObserver, list[Any]]:
    wf = make({"entry": [f"worker({RANKS})"], "worker": ["sink"], "sink": []}, name="LongDispatch")
    keys = wf.keys("0f1e2d3c-aaaa-bbbb-cccc-000000000003", "2026-11-21T10-00-00")
    w = Writer(s3, bucket, keys)
    t0 = clock.now
    obs = InvocationObserver(
        wf, keys, log_client=s3, log_bucket=bucket, clock=clock, settle=5, budgets=budgets
    )
    obs.mark_invoked("entry")
    writes, polls = timeline(), []
    for second in range(40):
        clock.now = t0 + second
        while writes and writes[0][0] <= second:
            _, inst, text = writes.pop(0)
            if text is None:
                w.done(inst)
            else:
                w.log(inst, text)
        assert obs.poll_once()
        polls.append((second, obs.statuses(), obs._finished_reading()))
    return obs, polls


def test_the_entry_stays_running_through_its_dispatch_phase_and_nothing_is_judged_too_early(
    s3: Any, bucket: str, clock: FakeClock
) -> None:
    obs, polls = replay(s3, bucket, clock, Budgets(start=60, execution=60, run=600))  # dispatch: 1 s

    entry_final = 2.2 + DISPATCH * RANKS
    for second, statuses, finished in polls:
        wrong = {i: s for i, s in statuses.items() if s.is_final and s is not S.COMPLETED}
        assert not wrong, f"at +{second} s: {wrong}"
        if 1 <= second < entry_final:  # its log appears at +0.5 s
            assert statuses["entry"] is S.RUNNING, f"entry {statuses['entry']} at +{second} s"
            assert not finished, f"polling would stop at +{second} s, before the entry's final flush"
    assert all(s is S.COMPLETED for s in obs.statuses().values())
    assert polls[-1][2]  # and once everything is final and settled, polling may stop
    assert obs.state("entry").result == "True"


def test_with_too_small_a_dispatch_allowance_the_contradiction_is_reported(
    s3: Any, bucket: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """0.1 s per trigger: the entry's 7 s allowance ends before its final flush. Its untriggered-looking
    successors become not_invoked (sticky), and a worker that then writes its log is reported."""
    with caplog.at_level(logging.WARNING, logger="prefect_faasr.observe"):
        obs, _ = replay(s3, bucket, clock, Budgets(start=60, execution=60, run=600, dispatch=0.1))
    assert obs.status("worker(20)") is S.NOT_INVOKED
    assert ") wrote a log after it was judged not_invoked" in caplog.text
    assert "raise the dispatch timeout" in caplog.text
