"""The local runtime as an `Environment` for test runs, and its activations as a platform probe."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prefect_faasr.local.client import ActivationInfo, LocalRuntimeClient
from prefect_faasr.local.faults import FaultPlan
from prefect_faasr.observe import PlatformEvent
from prefect_faasr.s3client import s3_client
from prefect_faasr.triggers import OpenWhiskAuth, TriggerReceipt, trigger_entry
from prefect_faasr.workflow import FaaSrWorkflow, Invocation

logger = logging.getLogger(__name__)
LEFTOVER_GRACE = 30.0  # seconds a finished run gives activations that did not time out to end


class LocalEnvironment:
    """An `Environment` on the local runtime: every DataStore is its S3, every ComputeServer its
    compute server (the workflow must be the localized one that `client.deploy` returned)."""

    name = "local"

    def __init__(
        self, client: LocalRuntimeClient, workflow: FaaSrWorkflow, *, s3_endpoint: str | None = None
    ) -> None:
        self.client = client
        self.workflow = workflow
        self.s3_endpoint = s3_endpoint  # read S3 here instead (a fault proxy in front of the runtime's)
        self._s3: Any = None

    @property
    def description(self) -> str:
        return (
            f"local runtime (compute {self.client.info.compute_endpoint}, S3 {self.client.info.s3_endpoint})"
        )

    def __repr__(self) -> str:
        return f"LocalEnvironment({self.client.info.compute_endpoint!r})"

    def s3_client(self, store_name: str) -> Any:
        if self._s3 is None:
            info = self.client.info
            self._s3 = (
                s3_client(
                    self.s3_endpoint,
                    info.s3_region,
                    info.s3_access_key.get_secret_value(),
                    info.s3_secret_key.get_secret_value(),
                )
                if self.s3_endpoint
                else self.client.s3_client()
            )
        return self._s3

    def bucket(self, store_name: str) -> str:
        return self.workflow.data_store(store_name)["Bucket"]

    def compute_auth(self, server_name: str) -> OpenWhiskAuth:
        return OpenWhiskAuth(self.client.info.api_key, source="the local runtime's API key")

    def trigger_entry(
        self, workflow: FaaSrWorkflow, invocation: Invocation, payload_url: str
    ) -> TriggerReceipt:
        server = workflow.actions[workflow.entry].faas_server
        return trigger_entry(workflow, invocation, payload_url, self.compute_auth(server))

    def payload_url(self, workflow: FaaSrWorkflow) -> str:
        return self.client.payload_url(workflow)

    def set_faults(self, invocation_id: str, faults: FaultPlan | dict[str, Any]) -> FaultPlan:
        return self.client.set_faults(invocation_id, faults, workflow=self.workflow)

    def probe(self, invocation_id: str, timestamp: str | None = None) -> LocalProbe:
        return LocalProbe(self.client, invocation_id, timestamp, workflow=self.workflow.name)

    def cancel(self, invocation_id: str, timestamp: str | None = None) -> list[str]:
        """Kill the queued and running activations of the invocation; later triggers do not run.

        Give the InvocationTimestamp too: an InvocationID can repeat (a fixed `InvocationID`, a coarse
        `InvocationIDFromDate`), and another run with the same ID must not be touched.
        """
        return self.client.kill(invocation_id, timestamp=timestamp, workflow=self.workflow.name)

    def stop_leftovers(
        self,
        invocation_id: str,
        grace: float = LEFTOVER_GRACE,
        *,
        timestamp: str | None = None,
        hung: Iterable[str] = (),
    ) -> list[str]:
        """After a test run: kill the invocation's activations that are still active.

        Once every instance has a final status nothing an activation does can change the report, but a
        hung function would hold a worker of a shared runtime (`local serve`) for ever. Activations of
        the `hung` instances (those that timed out) are not waited for; the others (e.g. fan-in
        invocations backing off on the lock, or a process still exiting) get up to `grace` seconds to
        end by themselves. Returns the instances whose activations were killed (usually none).
        """
        hung = set(hung)
        deadline = time.monotonic() + grace
        while True:
            acts = self.client.activations(
                invocation_id, timestamp=timestamp, workflow=self.workflow, docs=False
            )
            active = [a.instance or a.name for a in acts if a.active]
            if not active:
                return []
            if set(active) <= hung or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        self.client.kill(invocation_id, timestamp=timestamp, workflow=self.workflow)
        return active


class LocalProbe:
    """Reports activation starts and ends of one invocation (exit codes, kills) to the observer.

    The invocation is its InvocationID narrowed by its InvocationTimestamp and WorkflowName when given:
    without them the probe also reports the activations of other runs that reuse the ID (a fixed
    `InvocationID`, a coarse `InvocationIDFromDate`).
    """

    def __init__(
        self,
        client: LocalRuntimeClient,
        invocation_id: str,
        timestamp: str | None = None,
        *,
        workflow: str | None = None,
    ) -> None:
        self.client = client
        self.invocation_id = invocation_id
        self.timestamp = timestamp
        self.workflow = workflow
        self._started: set[str] = set()
        self._ended: set[str] = set()

    def poll(self) -> list[PlatformEvent]:
        events: list[PlatformEvent] = []
        scope = {"timestamp": self.timestamp, "workflow": self.workflow}
        for act in self.client.activations(self.invocation_id, **scope, docs=False):
            instance = act.instance
            if instance is None:
                continue
            if act.state != "queued" and act.activation_id not in self._started:
                self._started.add(act.activation_id)
                at = act.start.timestamp() if act.start else None
                events.append(PlatformEvent(instance, "started", activation=act.activation_id, at=at))
            if not act.active and act.activation_id not in self._ended:
                self._ended.add(act.activation_id)
                events.append(_ended(instance, act))
        return events


def _ended(instance: str, act: ActivationInfo) -> PlatformEvent:
    code = act.exit_code
    signal = -code if code is not None and code < 0 else None
    detail = act.outcome or ""
    if act.killed:
        detail = "killed by the local runtime" + (f" ({detail})" if detail else "")
    return PlatformEvent(
        instance,
        "ended",
        exit_code=None if signal is not None else code,
        signal=signal,
        activation=act.activation_id,
        detail=detail,
        at=act.end.timestamp() if act.end else None,
    )
