"""The `prefect-faasr` command: a thin layer over the library (validate, graph, run, attach, ...).

Commands print for people and exit 0 (fine) or 2 (the input is wrong); `run` and `attach` exit 1
when the test failed and 130 when it was cancelled (Ctrl-C, or the flow run cancelled in Prefect).
User errors (`FaaSrUserError`) never show a traceback: `main()` turns them into one message on stderr.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from prefect_faasr.errors import FaaSrUserError, Problem, WorkflowValidationError
from prefect_faasr.local.cli import app as local_app
from prefect_faasr.render import render
from prefect_faasr.workflow import FaaSrWorkflow

app = typer.Typer(
    name="prefect-faasr",
    help="Test FaaSr serverless workflows with Prefect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals could hold credentials
)

app.add_typer(local_app, name="local")

USER_ERROR = 2
CANCELLED = 130  # the shell's code for a run stopped by SIGINT (128 + 2); also a cancel in Prefect


class GraphFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"


def _workflow_files(paths: list[Path]) -> list[Path]:
    """The files to check: each path as given, a directory as its *.json files."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.json"))
            if not found:
                raise FaaSrUserError(f"{p}: no *.json files in this directory")
            out.extend(found)
        else:
            out.append(p)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _echo_problems(problems: list[Problem]) -> None:
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        typer.echo(f"  {typer.style(p.severity.ljust(7), fg=colour)} {p.path}: {p.message}")


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="Workflow JSON files (a directory means its *.json files)."),
    ],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as problems (exit 2).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only report files with problems.")] = False,
) -> None:
    """Check FaaSr workflow files the way FaaSr would, and list every problem with its JSON path.

    Exit code 0: every file is valid; 2: at least one is not.
    """
    paths = _workflow_files(files)
    invalid = 0
    for path in paths:
        try:
            wf = FaaSrWorkflow.parse(path)
        except WorkflowValidationError as exc:
            invalid += 1
            counts = _plural(len(exc.problems), "error")
            if exc.warnings:
                counts += ", " + _plural(len(exc.warnings), "warning")
            typer.echo(f"{path}: {typer.style('invalid', fg='red', bold=True)} ({counts})")
            _echo_problems([*exc.problems, *exc.warnings])
            continue
        warnings = list(wf.warnings)
        if warnings and strict:
            invalid += 1
            label = typer.style("invalid", fg="red", bold=True)
            typer.echo(f"{path}: {label} ({_plural(len(warnings), 'warning')}, --strict)")
            _echo_problems(warnings)
        elif warnings:
            typer.echo(f"{path}: {typer.style('valid', fg='green')} ({_plural(len(warnings), 'warning')})")
            _echo_problems(warnings)
        elif not quiet:
            typer.echo(f"{path}: {typer.style('valid', fg='green')}")
    typer.echo(f"{_plural(len(paths), 'file')} checked: {len(paths) - invalid} valid, {invalid} invalid")
    if invalid:
        raise typer.Exit(USER_ERROR)


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A workflow JSON file.")],
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="text for a terminal, mermaid for Markdown.")
    ] = GraphFormat.text,
) -> None:
    """Draw the workflow's DAG: conditional edges show [True]/[False], ranked actions name(N)."""
    typer.echo(render(FaaSrWorkflow.parse(file), fmt.value), nl=False)


TIMEOUT_KEYS = ("run", "start", "execution", "settle", "poll", "dispatch")


def _timeouts(values: list[str]) -> dict[str, float]:
    """`--timeout 600` (the run budget) or `--timeout start=120` (any of TIMEOUT_KEYS)."""
    out: dict[str, float] = {}
    for value in values:
        key, _, number = value.rpartition("=") if "=" in value else ("run", "=", value)
        key = key.strip() or "run"
        if key not in TIMEOUT_KEYS:
            raise FaaSrUserError(f"--timeout {value}: unknown budget {key!r} (use {', '.join(TIMEOUT_KEYS)})")
        try:
            seconds = float(number)
        except ValueError:
            raise FaaSrUserError(f"--timeout {value}: {number!r} is not a number of seconds") from None
        if seconds <= 0:
            raise FaaSrUserError(f"--timeout {value}: must be more than 0 seconds")
        out[key] = seconds
    return out


ISOLATED_ENV = "PREFECT_FAASR_CLI_ISOLATED"


def _isolate_from_terminal_interrupts() -> None:
    """Ctrl-C in a terminal signals its whole foreground process group: Prefect's temporary API server
    and the local runtime's servers, children of this process, would die with it before the test run
    could stop its workflow and publish the report. From a terminal, the command therefore runs in a
    child process with a process group of its own; this process hands it SIGINT and SIGTERM and
    exits as it does. Elsewhere (CI, scripts, tests) signals reach only the process they are sent to.
    """
    if os.environ.get(ISOLATED_ENV) or not _in_terminal_foreground():
        return
    import signal
    import subprocess

    env = {**os.environ, ISOLATED_ENV: "1"}
    child = subprocess.Popen([sys.executable, *sys.orig_argv[1:]], env=env, process_group=0)

    def forward(sig: int, _frame: object) -> None:
        child.send_signal(sig)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = child.wait()
    sys.exit(code if code >= 0 else 128 - code)


