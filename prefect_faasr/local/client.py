"""Client of a running local runtime (its compute server and S3), over HTTP with requests.

Example:
    ```python
    client = LocalRuntimeClient.from_state_file("~/.prefect-faasr/local-runtime.json")
    wf = client.deploy("examples/integration/workflow.json", "examples/integration/functions")
    run = client.start(wf)
    for a in client.wait_idle(run.invocation_id):
        print(a.instance, a.state, a.exit_code)
    ```
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.local.engine import CODE_FILE, FUNCTIONS_PARAM
from prefect_faasr.local.faults import FaultPlan
from prefect_faasr.local.localize import is_localized, localize
from prefect_faasr.local.state import RuntimeInfo
from prefect_faasr.names import instance_name
from prefect_faasr.s3client import s3_client
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys


def _write_atomic(path: Path, text: str) -> None:
    """Write through a unique temporary file, so concurrent deploys never see each other's halves."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class LocalRuntimeError(FaaSrUserError):
    """The local runtime refused a request or cannot be reached."""


@dataclass(frozen=True)
class ActivationInfo:
    """One activation as the compute server reports it (see activations.py for the record)."""

    activation_id: str
    name: str
    action: str | None
    rank: int | None
    invocation_id: str | None
    state: str
    exit_code: int | None
    start: datetime | None
    end: datetime | None
    killed: bool
    outcome: str | None
    function_result: Any
    stdout: str = ""
    stderr: str = ""
    seq: int = 0
    invocation_timestamp: str | None = None
    record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def instance(self) -> str | None:
        """The function instance, `action` or `action(r)`."""
        return instance_name(self.action, self.rank) if self.action else None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> ActivationInfo:
        ext = rec.get("faasr") or {}

        def when(ms: int) -> datetime | None:
            return datetime.fromtimestamp(ms / 1000, UTC) if ms else None

        return cls(
            activation_id=rec["activationId"],
            name=rec["name"],
            action=ext.get("action"),
            rank=ext.get("rank"),
            invocation_id=ext.get("invocationId"),
            state=ext.get("state", "failed"),
            exit_code=ext.get("exitCode"),
            start=when(rec.get("start", 0)),
            end=when(rec.get("end", 0)),
            killed=bool(ext.get("killed")),
            outcome=ext.get("outcome"),
            function_result=ext.get("functionResult"),
            stdout=ext.get("stdout", ""),
            stderr=ext.get("stderr", ""),
            seq=ext.get("seq", 0),
            invocation_timestamp=ext.get("invocationTimestamp"),
            record=rec,
        )


@dataclass(frozen=True)
class StartedInvocation:
    """An invocation whose entry was triggered: its identity, folder keys and entry activation."""

    invocation_id: str
    timestamp: str
    activation_id: str
    keys: InvocationKeys


