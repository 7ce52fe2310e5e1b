"""The synthetic FaaSr timelines the watcher benchmark replays (pure: no S3)."""

from __future__ import annotations

import random
import sys
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench/` is not an installed package; make it importable under any runner
    sys.path.insert(0, str(ROOT))

from bench.timelines import PACES, REAL_RUN, Pace, fan_out_workflow, load_profiles, synthesize  # noqa: E402
from prefect_faasr.logs import errors, function_result, parse_log, trigger_lines  # noqa: E402


def timeline(n: int, seed: int = 1, pace: Pace | None = None):
    wf = fan_out_workflow(n, "http://127.0.0.1:9")
    keys = wf.keys("0f5b0f8e-6c55-4d6f-9b5e-000000000001", "2026-11-21T10-00-00")
    return synthesize(wf, keys, load_profiles(), pace or Pace(), random.Random(seed))


@pytest.mark.skipif(not REAL_RUN.is_dir(), reason="real-run recordings not present")
def test_profiles_follow_the_real_engine_flush_order() -> None:
    profiles = load_profiles()
    assert len(profiles) > 1 and not any(p.source.startswith("fallback") for p in profiles)
    for p in profiles:
        assert list(p.sizes) == sorted(set(p.sizes)), f"{p.source}: a log only grows"
        assert p.done_after == p.flushes - 2, f"{p.source}: .done comes before the echo and the final flush"


@pytest.mark.parametrize("pace", list(PACES))
def test_logs_grow_by_appends_with_done_before_the_final_flush(pace: str) -> None:
    tl = timeline(10, pace=PACES[pace])
    assert list(tl.chains) == tl.workflow.instances()
    for inst, chain in tl.chains.items():
        logs = [w for w in chain if w.kind == "log"]
        for before, after in pairwise(logs):
            assert after.body.startswith(before.body) and len(after.body) > len(before.body), inst
        assert [w.at for w in chain] == sorted(w.at for w in chain), inst
        done = tl.index(inst, "done")
        final = tl.index(inst, "log", final=True)
        assert final == len(chain) - 1 and done < final - 1, f"{inst}: echo flush between .done and final"
        assert sum(w.kind == "done" for w in chain) == 1
        assert 7 <= len(logs) <= 12


def test_final_flush_names_every_triggered_instance() -> None:
    n = 12
    tl = timeline(n)
    finals = {i: parse_log(c[tl.index(i, "log", final=True)].body) for i, c in tl.chains.items()}
    assert [t.action for t in trigger_lines(finals["entry"])] == ["worker"] * (n - 2)
    for inst, records in finals.items():
        assert function_result(records) is not None and not errors(records), inst
        if inst.startswith("worker"):
            assert [t.action for t in trigger_lines(records)] == ["sink"]
    assert trigger_lines(finals["sink"]) == []


def test_the_sink_runs_after_the_last_worker_wrote_done() -> None:
    tl = timeline(20)
    last_done = max(c[tl.index(i, "done")].at for i, c in tl.chains.items() if i.startswith("worker"))
    sink = tl.chains["sink"]
    assert [w.kind for w in sink[:5]] == ["fanin"] * 5
    assert sink[0].at >= last_done
    assert sink[-1].body is not None and sink[4].body is None  # the lock is released before the log starts


def test_same_seed_same_timeline() -> None:
    a, b, c = timeline(10, seed=4), timeline(10, seed=4), timeline(10, seed=5)
    flat = lambda t: [(w.at, w.key, w.body) for ch in t.chains.values() for w in ch]  # noqa: E731
    assert flat(a) == flat(b)
    assert flat(a) != flat(c)


def test_fan_out_needs_two_worker_ranks() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        fan_out_workflow(3, "http://127.0.0.1:9")
    assert fan_out_workflow(4, "http://127.0.0.1:9").instances() == [
        "entry",
        "worker(1)",
        "worker(2)",
        "sink",
    ]


def test_the_github_pace_waits_for_runners_and_runs_longer() -> None:
    fast, github = timeline(20, pace=PACES["fast"]), timeline(20, pace=PACES["github"])
    assert github.chains["entry"][0].at >= 20.0 > fast.chains["entry"][0].at
    for inst in github.workflow.instances("worker"):
        first, final = github.chains[inst][0].at, github.chains[inst][-1].at
        assert 20.0 <= final - first <= 61.0, inst
    assert github.span > 5 * fast.span
