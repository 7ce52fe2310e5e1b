"""Task: publish the report (table and markdown artifacts, optional JSON and JUnit files)."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_faasr.report import TestRunReport


@task(name="report", cache_policy=NO_CACHE)
def publish_report(
    report: TestRunReport, *, report_path: str | None = None, junit_path: str | None = None
) -> TestRunReport:
    key = _artifact_key(report.name)
    create_table_artifact(
        report.table_rows(),
        key=f"{key}-functions",
        description=f"FaaSr functions of {report.name}: {report.reason}",
    )
    create_markdown_artifact(
        report.markdown(), key=f"{key}-summary", description=f"FaaSr test run {report.name}"
    )
    logger = get_run_logger()
    if report_path:
        logger.info("report written to %s", report.write_json(report_path))
    if junit_path:
        logger.info("JUnit XML written to %s", report.write_junit(junit_path))
    (logger.info if report.passed else logger.error)(
        "%s: %s", "PASSED" if report.passed else "FAILED", report.reason
    )
    return report


def _artifact_key(name: str) -> str:
    """Artifact keys allow lower-case letters, digits and dashes only."""
    key = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return f"faasr-{key or 'run'}"