def _in_terminal_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _quiet_prefect(verbose: bool) -> None:
    """Offline-friendly Prefect defaults; its console log only when asked (the live table is ours)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # The temporary API server Prefect starts when no PREFECT_API_URL is set gets 20 s by default,
    # too little on a busy 2-core machine (a new database takes ~13 s there).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


# Options `run` and `attach` share.
ReportOption = Annotated[
    Path | None, typer.Option("--report", metavar="PATH", help="Write the report as JSON.")
]
JunitOption = Annotated[Path | None, typer.Option("--junit", metavar="PATH", help="Write JUnit XML.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log on the terminal.")]


@app.command()
def run(
    spec: Annotated[
        Path, typer.Argument(metavar="SPEC_OR_WORKFLOW", help="A test spec (YAML) or workflow JSON.")
    ],
    local: Annotated[
        bool, typer.Option("--local", help="Use the embedded local runtime (the default).")
    ] = False,
    env: Annotated[
        str | None,
        typer.Option("--env", metavar="BLOCK", help="FaaSrEnvironment block: run on real backends."),
    ] = None,
    local_state: Annotated[
        Path | None,
        typer.Option(
            "--local-state", metavar="FILE", help="State file of a running `prefect-faasr local serve`."
        ),
    ] = None,
    timeout: Annotated[
        list[str],
        typer.Option(
            "--timeout",
            metavar="[BUDGET=]SECONDS",
            help=f"Override a budget ({', '.join(TIMEOUT_KEYS)}; "
            "a bare number is the run budget). Repeatable.",
        ),
    ] = [],  # noqa: B006 -- typer reads the default, it is never mutated
    report: ReportOption = None,
    junit: JunitOption = None,
    cleanup: Annotated[
        bool, typer.Option("--cleanup", help="Delete the invocation's objects afterwards.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Run the control flow with generated no-op functions (local runtime)."
        ),
    ] = False,
    returns: Annotated[
        str | None,
        typer.Option("--returns", metavar="A=BOOL,...", help="With --dry-run: conditional returns."),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Run a FaaSr test as a Prefect flow and report: exit 0 passed, 1 failed, 2 bad input."""
    from prefect_faasr.dryrun import parse_returns
    from prefect_faasr.spec import TestSpec

    if local and env:
        raise FaaSrUserError("--local and --env exclude each other")
    if returns and not dry_run:
        raise FaaSrUserError("--returns is for --dry-run (a spec declares `returns:` itself)")
    if dry_run and env:
        raise FaaSrUserError("--dry-run runs on the local runtime; drop --env")
    budgets = _timeouts(timeout)
    chosen = parse_returns(returns)
    TestSpec.load(spec)  # bad input stops here, before Prefect starts
    _isolate_from_terminal_interrupts()
    _quiet_prefect(verbose)
    outcome = _run_flow(
        spec=str(spec),
        environment=env,
        local_state=str(local_state) if local_state else None,
        timeouts=budgets or None,
        cleanup=cleanup,
        report_path=str(report) if report else None,
        junit_path=str(junit) if junit else None,
        dry_run=dry_run,
        returns=chosen or None,
        live=not verbose,
    )
    raise typer.Exit(outcome)


