"""Task: check every credential and bucket the workflow names before triggering."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_faasr.preflight import PreflightReport, preflight
from prefect_faasr.testrun import RunTarget


@task(name="preflight", cache_policy=NO_CACHE)
def preflight_checks(target: RunTarget) -> PreflightReport:
    """Raise one `PreflightError` listing every problem; otherwise publish what was checked."""
    report = preflight(target.workflow, target.environment)
    get_run_logger().info(report.summary())
    create_table_artifact(
        report.rows(), description="Preflight: credentials, buckets and deployments checked"
    )
    return report
