"""The faasr_* functions user code calls (contract §6.2), run inside the user-function process.

In the real engine every call is an RPC to a server process, which does the S3 work, logs
`Processing request: X` and flushes the action log. Here the user-function process does that work
itself with the same visible effects: the same records, keys and errors, and the same exit status
when a call fails (the client stub prints an error and calls `sys.exit(1)`: failure row F).

The module-level `faasr_*` functions are what gets injected into user globals and what the
`FaaSr_py.client.py_client_stubs` shim re-exports; they act on the API of the current process.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from botocore.exceptions import ClientError
from pydantic import BaseModel

from prefect_faasr.local.actionlog import SERVER, ActionLog, console
from prefect_faasr.local.payload import Payload
from prefect_faasr.local.stores import Stores

INJECTED = (
    "faasr_put_file",
    "faasr_get_file",
    "faasr_delete_file",
    "faasr_get_folder_list",
    "faasr_log",
    "faasr_rank",
    "faasr_get_s3_creds",
    "faasr_secret",
)

_current: FaaSrAPI | None = None


class _ServerExit(Exception):
    """The engine's server code logged an ERROR and called sys.exit(1)."""


class _Return(BaseModel):
    """The engine's model of a return value: pydantic lax `bool | None` (contract §5.5)."""

    FunctionResult: bool | None = None


def _clean(part: Any) -> str:
    """The engine's normalisation of a path part: repeated `/` collapsed, trailing `/` stripped."""
    return re.sub(r"/+", "/", str(part).rstrip("/"))


def _wire(value: Any) -> Any:
    """What survives the stub's JSON request body (a TypeError for what JSON cannot carry)."""
    return json.loads(json.dumps(value))


class FaaSrAPI:
    """The server side of the faasr_* calls of one user-function process."""

    def __init__(
        self,
        payload: Payload,
        stores: Stores,
        log: ActionLog,
        *,
        max_rank: int,
        secrets: frozenset[str] = frozenset(),
        events: Any = None,
    ) -> None:
        self.payload = payload
        self.stores = stores
        self.log = log
        self.max_rank = max_rank
        self.secrets = secrets
        self.events = events  # a multiprocessing Connection to the action process

    # ---- the RPC frame -------------------------------------------------------------------------

    def call(self, procedure: str, args: dict[str, Any]) -> Any:
        args = _wire(args)
        self.log.info(SERVER, f"Processing request: {procedure}")
        handler = getattr(self, "_" + procedure.removeprefix("faasr_"))
        try:
            data = handler(**args)
        except _ServerExit:
            self._stub_failed(procedure)
        except Exception as exc:
            self.log.error(SERVER, f"ERROR - failed to invoke {procedure} - {exc}")
            self._stub_failed(procedure)
        self.log.flush()
        return data

    def _stub_failed(self, procedure: str) -> NoReturn:
        console(f'{{"{procedure}": "Request to FaaSr RPC failed"}}')
        raise SystemExit(1)

    def _fail(self, file: str, message: str) -> NoReturn:
        self.log.error(file, message)
        raise _ServerExit(message)

    def _store(self, server_name: str, file: str) -> str:
        name = server_name or self.payload.default_store
        if name not in self.payload["DataStores"]:
            self._fail(file, f"Invalid data server name: {name}")
        return name

    # ---- server-side operations (keyword names as in the engine) ---------------------------------

    def _put_file(
        self,
        local_file: str,
        remote_file: str,
        server_name: str = "",
        local_folder: str = ".",
        remote_folder: str = ".",
    ) -> bool:
        remote = str(PurePosixPath(_clean(remote_folder)) / _clean(remote_file))
        local_file_path = Path(local_file)
        if local_folder == "." and str(local_file_path) != local_file_path.name:
            local_path = local_file_path
        else:
            local_path = Path(_clean(local_folder)) / _clean(local_file)
        if not local_path.exists():
            raise FileNotFoundError(f"Local file not found: {local_path}")
        name = self._store(server_name, "put_file.py")
        if self.payload["DataStores"][name].get("Anonymous"):
            self.log.warning(
                "put_file.py",
                f"Attempting to put file to S3 server {name} using anonymous access. "
                "This will likely fail as public buckets typically don't allow writes.",
            )
        try:
            self.stores.client(name).put_object(
                Bucket=self.stores.bucket(name), Key=remote, Body=local_path.read_bytes()
            )
        except ClientError as exc:
            self._fail("put_file.py", f"Error putting file in S3: {exc}")
        return True

    def _get_file(
        self,
        local_file: str,
        remote_file: str,
        server_name: str = "",
        local_folder: str = ".",
        remote_folder: str = ".",
    ) -> bool:
        remote = str(PurePosixPath(_clean(remote_folder)) / _clean(remote_file))
        local = Path(_clean(local_folder)) / _clean(local_file)
        name = self._store(server_name, "get_file.py")
        bucket = self.stores.bucket(name)
        try:
            body = self.stores.client(name).get_object(Bucket=bucket, Key=remote)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                self._fail("get_file.py", f"S3 object not found: s3://{bucket}/{remote}")
            self._fail("get_file.py", f"Error downloading file from S3: {exc}")
        local.write_bytes(body)
        return True

    def _delete_file(self, remote_file: str, server_name: str = "", remote_folder: str = "") -> bool:
        remote = str(PurePosixPath(_clean(remote_folder)) / _clean(remote_file))
        name = self._store(server_name, "delete_file.py")
        try:
            self.stores.client(name).delete_object(Bucket=self.stores.bucket(name), Key=remote)
        except ClientError as exc:
            self._fail("delete_file.py", f"Error deleting {remote}: {exc}")
        return True

    def _get_folder_list(self, server_name: str = "", prefix: str = "") -> list[str]:
        name = self._store(server_name, "get_folder_list.py")
        # One call, at most 1000 keys, as the engine does (contract §8.12).
        resp = self.stores.client(name).list_objects_v2(Bucket=self.stores.bucket(name), Prefix=str(prefix))
        return [o["Key"] for o in resp.get("Contents", []) if not o["Key"].endswith("/")]

    def _log(self, log_message: Any) -> bool:
        if not log_message:
            self._fail("log.py", "ERROR -- log_message is empty")
        self.log.append_user(f"{log_message}")
        return True

    def _rank(self) -> dict[str, int]:
        if self.max_rank > 1:
            rank = self.payload.get("FunctionRank")
            if not rank:
                self._fail(
                    "rank.py",
                    "Internal error: ranked function but FunctionRank is missing; "
                    "please report this so that we can fix it",
                )
            return {"max_rank": self.max_rank, "rank": rank}
        return {"max_rank": 1, "rank": 1}

    def _invocation_id(self) -> str:
        return self.payload.get("InvocationID", "")

    def _get_s3_creds(self, server_name: str = "") -> dict[str, Any]:
        name = self._store(server_name, "get_s3_creds.py")
        store = self.payload["DataStores"][name]
        anonymous = str(store.get("Anonymous") or "").lower() == "true"
        endpoint = store.get("Endpoint") or f"https://s3.{store['Region']}.amazonaws.com"
        return {
            "bucket": store["Bucket"],
            "region": store["Region"],
            "endpoint": endpoint,
            "secret_key": None if anonymous else store.get("SecretKey"),
            "access_key": None if anonymous else store.get("AccessKey"),
            "anonymous": anonymous,
        }

    def _secret(self, secret_name: str) -> str:
        listed = self.payload.get("Secrets") or []
        if secret_name not in listed or secret_name not in self.secrets or secret_name not in os.environ:
            raise LookupError(
                f"secret {secret_name!r} is not available in the local runtime "
                "(give it to LocalFaaSr(secrets=...) and list it in the workflow's Secrets)"
            )
        return os.environ[secret_name]

    # ---- return and exit (the user process ends here) -----------------------------------------

    def return_(self, value: Any) -> NoReturn:
        try:
            result = _Return.model_validate({"FunctionResult": _wire(value)}).FunctionResult
        except (TypeError, ValueError):
            # The server answers 422 and the stub exits 1 (failure row F).
            console('{"faasr_return": "Request to FaaSr RPC failed"}')
            raise SystemExit(1) from None
        self._send(("return", result))
        raise SystemExit(0)

    def exit_(self, message: str | None = None, error: bool = True, traceback: str | None = None) -> NoReturn:
        self._send(("exit", bool(error), message, traceback))
        raise SystemExit(0)

    def _send(self, event: tuple[Any, ...]) -> None:
        if self.events is not None:
            self.events.send(event)
        self.log.flush()


