"""Prefect tasks of a FaaSr test run: thin wrappers over the plain functions of prefect_faasr."""

from prefect_faasr.tasks.assertions import check_log_lines, check_s3_objects, check_statuses
from prefect_faasr.tasks.preflight import preflight_checks
from prefect_faasr.tasks.report import publish_report
from prefect_faasr.tasks.trigger import trigger_invocation
from prefect_faasr.tasks.validate import validate_spec
from prefect_faasr.tasks.watch import watch_function

__all__ = [
    "check_log_lines",
    "check_s3_objects",
    "check_statuses",
    "preflight_checks",
    "publish_report",
    "trigger_invocation",
    "validate_spec",
    "watch_function",
]
