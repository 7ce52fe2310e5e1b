"""How the benchmark turns measurements into figures and verdicts (pure)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench/` is not an installed package; make it importable under any runner
    sys.path.insert(0, str(ROOT))

from bench.watch_cost import summary, verdicts  # noqa: E402


def test_summary_is_median_nearest_rank_p95_and_max() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert summary(values) == {"p50": 50.5, "p95": 95.0, "max": 100.0}
    assert summary([3.0]) == {"p50": 3.0, "p95": 3.0, "max": 3.0}
    assert all(math.isnan(v) for v in summary([]).values())


def _size(requests: float, bytes_: float, p95: float, cpu_pct: float) -> dict:
    return {
        "ratios": {"requests": requests, "bytes": bytes_},
        "ours": {"latency_p95": p95, "cpu_pct": cpu_pct},
    }


def test_verdicts_compare_each_target() -> None:
    results = {
        "interval": 1.0,
        "sizes": {100: _size(0.05, 0.1, 1.4, 1.0), 1000: _size(0.03, 0.3, 1.6, 4.0)},
    }
    lines = verdicts(results)
    marks = {line.split(":")[0][5:]: line[:4] for line in lines}
    assert marks == {
        "requests ratio at N=100": "ok  ",
        "requests ratio at N=1000": "MISS",
        "bytes ratio at N=100": "ok  ",
        "bytes ratio at N=1000": "MISS",
        "observer latency p95 at N=100": "ok  ",
        "observer latency p95 at N=1000": "MISS",
        "observer CPU at N=1000": "ok  ",
    }
