"""Dry runs of the real workflow corpus on one shared local runtime: all of them at the core level, a
sample through the faasr-regression flow.

Every workflow the validator accepts runs its control flow with generated no-op functions (R and
Julia actions become Python no-ops too), and every function instance must end in the status the
expected-trace oracle gives (conditionals return True unless a spec says otherwise).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prefect_faasr.local import LocalFaaSr

from .conftest import CORPUS
from .corpus import dry_run_core, label, mismatches, run_suite, valid_workflows, write_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VALID = 73  # corpus files FaaSrWorkflow.parse accepts (INDEX.md: 100 pass the schema, some fail our checks)
PARALLEL = 4  # dry runs at once: they mostly wait (poll interval, settle window), so 4 fit 2 cores
SAMPLE_EVERY = 8  # the flow-level test runs every 8th valid workflow (bench/scale runs the largest)


def test_every_valid_corpus_workflow_dry_runs_as_the_oracle_says(
    runtime: LocalFaaSr, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All 73 at the core level: the flow's own steps (deploy, trigger, observer, oracle) without the
    Prefect API, whose SQLite test server is the bottleneck of 73 flow runs on 2 cores."""
    files = valid_workflows()
    assert len(files) == VALID, f"{len(files)} corpus workflows are valid now, this test expects {VALID}"
    t0 = time.perf_counter()
    results = dry_run_core(runtime.client, files, tmp_path, parallel=PARALLEL)
    seconds = time.perf_counter() - t0
    wrong = [
        f"{name}: {instance} expected {want}, observed {got}"
        for name, (expected, observed) in results.items()
        for instance, want in expected.items()
        if (got := observed.get(instance)) != want
    ]
    instances = sum(len(expected) for expected, _ in results.values())
    with capsys.disabled():
        print(
            f"\ncorpus dry run (core): {len(files)} workflows ({instances} function instances), "
            f"{len(files) - len({w.split(':')[0] for w in wrong})} as the oracle says, {seconds:.1f} s "
            f"with {PARALLEL} at a time on one local runtime"
        )
    assert len(results) == len(files)
    assert not wrong, "\n".join(wrong[:40])


def test_a_sample_of_the_corpus_dry_runs_through_the_regression_flow(
    prefect_api: str, state_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = valid_workflows()
    sample = files[::SAMPLE_EVERY]
    suite = write_suite(tmp_path, [{"path": f, "name": label(f)} for f in sample])
    t0 = time.perf_counter()
    report = run_suite(suite, state_file, max_parallel=PARALLEL)
    seconds = time.perf_counter() - t0
    passed = sum(o.passed for o in report.outcomes)
    instances = sum(len(o.report.instances) for o in report.outcomes if o.report)
    with capsys.disabled():
        print(
            f"\ncorpus dry run (faasr-regression): {len(sample)} workflows ({instances} function instances), "
            f"{passed} passed, {seconds:.1f} s with {PARALLEL} at a time"
        )
    assert len(report.outcomes) == len(sample)
    assert not mismatches(report), "\n".join(mismatches(report))
    for o in report.outcomes:
        assert o.report is not None and all(i.status == i.expected for i in o.report.instances), o.name


def test_conditionals_take_either_branch_and_a_join_across_branches_never_runs(
    prefect_api: str, state_file: str, tmp_path: Path
) -> None:
    weather = CORPUS / "FaaSr__FaaSr-Functions__WeatherVisualizationConditional.json"
    nested = CORPUS / "dekkov__FaaSr-Local__test_nested_conditional.json"
    two = CORPUS / "JStover95__FaaSr-Testing-Workflow__conditional.json"
    entries = [
        {"path": weather, "name": "weather-true", "returns": {"GetPhilomathData": True}},
        {"path": weather, "name": "weather-false", "returns": {"GetPhilomathData": False}},
        {"path": nested, "name": "nested-true-false", "returns": {"start-function": True, "A": False}},
        {"path": nested, "name": "nested-false", "returns": {"start-function": False}},
        {"path": two, "name": "two-false-true", "returns": {"return-true": False, "return-false": True}},
    ]
    report = run_suite(write_suite(tmp_path, entries, "branches"), state_file, max_parallel=3)
    assert not mismatches(report), "\n".join(mismatches(report))
    st = {o.name: o.report.statuses for o in report.outcomes if o.report}
    # PlotData joins both branches of GetPhilomathData: FaaSr's fan-in never passes, on either branch.
    assert st["weather-true"]["ProcessPhilomathPrecipitation"] == "completed"
    assert st["weather-true"]["ProcessPrecipitation"] == "not_invoked"
    assert st["weather-false"]["ProcessPhilomathPrecipitation"] == "not_invoked"
    assert st["weather-false"]["ProcessPrecipitation"] == "completed"
    assert st["weather-true"]["PlotData"] == st["weather-false"]["PlotData"] == "not_invoked"
    assert [st["nested-true-false"][a] for a in ("A", "B", "C", "D", "E")] == [
        "completed",
        "not_invoked",
        "not_invoked",
        "completed",
        "not_invoked",
    ]
    assert [st["nested-false"][a] for a in ("A", "B", "E", "final-function")] == [
        "not_invoked",
        "completed",
        "completed",
        "not_invoked",
    ]
    two_st = st["two-false-true"]
    assert [two_st[a] for a in ("run-on-true", "dont-run-on-true", "dont-run-on-false", "run-on-false")] == [
        "not_invoked",
        "completed",
        "completed",
        "not_invoked",
    ]
