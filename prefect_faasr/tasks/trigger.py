"""Task: start the invocation's entry action (retried only when the request surely started nothing)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_faasr.spec import TestSpec
from prefect_faasr.testrun import RunTarget, start_invocation
from prefect_faasr.triggers import TriggerError, TriggerReceipt
from prefect_faasr.workflow import Invocation


def _retryable(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except TriggerError as exc:
        return exc.retryable
    except Exception:
        return False
    return False


@task(
    name="trigger",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[1, 4],
    retry_condition_fn=_retryable,
)
def trigger_invocation(target: RunTarget, spec: TestSpec, invocation: Invocation) -> TriggerReceipt:
    """Refuse a duplicate invocation, register faults (local runtime), trigger the entry."""
    receipt = start_invocation(target, spec, invocation)
    get_run_logger().info(
        "started %s: InvocationID %s, timestamp %s (%s)",
        target.workflow.entry,
        invocation.invocation_id,
        invocation.timestamp,
        receipt.describe(),
    )
    return receipt
