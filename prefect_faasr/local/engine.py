"""One activation of a FaaSr action on the local runtime: the engine's life cycle (contract §5.1).

payload (PAYLOAD_URL + OVERWRITTEN) -> secrets -> graph -> data-store check -> entry ID/duplicate
check or fan-in gate -> S3 log attached -> "dependencies" (the function code is copied into the
activation) -> user function in a child process -> `.done` -> return value -> triggers -> final flush.
Failures follow the rows of contract §5.6. An activation runs in its own process and working
directory: `bootstrap` (forkserver) or `main` (fresh interpreter) set that up and call `run_action`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from prefect_faasr.errors import WorkflowValidationError
from prefect_faasr.graph import iter_edges
from prefect_faasr.local import fanin, scheduler
from prefect_faasr.local.actionlog import ENTRY, EXECUTOR, HELPER, PAYLOAD, ActionLog, console
from prefect_faasr.local.faults import Fault
from prefect_faasr.local.payload import Payload, secret_env
from prefect_faasr.local.stores import Stores
from prefect_faasr.local.userfunc import die_with_parent, run_user_function
from prefect_faasr.names import TIMESTAMP_FORMAT, new_timestamp, split_instance
from prefect_faasr.workflow import FaaSrWorkflow

FUNCTIONS_PARAM = "FAASR_FUNCTIONS_DIR"
CODE_FILE = "code.json"  # beside a deployed payload: the functions folder of that deployment
_NOT_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".venv", "node_modules")


class ActionExit(Exception):
    """Ends the activation with an exit code (the engine's sys.exit)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Reporter:
    """Writes what the compute server shows about an activation (`outcome.json` in its folder)."""

    path: Path | None
    data: dict[str, Any] = field(default_factory=dict)

    def update(self, **values: Any) -> None:
        self.data.update(values)
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class SecretStore:
    """The local platform's credentials, handed to activations as FaaSr's secret names."""

    s3_access_key: str
    s3_secret_key: str
    api_key: str
    secrets: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SecretStore(secrets={sorted(self.secrets)})"


def run_action(
    params: dict[str, Any],
    store: SecretStore,
    *,
    workdir: Path,
    fault: Fault | None = None,
    reporter: Reporter | None = None,
    t0: float | None = None,
) -> int:
    """Run one activation in the current process; returns its exit code."""
    log = ActionLog(t0 if t0 is not None else time.monotonic())
    reporter = reporter or Reporter(None)
    try:
        _run(params, store, workdir, fault, reporter, log)
    except ActionExit as exc:
        reporter.update(outcome=exc.reason)
        return exc.code
    reporter.update(outcome="completed")
    return 0


def _run(
    params: dict[str, Any],
    store: SecretStore,
    workdir: Path,
    fault: Fault | None,
    reporter: Reporter,
    log: ActionLog,
) -> None:
    payload = _load_payload(params, log)
    action = payload.action
    if action not in payload["ActionList"]:
        log.error(ENTRY, "FunctionInvoke does not refer to a valid function")
        raise ActionExit(1, "invalid FunctionInvoke")
    reporter.update(action=action, rank=payload.rank)
    os.environ.update(secret_env(payload, store.s3_access_key, store.s3_secret_key, store.api_key))
    os.environ.update(store.secrets)
    server = payload["ComputeServers"].get(payload["ActionList"][action]["FaaSServer"], {})
    if server.get("UseSecretStore"):
        log.info(ENTRY, "Fetching secrets from secret store")
        payload.replace_secrets(os.environ, lambda msg: log.warning(PAYLOAD, msg))

    merged = payload.merged()
    workflow = FaaSrWorkflow(merged, list(iter_edges(merged)), [], payload.url)
    predecessors = [_done_stem(i) for i in workflow.predecessor_instances(action)]
    stores = Stores(payload["DataStores"])
    _check_stores(payload, stores, log)
    if not predecessors:
        _init_log_folder(payload, stores, log)
    elif not payload.get("InvocationID") or not payload.get("InvocationTimestamp"):
        log.error(PAYLOAD, "InvocationID or InvocationTimestamp missing in OVERWRITTEN of a non-entry action")
        raise ActionExit(1, "no InvocationID")
    reporter.update(invocationId=payload["InvocationID"], invocationTimestamp=payload["InvocationTimestamp"])
    logging_store = payload.logging_store
    if len(predecessors) > 1:
        try:
            fanin.gate(
                stores.client(logging_store),
                stores.bucket(logging_store),
                payload.folder,
                action,
                predecessors,
                log,
            )
        except fanin.GateClosed as exc:
            raise ActionExit(exc.code, exc.reason) from None

    log.attach(stores.client(logging_store), stores.bucket(logging_store), payload.log_key)
    functions = _install_functions(params, workdir, log)
    spec = payload["ActionList"][action]
    kind, function_name = spec.get("Type"), spec["FunctionName"]
    log.info(EXECUTOR, f"Starting function: {function_name} ({kind})")
    if kind != "Python":
        log.error(
            EXECUTOR,
            f"{kind} functions need the real FaaSr engine: the local runtime runs Python functions only "
            f"(action {action}, FunctionName {function_name})",
        )
        raise ActionExit(1, f"{kind} function not supported")
    user = run_user_function(
        payload,
        log,
        functions,
        max_rank=workflow.rank(action),
        secrets=frozenset(store.secrets),
        fault=fault,
    )
    if user.exit_code != 0:
        log.error(EXECUTOR, f"non-zero exit code ({user.exit_code}) from user function", stack=True)
        raise ActionExit(1, f"user process exited {user.exit_code}")
    if not (fault and fault.drop_done):
        default = payload.default_store
        key = f"{payload.folder}/{payload.done_name}"
        stores.client(default).put_object(Bucket=stores.bucket(default), Key=key, Body=b"True")
        log.debug(EXECUTOR, f"Put {payload.done_name} file in S3")
    if user.error:
        _log_user_error(log, user.message, user.traceback)
        raise ActionExit(1, "user function raised")
    log.debug(ENTRY, f"Finished execution of {action} with result {user.result}")
    reporter.update(functionResult=user.result)
    with requests.Session() as http:
        try:
            scheduler.trigger_all(payload, log, user.result, http, fault)
        except scheduler.TriggerExit as exc:
            raise ActionExit(1, exc.reason) from None
    log.flush()
    console(f"[INFO] [{ENTRY}] Finished action - InvocationID: {payload['InvocationID']}")


def _done_stem(instance: str) -> str:
    action, rank = split_instance(instance)
    return f"{action}.{rank}" if rank else action


def _load_payload(params: dict[str, Any], log: ActionLog) -> Payload:
    url = params.get("PAYLOAD_URL") or ""
    path = url.removeprefix("file://")
    if not (os.path.isabs(path) and os.path.isfile(path)):
        log.error(
            HELPER,
            f"Failed to fetch raw file from GitHub: {url} -- the local runtime reads PAYLOAD_URL from "
            "a local file written by deploy (see LocalFaaSr.payload_url)",
        )
        raise ActionExit(1, "payload not found")
    try:
        base = json.loads(Path(path).read_text(encoding="utf-8"))
        FaaSrWorkflow.parse(base, origin=url)
    except (OSError, ValueError, WorkflowValidationError) as exc:
        problem = exc.problems[0] if isinstance(exc, WorkflowValidationError) else exc
        log.error(PAYLOAD, f"JSON not compliant with FaaSr schema: {problem}")
        raise ActionExit(1, "invalid workflow") from None
    overwritten = params.get("OVERWRITTEN") or {}
    if isinstance(overwritten, str):
        overwritten = json.loads(overwritten)
    return Payload(base, overwritten, url)


def _check_stores(payload: Payload, stores: Stores, log: ActionLog) -> None:
    """The engine's s3_check: every data store must answer head_bucket."""
    for name, store in payload["DataStores"].items():
        endpoint = store.get("Endpoint")
        if endpoint and not endpoint.startswith("http"):
            log.error(PAYLOAD, f"Invalid data store server endpoint {name}")
            raise ActionExit(1, "invalid data store endpoint")
        if not store.get("Region"):
            store["Region"] = "us-east-1"
        if store.get("Anonymous"):
            log.info(PAYLOAD, f"Using anonymous access for S3 server: {name}")
        try:
            stores.client(name).head_bucket(Bucket=store["Bucket"])
        except Exception as exc:
            log.error(PAYLOAD, f"S3 server {name} failed with message: {exc}")
            raise ActionExit(1, f"data store {name} unreachable") from None


def _init_log_folder(payload: Payload, stores: Stores, log: ActionLog) -> None:
    """Entry only: InvocationTimestamp/InvocationID (generated or given) and the duplicate check."""
    if not payload.get("InvocationTimestamp"):
        payload["InvocationTimestamp"] = new_timestamp()
        log.info(PAYLOAD, f"Generated InvocationTimestamp: {payload['InvocationTimestamp']}")
    else:
        log.info(PAYLOAD, f"Using existing InvocationTimestamp: {payload['InvocationTimestamp']}")
    invocation_id = payload.get("InvocationID") or ""
    if not invocation_id.strip():
        fmt = payload.get("InvocationIDFromDate")
        if fmt:
            stamp = datetime.strptime(payload["InvocationTimestamp"], TIMESTAMP_FORMAT)
            payload["InvocationID"] = stamp.strftime(fmt)
            log.info(PAYLOAD, f"Generated InvocationID from format '{fmt}': {payload['InvocationID']}")
        else:
            payload["InvocationID"] = str(uuid.uuid4())
            log.info(PAYLOAD, f"Generated default UUID : {payload['InvocationID']}")
        log.info(PAYLOAD, f" InvocationID: {payload['InvocationID']}")
    log.info(PAYLOAD, f"InvocationID for the workflow: {payload['InvocationID']}")
    if not payload.get("FaaSrLog"):
        payload["FaaSrLog"] = "FaaSrLog"
    name = payload.logging_store
    listing = stores.client(name).list_objects_v2(Bucket=stores.bucket(name), Prefix=payload.folder)
    if listing.get("Contents"):
        log.error(PAYLOAD, f"InvocationID already exists: {payload['InvocationID']}")
        raise ActionExit(1, "duplicate InvocationID")


def _deployed_code(params: dict[str, Any]) -> str | None:
    """The functions folder deployed with this PAYLOAD_URL, if its deployment recorded one."""
    url = (params.get("PAYLOAD_URL") or "").removeprefix("file://")
    sidecar = Path(url).with_name(CODE_FILE) if url else None
    try:
        return json.loads(sidecar.read_text(encoding="utf-8"))["functions_dir"] if sidecar else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _install_functions(params: dict[str, Any], workdir: Path, log: ActionLog) -> Path:
    """The local stand-in for the engine's code download: copy the registered functions folder."""
    log.debug(EXECUTOR, "Starting dependency install")
    registered = _deployed_code(params) or params.get(FUNCTIONS_PARAM) or ""
    source = Path(registered)
    target = workdir.parent / "functions"
    if not registered or not source.exists():
        log.error(HELPER, f"Local function folder not found: {source} (register the action with deploy)")
        raise ActionExit(1, "functions folder not found")
    if source.is_dir():
        shutil.copytree(source, target, ignore=_NOT_CODE, dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.name)
    log.info(HELPER, f"Using local function folder: {source.name}")
    log.debug(EXECUTOR, "Finished installing dependencies")
    log.flush()
    return target


def _log_user_error(log: ActionLog, message: str | None, user_traceback: str | None) -> None:
    """The three ERROR records the engine writes when the user function raised (row E)."""
    msg = message or "Unkown error while getting user function return"
    log.error(EXECUTOR, msg, stack=True)
    if user_traceback:
        log.error(EXECUTOR, f"Traceback: {user_traceback}")
    try:
        raise RuntimeError(msg)
    except RuntimeError as exc:
        log.error(EXECUTOR, msg, exc=exc, stack=True)


# ---- process entry points -----------------------------------------------------------------------


def run_job(job: dict[str, Any], t0: float) -> int:
    """Run a job from the compute server (see pool.Job.to_dict) in this process."""
    act_dir = Path(job["dir"])
    workdir = act_dir / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    os.environ.update(job.get("env") or {})
    store = SecretStore(**job["secret_store"])
    fault = Fault.model_validate(job["fault"]) if job.get("fault") else None
    reporter = Reporter(act_dir / "outcome.json")
    try:
        return run_action(job["params"], store, workdir=workdir, fault=fault, reporter=reporter, t0=t0)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def bootstrap(job: dict[str, Any]) -> None:
    """Entry of an activation forked from the forkserver: own session, own stdout/stderr files."""
    t0 = time.monotonic()
    os.setsid()
    die_with_parent()
    act_dir = Path(job["dir"])
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        target = os.open(act_dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.exit(run_job(job, t0))


def main() -> None:
    """Entry of an activation started as a fresh interpreter (`python -m prefect_faasr.local.engine`)."""
    t0 = time.monotonic()
    die_with_parent()
    job = json.load(sys.stdin)
    sys.exit(run_job(job, t0))


if __name__ == "__main__":
    main()