@app.command()
def attach(
    invocation_id: Annotated[
        str, typer.Option("--invocation-id", metavar="ID", help="InvocationID of the invocation.")
    ],
    timestamp: Annotated[
        str,
        typer.Option("--timestamp", metavar="TS", help="Its InvocationTimestamp, e.g. 2026-11-21T09-47-39."),
    ],
    spec: Annotated[
        Path | None,
        typer.Argument(metavar="[SPEC]", help="The test spec (YAML) of the run; or give --workflow."),
    ] = None,
    workflow: Annotated[
        Path | None,
        typer.Option("--workflow", metavar="FILE", help="The workflow JSON (a spec with defaults)."),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", metavar="BLOCK", help="FaaSrEnvironment block: the invocation runs on real backends."
        ),
    ] = None,
    local_state: Annotated[
        Path | None,
        typer.Option(
            "--local-state", metavar="FILE", help="State file of the `prefect-faasr local serve` running it."
        ),
    ] = None,
    timeout: Annotated[
        list[str],
        typer.Option("--timeout", metavar="[BUDGET=]SECONDS", help="Override a budget, as for `run`."),
    ] = [],  # noqa: B006 -- typer reads the default, it is never mutated
    report: ReportOption = None,
    junit: JunitOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Watch an invocation that was already started (e.g. by a `run` that crashed or was killed) and
    report as `run` does: exit 0 passed, 1 failed, 2 bad input, 130 cancelled.

    Nothing is triggered: the entry counts as invoked, the rest is read from the invocation folder.
    A finished invocation is reported at once. The budgets count from the moment of attaching.
    """
    from prefect_faasr.spec import TestSpec
    from prefect_faasr.testrun import STATE_FILE_ENV

    if (spec is None) == (workflow is None):
        raise FaaSrUserError("give either a SPEC or --workflow (the workflow JSON), not both or neither")
    if env and local_state:
        raise FaaSrUserError("--env and --local-state exclude each other")
    if not env and not local_state and not os.environ.get(STATE_FILE_ENV):
        raise FaaSrUserError(
            "attaching on the local runtime needs --local-state: the state file of the "
            "`prefect-faasr local serve` running the invocation (an embedded runtime ends with its `run`)"
        )
    path = spec or workflow
    assert path is not None
    if workflow is not None and workflow.suffix.lower() != ".json":
        raise FaaSrUserError(
            f"--workflow {workflow}: a workflow JSON file is expected (a spec is the argument)"
        )
    _check_invocation(invocation_id, timestamp)
    budgets = _timeouts(timeout)
    TestSpec.load(path)  # bad input stops here, before Prefect starts
    _isolate_from_terminal_interrupts()
    _quiet_prefect(verbose)
    outcome = _run_flow(
        spec=str(path),
        environment=env,
        local_state=str(local_state) if local_state else None,
        timeouts=budgets or None,
        report_path=str(report) if report else None,
        junit_path=str(junit) if junit else None,
        invocation_id=invocation_id,
        invocation_timestamp=timestamp,
        live=not verbose,
    )
    raise typer.Exit(outcome)


def _check_invocation(invocation_id: str, timestamp: str) -> None:
    """An InvocationID is one S3 key segment; the timestamp has FaaSr's format (contract §2.4)."""
    from datetime import datetime

    from prefect_faasr.names import TIMESTAMP_FORMAT

    if not invocation_id.strip() or "/" in invocation_id or invocation_id != invocation_id.strip():
        raise FaaSrUserError(f"--invocation-id {invocation_id!r}: not an InvocationID (one folder name)")
    try:
        datetime.strptime(timestamp, TIMESTAMP_FORMAT)
    except ValueError:
        raise FaaSrUserError(
            f"--timestamp {timestamp!r}: not an InvocationTimestamp (YYYY-MM-DDTHH-MM-SS, "
            "e.g. 2026-11-21T09-47-39)"
        ) from None


def _run_flow(*, live: bool, **parameters: object) -> int:
    """Run the flow in this process (with a live status table), print the report, return the exit
    code: 0 passed, 1 failed, 130 cancelled (Ctrl-C or in Prefect; the report is printed still).
    On SIGTERM the flow stops the workflow and writes the report, then Prefect ends this process with
    that signal (a shell shows 143) and nothing more is printed."""
    from rich.console import Console

    from prefect_faasr.console import report_view
    from prefect_faasr.report import TestRunFailed, TestRunReport

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # logs and CI: no wrapping at 80 columns
    try:
        state = _call_flow(console, live, parameters)
    except KeyboardInterrupt:  # before the workflow was being watched: nothing to report
        console.print("interrupted before the test run could report", style="bold red")
        return CANCELLED
    result = state.result(raise_on_failure=False)
    if isinstance(result, TestRunFailed):
        result = result.report
    if isinstance(result, FaaSrUserError):
        raise result
    if not isinstance(result, TestRunReport):
        raise RuntimeError(f"the test run ended {state.type.value}: {state.message}") from (
            result if isinstance(result, BaseException) else None
        )
    console.print(report_view(result))
    if parameters.get("report_path"):
        console.print(f"report: {parameters['report_path']}")
    if state.is_cancelled():
        console.print(f"cancelled (exit {CANCELLED})", style="bold yellow")
        return CANCELLED
    return 0 if result.passed else 1


def _call_flow(console: Any, live: bool, parameters: dict[str, object]) -> Any:
    """The flow's final state. Ctrl-C while it runs cancels the test run (the flow stops the
    workflow and ends Cancelled with the report); a second Ctrl-C aborts without one."""
    from rich.live import Live

    from prefect_faasr.console import LiveStatus
    from prefect_faasr.flows import faasr_test_run

    if live and console.is_terminal:
        with Live(LiveStatus(), console=console, refresh_per_second=4, transient=True):
            return faasr_test_run(**parameters, return_state=True)
    return faasr_test_run(**parameters, return_state=True)


def main() -> None:
    """Console entry point: user errors become one message on stderr and exit code 2.

    Typer itself (standalone mode) handles usage errors, --help, Ctrl-C and exit codes.
    """
    try:
        app()
    except FaaSrUserError as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