class LocalRuntimeClient:
    """Talks to one local runtime: deploy workflows, invoke, observe activations, faults, kill."""

    def __init__(self, info: RuntimeInfo, *, timeout: float = 30.0) -> None:
        self.info = info
        self.timeout = timeout
        self._http = requests.Session()
        # uvicorn closes a connection after 5 s idle; a request sent on it at that moment is lost with
        # the connection. Retried: failures to connect (nothing was sent) for every method, lost
        # answers only for idempotent ones, so an activation is never POSTed twice.
        retry = Retry(
            total=3,
            connect=3,
            read=2,
            status=0,
            other=0,
            backoff_factor=0.1,
            allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
            raise_on_status=False,
        )
        self._http.mount("http://", HTTPAdapter(max_retries=retry))
        user, _, password = info.api_key.get_secret_value().partition(":")
        self._http.auth = (user, password)

    @classmethod
    def from_state_file(cls, path: str | Path, **kwargs: Any) -> LocalRuntimeClient:
        return cls(RuntimeInfo.read(Path(path).expanduser()), **kwargs)

    def __repr__(self) -> str:
        return f"LocalRuntimeClient(compute={self.info.compute_endpoint!r}, s3={self.info.s3_endpoint!r})"

    def close(self) -> None:
        self._http.close()

    # ---- HTTP -------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.info.compute_endpoint}{path}"

    def _ns(self, path: str) -> str:
        return self._url(f"/api/v1/namespaces/{self.info.namespace}{path}")

    def _request(self, method: str, url: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        try:
            kwargs.setdefault("timeout", self.timeout)
            resp = self._http.request(method, url, **kwargs)
        except requests.ConnectionError:
            raise LocalRuntimeError(
                f"local runtime not reachable at {self.info.compute_endpoint} "
                "(is `prefect-faasr local serve` running?)"
            ) from None
        if resp.status_code not in ok:
            try:
                message = resp.json().get("error", resp.text)
            except ValueError:
                message = resp.text
            raise LocalRuntimeError(f"{method} {url.split('?')[0]} answered {resp.status_code}: {message}")
        return resp.json() if resp.content else None

    def health(self) -> None:
        """Raise `LocalRuntimeError` unless the compute server answers (e.g. a stale state file)."""
        self._request("GET", self._url("/api/v1"), timeout=5)

    # ---- S3 ------------------------------------------------------------------------------------

    def s3_client(self) -> Any:
        """A boto3 S3 client for the local S3 (path-style, the runtime's credentials)."""
        return s3_client(
            self.info.s3_endpoint,
            self.info.s3_region,
            self.info.s3_access_key.get_secret_value(),
            self.info.s3_secret_key.get_secret_value(),
        )

    # ---- deploy ----------------------------------------------------------------------------------

    def localize(self, workflow: FaaSrWorkflow | str | Path | Mapping[str, Any]) -> FaaSrWorkflow:
        """The workflow rewritten for this runtime (no side effects)."""
        wf = workflow if isinstance(workflow, FaaSrWorkflow) else FaaSrWorkflow.parse(workflow)
        if is_localized(wf.raw, self.info.compute_endpoint, self.info.s3_endpoint):
            return wf
        raw = localize(
            wf.raw,
            compute_endpoint=self.info.compute_endpoint,
            namespace=self.info.namespace,
            s3_endpoint=self.info.s3_endpoint,
            s3_region=self.info.s3_region,
        )
        return FaaSrWorkflow.parse(raw, origin=wf.source)

    def deploy(
        self, workflow: FaaSrWorkflow | str | Path | Mapping[str, Any], functions_dir: str | Path
    ) -> FaaSrWorkflow:
        """Localize a workflow, create its buckets, write its payload, register `{WF}-{A}` for every action.

        `functions_dir` is the folder (or one `.py` file) holding the code of the workflow's FunctionNames.
        Returns the localized workflow; `payload_url(result)` is what PAYLOAD_URL must be.
        The bucket of an `Anonymous` data store is made public (anyone may read, write and delete): the
        engine sends unsigned requests for its logs, `.done` files and uploads, which only such a bucket
        accepts, so this is the one set-up in which the workflow can run at all.
        """
        functions = Path(functions_dir).expanduser().resolve()
        if not functions.exists():
            raise LocalRuntimeError(f"{functions_dir}: functions folder not found")
        wf = self.localize(workflow)
        s3 = self.s3_client()
        for name in wf.raw["DataStores"]:
            store = wf.data_store(name)
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=store["Bucket"])
            if store.get("Anonymous"):  # truthy, as the engine tests it
                s3.put_bucket_policy(Bucket=store["Bucket"], Policy=json.dumps(_public(store["Bucket"])))
        # One payload folder per (workflow, code): runs of one workflow with different functions (a dry
        # run beside a real run) each carry their own PAYLOAD_URL, and the engine takes the code from it.
        path = self._payload_path(wf, functions)
        _write_atomic(path.with_name(CODE_FILE), json.dumps({"functions_dir": str(functions)}))
        _write_atomic(path, json.dumps(wf.raw, indent=2))
        for action in wf.actions.values():
            self.register_action(f"{wf.name}-{action.name}", functions, faasr_type=action.type)
        return FaaSrWorkflow.parse(wf.raw, origin=str(path))

    def _payload_path(self, wf: FaaSrWorkflow, functions: Path | None = None) -> Path:
        data = json.dumps(wf.raw, sort_keys=True) + (str(functions) if functions else "")
        digest = hashlib.sha256(data.encode()).hexdigest()[:16]
        return self.info.state_dir / "payloads" / f"{wf.name}-{digest}" / "workflow.json"

    def payload_url(self, workflow: FaaSrWorkflow | str | Path | Mapping[str, Any]) -> str:
        """PAYLOAD_URL of a deployed workflow (a file in the runtime's state folder).

        For the workflow `deploy` returned this is the payload of that deployment (its code included).
        """
        if isinstance(workflow, FaaSrWorkflow) and workflow.source:
            deployed = Path(workflow.source)
            if deployed.is_file() and (self.info.state_dir / "payloads") in deployed.parents:
                return str(deployed)
        wf = self.localize(workflow)
        found = sorted(self._payload_path(wf).parent.parent.glob(f"{wf.name}-*/workflow.json"))
        matching = [p for p in found if json.loads(p.read_text()) == wf.raw]
        if not matching:
            raise LocalRuntimeError(f"workflow {wf.name} is not deployed (call deploy first)")
        return str(max(matching, key=lambda p: p.stat().st_mtime))

    def register_action(
        self, name: str, functions_dir: str | Path, *, faasr_type: str = "Python"
    ) -> dict[str, Any]:
        body = {
            "exec": {"kind": "blackbox", "image": "prefect-faasr/local"},
            "parameters": [{"key": FUNCTIONS_PARAM, "value": str(Path(functions_dir).resolve())}],
            "annotations": [{"key": "faasr-type", "value": faasr_type}],
        }
        return self._request("PUT", self._ns(f"/actions/{name}"), params={"overwrite": "true"}, json=body)

    def delete_action(self, name: str) -> None:
        self._request("DELETE", self._ns(f"/actions/{name}"))

    # ---- invoke ---------------------------------------------------------------------------------

    def invoke(self, action_name: str, overwritten: Mapping[str, Any], payload_url: str) -> str:
        """POST one trigger the way FaaSr's OpenWhisk path does; returns the activation id."""
        body = {"OVERWRITTEN": dict(overwritten), "PAYLOAD_URL": payload_url}
        data = self._request(
            "POST",
            self._ns(f"/actions/{action_name}"),
            ok=(202,),
            params={"blocking": "false", "result": "false"},
            json=body,
        )
        return data["activationId"]

    def start(
        self,
        workflow: FaaSrWorkflow,
        *,
        invocation_id: str | None = None,
        timestamp: str | None = None,
        faults: FaultPlan | Mapping[str, Any] | None = None,
    ) -> StartedInvocation:
        """Trigger a deployed workflow's entry with a harness-made InvocationID/Timestamp (contract §2.4)."""
        wf = self.localize(workflow)
        made = wf.new_invocation()
        invocation_id = invocation_id or made.invocation_id
        timestamp = timestamp or made.timestamp
        if faults:
            self.set_faults(invocation_id, faults, workflow=wf, timestamp=timestamp)
        overwritten = {
            "FunctionInvoke": wf.entry,
            "InvocationID": invocation_id,
            "InvocationTimestamp": timestamp,
        }
        activation_id = self.invoke(f"{wf.name}-{wf.entry}", overwritten, self.payload_url(wf))
        return StartedInvocation(invocation_id, timestamp, activation_id, wf.keys(invocation_id, timestamp))

    # ---- observe --------------------------------------------------------------------------------

    def activation(self, activation_id: str) -> ActivationInfo:
        return ActivationInfo.from_record(self._request("GET", self._ns(f"/activations/{activation_id}")))

    def activations(
        self,
        invocation_id: str | None = None,
        *,
        timestamp: str | None = None,
        workflow: FaaSrWorkflow | str | None = None,
        docs: bool = True,
    ) -> list[ActivationInfo]:
        """Activations (of one invocation), oldest first.

        An InvocationID can repeat (a fixed `InvocationID`, a coarse `InvocationIDFromDate`, two
        workflows started in the same second); give the InvocationTimestamp and the workflow too to
        get the activations of one invocation only.
        """
        params: dict[str, Any] = {"limit": 0, "docs": str(docs).lower()}
        if invocation_id is not None:
            params["invocationId"] = invocation_id
            params.update(_scope(timestamp, workflow, timestamp_key="invocationTimestamp"))
        elif timestamp is not None or workflow is not None:
            raise ValueError("a timestamp or workflow narrows the activations of an invocation_id")
        records = self._request("GET", self._ns("/activations"), params=params)
        return sorted((ActivationInfo.from_record(r) for r in records), key=lambda a: a.seq)

    def wait_idle(
        self,
        invocation_id: str,
        timeout: float = 120.0,
        poll: float = 0.1,
        *,
        timestamp: str | None = None,
        workflow: FaaSrWorkflow | str | None = None,
    ) -> list[ActivationInfo]:
        """Wait until no activation of the invocation is queued or running; returns all of them.

        Successors are registered by their predecessor while it runs, so once nothing is active
        nothing more will start. Raises TimeoutError naming what is still active.
        """
        deadline = time.monotonic() + timeout
        while True:
            scope = {"timestamp": timestamp, "workflow": workflow}
            active = [a for a in self.activations(invocation_id, **scope, docs=False) if a.active]
            if not active:
                return self.activations(invocation_id, **scope)
            if time.monotonic() >= deadline:
                names = ", ".join(f"{a.instance or a.name} ({a.state})" for a in active)
                raise TimeoutError(
                    f"invocation {invocation_id} still has active activations after {timeout} s: {names}"
                )
            time.sleep(poll)

    # ---- faults and cancellation ----------------------------------------------------------------

    def set_faults(
        self,
        invocation_id: str,
        faults: FaultPlan | Mapping[str, Any],
        *,
        workflow: FaaSrWorkflow | None = None,
        timestamp: str | None = None,
    ) -> FaultPlan:
        """Register the fault plan of one InvocationID (before its entry is triggered), for that
        `workflow` only when one is given (its actions are checked too) and for the invocation at that
        InvocationTimestamp only when `timestamp` is given."""
        plan = FaultPlan.parse(faults)
        if workflow is not None:
            plan.check_workflow(workflow)
        self._request(
            "PUT",
            self._url(f"/faasr/invocations/{invocation_id}/faults"),
            json=plan.to_wire(),
            params=_scope(timestamp, workflow),
        )
        return plan

    def clear_faults(
        self,
        invocation_id: str,
        *,
        timestamp: str | None = None,
        workflow: FaaSrWorkflow | str | None = None,
    ) -> None:
        url = self._url(f"/faasr/invocations/{invocation_id}/faults")
        self._request("DELETE", url, params=_scope(timestamp, workflow))

    def kill(
        self,
        invocation_id: str,
        *,
        timestamp: str | None = None,
        workflow: FaaSrWorkflow | str | None = None,
    ) -> list[str]:
        """Kill the queued and running activations of an invocation; later triggers for it do not run.

        Without `timestamp` and `workflow` this applies to every invocation with that InvocationID that
        has activations now (a later run reusing the ID is not affected).
        """
        url = self._url(f"/faasr/invocations/{invocation_id}/kill")
        return self._request("POST", url, params=_scope(timestamp, workflow))["killed"]


def _public(bucket: str) -> dict[str, Any]:
    """A bucket policy that lets anyone (unsigned requests) list it and read, write, delete objects."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
            },
        ],
    }


def _scope(
    timestamp: str | None, workflow: FaaSrWorkflow | str | None, *, timestamp_key: str = "timestamp"
) -> dict[str, str]:
    """Query parameters narrowing an InvocationID to one invocation (its timestamp, its workflow)."""
    out = {timestamp_key: timestamp} if timestamp else {}
    if workflow is not None:
        out["workflow"] = workflow.name if isinstance(workflow, FaaSrWorkflow) else workflow
    return out
