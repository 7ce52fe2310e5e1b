"""Running the `faasr-test-run` flow in a background thread and getting its observer while it runs.

`BackgroundTestRun` starts the real flow (through Prefect's API, so the run is a flow run in the
Prefect UI) in a thread that carries the caller's Prefect settings (the configured API or test
harness), receives the flow's `InvocationObserver` through `progress.claim`, and at the end waits for
the flow (or cancels the workflow) and exposes the flow's state and `TestRunReport`. `WorkflowRun`
adds the waits and assertions tests use.
"""

from __future__ import annotations

import contextvars
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from prefect_faasr import progress
from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.observe import InvocationObserver
from prefect_faasr.report import TestRunFailed, TestRunReport
from prefect_faasr.spec import TestSpec
from prefect_faasr.status import FunctionStatus
from prefect_faasr.testrun import STATE_FILE_ENV, RunTarget, delete_invocation, is_local
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys

logger = logging.getLogger(__name__)

STEP = 0.25  # seconds between looks at the flow thread
END_MARGIN = 120.0  # seconds past the run budget to wait for the flow to publish its report
CANCEL_GRACE = 60.0  # seconds to wait for a cancelled flow to end
EPHEMERAL_STARTUP = 120  # Prefect's default (20 s) is too short for a busy CI machine


class WorkflowRunError(FaaSrUserError):
    """The test run could not start (bad input or environment), or ended without a report."""


