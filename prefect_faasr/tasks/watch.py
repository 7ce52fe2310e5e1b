"""Task: one per function instance; mirrors the instance's FaaSr status as its Prefect state and
forwards the instance's remote log lines into the task's log at their levels."""

from __future__ import annotations

import logging

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.states import Cancelled, Completed, Failed, State

from prefect_faasr.logs import USER, LogRecord
from prefect_faasr.observe import InstanceState, InvocationObserver
from prefect_faasr.report import InstanceResult
from prefect_faasr.status import FunctionStatus

LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
    USER: logging.INFO,
}
STEP = 0.5  # seconds between looks at the observer: short, so Prefect can interrupt the thread
EXCERPT = 12  # log lines kept in the report for a failed instance


@task(name="watch_function", task_run_name="{instance}", cache_policy=NO_CACHE)
def watch_function(
    instance: str, observer: InvocationObserver, expected: FunctionStatus | None = None
) -> State:
    """Wait until the instance is final; its state: Completed, NotInvoked, Failed, TimedOut or Skipped."""
    logger = get_run_logger()
    sent = 0
    state = observer.state(instance)
    while True:
        state = observer.wait(instance, timeout=STEP)
        sent += _forward(logger, observer.records(instance, sent))
        if observer.stopped or (state.is_final and observer.log_quiet(instance)):
            break
    _forward(logger, observer.records(instance, sent))
    return to_prefect_state(state)


def instance_result(
    state: InstanceState, expected: FunctionStatus | None, records: list[LogRecord]
) -> InstanceResult:
    excerpt = [str(r) for r in records if r.is_error or r.is_user][-EXCERPT:]
    if not excerpt:
        excerpt = [str(r) for r in records[-EXCERPT:]]
    return InstanceResult(
        instance=state.instance,
        status=state.status,
        expected=expected,
        invoked_at=state.invoked_at,
        started_at=state.started_at,
        finished_at=state.finished_at,
        seconds=state.seconds,
        message=state.message,
        log_excerpt=excerpt,
    )


def to_prefect_state(state: InstanceState) -> State:
    """The Prefect state mirroring a FaaSr status (custom names for the statuses Prefect lacks)."""
    data = state.status.value
    message = state.message or state.status.value
    match state.status:
        case FunctionStatus.COMPLETED:
            return Completed(message=message, data=data)
        case FunctionStatus.NOT_INVOKED:
            return Completed(message=message, data=data, name="NotInvoked")
        case FunctionStatus.SKIPPED:
            return Cancelled(message=message, data=data, name="Skipped")
        case FunctionStatus.TIMEOUT:
            return Failed(message=message, data=data, name="TimedOut")
        case FunctionStatus.FAILED:
            return Failed(message=message, data=data)
        case _:  # the observer stopped before the instance was final
            return Cancelled(
                message=f"watch ended while {state.status.value}: {message}", data=data, name="Unfinished"
            )


def _forward(logger: logging.Logger | logging.LoggerAdapter, records: list[LogRecord]) -> int:
    for r in records:
        if r.is_user:
            logger.log(logging.INFO, "%s", r.message)
        else:
            logger.log(LEVELS.get(r.level, logging.INFO), "[%s] [%s] %s", _t(r.time), r.file, r.text)
    return len(records)


def _t(t: float | None) -> str:
    return "" if t is None else f"{t:g}"
