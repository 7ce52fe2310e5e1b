"""The `faasr-regression` flow: a suite of FaaSr test specs, each a `faasr-test-run` subflow.

Specs run at most `max_parallel` at a time (each subflow is called from a task on the flow's thread
pool), a failing spec never stops the others, and the flow publishes a summary table, optionally
writes JUnit XML (one test suite per spec), and ends Failed naming the failed specs. A failure (or
crash) posts to the webhook when one is configured (prefect_faasr.notify).

On the local runtime the suite shares ONE runtime: the one whose state file is given (`local_state`
or $PREFECT_FAASR_LOCAL_STATE_FILE, i.e. a running `prefect-faasr local serve`), else an embedded one
started for the suite; every subflow connects to it through the state file.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingResult
from prefect.futures import PrefectFuture, as_completed
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.urls import url_for
from pydantic import Field

from prefect_faasr.flows.test_run import faasr_test_run
from prefect_faasr.notify import notify_failure
from prefect_faasr.report import TestRunFailed, TestRunReport
from prefect_faasr.suite import PlannedSpec, Suite, suite_name
from prefect_faasr.suite_report import SpecOutcome, SuiteFailed, SuiteReport
from prefect_faasr.testrun import LOCAL, STATE_FILE_ENV, is_local, local_runtime

DEFAULT_SUITE = "examples/suite.yaml"
MAX_PARALLEL = 16  # threads of the flow's pool; `max_parallel` chooses how many are used


def _run_name() -> str:
    params = flow_run.parameters
    name = "adhoc" if params.get("spec") else suite_name(params.get("suite") or DEFAULT_SUITE)
    return f"{name}-{_stamp()}"


def _stamp() -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}"


@flow(
    name="faasr-regression",
    flow_run_name=_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL),
    persist_result=False,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def faasr_regression(
    suite: str | None = DEFAULT_SUITE,
    spec: str | list[str] | None = None,
    environment: str | None = None,
    local_state: str | None = None,
    max_parallel: Annotated[int, Field(ge=1, le=MAX_PARALLEL)] = 2,
    only: list[str] | None = None,
    cleanup: bool | None = None,
    junit_path: str | None = None,
    webhook: str | None = None,
) -> SuiteReport:
    """Run a regression suite of FaaSr test specs, each as a `faasr-test-run` subflow.

    Args:
        suite: the suite file (YAML: a list of spec paths relative to it, with optional overrides).
        spec: one spec path, or a list of them, to run instead of the suite (relative to the
            working directory).
        environment: name of a FaaSrEnvironment block (real backends), or None / "local" for the
            local runtime.
        local_state: state file of a running `prefect-faasr local serve` to share (default
            $PREFECT_FAASR_LOCAL_STATE_FILE, else an embedded runtime is started for the suite).
        max_parallel: how many specs run at once.
        only: run only the specs with these names or tags.
        cleanup: delete each invocation's objects afterwards (an entry's own `cleanup` wins).
        junit_path: write JUnit XML there (one test suite per spec).
        webhook: where a failure is posted: an http(s) URL or the name of a Secret block holding it
            (default $PREFECT_FAASR_WEBHOOK; none: no notification).
    """
    logger = get_run_logger()
    loaded = _load(suite, spec)
    planned = loaded.plan(only)
    env_name = LOCAL if is_local(environment) else str(environment)
    logger.info(
        "suite %s: %d spec(s) on %s, up to %d at a time", loaded.name, len(planned), env_name, max_parallel
    )
    started = datetime.now(UTC)
    with suite_runtime(environment, local_state) as state_file:
        outcomes = _run_all(planned, environment, state_file, cleanup, max_parallel)
    report = SuiteReport(
        suite=loaded.name,
        source=loaded.source,
        environment=env_name,
        started_at=started,
        finished_at=datetime.now(UTC),
        outcomes=outcomes,
    )
    _publish(report, junit_path)
    if report.passed:
        return report
    return Failed(message=report.reason, data=SuiteFailed(report))  # type: ignore[return-value]


def _load(suite: str | None, spec: str | list[str] | None) -> Suite:
    if spec:
        return Suite.adhoc([spec] if isinstance(spec, str) else list(spec))
    return Suite.load(suite or DEFAULT_SUITE)


@contextmanager
def suite_runtime(environment: str | None, local_state: str | None) -> Iterator[str | None]:
    """The state file every subflow connects with: the given runtime's (checked reachable), or one
    of an embedded runtime started here for the whole suite; None on real backends."""
    if not is_local(environment):
        yield None
        return
    path = local_state or os.environ.get(STATE_FILE_ENV)
    if path:
        with local_runtime(path):  # raises a clear error when the runtime is not reachable
            get_run_logger().info("using the local FaaSr runtime of %s", path)
        yield path
        return
    from prefect_faasr.local import LocalFaaSr

    with tempfile.TemporaryDirectory(prefix="faasr-suite-") as tmp, LocalFaaSr() as runtime:
        get_run_logger().info("started a local FaaSr runtime for the suite")
        yield str(runtime.write_state_file(Path(tmp) / "local-runtime.json"))


def _run_all(
    planned: list[PlannedSpec],
    environment: str | None,
    state_file: str | None,
    cleanup: bool | None,
    max_parallel: int,
) -> list[SpecOutcome]:
    """Run every spec, at most `max_parallel` at once, in suite order; outcomes in suite order."""
    pending = list(planned)
    running: dict[Any, tuple[PrefectFuture[Any], PlannedSpec, float]] = {}
    done: dict[str, SpecOutcome] = {}
    while pending or running:
        while len(running) < max_parallel and (entry := _next(pending, running, shared=state_file)):
            pending.remove(entry)
            if entry.problem:
                get_run_logger().warning("spec %s does not load: %s", entry.name, entry.problem)
            task_run = run_suite_spec.with_options(task_run_name=entry.name)
            future = task_run.submit(entry, environment, state_file, cleanup)
            running[future.task_run_id] = (future, entry, time.monotonic())
        finished = next(as_completed([f for f, _, _ in running.values()]))
        _, entry, t0 = running.pop(finished.task_run_id)
        done[entry.name] = _outcome(finished, entry, time.monotonic() - t0)
    return [done[p.name] for p in planned]


def _next(
    pending: list[PlannedSpec], running: dict[Any, tuple[Any, PlannedSpec, float]], *, shared: str | None
) -> PlannedSpec | None:
    """The first pending spec that may start now. On a shared local runtime, specs of one workflow
    run one after another: each deploys `{WorkflowName}-{action}` with its own code (a dry run's or a
    variant's), so two at once could run each other's functions."""
    if shared is None:
        return pending[0] if pending else None
    busy = {e.workflow for _, e, _ in running.values() if e.workflow}
    return next((p for p in pending if p.workflow is None or p.workflow not in busy), None)


def _outcome(future: PrefectFuture[Any], entry: PlannedSpec, seconds: float) -> SpecOutcome:
    future.wait()
    try:
        data = future.state.result(raise_on_failure=False)
    except Exception as exc:  # no result at all (crashed task): still one outcome for the spec
        data = exc
    if isinstance(data, SpecOutcome):
        return data
    return SpecOutcome.error(entry.name, entry.path, future.state.message or repr(data), seconds)


@task(name="spec", cache_policy=NO_CACHE)
def run_suite_spec(
    entry: PlannedSpec, environment: str | None, local_state: str | None, cleanup: bool | None
) -> SpecOutcome | State[Any]:
    """One spec as a `faasr-test-run` subflow; Failed (carrying the outcome) when it did not pass."""
    t0 = time.monotonic()
    run_name = f"{entry.name}-{_stamp()}".replace("{", "{{").replace("}", "}}")  # a format template
    subflow = faasr_test_run.with_options(flow_run_name=run_name)
    with tempfile.TemporaryDirectory(prefix="faasr-spec-") as folder:
        saved = Path(folder) / "report.json"
        state = subflow(
            spec=entry.path,
            environment=environment,
            local_state=local_state,
            timeouts=entry.timeouts or None,
            cleanup=entry.cleanup if entry.cleanup is not None else bool(cleanup),
            dry_run=entry.dry_run,
            returns=entry.returns,
            report_path=str(saved),
            return_state=True,
        )
        result = _subflow_result(state, saved)
    seconds = time.monotonic() - t0
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    if isinstance(result, TestRunFailed):
        result = result.report
    if isinstance(result, TestRunReport):
        outcome = SpecOutcome.from_report(entry.name, entry.path, result, seconds, run_id)
    else:
        outcome = SpecOutcome.error(entry.name, entry.path, state.message or str(result), seconds, run_id)
    if outcome.passed:
        return outcome
    return Failed(message=f"[{entry.name}] {outcome.reason}", data=outcome)


def _subflow_result(state: State[Any], saved: Path) -> Any:
    """The subflow's result; the report it wrote to `saved` when its final state came back from the API
    without data (a busy API server can answer the last state change that way)."""
    try:
        result = state.result(raise_on_failure=False)
    except MissingResult:
        if not saved.is_file():
            raise
        result = None
    if isinstance(result, TestRunReport | TestRunFailed) or not saved.is_file():
        return result
    return TestRunReport.model_validate_json(saved.read_text(encoding="utf-8"))


def _publish(report: SuiteReport, junit_path: str | None) -> None:
    logger = get_run_logger()
    key = "faasr-suite-" + (
        "".join(c if c.isalnum() else "-" for c in report.suite.lower()).strip("-") or "run"
    )
    create_table_artifact(
        report.table_rows(), key=key, description=f"FaaSr regression {report.suite}: {report.reason}"
    )
    links = {
        o.name: url for o in report.outcomes if o.flow_run_id and (url := url_for("flow-run", o.flow_run_id))
    }
    create_markdown_artifact(
        report.markdown(links), key=f"{key}-summary", description=f"FaaSr regression {report.suite}"
    )
    if junit_path:
        logger.info("JUnit XML written to %s", report.write_junit(junit_path))
    for o in report.outcomes:
        (logger.info if o.passed else logger.error)("%s %s: %s", o.verdict.upper(), o.name, o.reason)
    (logger.info if report.passed else logger.error)("%s", report.reason)
