"""pytest plugin of prefect-faasr: the `faasr_workflow` fixture runs FaaSr test runs as Prefect flows.

```python
@pytest.fixture(scope="module")
def run(faasr_workflow):
    with faasr_workflow("spec.yaml") as run:     # relative to this file; one run for the module
        yield run

def test_api(run):
    run.assert_function_completed("test-py-api")
```

`faasr_workflow` is session-scoped, so module- (and session-) scoped fixtures can use it; it returns
a factory `faasr_workflow(spec, *, environment=None, timeouts=None, cleanup=False)` whose context
manager starts the test run (the real `faasr-test-run` flow, a flow run in the Prefect UI) and yields a
`WorkflowRun` handle; on exit it waits for the flow to end (or cancels the workflow when pytest is
stopping early, e.g. `-x` after a failure) and `run.report` holds the `TestRunReport`.

Options: `--faasr-local` (the default) runs on the embedded local runtime, one per session, started
at the first local run; `--faasr-env BLOCK` runs on real backends with a FaaSrEnvironment block;
`--faasr-report-dir DIR` writes every run's JSON report and JUnit XML there. Prefect's API is the
configured one (PREFECT_API_URL, or a test harness the session set up), else Prefect's ephemeral mode.
Tests that use the fixture get the `faasr` marker.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from prefect_faasr.testing.workflow_run import WorkflowRun

MARKER = "faasr"

FaaSrWorkflowFactory = Callable[..., AbstractContextManager["WorkflowRun"]]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("faasr", "prefect-faasr: FaaSr workflow tests")
    group.addoption(
        "--faasr-local",
        action="store_true",
        default=False,
        help="Run FaaSr workflows on the embedded local runtime (the default without --faasr-env).",
    )
    group.addoption(
        "--faasr-env",
        metavar="BLOCK",
        default=None,
        help="Run FaaSr workflows on real backends with this FaaSrEnvironment block.",
    )
    group.addoption(
        "--faasr-report-dir",
        metavar="DIR",
        default=None,
        help="Write each FaaSr test run's report (JSON) and JUnit XML into DIR.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: runs a FaaSr workflow through prefect-faasr (the faasr_workflow fixture)"
    )
    env = config.getoption("faasr_env", None)
    if env is not None and not env.strip():
        raise pytest.UsageError("--faasr-env needs the name of a FaaSrEnvironment block")
    if env is not None and config.getoption("faasr_local", False):
        raise pytest.UsageError(
            f"--faasr-local and --faasr-env {env} exclude each other: choose where the workflows run"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop a Prefect ephemeral server the session's runs started, while pytest's streams are still
    open: Prefect's own exit hook logs to the stream its console handler captured, closed by then."""
    state = config.stash.get(_SESSION, None)
    if state is not None:
        for server in set(_prefect_servers()) - state.servers_before:
            server.stop()


def _prefect_servers() -> list[Any]:
    """Prefect's temporary servers in this process (ephemeral mode, test harnesses)."""
    module = sys.modules.get("prefect.server.api.server")
    if module is None:
        return []
    return list(getattr(module.SubprocessASGIServer, "_instances", {}).values())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "faasr_workflow" in getattr(item, "fixturenames", ()):
            item.add_marker(MARKER)