def set_current(api: FaaSrAPI | None) -> None:
    global _current
    _current = api


def current() -> FaaSrAPI:
    if _current is None:
        raise RuntimeError("the FaaSr client functions only work inside a FaaSr action")
    return _current


def _stub_exit(message: str) -> NoReturn:
    console(message)
    sys.exit(1)


# ---- what user code calls (the engine's client-stub signatures) ---------------------------------


def faasr_put_file(
    local_file: Any,
    remote_file: Any,
    server_name: str = "",
    local_folder: Any = ".",
    remote_folder: Any = ".",
) -> bool:
    args = {
        "local_file": str(local_file),
        "remote_file": str(remote_file),
        "server_name": server_name,
        "local_folder": str(local_folder),
        "remote_folder": str(remote_folder),
    }
    return current().call("faasr_put_file", args)


def faasr_get_file(
    local_file: Any,
    remote_file: Any,
    server_name: str = "",
    local_folder: Any = ".",
    remote_folder: Any = ".",
) -> bool:
    args = {
        "local_file": str(local_file),
        "remote_file": str(remote_file),
        "server_name": server_name,
        "local_folder": str(local_folder),
        "remote_folder": str(remote_folder),
    }
    return current().call("faasr_get_file", args)


def faasr_delete_file(remote_file: Any, server_name: str = "", remote_folder: Any = "") -> bool:
    args = {"remote_file": str(remote_file), "server_name": server_name, "remote_folder": str(remote_folder)}
    return current().call("faasr_delete_file", args)


def faasr_get_folder_list(server_name: str = "", prefix: Any = "") -> list[str]:
    return current().call("faasr_get_folder_list", {"server_name": server_name, "prefix": str(prefix)})


def faasr_log(log_message: Any) -> bool:
    if not log_message:
        _stub_exit("{py_client_stub: ERROR -- faasr_log called with empty log_message}")
    return current().call("faasr_log", {"log_message": log_message})


def faasr_rank() -> dict[str, int]:
    return current().call("faasr_rank", {})


def faasr_get_s3_creds() -> dict[str, Any]:
    return current().call("faasr_get_s3_creds", {})


def faasr_secret(secret_name: str) -> str:
    if not secret_name:
        _stub_exit("{py_client_stub: ERROR -- faasr_secret called with empty secret_name}")
    return current().call("faasr_secret", {"secret_name": secret_name})


def faasr_invocation_id() -> str:
    return current().call("faasr_invocation_id", {})


def faasr_return(return_value: Any = None) -> NoReturn:
    current().return_(return_value)


def faasr_exit(message: str | None = None, error: bool = True, traceback: str | None = None) -> NoReturn:
    current().exit_(message, error, traceback)


def injected() -> dict[str, Any]:
    """The functions the engine puts into a user function's globals."""
    return {name: globals()[name] for name in INJECTED}
