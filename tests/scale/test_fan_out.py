"""A 100-rank fan-out (`entry -> work(100) -> sink`) through the faasr-test-run flow, in dry-run.

At this size everything the 1000-rank benchmark (bench/scale.py) stresses is already there: one
trigger request per rank, 100 watch task runs in Prefect, and a join that is triggered 100 times and
must run exactly once (FaaSr's fan-in gate: `.done` listing, S3 spin lock, candidate file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefect_faasr.flows import faasr_test_run
from prefect_faasr.local import LocalFaaSr
from prefect_faasr.report import TestRunFailed, TestRunReport

from .corpus import FAST
from .shapes import fan_out

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.stress]
RANKS = 100


def test_a_100_rank_fan_out_completes_with_the_oracle_statuses(
    prefect_api: str, runtime: LocalFaaSr, state_file: str, tmp_path: Path
) -> None:
    path = tmp_path / "fan-out.json"
    path.write_text(json.dumps(fan_out(RANKS)))
    state = faasr_test_run(
        spec=str(path), local_state=state_file, dry_run=True, timeouts=FAST, return_state=True
    )
    report = state.result(raise_on_failure=False)
    report = report.report if isinstance(report, TestRunFailed) else report
    assert isinstance(report, TestRunReport), state.message
    assert state.is_completed() and report.passed, report.reason
    expected = {"entry": "completed", "sink": "completed"} | {
        f"work({r})": "completed" for r in range(1, RANKS + 1)
    }
    assert report.statuses == expected
    acts = runtime.client.activations(
        report.invocation_id, timestamp=report.invocation_timestamp, workflow=f"FanOut{RANKS}", docs=False
    )
    sinks = [a for a in acts if a.action == "sink"]
    assert len(sinks) == RANKS  # one trigger per rank instance
    assert [a.outcome for a in sinks].count("completed") == 1  # the gate let exactly one through
    assert all(a.exit_code == 0 for a in acts)
    assert report.stats["s3_requests"] > 0 and report.stats["polls"] > 0
