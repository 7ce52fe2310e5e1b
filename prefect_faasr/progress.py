"""In-process registry of running test runs, for live displays (the CLI's status table) and for
callers that start a flow and want its `InvocationObserver` while it runs (the pytest plugin)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

_lock = threading.Lock()
_active: dict[str, Any] = {}
_claims: dict[str, Future[tuple[str, Any]]] = {}


def register(name: str, observer: Any, token: str | None = None) -> None:
    """Announce a running test run and its `InvocationObserver`; hand it to whoever `claim`ed `token`."""
    with _lock:
        _active[name] = observer
        waiting = _claims.get(token) if token else None
    if waiting is not None and not waiting.done():
        waiting.set_result((name, observer))


def unregister(name: str) -> None:
    with _lock:
        _active.pop(name, None)


def active() -> dict[str, Any]:
    """Observers of the test runs running in this process, by run name."""
    with _lock:
        return dict(_active)


def claim(token: str) -> Future[tuple[str, Any]]:
    """A future that receives `(run name, observer)` when a run registers with this token
    (the flow's `progress_token` parameter). `release(token)` when done with it."""
    with _lock:
        return _claims.setdefault(token, Future())


def release(token: str) -> None:
    with _lock:
        _claims.pop(token, None)
