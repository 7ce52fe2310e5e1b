"""The steps of one test run as plain functions; the Prefect tasks and flow wrap them.

Where it runs (`open_target`): the embedded local runtime (default), a running `prefect-faasr local
serve` (its state file), or real backends through a `FaaSrEnvironment` block.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from prefect_faasr.environment import BlockEnvironment, Environment
from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.observe import InvocationObserver, PlatformProbe
from prefect_faasr.spec import TestSpec, template_fields
from prefect_faasr.triggers import TriggerReceipt
from prefect_faasr.workflow import FaaSrWorkflow, Invocation, InvocationKeys

LOCAL = "local"
STATE_FILE_ENV = "PREFECT_FAASR_LOCAL_STATE_FILE"  # as `prefect-faasr local serve` reads it
# For reliability tests: the S3 endpoint the harness itself reads the local runtime's S3 through (a fault
# proxy in front of it); the functions keep writing to the runtime's S3 directly.
WATCH_S3_ENV = "PREFECT_FAASR_WATCH_S3_ENDPOINT"

logger = logging.getLogger(__name__)


class InvocationExistsError(FaaSrUserError):
    """The invocation folder already holds objects: FaaSr would refuse a second start of it."""


@dataclass
class RunTarget:
    """Where a test run happens: its environment, the workflow as deployed there, its payload URL."""

    environment: Environment
    workflow: FaaSrWorkflow
    payload_url: str

    @property
    def is_local(self) -> bool:
        return getattr(self.environment, "name", "") == LOCAL

    def probe(self, invocation_id: str, timestamp: str | None = None) -> PlatformProbe | None:
        make = getattr(self.environment, "probe", None)
        return make(invocation_id, timestamp) if make else None


def is_local(environment: str | None) -> bool:
    return environment in (None, "", LOCAL)


@contextmanager
def local_runtime(state_file: str | None = None) -> Iterator[Any]:
    """A client of a local runtime: the one whose state file is given (or named by
    $PREFECT_FAASR_LOCAL_STATE_FILE), else an embedded runtime started here and stopped on exit."""
    from prefect_faasr.local.client import LocalRuntimeClient
    from prefect_faasr.local.runtime import LocalFaaSr

    path = state_file or os.environ.get(STATE_FILE_ENV)
    if path:
        client = LocalRuntimeClient.from_state_file(path)
        try:
            client.health()
            yield client
        finally:
            client.close()
        return
    with LocalFaaSr() as runtime:
        yield runtime.client


@contextmanager
def open_target(
    spec: TestSpec,
    environment: str | None = None,
    *,
    local_state: str | None = None,
    functions_dir: str | Path | None = None,
    runtime_client: Any = None,
    attaching: bool = False,
) -> Iterator[RunTarget]:
    """The run target for a spec: deploy to the local runtime, or resolve a FaaSrEnvironment block.

    `attaching` (watching an invocation started earlier): without a functions folder the workflow is
    only localized, not deployed again. With $PREFECT_FAASR_WATCH_S3_ENDPOINT set, the local
    environment reads S3 through that endpoint (reliability tests put a fault proxy there).
    """
    workflow = spec.faasr_workflow
    if not is_local(environment):
        if spec.faults:
            raise FaaSrUserError(
                f"{spec.source or spec.name}: faults are injected by the local runtime only; "
                f"remove `faults` to run on environment {environment!r}"
            )
        if not spec.payload_url:
            raise FaaSrUserError(
                f"{spec.source or spec.name}: payload_url is required on real backends: every FaaSr action "
                "fetches the workflow JSON from it (owner/repo/branch/path/to/workflow.json)"
            )
        env = BlockEnvironment.load(str(environment), workflow)
        yield RunTarget(env, workflow, spec.payload_url)
        return
    from prefect_faasr.local.environment import LocalEnvironment

    code = functions_dir or spec.functions_dir
    if code is None and not attaching:
        raise FaaSrUserError(
            f"{spec.source or spec.name}: the local runtime needs the functions' code: set `functions:` "
            "to the folder holding the Python files (or use --dry-run)"
        )

    def target(client: Any) -> RunTarget:
        if code is None:  # attaching: nothing will be triggered, the S3 layout is all that matters
            local = client.localize(workflow)
            return RunTarget(LocalEnvironment(client, local, s3_endpoint=watch_s3), local, "")
        deployed = client.deploy(workflow, code)
        env = LocalEnvironment(client, deployed, s3_endpoint=watch_s3)
        return RunTarget(env, deployed, client.payload_url(deployed))

    watch_s3 = os.environ.get(WATCH_S3_ENV) or None

    if runtime_client is not None:
        yield target(runtime_client)
        return
    with local_runtime(local_state) as client:
        yield target(client)


def check_not_started(target: RunTarget, keys: InvocationKeys) -> None:
    """Refuse an invocation whose folder already has objects, as FaaSr's entry does (contract §2.5)."""
    wf = target.workflow
    store = wf.logging_store
    client, bucket = target.environment.s3_client(store), target.environment.bucket(store)
    try:
        listing = client.list_objects_v2(Bucket=bucket, Prefix=keys.folder + "/", MaxKeys=1)
    except (ClientError, BotoCoreError) as exc:
        raise FaaSrUserError(f"cannot list s3://{bucket}/{keys.folder}/ before starting: {exc}") from None
    if listing.get("KeyCount", 0):
        raise InvocationExistsError(
            f"invocation {keys.invocation_id} at {keys.timestamp} already has objects in "
            f"s3://{bucket}/{keys.folder}/: FaaSr refuses a second start of the same InvocationID and "
            "timestamp (use `prefect-faasr attach` to watch it instead)"
        )


