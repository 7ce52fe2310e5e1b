"""The baseline watcher: per-function S3 polling as the existing FaaSr testing framework does it.

Behaviour modelled on contract §7.1-§7.3 (JStover95/FaaSr-Testing-Framework-Fork, `framework/`):

- one thread per function instance (ranks expanded), all started with the run, one shared boto3 client
  with default settings, every S3 call holding one of 10 tokens (waiting at most 20 s for one);
- a cycle: before the log exists, HEAD the log; afterwards GET the whole log, split it into entries
  and take the ones past those already seen; a cycle that brings new entries is failed if they hold
  `[ERROR]`, else HEADs `.done` and is completed if it exists; then sleep the interval;
- completed or failed asks the thread to stop; it ends after the next cycle without new entries
  (LOG_COMPLETE, which HEADs `.done` once more). A thread that never sees its log polls until `stop()`.
- a thread dies on an S3 error or a token timeout, and its status freezes (contract §7.4.9).

The monitor thread of the framework makes no S3 calls and is left out.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import InvocationKeys

log = logging.getLogger(__name__)

S = FunctionStatus
# An entry starts at a line beginning `[<seconds>]`; raw user lines belong to the entry before them.
ENTRY_RE = re.compile(r"^\[[\d.]+\][\s\S]*?(?=\n\[[\d.]+\]|\Z)", re.MULTILINE)
ERROR_RE = re.compile(r"\[[\d.]+\] \[ERROR\]")
TOKENS = 10
TOKEN_WAIT = 20.0


class TokenTimeout(Exception):
    """No S3 token became free in time (the framework's `queue.Empty`)."""


class FrameworkBaseline:
    """One polling thread per function instance; statuses and when each became completed."""

    def __init__(
        self,
        instances: list[str],
        keys: InvocationKeys,
        *,
        client: Any,
        bucket: str,
        entry: str,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.client = client
        self.bucket = bucket
        self.interval = interval
        self.clock = clock
        self._tokens = threading.BoundedSemaphore(TOKENS)
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.died: dict[str, str] = {}  # instance -> why its thread ended early
        self.cycles = 0
        self._pollers = {i: _Poller(self, i, S.INVOKED if i == entry else S.PENDING) for i in instances}
        self._threads = [
            threading.Thread(target=p.run, name=f"baseline-{i}", daemon=True)
            for i, p in self._pollers.items()
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """End every thread at its next cycle (those that never saw a log only stop this way)."""
        self._halt.set()

    def join(self, timeout: float) -> bool:
        """Wait for every thread to end; False if some are still polling after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def alive(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    def statuses(self) -> dict[str, FunctionStatus]:
        with self._lock:
            return {i: p.status for i, p in self._pollers.items()}

    def completed_at(self) -> dict[str, float]:
        """When each instance was first reported completed (the watcher's clock)."""
        with self._lock:
            return {i: p.completed_at for i, p in self._pollers.items() if p.completed_at is not None}

    # ---- S3 calls through the token queue ----------------------------------------------------------

    def _call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        if not self._tokens.acquire(timeout=TOKEN_WAIT):
            raise TokenTimeout(f"no S3 token within {TOKEN_WAIT:g} s")
        try:
            return fn(Bucket=self.bucket, **kwargs)
        finally:
            self._tokens.release()

    def exists(self, key: str) -> bool:
        try:
            self._call(self.client.head_object, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "404":
                return False
            raise
        return True

    def text(self, key: str) -> str:
        """The whole object, read while holding the token (the connection goes back to the pool first)."""
        return self._call(lambda **kw: self.client.get_object(**kw)["Body"].read(), Key=key).decode("utf-8")


class _Poller:
    """The framework's per-function logger thread and the status callbacks it drives."""

    def __init__(self, owner: FrameworkBaseline, instance: str, status: FunctionStatus) -> None:
        self.o = owner
        self.instance = instance
        self.log_key = owner.keys.log_key(instance)
        self.done_key = owner.keys.done_key(instance)
        self.status = status
        self.completed_at: float | None = None
        self.entries: list[str] = []
        self.started = False
        self.stop_requested = False

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:
            with self.o._lock:
                self.o.died[self.instance] = f"{type(exc).__name__}: {exc}"

    def _loop(self) -> None:
        o = self.o
        while not o._halt.is_set():
            with o._lock:
                o.cycles += 1
            if not self.started and self.stop_requested:
                return
            if not self.started:
                if o.exists(self.log_key):
                    self.started = True
                    self._set(S.RUNNING)
            else:
                found = ENTRY_RE.findall(o.text(self.log_key).strip())
                new = found[len(self.entries) :]
                if new:
                    self.entries += new
                    self._check()
                if self.stop_requested and not new:
                    self._check()  # LOG_COMPLETE
                    return
            o._halt.wait(o.interval)

    def _check(self) -> None:
        """Failed if an entry holds `[ERROR]`, else completed if `.done` exists (one HEAD)."""
        if ERROR_RE.search("\n".join(self.entries)):
            self._set(S.FAILED)
        elif self.o.exists(self.done_key):
            self._set(S.COMPLETED)
        if self.status in (S.COMPLETED, S.FAILED):
            self.stop_requested = True

    def _set(self, status: FunctionStatus) -> None:
        with self.o._lock:
            if status is S.COMPLETED and self.completed_at is None:
                self.completed_at = self.o.clock()
            self.status = status
