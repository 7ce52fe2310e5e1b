"""Tasks: the run's checks (statuses vs. the expected trace, S3 objects, log lines). Never cached."""

from __future__ import annotations

from collections.abc import Mapping

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_faasr.checks import check_logs, check_objects, check_trace
from prefect_faasr.observe import InstanceState, InvocationObserver
from prefect_faasr.oracle import diff_statuses, format_diff
from prefect_faasr.report import CheckResult
from prefect_faasr.spec import TestSpec
from prefect_faasr.status import FunctionStatus
from prefect_faasr.testrun import RunTarget
from prefect_faasr.workflow import InvocationKeys


def _log(results: list[CheckResult], what: str) -> list[CheckResult]:
    logger = get_run_logger()
    failed = [r for r in results if not r.passed]
    for r in failed:
        logger.error(r.line())
    logger.info("%s: %d of %d held", what, len(results) - len(failed), len(results))
    return results


@task(name="check_statuses", cache_policy=NO_CACHE)
def check_statuses(
    expected: Mapping[str, FunctionStatus], observed: Mapping[str, InstanceState]
) -> list[CheckResult]:
    """Every instance's final status against the expected trace, as one diff."""
    diff = diff_statuses(dict(expected), {i: s.status for i, s in observed.items()})
    if diff:
        get_run_logger().error("expected trace differs:\n%s", format_diff(diff))
    return _log(check_trace(expected, observed), "statuses")


@task(name="check_s3_objects", cache_policy=NO_CACHE)
def check_s3_objects(spec: TestSpec, target: RunTarget, keys: InvocationKeys) -> list[CheckResult]:
    env = target.environment
    return _log(check_objects(spec.objects, keys, target.workflow, env.s3_client, env.bucket), "S3 objects")


@task(name="check_log_lines", cache_policy=NO_CACHE)
def check_log_lines(spec: TestSpec, target: RunTarget, observer: InvocationObserver) -> list[CheckResult]:
    return _log(check_logs(spec.logs, target.workflow, observer.records), "log lines")