def start_invocation(target: RunTarget, spec: TestSpec, invocation: Invocation) -> TriggerReceipt:
    """Refuse duplicates, register the spec's faults (local runtime), and trigger the entry."""
    keys = target.workflow.keys(invocation.invocation_id, invocation.timestamp)
    check_not_started(target, keys)
    if spec.faults:
        target.environment.set_faults(invocation.invocation_id, spec.faults)  # type: ignore[attr-defined]
    return target.environment.trigger_entry(target.workflow, invocation, target.payload_url)


def make_observer(
    target: RunTarget,
    spec: TestSpec,
    keys: InvocationKeys,
    *,
    timeouts: Mapping[str, float] | None = None,
    run_logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> InvocationObserver:
    """An observer of the invocation folder with the spec's budgets (overridable per run)."""
    t = spec.timeouts.model_copy(update=dict(timeouts or {}))
    wf, env = target.workflow, target.environment
    return InvocationObserver(
        wf,
        keys,
        log_client=env.s3_client(wf.logging_store),
        log_bucket=env.bucket(wf.logging_store),
        done_client=env.s3_client(wf.default_store),
        done_bucket=env.bucket(wf.default_store),
        budgets=t.budgets(),
        poll_interval=t.poll,
        settle=t.settle,
        probe=target.probe(keys.invocation_id, keys.timestamp),
        logger=run_logger,
    )


def delete_invocation(target: RunTarget, spec: TestSpec, keys: InvocationKeys) -> int:
    """Delete the invocation folder (in every store the workflow uses) and the spec's objects whose
    key names this invocation; returns how many objects were deleted."""
    wf, env = target.workflow, target.environment
    deleted = 0
    for store in dict.fromkeys((wf.logging_store, wf.default_store)):
        client, bucket = env.s3_client(store), env.bucket(store)
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=keys.folder + "/"):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for i in range(0, len(objs), 1000):
                client.delete_objects(Bucket=bucket, Delete={"Objects": objs[i : i + 1000], "Quiet": True})
                deleted += len(objs[i : i + 1000])
    for check in spec.objects:
        if "InvocationID" in template_fields(check.key) or "InvocationFolder" in template_fields(check.key):
            store = check.store or wf.default_store
            key = check.render_key(keys)
            try:
                env.s3_client(store).delete_object(Bucket=env.bucket(store), Key=key)
                deleted += 1
            except (ClientError, BotoCoreError) as exc:
                logger.warning("could not delete s3://%s/%s: %s", env.bucket(store), key, exc)
    return deleted
