"""Cancelling a test run: a cancel request in the Prefect API, an interrupt, and the reason given.

Prefect stops a flow run whose state is set to Cancelling (UI, `prefect flow-run cancel`, API) only
when a worker or `serve` runs it in a subprocess: that process gets SIGTERM (`TerminationSignal`).
A flow called in this process (the CLI, pytest, a script) keeps running, and the server then refuses
every final state but Cancelled. `CancelRequests` closes that gap: it polls the flow run's state and
calls back once when a cancel is requested, so the test run can stop its workflow and still report.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.exceptions import TerminationSignal

logger = logging.getLogger(__name__)

CANCEL_POLL = 2.0  # seconds between looks at the flow run's state


def interrupt_reason(exc: BaseException) -> str:
    """Why the run stopped, for an exception that is not an error of ours (Ctrl-C, SIGTERM, ...)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C / SIGINT)"
    if isinstance(exc, TerminationSignal):
        return f"terminated (signal {exc.signal})"
    return f"stopped ({type(exc).__name__})"


class CancelRequests:
    """Watches one flow run in the Prefect API; `on_cancel(reason)` is called once, from its thread,
    when the run's state becomes Cancelling or Cancelled. `reason` is then set as well.

    Example:
        ```python
        with CancelRequests(flow_run_id, lambda why: observer.cancel(why)) as requests:
            ...  # watch the workflow
        if requests.reason: ...
        ```
    """

    def __init__(
        self,
        flow_run_id: UUID | str | None,
        on_cancel: Callable[[str], None],
        *,
        interval: float = CANCEL_POLL,
    ) -> None:
        self.flow_run_id = UUID(str(flow_run_id)) if flow_run_id else None
        self.interval = interval
        self.reason: str | None = None
        self._on_cancel = on_cancel
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> CancelRequests:
        if self.flow_run_id is not None:  # outside a flow run there is nothing to watch
            context = contextvars.copy_context()  # the Prefect settings (API URL) of this run
            self._thread = threading.Thread(
                target=context.run, args=(self._loop,), name="faasr-cancel-requests", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 30)

    def cancel(self, reason: str) -> bool:
        """Cancel now (once): True if this call did it, False if the run was cancelled already."""
        with self._lock:
            if self.reason is not None:
                return False
            self.reason = reason
        self._on_cancel(reason)
        return True

    def _loop(self) -> None:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            while not self._stop.wait(self.interval):
                try:
                    state = client.read_flow_run(self.flow_run_id).state  # type: ignore[arg-type]
                except Exception as exc:  # the API may be busy or restarting: look again later
                    logger.debug("could not read flow run %s: %s", self.flow_run_id, exc)
                    continue
                if state is not None and (state.is_cancelling() or state.is_cancelled()):
                    self.cancel(_api_reason(state))
                    return


def _api_reason(state: Any) -> str:
    why = (state.message or "").strip()
    return "the flow run was cancelled in Prefect" + (f" ({why})" if why else "")
