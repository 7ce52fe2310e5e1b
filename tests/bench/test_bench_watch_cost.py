"""The watch-cost benchmark machinery end to end at N=5: a real moto server, both watchers, the replay.

Behaviour only (never timings): both watchers end with every instance completed, and the request and
byte counts agree wherever they are counted (server side, botocore hooks, the observer's own stats).
"""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench/` is not an installed package; make it importable under any runner
    sys.path.insert(0, str(ROOT))

from bench.timelines import Pace  # noqa: E402
from bench.watch_cost import KINDS, format_table, measure  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.integration]
N = 5


@pytest.fixture(scope="module")
def results() -> dict:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    out = measure([N], interval=0.2, pace=Pace().faster(10), seed=3)
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()]
    assert not left, f"processes left behind: {[(p.pid, p.cmdline()) for p in left]}"
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_every_instance_ends_completed(results: dict, kind: str) -> None:
    f = results["sizes"][N][kind]
    assert f["wrong_statuses"] == {}, f"{kind} ended with {f['wrong_statuses']}"
    assert sorted(f["statuses"]) == sorted(["entry", "worker(1)", "worker(2)", "worker(3)", "sink"])
    assert f["detected"] == N
    assert f["stopped_by_itself"], f"{kind} was still polling at the deadline"


@pytest.mark.parametrize("kind", KINDS)
def test_server_and_client_counts_agree(results: dict, kind: str) -> None:
    f = results["sizes"][N][kind]
    assert f["requests"] > 0 and f["bytes"] > 0
    assert f["requests"] == f["hook_requests"] == sum(f["requests_by_op"].values())
    assert f["bytes"] == f["hook_bytes"] == sum(f["bytes_by_op"].values())


def test_observer_stats_match_the_server(results: dict) -> None:
    ours = results["sizes"][N]["ours"]
    assert ours["own_stats"]["requests"] == ours["requests"]
    assert ours["own_stats"]["bytes"] == ours["bytes"]
    assert ours["own_stats"]["requests_by_op"] == ours["requests_by_op"]
    assert ours["own_stats"]["bytes_by_op"] == ours["bytes_by_op"]
    assert set(ours["requests_by_op"]) == {"ListObjectsV2", "GetObject"}
    assert ours["requests_by_op"]["ListObjectsV2"] == ours["own_stats"]["polls"]  # one page per poll at N=5


def test_baseline_polls_per_function_without_listing(results: dict) -> None:
    base = results["sizes"][N]["baseline"]
    assert set(base["requests_by_op"]) == {"HeadObject", "GetObject"}
    assert base["own_stats"]["threads_died"] == 0
    # At least: one HEAD finding each log, one GET per log, one HEAD of each .done.
    assert base["requests_by_op"]["HeadObject"] >= 2 * N and base["requests_by_op"]["GetObject"] >= N


@pytest.mark.parametrize("kind", KINDS)
def test_the_replay_wrote_everything(results: dict, kind: str) -> None:
    replay = results["sizes"][N][kind]["replay"]
    assert replay["errors"] == 0
    assert replay["server_requests"] == replay["writes"]


def test_ratios_and_table(results: dict) -> None:
    r = results["sizes"][N]
    assert r["ratios"]["requests"] == r["ours"]["requests"] / r["baseline"]["requests"]
    assert r["ratios"]["bytes"] == r["ours"]["bytes"] / r["baseline"]["bytes"]
    rows = [line.split() for line in format_table(results).splitlines() if line.startswith(f"{N:>5} ")]
    assert [row[1] for row in rows] == ["ours", "baseline", "ratio"]
    assert [int(row[2]) for row in rows[:2]] == [r["ours"]["requests"], r["baseline"]["requests"]]