class FaaSrSession:
    """What the test runs of one pytest session share: the options, one local runtime (started at
    the first local run, stopped at the end), and the runs themselves for the summary."""

    def __init__(self, config: pytest.Config, session: pytest.Session, folder: Path) -> None:
        self.environment: str | None = config.getoption("faasr_env", None)
        report_dir = config.getoption("faasr_report_dir", None)
        self.report_dir = Path(report_dir).resolve() if report_dir else None
        self.session = session
        self.runs: list[WorkflowRun] = []
        self._folder = folder
        self._runtime: Any = None
        self._state_file: Path | None = None
        self._lock = threading.Lock()
        self.servers_before = set(_prefect_servers())  # not ours to stop

    def local_state(self) -> Path:
        """The state file of the session's local runtime ($PREFECT_FAASR_LOCAL_STATE_FILE if set)."""
        with self._lock:
            if self._state_file is None:
                from prefect_faasr.testrun import STATE_FILE_ENV

                if os.environ.get(STATE_FILE_ENV):
                    self._state_file = Path(os.environ[STATE_FILE_ENV])
                else:
                    from prefect_faasr.local.runtime import LocalFaaSr

                    self._runtime = LocalFaaSr().start()
                    self._state_file = self._runtime.write_state_file(self._folder / "local-state.json")
            return self._state_file

    def stop_reason(self) -> str | None:
        """Why the workflows still running should be cancelled: pytest is stopping (-x, --maxfail)."""
        why = self.session.shouldstop or self.session.shouldfail
        return f"pytest is stopping ({why})" if why else None

    def new_run(
        self,
        spec: Path,
        *,
        environment: str | None,
        timeouts: Mapping[str, float] | None,
        cleanup: bool,
    ) -> WorkflowRun:
        from prefect_faasr.testing.workflow_run import WorkflowRun
        from prefect_faasr.testrun import is_local

        environment = environment or self.environment
        run = WorkflowRun(
            spec,
            environment=environment,
            local_state=self.local_state if is_local(environment) else None,
            timeouts=timeouts,
            cleanup=cleanup,
            report_dir=self.report_dir,
            should_cancel=self.stop_reason,
        )
        self.runs.append(run)
        return run

    def close(self) -> None:
        """Cancel runs still going (a fixture that never exited), then stop the local runtime."""
        try:
            for run in self.runs:
                run.finish(cancel="the test session ended")
        finally:
            if self._runtime is not None:
                self._runtime.stop()
                self._runtime = None


_SESSION = pytest.StashKey[FaaSrSession]()


@pytest.fixture(scope="session")
def faasr_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaaSrSession]:
    """The session's shared state (local runtime, runs); most tests want `faasr_workflow` instead."""
    state = FaaSrSession(request.config, request.session, tmp_path_factory.mktemp("faasr"))
    request.config.stash[_SESSION] = state
    try:
        yield state
    finally:
        state.close()


@pytest.fixture(scope="session")
def faasr_workflow(faasr_session: FaaSrSession) -> FaaSrWorkflowFactory:
    """Factory of FaaSr test runs: `with faasr_workflow("spec.yaml") as run:` yields a `WorkflowRun`.

    Session-scoped, so module-scoped fixtures can share one run among a module's tests. A relative
    `spec` (a test spec YAML or a workflow JSON) is resolved against the file that calls the factory.
    Keyword arguments: `environment` (a FaaSrEnvironment block name or "local"; default from
    --faasr-env), `timeouts` (budget overrides in seconds), `cleanup` (delete the invocation's
    objects when the run ends).
    """

    def factory(
        spec: str | os.PathLike[str],
        *,
        environment: str | None = None,
        timeouts: Mapping[str, float] | None = None,
        cleanup: bool = False,
    ) -> AbstractContextManager[WorkflowRun]:
        path = Path(spec)
        if not path.is_absolute():
            path = Path(sys._getframe(1).f_code.co_filename).resolve().parent / path
        return _open_run(faasr_session, path, environment, timeouts, cleanup)

    return factory


@contextmanager
def _open_run(
    session: FaaSrSession,
    spec: Path,
    environment: str | None,
    timeouts: Mapping[str, float] | None,
    cleanup: bool,
) -> Iterator[WorkflowRun]:
    from prefect_faasr.errors import FaaSrUserError

    problem = None
    try:
        run = session.new_run(spec, environment=environment, timeouts=timeouts, cleanup=cleanup)
        run.start()
    except FaaSrUserError as exc:  # bad input or environment: one message, no traceback
        problem = f"faasr_workflow({spec.name}): {exc}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    try:
        yield run
    except BaseException as exc:
        run.__exit__(type(exc), exc, exc.__traceback__)
        raise
    run.__exit__(None, None, None)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_SESSION, None)
    if state is None or not state.runs:
        return
    terminalreporter.section("prefect-faasr test runs")
    for run in state.runs:
        terminalreporter.line(_summary_line(run))


def _summary_line(run: WorkflowRun) -> str:
    if run.start_error is not None:
        return f"{run.name}: did not start: {run.start_error}"
    if not run.finished:
        return f"{run.name}: did not finish"
    try:
        report = run.report
    except Exception as exc:
        return f"{run.name}: no report ({exc})"
    verdict = "PASSED" if report.passed else "FAILED"
    line = (
        f"{report.name}: {verdict} {report.reason} "
        f"(flow run {run.flow_run_name} {run.flow_run_id}, invocation {report.invocation_id}, "
        f"{report.seconds:.1f} s)"
    )
    if run.report_path is not None:
        line += f"\n  report {run.report_path}, JUnit XML {run.junit_path}"
    return line
