"""The local compute server: the part of OpenWhisk's REST API that FaaSr uses, plus a few extensions.

OpenWhisk subset (basic auth with the runtime's `uuid:key`, namespace `guest` or `_`):

    PUT    /api/v1/namespaces/{ns}/actions/{name}?overwrite=true   register an action (deploy does this)
    GET    /api/v1/namespaces/{ns}/actions[/{name}]                 list / get actions
    DELETE /api/v1/namespaces/{ns}/actions/{name}                   remove an action
    POST   /api/v1/namespaces/{ns}/actions/{name}?blocking=false    invoke: 202 {"activationId": ...}
    GET    /api/v1/namespaces/{ns}/activations                      list (newest first); extension filters
                                                                     `invocationId`, `invocationTimestamp`;
                                                                     `docs=true` for logs
    GET    /api/v1/namespaces/{ns}/activations/{id}[/logs|/result]   one record (see activations.py)

Extensions (same auth):

    PUT/GET/DELETE /faasr/invocations/{id}/faults   the fault plan of one InvocationID (faults.py)
    POST           /faasr/invocations/{id}/kill     kill its queued and running activations; later
                                                    triggers for it are recorded as killed, not run

These, and the `invocationId` filter of the activation list, take `timestamp`/`invocationTimestamp`
(the InvocationTimestamp) and `workflow` (the WorkflowName) to mean one invocation: an InvocationID
alone can name several (a fixed `InvocationID` or a coarse `InvocationIDFromDate` repeats it run
after run, and two workflows may start in the same second). Without them a fault plan applies to
every invocation with that ID, and a kill to every such invocation that has activations at the time
(never to a later run that reuses the ID).

Errors are answered like OpenWhisk: `{"error": message, "code": transaction id}` with 401 (missing or
wrong credentials), 403 (other namespace), 404 (unknown action or activation), 409 (action exists,
no overwrite), 400 (malformed body, invalid fault plan).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import socket
import threading
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from prefect_faasr.local.activations import ACTIVE, Activation, Scope, record
from prefect_faasr.local.faults import FaultPlan, FaultValidationError
from prefect_faasr.local.pool import ActivationPool, Launcher, StartMethod
from prefect_faasr.local.procs import exit_with_parent, read_config, report_port

MODULE = "prefect_faasr.local.compute"
NOT_FOUND = "The requested resource does not exist."
MISSING_AUTH = "The resource requires authentication, which was not supplied with the request"
BAD_AUTH = "The supplied authentication is invalid"


class ComputeConfig(BaseModel):
    """What the compute server process is started with (sent on stdin, never on the command line)."""

    namespace: str = "guest"
    api_key: SecretStr
    s3_access_key: SecretStr
    s3_secret_key: SecretStr
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    state_dir: Path
    max_workers: int = Field(default=8, ge=1, le=256)
    start_method: StartMethod = "forkserver"
    keep_workdirs: bool = False

    def wire(self) -> dict[str, Any]:
        """JSON with the secrets revealed (for the child process's stdin only)."""
        data = self.model_dump(mode="json")
        for key in ("api_key", "s3_access_key", "s3_secret_key"):
            data[key] = getattr(self, key).get_secret_value()
        data["secrets"] = {k: v.get_secret_value() for k, v in self.secrets.items()}
        return data


class InvokeBody(BaseModel):
    """What FaaSr posts to invoke an action (other keys are kept as parameters, as OpenWhisk does)."""

    model_config = ConfigDict(extra="allow")

    OVERWRITTEN: dict[str, Any]
    PAYLOAD_URL: str = Field(min_length=1)


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    exec: dict[str, Any] = Field(default_factory=lambda: {"kind": "blackbox", "image": "faasr-local"})
    parameters: list[dict[str, Any]] = Field(default_factory=list)
    annotations: list[dict[str, Any]] = Field(default_factory=list)


class OpenWhiskError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": uuid.uuid4().hex}, status_code=status)


class ComputeState:
    """Actions, activations and fault plans of one compute server."""

    def __init__(self, config: ComputeConfig, launcher: Launcher) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.actions: dict[str, dict[str, Any]] = {}
        self.activations: dict[str, Activation] = {}
        self.faults: dict[Scope, FaultPlan] = {}
        self.killed_invocations: set[Scope] = set()
        self.launcher = launcher
        self.pool = ActivationPool(
            launcher, config.max_workers, self.lock, keep_workdirs=config.keep_workdirs
        )
        self._seq = 0
        self.root = config.state_dir / "activations"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def secret_store(self) -> dict[str, Any]:
        c = self.config
        return {
            "s3_access_key": c.s3_access_key.get_secret_value(),
            "s3_secret_key": c.s3_secret_key.get_secret_value(),
            "api_key": c.api_key.get_secret_value(),
            "secrets": {k: v.get_secret_value() for k, v in c.secrets.items()},
        }

    def submit(self, name: str, body: dict[str, Any]) -> Activation:
        with self.lock:
            action = self.actions.get(name)
        if action is None:
            raise OpenWhiskError(404, NOT_FOUND)
        params = {p["key"]: p.get("value") for p in action.get("parameters", []) if "key" in p}
        params.update(body)
        over = body["OVERWRITTEN"]
        invocation_id = over.get("InvocationID") or None
        timestamp = over.get("InvocationTimestamp") or None
        function = over.get("FunctionInvoke")
        rank = over.get("FunctionRank") or None
        suffix = f"-{function}" if isinstance(function, str) else None
        workflow = name[: -len(suffix)] if suffix and name.endswith(suffix) else None
        with self.lock:
            self._seq += 1
            activation_id = uuid.uuid4().hex
            directory = self.root / f"{self._seq:06d}-{activation_id}"
            directory.mkdir(mode=0o700)
            act = Activation(
                activation_id,
                self._seq,
                self.config.namespace,
                name,
                directory,
                invocation_id,
                function,
                rank,
                invocation_timestamp=timestamp,
                workflow=workflow,
            )
            self.activations[activation_id] = act
            if any(s.covers(invocation_id, timestamp, workflow) for s in self.killed_invocations):
                act.killed = True
                act.finish(None)
                return act
            plan = self.plan_for(invocation_id, timestamp, workflow) if invocation_id else None
        fault = plan.for_instance(function, rank) if plan and function else None
        job = {
            "id": activation_id,
            "dir": str(directory),
            "params": params,
            "secret_store": self.secret_store(),
            "env": {k: v.get_secret_value() for k, v in self.config.secrets.items()},
            "fault": fault.to_wire() if fault else None,
        }
        self.pool.submit(act, job)
        return act

    def plan_for(self, invocation_id: str, timestamp: str | None, workflow: str | None) -> FaultPlan | None:
        """The fault plan of the narrowest scope that covers this invocation."""
        with self.lock:
            plans = [(s, p) for s, p in self.faults.items() if s.covers(invocation_id, timestamp, workflow)]
        return max(plans, key=lambda sp: sp[0].narrowness)[1] if plans else None

    def of_invocation(self, scope: Scope) -> list[Activation]:
        with self.lock:
            acts = list(self.activations.values())
        return [a for a in acts if scope.matches(a)]

    def kill(self, scope: Scope) -> list[str]:
        """Kill the active activations of the invocation; its later triggers are recorded as killed.

        Without a timestamp: every invocation in the scope that has activations now. A later run that
        reuses the ID (a fixed InvocationID) is another invocation and runs normally.
        """
        if scope.timestamp is None:
            marks = {
                Scope(scope.invocation_id, ts, a.workflow)
                for a in self.of_invocation(scope)
                if (ts := a.effective_invocation_timestamp())
            }
        else:
            marks = {scope}
        with self.lock:
            self.killed_invocations |= marks
        targets = [a for a in self.of_invocation(scope) if a.state in ACTIVE]
        for act in targets:
            self.pool.kill(act)
        for act in targets:
            act.done.wait(10)
        return [a.activation_id for a in targets]


def create_app(config: ComputeConfig, launcher: Launcher | None = None) -> FastAPI:
    state = ComputeState(config, launcher or Launcher(config.start_method))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        threading.Thread(target=state.launcher.warm_up, name="forkserver-warm-up", daemon=True).start()
        yield
        state.pool.shutdown()

    app = FastAPI(
        title="prefect-faasr local compute server", lifespan=lifespan, openapi_url=None, docs_url=None
    )
    app.state.compute = state
    expected = config.api_key.get_secret_value()

    @app.exception_handler(OpenWhiskError)
    async def _ow_error(_: Request, exc: OpenWhiskError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return _error(400, f"The request content was malformed: {details}")

    def auth(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if not header:
            raise OpenWhiskError(401, MISSING_AUTH)
        try:
            given = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            given = ""
        if scheme.lower() != "basic" or not secrets.compare_digest(given.encode(), expected.encode()):
            raise OpenWhiskError(401, BAD_AUTH)

    def namespace(ns: str) -> None:
        if ns not in (config.namespace, "_"):
            raise OpenWhiskError(403, f"The supplied authentication is not authorized to access '{ns}'.")

    def get_action(name: str) -> dict[str, Any]:
        with state.lock:
            action = state.actions.get(name)
        if action is None:
            raise OpenWhiskError(404, NOT_FOUND)
        return action

    def get_activation(activation_id: str) -> Activation:
        with state.lock:
            act = state.activations.get(activation_id)
        if act is None:
            raise OpenWhiskError(404, NOT_FOUND)
        return act

    authed = [Depends(auth)]

    @app.get("/api/v1")
    def info() -> dict[str, Any]:
        return {
            "api_paths": ["/api/v1"],
            "description": "prefect-faasr local compute server (OpenWhisk API subset)",
        }

    @app.put("/api/v1/namespaces/{ns}/actions/{name}", dependencies=authed)
    def put_action(ns: str, name: str, body: ActionBody, overwrite: bool = False) -> dict[str, Any]:
        namespace(ns)
        with state.lock:
            old = state.actions.get(name)
            if old is not None and not overwrite:
                raise OpenWhiskError(409, "resource already exists")
            version = "0.0.1" if old is None else _bump(old["version"])
            action = {
                "namespace": config.namespace,
                "name": name,
                "version": version,
                "publish": False,
                "exec": body.exec,
                "parameters": body.parameters,
                "annotations": body.annotations,
                "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
                "updated": int(time.time() * 1000),
            }
            state.actions[name] = action
        return action

    @app.get("/api/v1/namespaces/{ns}/actions", dependencies=authed)
    def list_actions(ns: str) -> list[dict[str, Any]]:
        namespace(ns)
        with state.lock:
            return [_summary(a) for a in state.actions.values()]

    @app.get("/api/v1/namespaces/{ns}/actions/{name}", dependencies=authed)
    def action_record(ns: str, name: str) -> dict[str, Any]:
        namespace(ns)
        return get_action(name)

    @app.delete("/api/v1/namespaces/{ns}/actions/{name}", dependencies=authed)
    def delete_action(ns: str, name: str) -> dict[str, Any]:
        namespace(ns)
        action = get_action(name)
        with state.lock:
            state.actions.pop(name, None)
        return action

    @app.post("/api/v1/namespaces/{ns}/actions/{name}", dependencies=authed)
    def invoke(
        ns: str, name: str, body: InvokeBody, blocking: bool = False, result: bool = False
    ) -> Response:
        namespace(ns)
        act = state.submit(name, body.model_dump())
        if blocking and act.done.wait(60):
            rec = record(act)
            return JSONResponse(rec["response"]["result"] if result else rec, status_code=200)
        return JSONResponse({"activationId": act.activation_id}, status_code=202)

    @app.get("/api/v1/namespaces/{ns}/activations", dependencies=authed)
    def list_activations(
        ns: str,
        name: str | None = None,
        invocationId: str | None = None,
        invocationTimestamp: str | None = None,
        workflow: str | None = None,
        limit: int = 30,
        skip: int = 0,
        docs: bool = False,
    ) -> list[dict[str, Any]]:
        namespace(ns)
        if not 0 <= limit <= 10000 or skip < 0:
            raise OpenWhiskError(400, "limit must be 0..10000 (0: no limit) and skip at least 0")
        if (invocationTimestamp is not None or workflow is not None) and invocationId is None:
            raise OpenWhiskError(400, "invocationTimestamp and workflow narrow an invocationId")
        if invocationId is not None:
            acts = state.of_invocation(Scope(invocationId, invocationTimestamp, workflow))
        else:
            with state.lock:
                acts = list(state.activations.values())
        if name is not None:
            acts = [a for a in acts if a.name == name]
        acts.sort(key=lambda a: a.seq, reverse=True)
        acts = acts[skip : skip + limit] if limit else acts[skip:]
        return [record(a, docs=docs) for a in acts]

    @app.get("/api/v1/namespaces/{ns}/activations/{activation_id}", dependencies=authed)
    def activation(ns: str, activation_id: str) -> dict[str, Any]:
        namespace(ns)
        return record(get_activation(activation_id))

    @app.get("/api/v1/namespaces/{ns}/activations/{activation_id}/logs", dependencies=authed)
    def activation_logs(ns: str, activation_id: str) -> dict[str, Any]:
        namespace(ns)
        return {"logs": record(get_activation(activation_id))["logs"]}

    @app.get("/api/v1/namespaces/{ns}/activations/{activation_id}/result", dependencies=authed)
    def activation_result(ns: str, activation_id: str) -> dict[str, Any]:
        namespace(ns)
        rec = record(get_activation(activation_id), docs=False)
        return rec["response"] or {"status": rec["faasr"]["state"], "success": False, "result": {}}

    def scoped(invocation_id: str, timestamp: str | None, workflow: str | None) -> dict[str, Any]:
        return {"invocationId": invocation_id, "timestamp": timestamp, "workflow": workflow}

    @app.put("/faasr/invocations/{invocation_id}/faults", dependencies=authed)
    def set_faults(
        invocation_id: str,
        body: dict[str, Any] = Body(...),  # noqa: B008
        timestamp: str | None = None,
        workflow: str | None = None,
    ) -> dict[str, Any]:
        try:
            plan = FaultPlan.parse(body, source=f"faults of {invocation_id}")
        except FaultValidationError as exc:
            raise OpenWhiskError(400, str(exc)) from None
        with state.lock:
            state.faults[Scope(invocation_id, timestamp, workflow)] = plan
        return scoped(invocation_id, timestamp, workflow) | {"faults": plan.to_wire()}

    @app.get("/faasr/invocations/{invocation_id}/faults", dependencies=authed)
    def get_faults(
        invocation_id: str, timestamp: str | None = None, workflow: str | None = None
    ) -> dict[str, Any]:
        plan = state.plan_for(invocation_id, timestamp, workflow) or FaultPlan.parse({})
        return scoped(invocation_id, timestamp, workflow) | {"faults": plan.to_wire()}

    @app.delete("/faasr/invocations/{invocation_id}/faults", dependencies=authed)
    def clear_faults(
        invocation_id: str, timestamp: str | None = None, workflow: str | None = None
    ) -> dict[str, Any]:
        with state.lock:
            state.faults.pop(Scope(invocation_id, timestamp, workflow), None)
        return scoped(invocation_id, timestamp, workflow) | {"faults": {}}

    @app.post("/faasr/invocations/{invocation_id}/kill", dependencies=authed)
    def kill(invocation_id: str, timestamp: str | None = None, workflow: str | None = None) -> dict[str, Any]:
        killed = state.kill(Scope(invocation_id, timestamp, workflow))
        return scoped(invocation_id, timestamp, workflow) | {"killed": killed}

    return app


def _bump(version: str) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def _summary(action: dict[str, Any]) -> dict[str, Any]:
    keys = ("namespace", "name", "version", "publish", "annotations", "limits", "updated")
    return {k: action[k] for k in keys} | {"exec": {"kind": action["exec"].get("kind"), "binary": False}}


def listening_socket() -> socket.socket:
    """The server's socket on 127.0.0.1, a free port.

    Created with `IPPROTO_TCP` explicitly: asyncio turns on TCP_NODELAY only for sockets whose `proto`
    says TCP, and without it every small response waited ~40 ms for the client's delayed ACK (Nagle),
    i.e. every FaaSr trigger did (a 1000-rank fan-out spent 44 s in its entry's triggers).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


def main() -> None:
    import uvicorn

    raw = read_config()
    config = ComputeConfig.model_validate(raw)
    exit_with_parent()
    sock = listening_socket()
    report_port(sock.getsockname()[1], Path(raw.get("log_file") or os.devnull))
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    )
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
