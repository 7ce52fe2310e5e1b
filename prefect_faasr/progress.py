"""In-process registry of running test runs, for live displays (the CLI's status table)."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_active: dict[str, Any] = {}


def register(name: str, observer: Any) -> None:
    """Announce a running test run and its `InvocationObserver`."""
    with _lock:
        _active[name] = observer


def unregister(name: str) -> None:
    with _lock:
        _active.pop(name, None)


def active() -> dict[str, Any]:
    """Observers of the test runs running in this process, by run name."""
    with _lock:
        return dict(_active)
