"""The `faasr-test-run` flow: one FaaSr invocation under test, from trigger to report.

validate -> (deploy to the local runtime | resolve the environment block) -> preflight -> trigger ->
one `watch_function` task per function instance -> checks -> report. The flow returns the
`TestRunReport`; when anything did not hold it ends Failed with a one-line reason, and its data is a
`TestRunFailed` carrying the report (raised when the flow is called as a function).

Cancelling (the flow run set to Cancelling in Prefect, Ctrl-C, SIGTERM) stops the workflow's
activations, marks every unfinished instance `skipped` ("run cancelled: ..."), and still publishes
the report (artifacts, JSON, JUnit) with `passed=False` and reason "cancelled: ...". The run then
ends Cancelled with that reason; on SIGTERM Prefect's engine ends it (Cancelled when a worker or
`serve` cancelled it, else Crashed).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.states import Cancelled, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from prefect_faasr import progress
from prefect_faasr.cancellation import CancelRequests, interrupt_reason
from prefect_faasr.checks import verdict
from prefect_faasr.report import CheckResult, TestRunFailed, TestRunReport
from prefect_faasr.spec import TestSpec
from prefect_faasr.status import FunctionStatus
from prefect_faasr.tasks import (
    check_log_lines,
    check_s3_objects,
    check_statuses,
    preflight_checks,
    publish_report,
    trigger_invocation,
    validate_spec,
    watch_function,
)
from prefect_faasr.tasks.watch import instance_result
from prefect_faasr.testrun import RunTarget, delete_invocation, make_observer, open_target
from prefect_faasr.triggers import TriggerError
from prefect_faasr.workflow import Invocation

CANCELLED = "cancelled: "  # how the reason of a cancelled run's report begins
WATCHERS = 32  # threads for watch tasks; they only wait on the observer, which does the polling


def _run_name() -> str:
    path = Path(str(flow_run.parameters.get("spec", "faasr")))
    name = path.parent.name if path.stem in ("spec", "test", "workflow") and path.parent.name else path.stem
    return f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


@flow(
    name="faasr-test-run",
    flow_run_name=_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=WATCHERS),
    persist_result=False,
)
def faasr_test_run(
    spec: str,
    environment: str | None = None,
    local_state: str | None = None,
    timeouts: dict[str, float] | None = None,
    cleanup: bool = False,
    report_path: str | None = None,
    junit_path: str | None = None,
    invocation_id: str | None = None,
    invocation_timestamp: str | None = None,
    dry_run: bool = False,
    returns: dict[str, bool] | None = None,
    progress_token: str | None = None,
) -> TestRunReport:
    """Run one FaaSr test: `spec` is a test spec YAML (or a workflow JSON) path.

    Args:
        spec: path of the test spec (YAML) or of a workflow JSON (a spec with defaults).
        environment: name of a FaaSrEnvironment block (real backends), or None / "local" for the
            embedded local runtime.
        local_state: state file of a running `prefect-faasr local serve` to use instead of starting one.
        timeouts: overrides of the spec's timeouts (run, start, execution, settle, poll; seconds).
        cleanup: delete the invocation's objects afterwards.
        report_path: also write the report as JSON there.
        junit_path: also write JUnit XML there.
        invocation_id: with invocation_timestamp, watch an invocation that was already started
            (re-attach) instead of starting one.
        invocation_timestamp: the InvocationTimestamp of the invocation to re-attach to.
        dry_run: run the workflow's control flow with generated no-op functions (local runtime).
        returns: with dry_run, the value each conditional action returns (default True).
        progress_token: hands the run's `InvocationObserver` to a caller in this process that
            `progress.claim`ed this token (the pytest plugin's handle waits on it).
    """
    attach = _attach(invocation_id, invocation_timestamp)
    with tempfile.TemporaryDirectory(prefix="faasr-dry-run-") as tmp:
        loaded, expected = validate_spec(spec, dry_run_dir=tmp if dry_run else None, returns=returns)
        return run_spec(
            loaded,
            expected,
            environment=environment,
            local_state=local_state,
            timeouts=timeouts,
            cleanup=cleanup,
            report_path=report_path,
            junit_path=junit_path,
            attach=attach,
            progress_token=progress_token,
        )


def _attach(invocation_id: str | None, timestamp: str | None) -> Invocation | None:
    if bool(invocation_id) != bool(timestamp):
        raise ValueError("re-attaching needs both invocation_id and invocation_timestamp")
    return Invocation(invocation_id, timestamp) if invocation_id and timestamp else None


def run_spec(
    spec: TestSpec,
    expected: dict[str, FunctionStatus],
    *,
    environment: str | None = None,
    local_state: str | None = None,
    functions_dir: str | Path | None = None,
    timeouts: dict[str, float] | None = None,
    cleanup: bool = False,
    report_path: str | None = None,
    junit_path: str | None = None,
    attach: Invocation | None = None,
    runtime_client: Any = None,
    progress_token: str | None = None,
) -> Any:
    """The body of the flow after validation (shared with dry runs and the regression suite)."""
    with open_target(
        spec,
        environment,
        local_state=local_state,
        functions_dir=functions_dir,
        runtime_client=runtime_client,
        attaching=attach is not None,
    ) as target:
        preflight_checks(target)
        report, cancelled, interrupt = _observe(
            spec, expected, target, timeouts, attach, cleanup, progress_token
        )
    publish_report(report, report_path=report_path, junit_path=junit_path)
    if interrupt is not None and not isinstance(interrupt, KeyboardInterrupt):
        raise interrupt  # SIGTERM and the like: Prefect's engine decides how the run ends
    if cancelled:
        return Cancelled(message=report.reason, data=TestRunFailed(report))
    if report.passed:
        return report
    return Failed(message=report.reason, data=TestRunFailed(report))


def _observe(
    spec: TestSpec,
    expected: dict[str, FunctionStatus],
    target: RunTarget,
    timeouts: dict[str, float] | None,
    attach: Invocation | None,
    cleanup: bool,
    progress_token: str | None = None,
) -> tuple[TestRunReport, bool, BaseException | None]:
    """Watch the invocation to the end and build the report; also whether the run was cancelled (a
    cancel request in Prefect, or an interrupt, which is returned for the caller to re-raise)."""
    logger = get_run_logger()
    wf = target.workflow
    invocation = attach or wf.new_invocation()
    keys = wf.keys(invocation.invocation_id, invocation.timestamp)
    started = datetime.now(UTC)
    observer = make_observer(target, spec, keys, timeouts=timeouts, run_logger=logger)
    run_name = flow_run.get_name() or spec.name
    progress.register(run_name, observer, token=progress_token)
    checks: list[CheckResult] = []
    interrupt: BaseException | None = None

    def stop_workflow(reason: str) -> None:
        logger.warning("cancelling the test run: %s", reason)
        observer.cancel(reason)
        _stop_activations(target, invocation)

    requests = CancelRequests(flow_run.get_id(), stop_workflow)
    try:
        observer.start()
        with requests:
            _start_or_attach(observer, target, spec, invocation, attach, checks, logger)
            logger.info("watching s3://%s/%s/", target.environment.bucket(wf.logging_store), keys.folder)
            _watch_all(observer, expected)
        checks += check_statuses(expected, observer.snapshot())
        if requests.reason is None:  # a cancelled run's objects and logs are not worth checking
            checks += check_s3_objects(spec, target, keys)
            checks += check_log_lines(spec, target, observer)
        if attach is None:
            _stop_leftovers(target, invocation, observer, logger)
    except Exception:
        observer.cancel("the test run stopped on an error before the workflow finished")
        _stop_activations(target, invocation)
        raise
    except BaseException as exc:  # Ctrl-C, SIGTERM: stop the workflow, report what was seen
        interrupt = exc
        requests.cancel(interrupt_reason(exc))
        checks = check_statuses(expected, observer.snapshot())
    finally:
        observer.stop()
        progress.unregister(run_name)
    observed = observer.snapshot()
    passed, reason = verdict(checks)
    if requests.reason is not None:
        passed, reason = False, _cancelled_reason(requests.reason, observed)
    stats = observer.stats
    report = TestRunReport(
        name=spec.name,
        workflow=wf.name,
        environment=target.environment.name,
        invocation_id=invocation.invocation_id,
        invocation_timestamp=invocation.timestamp,
        invocation_folder=keys.folder,
        passed=passed,
        reason=reason,
        started_at=started,
        finished_at=datetime.now(UTC),
        instances=[
            instance_result(s, expected.get(i), observer.records(i) if s.status.is_bad else [])
            for i, s in observed.items()
        ],
        checks=checks,
        stats={
            "s3_requests": stats.total_requests,
            "s3_requests_by_operation": dict(stats.requests),
            "bytes_downloaded": stats.bytes_downloaded,
            "polls": stats.polls,
            "degraded_periods": stats.degraded_periods,
        },
    )
    if cleanup and interrupt is None:
        logger.info("deleted %d objects of the invocation", delete_invocation(target, spec, keys))
    return report, requests.reason is not None, interrupt


def _start_or_attach(
    observer: Any,
    target: RunTarget,
    spec: TestSpec,
    invocation: Invocation,
    attach: Invocation | None,
    checks: list[CheckResult],
    logger: Any,
) -> None:
    """Trigger the entry (a failed trigger cancels the watch and becomes a failed check), or re-attach."""
    wf = target.workflow
    if attach is not None:
        logger.info("re-attached to invocation %s at %s", invocation.invocation_id, invocation.timestamp)
        observer.mark_invoked(wf.entry)
        return
    try:
        trigger_invocation(target, spec, invocation)
    except TriggerError as exc:
        observer.cancel(f"the entry was not started: {exc}")
        checks.append(CheckResult(kind="run", subject=wf.entry, passed=False, message=str(exc)))
    else:
        observer.mark_invoked(wf.entry)


def _cancelled_reason(why: str, observed: dict[str, Any]) -> str:
    unfinished = sum(
        s.status is FunctionStatus.SKIPPED and (s.message or "").startswith("run cancelled")
        for s in observed.values()
    )
    return f"{CANCELLED}{why}; {unfinished} of {len(observed)} function instances unfinished (skipped)"


def _watch_all(observer: Any, expected: dict[str, FunctionStatus]) -> None:
    """One watch task per instance (topological order); the progress artifact follows them."""
    futures = [watch_function.submit(i, observer, expected.get(i)) for i in observer.workflow.instances()]
    artifact = create_progress_artifact(progress=0.0, description="FaaSr function instances finished")
    step = max(1, len(futures) // 50)  # at most ~50 updates, whatever the size
    for n, _ in enumerate(as_completed(futures), start=1):
        if n % step == 0 or n == len(futures):
            update_progress_artifact(artifact, progress=100.0 * n / len(futures))


def _stop_leftovers(target: RunTarget, invocation: Invocation, observer: Any, logger: Any) -> None:
    """Activations of a finished run that are still active (a hung function) are killed on the local
    runtime, so they do not hold its workers after the run; the report is already decided."""
    stop = getattr(target.environment, "stop_leftovers", None)
    if stop is None:
        return
    hung = [i for i, s in observer.snapshot().items() if s.status is FunctionStatus.TIMEOUT]
    try:
        killed = stop(invocation.invocation_id, timestamp=invocation.timestamp, hung=hung)
    except Exception as exc:  # the report stands; say why the runtime may still be busy
        logger.warning("could not stop the leftover activations of %s: %s", invocation.invocation_id, exc)
        return
    if killed:
        logger.warning(
            "stopped %d activation(s) still running after every instance was final: %s",
            len(killed),
            ", ".join(killed),
        )


def _stop_activations(target: RunTarget, invocation: Invocation) -> None:
    cancel = getattr(target.environment, "cancel", None)
    if cancel is not None:
        try:
            cancel(invocation.invocation_id, invocation.timestamp)
        except Exception as exc:  # the run is being torn down; say so, never hide the original error
            logging.getLogger(__name__).warning(
                "could not stop the activations of %s: %s", invocation.invocation_id, exc
            )
