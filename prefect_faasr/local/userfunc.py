"""Running a Python user function in a forked child of the action process, as the engine does.

The child finds the function by walking the functions folder and importing every `.py` file (first
module-level callable named FunctionName wins), injects the faasr_* functions into its globals, makes
`FaaSr_py.client.py_client_stubs` importable (the shim), calls it with the action's Arguments and
reports the return value or the exception to the parent over a pipe. Its exit status carries the
rest: `sys.exit(n)`, a crash or a kill give a non-zero exit code (failure row F).
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect_faasr.local import api
from prefect_faasr.local.actionlog import FUNC_HELPER, ActionLog, console
from prefect_faasr.local.faults import Fault
from prefect_faasr.local.payload import Payload
from prefect_faasr.local.stores import Stores

SHIM_DIR = Path(__file__).resolve().parent / "shim"
# Files the engine never imports while looking for a function.
IGNORED_FILES = frozenset(
    {
        "test_gh_invoke.py",
        "test.py",
        "func_test.py",
        "faasr_start_invoke_helper.py",
        "faasr_start_invoke_openwhisk.py",
        "faasr_start_invoke_aws-lambda.py",
        "faasr_start_invoke_github_actions.py",
    }
)


class InjectedFault(Exception):
    """Raised in place of the user function by a `raise` fault."""


@dataclass
class UserResult:
    """How the user process ended: its exit code and what it reported before exiting."""

    exit_code: int
    result: bool | None = None
    error: bool = False
    message: str | None = None
    traceback: str | None = None


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphans after a kill)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def find_function(name: str, directory: Path) -> Callable[..., Any] | None:
    """Import every `.py` file under `directory` (sorted walk) until one defines callable `name`."""
    directory = directory.resolve()
    importlib.invalidate_caches()
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for file in sorted(f for f in files if f.endswith(".py") and f not in IGNORED_FILES):
            console(f"[INFO] [{FUNC_HELPER}] Source python file {file}")
            rel = Path(root).relative_to(directory)
            module_name = ".".join((*rel.parts, file[:-3]))
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                console(f"[WARNING] [{FUNC_HELPER}] Skipping {file} due to import error: {exc}")
                continue
            except Exception as exc:
                raise SourceError(file, exc) from exc
            obj = vars(module).get(name)
            if obj is not None and callable(obj):
                return obj
    return None


class SourceError(Exception):
    def __init__(self, file: str, exc: BaseException) -> None:
        super().__init__(f"Python file {file} has following source error: {exc}")


def _child(
    events: Any,
    payload: Payload,
    log: ActionLog,
    functions_dir: Path,
    arguments: Mapping[str, Any],
    max_rank: int,
    secrets: frozenset[str],
    fault: Fault | None,
    parent_pid: int,
) -> None:
    die_with_parent()
    sys.dont_write_bytecode = True  # the code copy is thrown away with the activation
    stores = Stores(payload["DataStores"])
    log.rebind(stores.client(payload.logging_store))
    user_api = api.FaaSrAPI(payload, stores, log, max_rank=max_rank, secrets=secrets, events=events)
    api.set_current(user_api)
    sys.path.insert(0, str(SHIM_DIR))
    fault = fault or Fault()
    if fault.delay:
        time.sleep(fault.delay)
    if fault.hang:
        while True:
            time.sleep(3600)
    if fault.exit:
        sys.exit(fault.exit)
    function_name = payload["ActionList"][payload.action]["FunctionName"]
    try:
        func = find_function(function_name, functions_dir)
    except SourceError as exc:
        log.error(FUNC_HELPER, str(exc))
        sys.exit(1)
    except Exception as exc:
        user_api.exit_(f"failed to get user functions -- error: {exc}")
    if func is None:
        user_api.exit_(f"{{py_user_func_entry.py: cannot find function {function_name}}}")
    func.__globals__.update(api.injected())
    try:
        if fault.raise_:
            raise InjectedFault(fault.raise_)
        result = func(**arguments)
    except Exception as exc:
        user_api.exit_(message=str(exc), traceback=traceback.format_exc())
    if fault.kill:
        _kill_action(parent_pid)
    user_api.return_(result)


def _kill_action(parent_pid: int) -> None:
    """SIGKILL the action process and everything in its process group (a hard kill mid-run)."""
    try:
        if os.getpgid(0) == parent_pid:
            os.killpg(parent_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.kill(parent_pid, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def run_user_function(
    payload: Payload,
    log: ActionLog,
    functions_dir: Path,
    *,
    max_rank: int,
    secrets: frozenset[str] = frozenset(),
    fault: Fault | None = None,
) -> UserResult:
    """Fork the user process, collect what it reports, wait for it to end."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    arguments = payload["ActionList"][payload.action].get("Arguments") or {}
    sys.stdout.flush()
    sys.stderr.flush()
    proc = ctx.Process(
        target=_child,
        args=(send, payload, log, functions_dir, arguments, max_rank, secrets, fault, os.getpid()),
        name=f"faasr-user-{payload.action}",
    )
    proc.start()
    send.close()
    events: list[tuple[Any, ...]] = []
    while True:
        ready = multiprocessing.connection.wait([recv, proc.sentinel])
        if recv in ready:
            try:
                events.append(recv.recv())
                continue
            except EOFError:
                break
        if proc.sentinel in ready:
            break
    proc.join()
    while recv.poll():
        try:
            events.append(recv.recv())
        except EOFError:
            break
    recv.close()
    out = UserResult(exit_code=proc.exitcode if proc.exitcode is not None else 1)
    for event in events:
        if event[0] == "return":
            out.result = event[1]
        elif event[0] == "exit" and event[1]:
            out.error, out.message, out.traceback = True, event[2], event[3]
    return out