class BackgroundTestRun:
    """One test run of a spec (or workflow JSON) whose flow runs in a background thread.

    Args:
        spec: the test spec YAML (or workflow JSON) path.
        environment: a FaaSrEnvironment block name (real backends), or None / "local" for the local
            runtime.
        local_state: state file of a running local runtime to use (or a callable returning one, called
            once the spec has loaded); by default $PREFECT_FAASR_LOCAL_STATE_FILE, else the handle starts an
            embedded runtime and stops it when the run ends.
        timeouts: overrides of the spec's timeouts (run, start, execution, settle, poll; seconds).
        cleanup: delete the invocation's objects when the run ends (after the tests used them).
        report_path: also write the report as JSON there.
        junit_path: also write JUnit XML there.
        report_dir: write both into this folder, as `<spec name>-<run id>.json` and `.xml`.
        should_cancel: asked when the run ends normally; True cancels a workflow still running.
    """

    def __init__(
        self,
        spec: str | Path,
        *,
        environment: str | None = None,
        local_state: str | Path | Callable[[], str | Path] | None = None,
        timeouts: Mapping[str, float] | None = None,
        cleanup: bool = False,
        report_path: str | Path | None = None,
        junit_path: str | Path | None = None,
        report_dir: str | Path | None = None,
        should_cancel: Callable[[], str | None] | None = None,
    ) -> None:
        self.spec_path = Path(spec).resolve()
        self.environment = None if is_local(environment) else environment
        self._local_state = local_state
        self.local_state: Path | None = None  # the state file the flow uses (local runs)
        self.timeouts = dict(timeouts or {})
        self.cleanup = cleanup
        self.report_path = Path(report_path) if report_path else None
        self.junit_path = Path(junit_path) if junit_path else None
        self.report_dir = Path(report_dir) if report_dir else None
        self._should_cancel = should_cancel
        self.spec: TestSpec | None = None
        self.expected: dict[str, FunctionStatus] = {}
        self.flow_run_name: str | None = None
        self._token = uuid.uuid4().hex
        self._observer: InvocationObserver | None = None
        self._env: Any = None  # where the handle reads S3 (and kills local activations)
        self._owned: list[Any] = []  # things started here, closed in reverse order at the end
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()
        self._state: Any = None
        self._error: BaseException | None = None
        self._finished = False
        self._cancelled: str | None = None
        self.start_error: BaseException | None = None  # why `start` failed, if it did

    # ---- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # An interrupt stops the workflow; a failing assertion does not, so the report and the flow
        # run show what the workflow really did.
        interrupted = exc is not None and not isinstance(exc, Exception)
        self.finish(
            cancel=f"the test session was interrupted ({type(exc).__name__})" if interrupted else None
        )

    def start(self) -> Self:
        """Load the spec, start the flow in a background thread, return once the invocation is being
        watched. Raises `WorkflowRunError` (or the spec's `SpecValidationError`) when it cannot start."""
        if self._thread is not None:
            raise RuntimeError("this WorkflowRun was already started; make a new one for another run")
        try:
            return self._start()
        except BaseException as exc:
            self.start_error = exc
            raise

    def _start(self) -> Self:
        self.spec = TestSpec.load(self.spec_path)
        self.expected = self.spec.expected_statuses()
        if self.report_dir is not None:
            stem = f"{self.spec.name}-{self._token[:8]}"
            self.report_path = self.report_path or self.report_dir / f"{stem}.json"
            self.junit_path = self.junit_path or self.report_dir / f"{stem}.xml"
        claim = progress.claim(self._token)
        try:
            with _prefect_settings():
                self._open_environment()
                context = contextvars.copy_context()  # the Prefect API (settings) this thread uses
            self._thread = threading.Thread(
                target=context.run,
                args=(self._run_flow,),
                name=f"faasr-test-run-{self.spec.name}",
                daemon=True,
            )
            self._thread.start()
            self.flow_run_name, self._observer = self._await_observer(claim)
        except BaseException:
            self._close()
            raise
        if self._env is not None and self.environment is None:
            from prefect_faasr.local.environment import LocalEnvironment

            self._env = LocalEnvironment(self._env, self._observer.workflow)
        logger.info(
            "FaaSr test run %s started: flow run %s, invocation %s",
            self.spec.name,
            self.flow_run_name,
            self.invocation_id,
        )
        return self

    def finish(self, cancel: str | None = None) -> None:
        """Wait for the flow to end (cancelling the workflow first when `cancel` gives a reason, or
        when `should_cancel` says so), delete the invocation's objects with `cleanup`, close what the
        handle opened. Called by `__exit__`."""
        if self._finished or self._thread is None:
            return
        try:
            reason = cancel or (self._should_cancel() if self._should_cancel else None)
            if reason and not self._ended.is_set():
                self.cancel(reason)
            self.wait_until_finished()
            if self.cleanup and self._observer is not None and self._env is not None:
                target = RunTarget(self._env, self._observer.workflow, "")
                logger.info("deleted %d objects", delete_invocation(target, self.spec, self.keys))
        finally:
            self._finished = True
            self._close()

    def wait_until_finished(self) -> None:
        """Wait for the flow to end: up to the run budget (and a margin for the report), then cancel."""
        if self._thread is None:
            raise RuntimeError("the test run was not started (use `with WorkflowRun(...) as run:`)")
        assert self.spec is not None
        budget = self.spec.timeouts.model_copy(update=self.timeouts).run
        if not self._ended.wait(CANCEL_GRACE if self._cancelled else budget + END_MARGIN):
            self.cancel("the flow did not end within the run budget")
            if not self._ended.wait(CANCEL_GRACE):
                raise RuntimeError(f"the flow of test run {self.name} did not end after it was cancelled")

    def cancel(self, reason: str) -> None:
        """Stop waiting for the workflow: instances not final yet become `skipped` with this reason,
        and the local runtime kills the invocation's activations. The flow then ends Failed."""
        self._cancelled = reason
        if self._observer is not None:
            self._observer.cancel(reason)
        stop = getattr(self._env, "cancel", None)
        if stop is not None and self._observer is not None:
            try:
                stop(self.invocation_id)
            except Exception as exc:  # tearing down: say so, keep going
                logger.warning("could not stop the activations of %s: %s", self.invocation_id, exc)

    def _open_environment(self) -> None:
        """Where the handle reads S3: the local runtime the flow uses, or the environment block
        (loaded here first, so a missing block is a clear error before any flow starts)."""
        assert self.spec is not None
        if self.environment is not None:
            from prefect_faasr.environment import BlockEnvironment

            self._env = BlockEnvironment.load(self.environment, self.spec.faasr_workflow)
            return
        from prefect_faasr.local.client import LocalRuntimeClient

        given = self._local_state() if callable(self._local_state) else self._local_state
        state = Path(given) if given else None
        if state is None and os.environ.get(STATE_FILE_ENV):
            state = Path(os.environ[STATE_FILE_ENV])
        if state is None:
            from prefect_faasr.local.runtime import LocalFaaSr

            runtime = LocalFaaSr().start()
            self._owned.append(runtime.stop)
            folder = tempfile.TemporaryDirectory(prefix="faasr-run-")
            self._owned.append(folder.cleanup)
            state = runtime.write_state_file(Path(folder.name) / "state.json")
        self.local_state = state
        client = LocalRuntimeClient.from_state_file(state)
        self._owned.append(client.close)
        client.health()
        self._env = client  # wrapped in a LocalEnvironment once the deployed workflow is known

    def _run_flow(self) -> None:
        from prefect_faasr.flows import faasr_test_run

        try:
            self._state = faasr_test_run(
                spec=str(self.spec_path),
                environment=self.environment,
                local_state=str(self.local_state) if self.local_state else None,
                timeouts=self.timeouts or None,
                report_path=str(self.report_path) if self.report_path else None,
                junit_path=str(self.junit_path) if self.junit_path else None,
                progress_token=self._token,
                return_state=True,
            )
        except BaseException as exc:  # handed to the test thread, which reports it
            self._error = exc
        finally:
            self._ended.set()

    def _await_observer(self, claim: Future[tuple[str, Any]]) -> tuple[str, InvocationObserver]:
        while True:
            try:
                return claim.result(timeout=STEP)
            except FutureTimeout:
                if self._ended.is_set() and not claim.done():
                    raise self._start_failure() from self._outcome_error()

    def _close(self) -> None:
        progress.release(self._token)
        while self._owned:
            try:
                self._owned.pop()()
            except Exception as exc:
                logger.warning("cleanup after the test run failed: %s", exc)

    # ---- outcome of the flow -----------------------------------------------------------------------

    def _outcome(self) -> Any:
        if self._error is not None:
            return self._error
        if self._state is None:
            return None
        result = self._state.result(raise_on_failure=False)
        return result.report if isinstance(result, TestRunFailed) else result

    def _outcome_error(self) -> BaseException | None:
        out = self._outcome()
        return out if isinstance(out, BaseException) else None

    def _start_failure(self) -> Exception:
        return self._flow_error("did not start")

    def _flow_error(self, what: str) -> Exception:
        """`WorkflowRunError` when the flow stopped on bad input or environment, else RuntimeError."""
        out = self._outcome()
        if isinstance(out, FaaSrUserError):
            return WorkflowRunError(f"test run {self.name} {what}: {out}")
        message = self._state.message if self._state is not None else ""
        return RuntimeError(f"test run {self.name} {what}: {message or repr(out)}")

    @property
    def finished(self) -> bool:
        """The flow has ended."""
        return self._ended.is_set()

    @property
    def state(self) -> Any:
        """The flow run's final Prefect state (waits for the flow to end)."""
        self.wait_until_finished()
        return self._state

    @property
    def flow_run_id(self) -> str | None:
        """The flow run's id in the Prefect API (known once the flow has ended)."""
        state = self._state
        return str(state.state_details.flow_run_id) if state is not None else None

    @property
    def report(self) -> TestRunReport:
        """The flow's `TestRunReport` (waits for the flow to end)."""
        self.wait_until_finished()
        out = self._outcome()
        if isinstance(out, TestRunReport):
            return out
        raise self._flow_error("ended without a report") from self._outcome_error()

    # ---- identity ----------------------------------------------------------------------------------

    @property
    def observer(self) -> InvocationObserver:
        if self._observer is None:
            raise RuntimeError("the test run was not started (use `with WorkflowRun(...) as run:`)")
        return self._observer

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else self.spec_path.stem

    @property
    def workflow(self) -> FaaSrWorkflow:
        """The workflow as it runs (on the local runtime: the localized one, with its buckets)."""
        return self.observer.workflow

    @property
    def keys(self) -> InvocationKeys:
        return self.observer.keys

    @property
    def invocation_id(self) -> str:
        return self.keys.invocation_id

    def __repr__(self) -> str:
        where = self.environment or "local"
        inv = self._observer.keys.invocation_id if self._observer else "not started"
        return f"{type(self).__name__}({self.name!r}, {where}, invocation={inv})"


@contextmanager
def _prefect_settings() -> Iterator[None]:
    """Prefect settings for a run: a longer startup budget for Prefect's ephemeral server when no
    API is configured (and the user set none); nothing changes when an API URL is set."""
    from prefect import settings

    startup = settings.PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
    updates = {}
    if not settings.PREFECT_API_URL.value() and startup.name not in os.environ:
        updates[startup] = max(EPHEMERAL_STARTUP, startup.value())
    with settings.temporary_settings(updates=updates):
        yield
