"""A bounded pool that runs activations, each in its own OS process, session and working directory.

`max_workers` activations run at once; the rest wait in a FIFO queue. Two ways to start a process:

- `forkserver` (default): forked from a zygote process that already imported the engine, boto3,
  requests and pydantic, so an activation starts in milliseconds;
- `spawn`: a fresh `python -m prefect_faasr.local.engine` per activation (slower, fully isolated).

Each activation leads its own session, so a kill (`os.killpg`) also stops its user-function process.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Literal, Protocol

from prefect_faasr.local.activations import Activation

StartMethod = Literal["forkserver", "spawn"]
PRELOAD = ["prefect_faasr.local.preload"]


def kill_leftovers(pid: int) -> None:
    """SIGKILL what is left in an ended activation's session (e.g. background processes of user code)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def kill_session(pid: int) -> None:
    """SIGKILL an activation's whole session (it is the leader), or the process alone if it has none yet."""
    try:
        os.killpg(pid, signal.SIGKILL)
        return
    except (ProcessLookupError, PermissionError):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class Handle(Protocol):
    pid: int

    def wait(self) -> int: ...


# multiprocessing is not thread-safe here: Process.start() polls every other live child, and two
# threads reading one forkserver sentinel at once lose the exit code (one of them reads EOF -> 255).
# Starting and polling therefore hold this lock; waiting for the sentinel does not.
_MP_LOCK = threading.Lock()


class _ForkserverHandle:
    def __init__(self, proc: Any) -> None:
        self._proc = proc
        self.pid: int = proc.pid

    def wait(self) -> int:
        multiprocessing.connection.wait([self._proc.sentinel])
        with _MP_LOCK:
            code = self._proc.exitcode
            self._proc.close()
        return code if code is not None else -1


class _PopenHandle:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self.pid = proc.pid

    def wait(self) -> int:
        return self._proc.wait()


class Launcher:
    """Starts activation processes."""

    def __init__(self, method: StartMethod) -> None:
        if method not in ("forkserver", "spawn"):
            raise ValueError(f"unknown start method {method!r} (use 'forkserver' or 'spawn')")
        self.method = method
        self._ctx = multiprocessing.get_context("forkserver") if method == "forkserver" else None
        if self._ctx is not None:
            self._ctx.set_forkserver_preload(PRELOAD)

    def warm_up(self) -> None:
        """Start the forkserver now instead of on the first activation."""
        if self._ctx is not None:
            multiprocessing.forkserver.ensure_running()

    def start(self, job: dict[str, Any]) -> Handle:
        if self._ctx is not None:
            from prefect_faasr.local.engine import bootstrap

            proc = self._ctx.Process(target=bootstrap, args=(job,), name=f"faasr-activation-{job['id']}")
            with _MP_LOCK:
                proc.start()
            return _ForkserverHandle(proc)
        directory = job["dir"]
        with (
            open(os.path.join(directory, "stdout.txt"), "ab") as out,
            open(os.path.join(directory, "stderr.txt"), "ab") as err,
        ):
            proc = subprocess.Popen(
                [sys.executable, "-m", "prefect_faasr.local.engine"],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd=directory,
                start_new_session=True,
                close_fds=True,
            )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
        return _PopenHandle(proc)


class ActivationPool:
    """Runs submitted activations on `max_workers` worker threads, one process each."""

    def __init__(
        self, launcher: Launcher, max_workers: int, lock: threading.RLock, *, keep_workdirs: bool = False
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._launcher = launcher
        self._lock = lock
        self._keep = keep_workdirs
        self._queue: queue.Queue[tuple[Activation, dict[str, Any]] | None] = queue.Queue()
        self._running: dict[str, Handle] = {}
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"activation-worker-{i}", daemon=True)
            for i in range(max_workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, act: Activation, job: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                act.killed = True
                act.finish(None)
                return
        self._queue.put((act, job))

    def kill(self, act: Activation) -> None:
        """Stop a queued or running activation (it ends `failed`, `killed`)."""
        with self._lock:
            if act.done.is_set():
                return
            act.killed = True
            handle = self._running.get(act.activation_id)
            if handle is None and act.state == "queued":
                act.finish(None)
                return
        if handle is not None:
            kill_session(handle.pid)

    def running(self) -> list[int]:
        with self._lock:
            return [h.pid for h in self._running.values()]

    def shutdown(self) -> None:
        """Kill everything queued or running and stop the workers."""
        with self._lock:
            self._closed = True
            handles = list(self._running.values())
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].killed = True
                item[0].finish(None)
        for handle in handles:
            kill_session(handle.pid)
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=10)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            act, job = item
            with self._lock:
                if act.done.is_set() or self._closed:
                    if not act.done.is_set():
                        act.killed = True
                        act.finish(None)
                    continue
                act.state = "running"
                act.started = time.time()
            try:
                handle = self._launcher.start(job)
            except Exception as exc:  # the process could not start: the activation fails
                with open(act.directory / "stderr.txt", "a") as err:
                    err.write(f"activation did not start: {exc}\n")
                with self._lock:
                    act.finish(None)
                continue
            with self._lock:
                self._running[act.activation_id] = handle
                act.pid = handle.pid
                stop_now = act.killed
            if stop_now:
                kill_session(handle.pid)
            code = handle.wait()
            kill_leftovers(handle.pid)
            with self._lock:
                self._running.pop(act.activation_id, None)
                act.finish(code)
            if not self._keep:
                for sub in ("work", "functions"):
                    shutil.rmtree(act.directory / sub, ignore_errors=True)
