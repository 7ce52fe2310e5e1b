"""Load: 20 concurrent test runs of examples/integration through the real `faasr_test_run` flow, each
from its own thread, all on ONE shared local runtime. Every run passes, and nothing crosses over: every
object in the bucket belongs to exactly one run (its invocation folder or its own
`integration-tests/{InvocationID}/` prefix), every run left the same set of objects, and each run's
checks are the spec's checks rendered with its own InvocationID. A second start of an invocation that
exists is refused."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.report import TestRunFailed, TestRunReport
from prefect_faasr.spec import TestSpec
from prefect_faasr.testrun import InvocationExistsError, check_not_started, open_target, start_invocation
from prefect_faasr.workflow import Invocation

from .matrix_helpers import EXAMPLE, format_table, write_json

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.stress]

RUNS = int(os.environ.get("FAASR_LOAD_RUNS", "20"))  # the issue asks for 20; the variable is for measuring
# The Prefect test server keeps its data in SQLite. With 20 flows writing at once some of its writes
# lose the lock at once ("database is locked", answered as HTTP 503, which Prefect clients retry);
# the default 5 retries ran out in about one run in two here, so these clients retry longer.
CLIENT_RETRIES = 12
STAGGER = 0.5  # seconds between flow starts (all RUNS still overlap: see test_the_runs_were_concurrent)
SPEC = EXAMPLE / "spec.yaml"
BUCKET = "faasr-integration-tests"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalFaaSr]:
    with LocalFaaSr(max_workers=16) as env:
        yield env


@pytest.fixture(scope="module")
def state_file(runtime: LocalFaaSr, tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(runtime.write_state_file(tmp_path_factory.mktemp("local") / "state.json"))


@dataclass(frozen=True)
class Run:
    state: Any
    report: TestRunReport
    began: float  # monotonic seconds: the thread called the flow
    ended: float  # the flow returned


def run_flow(state_file: str, delay: float) -> Run:
    """One flow run from its own thread, after `delay` seconds (starts are spread a little, so that 20
    flow-run creations do not all hit the Prefect test server's SQLite in the same instant)."""
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from prefect_faasr.flows import faasr_test_run

    time.sleep(delay)
    began = time.monotonic()
    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: CLIENT_RETRIES}):
        state = faasr_test_run(spec=str(SPEC), local_state=state_file, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, TestRunFailed):
        result = result.report
    assert isinstance(result, TestRunReport), f"no report: {state.type} {state.message} {result!r}"
    return Run(state, result, began, time.monotonic())


@pytest.fixture(scope="module")
def runs(prefect_api: str, state_file: str, tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    t0 = time.monotonic()
    with ThreadPoolExecutor(RUNS) as pool:
        out = list(pool.map(lambda i: run_flow(state_file, i * STAGGER), range(RUNS)))
    wall = time.monotonic() - t0
    rows = [
        {
            "invocation": r.report.invocation_id,
            "passed": r.report.passed,
            "checks": len(r.report.checks),
            "flow s": round(r.ended - r.began, 1),
            "workflow s": round(r.report.seconds, 1),
            "s3 requests": r.report.stats["s3_requests"],
        }
        for r in out
    ]
    overlap = min(r.ended for r in out) - max(r.began for r in out)
    print(
        f"\n\n{RUNS} concurrent faasr_test_run flows of {SPEC.parent.name}, one runtime: {wall:.1f} s wall; "
        f"all {RUNS} in flight together for {overlap:.1f} s"
    )
    print(format_table(rows, list(rows[0])))
    path = tmp_path_factory.mktemp("load") / "load.json"
    write_json(path, rows, runs=RUNS, wall_seconds=round(wall, 1), all_in_flight_seconds=round(overlap, 1))
    return out


def test_the_runs_were_concurrent(runs: list[Run]) -> None:
    # Every flow had started before the first one finished: at that moment all RUNS were in flight.
    assert max(r.began for r in runs) < min(r.ended for r in runs)


def test_every_concurrent_run_passes(runs: list[Run]) -> None:
    failed = {r.report.invocation_id: r.state.message for r in runs if not r.state.is_completed()}
    assert not failed, failed
    assert all(r.report.passed for r in runs)
    assert len({r.report.invocation_id for r in runs}) == RUNS


def test_each_runs_checks_are_the_specs_with_its_own_invocation_id(runs: list[Run]) -> None:
    spec = TestSpec.load(SPEC)
    wf = spec.faasr_workflow
    for report in (r.report for r in runs):
        keys = wf.keys(report.invocation_id, report.invocation_timestamp)
        objects = {c.subject for c in report.checks if c.kind == "object"}
        assert objects == {c.render_key(keys) for c in spec.objects}
        assert {c.subject for c in report.checks if c.kind == "status"} == set(wf.instances())
        assert {i.instance for i in report.instances} == set(wf.instances())
        assert report.invocation_folder == keys.folder


def test_every_object_belongs_to_exactly_one_run(runs: list[Run], runtime: LocalFaaSr) -> None:
    s3 = runtime.s3_client()
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    owners = {r.report.invocation_id: r.report for r in runs}
    by_run: dict[str, set[str]] = {i: set() for i in owners}
    stray = []
    for key in keys:
        found = [i for i, report in owners.items() if _owned(key, report)]
        if len(found) != 1:
            stray.append((key, found))
            continue
        # The shape of the key with the run's own identity taken out.
        folder = owners[found[0]].invocation_folder
        by_run[found[0]].add(key.replace(folder, "{F}").replace(found[0], "{ID}"))
    assert not stray, stray[:10]
    # Every run left the same objects: nothing missing in one run, nothing extra from another.
    shapes = {frozenset(v) for v in by_run.values()}
    assert len(shapes) == 1, [sorted(s) for s in shapes]
    shape = next(iter(shapes))
    assert "{F}/sync2.txt" in shape and "integration-tests/{ID}/summary.txt" in shape


def _owned(key: str, report: TestRunReport) -> bool:
    own_outputs = f"integration-tests/{report.invocation_id}/"
    return key.startswith(report.invocation_folder + "/") or key.startswith(own_outputs)


def test_a_second_start_of_the_same_invocation_is_refused(
    runs: list[Run], runtime: LocalFaaSr, state_file: str
) -> None:
    report = runs[0].report
    spec = TestSpec.load(SPEC)
    invocation = Invocation(report.invocation_id, report.invocation_timestamp)
    before = len(runtime.client.activations(report.invocation_id, docs=False))
    with open_target(spec, local_state=state_file) as target:
        keys = target.workflow.keys(invocation)
        with pytest.raises(InvocationExistsError) as err:
            start_invocation(target, spec, invocation)
        message = str(err.value)
        assert report.invocation_id in message and report.invocation_timestamp in message
        assert "refuses a second start" in message and keys.folder in message
        # A fresh identity is fine: the refusal is about that one folder.
        check_not_started(target, target.workflow.keys(target.workflow.new_invocation()))
    # Nothing was triggered for the refused start.
    assert len(runtime.client.activations(report.invocation_id, docs=False)) == before
